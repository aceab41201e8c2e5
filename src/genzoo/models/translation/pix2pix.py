"""Pix2Pix: image-to-image translation with a conditional GAN.

P. Isola, J.-Y. Zhu, T. Zhou and A. A. Efros, "Image-to-Image Translation with
Conditional Adversarial Networks", CVPR 2017 (arXiv:1611.07004).

From paired examples (x, y), an input image x and its target y, a generator G learns
y = G(x, z). The condition is the image x itself, not a label: the discriminator D sees
the pair, x beside a real y or beside G's output (Eq. 1):

    L_cGAN(G, D) = E_{x,y}[log D(x, y)] + E_{x,z}[log(1 − D(x, G(x, z)))]

and G is also pulled to the target in L1, which blurs less than L2 (Eq. 3, 4):

    L_L1(G) = E_{x,y,z}[‖y − G(x, z)‖₁]
    G* = arg min_G max_D  L_cGAN(G, D) + λ L_L1(G),   λ = 100 (Sec. 4.2, Table 1)

G is a U-Net (Sec. 3.2.1): an encoder-decoder whose decoder layer at each resolution is
joined to the encoder layer of the same resolution by a skip, so that low-level detail
(the edges' positions) need not pass the bottleneck. The noise z is dropout, applied in
training and at test time. D is a PatchGAN (Sec. 3.2.2): a conv net whose every output
judges one N×N patch of the pair; D's score is their mean. The paper's 70×70 patch is
C64-C128-C256-C512 (4×4 kernels, strides 2, 2, 2, 1) and a 1-channel conv (Sec. 6.1.2);
`receptive_field` computes N from the layers.

Training (Sec. 3.3): one D step, then one G step, per batch. G maximises log D(x, G(x, z))
(non-saturating) plus the L1 term; D's objective is halved, "which slows down the rate
at which D learns relative to G". Adam, learning rate 2e-4, β = (0.5, 0.999); weights
from N(0, 0.02) (Sec. 6.2). Inference (Sec. 3.3): "we run the generator net in exactly
the same manner as during the training phase": dropout stays on, and normalisation uses
the statistics of the images at hand, never running averages. So `eval()` changes
nothing in G, and `translate` draws its dropout from the `generator` it is given.

Streams: the paper's input x is the batch's "source" and its target y is "x" (genzoo's
name for the images of a dataset). The ablation's variants (Table 1): L1 alone is
`use_gan=false`, cGAN alone is `lambda_l1=0`, L1 + cGAN the default.

Deviations from the paper:
- Depth follows the image: the U-Net halves the side down to 1×1, log2(side) times (8 at
  the paper's 256×256, 5 at genzoo's 32×32 tasks), with widths width·(1, 2, 4, 8, 8, ...)
  as the paper's C64-C128-C256-C512-C512... (Sec. 6.1.1); the first three decoder blocks
  have dropout, as the paper's CD512-CD512-CD512. `width` (the paper's 64 by default)
  scales both nets down for CPU training.
- The PatchGAN's default is the paper's 16×16 variant (Sec. 4.4, Table 3; C64-C128,
  d_layers=1): its 70×70 (d_layers=3) is larger than a whole 32×32 image.
- Normalisation: InstanceNorm (affine, per image) by default. The paper's BatchNorm with
  test-batch statistics is exactly this at batch size 1 (Sec. 3.3; its batches hold 1 to
  10 images); genzoo trains in batches of 100, and per-image statistics keep a
  translation independent of the other images in its batch. `norm=batch` is the paper's
  rule at any batch size: BatchNorm over the batch at hand, in training and at test, with
  no running averages.
- The innermost (1×1) encoder layer has no normalisation, as in the authors' code (one
  value per channel normalises to zero at batch size 1).
- Blocks are the paper's Ck, conv -> norm -> activation (LeakyReLU(0.2) down, ReLU up),
  so the skips carry activated features and the 1×1 bottleneck ends in LeakyReLU. The
  authors' code activates first (LeakyReLU -> conv -> norm down, ReLU -> transposed conv
  -> norm up): its skips carry pre-activation features, the ReLU acts on both halves of a
  concatenation and the bottleneck ends in ReLU. The same layers, placed differently.
- No random jitter (resize to 286 and crop back, Sec. 6.2): genzoo's `augment` setting
  (flip, crop=P) applies the same draw to both images of a pair.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from genzoo.core.config import at_least, below, length
from genzoo.core.errors import GenzooError
from genzoo.core.model import DataInfo, gradient_step
from genzoo.core.registry import register
from genzoo.data.streams import SOURCE
from genzoo.models.adversarial.base import dcgan_init, discriminator_logs
from genzoo.models.adversarial.losses import discriminator_loss, generator_loss
from genzoo.models.translation.base import TranslationModel


@dataclass
class Pix2PixConfig:
    lambda_l1: float = field(default=100.0, metadata=at_least(0.0))  # λ, Eq. 4 (Sec. 4.2)
    use_gan: bool = True  # False: "L1 alone" (Table 1), with no discriminator
    width: int = field(default=64, metadata=at_least(1))  # C64: first layer of G and D (Sec. 6.1)
    dropout: float = field(default=0.5, metadata=at_least(0.0) | below(1.0))  # CDk (Sec. 6.1)
    # decoder blocks with dropout, from the bottleneck: CD512-CD512-CD512 (Sec. 6.1.1)
    n_dropout: int = field(default=3, metadata=at_least(0))
    # stride-2 layers of the PatchGAN: 1 is the 16x16 patch, 3 the 70x70 (Sec. 4.4, 6.1.2)
    d_layers: int = field(default=1, metadata=at_least(1))
    # "batch": BatchNorm with the statistics of the batch at hand, also at test (Sec. 3.3)
    norm: Literal["instance", "batch"] = "instance"
    lr_d: float = field(default=2e-4, metadata=at_least(0.0))  # Sec. 3.3
    lr_g: float = field(default=2e-4, metadata=at_least(0.0))  # Sec. 3.3
    betas: tuple[float, ...] = field(
        default=(0.5, 0.999), metadata=at_least(0.0) | below(1.0) | length(2)
    )  # Sec. 3.3
    # channels of the source images; None: as many as the target's
    in_channels: int | None = field(default=None, metadata=at_least(1))


def normalisation(kind: str | None, channels: int) -> nn.Module:
    """Statistics of the images at hand in training and in eval(): no running averages."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels, track_running_stats=False)
    return nn.Identity()


def dropout(h: Tensor, p: float, generator: torch.Generator | None) -> Tensor:
    """Dropout that stays on at test time (Sec. 3.3): the noise z of G(x, z), drawn from
    `generator` when given (the same draw for the same generator)."""
    if p == 0:
        return h
    u = torch.rand(h.shape, generator=generator, device=None if generator else h.device)
    return h * (u.to(h.device) >= p).to(h.dtype) / (1 - p)


class Down(nn.Module):
    """Ck of the encoder: 4×4 conv with stride 2, norm, LeakyReLU(0.2) (Sec. 6.1.1)."""

    def __init__(self, c_in: int, c_out: int, norm: str | None):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 4, 2, 1)
        self.norm = normalisation(norm, c_out)

    def forward(self, h: Tensor) -> Tensor:
        return nn.functional.leaky_relu(self.norm(self.conv(h)), 0.2)


class Up(nn.Module):
    """Ck / CDk of the decoder: 4×4 transposed conv with stride 2, norm, dropout, ReLU."""

    def __init__(self, c_in: int, c_out: int, norm: str, p: float):
        super().__init__()
        self.conv = nn.ConvTranspose2d(c_in, c_out, 4, 2, 1)
        self.norm = normalisation(norm, c_out)
        self.p = p

    def forward(self, h: Tensor, generator=None) -> Tensor:
        return torch.relu(dropout(self.norm(self.conv(h)), self.p, generator))


class UNet(nn.Module):
    """G: x (B, C_in, H, W) -> y (B, C_out, H, W) in [−1, 1]. Decoder block j's output is
    concatenated with encoder layer n_down − 2 − j's, of the same resolution (Fig. 3)."""

    def __init__(self, c_in: int, c_out: int, n_down: int, config: Pix2PixConfig):
        super().__init__()
        w = config.width
        self.widths = widths = [w * min(2**i, 8) for i in range(n_down)]  # C64-C128-...-C512
        # no norm in the first layer (Sec. 6.1.1) nor in the 1x1 bottleneck (authors' code)
        norms = [None if i in (0, n_down - 1) else config.norm for i in range(n_down)]
        self.down = nn.ModuleList(
            Down(a, b, n) for a, b, n in zip([c_in, *widths[:-1]], widths, norms, strict=True)
        )
        self.up = nn.ModuleList()
        for j in range(n_down - 1):
            c = widths[-1] if j == 0 else 2 * widths[n_down - 1 - j]  # with the skip
            p = config.dropout if j < config.n_dropout else 0.0
            self.up.append(Up(c, widths[n_down - 2 - j], config.norm, p))
        self.out = nn.ConvTranspose2d(2 * w if n_down > 1 else w, c_out, 4, 2, 1)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        skips = []
        h = x
        for down in self.down:
            h = down(h)
            skips.append(h)
        skips.pop()  # the bottleneck is h itself
        for up in self.up:
            h = torch.cat([up(h, generator), skips.pop()], dim=1)  # mirrored resolutions
        return torch.tanh(self.out(h))


def patchgan_layers(d_layers: int) -> list[tuple[int, int]]:
    """(kernel, stride) of the PatchGAN's convs: d_layers 4×4 convs with stride 2, one with
    stride 1, then the 1-channel 4×4 conv (Sec. 6.1.2; the authors' `n_layers`)."""
    return [(4, 2)] * d_layers + [(4, 1), (4, 1)]


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """The side N of the input patch that one output of a stack of convs (kernel, stride)
    sees: r ← (r − 1)·stride + kernel, from the last layer back to the first."""
    r = 1
    for kernel, stride in reversed(layers):
        r = (r - 1) * stride + kernel
    return r


class PatchGAN(nn.Module):
    """D: (x, y) -> one logit per N×N patch of the pair, (B, H', W'). C64 has no norm;
    LeakyReLU(0.2) throughout (Sec. 6.1.2). `config` needs `width`, `d_layers`, `norm`
    (CycleGAN's config has them too)."""

    def __init__(self, c_in: int, config):
        super().__init__()
        layers, c = [], c_in
        for i, (kernel, stride) in enumerate(patchgan_layers(config.d_layers)[:-1]):
            k = config.width * min(2**i, 8)
            norm = normalisation(config.norm if i > 0 else None, k)
            layers += [nn.Conv2d(c, k, kernel, stride, 1), norm, nn.LeakyReLU(0.2)]
            c = k
        layers.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, *images: Tensor) -> Tensor:
        """pix2pix's D(x, y): the pair, stacked along channels; CycleGAN's D(y): one image."""
        return self.net(torch.cat(images, dim=1))[:, 0]

    @property
    def layers(self) -> list[tuple[int, int]]:
        """(kernel, stride) of its convs, read from the modules."""
        return [(m.kernel_size[0], m.stride[0]) for m in self.net if isinstance(m, nn.Conv2d)]


@register("pix2pix", family="translation",
          description="Pix2Pix (Isola et al. 2017): paired image-to-image cGAN")  # fmt: skip
class Pix2Pix(TranslationModel):
    Config = Pix2PixConfig
    streams = ("x", SOURCE)
    progress_grids = True  # fixed validation inputs | translations | targets every epoch
    why_no_samples = (
        "it translates a given input image (`genzoo translate RUN --input IMAGE`) and "
        "draws nothing from noise alone"
    )

    def __init__(self, config: Pix2PixConfig, data: DataInfo):
        super().__init__(config, data)
        if len(data.shape) != 3:
            raise GenzooError(f"pix2pix translates images (C, H, W), not shape {data.shape}")
        C, H, W = data.shape
        side = min(H, W)
        if side < 2 or side & (side - 1) or H % side or W % side:
            raise GenzooError(
                f"pix2pix's U-Net halves {H}x{W} images down to 1x1: give images whose sides "
                "are powers of two (pad them, as edges2fashion pads 28x28 to 32x32)"
            )
        if config.use_gan and side < 3 * 2**config.d_layers:  # the last 4x4 convs need 3x3
            raise GenzooError(
                f"d_layers={config.d_layers} halves {H}x{W} images {config.d_layers} times, "
                f"leaving too little for the PatchGAN's last two 4x4 convs: use d_layers <= "
                f"{max(1, int(math.log2(side / 3)))}, or larger images"
            )
        if not config.use_gan and config.lambda_l1 == 0:
            raise GenzooError("use_gan=false with lambda_l1=0 leaves G no objective")
        self.source_shape = (config.in_channels or C, H, W)
        self.generator = UNet(self.source_shape[0], C, int(math.log2(side)), config)
        self.discriminator = PatchGAN(self.source_shape[0] + C, config) if config.use_gan else None
        dcgan_init(self)  # N(0, 0.02) (Sec. 6.2)

    def configure_optimizers(self, lr: float, weight_decay: float = 0.0) -> dict:
        """Adam for D and for G at the config's rates (Sec. 3.3); the trainer's lr does not
        apply."""
        cfg, betas = self.config, tuple(self.config.betas)
        optimizers = {"generator": torch.optim.Adam(self.generator.parameters(), cfg.lr_g,
                                                    betas=betas)}  # fmt: skip
        if self.discriminator is not None:
            optimizers = {"discriminator": torch.optim.Adam(
                self.discriminator.parameters(), cfg.lr_d, betas=betas), **optimizers}  # fmt: skip
        return optimizers

    def training_step(self, batch, step, optimizers, backward) -> dict[str, Tensor]:
        """Sec. 3.3: a D step on the halved objective, then a G step on Eq. 4."""
        x, y = batch[SOURCE], batch["x"]  # the paper's input x and target y
        self.check_source(x)
        y_fake = self.generator(x)  # G(x, z), z: dropout
        logs: dict[str, Tensor] = {}
        loss_G_GAN = torch.zeros((), device=y.device)
        if self.discriminator is not None:
            d_real, d_fake = self.discriminator(x, y), self.discriminator(x, y_fake.detach())
            loss_D = 0.5 * discriminator_loss(d_real, d_fake)
            gradient_step(optimizers["discriminator"], loss_D, self.discriminator.parameters(),
                          backward)  # fmt: skip
            logs = discriminator_logs(loss_D, d_real, d_fake)
            loss_G_GAN = generator_loss(self.discriminator(x, y_fake))  # −log D(x, G(x, z))
        loss_G_L1 = (y - y_fake).abs().mean()  # Eq. 3, per pixel
        loss_G = loss_G_GAN + self.config.lambda_l1 * loss_G_L1  # Eq. 4
        gradient_step(optimizers["generator"], loss_G, self.generator.parameters(), backward)
        return logs | {"loss": loss_G.detach(), "g_loss": loss_G.detach(),
                       "g_gan": loss_G_GAN.detach(), "l1": loss_G_L1.detach()}  # fmt: skip

    def check_source(self, x: Tensor) -> None:
        if tuple(x.shape[1:]) != self.source_shape:
            C, H, W = self.source_shape
            raise GenzooError(f"pix2pix translates {C}-channel {W}x{H} images; got "
                              f"{'x'.join(map(str, x.shape[1:]))} (C x H x W)")  # fmt: skip

    @torch.no_grad()
    def translate(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """G(x, z) for source images x (B, *source_shape) in the data's range [−1, 1], run
        as in training (Sec. 3.3): dropout drawn from `generator`, normalised with the
        statistics of these images (norm=batch: of this batch)."""
        self.check_source(x)
        return self.generator(x.to(self.device, self.dtype), generator)
