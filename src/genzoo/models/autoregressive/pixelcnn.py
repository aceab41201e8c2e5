"""PixelCNN: masked convolutions over a raster scan, with R→G→B colour ordering.

A. van den Oord, N. Kalchbrenner and K. Kavukcuoglu, "Pixel Recurrent Neural Networks",
ICML 2016, arXiv:1601.06759 (Sec. 3.4-3.5, Table 4 and Fig. 5).

    p(x) = Π_{i,j} Π_c p(x_{c,i,j} | x_{<(i,j)}, x_{<c,(i,j)})

Every layer is a convolution whose kernel is masked below and right of the centre, so that
the output at (i, j) sees only earlier pixels. The first layer's mask is type A: at the
centre, colour g sees only colours < g. Later layers use type B: colour g also sees group
g, which by then carries only information about colours < g. The network (Table 4):

    7x7 conv, mask A, 2h channels
    n_blocks x residual block (Fig. 5):
        s + 1x1(h→2h) ∘ ReLU ∘ 3x3 mask B (h→h) ∘ ReLU ∘ 1x1(2h→h) ∘ ReLU (s)
    ReLU, 1x1 mask B, ReLU, 1x1 mask B → per colour channel, the head's parameters

Blind spot: stacked 3x3 masked kernels never reach some pixels above and to the right
(e.g. (i-1, j+2) with a 3x3 first layer). The gated PixelCNN's two stacks remove it; this
file does not implement them (see tests/test_pixel.py, which documents the blind spot).

Sampling (Ramachandran et al. 2017, "Fast Generation for Convolutional Autoregressive
Models", arXiv:1704.06001): each layer's output at (i, j) depends only on layer inputs at
positions up to (i, j) in raster order, all final once pixel (i, j) is drawn. So each step
computes every layer at the one pixel being generated and stores it in that layer's padded
input buffer: one pixel's worth of work per step instead of a whole forward pass. At that
size a step costs its number of small ops, so each layer's part from the rows above, final
when a row starts, is computed for the whole row by one convolution, and a step adds only
the current row's taps at its pixel.

Deviations from the paper:
- Kernels store only the rows the mask keeps (nn.masked.MaskedConv2d): same function,
  about half the multiply-adds.
- The head is a choice: Bernoulli (binary, as for MNIST), 256-way softmax (Sec. 3.4), or
  a discretised logistic mixture (PixelCNN++).
- Sizes default to the small MNIST setting of the issue's benchmark (h=16, 15 blocks), not
  to the CIFAR network (h=128).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core import DataInfo, register
from genzoo.core.config import at_least, odd
from genzoo.models.autoregressive.pixel import PixelModel, Step
from genzoo.nn.masked import MaskedConv2d


@dataclass
class PixelCNNConfig:
    # h; the residual stream has 2h channels (Fig. 5)
    hidden_channels: int = field(default=16, metadata=at_least(1))
    # residual blocks (Table 4 stacks 15 layers for CIFAR-10)
    n_blocks: int = field(default=15, metadata=at_least(1))
    first_kernel: int = field(default=7, metadata=at_least(1) | odd())  # Table 4: 7x7 conv, mask A
    kernel: int = field(default=3, metadata=at_least(1) | odd())  # Fig. 5: 3x3 conv, mask B
    # the two 1x1 output layers (Table 4; 1024 for CIFAR)
    out_channels: int = field(default=32, metadata=at_least(1))
    head: str = "auto"  # auto | bernoulli | categorical | logistic-mixture
    # logistic-mixture components per channel (PixelCNN++ uses 10)
    n_mixtures: int = field(default=5, metadata=at_least(1))


class ResidualBlock(nn.Module):
    """Fig. 5: 2h → h (1x1) → h (masked k x k) → 2h (1x1), each after a ReLU, plus the input."""

    def __init__(self, h: int, kernel: int, n_colours: int):
        super().__init__()
        self.reduce = MaskedConv2d(2 * h, h, 1, "B", n_colours)
        self.conv = MaskedConv2d(h, h, kernel, "B", n_colours)
        self.expand = MaskedConv2d(h, 2 * h, 1, "B", n_colours)

    def forward(self, s: Tensor) -> Tensor:
        # in-place ReLUs on fresh conv outputs: fewer large allocations (the conv backward
        # needs its input, not its output, so autograd allows it)
        t = self.reduce(F.relu(s))
        t = self.conv(t.relu_())
        return s + self.expand(t.relu_())


class RowConv:
    """A masked convolution evaluated a row at a time, for sampling. `current` holds the
    current row's inputs pixel by pixel after r_w zero pixels (B, (r_w + W) * in), written
    through `slot[j]`; `patch[j]` is what the centre row's taps see at (i, j). `above[j]`
    (B, out + 1) is set by `start_row` to the output at (i, j) from the rows above plus the
    bias, with a last feature 1 that `current_taps` keeps."""

    def __init__(self, conv: MaskedConv2d, B: int, W: int, like: Tensor):
        self.conv = conv
        c_in, r_w = conv.in_channels, conv.r_w
        self.above_taps, current_taps = conv.split_rows()
        self.current_taps = F.pad(current_taps, (0, 1))  # ((r_w + 1) * in, out + 1)
        self.current = like.new_zeros(B, (r_w + W) * c_in)
        self.above = like.new_ones(W, B, conv.out_channels + 1)
        self.slot = [self.current[:, (r_w + j) * c_in : (r_w + j + 1) * c_in] for j in range(W)]
        self.patch = [self.current[:, j * c_in : (r_w + j + 1) * c_in] for j in range(W)]

    def row(self) -> Tensor:
        """The current row's inputs, (B, W, in)."""
        B, c_in = self.current.shape[0], self.conv.in_channels
        return self.current[:, self.conv.r_w * c_in :].view(B, -1, c_in)

    def start_row(self, rows: Tensor) -> None:
        """`rows`: the inputs in the up to r_h rows above the current one, (B, in, n, W)."""
        conv, bias = self.conv, self.conv.bias
        if conv.r_h == 0:
            self.above[:, :, :-1] = 0.0 if bias is None else bias
            return
        rows = F.pad(rows, (conv.r_w, conv.r_w, conv.r_h - rows.shape[2], 0))
        y = F.conv2d(rows, self.above_taps, bias)  # (B, out, 1, W)
        self.above[:, :, :-1] = y[:, :, 0].permute(2, 0, 1)


@register("pixelcnn", family="autoregressive", description="PixelCNN, masked convolutions")
class PixelCNN(PixelModel):
    Config = PixelCNNConfig

    def __init__(self, config: PixelCNNConfig, data: DataInfo):
        super().__init__(config, data)
        h = config.hidden_channels
        self.build_ends(config.first_kernel, 2 * h, config.out_channels)
        self.blocks = nn.ModuleList(
            ResidualBlock(h, config.kernel, self.n_colours) for _ in range(config.n_blocks)
        )

    def body(self, s: Tensor) -> Tensor:
        for block in self.blocks:
            s = block(s)
        return s

    def stepper(self, x: Tensor) -> Step:
        """Incremental sampling (module docstring), a row at a time. At the start of row i
        every layer's output from the rows above, final by then, is computed for the whole
        row at once (`RowConv`); a step then adds only the current row's taps at its pixel.
        Every bias rides on an extra feature fixed at 1, so that each layer at a pixel is
        one matrix product: a step's cost is its number of small ops, not their size."""
        B, (C, H, W) = x.shape[0], self.data.shape
        first = RowConv(self.conv_in, B, W, x)
        convs = [RowConv(b.conv, B, W, x) for b in self.blocks]
        past = [x.new_zeros(B, b.conv.in_channels, H, W) for b in self.blocks]  # (B, h, H, W)
        # per block: [reduce; bias] (2h + 1, h), [expand; bias] (h + 1, 2h + 1) whose last
        # column of zeros keeps the stream's feature 1; conv_in's output has it already
        reduce = [b.reduce.affine_matrix() for b in self.blocks]
        expand = [F.pad(b.expand.affine_matrix(), (0, 1)) for b in self.blocks]
        out1 = F.pad(self.out1.affine_matrix(), (0, 1))
        out1[-1, -1] = 1.0  # carries the 1 on to out2's bias
        out2 = self.out2.affine_matrix().view(-1, C, self.head.n_params)  # (out + 1, C, P)
        out2 = [out2[:, c].contiguous() for c in range(C)]
        plan = [
            [(r, k.slot[j], k.above[j], k.patch[j], k.current_taps, e)
             for r, k, e in zip(reduce, convs, expand, strict=True)]
            for j in range(W)
        ]  # fmt: skip

        # a pixel's single step may add into `above` in place; with colours it is revisited
        conv_at = torch.Tensor.addmm_ if C == 1 else torch.addmm

        def start_row(i: int) -> None:
            r_h = self.conv_in.r_h
            first.start_row(self.scaled(x[:, :, max(i - r_h, 0) : i]))
            for conv, rows in zip(convs, past, strict=True):
                if i > 0:
                    rows[:, :, i - 1] = conv.row().transpose(1, 2)
                conv.start_row(rows[:, :, max(i - conv.conv.r_h, 0) : i])

        def step(i: int, j: int, c: int) -> Tensor:
            if c == 0 and j == 0:
                start_row(i)
            if c == 0 and j > 0:  # the previous pixel is complete
                first.slot[j - 1].copy_(self.scaled(x[:, :, i, j - 1]))
            if c > 0:  # its channels < c; at c = 0 the centre tap sees none (mask A)
                first.slot[j].copy_(self.scaled(x[:, :, i, j]))
            s = conv_at(first.above[j], first.patch[j], first.current_taps)  # (B, 2h + 1)
            for w_reduce, t, above, patch, w_conv, w_expand in plan[j]:
                torch.mm(s.clamp_min(0.0), w_reduce, out=t).relu_()  # t: conv's input at (i, j)
                s.addmm_(conv_at(above, patch, w_conv).relu_(), w_expand)
            return torch.mm(torch.mm(s.clamp_min(0.0), out1).relu_(), out2[c])  # (B, P)

        return step
