"""The Diagonal LSTM's scan (PixelRNN, van den Oord et al. 2016, arXiv:1601.06759, Sec. 3.2)
as one autograd function, for training.

The state at (r, j) reads the states at (r-1, j) and (r, j-1), and c_prev = c at (r, j-1):

    a = K^is s_{r,j} + b^is + K_above h_{r-1,j} + K_same h_{r,j-1}     (K^is: 1x1, mask B)
    i, f, o = σ(a_i), σ(a_f), σ(a_o);   g = tanh(a_g)
    c = f ⊙ c_{r,j-1} + i ⊙ g;          h = o ⊙ tanh(c)

so every state on a diagonal t = r + j depends only on diagonal t - 1. The straightforward
form (skew, a loop over the skewed map's columns, unskew) lets autograd record a dozen small
ops per column; indexing column t of the skewed map costs a full-size, zero-filled gradient
per column in the backward pass, and about half of the skewed map is padding. Here instead:

- the pixels are stored diagonal by diagonal, (D, pixels, B, channels): a diagonal's rows are
  one contiguous (rows x B, channels) block per direction, so each step is two batched
  matmuls over the D directions and a few in-place elementwise ops on preallocated buffers;
  the states' blocks carry a zero row before and after, the states of (-1, j) and (r, -1);
- the padding of the skewed map is never stored or computed;
- the backward pass is the LSTM's, written out, diagonal by diagonal in reverse:

    dc = dc_next + dh ⊙ o ⊙ (1 - tanh² c)      (dc_next: from (r, j+1), through its f)
    da_i = dc ⊙ g ⊙ σ'   da_f = dc ⊙ c_prev ⊙ σ'   da_o = dh ⊙ tanh(c) ⊙ σ'   da_g = dc ⊙ i ⊙ tanh'
    dh_{r-1,j} += K_above^T da,   dh_{r,j-1} += K_same^T da,   dc_{r,j-1} = dc ⊙ f
    dK_above += da^T h_{r-1,j},   dK_same += da^T h_{r,j-1}
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

_sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input  # g ⊙ y(1 - y), into out
_tanh_backward = torch.ops.aten.tanh_backward.grad_input  # g ⊙ (1 - y²), into out


@dataclass(frozen=True)
class Diagonal:
    """Diagonal t = r + j: rows lo .. hi-1, gates at [start, start + rows) of the packed
    pixels, states at [slot, slot + rows) of the padded ones; its previous diagonal's states
    at rows lo-1 .. hi-2 begin at `above` (those at rows lo .. hi-1 one slot later)."""

    lo: int
    hi: int
    start: int
    slot: int
    above: int


@lru_cache(maxsize=16)
def diagonal_plan(H: int, W: int) -> tuple[tuple[Diagonal, ...], list[int], list[int], int]:
    """The diagonals of an H x W map; each pixel r * W + j's packed position and padded slot;
    the number of padded slots (each diagonal's rows plus a zero row at either end)."""
    diagonals, packed, slots = [], [0] * (H * W), [0] * (H * W)
    start, base, prev_lo, prev_base = 0, 2, 0, 0  # diagonal -1: two zero slots
    for t in range(W + H - 1):
        lo, hi = max(0, t - W + 1), min(H, t + 1)
        diagonals.append(Diagonal(lo, hi, start, base + 1, prev_base + lo - prev_lo))
        for r in range(lo, hi):
            packed[r * W + t - r] = start + r - lo
            slots[r * W + t - r] = base + 1 + r - lo
        start, prev_lo, prev_base, base = start + hi - lo, lo, base, base + hi - lo + 2
    return tuple(diagonals), packed, slots, base


@lru_cache(maxsize=16)
def _orders(H: int, W: int, D: int, device: torch.device) -> tuple[list[Tensor], list[Tensor]]:
    """Per direction: the pixel at each packed position, and each pixel's padded slot.
    Direction 1 scans the mirrored map: its pixel (r, j) is the map's (r, W-1-j)."""
    _, packed, slots, _ = diagonal_plan(H, W)
    pixels, slot_of = [], []
    for d in range(D):
        mirror = [r * W + (W - 1 - j if d else j) for r in range(H) for j in range(W)]
        at = [0] * (H * W)
        for q, p in zip(mirror, packed, strict=True):
            at[p] = q
        pixel_slot = [0] * (H * W)
        for q, s in zip(mirror, slots, strict=True):
            pixel_slot[q] = s
        pixels.append(torch.tensor(at, device=device))
        slot_of.append(torch.tensor(pixel_slot, device=device))
    return pixels, slot_of


class DiagonalScan(torch.autograd.Function):
    """h (H, W, B, D h) from the layer's input s (B, C, H, W) (module docstring): the gate
    inputs a = K^is s + b^is with K^is (D, 4h, C) and b^is (D, 4h), gates in the order
    i, f, o, g; K^ss (D, 4h, 2h), whose columns [:h] act on (r-1, j) and [h:] on (r, j-1).
    Direction d gives channels [d h, (d+1) h) of h. Direction 0 scans left to right;
    direction 1, if any, right to left (the mirrored map). K^is is applied here, to the
    pixels already in diagonal order, so that no (H, W, B, D 4h) map is made and then
    reordered, in either pass."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)  # under bf16-mixed too
    def forward(ctx, s: Tensor, k_is: Tensor, b_is: Tensor, k_ss: Tensor) -> Tensor:
        B, C, H, W = s.shape
        D, four_h, _ = k_ss.shape
        h, P = four_h // 4, H * W
        diagonals, _, _, n_slots = diagonal_plan(H, W)
        pixels, slot_of = _orders(H, W, D, s.device)
        s_pixels = s.flatten(2).permute(2, 0, 1)  # (P, B, C), a view
        x = s.new_empty(D, P, B, C)  # s, packed
        A = s.new_empty(D, P, B, four_h)  # a, packed; then the gates i, f, o, g
        for d in range(D):
            torch.index_select(s_pixels, 0, pixels[d], out=x[d])
            torch.addmm(b_is[d], x[d].view(P * B, C), k_is[d].t(), out=A[d].view(P * B, four_h))
        h_all = s.new_zeros(D, n_slots, B, h)  # padded slots
        c_all = s.new_zeros(D, n_slots, B, h)
        tanh_c = s.new_empty(D, P, B, h)  # packed
        k_above = k_ss[:, :, :h].transpose(1, 2).contiguous()  # (D, h, 4h)
        k_same = k_ss[:, :, h:].transpose(1, 2).contiguous()
        for q in diagonals:
            rows = q.hi - q.lo
            n = rows * B
            a = A[:, q.start : q.start + rows].view(D, n, four_h)
            a.baddbmm_(h_all[:, q.above : q.above + rows].view(D, n, h), k_above)
            a.baddbmm_(h_all[:, q.above + 1 : q.above + 1 + rows].view(D, n, h), k_same)
            a[:, :, : 3 * h].sigmoid_()
            a[:, :, 3 * h :].tanh_()
            i, f, o, g = a.split(h, dim=2)
            c = c_all[:, q.slot : q.slot + rows].view(D, n, h)
            torch.mul(f, c_all[:, q.above + 1 : q.above + 1 + rows].view(D, n, h), out=c)
            c.addcmul_(i, g)
            tc = tanh_c[:, q.start : q.start + rows].view(D, n, h)
            torch.tanh(c, out=tc)
            torch.mul(o, tc, out=h_all[:, q.slot : q.slot + rows].view(D, n, h))
        ctx.save_for_backward(x, k_is, A, h_all, c_all, tanh_c, k_above, k_same)
        ctx.shape = (H, W, B)
        out = s.new_empty(H, W, B, D * h)
        for d in range(D):
            out.view(P, B, D * h)[:, :, d * h : (d + 1) * h] = h_all[d].index_select(0, slot_of[d])
        return out

    @staticmethod
    @once_differentiable
    @torch.amp.custom_bwd(device_type="cpu")
    def backward(ctx, grad_h: Tensor) -> tuple[Tensor | None, ...]:
        x, k_is, A, h_all, c_all, tanh_c, k_above, k_same = ctx.saved_tensors
        H, W, B = ctx.shape
        D, P, _, four_h = A.shape
        h, C = four_h // 4, x.shape[3]
        diagonals, _, _, n_slots = diagonal_plan(H, W)
        pixels, slot_of = _orders(H, W, D, grad_h.device)
        dh_all = grad_h.new_empty(D, n_slots, B, h)  # the zero rows' slots collect junk
        for d in range(D):
            g_d = grad_h.reshape(P, B, D * h)[:, :, d * h : (d + 1) * h]
            dh_all[d].index_copy_(0, slot_of[d], g_d)
        dc_next = grad_h.new_zeros(D, H, B, h)  # by row: dc of (r, j-1), through f at (r, j)
        dA = torch.empty_like(A)  # packed: every position is written
        scratch = grad_h.new_empty(D, H * B, h)
        k_above_t, k_same_t = k_above.transpose(1, 2), k_same.transpose(1, 2)  # (D, 4h, h)
        dk_above, dk_same = torch.zeros_like(k_above_t), torch.zeros_like(k_same_t)
        for q in reversed(diagonals):
            rows = q.hi - q.lo
            n = rows * B
            i, f, o, g = A[:, q.start : q.start + rows].view(D, n, four_h).split(h, dim=2)
            da = dA[:, q.start : q.start + rows].view(D, n, four_h)
            da_i, da_f, da_o, da_g = da.split(h, dim=2)
            dh = dh_all[:, q.slot : q.slot + rows].view(D, n, h)
            tc = tanh_c[:, q.start : q.start + rows].view(D, n, h)
            c_prev = c_all[:, q.above + 1 : q.above + 1 + rows].view(D, n, h)
            dc = dc_next[:, q.lo : q.hi].view(D, n, h)
            tmp = scratch[:, :n]
            dc.add_(_tanh_backward(torch.mul(dh, o, out=tmp), tc, grad_input=tmp))
            _sigmoid_backward(torch.mul(dh, tc, out=da_o), o, grad_input=da_o)
            _sigmoid_backward(torch.mul(dc, g, out=da_i), i, grad_input=da_i)
            _sigmoid_backward(torch.mul(dc, c_prev, out=da_f), f, grad_input=da_f)
            _tanh_backward(torch.mul(dc, i, out=da_g), g, grad_input=da_g)
            dc.mul_(f)  # dc_next of (r, j-1)
            above = h_all[:, q.above : q.above + rows].view(D, n, h)
            same = h_all[:, q.above + 1 : q.above + 1 + rows].view(D, n, h)
            dk_above.baddbmm_(da.transpose(1, 2), above)
            dk_same.baddbmm_(da.transpose(1, 2), same)
            dh_all[:, q.above : q.above + rows].view(D, n, h).baddbmm_(da, k_above_t)
            dh_all[:, q.above + 1 : q.above + 1 + rows].view(D, n, h).baddbmm_(da, k_same_t)
        da_flat, x_flat = dA.view(D, P * B, four_h), x.view(D, P * B, C)
        ds = None
        if ctx.needs_input_grad[0]:
            ds = grad_h.new_empty(B, C, H, W)
            ds_pixels = ds.flatten(2).permute(2, 0, 1)  # (P, B, C), a view
            dx = torch.bmm(da_flat, k_is).view(D, P, B, C)
            ds_pixels.index_copy_(0, pixels[0], dx[0])
            for d in range(1, D):
                ds_pixels.index_add_(0, pixels[d], dx[d])
        dk_is = torch.bmm(da_flat.transpose(1, 2), x_flat) if ctx.needs_input_grad[1] else None
        db_is = da_flat.sum(1) if ctx.needs_input_grad[2] else None
        return ds, dk_is, db_is, torch.cat((dk_above, dk_same), dim=2)


def diagonal_lstm_scan(s: Tensor, k_is: Tensor, b_is: Tensor, k_ss: Tensor) -> Tensor:
    """The Diagonal LSTM in D = 1 or 2 directions (DiagonalScan): h (H, W, B, D h) from the
    input s (B, C, H, W), the 1x1 input-to-state kernels K^is (D, 4h, C) and biases
    b^is (D, 4h), and the state-to-state kernels K^ss (D, 4h, 2h)."""
    D, four_h = k_ss.shape[:2]
    if (
        s.dim() != 4
        or D not in (1, 2)
        or k_ss.shape != (D, four_h, four_h // 2)
        or k_is.shape != (D, four_h, s.shape[1])
        or b_is.shape != (D, four_h)
    ):
        raise ValueError(
            f"expected s (B, C, H, W), k_is (D, 4h, C), b_is (D, 4h), k_ss (D, 4h, 2h) with "
            f"D = 1 or 2; got {tuple(s.shape)}, {tuple(k_is.shape)}, {tuple(b_is.shape)}, "
            f"{tuple(k_ss.shape)}"
        )
    return DiagonalScan.apply(s, k_is, b_is, k_ss)
