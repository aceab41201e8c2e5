"""What every autoregressive image model shares: the ordering, the output head, sampling,
and completion of partly observed images.

    p(x) = Π_{i,j} Π_c p(x_{c,i,j} | x_{<(i,j)}, x_{<c,(i,j)})

over pixels in raster order (row by row, left to right) and, within a pixel, over colour
channels in order: R, then G given R, then B given R and G (van den Oord et al. 2016,
"Pixel Recurrent Neural Networks", arXiv:1601.06759, Sec. 2.1).

A subclass builds the shared first and output layers (`build_ends`) and its `body` between
them; `params(x)` then gives every conditional's raw head parameters in one pass. It may
also override `stepper(x)` to compute them one step at a time during sampling, reusing what
earlier steps computed; the default recomputes the whole network at every step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.core import AutoregressiveModel, DataInfo, GenzooError
from genzoo.nn.masked import MaskedConv2d
from genzoo.nn.pixel_heads import make_head

Step = Callable[[int, int, int], Tensor]  # (i, j, c) -> head parameters (B, P)

KNOWN_REGIONS = ("top-half", "bottom-half", "left-half", "right-half")


def raster_channel_order(shape: tuple[int, int, int]) -> Tensor:
    """order[t] = the flat (C, H, W) index generated t-th: pixels in raster order, then channels."""
    C, H, W = shape
    index = torch.arange(C * H * W).reshape(C, H, W)
    return index.permute(1, 2, 0).flatten()


def known_region(region: str, shape: tuple[int, int, int]) -> Tensor:
    """A (C, H, W) boolean mask of the observed pixels, by name."""
    C, H, W = shape
    known = torch.zeros(shape, dtype=torch.bool)
    if region == "top-half":
        known[:, : H // 2] = True
    elif region == "bottom-half":
        known[:, H // 2 :] = True
    elif region == "left-half":
        known[:, :, : W // 2] = True
    elif region == "right-half":
        known[:, :, W // 2 :] = True
    else:
        raise GenzooError(f"unknown region {region!r}: expected one of {', '.join(KNOWN_REGIONS)}")
    return known


class PixelModel(AutoregressiveModel):
    """Base class of PixelCNN and PixelRNN; the config needs `head` and `n_mixtures`."""

    data_kinds = frozenset({"binary", "categorical"})
    micro_batch = 32  # training chunk: cache-sized activations (benchmarks/pixel_models.py)

    def __init__(self, config, data: DataInfo):
        super().__init__(config, data)
        if len(data.shape) != 3:
            raise GenzooError(f"{type(self).__name__} models images (C, H, W), got {data.shape}")
        self.n_colours = data.shape[0]
        self.head = make_head(config.head, data.n_values, config.n_mixtures)
        self.register_buffer("order", raster_channel_order(data.shape), persistent=False)

    def build_ends(self, first_kernel: int, stream: int, out_channels: int) -> None:
        """Table 4's first and last layers, shared by PixelCNN and PixelRNN: a k x k mask A
        conv into `stream` channels, and ReLU, 1x1 mask B, ReLU, 1x1 mask B out of them to
        C x P head parameters."""
        C = self.n_colours
        self.conv_in = MaskedConv2d(C, stream, first_kernel, "A", C)
        self.out1 = MaskedConv2d(stream, out_channels, 1, "B", C)
        self.out2 = MaskedConv2d(out_channels, C * self.head.n_params, 1, "B", C)

    def params(self, x: Tensor) -> Tensor:
        """Head parameters of every conditional, (B, C, H, W, P), from images (B, C, H, W)."""
        return self.output(self.body(self.conv_in(self.scaled(x))))

    def body(self, s: Tensor) -> Tensor:
        """The layers between `conv_in` and the output layers, on maps (B, stream, H, W)."""
        raise NotImplementedError

    def output(self, s: Tensor) -> Tensor:
        theta = self.out2(F.relu(self.out1(F.relu(s))))  # (B, C*P, H, W)
        B, _, H, W = theta.shape
        return theta.view(B, self.n_colours, -1, H, W).permute(0, 1, 3, 4, 2)

    def ends_at(self, x: Tensor) -> tuple[Callable[[int, int], Tensor], Callable]:
        """The first and last layers at one pixel, for incremental sampling:
        `first(i, j)` -> conv_in's output there (B, stream), and `last(s, c)` -> channel c's
        head parameters (B, P) from the stream there."""
        B = x.shape[0]
        x_pad = self.conv_in.pad(torch.zeros_like(x))
        r_h, r_w = self.conv_in.r_h, self.conv_in.r_w
        previous = [(0, 0)]
        k_in, k_1, k_2 = self.conv_in.matrix(), self.out1.matrix(), self.out2.matrix()

        def first(i: int, j: int) -> Tensor:
            # the caller filled x since the last call: the previous pixel's last channel
            # (drawn after its final step) and this pixel's channels < c. No feature at a
            # pixel depends on its last channel (mask A), so what the previous pixel's
            # final step computed is final.
            for p, q in (previous[0], (i, j)):
                x_pad[:, :, p + r_h, q + r_w] = self.scaled(x[:, :, p, q])
            previous[0] = (i, j)
            return self.conv_in.forward_at(x_pad, i, j, k_in)

        def last(s: Tensor, c: int) -> Tensor:
            theta = self.out2.pointwise(F.relu(self.out1.pointwise(F.relu(s), k_1)), k_2)
            return theta.view(B, self.n_colours, -1)[:, c]

        return first, last

    def scaled(self, x: Tensor) -> Tensor:
        """The network's input: values {0..K-1} mapped to [-1, 1]."""
        return x * (2.0 / (self.data.n_values - 1)) - 1.0

    def log_prob(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], *self.data.shape)
        return self.head.log_prob(self.params(x), x).flatten(1).sum(1)

    def conditionals(self, x: Tensor) -> Tensor:
        """Logits by dimension, (B, D) or (B, D, K), for the Bernoulli and softmax heads."""
        if self.head.name == "logistic-mixture":
            raise GenzooError("the logistic-mixture head has no per-value logits")
        theta = self.params(x.reshape(x.shape[0], *self.data.shape)).flatten(1, 3)
        return theta[..., 0] if self.head.name == "bernoulli" else theta

    # --- sampling ---------------------------------------------------------------------------

    def stepper(self, x: Tensor) -> Step:
        """Full recompute: one whole forward pass per (pixel, channel). `x` is filled in place
        by the caller, in order, between calls."""
        return lambda i, j, c: self.params(x)[:, c, i, j]

    @torch.no_grad()
    def generate(
        self,
        x: Tensor,
        known: Tensor | None = None,
        generator: torch.Generator | None = None,
        cached: bool = True,
    ) -> Tensor:
        """Fill in x (B, C, H, W) in the model's order, keeping the pixels where `known`.

        Every step draws its uniforms whether or not the value is kept, so a given seed gives
        the same draws for sampling and for completion, and for both step functions.
        """
        was_training, threads = self.training, torch.get_num_threads()
        self.eval()
        # each step is a chain of tiny ops: a second thread only adds synchronisation, and
        # on a loaded machine spin-waiting threads made sampling 100x slower (measured)
        torch.set_num_threads(1)
        x = x.to(device=self.device, dtype=self.dtype).clone()
        if known is not None:
            known = known.to(self.device).expand_as(x)
        step = self.stepper(x) if cached else PixelModel.stepper(self, x)
        C, H, W = self.data.shape
        try:
            for i in range(H):
                for j in range(W):
                    for c in range(C):
                        value = self.head.sample(step(i, j, c), generator)
                        if known is not None:
                            value = torch.where(known[:, c, i, j], x[:, c, i, j], value)
                        x[:, c, i, j] = value
        finally:
            torch.set_num_threads(threads)
            self.train(was_training)
        return x

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        x = torch.zeros(n, *self.data.shape, device=self.device, dtype=self.dtype)
        return self.generate(x, generator=generator)

    def complete(self, x: Tensor, known: Tensor, generator: torch.Generator | None = None):
        """Sample the unknown pixels of x given the known ones (inpainting in model order)."""
        return self.generate(x, known, generator)
