"""What every translation model shares: it maps images to images with a tanh generator,
so its data is continuous in [-1, 1], and it has neither a likelihood nor a validation
loss to early-stop on."""

from __future__ import annotations

from genzoo.core.capabilities import Capability
from genzoo.core.model import GenerativeModel


class TranslationModel(GenerativeModel):
    capabilities = Capability.TRANSLATE
    data_kinds = frozenset({"continuous"})
    continuous_scale = "symmetric"  # G's tanh range
    dequantize_continuous = False  # no likelihood to make comparable
    sample_range = (-1.0, 1.0)
    validation_metric = None
