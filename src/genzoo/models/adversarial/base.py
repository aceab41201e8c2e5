"""What the GANs share: a generator z -> x in [−1, 1], a discriminator (or critic)
x -> score, their optimizer, and the count that schedules k discriminator steps per
generator step. Each model file writes its own update, as in its paper's algorithm.

A GAN is an *implicit* model: it samples, but gives no p(x), so it has no likelihood and
no validation loss; its runs are judged by sample metrics (`genzoo eval --metrics`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core.capabilities import Capability, SampleOption
from genzoo.core.config import at_least, below, length
from genzoo.core.errors import GenzooError
from genzoo.core.model import DataInfo, GenerativeModel
from genzoo.nn.coders import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder
from genzoo.nn.ema import EMA

ADAM_BETAS = at_least(0.0) | below(1.0) | length(2)  # (β1, β2), each in [0, 1)


@dataclass
class AdversarialConfig:
    latent_dim: int = field(default=100, metadata=at_least(1))  # z ~ N(0, I)
    network: Literal["mlp", "conv"] = "conv"
    hidden_dims: tuple[int, ...] = field(default=(512, 512), metadata=at_least(1))  # mlp
    # conv: the two stride-2 layers
    channels: tuple[int, ...] = field(default=(64, 128), metadata=at_least(1) | length(2))
    lr_d: float = field(default=2e-4, metadata=at_least(0.0))
    lr_g: float = field(default=2e-4, metadata=at_least(0.0))
    # Adam
    betas: tuple[float, ...] = field(
        default=(0.5, 0.999), metadata=at_least(0.0) | below(1.0) | length(2)
    )
    # > 0: sample from an exponential moving average of G's weights, updated after every
    # training step (genzoo.nn.ema; ProGAN uses 0.999); 0: from G's latest weights
    ema_decay: float = field(default=0.0, metadata=at_least(0.0) | below(1.0))


class Generator(nn.Module):
    """z (B, L) -> x (B, *shape) in [−1, 1] (a tanh output, as DCGAN's)."""

    def __init__(self, config: AdversarialConfig, data: DataInfo, in_dim: int, batch_norm: bool):
        super().__init__()
        if config.network == "mlp":
            self.net = MLPDecoder(in_dim, data.shape, 1, config.hidden_dims, "relu")
        else:
            self.net = ConvDecoder(in_dim, data.shape, 1, config.channels, "relu", batch_norm)
        self.ema = EMA(self.net, config.ema_decay) if config.ema_decay else None

    def forward(self, z: Tensor) -> Tensor:
        if self.ema is not None and not self.training:  # sampling: the averaged weights
            return torch.tanh(self.ema.averaged(self.net, z)[..., 0])
        return torch.tanh(self.net(z)[..., 0])


def discriminator_body(config: AdversarialConfig, data: DataInfo, out_dim: int, batch_norm: bool):
    """x (B, *shape) -> (B, out_dim), LeakyReLU(0.2) inside (DCGAN, Sec. 3)."""
    if config.network == "mlp":
        return MLPEncoder(data.shape, out_dim, config.hidden_dims, "leaky-relu")
    return ConvEncoder(data.shape, out_dim, config.channels, "leaky-relu", batch_norm)


def body_features(body: nn.Module, x: Tensor) -> Tensor:
    """The output of a `discriminator_body` before its final linear layer, (B, F): the
    features that D's score is a linear function of."""
    if isinstance(body, ConvEncoder):
        return body.net[:-1](F.pad(x, body.pad))
    return body.net[:-1](x.flatten(1))


def discriminator_logs(d_loss: Tensor, d_real: Tensor, d_fake: Tensor) -> dict[str, Tensor]:
    """What a discriminator step logs: its loss, and the mean D(x) and D(G(z)), the two
    curves that show which player is winning (both near 1/2 at the game's optimum)."""
    return {"loss": d_loss.detach(), "d_loss": d_loss.detach(),
            "d_real": torch.sigmoid(d_real).mean().detach(),
            "d_fake": torch.sigmoid(d_fake).mean().detach()}  # fmt: skip


def dcgan_init(module: nn.Module) -> None:
    """Weights from N(0, 0.02), BatchNorm scales from N(1, 0.02) (DCGAN, Sec. 4)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class AdversarialModel(GenerativeModel):
    capabilities = (Capability.SAMPLE | Capability.FEATURES | Capability.DISCRIMINATE
                    | Capability.NOISE)  # fmt: skip
    features_name = "discriminator features"
    data_kinds = frozenset({"continuous"})
    validation_metric = None
    continuous_scale = "symmetric"  # the generator's tanh range
    sample_range = (-1.0, 1.0)
    sample_options = (
        SampleOption("truncation", 0.0, math.inf, "draw z from N(0, I) truncated to [−τ, τ]: "
                     "the truncation trick (Brock et al. 2019), fidelity for variety"),
    )  # fmt: skip
    dequantize_continuous = False  # no likelihood, so nothing to make comparable
    progress_grids = True  # the trainer saves a fixed-noise grid every epoch
    generator: nn.Module
    discriminator: nn.Module

    def __init__(self, config: AdversarialConfig, data: DataInfo):
        super().__init__(config, data)
        if config.network == "conv" and len(data.shape) != 3:
            raise GenzooError("network=conv takes images (C, H, W); use network=mlp")
        # discriminator steps taken so far: decides when the generator steps, and is saved
        # with the weights so that a resumed run keeps the schedule
        self.register_buffer("d_steps", torch.zeros((), dtype=torch.long))

    def noise(self, n: int, generator=None, truncation: float | None = None) -> Tensor:
        """z ~ N(0, I), (n, latent_dim); with `truncation` τ, from the normal truncated to
        [−τ, τ] in every coordinate (each z_i outside is drawn again)."""
        z = torch.randn(n, self.config.latent_dim, generator=generator)
        if truncation is not None:
            outside = z.abs() > truncation
            while outside.any():
                z[outside] = torch.randn(int(outside.sum()), generator=generator)
                outside = z.abs() > truncation
        return z.to(self.device)

    @torch.no_grad()
    def sample(self, n: int, generator=None, truncation: float | None = None) -> Tensor:
        return self.decode_noise(self.noise(n, generator, truncation))

    @torch.no_grad()
    def decode_noise(self, z: Tensor) -> Tensor:
        """G(z), (n, *shape); a conditional generator also needs its condition: it refuses."""
        if Capability.NOISE not in self.capabilities:
            raise GenzooError(f"{type(self).__name__}'s generator needs a condition beside z")
        return self.generator(z.to(self.device))

    def configure_optimizers(self, lr: float, weight_decay: float = 0.0) -> dict:
        """Adam for D and for G, at the config's rates; the trainer's `lr` does not apply."""
        cfg = self.config
        return {
            "discriminator": torch.optim.Adam(
                self.discriminator.parameters(), lr=cfg.lr_d, betas=tuple(cfg.betas)
            ),
            "generator": torch.optim.Adam(
                self.generator.parameters(), lr=cfg.lr_g, betas=tuple(cfg.betas)
            ),
        }

    def discriminator_score(self, x: Tensor) -> Tensor:
        """D's logit (WGAN: the critic's score), (B,): higher = more like the data."""
        self.require_x_alone()
        return self.discriminator(x)

    def require_x_alone(self) -> None:
        """A conditional D(x | y) has no score or features of x alone: say so."""
        if self.uses_labels:
            raise GenzooError(
                f"{type(self).__name__}'s discriminator scores D(x | y) and needs the label "
                "y of every input: it has no score or features of x alone"
            )

    def features(self, x: Tensor) -> Tensor:
        """D's penultimate layer, (B, F), as a representation of real images (DCGAN,
        Sec. 5.1, classifies CIFAR-10 from its discriminator's features)."""
        self.require_x_alone()
        body = getattr(self.discriminator, "body", None)
        if body is not None:  # InfoGAN: the body that D and Q share
            return body(x)
        return body_features(self.discriminator.net, x)

    def on_train_step_end(self, step: int) -> None:
        if self.generator.ema is not None:
            self.generator.ema.update(self.generator.net)

    def generator_turn(self, every: int) -> bool:
        """Count a discriminator step; True when the generator steps after it, i.e. after
        every `every`-th one (Goodfellow et al.'s k, WGAN's n_critic)."""
        self.d_steps += 1
        return int(self.d_steps) % every == 0
