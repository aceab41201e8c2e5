"""Masked layers for autoregressive networks (MADE, Germain et al. 2015, arXiv:1502.03509).

The mask is a buffer multiplied into the weight on every forward pass,
`F.linear(x, W ⊙ M, b)`, so autograd sees it: masked weights get exactly zero
gradient and the weight tensor itself is never edited.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MaskedLinear(nn.Linear):
    """y = x (W ⊙ M)^T + b with a 0/1 mask M of shape (out_features, in_features)."""

    mask: Tensor

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__(in_features, out_features, bias)
        self.register_buffer("mask", torch.ones(out_features, in_features))

    def set_mask(self, mask: Tensor) -> None:
        if mask.shape != self.mask.shape:
            raise ValueError(
                f"mask has shape {tuple(mask.shape)}, expected {tuple(self.mask.shape)}"
            )
        self.mask.copy_(mask)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, connections={int(self.mask.sum())}"
