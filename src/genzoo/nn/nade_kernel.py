"""The fused CPU kernel behind NADE (genzoo.models.autoregressive.nade).

NADE's recurrence (Larochelle & Murray, AISTATS 2011, Alg. 1), for generation order
t = 1..D, with rows W_t, V_t, b_t of the weights permuted into that order:

    a_1 = c,   h_t = act(a_t),   l_t = b_t + V_t · h_t,   a_{t+1} = a_t + x_t W_t

`Conditionals` returns the logits l (B, D) with a hand-written backward pass;
`MeanNLL` returns −(1/B) Σ_b log p(x_b) with its gradient computed in the forward pass.
NADE.conditionals_reference writes the same recurrence as a plain loop, and
tests/test_nade.py checks this kernel against it.

The gradient (Alg. 1, second half) runs t backwards accumulating δa = Σ_{t'≥t} G_t', where
G_t = ∂J/∂a_t = (g_t V_t) ⊙ act'(a_t) and g_t = ∂J/∂l_t. We compute the same numbers in
the *forward* sweep instead, so that a training step is one pass over t with nothing
stored: with C_t = Σ_{t'≤t} G_t',

    ∂J/∂W_t = Σ_b x_t (C_D − C_t)     (x_t reaches every a_t' with t' > t)
    ∂J/∂c = Σ_b C_D,   ∂J/∂V_t = Σ_b g_t h_t,   ∂J/∂b_t = Σ_b g_t

so only x_t^T C_t (an H-vector per t) is kept, and C_D comes at the end.

Why fused: speed on CPU. The sweep is a loop over t of about ten in-place tensor ops on
(B, H) buffers that stay in cache, wrapped in `torch.autograd.Function`s. Autograd
through the plain loop stores every h_t and allocates at every step; computing a block
of t at once (a triangular matmul per block) materialises (B, block, H) tensors and is
memory-bound. benchmarks/nade_throughput.py times both against this sweep.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable


def relu_out(a: Tensor, out: Tensor) -> Tensor:
    """ReLU written into `out` (torch.relu takes no out=)."""
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
    act = relu_out if relu else torch.sigmoid
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


class Conditionals(torch.autograd.Function):
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


class MeanNLL(torch.autograd.Function):
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
