"""Markov chain of order k over a pixel ordering (AR-k), with tabular conditionals.

    p(x) = Π_t p(x_{o_t} | x_{o_{t-1}}, ..., x_{o_{t-k}})

Each position t has its own table: one categorical over K values for every configuration
of its m_t = min(t, k) predecessors, i.e. (K − 1) · K^{m_t} free parameters. For binary
pixels and k = 1 that is 1 + 2(n − 1) = 2n − 1 parameters: the lecture's Markov count,
between the independent model's n and the full joint's 2^n − 1.

All tables live in one flat vector θ; position t owns the slice starting at offset[t].
The context of position t is the base-K number c_t = Σ_{j=1..m_t} x_{o_{t-j}} K^{j-1},
so its logits are θ[offset[t] + c_t (K − 1) : ... + (K − 1)], with a pinned 0 for value K − 1.

Deviations from the paper: none (textbook model; see e.g. Murphy, PML 2022, Sec. 3.6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core import AutoregressiveModel, DataInfo, GenzooError, discrete_sample, register
from genzoo.core.config import at_least
from genzoo.models.autoregressive.ordering import Ordering, pixel_order


@dataclass
class MarkovConfig:
    # order of the chain; k = 1 is the lecture's AR-1
    k: int = field(default=1, metadata=at_least(0))
    order: Ordering = "raster"
    order_seed: int = field(default=0, metadata=at_least(0))


@register(
    "markov",
    family="autoregressive",
    description="AR-k Markov chain over a pixel ordering with tabular conditionals (2n-1 params)",
)
class Markov(AutoregressiveModel):
    Config = MarkovConfig
    data_kinds = frozenset({"binary", "categorical"})

    def __init__(self, config: MarkovConfig, data: DataInfo):
        super().__init__(config, data)
        K, k, n = data.n_values, config.k, data.n_dims
        if k < 0 or K**k > 2**20:
            raise GenzooError(f"markov k={k} with {K} values needs {K}**{k} table rows; too many")
        self.register_buffer("order", pixel_order(config.order, data.shape, config.order_seed))
        n_context = K ** torch.arange(n).clamp(max=k)  # K^{m_t}, (n,)
        sizes = n_context * (K - 1)
        self.register_buffer("offset", torch.cumsum(sizes, 0) - sizes, persistent=False)
        self.register_buffer("place", K ** torch.arange(k), persistent=False)  # K^{j-1}
        self.theta = nn.Parameter(torch.zeros(int(sizes.sum())))

    def context(self, x_ordered: Tensor) -> Tensor:
        """c_t for every position t, (B, n); predecessors before the start count as 0."""
        B, n = x_ordered.shape
        c = torch.zeros(B, n, dtype=torch.long, device=x_ordered.device)
        for j in range(1, self.config.k + 1):
            c[:, j:] += x_ordered[:, :-j].long() * self.place[j - 1]
        return c

    def table_logits(self, t: Tensor, c: Tensor) -> Tensor:
        """Logits of p(x_{o_t} | context c) for positions t and contexts c, (..., K)."""
        K = self.data.n_values
        idx = self.offset[t].unsqueeze(-1) + c.unsqueeze(-1) * (K - 1) + torch.arange(K - 1)
        theta = self.theta[idx]  # (..., K-1)
        if K == 2:
            return theta[..., 0]  # Bernoulli logit of x = 1
        return F.pad(theta, (0, 1))  # value K-1 pinned to logit 0

    def conditionals(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], -1)
        t = torch.arange(self.data.n_dims, device=x.device)
        logits_by_position = self.table_logits(t, self.context(x[:, self.order]))
        logits = torch.empty_like(logits_by_position)
        logits[:, self.order] = logits_by_position
        return logits

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        K, k = self.data.n_values, self.config.k
        x_ordered = torch.zeros(n, self.data.n_dims, device=self.device)
        c = torch.zeros(n, dtype=torch.long, device=self.device)
        for t in range(self.data.n_dims):
            logits = self.table_logits(torch.full_like(c, t), c)
            x_ordered[:, t] = discrete_sample(logits, K, generator)
            # shift the new value into the context: drop the oldest of the k predecessors
            c = (c * K + x_ordered[:, t].long()) % K**k if k > 0 else c
        x = torch.empty_like(x_ordered)
        x[:, self.order] = x_ordered
        return x.reshape(n, *self.data.shape)
