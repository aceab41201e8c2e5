"""Completion (inpainting) with any autoregressive model: sample the unknown pixels of an
image in the model's own order, each given every pixel before it; known pixels stay fixed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genzoo.core import Capability, GenzooError
from genzoo.models.autoregressive.pixel import KNOWN_REGIONS, known_region


def read_image(path: str | Path, shape: tuple[int, ...]) -> np.ndarray:
    """A PNG/JPEG as uint8 (C, H, W), which must match the model's image shape."""
    from genzoo.io.images import read_pixels

    path = Path(path)
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise GenzooError(f"this model's data is not images (shape {tuple(shape)})")
    C, H, W = shape
    pixels = read_pixels(path, C)
    if pixels.shape[:2] != (H, W):
        raise GenzooError(
            f"{path} is {pixels.shape[1]}x{pixels.shape[0]}, the model generates {W}x{H} images"
        )
    return pixels[None] if C == 1 else pixels.transpose(2, 0, 1)


def to_model_values(pixels: np.ndarray, n_values: int) -> Tensor:
    """0..255 pixels -> the model's values {0..K-1} (binary models: a threshold at 1/2)."""
    v = torch.from_numpy(pixels.astype(np.float32)) / 255.0
    return torch.round(v * (n_values - 1))


def read_known(spec: str, shape: tuple[int, ...]) -> Tensor:
    """The known-pixel mask (C, H, W): a region name, or a mask image (white = known)."""
    if spec in KNOWN_REGIONS:
        return known_region(spec, shape)
    if not Path(spec).is_file():
        raise GenzooError(
            f"--known {spec!r}: expected one of {', '.join(KNOWN_REGIONS)} or a mask image"
        )
    grey = read_image(spec, (1, *shape[1:]))
    return torch.from_numpy(grey >= 128).expand(shape)


def require_completion(model) -> None:
    if Capability.COMPLETE not in model.capabilities:
        raise GenzooError(
            f"completion samples pixels in order from p(x_d | x_<d); {type(model).__name__} "
            "is not a discrete autoregressive model"
        )


def complete(
    model, x: Tensor, known: Tensor, n: int, generator: torch.Generator | None = None
) -> Tensor:
    """n completions of each image in x (B, C, H, W): (B, n, C, H, W)."""
    require_completion(model)
    B = x.shape[0]
    repeated = x.repeat_interleave(n, dim=0)
    out = model.complete(repeated, known.expand_as(repeated), generator)
    return out.reshape(B, n, *x.shape[1:])
