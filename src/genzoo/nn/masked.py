"""Masked layers for autoregressive networks (MADE, Germain et al. 2015, arXiv:1502.03509).

The mask is a buffer applied to the weight on every forward pass, so autograd sees it:
masked weights get exactly zero gradient and the weight tensor itself is never edited.
MaskedLinear computes only the unmasked blocks when its mask is a staircase (MADE's are,
genzoo.nn.staircase) and `F.linear(x, W ⊙ M, b)` otherwise; MaskedConv2d stores only the
kernel rows its mask keeps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.nn.staircase import Staircase, degree_staircase, find_staircase, staircase_linear


class MaskedLinear(nn.Linear):
    """y = x (W ⊙ M)^T + b with a 0/1 mask M of shape (out_features, in_features).

    When M is a staircase up to an order of its rows and columns (each row a prefix of ones,
    the prefixes growing row by row: every MADE mask, taken in order of degree), only the
    blocks left of the staircase are computed (genzoo.nn.staircase): the same function and
    the same gradients, about half the multiply-adds. Any other mask, and a staircase that
    needs reordering on a matrix too small to gain from it, takes the dense
    `F.linear(x, W ⊙ M, b)`.
    """

    mask: Tensor

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__(in_features, out_features, bias)
        self.register_buffer("mask", torch.ones(out_features, in_features))
        # the mask's staircase, and which mask tensor (and which version of its contents)
        # it was found for: any write to the buffer makes it stale
        self._stairs: Staircase | None = None
        self._stairs_of: tuple[Tensor, int] | None = None
        self._memory: dict = {}  # kept across masks: see genzoo.nn.staircase.scratch

    def set_mask(self, mask: Tensor) -> None:
        if mask.shape != self.mask.shape:
            raise ValueError(
                f"mask has shape {tuple(mask.shape)}, expected {tuple(self.mask.shape)}"
            )
        self.mask.copy_(mask)

    def set_degree_mask(self, out_degrees: Tensor, in_degrees: Tensor, strict: bool) -> None:
        """M[k, j] = 1[m_out(k) > m_in(j)] (strict) or 1[m_out(k) ≥ m_in(j)]: MADE's masks.
        The staircase comes from the degrees, without searching the mask for it."""
        m_out, m_in = out_degrees[:, None], in_degrees[None, :]
        self.mask.copy_(m_out > m_in if strict else m_out >= m_in)
        self._stairs = degree_staircase(out_degrees, in_degrees, strict)
        if self._stairs is not None:
            self._stairs.memory = self._memory
        self._stairs_of = (self.mask, self.mask._version)

    def staircase(self) -> Staircase | None:
        """How the mask is computed as a staircase, or None when it is not one."""
        seen = self._stairs_of
        if seen is None or seen[0] is not self.mask or seen[1] != self.mask._version:
            self._stairs = find_staircase(self.mask)
            if self._stairs is not None:
                self._stairs.memory = self._memory
            self._stairs_of = (self.mask, self.mask._version)
        return self._stairs

    def _apply(self, fn, recurse=True):
        # .to() and the like make new tensors: forget the old mask and memory
        self._stairs_of = None
        self._memory.clear()
        return super()._apply(fn, recurse)

    def forward(self, x: Tensor) -> Tensor:
        stairs = self.staircase()
        if stairs is None:
            return F.linear(x, self.weight * self.mask, self.bias)
        return staircase_linear(x, self.weight, self.bias, stairs)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, connections={int(self.mask.sum())}"


# --- masked convolutions over a raster scan (PixelCNN / PixelRNN, arXiv:1601.06759) ---------


def colour_groups(n_features: int, n_colours: int) -> Tensor:
    """Split n_features channels into n_colours contiguous groups: group g serves colour g.

    With n_features == n_colours this is the identity (data channel c is colour c); an
    output layer with n_colours * P channels gets P consecutive channels per colour.
    """
    if n_features < n_colours:
        raise ValueError(f"{n_features} channels cannot be split over {n_colours} colours")
    return torch.arange(n_features) * n_colours // n_features


def colour_mask(out_groups: Tensor, in_groups: Tensor, mask_type: str) -> Tensor:
    """The (out, in) connections at the current pixel: type "A" lets colour g see only the
    colours before it (the first layer: R sees nothing, G sees R, B sees R and G); type "B"
    also lets it see its own group (every later layer, whose group g already excludes x_g)."""
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    out_g, in_g = out_groups[:, None], in_groups[None, :]
    return (in_g < out_g if mask_type == "A" else in_g <= out_g).float()


class MaskedConv2d(nn.Conv2d):
    """A convolution whose output at pixel (i, j) sees only pixels before it in raster order.

    It behaves as the k_h x k_w PixelCNN kernel masked below and right of the centre, with the
    colour mask at the centre tap. The rows below the centre are all zero in that mask, so
    the stored kernel keeps only rows -k_h//2 .. 0 (and the input is padded above, not below):
    the same function with about half the multiply-adds. The mask is applied as
    `F.conv2d(x, W ⊙ M)`, so masked weights get exactly zero gradient.

    `out_groups` overrides the colour group of each output channel (an LSTM's gates, say).
    """

    mask: Tensor

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        mask_type: str,
        n_colours: int = 1,
        bias: bool = True,
        out_groups: Tensor | None = None,
    ):
        k_h, k_w = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        if k_h % 2 == 0 or k_w % 2 == 0:
            raise ValueError(f"kernel size must be odd, got {k_h}x{k_w}")
        self.r_h, self.r_w = k_h // 2, k_w // 2
        super().__init__(in_channels, out_channels, (self.r_h + 1, k_w), bias=bias)
        if out_groups is None:
            out_groups = colour_groups(out_channels, n_colours)
        mask = torch.ones_like(self.weight)
        mask[:, :, -1, self.r_w + 1 :] = 0  # right of the centre, on the current row
        in_groups = colour_groups(in_channels, n_colours)
        mask[:, :, -1, self.r_w] = colour_mask(out_groups, in_groups, mask_type)
        self.register_buffer("mask", mask)
        self.mask_type = mask_type

    def masked_weight(self) -> Tensor:
        return self.weight * self.mask

    def pad(self, x: Tensor) -> Tensor:
        """Zero padding that makes the output the input's size: r_h rows above, r_w each side."""
        return F.pad(x, (self.r_w, self.r_w, self.r_h, 0))

    def forward(self, x: Tensor) -> Tensor:
        if self.kernel_size == (1, 1):
            # a matrix product per image: on CPU a batched GEMM, forward and backward, is
            # faster than the convolution for these layers (benchmarks/pixel_models.py)
            B, _, H, W = x.shape
            w = self.matrix().expand(B, -1, -1)  # (B, out, in)
            if self.bias is None:
                return torch.bmm(w, x.flatten(2)).view(B, -1, H, W)
            return torch.baddbmm(self.bias[:, None], w, x.flatten(2)).view(B, -1, H, W)
        # padding above only: a padded copy of x, but symmetric padding and dropping the
        # r_h extra rows at the bottom made the backward pass several times slower on CPU
        # (the first layer's most: benchmarks/pixel_models.py)
        return F.conv2d(self.pad(x), self.masked_weight(), self.bias)

    def matrix(self) -> Tensor:
        """The masked kernel as one matrix (out, in · kernel rows · kernel columns): the
        weight of `pointwise` and `forward_at`, which a sampler that calls them at every
        pixel takes once and passes in (it stays fixed while sampling)."""
        return self.masked_weight().flatten(1)

    def pointwise(self, v: Tensor, matrix: Tensor | None = None) -> Tensor:
        """A 1x1 layer on one pixel's features (..., in) -> (..., out)."""
        if self.kernel_size != (1, 1):
            raise ValueError(f"pointwise needs a 1x1 kernel, this one is {self.kernel_size}")
        return F.linear(v, self.matrix() if matrix is None else matrix, self.bias)

    def forward_at(self, x_padded: Tensor, i: int, j: int, matrix: Tensor | None = None) -> Tensor:
        """The output at one pixel, (B, out), from an input already padded by `pad`.
        Used by incremental sampling: only the pixels this one sees are read."""
        patch = x_padded[:, :, i : i + self.r_h + 1, j : j + 2 * self.r_w + 1]
        return F.linear(patch.flatten(1), self.matrix() if matrix is None else matrix, self.bias)

    def split_rows(self) -> tuple[Tensor, Tensor]:
        """The masked kernel split for evaluation one image row at a time: the rows above
        the centre, (out, in, r_h, k_w), and the centre row's taps up to the centre as one
        matrix ((r_w + 1) * in, out) whose rows run over (tap, in channel), the order of a
        row stored pixel by pixel."""
        w = self.masked_weight()
        current = w[:, :, -1, : self.r_w + 1].permute(2, 1, 0).reshape(-1, self.out_channels)
        return w[:, :, :-1], current

    def affine_matrix(self) -> Tensor:
        """A 1x1 layer as one matrix (in + 1, out): v ↦ [v, 1] @ M is `pointwise(v)`."""
        if self.kernel_size != (1, 1):
            raise ValueError(f"affine_matrix needs a 1x1 kernel, this one is {self.kernel_size}")
        bias = self.bias if self.bias is not None else self.weight.new_zeros(self.out_channels)
        return torch.cat([self.matrix().t(), bias[None]])

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mask_type={self.mask_type}"
