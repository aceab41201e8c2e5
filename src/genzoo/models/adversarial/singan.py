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

Sec. 4's uses, on the trained pyramid: generating from scale k (the scales below on the
z* path, fresh noise from k on: Fig. 6); injecting an image at scale k as (x̃_{k−1})↑
(paint-to-image, editing, harmonisation); super-resolution by applying the finest G
repeatedly to an image upsampled by ≈ 1/r; and (Supp.) an animation, a momentum random
walk around z*.

Indices here count the other way: scale k = 0 is the coarsest (the paper's N), k = K − 1
the finest (the paper's 0), as they are trained.

Deviations from the paper:
- Conv–BatchNorm–LeakyReLU blocks (Supp.) on a batch of one image are Conv–InstanceNorm
  (affine)–LeakyReLU; written so, a batch of samples normalises each alone, as training did.
- D's gradient penalty is per example (WGAN-GP's Eq. 3); the authors' code takes the norm
  per pixel.
- Images are resized with torch's bicubic interpolation (antialiased when shrinking),
  not the authors' MATLAB-like imresize.
- Super-resolution steps by the run's own r; the authors train a separate SR model with
  r = 2^(−1/3) (and min_size 18). Injection does not blend the result back into the
  original through a mask, as their editing and harmonisation scripts do.
"""

from __future__ import annotations

import math
import time
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
        short, most = min(h, w), (min(h, w) - 1) // 2  # D's blocks need a patch left
        if short <= 2 * config.n_blocks:
            hint = (f"--set n_blocks={most} --set min_size={short}" if most >= 2 else
                    "a larger image")  # fmt: skip
            raise GenzooError(f"the image is {h}x{w}: D's {config.n_blocks} unpadded blocks "
                              f"need more than {2 * config.n_blocks} px at the coarsest "
                              f"scale: give a larger image, or {hint}")  # fmt: skip
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
        # process CPU seconds spent in each scale's training steps (benchmarks read it)
        self.register_buffer("cpu_seconds", torch.zeros(len(self.sizes)))

    def _load_from_state_dict(self, state_dict, prefix, *args) -> None:
        # runs saved before cpu_seconds was kept load with zeros
        state_dict.setdefault(prefix + "cpu_seconds", torch.zeros_like(self.cpu_seconds))
        super()._load_from_state_dict(state_dict, prefix, *args)

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

    def generate(self, n: int, upto: int, generator=None, sizes=None, start: int = 0,
                 x_in: Tensor | None = None) -> Tensor:  # fmt: skip
        """x̃_upto, (n, C, h_upto, w_upto). Scales below `start` take the reconstruction
        path (z* at the coarsest, zero noise above), scales from `start` on fresh noise:
        Fig. 6's "generating from scale n" (the authors' gen_start_scale). `x_in` (an
        image at scale start − 1's size) replaces x̃_{start−1}: Sec. 4's injection.
        `sizes` replaces the pyramid's (h_k, w_k) (Sec. 4: samples of another size)."""
        sizes = sizes or self.sizes
        x = torch.zeros(n, self.data.shape[0], *sizes[0], device=self.device)
        if x_in is not None:
            x = x_in.to(self.device).expand(n, -1, -1, -1)
        for k in range(start if x_in is not None else 0, upto + 1):
            if k < start:
                z = self.sigma[0] * self.z_star if k == 0 else 0.0  # Sec. 2.2: the z* path
            else:
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
        cfg, k, started = self.config, int(self.scale), time.process_time()
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
        self.cpu_seconds[k] += time.process_time() - started
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

    def check_start_scale(self, k: int, lowest: int = 0) -> None:
        """A one-line error unless lowest <= k <= the finest scale trained so far."""
        top = int(self.scale)
        if not lowest <= k <= top:
            raise GenzooError(f"start scale {k}: this run has scales 0 (coarsest) .. {top} "
                              f"(finest trained); give {lowest}..{top}")  # fmt: skip

    @torch.no_grad()
    def sample(self, n: int, generator=None, size: tuple[int, int] | None = None,
               start_scale: int = 0) -> Tensor:  # fmt: skip
        """Fresh noise at every scale trained so far, (n, C, H, W): mid-training, the
        last one's output resized to the image's size. `size` (H', W') draws images of
        another size: every scale's noise map stretched by H'/H and W'/W (Sec. 4).
        `start_scale` k > 0: scales below k reconstruct the image (z*, Sec. 2.2), fresh
        noise from k on: variations of the image's layout (Fig. 6)."""
        self.check_start_scale(start_scale)
        h, w = self.data.shape[1:]
        size = (h, w) if size is None else tuple(size)
        if min(size) < 1:
            raise GenzooError(f"a sample of {size[0]}x{size[1]} pixels: give a positive size")
        if start_scale > 0 and size != (h, w):
            raise GenzooError("a start scale above 0 keeps the image's size (its scales below "
                              "reconstruct it): drop the size")  # fmt: skip
        sizes = [(max(1, round(a * size[0] / h)), max(1, round(b * size[1] / w)))
                 for a, b in self.sizes]  # fmt: skip
        x = self.generate(n, int(self.scale), generator, sizes, start=start_scale)
        return resize(x, size).clamp(-1, 1)

    # --- Sec. 4: applications ------------------------------------------------------------

    @torch.no_grad()
    def inject(self, x: Tensor, start_scale: int, n: int = 1, generator=None) -> Tensor:
        """Paint-to-image, editing, harmonisation (Sec. 4): the image x (1, C, H', W') in
        [−1, 1], downsampled to scale k − 1's size, is fed to G_k as (x̃_{k−1})↑ and the
        scales from k on add fresh noise; (n, C, H, W). As the authors' code does, x is
        resized to the pyramid's shape whatever its own; their masked blending of the
        result into the original (editing, harmonisation) is not done here."""
        self.check_start_scale(start_scale, lowest=1)
        x_in = resize(x.to(self.device), self.sizes[start_scale - 1])
        out = self.generate(n, int(self.scale), generator, start=start_scale, x_in=x_in)
        return resize(out, tuple(self.data.shape[1:])).clamp(-1, 1)

    def upsampling_steps(self, factor: float) -> tuple[int, float]:
        """(m, s): m steps of ×s, s^m = factor, s as near the pyramid's 1/r as m allows
        (the authors' calc_init_scale, with this run's r in place of their 2^(−1/3))."""
        if not 1.0 < factor <= 16.0:
            raise GenzooError(f"super-resolution factor {factor:g}: expected one in (1, 16]")
        if self.n_scales < 2 or int(self.scale) != self.n_scales - 1:
            raise GenzooError("super-resolution applies the finest generator: train every "
                              "scale first (the run has not reached the finest)")  # fmt: skip
        r = min(self.sizes[-2]) / min(self.sizes[-1])
        m = max(1, round(math.log(factor) / math.log(1 / r)))
        return m, factor ** (1 / m)

    @torch.no_grad()
    def super_resolve(self, x: Tensor, factor: float, generator=None) -> Tensor:
        """Sec. 4's super-resolution: m times, upsample by s ≈ 1/r and apply the finest
        generator, x ← G_fine(z, x↑), z ~ σ_fine N(0, I) (the authors' SinGAN_generate in
        SR mode draws fresh noise at the finest amplitude; their zero maps Zs_sr replace
        it only below gen_start_scale = 0, i.e. never). x (B, C, H, W) in [−1, 1];
        returns (B, C, round(H·factor), round(W·factor))."""
        m, s = self.upsampling_steps(factor)
        h, w = x.shape[-2:]
        x, top = x.to(self.device), self.n_scales - 1
        for j in range(1, m + 1):
            size = (round(h * s**j), round(w * s**j))
            z = self.noise(len(x), top, size, generator)
            x = self.generators[top](z, resize(x, size))
        return resize(x, (round(h * factor), round(w * factor))).clamp(-1, 1)

    @torch.no_grad()
    def animate(self, frames: int, start_scale: int = 0, alpha: float = 0.1,
                beta: float = 0.9, generator=None) -> Tensor:  # fmt: skip
        """A video from one image (Supp., the authors' generate_gif): at each scale k ≥
        start_scale a walk around its reconstruction noise z*_k (z* at the coarsest, 0
        above), with momentum,
            Δz_t = β (z_{t−1} − z_{t−2}) + (1 − β) ε_t,   ε_t ~ N(0, I),
            z_t  = α z*_k + (1 − α)(z_{t−1} + Δz_t),      z_0 = z*_k, z_1 = 0.95 z*_k + 0.05 ε,
        fed as σ_k z_t; scales below start_scale keep z*_k. (frames, C, H, W)."""
        self.check_start_scale(start_scale)
        if frames < 2:
            raise GenzooError(f"an animation of {frames} frame(s): give at least 2")
        x = torch.zeros(frames, self.data.shape[0], *self.sizes[0], device=self.device)
        for k in range(int(self.scale) + 1):
            c, (h, w) = self.data.shape[0], self.sizes[k]
            z_star = self.z_star if k == 0 else torch.zeros(1, c, h, w, device=self.device)
            if k < start_scale:
                walk = z_star.expand(frames, -1, -1, -1)
            else:
                eps = torch.randn(frames + 1, *z_star.shape[1:], generator=generator)
                eps = eps.to(self.device)
                prev2, prev1, walk = z_star[0], 0.95 * z_star[0] + 0.05 * eps[-1], []
                for t in range(frames):
                    dz = beta * (prev1 - prev2) + (1 - beta) * eps[t]
                    prev2, prev1 = prev1, alpha * z_star[0] + (1 - alpha) * (prev1 + dz)
                    walk.append(prev1)
                walk = torch.stack(walk)
            x = self.generators[k](self.sigma[k] * walk, resize(x, self.sizes[k]))
        return resize(x, tuple(self.data.shape[1:])).clamp(-1, 1)
