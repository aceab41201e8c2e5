"""Latent-variable models: the autoencoder baseline, the VAE (with IWAE) and the AAE."""

from genzoo.models.latent import aae, autoencoder, vae  # noqa: F401
