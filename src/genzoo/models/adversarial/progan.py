"""Progressive growing of GANs (ProGAN).

T. Karras, T. Aila, S. Laine and J. Lehtinen, "Progressive Growing of GANs for Improved
Quality, Stability, and Variation", ICLR 2018 (arXiv:1710.10196).

G and D start at 4×4 and grow, one resolution at a time, to the data's R×R (Sec. 2). Stage
k trains resolution r = 4·2^k; each new block is faded in with α rising linearly from 0 to
1 (Fig. 2), then trained at α = 1 (genzoo.nn.progressive.progressive_stage):

    G_k(z) = (1 − α) · upsample(toRGB_{k−1}(h_{k−1})) + α · toRGB_k(block_k(h_{k−1}))
    D_k(x) = D_{k−1}-body( (1 − α) · fromRGB_{k−1}(downsample(x)) + α · block_k(fromRGB_k(x)) )

and the real images are average-pooled to r and blended the same way. The objective is
WGAN-GP (Gulrajani et al. 2017, Eq. 3) with a drift term that keeps D's scores near 0
(Sec. A.1):

    L_D = E D(G(z)) − E D(x) + λ E_x̂[(‖∇_x̂ D(x̂)‖₂ − 1)²] + ε_drift E D(x)²
    L_G = −E D(G(z))

with λ = 10, ε_drift = 0.001, n_critic = 1, Adam lr 1e-3, β = (0, 0.99), and three
stabilisers: equalized learning rate, pixelwise feature normalization in G, minibatch
standard deviation in D (genzoo.nn.progressive). Samples come from an exponential moving
average of G's weights (β = 0.999, Sec. A.1).

The images seen so far are a buffer, so the stage and α are saved with the weights and a
resumed run continues at the same α. `sample` works at any stage: G's output at the
current resolution is upsampled (nearest neighbour) to R×R.

Deviations from the paper:
- G's output is linear, as in the paper; `sample` clips it to [−1, 1], the data's range.
- Minibatch standard deviation is taken over the whole minibatch (Sec. 3), not over groups
  of 4 as in the authors' code.
- Adam's moments are not reset when a new stage starts (the authors' code resets them).
- Images per phase are a knob (800k in the paper; far fewer for CPU runs), and the widths
  follow min(max_channels, channel_base / r) (Table 2: 512 up to 32×32, then halving).
- Layer gains: He's √2 everywhere but toRGB and D's output layer (1), as in the authors'
  code; G's first, dense 4×4 layer keeps √2 (their code: √2/4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core.config import at_least, below
from genzoo.core.errors import GenzooError
from genzoo.core.model import DataInfo, GenerativeModel, gradient_step
from genzoo.core.registry import register
from genzoo.models.adversarial.base import ADAM_BETAS, AdversarialModel
from genzoo.models.adversarial.losses import (
    critic_loss,
    drift_penalty,
    gradient_penalty,
    interpolates,
    wasserstein_estimate,
)
from genzoo.nn.ema import EMA
from genzoo.nn.progressive import (
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStdDev,
    PixelNorm,
    downsample,
    fade_in,
    progressive_stage,
    real_images_at,
    resize_to,
    upsample,
)


@dataclass
class ProGANConfig:
    latent_dim: int = field(default=512, metadata=at_least(1))  # Table 2
    max_channels: int = field(default=512, metadata=at_least(1))  # Table 2
    channel_base: int = field(default=16384, metadata=at_least(1))  # Table 2: 256 at 64×64
    images_per_phase: int = field(default=800_000, metadata=at_least(1))  # Sec. A.1
    lr_d: float = field(default=1e-3, metadata=at_least(0.0))  # Sec. A.1
    lr_g: float = field(default=1e-3, metadata=at_least(0.0))  # Sec. A.1
    betas: tuple[float, ...] = field(default=(0.0, 0.99), metadata=ADAM_BETAS)  # Sec. A.1
    gp_weight: float = field(default=10.0, metadata=at_least(0.0))  # Sec. A.1: λ
    drift_weight: float = field(default=0.001, metadata=at_least(0.0))  # Sec. A.1: ε_drift
    n_critic: int = field(default=1, metadata=at_least(1))  # Sec. A.1
    ema_decay: float = field(default=0.999, metadata=at_least(0.0) | below(1.0))  # Sec. A.1


def act(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2)  # Sec. A.1: leaky ReLU, slope 0.2


class GeneratorBlock(nn.Module):
    """r -> 2r: upsample, two 3×3 convs, each with leaky ReLU and PixelNorm (Table 2)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1, self.conv2 = EqualizedConv2d(c_in, c_out, 3), EqualizedConv2d(c_out, c_out, 3)
        self.norm = PixelNorm()

    def forward(self, h: Tensor) -> Tensor:
        h = self.norm(act(self.conv1(upsample(h))))
        return self.norm(act(self.conv2(h)))


class DiscriminatorBlock(nn.Module):
    """2r -> r: two 3×3 convs with leaky ReLU, then 2×2 average pooling (Table 2)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1, self.conv2 = EqualizedConv2d(c_in, c_in, 3), EqualizedConv2d(c_in, c_out, 3)

    def forward(self, h: Tensor) -> Tensor:
        return downsample(act(self.conv2(act(self.conv1(h)))))


class GrowingGenerator(nn.Module):
    """z (B, L) -> x (B, C, r, r) at stage k (r = 4·2^k), fading block k in by α."""

    def __init__(self, latent_dim: int, channels: list[int], image_channels: int):
        super().__init__()
        c0 = channels[0]
        self.norm = PixelNorm()
        self.initial = EqualizedLinear(latent_dim, c0 * 16)  # the 4×4 "conv" on 1×1 z
        self.initial_conv = EqualizedConv2d(c0, c0, 3)
        self.blocks = nn.ModuleList(
            GeneratorBlock(a, b) for a, b in zip(channels, channels[1:], strict=False)
        )
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c, image_channels, 1, gain=1.0)
                                    for c in channels)  # fmt: skip

    def forward(self, z: Tensor, stage: int, alpha: float) -> Tensor:
        h = self.norm(act(self.initial(self.norm(z))).view(len(z), -1, 4, 4))  # (B, C0, 4, 4)
        h = self.norm(act(self.initial_conv(h)))
        for block in self.blocks[: max(stage - 1, 0)]:
            h = block(h)
        if stage == 0:
            return self.to_rgb[0](h)
        x_new = self.to_rgb[stage](self.blocks[stage - 1](h))
        if alpha >= 1.0:
            return x_new
        return fade_in(upsample(self.to_rgb[stage - 1](h)), x_new, alpha)


class GrowingDiscriminator(nn.Module):
    """x (B, C, r, r) at stage k -> D(x) (B,), the new block faded in by α; minibatch
    standard deviation before the 4×4 head (Table 2)."""

    def __init__(self, channels: list[int], image_channels: int):
        super().__init__()
        c0 = channels[0]
        self.from_rgb = nn.ModuleList(EqualizedConv2d(image_channels, c, 1) for c in channels)
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(b, a) for a, b in zip(channels, channels[1:], strict=False)
        )
        self.stddev = MinibatchStdDev()
        self.final_conv = EqualizedConv2d(c0 + 1, c0, 3)
        self.final_dense = EqualizedLinear(c0 * 16, c0)  # the 4×4 valid conv
        self.out = EqualizedLinear(c0, 1, gain=1.0)

    def features(self, x: Tensor, stage: int, alpha: float) -> Tensor:
        """The activations before the output layer, (B, C0)."""
        h = act(self.from_rgb[stage](x))
        if stage > 0:
            h = self.blocks[stage - 1](h)
            if alpha < 1.0:
                h = fade_in(act(self.from_rgb[stage - 1](downsample(x))), h, alpha)
            for block in reversed(self.blocks[: stage - 1]):
                h = block(h)
        h = act(self.final_conv(self.stddev(h)))  # (B, C0, 4, 4)
        return act(self.final_dense(h.flatten(1)))

    def forward(self, x: Tensor, stage: int, alpha: float) -> Tensor:
        return self.out(self.features(x, stage, alpha))[:, 0]


@register("progan", family="adversarial", description="progressive growing of GANs (ProGAN)")
class ProGAN(AdversarialModel):
    Config = ProGANConfig
    features_name = "critic features (current resolution)"

    def __init__(self, config: ProGANConfig, data: DataInfo):
        GenerativeModel.__init__(self, config, data)  # not AdversarialModel's: other nets
        side = data.shape[-1]
        if len(data.shape) != 3 or data.shape[1] != side or side < 4 or side & (side - 1):
            raise GenzooError(
                f"{self.registry_name} grows 4×4 up to the images' size: it needs square images "
                f"with a side a power of 2 (≥ 4), not {tuple(data.shape)}: use --data mnist32 "
                "(MNIST padded to 32×32) for MNIST, or pad or resize your images"
            )
        self.n_stages = int(math.log2(side)) - 1
        channels = [min(config.max_channels, max(1, config.channel_base // (4 * 2**k)))
                    for k in range(self.n_stages)]  # fmt: skip
        self.generator = self.build_generator(channels)
        self.discriminator = GrowingDiscriminator(channels, data.shape[0])
        self.ema = EMA(self.generator, config.ema_decay) if config.ema_decay else None
        # real images seen so far: the stage and α follow from it, and it is saved with the
        # weights, so that a resumed run continues at the same α
        self.register_buffer("images_seen", torch.zeros((), dtype=torch.long))
        self.register_buffer("d_steps", torch.zeros((), dtype=torch.long))

    def build_generator(self, channels: list[int]) -> nn.Module:
        """G for every stage: forward(z, stage, α) -> (B, C, r, r); channels[k] at 4·2^k."""
        return GrowingGenerator(self.config.latent_dim, channels, self.data.shape[0])

    def stage(self) -> tuple[int, float]:
        """(stage k, α): the current resolution is 4·2^k."""
        return progressive_stage(int(self.images_seen), self.config.images_per_phase,
                                 self.n_stages)  # fmt: skip

    @property
    def resolution(self) -> int:
        return 4 * 2 ** self.stage()[0]

    def G(self, z: Tensor, stage: int, alpha: float) -> Tensor:
        if self.ema is not None and not self.training:  # sampling: the averaged weights
            return self.ema.averaged(self.generator, z, stage, alpha)
        return self.generator(z, stage, alpha)

    @torch.no_grad()
    def decode_noise(self, z: Tensor) -> Tensor:
        """G(z) at the current stage, upsampled to the data's size and clipped to [−1, 1]."""
        x = self.G(z.to(self.device), *self.stage())
        return resize_to(x, self.data.shape[-1]).clamp(-1.0, 1.0)

    def discriminator_score(self, x: Tensor) -> Tensor:
        """D's score of full-size images, seen at the current resolution, (B,)."""
        stage, alpha = self.stage()
        return self.discriminator(real_images_at(x, 4 * 2**stage, alpha), stage, alpha)

    def features(self, x: Tensor) -> Tensor:
        stage, alpha = self.stage()
        return self.discriminator.features(real_images_at(x, 4 * 2**stage, alpha), stage, alpha)

    def training_step(self, batch, step, optimizers, backward) -> dict[str, Tensor]:
        """A WGAN-GP critic step with the drift term at the current (stage, α), a generator
        step after every n_critic-th; then the batch counts towards the schedule."""
        cfg, stage, alpha = self.config, *self.stage()
        x = real_images_at(batch["x"], 4 * 2**stage, alpha)  # (B, C, r, r)

        def D(v: Tensor) -> Tensor:
            return self.discriminator(v, stage, alpha)

        with torch.no_grad():  # D's step: no graph through G
            x_fake = self.generator(self.noise(len(x)), stage, alpha)
        d_real, d_fake = D(x), D(x_fake)
        penalty = gradient_penalty(D, interpolates(x, x_fake))
        drift = drift_penalty(d_real)
        loss = critic_loss(d_real, d_fake) + cfg.gp_weight * penalty + cfg.drift_weight * drift
        gradient_step(optimizers["discriminator"], loss, self.discriminator.parameters(), backward)
        logs = {"loss": loss.detach(), "gradient_penalty": penalty.detach(),
                "drift": drift.detach(),
                "wasserstein": wasserstein_estimate(d_real, d_fake).detach(),
                "resolution": torch.tensor(float(x.shape[-1])),
                "alpha": torch.tensor(alpha)}  # fmt: skip
        if self.generator_turn(cfg.n_critic):
            g_loss = -D(self.generator(self.noise(len(x)), stage, alpha)).mean()
            gradient_step(optimizers["generator"], g_loss, self.generator.parameters(), backward)
            logs["g_loss"] = g_loss.detach()
        self.images_seen += len(x)
        return logs

    def on_train_step_end(self, step: int) -> None:
        if self.ema is not None:
            self.ema.update(self.generator)
