"""All built-in models. Importing this package registers them."""

from genzoo.models import adversarial, autoregressive, latent  # noqa: F401
