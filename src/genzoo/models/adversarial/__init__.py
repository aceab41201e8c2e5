"""Adversarial models: implicit models that sample but give no p(x)."""

from genzoo.models.adversarial import cgan, dcgan, gan, infogan, singan, wgan, wgan_gp  # noqa: F401
