"""The model protocol, capabilities, registry, config handling and units."""

from genzoo.core.capabilities import Capability, density_kind
from genzoo.core.config import apply_overrides
from genzoo.core.errors import (
    CheckpointError,
    DataError,
    GenzooError,
    TrainingDiverged,
    UnknownNameError,
)
from genzoo.core.model import (
    AutoregressiveModel,
    DataInfo,
    GenerativeModel,
    LikelihoodModel,
    discrete_log_prob,
    discrete_sample,
)
from genzoo.core.registry import ModelSpec, register
from genzoo.core.units import bits_per_dim, dequantized_log_prob

__all__ = [
    "AutoregressiveModel",
    "Capability",
    "CheckpointError",
    "DataError",
    "DataInfo",
    "GenerativeModel",
    "GenzooError",
    "LikelihoodModel",
    "ModelSpec",
    "TrainingDiverged",
    "UnknownNameError",
    "apply_overrides",
    "bits_per_dim",
    "density_kind",
    "dequantized_log_prob",
    "discrete_log_prob",
    "discrete_sample",
    "register",
]
