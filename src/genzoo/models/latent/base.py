"""What the autoencoder, the VAE and the adversarial autoencoder share: an encoder, a decoder
that outputs the parameters of p(x | z) for every pixel, and the latent tools (encode,
reconstruct, interpolate) that work on all three.

The decoder's distribution ("decoder"):
    bernoulli   binary data                  p(x_d | z) = Bernoulli(σ(ℓ_d))
    logistic    K-level data (8-bit)         discretised logistic(s) on the K bins (PixelCNN++)
    gaussian    continuous (dequantised)     N(μ_d, σ_d²), σ learned per pixel or fixed
"auto" picks the one for the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from genzoo.core.capabilities import Capability
from genzoo.core.config import above, at_least, length
from genzoo.core.errors import GenzooError
from genzoo.core.model import DataInfo, GenerativeModel
from genzoo.nn.coders import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder
from genzoo.nn.pixel_heads import BernoulliHead, GaussianHead, LogisticMixtureHead

DECODERS = {"binary": "bernoulli", "categorical": "logistic", "continuous": "gaussian"}


@dataclass
class CoderConfig:
    latent_dim: int = field(default=32, metadata=at_least(1))
    network: Literal["mlp", "conv"] = "mlp"
    # mlp: encoder sizes; the decoder mirrors them
    hidden_dims: tuple[int, ...] = field(default=(512, 512), metadata=at_least(1))
    # conv: the two stride-2 layers
    channels: tuple[int, ...] = field(default=(32, 64), metadata=at_least(1) | length(2))
    activation: Literal["relu", "tanh", "leaky-relu"] = "relu"
    decoder: Literal["auto", "bernoulli", "logistic", "gaussian"] = "auto"
    # gaussian decoder: a fixed σ; None: learned per pixel
    decoder_std: float | None = field(default=None, metadata=above(0.0))
    # logistic decoder: logistics per pixel
    n_mixtures: int = field(default=1, metadata=at_least(1))


def decoder_head(config: CoderConfig, data: DataInfo):
    name = DECODERS[data.kind] if config.decoder == "auto" else config.decoder
    if name != DECODERS[data.kind]:
        raise GenzooError(
            f"decoder={name} does not model {data.kind} data; use decoder={DECODERS[data.kind]} "
            "(or auto)"
        )
    if name == "bernoulli":
        return BernoulliHead()
    if name == "logistic":
        return LogisticMixtureHead(data.n_values, config.n_mixtures)
    return GaussianHead(config.decoder_std)


class LatentModel(GenerativeModel):
    """An encoder x -> (encoder_outputs × latent_dim) and a decoder z -> p(x | z)."""

    data_kinds = frozenset({"binary", "categorical", "continuous"})
    encoder_outputs = 1  # the VAE's encoder gives a mean and a log-variance per latent

    def __init__(self, config: CoderConfig, data: DataInfo):
        super().__init__(config, data)
        if config.latent_dim < 1:
            raise GenzooError(f"latent_dim must be at least 1, not {config.latent_dim}")
        if config.network == "conv" and (len(data.shape) != 3 or len(config.channels) != 2):
            raise GenzooError("network=conv takes images (C, H, W) and two channels=C1,C2")
        self.head = decoder_head(config, data)
        L, P, act = config.latent_dim, self.head.n_params, config.activation
        if config.network == "mlp":  # the decoder mirrors the encoder's hidden sizes
            self.encoder = MLPEncoder(data.shape, self.encoder_outputs * L, config.hidden_dims, act)
            self.decoder = MLPDecoder(L, data.shape, P, config.hidden_dims[::-1], act)
        else:
            self.encoder = ConvEncoder(data.shape, self.encoder_outputs * L, config.channels, act)
            self.decoder = ConvDecoder(L, data.shape, P, config.channels, act)

    def encode(self, x: Tensor) -> Tensor:
        """The code of x, (B, latent_dim): the posterior mean for the VAE."""
        return self.encoder(x)[..., : self.config.latent_dim]

    def features(self, x: Tensor) -> Tensor:
        """The code as the representation of x for probes."""
        return self.encode(x)

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x | z) in nats, summed over pixels; z (..., B, L) gives (..., B)."""
        params = self.decoder(z)
        log_p = self.head.log_prob(params, x.expand(params.shape[:-1]))
        return log_p.flatten(-len(self.data.shape)).sum(-1)

    def decode_mean(self, z: Tensor) -> Tensor:
        """E[x | z], (B, *shape), in the data's values: what pictures of a decoder show."""
        return self.head.mean(self.decoder(z))

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decode_mean(self.encode(x))

    def decode_sample(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.head.sample(self.decoder(z), generator)


class ReconstructionModel(LatentModel):
    """Validation is the reconstruction NLL, −log p(x | z = encode(x)): not a density of x."""

    capabilities = Capability.ENCODE | Capability.FEATURES
    features_name = "code"
    validation_metric = "reconstruction"

    def validation_nll(self, x: Tensor) -> Tensor:
        return -self.log_likelihood(x, self.encode(x))
