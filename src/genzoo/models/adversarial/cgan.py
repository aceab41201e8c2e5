"""The conditional GAN.

M. Mirza and S. Osindero, "Conditional Generative Adversarial Nets", 2014
(arXiv:1411.1784).

Both players see the class label y (Eq. 2):

    min_G max_D  E_{x,y}[log D(x | y)] + E_{z,y}[log(1 − D(G(z | y) | y))]

G takes [z, one-hot(y)]; D takes x with one-hot(y) beside it (concatenated to the input
vector for MLPs, as in the paper, or as K constant channels for conv nets). Fake samples
are drawn for the labels of the real batch, so D compares like with like. Sampling takes a
label: `model.sample(n, condition=7)`, or `genzoo sample RUN --label 7`.

Deviations from the paper: (Leaky)ReLU MLPs without maxout or dropout; Adam instead of SGD
with momentum; the non-saturating generator loss of gan.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core.capabilities import Capability, Condition
from genzoo.core.config import at_least
from genzoo.core.errors import GenzooError
from genzoo.core.model import DataInfo, gradient_step
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
class CGANConfig(AdversarialConfig):
    network: Literal["mlp", "conv"] = "mlp"  # Sec. 4.1: fully connected nets
    n_classes: int = field(default=10, metadata=at_least(1))
    k: int = field(default=1, metadata=at_least(1))  # discriminator steps per generator step


class ConditionalDiscriminator(nn.Module):
    def __init__(self, config: CGANConfig, data):
        super().__init__()
        self.n_classes, self.conv = config.n_classes, config.network == "conv"
        if self.conv:
            c, h, w = data.shape
            seen = DataInfo((c + config.n_classes, h, w), data.n_values)
        else:
            seen = DataInfo((data.n_dims + config.n_classes,), data.n_values)
        self.net = discriminator_body(config, seen, 1, batch_norm=False)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        one_hot = F.one_hot(y, self.n_classes).to(x.dtype)
        if self.conv:
            x = torch.cat([x, one_hot[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)
        else:
            x = torch.cat([x.flatten(1), one_hot], dim=1)
        return self.net(x)[:, 0]


@register("cgan", family="adversarial", description="conditional GAN: sample a chosen class")
class CGAN(AdversarialModel):
    Config = CGANConfig
    capabilities = Capability.SAMPLE | Capability.CONDITIONAL  # D(x | y): no score of x alone
    streams = ("x", "label")

    def __init__(self, config: CGANConfig, data):
        super().__init__(config, data)
        self.generator = Generator(config, data, config.latent_dim + config.n_classes, False)
        self.discriminator = ConditionalDiscriminator(config, data)

    @property
    def condition(self) -> Condition:
        return Condition("label", self.config.n_classes)

    def generate(self, z: Tensor, y: Tensor) -> Tensor:
        return self.generator(torch.cat([z, F.one_hot(y, self.config.n_classes).to(z.dtype)], 1))

    def training_step(self, batch, step, optimizers, backward) -> dict[str, Tensor]:
        x, y = batch["x"], batch["label"]
        if int(y.max()) >= self.config.n_classes:
            raise GenzooError(f"label {int(y.max())} >= n_classes={self.config.n_classes}")
        x_fake = self.generate(self.noise(len(x)), y)
        d_real, d_fake = self.discriminator(x, y), self.discriminator(x_fake.detach(), y)
        d_loss = discriminator_loss(d_real, d_fake)
        gradient_step(optimizers["discriminator"], d_loss, self.discriminator.parameters(),
                      backward)  # fmt: skip
        logs = discriminator_logs(d_loss, d_real, d_fake)
        if self.generator_turn(self.config.k):
            g_loss = generator_loss(self.discriminator(x_fake, y))
            gradient_step(optimizers["generator"], g_loss, self.generator.parameters(), backward)
            logs["g_loss"] = g_loss.detach()
        return logs

    @torch.no_grad()
    def sample(self, n: int, generator=None, condition=None, truncation=None) -> Tensor:
        y = labels_to_sample(n, condition, self.config.n_classes, self.device)
        return self.generate(self.noise(n, generator, truncation), y)


def labels_to_sample(n: int, condition, n_classes: int, device=None) -> Tensor:
    """The n labels to sample: `condition` (an int or n ints), else 0, 1, ..., K−1, 0, ..."""
    if condition is None:
        return torch.arange(n, device=device) % n_classes
    y = torch.as_tensor(condition, device=device).long().expand(n)
    if y.min() < 0 or y.max() >= n_classes:
        raise GenzooError(f"labels are 0..{n_classes - 1}, not {condition}")
    return y
