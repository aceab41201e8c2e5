"""The model registry: one decorator registers a model; the CLI, docs and tests read it.

The built-in models register themselves when `genzoo.models` is imported, and that package
re-exports `list_models`, `get_model` and `create_model` with all of them loaded: import
those from there (core sits below the models and never imports them).
"""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.core.capabilities import Capability, density_kind
from genzoo.core.config import apply_overrides
from genzoo.core.errors import UnknownNameError, did_you_mean
from genzoo.core.model import DataInfo, GenerativeModel


@dataclass(frozen=True)
class ModelSpec:
    name: str
    cls: type[GenerativeModel]
    family: str
    description: str

    @property
    def capabilities(self) -> Capability:
        return self.cls.capabilities

    @property
    def density(self) -> str:
        return density_kind(self.capabilities)

    def default_config(self):
        return self.cls.Config()


_REGISTRY: dict[str, ModelSpec] = {}


def register(name: str, *, family: str, description: str):
    """Class decorator: `@register("nade", family="autoregressive", description="...")`."""

    def wrap(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelSpec(name, cls, family, description)
        cls.registry_name = name
        return cls

    return wrap


def list_models() -> list[ModelSpec]:
    return list(_REGISTRY.values())


def get_model(name: str) -> ModelSpec:
    if name not in _REGISTRY:
        known = ", ".join(_REGISTRY)
        raise UnknownNameError(
            f"unknown model {name!r}{did_you_mean(name, _REGISTRY)}; known models: {known}"
        )
    return _REGISTRY[name]


def create_model(name: str, data: DataInfo, config=None, **overrides) -> GenerativeModel:
    """Build a registered model: `create_model("nade", data, hidden_dim=100)`."""
    spec = get_model(name)
    config = apply_overrides(config or spec.default_config(), overrides)
    return spec.cls(config, data)
