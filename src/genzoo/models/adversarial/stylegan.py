"""A style-based generator (StyleGAN), grown progressively as ProGAN.

T. Karras, S. Laine and T. Aila, "A Style-Based Generator Architecture for Generative
Adversarial Networks", CVPR 2019 (arXiv:1812.04948).

The generator G = g ∘ f is split in two (Sec. 2, Fig. 1b). The mapping network f, an
8-layer MLP, maps z ~ N(0, I) (pixel-normalised) to an intermediate latent w ∈ W:

    w = f(z),   each layer  h ← lrelu(W_j h + b_j),  at a 100× lower learning rate (App. C)

The synthesis network g starts from a learned constant 4×4 input, not from z. Each
resolution has two 3×3 conv layers (4×4: the constant, then one conv); after each, a
per-pixel noise image scaled per channel by learned factors B, leaky ReLU, and AdaIN with
the layer's own style y = (y_s, y_b) = A_i(w), a learned affine map of w (Eq. 1):

    x ← lrelu(conv(x) + B · noise),   noise ~ N(0, 1) of shape (1, H, W) per image
    AdaIN(x_i, y) = y_s,i · (x_i − μ(x_i)) / σ(x_i) + y_b,i      (each channel i)

so g takes one w per layer, ws = (w_0, …, w_{L−1}) with L = 2 per resolution (broadcast:
w_i = w). Style mixing regularisation (Sec. 3.1): for 90% of the training minibatches two
codes are mapped, w1 = f(z1), w2 = f(z2), and a crossover k ~ U{1, …, L_active − 1} gives
layers < k the styles of w1 and layers ≥ k those of w2. The truncation trick in W (Sec. 4,
Eq. in text) with w̄ = E_z[f(z)], a running average of w during training:

    w' = w̄ + ψ (w − w̄),   applied to the coarse layers < truncation_cutoff only

G and D grow from 4×4 as ProGAN's (genzoo.models.adversarial.progan): the same schedule,
fade-in of toRGB outputs, blended real images, D, equalized learning rate, EMA of G's
weights for sampling, and the same objective, WGAN-GP with the drift term, as the paper
uses for CelebA-HQ (Sec. 2, App. C):

    L_D = E D(G(z)) − E D(x) + λ E_x̂[(‖∇_x̂ D(x̂)‖₂ − 1)²] + ε_drift E D(x)²
    L_G = −E D(G(z))

The paper's Table 1 ablations are settings: n_mapping=0 (no mapping network: w is the
pixel-normalised z, so w_dim = latent_dim), noise_inputs=false (no per-pixel noise) and
mixing_prob=0 (no mixing regularisation).

The methods for using a trained model: mapping(z) -> w, broadcast(w) -> ws (B, L, w_dim),
truncate(ws, ψ), synthesize(ws, noise) -> images; sample, decode_noise and mix(z_dst, z_src,
layers) are built from them, and layer_groups() names the coarse, middle and fine layers.

Deviations from the paper:
- The loss is WGAN-GP + drift (the paper's CelebA-HQ setup) for every dataset, not the
  non-saturating loss with R1 (γ = 10) that the paper uses for FFHQ.
- No bilinear ([1, 2, 1]) blur after upsampling or before downsampling (Sec. 2, "bilinear
  sampling"): nearest neighbour and average pooling, as ProGAN here.
- No per-resolution learning rates or minibatch sizes; Adam's moments are not reset at
  stage changes; minibatch standard deviation over the whole batch (as ProGAN here).
- The constant input has no separate bias (it would add a learned per-channel constant to
  a learned constant).
- w̄ is updated by every pass of G in training (twice a step: in D's and G's update), as
  the authors' code does; it starts at 0.
- `decode_noise(z)` and `mix` use one fixed noise realisation, shared by every image, so
  that they are functions of z alone; `sample` and `synthesize` draw fresh noise per image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from genzoo.core.capabilities import Capability, SampleOption
from genzoo.core.config import above, at_least, below
from genzoo.core.errors import GenzooError
from genzoo.core.model import DataInfo
from genzoo.core.registry import register
from genzoo.models.adversarial.progan import ProGAN, ProGANConfig, act
from genzoo.nn.progressive import (
    EqualizedConv2d,
    EqualizedLinear,
    PixelNorm,
    fade_in,
    resize_to,
    upsample,
)


@dataclass
class StyleGANConfig(ProGANConfig):
    latent_dim: int = field(default=512, metadata=at_least(1))  # Sec. 2: z is 512-d
    images_per_phase: int = field(default=600_000, metadata=at_least(1))  # authors' code: 600k
    w_dim: int = field(default=512, metadata=at_least(1))  # Sec. 2: w is 512-d
    # Sec. 2: an 8-layer MLP; 0 = Table 1's ablation without it (w = z, pixel-normalised)
    n_mapping: int = field(default=8, metadata=at_least(0))
    mapping_lr_multiplier: float = field(default=0.01, metadata=above(0.0))  # App. C: λ' = 0.01λ
    mixing_prob: float = field(default=0.9, metadata=at_least(0.0))  # Sec. 3.1, Table 2: 90%
    noise_inputs: bool = True  # Sec. 3.2; false = Table 1's ablation without noise
    w_avg_decay: float = field(default=0.995, metadata=at_least(0.0) | below(1.0))  # authors' code
    # the layers that truncation moves: 8 = 4²–32² in the authors' code (truncation_cutoff)
    truncation_cutoff: int = field(default=8, metadata=at_least(0))


def adain(x: Tensor, y_s: Tensor, y_b: Tensor, eps: float = 1e-8) -> Tensor:
    """AdaIN(x_i, y) = y_s,i (x_i − μ(x_i)) / σ(x_i) + y_b,i over each channel's pixels
    (Eq. 1); x (B, C, H, W), y_s and y_b (B, C); σ² = mean (x_i − μ)² + ε."""
    x = x - x.mean(dim=(2, 3), keepdim=True)
    sigma = torch.sqrt(x.pow(2).mean(dim=(2, 3), keepdim=True) + eps)
    return y_s[:, :, None, None] * x / sigma + y_b[:, :, None, None]


class AdaIN(nn.Module):
    """x, w -> AdaIN(x, A(w)): the layer's learned affine map A gives (y_s, y_b), y_s's bias
    starting at 1 (the authors' code: x · (1 + s) + b)."""

    def __init__(self, w_dim: int, channels: int):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, 2 * channels, gain=1.0)  # A
        with torch.no_grad():
            self.affine.bias[:channels] = 1.0

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        y_s, y_b = self.affine(w).chunk(2, dim=1)  # (B, C) each
        return adain(x, y_s, y_b)


class NoiseInjection(nn.Module):
    """x + B · noise: one single-channel noise image (B or 1, 1, H, W) scaled per channel by
    learned factors B, zero at start (Sec. 2, Fig. 1b)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, noise: Tensor) -> Tensor:
        return x + self.weight[None, :, None, None] * noise


class StyleLayer(nn.Module):
    """[upsample] [3×3 conv] -> + B·noise -> leaky ReLU -> AdaIN(·, A(w))  (Fig. 1b)."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, conv: bool = True, up: bool = False,
                 noise: bool = True):  # fmt: skip
        super().__init__()
        self.up = up
        self.conv = EqualizedConv2d(c_in, c_out, 3) if conv else None
        self.noise = NoiseInjection(c_out) if noise else None
        self.style = AdaIN(w_dim, c_out)

    def forward(self, x: Tensor, w: Tensor, noise: Tensor) -> Tensor:
        if self.up:
            x = upsample(x)
        if self.conv is not None:
            x = self.conv(x)
        if self.noise is not None:
            x = self.noise(x, noise)
        return self.style(act(x), w)


class MappingNetwork(nn.Module):
    """f: z (B, L) -> w (B, w_dim): z pixel-normalised, then n dense layers with leaky ReLU,
    each at learning rate × lr_multiplier (Sec. 2, App. C)."""

    def __init__(self, latent_dim: int, w_dim: int, n_layers: int, lr_multiplier: float):
        super().__init__()
        dims = [latent_dim] + [w_dim] * n_layers
        self.norm = PixelNorm()
        self.layers = nn.ModuleList(EqualizedLinear(a, b, lr_multiplier=lr_multiplier)
                                    for a, b in zip(dims, dims[1:], strict=False))  # fmt: skip

    def forward(self, z: Tensor) -> Tensor:
        w = self.norm(z)
        for layer in self.layers:
            w = act(layer(w))
        return w


class SynthesisNetwork(nn.Module):
    """g: ws (B, L, w_dim), noise (L tensors) -> x (B, C, r, r) at stage k (r = 4·2^k), the
    newest resolution faded in by α as ProGAN's G. Layers 2k and 2k+1 are resolution k's."""

    def __init__(self, w_dim: int, channels: list[int], image_channels: int,
                 noise: bool = True):  # fmt: skip
        super().__init__()
        c0 = channels[0]
        self.const = nn.Parameter(torch.ones(1, c0, 4, 4))  # the learned constant input
        layers = [StyleLayer(c0, c0, w_dim, conv=False, noise=noise),
                  StyleLayer(c0, c0, w_dim, noise=noise)]  # fmt: skip
        for a, b in zip(channels, channels[1:], strict=False):
            layers += [StyleLayer(a, b, w_dim, up=True, noise=noise),
                       StyleLayer(b, b, w_dim, noise=noise)]  # fmt: skip
        self.layers = nn.ModuleList(layers)
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c, image_channels, 1, gain=1.0)
                                    for c in channels)  # fmt: skip

    def resolution_block(self, h: Tensor, k: int, ws: Tensor, noise: list[Tensor]) -> Tensor:
        for i in (2 * k, 2 * k + 1):
            h = self.layers[i](h, ws[:, i], noise[i])
        return h

    def forward(self, ws: Tensor, stage: int, alpha: float, noise: list[Tensor]) -> Tensor:
        h = self.resolution_block(self.const.expand(len(ws), -1, -1, -1), 0, ws, noise)
        for k in range(1, stage):
            h = self.resolution_block(h, k, ws, noise)
        if stage == 0:
            return self.to_rgb[0](h)
        x_new = self.to_rgb[stage](self.resolution_block(h, stage, ws, noise))
        if alpha >= 1.0:
            return x_new
        return fade_in(upsample(self.to_rgb[stage - 1](h)), x_new, alpha)


class StyleGenerator(nn.Module):
    """G = g ∘ f. forward(z, stage, α) is G in training: ws from `styles` (style mixing,
    w̄ tracked), fresh noise; sampling goes through StyleGAN's methods."""

    def __init__(self, config: StyleGANConfig, channels: list[int], image_channels: int):
        super().__init__()
        self.mapping = MappingNetwork(config.latent_dim, config.w_dim, config.n_mapping,
                                      config.mapping_lr_multiplier)  # fmt: skip
        self.synthesis = SynthesisNetwork(config.w_dim, channels, image_channels,
                                          config.noise_inputs)  # fmt: skip
        self.mixing_prob, self.w_avg_decay = config.mixing_prob, config.w_avg_decay
        self.register_buffer("w_avg", torch.zeros(config.w_dim))  # w̄, for truncation

    @property
    def n_layers(self) -> int:
        return len(self.synthesis.layers)

    def draw_noise(self, n: int, generator: torch.Generator | None = None,
                   layers: int | None = None) -> list[Tensor]:  # fmt: skip
        """One N(0, 1) image (n, 1, r, r) per layer, r its resolution: for every layer, or
        for the first `layers` (those a stage runs)."""
        device = self.w_avg.device
        return [torch.randn(n, 1, 4 * 2 ** (i // 2), 4 * 2 ** (i // 2), generator=generator)
                .to(device) for i in range(layers or self.n_layers)]  # fmt: skip

    def styles(self, z: Tensor, stage: int) -> Tensor:
        """ws (B, L, w_dim) for training: w1 = f(z) in every layer, or with probability
        mixing_prob w1 before a crossover k ~ U{1, …, L_active − 1} and w2 = f(z2) from k
        on (Sec. 3.1); w̄ ← β w̄ + (1 − β) mean(w1). Outside training: w1 everywhere."""
        w1 = self.mapping(z)
        ws = w1[:, None].repeat(1, self.n_layers, 1)
        if not self.training:
            return ws
        with torch.no_grad():
            self.w_avg.lerp_(w1.mean(0).to(self.w_avg.dtype), 1.0 - self.w_avg_decay)
        active = 2 * (stage + 1)
        if torch.rand(()) < self.mixing_prob:
            k = int(torch.randint(1, active, ()))
            w2 = self.mapping(torch.randn_like(z))
            ws = torch.cat([ws[:, :k], w2[:, None].expand(-1, self.n_layers - k, -1)], dim=1)
        return ws

    def forward(self, z: Tensor, stage: int, alpha: float) -> Tensor:
        ws = self.styles(z, stage)
        noise = self.draw_noise(len(z), layers=2 * (stage + 1))  # the stage's layers only
        return self.synthesis(ws, stage, alpha, noise)


NoiseInput = torch.Generator | list[Tensor] | tuple[Tensor, ...] | None


@register("stylegan", family="adversarial", description="style-based generator (StyleGAN)")
class StyleGAN(ProGAN):
    Config = StyleGANConfig
    capabilities = ProGAN.capabilities | Capability.STYLES
    sample_options = (
        SampleOption("truncation", -1.0, 1.0, "ψ of the truncation trick in W (Sec. 4): "
                     "w' = w̄ + ψ (w − w̄) on the coarse layers (< truncation_cutoff); 1 = as "
                     "trained, 0 = the average image, ψ in (−1, 1]"),
    )  # fmt: skip
    generator: StyleGenerator

    def __init__(self, config: StyleGANConfig, data: DataInfo):
        if not 0.0 <= config.mixing_prob <= 1.0:
            raise GenzooError(f"mixing_prob={config.mixing_prob}: a probability, in [0, 1]")
        if config.n_mapping == 0 and config.w_dim != config.latent_dim:
            raise GenzooError(f"n_mapping=0 feeds z to the styles as w: set w_dim = latent_dim "
                              f"({config.latent_dim}), not {config.w_dim}")  # fmt: skip
        super().__init__(config, data)

    def build_generator(self, channels: list[int]) -> StyleGenerator:
        return StyleGenerator(self.config, channels, self.data.shape[0])

    @property
    def n_layers(self) -> int:
        """L: the synthesis layers, each with its own style; 2 per resolution."""
        return self.generator.n_layers

    # ---- the generator's parts, with the EMA weights when not training ----

    def mapping(self, z: Tensor) -> Tensor:
        """w = f(z), (B, w_dim)."""
        z = z.to(self.device)
        if self.ema is not None and not self.training:
            return self.ema.averaged(self.generator, z, part="mapping")
        return self.generator.mapping(z)

    def broadcast(self, w: Tensor) -> Tensor:
        """w (B, w_dim) -> ws (B, L, w_dim): the same style for every layer."""
        return w[:, None].repeat(1, self.n_layers, 1)

    def truncate(self, ws: Tensor, psi: float) -> Tensor:
        """w' = w̄ + ψ (w − w̄) in layers < truncation_cutoff, the others as they are (Sec. 4);
        ψ = 1 returns ws exactly, ψ = 0 puts w̄ there."""
        c = self.config.truncation_cutoff
        w_avg = self.generator.w_avg.expand_as(ws[:, :c])
        return torch.cat([torch.lerp(w_avg, ws[:, :c], psi), ws[:, c:]], dim=1)

    def noise_inputs(self, n: int, noise: NoiseInput = None) -> list[Tensor]:
        """The per-pixel noise of n images, one tensor (n or 1, 1, r, r) per layer: drawn
        afresh (None), from a torch.Generator, or checked as given (a list)."""
        if noise is None or isinstance(noise, torch.Generator):
            return self.generator.draw_noise(n, noise)
        shapes = [(4 * 2 ** (i // 2),) * 2 for i in range(self.n_layers)]
        if len(noise) != self.n_layers or any(
            t.dim() != 4 or t.shape[1] != 1 or tuple(t.shape[2:]) != s or len(t) not in (1, n)
            for t, s in zip(noise, shapes, strict=False)
        ):
            raise GenzooError(f"noise: give {self.n_layers} tensors (n or 1, 1, r, r), one per "
                              f"layer, r = {', '.join(str(s[0]) for s in shapes)}")  # fmt: skip
        return [t.to(self.device) for t in noise]

    def fixed_noise(self) -> list[Tensor]:
        """One noise realisation (1, 1, r, r) per layer, the same for every image and call."""
        return self.generator.draw_noise(1, torch.Generator().manual_seed(0))

    def synthesize(self, ws: Tensor, noise: NoiseInput = None, clip: bool = True) -> Tensor:
        """g(ws, noise) at the current stage, upsampled to the data's size and clipped to
        [−1, 1], as ProGAN's decode_noise; ws (B, L, w_dim), noise as in noise_inputs.
        clip=False: not clipped (latent optimisation needs the gradient of every pixel)."""
        if ws.dim() != 3 or tuple(ws.shape[1:]) != (self.n_layers, self.config.w_dim):
            raise GenzooError(f"ws has shape {tuple(ws.shape)}; expected (B, {self.n_layers}, "
                              f"{self.config.w_dim}): one w per layer")  # fmt: skip
        ws, noise_list = ws.to(self.device), self.noise_inputs(len(ws), noise)
        stage, alpha = self.stage()
        if self.ema is not None and not self.training:
            x = self.ema.averaged(self.generator, ws, stage, alpha, noise_list, part="synthesis")
        else:
            x = self.generator.synthesis(ws, stage, alpha, noise_list)
        x = resize_to(x, self.data.shape[-1])
        return x.clamp(-1.0, 1.0) if clip else x

    # ---- sampling ----

    def noise(self, n: int, generator=None, truncation: float | None = None) -> Tensor:
        """z ~ N(0, I), (n, latent_dim). `truncation` (ψ) acts on w, not on z: it is taken
        by sample, decode_noise and mix, and does nothing here."""
        return torch.randn(n, self.config.latent_dim, generator=generator).to(self.device)

    @torch.no_grad()
    def sample(self, n: int, generator=None, truncation: float | None = None) -> Tensor:
        """n images: z and then the per-pixel noise drawn from `generator`; ψ = truncation."""
        ws = self.broadcast(self.mapping(self.noise(n, generator)))
        if truncation is not None:
            ws = self.truncate(ws, truncation)
        return self.synthesize(ws, generator)

    @torch.no_grad()
    def decode_noise(self, z: Tensor, truncation: float | None = None) -> Tensor:
        """G(z) with the fixed noise realisation: a function of z alone (interpolations)."""
        ws = self.broadcast(self.mapping(z))
        if truncation is not None:
            ws = self.truncate(ws, truncation)
        return self.synthesize(ws, self.fixed_noise())

    # ---- style mixing (Sec. 3.1, Fig. 3) ----

    def layer_groups(self) -> dict[str, slice]:
        """The layers of the paper's coarse (4²–8²), middle (16²–32²) and fine (64² and up)
        styles. A model below 64² still gets three groups: its last resolution is "fine",
        those from 16² (or 8²) before it "middle", e.g. at 32²: coarse 4²–8², middle 16²,
        fine 32²; at 16²: 4², 8², 16². Below 16² (two resolutions) there is no middle."""
        n = self.n_stages
        if n < 3:  # 4² (and 8²): no middle
            return {"coarse": slice(0, 2)} | ({"fine": slice(2, 4)} if n == 2 else {})
        fine = min(4, n - 1)  # stage 4 is 64²
        middle = min(2, fine - 1)  # stage 2 is 16²
        return {"coarse": slice(0, 2 * middle), "middle": slice(2 * middle, 2 * fine),
                "fine": slice(2 * fine, 2 * n)}  # fmt: skip

    def style_layers(self, spec: str | slice) -> slice:
        """ "coarse", "middle", "fine" (layer_groups) or "A:B", layers A..B−1 (either end may
        be left out) -> a slice of the L layers."""
        groups = self.layer_groups()
        if isinstance(spec, str) and spec in groups:
            return groups[spec]
        if isinstance(spec, slice):
            start, stop, ok = spec.start, spec.stop, spec.step in (None, 1)
        else:
            a, colon, b = spec.partition(":")
            ok = bool(colon) and all(v.strip().isdigit() for v in (a, b) if v.strip())
            start, stop = (int(v) if ok and v.strip() else None for v in (a, b))
        start, stop = start or 0, self.n_layers if stop is None else stop
        if not ok or not 0 <= start < stop <= self.n_layers:
            raise GenzooError(f"layers {spec!r}: give {', '.join(groups)} or A:B with "
                              f"0 ≤ A < B ≤ {self.n_layers}")  # fmt: skip
        return slice(start, stop)

    @torch.no_grad()
    def mix(self, z_dst: Tensor, z_src: Tensor, layers: str | slice,
            truncation: float | None = None, noise: NoiseInput = None) -> Tensor:  # fmt: skip
        """Images with z_dst's styles except in `layers`, which take z_src's (Fig. 3); z_dst
        and z_src (B, latent_dim) pair up row by row (a batch of 1 is repeated). Noise: the
        fixed realisation unless given, so that only the styles differ."""
        if len(z_dst) != len(z_src) and 1 not in (len(z_dst), len(z_src)):
            raise GenzooError(f"mix pairs z_dst and z_src row by row: {len(z_dst)} and "
                              f"{len(z_src)} rows")  # fmt: skip
        n, layers = max(len(z_dst), len(z_src)), self.style_layers(layers)
        ws = self.broadcast(self.mapping(z_dst)).expand(n, -1, -1).clone()
        ws[:, layers] = self.broadcast(self.mapping(z_src)).expand(n, -1, -1)[:, layers]
        if truncation is not None:
            ws = self.truncate(ws, truncation)
        return self.synthesize(ws, self.fixed_noise() if noise is None else noise)
