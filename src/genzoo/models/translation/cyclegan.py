"""CycleGAN: unpaired image-to-image translation with cycle-consistent adversarial networks.

J.-Y. Zhu, T. Park, P. Isola and A. A. Efros, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks", ICCV 2017 (arXiv:1703.10593).

Two domains A and B (the paper's X and Y) with no pairs between them: a batch's "source"
images a and its "x" images b are drawn independently (an unpaired task such as
edges2fashion-unpaired serves them from two domains of the BatchSampler). Two generators,
G: A → B and F: B → A, and two discriminators: D_B tells real b from G(a), D_A tells real
a from F(b). The adversarial loss is the least-squares one (Sec. 4, Mao et al. 2017),
on the PatchGAN's raw outputs:

    L_GAN(G, D_B) : D_B minimises E_b[(D_B(b) − 1)²] + E_a[D_B(G(a))²]
                    G   minimises E_a[(D_B(G(a)) − 1)²]          (and F, D_A alike)

Adversarial losses alone leave the mapping underconstrained: any G whose outputs look like
B fools D_B, whatever it does to a's content. The cycle-consistency loss asks that each
translation can be undone (Eq. 2):

    L_cyc(G, F) = E_a[‖F(G(a)) − a‖₁] + E_b[‖G(F(b)) − b‖₁]

and the full objective (Eq. 3), λ = 10 (Sec. 4), with the identity loss (Sec. 5.2; the
authors' code uses it in every experiment, weighted 0.5·λ):

    L = L_GAN(G, D_B) + L_GAN(F, D_A) + λ L_cyc(G, F) + λ_idt λ L_idt(G, F)
    L_idt(G, F) = E_b[‖G(b) − b‖₁] + E_a[‖F(a) − a‖₁],   λ_idt = 0.5

‖·‖₁ is the mean absolute error per pixel. Training (Sec. 4): per batch, one G step on L
(G and F together), then one D step on the halved D objectives of D_A and D_B, each judging
real images against fakes drawn from a history of the last 50 generated images, not only
the latest generators' (Shrivastava et al. 2017): see `HistoryPool` for the exact rule.
Adam, learning rate 2e-4, β = (0.5, 0.999), batch size 1; weights from N(0, 0.02)
(Sec. 4, Appendix 7.1).

Networks (Appendix 7.2): G and F are ResNet generators, c7s1-64, d128, d256, R256 × 9,
u128, u64, c7s1-3 (c7s1-k: 7×7 conv, stride 1, InstanceNorm, ReLU; dk: 3×3 conv, stride
2; Rk: a residual block of two 3×3 convs; uk: 3×3 fractional-strided conv, stride 1/2;
reflection padding), the last layer with tanh and no norm. D_A and D_B are 70×70 PatchGANs
(C64-C128-C256-C512), pix2pix's on one image instead of a pair. No dropout.

Streams: A is the batch's "source", B its "x". `translate(x, direction="a2b")` is G(x),
`direction="b2a"` F(x). The ablation "GAN alone" (Table 4) is `lambda_cycle=0`, which also
removes the identity loss (weighted λ_idt·λ, as in the authors' code).

Deviations from the paper:
- Learning-rate schedule: the paper keeps 2e-4 for 100 epochs and decays it linearly to 0
  over the next 100 (Sec. 4); genzoo's lr_schedule is `constant` (the default) or
  `cosine`.
- Batch size: the trainer's (100 by default) rather than the paper's 1. The history pool
  handles a batch image by image (see `HistoryPool`), and InstanceNorm keeps each image's
  translation independent of its batch.
- Depth follows the image through the config: `n_blocks` (9 at the paper's 256×256, 6 at
  128×128) and `width` (64) scale G down for 32×32 CPU training; `d_layers` (3 = 70×70,
  larger than a whole 32×32 image) can give pix2pix's 16×16 patch (d_layers=1).
- The history pool answers a batch against the pool as it stood before the step (the
  authors' code goes image by image, so an image may come back as another image's stored
  fake within one batch); the two agree at the paper's batch size 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from genzoo.core.config import at_least, below, length
from genzoo.core.errors import GenzooError
from genzoo.core.model import DataInfo, gradient_step
from genzoo.core.registry import register
from genzoo.data.streams import SOURCE
from genzoo.models.adversarial.base import dcgan_init
from genzoo.models.adversarial.losses import (
    least_squares_discriminator_loss,
    least_squares_generator_loss,
)
from genzoo.models.translation.base import TranslationModel
from genzoo.models.translation.pix2pix import PatchGAN, normalisation, receptive_field

DIRECTIONS = ("a2b", "b2a")  # G: A -> B ("source" -> "x"), F: B -> A


@dataclass
class CycleGANConfig:
    lambda_cycle: float = field(default=10.0, metadata=at_least(0.0))  # λ, Eq. 3 (Sec. 4)
    # the identity loss's weight, as a multiple of λ: 0.5·λ (Sec. 5.2, the authors' code)
    lambda_identity: float = field(default=0.5, metadata=at_least(0.0))
    pool_size: int = field(default=50, metadata=at_least(0))  # history of fakes (Sec. 4)
    width: int = field(default=64, metadata=at_least(1))  # c7s1-64 (Appendix 7.2)
    n_blocks: int = field(default=9, metadata=at_least(0))  # R256 × 9 at 256×256 (App. 7.2)
    # stride-2 layers of the PatchGAN: 3 is the 70×70 patch (Appendix 7.2)
    d_layers: int = field(default=3, metadata=at_least(1))
    norm: Literal["instance", "batch"] = "instance"  # InstanceNorm (Sec. 4)
    lr_d: float = field(default=2e-4, metadata=at_least(0.0))  # Sec. 4
    lr_g: float = field(default=2e-4, metadata=at_least(0.0))  # Sec. 4
    betas: tuple[float, ...] = field(
        default=(0.5, 0.999), metadata=at_least(0.0) | below(1.0) | length(2)
    )  # Appendix 7.1 (the authors' code)
    # channels of domain A's ("source") images; None: as many as B's ("x")
    in_channels: int | None = field(default=None, metadata=at_least(1))


def conv_norm_relu(c_in: int, c_out: int, kernel: int, stride: int, norm: str) -> nn.Sequential:
    """c7s1-k (kernel 7) and dk (kernel 3, stride 2): reflection-padded conv, norm, ReLU."""
    pad = kernel // 2 if stride == 1 else 0
    layers = [nn.ReflectionPad2d(pad)] if pad else []
    conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=0 if stride == 1 else 1)
    return nn.Sequential(*layers, conv, normalisation(norm, c_out), nn.ReLU())


class ResidualBlock(nn.Module):
    """Rk: h + f(h), f = two reflection-padded 3×3 convs of k filters with a norm after
    each and a ReLU between (Appendix 7.2; He et al. 2016)."""

    def __init__(self, k: int, norm: str):
        super().__init__()
        self.f = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(k, k, 3), normalisation(norm, k), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(k, k, 3), normalisation(norm, k),
        )  # fmt: skip

    def forward(self, h: Tensor) -> Tensor:
        return h + self.f(h)


class ResNetGenerator(nn.Module):
    """c7s1-w, d2w, d4w, R4w × n_blocks, u2w, uw, c7s1-C_out with tanh:
    (B, C_in, H, W) -> (B, C_out, H, W) in [−1, 1] (Appendix 7.2, w = 64)."""

    def __init__(self, c_in: int, c_out: int, config: CycleGANConfig):
        super().__init__()
        w, norm = config.width, config.norm
        up = [  # uk: 3×3 fractional-strided conv, stride 1/2, norm, ReLU
            nn.Sequential(
                nn.ConvTranspose2d(a, b, 3, 2, padding=1, output_padding=1),
                normalisation(norm, b),
                nn.ReLU(),
            )  # fmt: skip
            for a, b in ((4 * w, 2 * w), (2 * w, w))
        ]
        self.net = nn.Sequential(
            conv_norm_relu(c_in, w, 7, 1, norm),  # c7s1-w
            conv_norm_relu(w, 2 * w, 3, 2, norm),  # d2w: H/2
            conv_norm_relu(2 * w, 4 * w, 3, 2, norm),  # d4w: H/4
            *(ResidualBlock(4 * w, norm) for _ in range(config.n_blocks)),
            *up,  # u2w, uw: back to H
            nn.ReflectionPad2d(3),
            nn.Conv2d(w, c_out, 7),  # c7s1-C_out, no norm
            nn.Tanh(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class HistoryPool(nn.Module):
    """The last `size` generated images of one domain, from which D is shown fakes
    (Sec. 4; Shrivastava et al. 2017). `query(fake)` answers a batch as follows, against
    the pool as it stood before this call:

    - size 0: the batch itself (D sees only the current generators' fakes);
    - while the pool has free slots, the batch's first images fill them and are returned
      as they are;
    - each further image, once the pool holds anything, is with probability 1/2 swapped:
      a uniformly drawn stored image (always one from an earlier call) is returned in its
      place and the image takes its slot; otherwise the image itself is returned.

    The stored images and their count are buffers, so checkpoints save them and a resumed
    run continues with the pool it stopped with; the draws come from the global torch RNG,
    which checkpoints also restore."""

    def __init__(self, size: int, shape: tuple[int, ...]):
        super().__init__()
        self.register_buffer("images", torch.zeros(size, *shape))  # (size, C, H, W)
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, fake: Tensor) -> Tensor:
        fake = fake.detach()
        size, n_old = len(self.images), int(self.count)
        if size == 0:
            return fake
        out = fake.clone()
        n_new = min(size - n_old, len(fake))
        self.images[n_old : n_old + n_new] = fake[:n_new].to(self.images.dtype)
        self.count += n_new
        rest = len(fake) - n_new
        if rest and n_old:
            swap = (torch.rand(rest) < 0.5).nonzero()[:, 0]  # the images that swap
            slot = torch.randint(n_old, (len(swap),)).to(self.images.device)
            i = (n_new + swap).to(fake.device)
            stored = self.images[slot].to(fake.dtype)  # read every slot before writing any
            self.images[slot] = fake[i].to(self.images.dtype)
            out[i] = stored.to(out.device)
        return out


@register(
    "cyclegan",
    family="translation",
    description="CycleGAN (Zhu et al. 2017): unpaired translation with cycle consistency",
)
class CycleGAN(TranslationModel):
    Config = CycleGANConfig
    streams = ("x", SOURCE)  # B and A, drawn independently on unpaired data
    unpaired = True  # learns from unpaired "source" and "x" (or paired ones, unpaired)
    directions = DIRECTIONS
    progress_grids = True  # fixed validation inputs | G(a) | targets every epoch
    why_no_samples = (
        "it translates a given image between two domains (`genzoo translate RUN --input "
        "IMAGE --direction a2b|b2a`) and draws nothing from noise alone"
    )

    def __init__(self, config: CycleGANConfig, data: DataInfo):
        super().__init__(config, data)
        if len(data.shape) != 3:
            raise GenzooError(f"cyclegan translates images (C, H, W), not shape {data.shape}")
        C, H, W = data.shape
        if H % 4 or W % 4 or min(H, W) < 8:
            raise GenzooError(
                f"cyclegan's generators halve {H}x{W} images twice and pad by 3: give "
                "images at least 8x8 whose sides are multiples of 4"
            )
        if min(H, W) < 3 * 2**config.d_layers:  # the PatchGAN's last 4x4 convs need 3x3
            raise GenzooError(
                f"d_layers={config.d_layers} leaves too little of {H}x{W} images for the "
                "PatchGAN's last two 4x4 convs: use a smaller d_layers"
            )
        C_A = config.in_channels or C
        if C_A != C and config.lambda_identity * config.lambda_cycle > 0:
            raise GenzooError(
                f"the identity loss compares G(b) with b, which needs domains of one channel "
                f"count ({C_A} and {C}): set lambda_identity=0"
            )
        self.source_shape = (C_A, H, W)
        self.G = ResNetGenerator(C_A, C, config)  # A -> B
        self.F = ResNetGenerator(C, C_A, config)  # B -> A
        self.D_A = PatchGAN(C_A, config)  # real a vs F(b)
        self.D_B = PatchGAN(C, config)  # real b vs G(a)
        self.pool_A = HistoryPool(config.pool_size, self.source_shape)  # fakes F(b)
        self.pool_B = HistoryPool(config.pool_size, (C, H, W))  # fakes G(a)
        dcgan_init(self)  # N(0, 0.02) (Appendix 7.1)

    @property
    def patch_size(self) -> int:
        """The side of the patch each output of D_A and D_B judges."""
        return receptive_field(self.D_B.layers)

    def generator_parameters(self) -> list[nn.Parameter]:
        return [*self.G.parameters(), *self.F.parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return [*self.D_A.parameters(), *self.D_B.parameters()]

    def configure_optimizers(self, lr: float, weight_decay: float = 0.0) -> dict:
        """Adam for G and F together and for D_A and D_B together, at the config's rates
        (Sec. 4); the trainer's lr does not apply."""
        cfg, betas = self.config, tuple(self.config.betas)
        return {
            "generator": torch.optim.Adam(self.generator_parameters(), cfg.lr_g, betas=betas),
            "discriminator": torch.optim.Adam(
                self.discriminator_parameters(), cfg.lr_d, betas=betas
            ),  # fmt: skip
        }

    def cycle_consistency(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        """‖F(G(a)) − a‖₁ and ‖G(F(b)) − b‖₁, each the mean over pixels (Eq. 2)."""
        return (self.F(self.G(a)) - a).abs().mean(), (self.G(self.F(b)) - b).abs().mean()

    def training_step(self, batch, step, optimizers, backward) -> dict[str, Tensor]:
        """Sec. 4: a G step on Eq. 3 (+ identity), then a D step on the pooled fakes."""
        a, b = batch[SOURCE], batch["x"]
        self.check_shape(a, "a2b")
        cfg = self.config
        b_fake, a_fake = self.G(a), self.F(b)  # G(a), F(b)
        loss_G_A = least_squares_generator_loss(self.D_B(b_fake))  # G fools D_B
        loss_G_B = least_squares_generator_loss(self.D_A(a_fake))  # F fools D_A
        loss_cycle_A = (self.F(b_fake) - a).abs().mean()  # ‖F(G(a)) − a‖₁, Eq. 2
        loss_cycle_B = (self.G(a_fake) - b).abs().mean()  # ‖G(F(b)) − b‖₁
        lambda_idt = cfg.lambda_identity * cfg.lambda_cycle
        zero = torch.zeros((), device=b.device)
        loss_idt_A = (self.G(b) - b).abs().mean() if lambda_idt else zero  # ‖G(b) − b‖₁
        loss_idt_B = (self.F(a) - a).abs().mean() if lambda_idt else zero  # ‖F(a) − a‖₁
        loss_G = (
            loss_G_A
            + loss_G_B
            + cfg.lambda_cycle * (loss_cycle_A + loss_cycle_B)
            + lambda_idt * (loss_idt_A + loss_idt_B)
        )  # Eq. 3 + identity; fmt: skip
        gradient_step(optimizers["generator"], loss_G, self.generator_parameters(), backward)

        b_hist, a_hist = self.pool_B.query(b_fake), self.pool_A.query(a_fake)
        d_B_real, d_B_fake = self.D_B(b), self.D_B(b_hist)
        d_A_real, d_A_fake = self.D_A(a), self.D_A(a_hist)
        loss_D_B = 0.5 * least_squares_discriminator_loss(d_B_real, d_B_fake)  # halved (Sec. 4)
        loss_D_A = 0.5 * least_squares_discriminator_loss(d_A_real, d_A_fake)
        gradient_step(optimizers["discriminator"], loss_D_A + loss_D_B,
                      self.discriminator_parameters(), backward)  # fmt: skip
        logs = {"loss": loss_G, "g_loss": loss_G, "loss_G_A": loss_G_A, "loss_G_B": loss_G_B,
                "cycle_A": loss_cycle_A, "cycle_B": loss_cycle_B, "idt_A": loss_idt_A,
                "idt_B": loss_idt_B, "d_loss": loss_D_A + loss_D_B, "loss_D_A": loss_D_A,
                "loss_D_B": loss_D_B, "d_real": d_B_real.mean(),
                "d_fake": d_B_fake.mean()}  # fmt: skip
        return {key: value.detach() for key, value in logs.items()}

    def check_shape(self, x: Tensor, direction: str) -> None:
        if direction not in DIRECTIONS:
            raise GenzooError(f"direction {direction!r}: expected a2b (G) or b2a (F)")
        want = self.source_shape if direction == "a2b" else tuple(self.data.shape)
        if tuple(x.shape[1:]) != want:
            C, H, W = want
            raise GenzooError(f"cyclegan's {direction} translates {C}-channel {W}x{H} images; "
                              f"got {'x'.join(map(str, x.shape[1:]))} (C x H x W)")  # fmt: skip

    @torch.no_grad()
    def translate(self, x: Tensor, generator: torch.Generator | None = None,
                  direction: str = "a2b") -> Tensor:  # fmt: skip
        """G(x) (a2b: A "source" -> B "x") or F(x) (b2a), in the data's range [−1, 1].
        Deterministic (no dropout): `generator` is accepted for the interface and unused."""
        self.check_shape(x, direction)
        net = self.G if direction == "a2b" else self.F
        return net(x.to(self.device, self.dtype))
