"""The plain autoencoder: a baseline for representation learning, not a generative model.

    z = f(x),   x̂ ~ p(x | g(z)),   loss = −log p(x | g(f(x)))

(for binary data the cross-entropy, for a fixed-σ Gaussian decoder the squared error up to
constants). It learns to encode and decode, but nothing says which codes z are likely, so
it defines no p(x) and cannot be sampled: decoding a random z gives whatever the decoder
does off the codes it was trained on. The VAE (vae.py) adds the prior p(z) and fits the
encoder's q(z|x) to it; the adversarial autoencoder (aae.py) fits the codes to any prior it
can sample.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from genzoo.core.registry import register
from genzoo.models.latent.base import CoderConfig, ReconstructionModel


@dataclass
class AutoencoderConfig(CoderConfig):
    pass


@register("ae", family="latent", description="autoencoder baseline: encodes, does not sample")
class Autoencoder(ReconstructionModel):
    Config = AutoencoderConfig
    why_no_samples = (
        "an autoencoder is not a generative model. It learns encode and decode, but no "
        "distribution over the codes z, so nothing says which z to decode and it defines no "
        "p(x) to sample from. Train a vae (a prior p(z) fitted by the KL term) or an aae "
        "(a prior fitted adversarially) to sample."
    )

    def objective(self, x: Tensor) -> dict[str, Tensor]:
        return {"loss": self.validation_nll(x).mean()}
