"""NADE: the neural autoregressive distribution estimator, for binary data.

H. Larochelle and I. Murray, "The Neural Autoregressive Distribution Estimator",
AISTATS 2011 (JMLR W&CP 15:29-37).

For an ordering o of the D dimensions and H hidden units, with W (H, D), V (D, H),
b (D,), c (H,) shared by all conditionals:

    p(x) = Π_d p(x_{o_d} | x_{o_<d})
    a_1 = c,   a_{d+1} = a_d + W[:, o_d] x_{o_d}          the O(HD) recurrence (Alg. 1)
    h_d = sigm(a_d)
    p(x_{o_d} = 1 | x_{o_<d}) = sigm(b_{o_d} + V[o_d] · h_d)

`conditionals_reference` below is this recurrence as written. Training and evaluation
run the same numbers through a fused CPU kernel, genzoo.nn.nade_kernel, which also
computes the gradient (Alg. 1, second half) in the same sweep; tests/test_nade.py checks
the kernel against the reference.

Deviations from the paper:
- `activation="relu"` is an option beyond the paper, which uses the sigmoid.
- The paper trains with plain stochastic gradient descent; the optimiser is not part of
  this file (the trainer chooses it).
- We did not find an initialisation in the paper; W, V are drawn from
  U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's Linear default scale), b and c start at 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from genzoo.core import AutoregressiveModel, Capability, DataInfo, register
from genzoo.core.config import at_least
from genzoo.models.autoregressive.ordering import pixel_order
from genzoo.nn.nade_kernel import Conditionals, MeanNLL, relu_out


@dataclass
class NADEConfig:
    hidden_dim: int = field(default=500, metadata=at_least(1))  # experiments: H = 500 hidden units
    activation: Literal["sigmoid", "relu"] = "sigmoid"  # h_d = sigm(a_d), as in the paper
    order: Literal["raster", "snake", "random"] = "raster"  # experiments: the data's own order
    # not in the paper; seeds order="random"
    order_seed: int = field(default=0, metadata=at_least(0))


# ---------------------------------------------------------------- the model


@register(
    "nade",
    family="autoregressive",
    description="NADE: weight-shared neural conditionals, O(HD) recurrence (Larochelle 2011)",
)
class NADE(AutoregressiveModel):
    Config = NADEConfig
    capabilities = (Capability.SAMPLE | Capability.LOG_PROB | Capability.COMPLETE
                    | Capability.FEATURES)  # fmt: skip
    features_name = "hidden units"

    def __init__(self, config: NADEConfig, data: DataInfo):
        super().__init__(config, data)
        D, H = data.n_dims, config.hidden_dim
        self.W = nn.Parameter(torch.empty(H, D).uniform_(-(D**-0.5), D**-0.5))
        self.V = nn.Parameter(torch.empty(D, H).uniform_(-(H**-0.5), H**-0.5))
        self.b = nn.Parameter(torch.zeros(D))
        self.c = nn.Parameter(torch.zeros(H))
        order = pixel_order(config.order, data.shape, config.order_seed)
        self.register_buffer("order", order)
        self.register_buffer("inverse_order", torch.argsort(order))
        self.relu = config.activation == "relu"

    def _in_order(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """x (B, D), W^T (D, H), V (D, H), b (D,), all permuted into generation order."""
        x = x.reshape(x.shape[0], -1).to(self.W.dtype)
        o = self.order
        return x[:, o], self.W.t()[o], self.V[o], self.b[o]

    def conditionals_reference(self, x: Tensor) -> Tensor:
        """The logits of `conditionals`, by the paper's O(HD) loop with plain autograd:
        what the fused kernel computes, written out. Slow; for tests and for reading."""
        x = x.reshape(x.shape[0], -1).to(self.W.dtype)
        act = torch.relu if self.relu else torch.sigmoid
        a = self.c.expand(x.shape[0], -1)  # a_1 = c, (B, H)
        logits = []
        for o_d in self.order.tolist():
            h = act(a)  # h_d = sigm(a_d), or relu
            logits.append(self.b[o_d] + h @ self.V[o_d])  # p(x_{o_d} = 1 | x_{o_<d}) = sigm(·)
            a = a + x[:, o_d : o_d + 1] * self.W[:, o_d]  # a_{d+1} = a_d + W[:, o_d] x_{o_d}
        return torch.stack(logits, dim=1)[:, self.inverse_order]  # (B, D) by dimension

    def conditionals(self, x: Tensor) -> Tensor:
        """Logits of p(x_d = 1 | x_<d), (B, D), indexed by dimension."""
        x_o, W, V, b = self._in_order(x)
        logits = Conditionals.apply(x_o, W, V, b, self.c, self.relu)
        return logits[:, self.inverse_order]

    # log_prob: AutoregressiveModel's, on top of the fast `conditionals` above.

    def features(self, x: Tensor) -> Tensor:
        """act(c + W x), (B, H): the recurrence's hidden state once it has read all of x,
        i.e. a_{D+1} of Alg. 1 through the activation (the last conditional's h_D plus the
        last dimension's term). A fixed-size representation of x for linear probes; the
        sum W x does not depend on the ordering."""
        x = x.reshape(x.shape[0], -1).to(self.W.dtype)
        a = torch.addmm(self.c, x, self.W.t())  # (B, H)
        return torch.relu(a) if self.relu else torch.sigmoid(a)

    def objective(self, x: Tensor) -> dict[str, Tensor]:
        x_o, W, V, b = self._in_order(x)
        loss = MeanNLL.apply(x_o, W, V, b, self.c, self.relu, torch.is_grad_enabled())
        return {"loss": loss}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Ancestral sampling through the same recurrence, one dimension at a time."""
        W, V, b = self.W.t()[self.order], self.V[self.order], self.b[self.order]
        D = W.shape[0]
        # x_t = 1[u_t < σ(l_t)] = 1[h_t · V_t > logit(u_t) − b_t]
        u = torch.rand(D, n, generator=generator, device=W.device, dtype=W.dtype)
        threshold = torch.logit(u) - b[:, None]  # (D, n)
        x = torch.empty(D, n, device=W.device, dtype=W.dtype)
        a = self.c.expand(n, -1).clone()
        h = torch.empty_like(a)
        hV = torch.empty(n, device=W.device, dtype=W.dtype)
        act = relu_out if self.relu else torch.sigmoid
        for t in range(D):
            act(a, out=h)
            torch.mv(h, V[t], out=hV)
            torch.gt(hV, threshold[t], out=x[t])
            a.addcmul_(x[t].unsqueeze(1), W[t])
        return x.t()[:, self.inverse_order].reshape(n, *self.data.shape)
