"""All built-in models. Importing this package registers them."""

from genzoo.models import autoregressive  # noqa: F401
