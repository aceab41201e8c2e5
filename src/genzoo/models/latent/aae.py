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

Deviations from the paper: a deterministic encoder (the paper's first option); one Adam
optimizer for the three steps at the trainer's learning rate (the paper uses SGD with
momentum and separate rates per phase); smaller networks by default (the paper: 1000-1000
ReLU layers for encoder, decoder and discriminator).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from genzoo.core.capabilities import Capability
from genzoo.core.model import gradient_step
from genzoo.core.registry import register
from genzoo.models.adversarial.losses import discriminator_loss, generator_loss
from genzoo.models.latent.base import CoderConfig, ReconstructionModel
from genzoo.models.latent.priors import get_prior
from genzoo.nn.coders import mlp


@dataclass
class AAEConfig(CoderConfig):
    latent_dim: int = 8
    prior: str = "gaussian"  # a name in genzoo.models.latent.priors.PRIORS
    discriminator_dims: tuple[int, ...] = (512, 512)


@register("aae", family="latent", description="adversarial autoencoder; any sampleable prior")
class AAE(ReconstructionModel):
    Config = AAEConfig
    capabilities = Capability.SAMPLE | Capability.ENCODE
    owns_updates = True

    def __init__(self, config: AAEConfig, data):
        super().__init__(config, data)
        self.prior = get_prior(config.prior)
        self.prior(2, config.latent_dim, None)  # a prior that refuses this latent_dim says so
        self.discriminator = mlp(
            [config.latent_dim, *config.discriminator_dims, 1], activation="leaky-relu"
        )

    def sample_prior(self, n: int, generator=None) -> Tensor:
        return self.prior(n, self.config.latent_dim, generator).to(self.device)

    def discriminator_step(self, x: Tensor, optimizer) -> dict[str, Tensor]:
        real, fake = self.sample_prior(len(x)), self.encode(x).detach()
        d_real, d_fake = self.discriminator(real), self.discriminator(fake)
        loss = discriminator_loss(d_real, d_fake)
        gradient_step(optimizer, loss, list(self.discriminator.parameters()))
        return {"d_loss": loss.detach(), "d_real": torch.sigmoid(d_real).mean().detach(),
                "d_fake": torch.sigmoid(d_fake).mean().detach()}  # fmt: skip

    def generator_step(self, x: Tensor, optimizer) -> dict[str, Tensor]:
        loss = generator_loss(self.discriminator(self.encode(x)))
        gradient_step(optimizer, loss, list(self.encoder.parameters()))
        return {"g_loss": loss.detach()}

    def update(self, x: Tensor, optimizer) -> dict[str, Tensor]:
        reconstruction = self.validation_nll(x).mean()
        coder = [*self.encoder.parameters(), *self.decoder.parameters()]
        gradient_step(optimizer, reconstruction, coder)
        logs = {"loss": reconstruction.detach(), "reconstruction": reconstruction.detach()}
        logs.update(self.discriminator_step(x, optimizer))
        logs.update(self.generator_step(x, optimizer))
        return logs

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.decode_sample(self.sample_prior(n, generator), generator)
