"""Fully visible sigmoid belief network (FVSBN): logistic autoregression on all previous pixels.

    p(x) = Π_t p(x_{o_t} | x_{o_<t}),   p(x_{o_t} = 1 | x_{o_<t}) = σ(α_t + Σ_{s<t} W_{ts} x_{o_s})

References: Neal, "Connectionist learning of belief networks" (Artificial Intelligence, 1992);
Frey, "Graphical Models for Machine Learning and Digital Communication" (MIT Press, 1998);
the binarised-MNIST benchmark number (97.45 nats) is from Larochelle & Murray,
"The Neural Autoregressive Distribution Estimator" (AISTATS 2011), Table 2.

Only the strictly lower triangle of W is a parameter (a packed vector scattered into the
matrix on each forward pass), so the parameter count is exactly n + n(n − 1)/2 and the
autoregressive property holds by construction, not by a mask.

Deviations from the paper: trained with Adam instead of the paper's stochastic gradient
descent; an optional L2 penalty replaces nothing in the paper (default 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from genzoo.core import AutoregressiveModel, DataInfo, register
from genzoo.core.config import at_least
from genzoo.models.autoregressive.ordering import Ordering, pixel_order


@dataclass
class FVSBNConfig:
    order: Ordering = "raster"  # Larochelle & Murray 2011, Sec. 5: the raster order of MNIST
    order_seed: int = field(default=0, metadata=at_least(0))


@register(
    "fvsbn",
    family="autoregressive",
    description="fully visible sigmoid belief net: logistic regression on all previous pixels",
)
class FVSBN(AutoregressiveModel):
    Config = FVSBNConfig

    def __init__(self, config: FVSBNConfig, data: DataInfo):
        super().__init__(config, data)
        n = data.n_dims
        self.register_buffer("order", pixel_order(config.order, data.shape, config.order_seed))
        rows, cols = torch.tril_indices(n, n, offset=-1)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)
        self.alpha = nn.Parameter(torch.zeros(n))  # α_t, (n,)
        self.w = nn.Parameter(torch.zeros(rows.numel()))  # W_ts for s < t, packed

    def weight(self) -> Tensor:
        """The strictly lower-triangular W over positions of the ordering, (n, n)."""
        n = self.data.n_dims
        W = self.w.new_zeros(n, n)
        return W.index_put((self.rows, self.cols), self.w)

    def conditionals(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], -1)
        logits_by_position = self.alpha + x[:, self.order] @ self.weight().T  # (B, n)
        logits = torch.empty_like(logits_by_position)
        logits[:, self.order] = logits_by_position
        return logits

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        W = self.weight()
        x_ordered = torch.zeros(n, self.data.n_dims, device=self.device)
        for t in range(self.data.n_dims):
            logit = self.alpha[t] + x_ordered[:, :t] @ W[t, :t]
            x_ordered[:, t] = torch.bernoulli(torch.sigmoid(logit), generator=generator)
        x = torch.empty_like(x_ordered)
        x[:, self.order] = x_ordered
        return x.reshape(n, *self.data.shape)
