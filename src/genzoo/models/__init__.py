"""All built-in models. Importing this package registers them; the registry's lookups are
re-exported here, so that `from genzoo.models import create_model` always sees every model."""

from genzoo.core.registry import create_model, get_model, list_models
from genzoo.models import adversarial, autoregressive, joint, latent, translation  # noqa: F401

__all__ = ["create_model", "get_model", "list_models"]
