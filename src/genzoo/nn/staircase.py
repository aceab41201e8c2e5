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
from dataclasses import dataclass, field

import torch
from torch import Tensor

Groups = tuple[tuple[int, int, int, int], ...]  # (r0, r1, a, b) per group of rows

# One matrix product costs about this much over its multiply-adds, counted in weights
# (B · 50,000 multiply-adds take ~0.1 ms on one CPU core); it trades smaller blocks
# against more calls when choosing G.
CALL_COST = 50_000


@dataclass(frozen=True)
class Staircase:
    """How to compute with one staircase mask: its row groups and, per group, which
    weights of the diagonal block a:b are connected, (r1 - r0, b - a) booleans."""

    groups: Groups
    on: tuple[Tensor, ...]
    # the memory of the last weight gradient, for the next one (see `gradient_memory`)
    spare: list[Tensor] = field(default_factory=list, compare=False, repr=False)

    def fraction(self, in_features: int) -> float:
        """The fraction of the weight matrix the blocks read (1: all of it)."""
        out = self.groups[-1][1]
        return sum((r1 - r0) * b for r0, r1, _, b in self.groups) / max(1, out * in_features)


def find_staircase(mask: Tensor, call_cost: int | None = None) -> Staircase | None:
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
    groups = best[1]
    on = tuple((mask[r0:r1, a:b] != 0).contiguous() for r0, r1, a, b in groups)
    return Staircase(groups, on)


def gradient_memory(stairs: Staircase, weight: Tensor) -> Tensor:
    """An uninitialised tensor like `weight`, for its gradient.

    When nothing holds the last one any more (the optimizer has dropped it, no one kept a
    reference, no micro-batch is accumulating into it), this reuses its memory: a fresh
    allocation of a large weight's size gets new pages from the system every step, and the
    page faults on filling them took as long as the products (MADE H=8000 on one core).
    """
    if stairs.spare:
        (spare,) = stairs.spare
        # two uses: `spare` itself and the temporary storage object made to count them
        unused = torch._C._storage_Use_Count(spare.untyped_storage()._cdata) == 2
        if unused and spare.shape == weight.shape and spare.dtype == weight.dtype:
            return spare.detach()  # a new tensor on the same memory: autograd may keep it
    grad_w = torch.empty_like(weight, memory_format=torch.contiguous_format)
    stairs.spare[:] = [grad_w.detach()]
    return grad_w


class StaircaseLinear(torch.autograd.Function):
    """y = x (W ⊙ M)^T + b for a staircase mask M, computed block by block."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, stairs: Staircase):
        B = x.shape[0]
        ys = []
        diagonal = []  # the blocks (W ⊙ M)[r0:r1, a:b], masked weights selected away
        for (r0, r1, a, b), on in zip(stairs.groups, stairs.on, strict=True):
            # (B, r1 - r0), starting from the bias
            y = x.new_zeros(B, r1 - r0) if bias is None else bias[r0:r1].expand(B, r1 - r0)
            if a:
                y = torch.addmm(y, x[:, :a], weight[r0:r1, :a].t())
            W_diag = torch.where(on, weight[r0:r1, a:b], 0.0)
            if b > a:
                y = torch.addmm(y, x[:, a:b], W_diag.t())
            ys.append(y)
            diagonal.append(W_diag)
        ctx.save_for_backward(x, weight)
        ctx.stairs = stairs
        ctx.diagonal = diagonal
        ctx.has_bias = bias is not None
        return torch.cat(ys, 1)

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = torch.zeros_like(x) if need_x else None
        grad_w = gradient_memory(ctx.stairs, weight) if need_w else None
        grad_yT = grad_y.t().contiguous()  # (out, B): each group's rows are contiguous
        stairs = ctx.stairs
        for (r0, r1, a, b), on, W_diag in zip(stairs.groups, stairs.on, ctx.diagonal, strict=True):
            if need_w:
                g_T = grad_yT[r0:r1]
                grad_w[r0:r1, b:].zero_()  # right of the staircase: exactly zero
                if a:
                    grad_w[r0:r1, :a].addmm_(g_T, x[:, :a], beta=0)
                if b > a:
                    grad_w[r0:r1, a:b] = torch.where(on, g_T @ x[:, a:b], 0.0)
            if need_x:
                g = grad_y[:, r0:r1]
                if a:
                    grad_x[:, :a].addmm_(g, weight[r0:r1, :a])
                if b > a:
                    grad_x[:, a:b].addmm_(g, W_diag)
        grad_b = grad_y.sum(0) if need_b and ctx.has_bias else None
        return grad_x, grad_w, grad_b, None


def staircase_linear(x: Tensor, weight: Tensor, bias: Tensor | None, stairs: Staircase) -> Tensor:
    """x (W ⊙ M)^T + b for x (B, in), with `stairs` from `find_staircase(M)`."""
    return StaircaseLinear.apply(x, weight, bias, stairs)
