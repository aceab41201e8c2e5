"""All built-in models. Importing this package registers them."""

from genzoo.models import autoregressive, latent  # noqa: F401
