"""The adversarial autoencoder.

A. Makhzani, J. Shlens, N. Jaitly, I. Goodfellow and B. Frey, "Adversarial Autoencoders",
ICLR 2016 workshop (arXiv:1511.05644).

An autoencoder whose codes are made to look like samples of a prior p(z) by a GAN on the
latent space: the discriminator D tells z ~ p(z) ("real") from z = f(x) ("fake"), and the
encoder f is the generator. Where the VAE's prior-fitting term is KL(q(z|x) ‖ p(z)), which
needs p(z) in closed form, the AAE needs only samples, so any prior in priors.py works
(a mixture of 10 Gaussians, uniform, a swiss roll, ...). Each batch takes the paper's two
phases (Sec. 2), three optimizer steps:

    1. reconstruction: encoder and decoder minimise −log p(x | g(f(x)));
    2. regularisation, discriminator: maximise log D(z_prior) + log(1 − D(f(x)));
    3. regularisation, generator: the encoder maximises log D(f(x)) (the non-saturating
       generator loss of Goodfellow et al. 2014).

Sampling draws z ~ p(z) and x ~ p(x | g(z)). There is no likelihood: validation is the
reconstruction NLL, and the fit of the codes to the prior is measured by MMD
(`genzoo latent RUN`).

`supervised=true` is the paper's Sec. 2.3 (its Fig. 4 b): with the mixture prior, the
discriminator also sees a one-hot label. A real z is drawn from the component of the image's
label, and a code f(x) goes in with that label, so each digit's codes must match their own
component. The label then picks what to sample: `genzoo sample RUN --label 7` draws z from
component 7. (The paper's semi-supervised form, with an eleventh "no label" class, is not
implemented.)

Deviations from the paper: a deterministic encoder (the paper's first option); one Adam
optimizer for the three steps at the trainer's learning rate (the paper uses SGD with
momentum and separate rates per phase); smaller networks by default (the paper: 1000-1000
ReLU layers for encoder, decoder and discriminator).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.core.capabilities import Capability, Condition
from genzoo.core.config import at_least
from genzoo.core.errors import GenzooError
from genzoo.core.model import gradient_step
from genzoo.core.registry import register
from genzoo.models.adversarial.cgan import labels_to_sample
from genzoo.models.adversarial.losses import discriminator_loss, generator_loss
from genzoo.models.latent.base import CoderConfig, ReconstructionModel
from genzoo.models.latent.priors import N_COMPONENTS, get_prior, mixture_component
from genzoo.nn.coders import mlp


@dataclass
class AAEConfig(CoderConfig):
    latent_dim: int = field(default=8, metadata=at_least(1))
    prior: str = "gaussian"  # a name in genzoo.models.latent.priors.PRIORS
    discriminator_dims: tuple[int, ...] = field(default=(512, 512), metadata=at_least(1))
    supervised: bool = False  # prior=mixture: an image's label picks its code's component


@register("aae", family="latent", description="adversarial autoencoder; any sampleable prior")
class AAE(ReconstructionModel):
    Config = AAEConfig
    capabilities = Capability.SAMPLE | Capability.ENCODE | Capability.FEATURES

    def __init__(self, config: AAEConfig, data):
        super().__init__(config, data)
        self.prior = get_prior(config.prior)
        self.prior(2, config.latent_dim, None)  # a prior that refuses this latent_dim says so
        n_labels = 0
        if config.supervised:
            if config.prior != "mixture":
                raise GenzooError(
                    f"supervised=true needs prior=mixture (not {config.prior}): each label "
                    f"picks one of its {N_COMPONENTS} components"
                )
            self.streams = ("x", "label")
            self.capabilities = self.capabilities | Capability.CONDITIONAL
            n_labels = N_COMPONENTS
        self.discriminator = mlp(
            [config.latent_dim + n_labels, *config.discriminator_dims, 1],
            activation="leaky-relu",
        )

    @property
    def condition(self) -> Condition:
        """supervised=true: the label picks the mixture component of z."""
        if not self.config.supervised:
            raise GenzooError("only a supervised=true AAE samples a chosen label")
        return Condition("label", N_COMPONENTS)

    def sample_prior(self, n: int, generator=None, y: Tensor | None = None) -> Tensor:
        """n draws of p(z); with labels y (n,), each from its label's mixture component."""
        if y is None:
            return self.prior(n, self.config.latent_dim, generator).to(self.device)
        return mixture_component(y.cpu(), self.config.latent_dim, generator).to(self.device)

    def critic(self, z: Tensor, y: Tensor | None) -> Tensor:
        """D's logit for codes z, with the one-hot label beside them when supervised."""
        if y is not None:
            z = torch.cat([z, F.one_hot(y, N_COMPONENTS).to(z.dtype)], dim=1)
        return self.discriminator(z)

    def discriminator_step(self, x: Tensor, optimizer, backward, y: Tensor | None = None):
        real, fake = self.sample_prior(len(x), y=y), self.encode(x).detach()
        d_real, d_fake = self.critic(real, y), self.critic(fake, y)
        loss = discriminator_loss(d_real, d_fake)
        gradient_step(optimizer, loss, self.discriminator.parameters(), backward)
        return {"d_loss": loss.detach(), "d_real": torch.sigmoid(d_real).mean().detach(),
                "d_fake": torch.sigmoid(d_fake).mean().detach()}  # fmt: skip

    def generator_step(self, x: Tensor, optimizer, backward, y: Tensor | None = None):
        loss = generator_loss(self.critic(self.encode(x), y))
        gradient_step(optimizer, loss, self.encoder.parameters(), backward)
        return {"g_loss": loss.detach()}

    def training_step(self, batch, step, optimizers, backward) -> dict[str, Tensor]:
        """The paper's two phases (Sec. 2), three steps of the one optimizer."""
        x, y, optimizer = batch["x"], batch.get("label"), optimizers["model"]
        outside = y[(y < 0) | (y >= N_COMPONENTS)] if y is not None else ()
        if len(outside):
            raise GenzooError(
                f"supervised=true takes labels 0..{N_COMPONENTS - 1}, one per mixture "
                f"component, not {int(outside[0])}"
            )
        reconstruction = self.validation_nll(x).mean()
        coder = [*self.encoder.parameters(), *self.decoder.parameters()]
        gradient_step(optimizer, reconstruction, coder, backward)
        logs = {"loss": reconstruction.detach(), "reconstruction": reconstruction.detach()}
        logs.update(self.discriminator_step(x, optimizer, backward, y))
        logs.update(self.generator_step(x, optimizer, backward, y))
        return logs

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, condition=None):
        """n samples. When supervised, z's component is the label `condition` (one, or n),
        else 0, 1, ..., 9, 0, ... as the cgan's: the mixture, stratified by component."""
        y = None
        if self.config.supervised:
            y = labels_to_sample(n, condition, N_COMPONENTS, self.device)
        elif condition is not None:
            raise GenzooError("only a supervised=true AAE samples a chosen label")
        return self.decode_sample(self.sample_prior(n, generator, y), generator)
