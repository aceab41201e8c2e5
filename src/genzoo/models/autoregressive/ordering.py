"""Pixel orderings for autoregressive models. `order[t]` is the dimension generated t-th."""

from __future__ import annotations

from typing import Literal

import torch

from genzoo.core.errors import GenzooError

Ordering = Literal["raster", "snake", "random"]


def pixel_order(kind: str, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """A permutation of the flattened (C, H, W) dimensions.

    raster: channel by channel, rows top to bottom, each row left to right.
    snake:  like raster, but every other row runs right to left (a zigzag), so that
            consecutive dimensions are always spatial neighbours.
    random: a fixed random permutation drawn from `seed`.
    """
    n = 1
    for s in shape:
        n *= s
    index = torch.arange(n)
    if kind == "raster":
        return index
    if kind == "snake":
        width = shape[-1]
        rows = index.reshape(-1, width).clone()
        rows[1::2] = rows[1::2].flip(-1)
        return rows.reshape(-1)
    if kind == "random":
        return torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    raise GenzooError(f"unknown ordering {kind!r}; choose raster, snake or random")
