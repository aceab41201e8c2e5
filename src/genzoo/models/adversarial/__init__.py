"""Adversarial models: implicit models that sample but give no p(x)."""

from genzoo.models.adversarial import (  # noqa: F401
    cgan,
    dcgan,
    gan,
    infogan,
    progan,
    singan,
    stylegan,
    text2image,
    wgan,
    wgan_gp,
)
