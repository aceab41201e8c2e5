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
input buffer: one pixel's worth of work per step instead of a whole forward pass.

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
        """Incremental sampling: every layer at the current pixel only (module docstring)."""
        B, (_, H, W) = x.shape[0], self.data.shape
        first, last = self.ends_at(x)
        buffers = [b.conv.pad(x.new_zeros(B, b.conv.in_channels, H, W)) for b in self.blocks]

        def step(i: int, j: int, c: int) -> Tensor:
            s = first(i, j)  # (B, 2h)
            for b, buf in zip(self.blocks, buffers, strict=True):
                t = b.reduce.pointwise(F.relu(s))
                buf[:, :, i + b.conv.r_h, j + b.conv.r_w] = F.relu(t)
                t = b.conv.forward_at(buf, i, j)
                s = s + b.expand.pointwise(F.relu(t))
            return last(s, c)

        return step
