"""ProGAN and StyleGAN training steps: genzoo against a port-style reference, 32x32, one thread.

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/gan32_throughput.py \
        | tee benchmarks/results/gan32_throughput.txt

from the repository root; `--quick` takes under two minutes, `--check` runs only the checks.

genzoo's models are built with `create_model(name, DataInfo((1, 32, 32), None), ...)` at the
settings of benchmarks/gan32_compare.sh (z and w of 128, at most 64 channels, channel_base
512: 64, 64, 32, 16 channels at 4, 8, 16, 32 px; 6,000 images per phase; G's EMA with
decay 0.99; batch 64) and stepped as the trainer steps them: `training_step` (a WGAN-GP +
drift critic step, a generator step: n_critic = 1) then `on_train_step_end` (the EMA of G).

The references are written here, in this file's own words, in the way the authors' public
code is organised (tkarras/progressive_growing_of_gans, NVlabs/stylegan), as an eager
PyTorch port of it would be: one module per layer holding an N(0, 1) weight that is
multiplied by its He constant gain / sqrt(fan_in) on every forward (equalized learning
rate; the mapping network's layers with the lr multiplier 0.01 on weight and bias), pixel
norm, the minibatch-stddev layer written as the authors' group reshape, nearest upsampling
as their reshape-and-tile `upscale2d`, 2x2 average pooling, a toRGB / fromRGB per
resolution, the new resolution faded in by a lerp with α, only the active resolutions run
(the authors' 'recursive' structure); the StyleGAN generator as G_mapping (pixel-normed z,
8 dense layers, lrelu) and G_synthesis (a learned 4x4 constant, then per layer: [upscale,
conv], noise image times per-channel learned strengths, lrelu, instance norm, style
modulation x * (1 + s) + b from a dense layer of w), style mixing with a random crossover
in the active layers, the running average of w. The loss is the authors'
D_wgangp_acgan / G_wgan without labels (per-example scores, interpolates as a lerp between
fakes and reals, gradient penalty (|grad| - 1)^2 * 10, drift 0.001 * D(x)^2), Adam with
β = (0, 0.99) and lr 1e-3 for both nets, the other net's parameters frozen
(requires_grad off) during each update, and Gs, the moving average of G, updated with a
lerp after every step.

Where genzoo differs from the papers the references follow genzoo, so that both do the
same work: G's first dense layer has gain sqrt(2) (authors: sqrt(2)/4); minibatch stddev
over the whole batch (group size = batch); everything runs at the current resolution (the
authors upscale G's output and the reals to full size and let D downscale them, so their
penalty is taken at full size); no per-resolution learning rates or batch sizes, no Adam
reset at stage changes; StyleGAN: WGAN-GP + drift (the paper's CelebA-HQ loss, not
non-saturating + R1), ProGAN's discriminator (no blur), nearest upsampling without the
[1, 2, 1] blur, no bias on the constant input layer, mixing probability 0.9, w's average
updated by every pass of G. Where the code would be written differently in PyTorch the
reference does the natural PyTorch thing: the conv and dense biases are passed to
F.conv2d / F.linear (the authors add them in a separate op), and the random numbers are
drawn from torch's global generator in genzoo's order (z, the mixing coin, the crossover,
the second z, the noise images, the interpolation weights) so that losses can be compared.
Both do the same work at every stage: genzoo's StyleGAN draws the noise images of the
layers a stage runs, as the reference does, and its minibatch stddev takes the mean of
squared deviations, as the authors' layer does (until 2026-12-01 genzoo drew all 8 layers'
noise on each pass and took x.var(dim=0), several times slower on CPU over the batch
dimension: 0.94x and 0.91x of the references at 4x4 in the run committed then).

Checks (printed first; `--check` runs only these), in float64: both nets have the same
parameter count; genzoo's initial weights are copied into the reference (parameters in the
same order; the style layers' scale bias less the 1 that the reference adds at run time);
G's output for the same z (StyleGAN: the same w's with a crossover and the same noise) and
D's output for the same batch agree; and, seeded alike, one training step of each gives
the same D and G losses and the same parameters afterwards.

Timing: at two points of the schedule, the first stage (4x4) and the last (32x32, α = 1),
set through genzoo's `images_seen` (reset before every block, so 4x4 stays 4x4), both
models step in one process on one thread, in alternating blocks of --block steps (the
order swapped every round), on the same random batches, after --warmup steps each;
`time.process_time()` is summed per model until each has --seconds. Reported: steps per
CPU second of each, ours / reference over all blocks, and the median of the per-block
ratios (the one to quote on a shared machine).
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import re
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))  # importable from anywhere
from common import cpu_model, loadavg, write_rows  # noqa: E402  (benchmarks/common.py)

BATCH = 64
SIDE = 32
GROW = {  # benchmarks/gan32_compare.sh's settings
    "latent_dim": 128,
    "max_channels": 64,
    "channel_base": 512,
    "images_per_phase": 6000,
    "ema_decay": 0.99,
}
SETTINGS = {"progan": GROW, "stylegan": GROW | {"w_dim": 128}}
QUICK = {"seconds": 5.0, "block": 3, "warmup": 2}

# ---------------------------------------------------------------------------------------
# The reference: layers and helpers in the manner of the authors' networks.py


def lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2)


def pixel_norm(x: Tensor, epsilon: float = 1e-8) -> Tensor:
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + epsilon)


def instance_norm(x: Tensor, epsilon: float = 1e-8) -> Tensor:
    x = x - x.mean(dim=(2, 3), keepdim=True)
    return x * torch.rsqrt(x.square().mean(dim=(2, 3), keepdim=True) + epsilon)


def upscale2d(x: Tensor, factor: int = 2) -> Tensor:
    """Nearest neighbour by reshape and tile, as the authors' upscale2d."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h, 1, w, 1).expand(b, c, h, factor, w, factor)
    return x.reshape(b, c, h * factor, w * factor)


def downscale2d(x: Tensor, factor: int = 2) -> Tensor:
    return F.avg_pool2d(x, factor)


def minibatch_stddev_layer(x: Tensor, group_size: int) -> Tensor:
    """The authors' layer: stddev over groups of `group_size`, averaged, as a new channel."""
    b, c, h, w = x.shape
    g = min(group_size, b)
    y = x.reshape(g, -1, c, h, w)  # [G, M, C, H, W]
    y = y - y.mean(dim=0)
    y = torch.sqrt(y.square().mean(dim=0) + 1e-8)  # [M, C, H, W]
    y = y.mean(dim=(1, 2, 3)).reshape(-1, 1, 1, 1).repeat(g, 1, h, w)  # [B, 1, H, W]
    return torch.cat([x, y], dim=1)


class Dense(nn.Module):
    """dense + apply_bias with use_wscale: N(0, 1/lrmul²) weights, times he_std·lrmul."""

    def __init__(self, fmaps_in: int, fmaps_out: int, gain: float = math.sqrt(2),
                 lrmul: float = 1.0):  # fmt: skip
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fmaps_out, fmaps_in) / lrmul)
        self.bias = nn.Parameter(torch.zeros(fmaps_out))
        self.w_mul = gain / math.sqrt(fmaps_in) * lrmul
        self.b_mul = lrmul

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.w_mul, self.bias * self.b_mul)


class Conv2d(nn.Module):
    """conv2d + apply_bias with use_wscale, 'same' padding."""

    def __init__(self, fmaps_in: int, fmaps_out: int, kernel: int, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fmaps_out, fmaps_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(fmaps_out))
        self.w_mul = gain / math.sqrt(fmaps_in * kernel * kernel)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.w_mul, self.bias, padding=self.weight.shape[-1] // 2)


def nf(stage: int) -> int:
    """Feature maps at resolution 4·2^stage: min(fmap_max, fmap_base / res)."""
    return min(GROW["max_channels"], GROW["channel_base"] // (4 * 2**stage))


N_STAGES = int(math.log2(SIDE)) - 1  # 4, 8, 16, 32


class ReferenceProGANG(nn.Module):
    """G_paper, recursive structure: only the blocks up to `stage` run."""

    def __init__(self, latent_size: int = GROW["latent_dim"], num_channels: int = 1):
        super().__init__()
        self.dense = Dense(latent_size, nf(0) * 16)  # 4x4/Dense
        self.conv4 = Conv2d(nf(0), nf(0), 3)  # 4x4/Conv
        self.convs = nn.ModuleList()
        for s in range(1, N_STAGES):
            self.convs.append(nn.ModuleList([Conv2d(nf(s - 1), nf(s), 3), Conv2d(nf(s), nf(s), 3)]))
        self.torgb = nn.ModuleList(Conv2d(nf(s), num_channels, 1, gain=1) for s in range(N_STAGES))

    def block(self, x: Tensor, s: int) -> Tensor:
        if s == 0:
            x = pixel_norm(lrelu(self.dense(pixel_norm(x))).reshape(-1, nf(0), 4, 4))
            return pixel_norm(lrelu(self.conv4(x)))
        conv0, conv1 = self.convs[s - 1]
        x = pixel_norm(lrelu(conv0(upscale2d(x))))
        return pixel_norm(lrelu(conv1(x)))

    def forward(self, latents: Tensor, stage: int, alpha: float) -> Tensor:
        x = self.block(latents, 0)
        for s in range(1, stage + 1):
            y = self.block(x, s)
            if s == stage and alpha < 1.0:
                old = upscale2d(self.torgb[s - 1](x))
                return torch.lerp(old, self.torgb[s](y), alpha)
            x = y
        return self.torgb[stage](x)


class ReferenceD(nn.Module):
    """D_paper, recursive structure, with the minibatch-stddev layer over the whole batch."""

    def __init__(self, num_channels: int = 1, mbstd_group_size: int = BATCH):
        super().__init__()
        self.fromrgb = nn.ModuleList(Conv2d(num_channels, nf(s), 1) for s in range(N_STAGES))
        self.convs = nn.ModuleList()
        for s in range(1, N_STAGES):
            self.convs.append(nn.ModuleList([Conv2d(nf(s), nf(s), 3), Conv2d(nf(s), nf(s - 1), 3)]))
        self.conv4 = Conv2d(nf(0) + 1, nf(0), 3)  # 4x4/Conv
        self.dense0 = Dense(nf(0) * 16, nf(0))  # 4x4/Dense0
        self.dense1 = Dense(nf(0), 1, gain=1)  # 4x4/Dense1
        self.mbstd_group_size = mbstd_group_size

    def forward(self, images: Tensor, stage: int, alpha: float) -> Tensor:
        x = lrelu(self.fromrgb[stage](images))
        for s in range(stage, 0, -1):
            conv0, conv1 = self.convs[s - 1]
            x = downscale2d(lrelu(conv1(lrelu(conv0(x)))))
            if s == stage and alpha < 1.0:
                old = lrelu(self.fromrgb[s - 1](downscale2d(images)))
                x = torch.lerp(old, x, alpha)
        x = minibatch_stddev_layer(x, self.mbstd_group_size)
        x = lrelu(self.conv4(x))
        x = lrelu(self.dense0(x.flatten(1)))
        return self.dense1(x)[:, 0]


class ReferenceMapping(nn.Module):
    """G_mapping: normalize_latents, then dense layers at lr multiplier 0.01 with lrelu."""

    def __init__(self, latent_size: int = 128, dlatent_size: int = 128, mapping_layers: int = 8):
        super().__init__()
        sizes = [latent_size] + [dlatent_size] * mapping_layers
        pairs = zip(sizes, sizes[1:], strict=False)
        self.dense = nn.ModuleList(Dense(a, b, lrmul=0.01) for a, b in pairs)

    def forward(self, latents: Tensor) -> Tensor:
        x = pixel_norm(latents)
        for layer in self.dense:
            x = lrelu(layer(x))
        return x


class SynthesisLayer(nn.Module):
    """[upscale2d, Conv] then layer_epilogue: noise, lrelu, instance norm, style_mod."""

    def __init__(self, fmaps_in: int, fmaps: int, dlatent_size: int, conv: bool = True,
                 up: bool = False):  # fmt: skip
        super().__init__()
        self.up = up
        self.conv = Conv2d(fmaps_in, fmaps, 3) if conv else None
        self.noise_strength = nn.Parameter(torch.zeros(fmaps))
        self.style = Dense(dlatent_size, 2 * fmaps, gain=1)

    def forward(self, x: Tensor, dlatent: Tensor, noise: Tensor | None = None) -> Tensor:
        if self.up:
            x = upscale2d(x)
        if self.conv is not None:
            x = self.conv(x)
        if noise is None:  # randomize_noise
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3])
        x = x + noise * self.noise_strength.reshape(1, -1, 1, 1)
        x = instance_norm(lrelu(x))
        style = self.style(dlatent).reshape(-1, 2, x.shape[1], 1, 1)
        return x * (style[:, 0] + 1) + style[:, 1]


class ReferenceSynthesis(nn.Module):
    """G_synthesis, recursive structure: the learned constant, two layers per resolution."""

    def __init__(self, dlatent_size: int = 128, num_channels: int = 1):
        super().__init__()
        self.const = nn.Parameter(torch.ones(1, nf(0), 4, 4))
        layers = [SynthesisLayer(nf(0), nf(0), dlatent_size, conv=False),
                  SynthesisLayer(nf(0), nf(0), dlatent_size)]  # fmt: skip
        for s in range(1, N_STAGES):
            layers += [SynthesisLayer(nf(s - 1), nf(s), dlatent_size, up=True),
                       SynthesisLayer(nf(s), nf(s), dlatent_size)]  # fmt: skip
        self.layers = nn.ModuleList(layers)
        self.torgb = nn.ModuleList(Conv2d(nf(s), num_channels, 1, gain=1) for s in range(N_STAGES))

    def block(self, x: Tensor, s: int, dlatents: Tensor, noise: list[Tensor] | None) -> Tensor:
        for i in (2 * s, 2 * s + 1):
            x = self.layers[i](x, dlatents[:, i], None if noise is None else noise[i])
        return x

    def forward(self, dlatents: Tensor, stage: int, alpha: float,
                noise: list[Tensor] | None = None) -> Tensor:  # fmt: skip
        x = self.block(self.const.expand(len(dlatents), -1, -1, -1), 0, dlatents, noise)
        for s in range(1, stage + 1):
            y = self.block(x, s, dlatents, noise)
            if s == stage and alpha < 1.0:
                old = upscale2d(self.torgb[s - 1](x))
                return torch.lerp(old, self.torgb[s](y), alpha)
            x = y
        return self.torgb[stage](x)


class ReferenceStyleG(nn.Module):
    """G_style: mapping, w's running average, style mixing, synthesis."""

    def __init__(self, latent_size: int = 128, dlatent_size: int = 128,
                 style_mixing_prob: float = 0.9, dlatent_avg_beta: float = 0.995):  # fmt: skip
        super().__init__()
        self.mapping = ReferenceMapping(latent_size, dlatent_size)
        self.synthesis = ReferenceSynthesis(dlatent_size)
        self.num_layers = len(self.synthesis.layers)
        self.style_mixing_prob, self.dlatent_avg_beta = style_mixing_prob, dlatent_avg_beta
        self.register_buffer("dlatent_avg", torch.zeros(dlatent_size))
        self.register_buffer("layer_idx", torch.arange(self.num_layers).reshape(1, -1, 1))

    def forward(self, latents: Tensor, stage: int, alpha: float) -> Tensor:
        w = self.mapping(latents)
        with torch.no_grad():
            self.dlatent_avg.copy_(torch.lerp(w.mean(dim=0), self.dlatent_avg,
                                              self.dlatent_avg_beta))  # fmt: skip
        dlatents = w[:, None].expand(-1, self.num_layers, -1)
        cur_layers = 2 * (stage + 1)
        if torch.rand(()) < self.style_mixing_prob:
            mixing_cutoff = int(torch.randint(1, cur_layers, ()))
            w2 = self.mapping(torch.randn_like(latents))
            dlatents2 = w2[:, None].expand(-1, self.num_layers, -1)
            dlatents = torch.where(self.layer_idx < mixing_cutoff, dlatents, dlatents2)
        return self.synthesis(dlatents, stage, alpha)


def set_requires_grad(net: nn.Module, flag: bool) -> None:
    for p in net.parameters():
        p.requires_grad_(flag)


class ReferenceGAN:
    """The training loop body: process_reals, a D_wgangp step, a G_wgan step, Gs update."""

    def __init__(self, G: nn.Module, D: nn.Module, latent_size: int = 128,
                 G_smoothing: float = 0.99):  # fmt: skip
        self.G, self.D, self.latent_size = G, D, latent_size
        self.Gs = copy.deepcopy(G).requires_grad_(False)
        self.G_smoothing = G_smoothing
        self.G_opt = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.0, 0.99), eps=1e-8)
        self.D_opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.0, 0.99), eps=1e-8)

    @staticmethod
    def process_reals(x: Tensor, stage: int, alpha: float) -> Tensor:
        """Average-pool to the current resolution; during a fade, blend with its blur."""
        factor = x.shape[-1] // (4 * 2**stage)
        if factor > 1:
            x = downscale2d(x, factor)
        if stage > 0 and alpha < 1.0:
            x = torch.lerp(upscale2d(downscale2d(x)), x, alpha)
        return x

    def step(self, reals: Tensor, stage: int, alpha: float) -> dict[str, float]:
        G, D = self.G, self.D
        reals = self.process_reals(reals, stage, alpha)
        b = len(reals)
        # D_wgangp_acgan
        set_requires_grad(G, False)
        set_requires_grad(D, True)
        latents = torch.randn(b, self.latent_size)
        fakes = G(latents, stage, alpha)
        real_scores, fake_scores = D(reals, stage, alpha), D(fakes, stage, alpha)
        loss = fake_scores - real_scores
        mixing_factors = torch.rand(b, 1, 1, 1)
        mixed = torch.lerp(fakes, reals, mixing_factors).requires_grad_(True)
        (mixed_grads,) = torch.autograd.grad(D(mixed, stage, alpha).sum(), mixed,
                                             create_graph=True)  # fmt: skip
        mixed_norms = mixed_grads.square().sum(dim=(1, 2, 3)).sqrt()
        loss = loss + (mixed_norms - 1.0).square() * 10.0
        loss = (loss + real_scores.square() * 0.001).mean()
        self.D_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.D_opt.step()
        # G_wgan
        set_requires_grad(G, True)
        set_requires_grad(D, False)
        latents = torch.randn(b, self.latent_size)
        g_loss = -D(G(latents, stage, alpha), stage, alpha).mean()
        self.G_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        self.G_opt.step()
        # Gs = lerp(G, Gs, beta)
        with torch.no_grad():
            for p_avg, p in zip(self.Gs.parameters(), G.parameters(), strict=True):
                p_avg.lerp_(p, 1.0 - self.G_smoothing)
        return {"loss": loss.detach(), "g_loss": g_loss.detach()}


# ---------------------------------------------------------------------------------------
# genzoo's side, the weight copy and the checks


def build_pair(name: str, seed: int = 0):
    """(genzoo's model, its optimizers, the reference) with genzoo's initial weights."""
    from genzoo.core import DataInfo
    from genzoo.models import create_model

    torch.manual_seed(seed)
    ours = create_model(name, DataInfo((1, SIDE, SIDE), None), **SETTINGS[name])
    ours.train()
    optimizers = ours.configure_optimizers(0.0)
    G = ReferenceProGANG() if name == "progan" else ReferenceStyleG()
    copy_weights(ours.generator, G)
    D = ReferenceD()
    copy_weights(ours.discriminator, D)
    reference = ReferenceGAN(G, D, latent_size=GROW["latent_dim"], G_smoothing=GROW["ema_decay"])
    return ours, optimizers, reference


# genzoo's parameter names -> the reference's (re.sub in this order)
KEY_MAP = (
    (r"^mapping\.layers\.", "mapping.dense."),
    (r"\.noise\.weight$", ".noise_strength"),
    (r"\.style\.affine\.", ".style."),
    (r"^initial\.", "dense."),
    (r"^initial_conv\.", "conv4."),
    (r"^blocks\.(\d+)\.conv1\.", r"convs.\1.0."),
    (r"^blocks\.(\d+)\.conv2\.", r"convs.\1.1."),
    (r"to_rgb\.", "torgb."),
    (r"^from_rgb\.", "fromrgb."),
    (r"^final_conv\.", "conv4."),
    (r"^final_dense\.", "dense0."),
    (r"^out\.", "dense1."),
)


def reference_name(name: str) -> str:
    for pattern, replacement in KEY_MAP:
        name = re.sub(pattern, replacement, name)
    return name


@torch.no_grad()
def copy_weights(ours: nn.Module, ref: nn.Module) -> None:
    """Every parameter by name (KEY_MAP); a style layer's bias holds 1 + s's bias in
    genzoo (y_s = A(w)) and s's in the reference (x · (1 + s) + b)."""
    theirs = dict(ref.named_parameters())
    ours_named = dict(ours.named_parameters())
    if len(ours_named) != len(theirs):
        raise ValueError(f"{len(ours_named)} parameters vs {len(theirs)}")
    for name, p in ours_named.items():
        q = theirs.pop(reference_name(name))
        if p.shape != q.shape:
            raise ValueError(f"{name} {tuple(p.shape)} vs {tuple(q.shape)}")
        q.copy_(p)
        if name.endswith("style.affine.bias"):
            q[: len(q) // 2] -= 1.0


def at_point(model, point: str) -> tuple[int, float]:
    """Put genzoo's model at the first stage or the last one (α = 1); (stage, α)."""
    model.images_seen.fill_(0 if point == "4x4" else 10**9)
    return model.stage()


def our_step(model, optimizers, x: Tensor, step: int) -> dict:
    from genzoo.core.model import plain_backward

    logs = model.training_step({"x": x}, step, optimizers, plain_backward)
    model.on_train_step_end(step + 1)
    return logs


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def sorted_params(module: nn.Module) -> list[Tensor]:
    return [p for _, p in sorted(module.named_parameters())]


def max_diff(a, b) -> float:
    return max((x - y).abs().max().item() for x, y in zip(a, b, strict=True))


def check(name: str, point: str) -> str:
    """One line: parameter counts, G and D outputs, and one step's losses and parameters."""
    torch.set_default_dtype(torch.float64)
    try:
        ours, optimizers, ref = build_pair(name)
        stage, alpha = at_point(ours, point)
        r = 4 * 2**stage
        counts = (n_params(ours.generator), n_params(ref.G),
                  n_params(ours.discriminator), n_params(ref.D))  # fmt: skip
        assert counts[0] == counts[1] and counts[2] == counts[3], counts
        g = torch.Generator().manual_seed(1)
        z = torch.randn(BATCH, GROW["latent_dim"], generator=g)
        x = torch.rand(BATCH, 1, SIDE, SIDE, generator=g) * 2 - 1
        with torch.no_grad():
            if name == "progan":
                g_ours, g_ref = ours.generator(z, stage, alpha), ref.G(z, stage, alpha)
            else:  # the same w's (crossover at layer 1) and the same noise images
                w1, w2 = ours.generator.mapping(z), ours.generator.mapping(z.flip(0))
                assert max_diff([w1], [ref.G.mapping(z)]) < 1e-10
                ws = torch.cat([w1[:, None].expand(-1, 1, -1), w2[:, None].expand(-1, 7, -1)], 1)
                noise = ours.generator.draw_noise(BATCH, g)
                g_ours = ours.generator.synthesis(ws, stage, alpha, noise)
                g_ref = ref.G.synthesis(ws, stage, alpha, noise)
            x_r = ref.process_reals(x, stage, alpha)
            d_ours, d_ref = ours.discriminator(x_r, stage, alpha), ref.D(x_r, stage, alpha)
        torch.manual_seed(2)
        logs = our_step(ours, optimizers, x, 0)
        torch.manual_seed(2)
        ref_logs = ref.step(x, stage, alpha)
        losses = max(abs(float(logs[k]) - float(ref_logs[k])) for k in ("loss", "g_loss"))
        # one Adam step each: the parameters after it, genzoo's through the same key map
        ref_style = ReferenceStyleG() if name == "stylegan" else ReferenceProGANG()
        ref_d = ReferenceD()
        copy_weights(ours.generator, ref_style)
        copy_weights(ours.discriminator, ref_d)
        after = max(max_diff(sorted_params(ref_style), sorted_params(ref.G)),
                    max_diff(sorted_params(ref_d), sorted_params(ref.D)))  # fmt: skip
        step_part = f"step 1 losses |Δ| {losses:.1e}, params after |Δ| {after:.1e}"
        return (f"{name:9s}{point:>6s} ({r}x{r}, α={alpha:g}): params G {counts[0]:,} = "
                f"{counts[1]:,}, D {counts[2]:,} = {counts[3]:,}; |ΔG(z)| "
                f"{(g_ours - g_ref).abs().max():.1e}, |ΔD(x)| {(d_ours - d_ref).abs().max():.1e}"
                f"; {step_part}")  # fmt: skip
    finally:
        torch.set_default_dtype(torch.float32)


def measure(name: str, point: str, args) -> dict:
    """Alternating blocks of steps on the same batches; steps/s of each, the ratios."""
    ours, optimizers, ref = build_pair(name, seed=args.seed)
    stage, alpha = at_point(ours, point)
    g = torch.Generator().manual_seed(args.seed)
    batches = [torch.rand(BATCH, 1, SIDE, SIDE, generator=g) * 2 - 1 for _ in range(8)]

    def run_ours(xs: list[Tensor]) -> float:
        at_point(ours, point)  # 4x4 would move on after 6,000 images
        t = time.process_time()
        for i, x in enumerate(xs):
            our_step(ours, optimizers, x, i)
        return time.process_time() - t

    def run_ref(xs: list[Tensor]) -> float:
        t = time.process_time()
        for x in xs:
            ref.step(x, stage, alpha)
        return time.process_time() - t

    run_ours(batches[: args.warmup])
    run_ref(batches[: args.warmup])
    assert ours.stage() == (stage, alpha)
    cpu = {"ours": 0.0, "ref": 0.0}
    steps, ratios, k = 0, [], 0
    while min(cpu.values()) < args.seconds or steps < 2 * args.block:
        xs = [batches[(k + i) % len(batches)] for i in range(args.block)]
        k += args.block
        order = (("ours", run_ours), ("ref", run_ref))
        if len(ratios) % 2:
            order = order[::-1]
        t = {key: fn(xs) for key, fn in order}
        for key in cpu:
            cpu[key] += t[key]
        ratios.append(t["ref"] / t["ours"])  # = ours steps/s / reference steps/s
        steps += args.block
    return {"name": name, "point": point, "resolution": 4 * 2**stage, "steps": steps,
            "blocks": len(ratios), "ours": steps / cpu["ours"], "ref": steps / cpu["ref"],
            "ratio": cpu["ref"] / cpu["ours"], "median": statistics.median(ratios),
            "lo": min(ratios), "hi": max(ratios)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="progan,stylegan")
    parser.add_argument("--seconds", type=float, default=32.0,
                        help="CPU seconds of timed steps per model and point")  # fmt: skip
    parser.add_argument("--block", type=int, default=5, help="steps per turn")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help=f"defaults {QUICK}")
    parser.add_argument("--check", action="store_true", help="only the checks")
    parser.add_argument("--json", help="also write rows for benchmarks/speed.py's table here")
    args = parser.parse_args()
    if args.quick:  # options given on the command line still win
        parser.set_defaults(**QUICK)
        args = parser.parse_args()
    torch.set_num_threads(1)
    names = args.models.split(",")
    tee = "" if args.quick or args.check else " | tee benchmarks/results/gan32_throughput.txt"
    env = "".join(f"{k}={os.environ[k]} " for k in ("OMP_NUM_THREADS", "PYTHONPATH")
                  if k in os.environ)  # fmt: skip
    print(f"$ {env}{os.path.relpath(sys.executable)} {' '.join(sys.argv)}{tee}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, CPU: {cpu_model()}, "
          f"{time.strftime('%Y-%m-%d')}; load average at start: {loadavg()}")  # fmt: skip
    print(f"32x32x1, batch {BATCH}, z/w 128, channels 64/64/32/16 at 4/8/16/32 px, G EMA "
          f"0.99; WGAN-GP + drift, n_critic 1, Adam lr 1e-3 β (0, 0.99)")  # fmt: skip
    print()
    print("checks, float64, genzoo's initial weights in the reference:")
    for name in names:
        for point in ("4x4", "32x32"):
            print("  " + check(name, point), flush=True)
    if args.check:
        return
    print()
    print(f"training steps per CPU second (one thread), alternating blocks of {args.block} "
          f"steps, {args.warmup} warm-up steps each, ≥ {args.seconds:g} CPU s each")  # fmt: skip
    print(f"{'model':10s}{'stage':>7s}{'steps':>7s}{'genzoo':>9s}{'reference':>11s}"
          f"{'ours/ref':>10s}{'median':>8s}{'  block range':>14s}")  # fmt: skip
    rows = []
    for name in names:
        for point in ("4x4", "32x32"):
            m = measure(name, point, args)
            print(f"{name:10s}{point:>7s}{m['steps']:>7d}{m['ours']:>9.2f}{m['ref']:>11.2f}"
                  f"{m['ratio']:>9.2f}x{m['median']:>7.2f}x  {m['lo']:.2f}-{m['hi']:.2f}",
                  flush=True)  # fmt: skip
            rows.append({"name": f"{name} training step, {point} stage, batch {BATCH}",
                         "threads": 1, "genzoo_s": 1 / m["ours"],
                         "reference": f"{name} in the authors' code's style",
                         "reference_s": 1 / m["ref"]})  # fmt: skip
    print(f"load average at end: {loadavg()}")
    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
