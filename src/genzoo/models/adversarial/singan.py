"""SinGAN: a pyramid of GANs learnt from one image.

T. R. Shaham, T. Dekel and T. Michaeli, "SinGAN: Learning a Generative Model from a Single
Natural Image", ICCV 2019 (arXiv:1905.01164).

The image x is resized into a pyramid x_N (coarsest) ... x_0 (finest = x), by a factor r
(≈ 3/4) per scale. Each scale has a generator G_n and a patch discriminator D_n. Sec. 2.1:

    x̃_N = ψ_N(z_N)
    x̃_n = (x̃_{n+1})↑ + ψ_n(z_n + (x̃_{n+1})↑),   z_n ~ σ_n · N(0, I)       (Fig. 5)

ψ_n is 5 conv blocks, so G_n only adds the detail that scale n's patches lack. The scales
are trained one after another, coarse to fine, each frozen once trained (Sec. 2.2):

    min_{G_n} max_{D_n}  L_adv(G_n, D_n) + α L_rec(G_n)

L_adv is WGAN-GP's (the penalty λ E(‖∇D(x̂)‖ − 1)² at interpolates x̂), D's score the mean
of its patch map. L_rec = ‖G_n(0, (x̃^rec_{n+1})↑) − x_n‖², with x̃^rec_N = G_N(z*) for a
fixed noise map z* drawn once: one noise map reproduces the image. The noise amplitude
σ_n is proportional to the RMSE between (x̃^rec_{n+1})↑ and x_n (Sec. 2.2), so each scale
adds as much detail as its input lacks.

Indices here count the other way: scale k = 0 is the coarsest (the paper's N), k = K − 1
the finest (the paper's 0), as they are trained.

Deviations from the paper:
- Conv–BatchNorm–LeakyReLU blocks (Supp.) on a batch of one image are Conv–InstanceNorm
  (affine)–LeakyReLU; written so, a batch of samples normalises each alone, as training did.
- D's gradient penalty is per example (WGAN-GP's Eq. 3); the authors' code takes the norm
  per pixel.
- Images are resized with torch's bicubic interpolation (antialiased when shrinking),
  not the authors' MATLAB-like imresize.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core.capabilities import Capability
from genzoo.core.config import at_least, below
from genzoo.core.errors import GenzooError
from genzoo.core.model import DataInfo, GenerativeModel, gradient_step
from genzoo.core.registry import register
from genzoo.models.adversarial.base import ADAM_BETAS
from genzoo.models.adversarial.losses import critic_loss, gradient_penalty, interpolates


@dataclass
class SinGANConfig:
    min_size: int = field(default=25, metadata=at_least(3))  # Sec. 4: the coarsest, px
    scale_factor: float = field(default=0.75, metadata=at_least(0.1) | below(1.0))  # r, Sec. 4
    width: int = field(default=32, metadata=at_least(1))  # Supp.: kernels at the coarsest
    max_width: int = field(default=128, metadata=at_least(1))  # code: doubling stops here
    n_blocks: int = field(default=5, metadata=at_least(2))  # Supp.: 5 conv blocks
    steps_per_scale: int = field(default=2000, metadata=at_least(1))  # Supp.: iterations
    d_steps: int = field(default=3, metadata=at_least(1))  # code: D steps per iteration
    g_steps: int = field(default=3, metadata=at_least(1))  # code: G steps per iteration
    lr_d: float = field(default=5e-4, metadata=at_least(0.0))  # Supp.
    lr_g: float = field(default=5e-4, metadata=at_least(0.0))  # Supp.
    betas: tuple[float, ...] = field(default=(0.5, 0.999), metadata=ADAM_BETAS)  # Supp.
    lr_decay_at: float = field(default=0.8, metadata=at_least(0.0))  # Supp.: ×0.1 at 1600/2000
    gp_weight: float = field(default=0.1, metadata=at_least(0.0))  # code: λ
    rec_weight: float = field(default=10.0, metadata=at_least(0.0))  # Sec. 4: α
    noise_weight: float = field(default=0.1, metadata=at_least(0.0))  # code: σ_n = 0.1·RMSE


def pyramid_sizes(height: int, width: int, min_size: int, r: float) -> list[tuple[int, int]]:
    """The (h, w) of each scale, coarsest first: K = ⌈log(min_size / s) / log r⌉ + 1 scales
    for the shorter side s, with r adjusted to (min_size / s)^(1/(K−1)) so that the
    coarsest's shorter side is min_size and the finest is the image (the authors' code)."""
    short = min(height, width)
    if short < min_size:
        raise GenzooError(
            f"the image is {height}x{width}, smaller than the coarsest scale (min_size="
            f"{min_size} px): give a larger image or --set min_size={short}"
        )
    k = math.ceil(math.log(min_size / short) / math.log(r) - 1e-9) + 1 if short > min_size else 1
    r_k = (min_size / short) ** (1 / (k - 1)) if k > 1 else 1.0
    return [(round(height * r_k ** (k - 1 - i)), round(width * r_k ** (k - 1 - i)))
            for i in range(k)]  # fmt: skip


def resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bicubic, antialiased when shrinking; (B, C, h, w) -> (B, C, *size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """Conv(3×3)–Norm–LeakyReLU(0.2) (Supp.), unpadded: each trims a pixel per side."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3), nn.InstanceNorm2d(c_out, affine=True),
                         nn.LeakyReLU(0.2))  # fmt: skip


def conv_body(c_in: int, width: int, n_blocks: int, c_out: int) -> list[nn.Module]:
    blocks = [conv_block(c_in, width), *(conv_block(width, width) for _ in range(n_blocks - 2))]
    return [*blocks, nn.Conv2d(width, c_out, 3)]


class ScaleGenerator(nn.Module):
    """G_n(z, x↑) = x↑ + ψ_n(z + x↑) (Fig. 5); the input is zero-padded by n_blocks pixels
    so that the residual has x↑'s size."""

    def __init__(self, channels: int, width: int, n_blocks: int):
        super().__init__()
        self.psi = nn.Sequential(*conv_body(channels, width, n_blocks, channels), nn.Tanh())
        self.pad = n_blocks

    def forward(self, z: Tensor, x_up: Tensor) -> Tensor:  # (B, C, h, w) each
        return x_up + self.psi(F.pad(z + x_up, [self.pad] * 4))


class PatchDiscriminator(nn.Module):
    """D_n: a score per (2·n_blocks + 1)-pixel patch, (B, 1, h − 2·n_blocks, w − 2·n_blocks)."""

    def __init__(self, channels: int, width: int, n_blocks: int):
        super().__init__()
        self.net = nn.Sequential(*conv_body(channels, width, n_blocks, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def score(self, x: Tensor) -> Tensor:  # the patch map's mean, (B,)
        return self.net(x).mean((1, 2, 3))


@register("singan", family="adversarial", description="SinGAN: a pyramid of patch GANs, one image")
class SinGAN(GenerativeModel):
    Config = SinGANConfig
    capabilities = Capability.SAMPLE
    data_kinds = frozenset({"continuous"})
    validation_metric = None
    continuous_scale = "symmetric"  # ψ's tanh residuals
    sample_range = (-1.0, 1.0)
    dequantize_continuous = False
    schedules_own_lr = True  # ×0.1 at lr_decay_at of every scale
    progress_grids = False  # one image: every step is an epoch
    sample_sizes = True  # sample(n, size=(H, W)): images of any size (Sec. 4)

    def __init__(self, config: SinGANConfig, data: DataInfo):
        super().__init__(config, data)
        if len(data.shape) != 3:
            raise GenzooError("singan learns from an image (C, H, W)")
        c, h, w = data.shape
        self.sizes = pyramid_sizes(h, w, config.min_size, config.scale_factor)
        if min(self.sizes[0]) <= 2 * config.n_blocks:
            raise GenzooError(f"min_size={config.min_size} leaves D's {config.n_blocks} unpadded "
                              f"blocks no patch: set min_size > {2 * config.n_blocks}")  # fmt: skip
        widths = [min(config.width * 2 ** (k // 4), config.max_width)  # Supp.: ×2 every 4
                  for k in range(len(self.sizes))]  # fmt: skip
        self.generators = nn.ModuleList(ScaleGenerator(c, n, config.n_blocks) for n in widths)
        self.discriminators = nn.ModuleList(PatchDiscriminator(c, n, config.n_blocks)
                                            for n in widths)  # fmt: skip
        self.widths = widths
        # the scale in training (0 = coarsest), the steps taken at it, and σ_k of each
        # scale (σ_0 = 1; the others set when their scale starts): resume continues inside it
        self.register_buffer("scale", torch.zeros((), dtype=torch.long))
        self.register_buffer("scale_step", torch.zeros((), dtype=torch.long))
        self.register_buffer("sigma", torch.ones(len(self.sizes)))
        self.register_buffer("z_star", torch.randn(1, c, *self.sizes[0]))  # Sec. 2.2: z*

    def planned_steps(self) -> int:
        """Every scale trained for steps_per_scale steps, one after another."""
        return self.n_scales * self.config.steps_per_scale

    @property
    def n_scales(self) -> int:
        return len(self.sizes)

    def configure_optimizers(self, lr: float, weight_decay: float = 0.0) -> dict:
        """Adam for G_k and D_k of every scale k; only scale k's step while it trains."""
        cfg, out = self.config, {}
        for k in range(self.n_scales):
            out[f"generator_{k}"] = torch.optim.Adam(
                self.generators[k].parameters(), lr=cfg.lr_g, betas=tuple(cfg.betas)
            )
            out[f"discriminator_{k}"] = torch.optim.Adam(
                self.discriminators[k].parameters(), lr=cfg.lr_d, betas=tuple(cfg.betas)
            )
        return out

    # --- the two paths through the pyramid ---------------------------------------------

    def noise(self, n: int, k: int, size=None, generator=None) -> Tensor:
        """z_k ~ σ_k N(0, I), (n, C, h_k, w_k), or of another (h, w) `size`."""
        size = size or self.sizes[k]
        z = torch.randn(n, self.data.shape[0], *size, generator=generator)
        return self.sigma[k] * z.to(self.device)

    def generate(self, n: int, upto: int, generator=None, sizes=None) -> Tensor:
        """x̃_upto from fresh noise at every scale 0..upto, (n, C, h_upto, w_upto); `sizes`
        replaces the pyramid's (h_k, w_k) (Sec. 4: samples of another size or shape)."""
        sizes = sizes or self.sizes
        x = torch.zeros(n, self.data.shape[0], *sizes[0], device=self.device)
        for k in range(upto + 1):
            z = self.noise(n, k, sizes[k], generator)
            x = self.generators[k](z, resize(x, sizes[k]))
        return x

    def reconstruct(self, upto: int) -> Tensor:
        """x̃^rec_upto: z* at the coarsest scale, zero noise above it (Sec. 2.2), (1, C, h, w)."""
        x = torch.zeros_like(self.z_star)
        for k in range(upto + 1):
            z = self.sigma[0] * self.z_star if k == 0 else 0.0
            x = self.generators[k](z, resize(x, self.sizes[k]))
        return x

    def real(self, x: Tensor, k: int) -> Tensor:
        """x_k: the image at scale k, (B, C, h_k, w_k)."""
        return resize(x, self.sizes[k]).clamp(-1, 1)

    # --- training: one scale at a time -------------------------------------------------

    def training_step(self, batch, step, optimizers, backward) -> dict[str, Tensor]:
        """One iteration at the scale in training: d_steps of D_k, then g_steps of G_k on
        L_adv + α L_rec (Sec. 2.2); the earlier scales only feed it, frozen."""
        cfg, k = self.config, int(self.scale)
        x_k = self.real(batch["x"], k)  # (B, C, h_k, w_k)
        G, D = self.generators[k], self.discriminators[k]
        with torch.no_grad():
            prev_rec = torch.zeros_like(x_k[:1]) if k == 0 else resize(
                self.reconstruct(k - 1), self.sizes[k])  # (x̃^rec_{k−1})↑  # fmt: skip
            if k > 0 and int(self.scale_step) == 0:  # Sec. 2.2: σ_k ∝ RMSE
                self.sigma[k] = cfg.noise_weight * (prev_rec - x_k).pow(2).mean().sqrt()
        decay = 0.1 if int(self.scale_step) >= cfg.lr_decay_at * cfg.steps_per_scale else 1.0
        for name, lr in ((f"generator_{k}", cfg.lr_g), (f"discriminator_{k}", cfg.lr_d)):
            for group in optimizers[name].param_groups:
                group["lr"] = lr * decay

        def fake() -> Tensor:  # G_k(z_k, (x̃_{k−1})↑), drawn afresh for every step
            with torch.no_grad():
                x_prev = self.generate(len(x_k), k - 1) if k > 0 else torch.zeros_like(x_k)
            return G(self.noise(len(x_k), k), resize(x_prev, self.sizes[k]))

        for _ in range(cfg.d_steps):
            x_fake = fake().detach()
            penalty = gradient_penalty(D.score, interpolates(x_k, x_fake))
            d_loss = critic_loss(D.score(x_k), D.score(x_fake)) + cfg.gp_weight * penalty
            gradient_step(optimizers[f"discriminator_{k}"], d_loss, D.parameters(), backward)
        for _ in range(cfg.g_steps):
            adv = -D.score(fake()).mean()
            z_rec = self.sigma[0] * self.z_star if k == 0 else 0.0
            rec = (G(z_rec, prev_rec) - x_k).pow(2).mean()  # L_rec
            g_loss = adv + cfg.rec_weight * rec
            gradient_step(optimizers[f"generator_{k}"], g_loss, G.parameters(), backward)
        self.scale_step += 1
        return {"loss": d_loss.detach(), "g_loss": g_loss.detach(), "rec": rec.detach(),
                "gradient_penalty": penalty.detach(),
                "scale": torch.tensor(float(k))}  # fmt: skip

    def on_train_step_end(self, step: int) -> None:
        """After steps_per_scale steps, scale k freezes and k + 1 starts, from k's weights
        where their widths agree (the authors' code); the finest keeps training."""
        k = int(self.scale)
        if int(self.scale_step) < self.config.steps_per_scale or k == self.n_scales - 1:
            return
        if self.widths[k + 1] == self.widths[k]:
            self.generators[k + 1].load_state_dict(self.generators[k].state_dict())
            self.discriminators[k + 1].load_state_dict(self.discriminators[k].state_dict())
        self.scale += 1
        self.scale_step.zero_()

    # --- sampling ----------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, generator=None, size: tuple[int, int] | None = None) -> Tensor:
        """Fresh noise at every scale trained so far, (n, C, H, W): mid-training, the
        last one's output resized to the image's size. `size` (H', W') draws images of
        another size: every scale's noise map stretched by H'/H and W'/W (Sec. 4)."""
        h, w = self.data.shape[1:]
        size = (h, w) if size is None else tuple(size)
        if min(size) < 1:
            raise GenzooError(f"a sample of {size[0]}x{size[1]} pixels: give a positive size")
        sizes = [(max(1, round(a * size[0] / h)), max(1, round(b * size[1] / w)))
                 for a, b in self.sizes]  # fmt: skip
        x = self.generate(n, int(self.scale), generator, sizes)
        return resize(x, size).clamp(-1, 1)
