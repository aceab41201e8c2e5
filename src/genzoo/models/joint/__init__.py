"""Joint image–text embeddings: models that put images and captions in one space, for
zero-shot classification, retrieval and text-driven editing (genzoo.apps.edit). They do
not model p(x); they are trained by the same trainer on captioned tasks."""

from genzoo.models.joint import contrastive  # noqa: F401
