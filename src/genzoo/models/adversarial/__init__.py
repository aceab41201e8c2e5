"""Adversarial models: implicit models that sample but give no p(x)."""

from genzoo.models.adversarial import (  # noqa: F401
    cgan,
    dcgan,
    gan,
    infogan,
    progan,
    puzzle_gan,
    singan,
    stylegan,
    text2image,
    wgan,
    wgan_gp,
)
