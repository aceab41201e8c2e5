"""NADE: the neural autoregressive distribution estimator, for binary data.

H. Larochelle and I. Murray, "The Neural Autoregressive Distribution Estimator",
AISTATS 2011 (JMLR W&CP 15:29-37).

For an ordering o of the D dimensions and H hidden units, with W (H, D), V (D, H),
b (D,), c (H,) shared by all conditionals:

    p(x) = Π_d p(x_{o_d} | x_{o_<d})
    a_1 = c,   a_{d+1} = a_d + W[:, o_d] x_{o_d}          the O(HD) recurrence (Alg. 1)
    h_d = sigm(a_d)
    p(x_{o_d} = 1 | x_{o_<d}) = sigm(b_{o_d} + V[o_d] · h_d)

Its gradient (Alg. 1, second half) runs d backwards accumulating δa = Σ_{t≥d} G_t, where
G_t = ∂J/∂a_t = (g_t V[o_t]) ⊙ h_t ⊙ (1 − h_t) and g_t = ∂J/∂logit_t. We compute the
same numbers in the *forward* pass instead, so that a training step is one sweep over
d with nothing stored: with C_d = Σ_{t≤d} G_t,

    ∂J/∂W[:, o_d] = Σ_b x_{o_d} (C_D − C_d)     (x_{o_d} reaches every a_t with t > d)
    ∂J/∂c = Σ_b C_D,   ∂J/∂V[o_d] = Σ_b g_d h_d,   ∂J/∂b_{o_d} = Σ_b g_d

so only x_{o_d}^T C_d (an H-vector per d) is kept, and C_D comes at the end.

Implementation: the sweep is a loop over d of about ten in-place tensor ops on
(B, H) buffers that stay in cache, wrapped in `torch.autograd.Function`s. Autograd
through the plain loop stores every h_d and allocates at every step; computing a block
of d at once (a triangular matmul per block) materialises (B, block, H) tensors and is
memory-bound. benchmarks/nade_throughput.py times both against this sweep.

Deviations from the paper:
- `activation="relu"` is an option beyond the paper, which uses the sigmoid.
- The paper trains with plain stochastic gradient descent; the optimiser is not part of
  this file (the trainer chooses it).
- We did not find an initialisation in the paper; W, V are drawn from
  U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's Linear default scale), b and c start at 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from genzoo.core import AutoregressiveModel, Capability, DataInfo, register
from genzoo.models.autoregressive.ordering import pixel_order


@dataclass
class NADEConfig:
    hidden_dim: int = 500  # experiments: H = 500 hidden units
    activation: Literal["sigmoid", "relu"] = "sigmoid"  # h_d = sigm(a_d), as in the paper
    order: Literal["raster", "snake", "random"] = "raster"  # experiments: the data's own order
    order_seed: int = 0  # not in the paper; seeds order="random"


# ---------------------------------------------------------------- the sweep (Alg. 1)


def _relu(a: Tensor, out: Tensor) -> Tensor:
    return torch.clamp_min(a, 0, out=out)


# grad ⊙ act'(a) from h = act(a) in one pass (ATen's own backward kernels; h ≥ 0 for ReLU)
def _sigmoid_backward(grad: Tensor, h: Tensor, out: Tensor) -> Tensor:
    return torch.ops.aten.sigmoid_backward.grad_input(grad, h, grad_input=out)


def _relu_backward(grad: Tensor, h: Tensor, out: Tensor) -> Tensor:
    return torch.ops.aten.threshold_backward.grad_input(grad, h, 0, grad_input=out)


def _sweep_rows(
    x: Tensor,
    W: Tensor,
    V: Tensor,
    b: Tensor,
    c: Tensor,
    relu: bool,
    u: Tensor | None = None,
    dlogits: Tensor | None = None,
    need_dx: bool = False,
) -> tuple[Tensor, dict[str, Tensor] | None]:
    """Run the recurrence over positions t = 1..D.

    x (B, D) is already in generation order; row t of W (D, H) is the paper's W[:, o_t],
    and V (D, H), b (D,) are permuted the same way. Returns the logits (D, B).

    With `u` (B,), it also returns the exact gradient of J = Σ_b u_b log p(x_b); with
    `dlogits` (D, B), that of J = Σ dlogits ⊙ logits. Both come from this one pass.
    """
    B, D = x.shape
    xt = x.t().contiguous()  # (D, B): x_t is a contiguous row
    l = x.new_empty(D, B)
    a = c.expand(B, -1).clone()  # a_1 = c
    h = torch.empty_like(a)
    act = _relu if relu else torch.sigmoid
    _act_backward = _relu_backward if relu else _sigmoid_backward

    if u is None and dlogits is None:
        for t in range(D):
            act(a, out=h)
            torch.addmv(b[t], h, V[t], out=l[t])
            a.addcmul_(xt[t].unsqueeze(1), W[t])
        return l, None

    s = torch.empty_like(a)  # act'(a_t) ⊙ V_t
    C = torch.zeros_like(a)  # C_t = Σ_{t'≤t} G_t'
    g = dlogits.contiguous() if dlogits is not None else torch.empty_like(l)  # ∂J/∂logit
    dV = torch.empty_like(V)
    q = torch.empty_like(W)  # q_t = x_t^T C_t
    r = x.new_empty(D, B) if need_dx else None  # r_t = C_t W_t
    ux = xt * u if u is not None else None
    for t in range(D):
        act(a, out=h)
        torch.addmv(b[t], h, V[t], out=l[t])
        if u is not None:  # ∂/∂l [x l − softplus(l)] = x − σ(l)
            torch.sigmoid(l[t], out=g[t])
            torch.addcmul(ux[t], g[t], u, value=-1, out=g[t])
        torch.mv(h.t(), g[t], out=dV[t])
        _act_backward(V[t].expand_as(s), h, out=s)  # V_t ⊙ act'(a_t)
        C.addcmul_(s, g[t].unsqueeze(1))  # C += G_t = (g_t V_t) ⊙ act'(a_t)
        torch.mv(C.t(), xt[t], out=q[t])
        if r is not None:
            torch.mv(C, W[t], out=r[t])
        a.addcmul_(xt[t].unsqueeze(1), W[t])  # a_{t+1} = a_t + x_t W_t

    grad = {
        "W": torch.addmm(q, xt, C, beta=-1),  # x_t^T (C_D − C_t)
        "V": dV,
        "b": g.sum(1),
        "c": C.sum(0),
    }
    if r is not None:
        # dx_t = (C_D − C_t) W_t, with C_D W_t computed by the same op as r_t = C_t W_t:
        # when nothing after t depends on the objective, C_D == C_t bit for bit, and the
        # autoregressive zeros come out exact rather than as rounding noise.
        dx = torch.stack([torch.mv(C, W[t]) for t in range(D)]) - r  # (D, B)
        if u is not None:
            dx += u * l  # ∂/∂x [x l − softplus(l)] = l
        grad["x"] = dx.t()
    return l, grad


_ROWS = 512  # rows per sweep: the (rows, H) buffers of one step then stay in cache


def _sweep(
    x: Tensor,
    W: Tensor,
    V: Tensor,
    b: Tensor,
    c: Tensor,
    relu: bool,
    u: Tensor | None = None,
    dlogits: Tensor | None = None,
    need_dx: bool = False,
) -> tuple[Tensor, dict[str, Tensor] | None]:
    """`_sweep_rows` over blocks of at most _ROWS examples; gradients are summed."""
    if x.shape[0] <= _ROWS:
        return _sweep_rows(x, W, V, b, c, relu, u, dlogits, need_dx)
    parts = [
        _sweep_rows(
            x[i : i + _ROWS],
            W,
            V,
            b,
            c,
            relu,
            None if u is None else u[i : i + _ROWS],
            None if dlogits is None else dlogits[:, i : i + _ROWS],
            need_dx,
        )
        for i in range(0, x.shape[0], _ROWS)
    ]
    l = torch.cat([part[0] for part in parts], dim=1)
    if parts[0][1] is None:
        return l, None
    grads = [part[1] for part in parts]
    grad = {k: torch.stack([g[k] for g in grads]).sum(0) for k in ("W", "V", "b", "c")}
    if need_dx:
        grad["x"] = torch.cat([g["x"] for g in grads], dim=0)
    return l, grad


class _Conditionals(torch.autograd.Function):
    """Logits (B, D) by position; the backward pass is one gradient sweep."""

    @staticmethod
    def forward(ctx, x, W, V, b, c, relu: bool):
        l, _ = _sweep(x, W, V, b, c, relu)
        ctx.save_for_backward(x, W, V, b, c)
        ctx.relu = relu
        return l.t()

    @staticmethod
    @once_differentiable
    def backward(ctx, dl):
        x, W, V, b, c = ctx.saved_tensors
        need_dx = ctx.needs_input_grad[0]
        _, grad = _sweep(x, W, V, b, c, ctx.relu, dlogits=dl.t(), need_dx=need_dx)
        return grad.get("x"), grad["W"], grad["V"], grad["b"], grad["c"], None


class _MeanNLL(torch.autograd.Function):
    """−(1/B) Σ_b log p(x_b), with its gradient computed in the same forward sweep."""

    @staticmethod
    def forward(ctx, x, W, V, b, c, relu: bool, grad_enabled: bool):
        B = x.shape[0]
        if grad_enabled and any(ctx.needs_input_grad):  # else: plain forward sweep
            u = x.new_full((B,), -1.0 / B)  # J = −(1/B) Σ_b log p(x_b)
            l, grad = _sweep(x, W, V, b, c, relu, u=u, need_dx=ctx.needs_input_grad[0])
            ctx.save_for_backward(grad.get("x"), grad["W"], grad["V"], grad["b"], grad["c"])
        else:
            l, _ = _sweep(x, W, V, b, c, relu)
        log_p = x.t() * l - F.softplus(l)  # (D, B): log p(x_t | x_<t)
        return -log_p.sum() / B

    @staticmethod
    @once_differentiable
    def backward(ctx, dloss):
        return (*(None if t is None else dloss * t for t in ctx.saved_tensors), None, None)


# ---------------------------------------------------------------- the model


@register(
    "nade",
    family="autoregressive",
    description="NADE: weight-shared neural conditionals, O(HD) recurrence (Larochelle 2011)",
)
class NADE(AutoregressiveModel):
    Config = NADEConfig
    capabilities = Capability.SAMPLE | Capability.LOG_PROB | Capability.FEATURES
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

    def conditionals(self, x: Tensor) -> Tensor:
        """Logits of p(x_d = 1 | x_<d), (B, D), indexed by dimension."""
        x_o, W, V, b = self._in_order(x)
        logits = _Conditionals.apply(x_o, W, V, b, self.c, self.relu)
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
        loss = _MeanNLL.apply(x_o, W, V, b, self.c, self.relu, torch.is_grad_enabled())
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
        act = _relu if self.relu else torch.sigmoid
        for t in range(D):
            act(a, out=h)
            torch.mv(h, V[t], out=hV)
            torch.gt(hV, threshold[t], out=x[t])
            a.addcmul_(x[t].unsqueeze(1), W[t])
        return x.t()[:, self.inverse_order].reshape(n, *self.data.shape)
