"""Fully independent model: a product of Bernoullis (or categoricals) over pixels.

    p(x) = Π_d p(x_d),   p(x_d = 1) = σ(θ_d)                    (binary)
                         p(x_d = k) = softmax([θ_d, 0])_k       (K values)

It ignores every dependency between pixels, which is exactly why it needs only n
parameters for n binary pixels where the full joint needs 2^n − 1 (the lecture's
parameter-counting point). For K values a pixel has K − 1 free logits; the last is pinned
to 0 so that the count is (K − 1) n and there is no redundant parameter.

Deviations from the paper: none (there is no paper; this is the baseline).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core import AutoregressiveModel, DataInfo, discrete_sample, register


@dataclass
class IndependentConfig:
    pass


@register(
    "independent",
    family="autoregressive",
    description="product of independent Bernoullis/categoricals, one per pixel (n parameters)",
)
class Independent(AutoregressiveModel):
    Config = IndependentConfig
    data_kinds = frozenset({"binary", "categorical"})

    def __init__(self, config: IndependentConfig, data: DataInfo):
        super().__init__(config, data)
        k = data.n_values
        self.theta = nn.Parameter(torch.zeros(data.n_dims, k - 1))  # (D, K-1)
        self.register_buffer("order", torch.arange(data.n_dims))

    def logits(self) -> Tensor:
        """Per-pixel logits: (D,) for binary data, (D, K) with the pinned 0 for K values."""
        if self.data.n_values == 2:
            return self.theta[:, 0]
        return F.pad(self.theta, (0, 1))

    def conditionals(self, x: Tensor) -> Tensor:
        return self.logits().expand(x.shape[0], *self.logits().shape)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        logits = self.logits().expand(n, *self.logits().shape)
        return discrete_sample(logits, self.data.n_values, generator).reshape(n, *self.data.shape)
