"""The generative adversarial network.

I. Goodfellow, J. Pouget-Abadie, M. Mirza, B. Xu, D. Warde-Farley, S. Ozair, A. Courville
and Y. Bengio, "Generative Adversarial Nets", NeurIPS 2014 (arXiv:1406.2661).

A two-player game between a generator G (the counterfeiter) and a discriminator D (the
police), Eq. 1:

    min_G max_D  V(D, G) = E_x[log D(x)] + E_z[log(1 − D(G(z)))]

Algorithm 1: k steps of D ascending V on a minibatch of data and one of noise, then one step
of G. For a fixed G the optimal D is p_data / (p_data + p_g), and the game's optimum is
p_g = p_data. G is trained either on the minimax loss log(1 − D(G(z))) or, as the paper
recommends (Sec. 3), on −log D(G(z)) (non-saturating, the default).

Deviations from the paper: MLPs with (Leaky)ReLU and a tanh output instead of maxout and
dropout in D; Adam (2e-4, β = (0.5, 0.999)) instead of SGD with momentum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from genzoo.core.config import at_least
from genzoo.core.model import gradient_step
from genzoo.core.registry import register
from genzoo.models.adversarial.base import (
    AdversarialConfig,
    AdversarialModel,
    Generator,
    discriminator_body,
    discriminator_logs,
)
from genzoo.models.adversarial.losses import discriminator_loss, generator_loss


@dataclass
class GANConfig(AdversarialConfig):
    network: Literal["mlp", "conv"] = "mlp"  # Sec. 5: fully connected nets
    generator_loss: Literal["non-saturating", "minimax"] = "non-saturating"  # Sec. 3
    # discriminator steps per generator step; Alg. 1 (k = 1 in Sec. 5)
    k: int = field(default=1, metadata=at_least(1))


class Discriminator(torch.nn.Module):
    def __init__(self, config, data, batch_norm: bool):
        super().__init__()
        self.net = discriminator_body(config, data, 1, batch_norm)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)[:, 0]  # logits ℓ, D(x) = σ(ℓ)


@register("gan", family="adversarial", description="GAN (Goodfellow et al. 2014), MLPs")
class GAN(AdversarialModel):
    Config = GANConfig
    batch_norm = False

    def __init__(self, config: GANConfig, data):
        super().__init__(config, data)
        self.generator = Generator(config, data, config.latent_dim, self.batch_norm)
        self.discriminator = Discriminator(config, data, self.batch_norm)

    def training_step(self, batch, step, optimizers, backward) -> dict[str, Tensor]:
        """Algorithm 1: a discriminator step on every batch, a generator step after every
        k-th."""
        x = batch["x"]
        z = self.noise(len(x))
        x_fake = self.generator(z)
        d_real, d_fake = self.discriminator(x), self.discriminator(x_fake.detach())
        d_loss = discriminator_loss(d_real, d_fake)
        gradient_step(optimizers["discriminator"], d_loss, self.discriminator.parameters(),
                      backward)  # fmt: skip
        logs = discriminator_logs(d_loss, d_real, d_fake)
        if self.generator_turn(self.config.k):
            g_loss = generator_loss(self.discriminator(x_fake), self.config.generator_loss)
            gradient_step(optimizers["generator"], g_loss, self.generator.parameters(), backward)
            logs["g_loss"] = g_loss.detach()
        return logs
