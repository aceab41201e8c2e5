"""A masked linear layer that computes only where its mask can be non-zero.

MADE's masks (Germain et al. 2015, arXiv:1502.03509, Eqs. 12-13) connect unit k to the
units below it whose degree is at most (or below) m(k). With both layers' units taken in
order of degree, each row of such a mask is a prefix of ones, and the prefixes grow from
row to row: a staircase,

    M[rows][:, cols] = S,    S[r, c] = 1[c < n_r],    n_0 ≤ n_1 ≤ ... ≤ n_{out-1},

for a permutation `rows` of the outputs and `cols` of the inputs (both the identity when
the units are stored in order of degree). About half of S is zero. Cut its rows into G
groups [r0, r1); in group g every row sees the columns below a = n_{r0} and none at or
after b = n_{r1-1}, so with W' = W[rows][:, cols] and x' = x[:, cols]

    y'[:, r0:r1] = x'[:, :a] W'[r0:r1, :a]^T + x'[:, a:b] (W' ⊙ S)[r0:r1, a:b]^T + bias'[r0:r1]

reads only the blocks left of the staircase (about 1/2 + 1/(2G) of W), with the mask
applied inside the small diagonal block a:b only; y = y' with its columns put back. When
a permutation is not the identity the blocks are gathered (and their gradients scattered)
group by group. The backward pass is cut the same way: the gradient of every masked
weight is written as an exact zero, the value `F.linear(x, W ⊙ M)` gives it. Masked
weights right of the diagonal blocks are never read, and inside them they are selected
away, so no value a masked weight holds (not even an inf or a NaN, which `W ⊙ M` would
pass on) reaches an output.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import torch
from torch import Tensor

Groups = tuple[tuple[int, int, int, int], ...]  # (r0, r1, a, b) per group of rows

# One matrix product costs about this much over its multiply-adds, counted in weights
# (B · 20,000 multiply-adds take ~0.05 ms on one CPU core); it trades smaller blocks
# against more calls when choosing G. For MADE H=8000 on MNIST it picks G = 16 (53% of
# each weight matrix read), 3-5% faster per step than G = 8 (56%), measured interleaved.
CALL_COST = 20_000

# Gathering the blocks of a permuted staircase costs more than it saves on a small matrix:
# measured on MADE's layers (D = 784, batch 16 and 100), 1000 hidden units ran faster
# dense, 2000 faster gathered. Below this many weights such masks take the dense path.
MIN_PERMUTED_WEIGHTS = 1_500_000


@dataclass(eq=False)
class Staircase:
    """How to compute with one staircase mask: its row groups, per group which weights of
    the diagonal block a:b are connected ((r1 - r0, b - a) booleans), and the permutations
    that make the mask a staircase (None: the identity)."""

    groups: Groups
    on: tuple[Tensor, ...]
    rows: Tensor | None = None  # (out,): M[rows] has growing prefixes
    cols: Tensor | None = None  # (in,): M[:, cols] has prefixes
    rows_back: Tensor | None = None  # the inverse permutations
    cols_back: Tensor | None = None
    # Memory kept between steps (see `gradient_memory` and `scratch`); a layer hands its
    # own dict to each new staircase of its mask.
    memory: dict = field(default_factory=dict, repr=False)

    def fraction(self, in_features: int) -> float:
        """The fraction of the weight matrix the blocks read (1: all of it)."""
        out = self.groups[-1][1]
        return sum((r1 - r0) * b for r0, r1, _, b in self.groups) / max(1, out * in_features)

    @property
    def permuted(self) -> bool:
        return self.rows is not None or self.cols is not None

    def block(self, weight: Tensor, r0: int, r1: int, b: int, out: Tensor | None) -> Tensor:
        """W'[r0:r1, :b], (r1 - r0, b): a view of `weight`, or gathered into `out` when
        permuted."""
        if not self.permuted:
            return weight[r0:r1, :b]
        if self.cols is None:
            return torch.index_select(weight[:, :b], 0, self.rows[r0:r1], out=out)
        W = weight[r0:r1] if self.rows is None else weight.index_select(0, self.rows[r0:r1])
        return torch.index_select(W, 1, self.cols[:b], out=out)

    def put_gradient(self, grad_w: Tensor, grad_rows: Tensor, r0: int, r1: int) -> None:
        """Write the gradient of W'[r0:r1] (r1 - r0, in) into W's, at its own places."""
        if self.rows is None:  # only the columns are permuted: W[r0:r1] = W'[r0:r1, back]
            torch.index_select(grad_rows, 1, self.cols_back, out=grad_w[r0:r1])
            return
        if self.cols is not None:
            grad_rows = grad_rows.index_select(1, self.cols_back)
        grad_w.index_copy_(0, self.rows[r0:r1], grad_rows)


def _permutation(order: Tensor) -> tuple[Tensor | None, Tensor | None]:
    """(order, its inverse), or (None, None) for the identity."""
    identity = torch.arange(order.numel(), device=order.device)
    if torch.equal(order, identity):
        return None, None
    back = torch.empty_like(order)
    back[order] = identity
    return order, back


def find_staircase(mask: Tensor, call_cost: int | None = None) -> Staircase | None:
    """How to compute with `mask` (out, in) as a staircase (see the module docstring), or
    None if no permutation of its rows and columns makes it one."""
    if 0 in mask.shape:
        return None
    n = mask.sum(1).round().long()  # (out,): how many inputs each output sees
    # Inputs seen by more outputs come first; in a staircase each output sees a prefix.
    cols = torch.argsort(mask.sum(0), descending=True, stable=True)
    rank = torch.empty_like(cols)
    rank[cols] = torch.arange(cols.numel(), device=mask.device)
    if not torch.equal(mask, (rank[None, :] < n[:, None]).to(mask.dtype)):
        return None
    rows = torch.argsort(n, stable=True)
    return staircase_of(n[rows], rows, cols, call_cost)


def degree_staircase(
    out_degrees: Tensor, in_degrees: Tensor, strict: bool, call_cost: int | None = None
) -> Staircase | None:
    """The staircase of the mask M[k, j] = 1[m_out(k) > m_in(j)] (strict) or ≥ (MADE's
    masks, Eqs. 12-13), found from the degrees alone: inputs in order of degree, and output
    k sees the inputs whose degree is below (or at most) its own."""
    cols = torch.argsort(in_degrees, stable=True)
    rows = torch.argsort(out_degrees, stable=True)
    n = torch.searchsorted(in_degrees[cols], out_degrees[rows], right=not strict)
    return staircase_of(n, rows, cols, call_cost)


def staircase_of(
    n: Tensor, rows: Tensor, cols: Tensor, call_cost: int | None = None
) -> Staircase | None:
    """The staircase whose row r (in the order `rows`) sees the first n_r inputs (in the
    order `cols`), n non-decreasing; None when it would need gathering and the matrix is
    smaller than MIN_PERMUTED_WEIGHTS. G minimises the weights read plus `call_cost`
    (default CALL_COST) per group."""
    call_cost = CALL_COST if call_cost is None else call_cost
    weights = rows.numel() * cols.numel()
    rows, rows_back = _permutation(rows)
    cols, cols_back = _permutation(cols)
    if (rows is not None or cols is not None) and weights < MIN_PERMUTED_WEIGHTS:
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
    on = tuple(
        torch.arange(a, b, device=n.device)[None, :] < n[r0:r1, None] for r0, r1, a, b in groups
    )
    return Staircase(groups, on, rows, cols, rows_back, cols_back)


def unused(t: Tensor) -> bool:
    """Whether nothing but `t` holds its memory (no view, no saved tensor, no .grad)."""
    # two uses: `t` itself and the temporary storage object made to count them
    return torch._C._storage_Use_Count(t.untyped_storage()._cdata) == 2


def scratch(stairs: Staircase, name: str, numel: int, like: Tensor) -> Tensor:
    """A flat uninitialised tensor of `numel` elements (`like`'s dtype and device), on the
    memory `stairs` keeps under `name` when nothing else holds it any more: the gathered
    blocks stay saved for the backward pass, so a second forward before it gets new memory.
    Fresh allocations of this size cost page faults every step, as in `gradient_memory`."""
    kept = stairs.memory.get(name)
    if kept is not None and kept.numel() >= numel and kept.dtype == like.dtype and unused(kept):
        return kept[:numel]
    kept = like.new_empty(numel)
    stairs.memory[name] = kept
    return kept[:numel]


def gradient_memory(stairs: Staircase, weight: Tensor) -> tuple[Tensor, bool]:
    """An uninitialised tensor like `weight`, for its gradient, and whether its entries
    right of this staircase already hold exact zeros.

    When nothing holds the last one any more (the optimizer has dropped it, no one kept a
    reference, no micro-batch is accumulating into it), this reuses its memory: a fresh
    allocation of a large weight's size gets new pages from the system every step, and the
    page faults on filling them took as long as the products (MADE H=8000 on one core).
    Its zeros are still in place if this staircase wrote it and nothing has written to it
    since (its version counter, which every in-place change advances, is unchanged).
    """
    # [the last gradient's memory, the staircase that wrote it, its version then]
    kept = stairs.memory.get("gradient")
    if kept is not None:
        spare, written_by, version = kept
        if spare.shape == weight.shape and spare.dtype == weight.dtype and unused(spare):
            clean = written_by is stairs and spare._version == version
            return spare.detach(), clean  # a new tensor on the same memory: autograd may keep it
    grad_w = torch.empty_like(weight, memory_format=torch.contiguous_format)
    stairs.memory["gradient"] = [grad_w.detach(), None, -1]
    return grad_w, False


class StaircaseLinear(torch.autograd.Function):
    """y = x (W ⊙ M)^T + b for a staircase mask M, computed block by block."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)  # under bf16-mixed too
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, stairs: Staircase):
        B = x.shape[0]
        x_p = x if stairs.cols is None else x.index_select(1, stairs.cols)  # x'
        if bias is not None and stairs.rows is not None:
            bias = bias.index_select(0, stairs.rows)
        ys = []
        blocks = []  # W'[r0:r1, :b], with masked weights in a:b selected away
        if stairs.permuted:  # the gathered blocks, one after the other
            sizes = [(r1 - r0) * b for r0, r1, _, b in stairs.groups]
            gathered = scratch(stairs, "blocks", sum(sizes), weight).split(sizes)
        for i, ((r0, r1, a, b), on) in enumerate(zip(stairs.groups, stairs.on, strict=True)):
            out = gathered[i].view(r1 - r0, b) if stairs.permuted else None
            W = stairs.block(weight, r0, r1, b, out)
            # (B, r1 - r0), starting from the bias
            y = x.new_zeros(B, r1 - r0) if bias is None else bias[r0:r1].expand(B, r1 - r0)
            if a:
                y = torch.addmm(y, x_p[:, :a], W[:, :a].t())
            W_diag = torch.where(on, W[:, a:b], 0.0)
            if b > a:
                y = torch.addmm(y, x_p[:, a:b], W_diag.t())
            ys.append(y)
            blocks.append((W[:, :a], W_diag))
        ctx.save_for_backward(x_p, weight)
        ctx.stairs = stairs
        ctx.blocks = blocks
        ctx.has_bias = bias is not None
        y = torch.cat(ys, 1)  # y', (B, out)
        return y if stairs.rows is None else y.index_select(1, stairs.rows_back)

    @staticmethod
    @torch.amp.custom_bwd(device_type="cpu")
    def backward(ctx, grad_y: Tensor):
        x_p, weight = ctx.saved_tensors
        stairs = ctx.stairs
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if stairs.rows is not None:
            grad_y = grad_y.index_select(1, stairs.rows)
        grad_x = torch.zeros_like(x_p) if need_x else None
        grad_w, clean = gradient_memory(stairs, weight) if need_w else (None, False)
        grad_yT = grad_y.t().contiguous()  # (out, B): each group's rows are contiguous
        in_place = not stairs.permuted
        if need_w and not in_place:  # one row group's gradient at a time, then put in place
            rows = max(r1 - r0 for r0, r1, _, _ in stairs.groups)
            group_memory = scratch(stairs, "group gradient", rows * weight.shape[1], weight)
        for (r0, r1, a, b), on, (W_left, W_diag) in zip(
            stairs.groups, stairs.on, ctx.blocks, strict=True
        ):
            if need_w:
                g_T = grad_yT[r0:r1]
                if in_place:
                    G = grad_w[r0:r1]
                else:
                    G = group_memory[: (r1 - r0) * weight.shape[1]].view(r1 - r0, -1)
                if a:
                    G[:, :a].addmm_(g_T, x_p[:, :a], beta=0)
                if b > a:
                    G[:, a:b] = torch.where(on, g_T @ x_p[:, a:b], 0.0)
                if not (in_place and clean):
                    G[:, b:].zero_()  # right of the staircase: exactly zero
                if not in_place:
                    stairs.put_gradient(grad_w, G, r0, r1)
            if need_x:
                g = grad_y[:, r0:r1]
                if a:
                    grad_x[:, :a].addmm_(g, W_left)
                if b > a:
                    grad_x[:, a:b].addmm_(g, W_diag)
        if need_x and stairs.cols is not None:
            grad_x = grad_x.index_select(1, stairs.cols_back)
        grad_b = None
        if need_b and ctx.has_bias:
            grad_b = grad_y.sum(0)
            if stairs.rows is not None:
                grad_b = grad_b.index_select(0, stairs.rows_back)
        if need_w:
            stairs.memory["gradient"][1:] = [stairs, grad_w._version]  # what it left there
        return grad_x, grad_w, grad_b, None


def staircase_linear(x: Tensor, weight: Tensor, bias: Tensor | None, stairs: Staircase) -> Tensor:
    """x (W ⊙ M)^T + b for x (B, in), with `stairs` from `find_staircase(M)`."""
    return StaircaseLinear.apply(x, weight, bias, stairs)
