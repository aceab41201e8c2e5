"""A masked linear layer that computes only where its mask can be non-zero.

MADE's masks (Germain et al. 2015, arXiv:1502.03509, Eqs. 12-13) connect unit k to the
units below it whose degree is at most (or below) m(k). With both layers' units stored in
order of degree, each row of such a mask is a prefix of ones, and the prefixes grow from
row to row: a staircase,

    M[r, c] = 1[c < n_r],    n_0 ≤ n_1 ≤ ... ≤ n_{out-1}.

About half of it is zero. Cut the rows into G groups [r0, r1); in group g every row sees
the columns below a = n_{r0} and none at or after b = n_{r1-1}, so

    y[:, r0:r1] = x[:, :a] W[r0:r1, :a]^T + x[:, a:b] (W ⊙ M)[r0:r1, a:b]^T + bias[r0:r1]

reads only the blocks left of the staircase (about 1/2 + 1/(2G) of W), with the mask
applied inside the small diagonal block a:b only. The backward pass is cut the same way:
the gradient of every masked weight is written as an exact zero, the value
`F.linear(x, W ⊙ M)` gives it. Masked weights right of the diagonal blocks are never read,
and inside them they are selected away, so no value a masked weight holds (not even an inf
or a NaN, which `W ⊙ M` would pass on) reaches an output.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor

Groups = tuple[tuple[int, int, int, int], ...]  # (r0, r1, a, b) per group of rows

# One matrix product costs about this much over its multiply-adds, counted in weights
# (B · 50,000 multiply-adds take ~0.1 ms on one CPU core); it trades smaller blocks
# against more calls when choosing G.
CALL_COST = 50_000


def staircase_groups(mask: Tensor, call_cost: int | None = None) -> Groups | None:
    """The row groups of a staircase mask (see the module docstring), or None if `mask`
    (out, in) is not one: a row that is not a prefix of ones, or prefixes that shrink.
    G minimises the weights read plus `call_cost` (default CALL_COST) per group."""
    call_cost = CALL_COST if call_cost is None else call_cost
    n = mask.sum(1).round().long()  # (out,): the prefix length of each row
    if bool((n[1:] < n[:-1]).any()):
        return None
    n_max = int(n[-1])
    if n_max and not bool((mask[-1, :n_max] == 1).all()):  # quick reject of most non-staircases
        return None
    columns = torch.arange(mask.shape[1], device=mask.device)
    if not torch.equal(mask, (columns[None, :] < n[:, None]).to(mask.dtype)):
        return None
    n_list = n.tolist()
    out = len(n_list)
    best: tuple[float, Groups] | None = None
    for G in (1, 2, 4, 8, 16, 32, 64):
        if out < G:
            break
        bounds = [round(i * out / G) for i in range(G + 1)]
        groups = tuple(
            (r0, r1, n_list[r0], n_list[r1 - 1]) for r0, r1 in itertools.pairwise(bounds) if r1 > r0
        )
        cost = sum((r1 - r0) * b for r0, r1, _, b in groups) + call_cost * len(groups)
        if best is None or cost < best[0]:
            best = (cost, groups)
    assert best is not None
    return best[1]


def masked(weight: Tensor, mask: Tensor, r0: int, r1: int, a: int, b: int) -> Tensor:
    """The block (W ⊙ M)[r0:r1, a:b], with masked weights replaced (not multiplied) by zero,
    so that not even an inf or NaN there reaches an output."""
    return torch.where(mask[r0:r1, a:b] != 0, weight[r0:r1, a:b], 0.0)


class StaircaseLinear(torch.autograd.Function):
    """y = x (W ⊙ M)^T + b for a staircase mask M, computed block by block."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, mask: Tensor, groups: Groups):
        B = x.shape[0]
        ys = []
        for r0, r1, a, b in groups:
            # (B, r1 - r0), starting from the bias
            y = x.new_zeros(B, r1 - r0) if bias is None else bias[r0:r1].expand(B, r1 - r0)
            if a:
                y = torch.addmm(y, x[:, :a], weight[r0:r1, :a].t())
            if b > a:
                y = torch.addmm(y, x[:, a:b], masked(weight, mask, r0, r1, a, b).t())
            ys.append(y)
        ctx.save_for_backward(x, weight, mask)
        ctx.groups = groups
        ctx.has_bias = bias is not None
        return torch.cat(ys, 1)

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        x, weight, mask = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = torch.zeros_like(x) if need_x else None
        grad_w = torch.empty_like(weight) if need_w else None
        grad_yT = grad_y.t().contiguous()  # (out, B): each group's rows are contiguous
        for r0, r1, a, b in ctx.groups:
            g_T = grad_yT[r0:r1]
            if need_w:
                grad_w[r0:r1, b:].zero_()  # at or right of the staircase: exactly zero
                if a:
                    grad_w[r0:r1, :a].addmm_(g_T, x[:, :a], beta=0)
                if b > a:
                    on = mask[r0:r1, a:b] != 0
                    grad_w[r0:r1, a:b] = torch.where(on, g_T @ x[:, a:b], 0.0)
            if need_x:
                g = grad_y[:, r0:r1]
                if a:
                    grad_x[:, :a].addmm_(g, weight[r0:r1, :a])
                if b > a:
                    grad_x[:, a:b].addmm_(g, masked(weight, mask, r0, r1, a, b))
        grad_b = grad_y.sum(0) if need_b and ctx.has_bias else None
        return grad_x, grad_w, grad_b, None, None


def staircase_linear(
    x: Tensor, weight: Tensor, bias: Tensor | None, mask: Tensor, groups: Groups
) -> Tensor:
    """x (W ⊙ M)^T + b for x (B, in), with `groups` from `staircase_groups(mask)`."""
    return StaircaseLinear.apply(x, weight, bias, mask, groups)


def staircase_fraction(groups: Groups, in_features: int) -> float:
    """The fraction of the weight matrix the blocks read (1: all of it)."""
    out = groups[-1][1]
    return sum((r1 - r0) * b for r0, r1, _, b in groups) / max(1, out * in_features)
