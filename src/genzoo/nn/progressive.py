"""The building blocks of a progressively grown GAN, shared by ProGAN and StyleGAN.

T. Karras, T. Aila, S. Laine and J. Lehtinen, "Progressive Growing of GANs for Improved
Quality, Stability, and Variation", ICLR 2018 (arXiv:1710.10196).

Equalized learning rate (Sec. 4.1): the stored weight w ~ N(0, 1); the layer uses
    ŵ = c · w,   c = gain / sqrt(fan_in)   (He's constant for gain = sqrt(2))
at run time, so that Adam, which normalises each update by its gradient's scale, moves
every layer's effective weights at the same speed.

Pixelwise feature normalization (Sec. 4.2), at every pixel (x, y) of a: (B, C, H, W)
    b_xy = a_xy / sqrt(1/C Σ_j (a_xy^j)² + ε),   ε = 1e-8

Minibatch standard deviation (Sec. 3): the standard deviation of every feature at every
pixel over the minibatch, averaged into one number, appended as a constant feature map.

Fade-in (Sec. 2, Fig. 2): while a block of resolution 2r is new, the output is
    (1 − α) · upsample(old path at r) + α · new path at 2r,   α rising linearly 0 → 1;
the real images the discriminator sees are blended in the same way.

The schedule (Sec. 2, App. A.1): 4×4 for one phase, then for each further resolution a
fade phase (α from 0 to 1) and a stabilising phase (α = 1), each of `images_per_phase`
real images (800k in the paper); the last resolution stays.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

HE_GAIN = math.sqrt(2.0)


class EqualizedLinear(nn.Module):
    """y = x (c·w)ᵀ + b, w ~ N(0, 1), c = gain / sqrt(in_features), b = 0 at start.

    With a learning-rate multiplier λ (StyleGAN's mapping network, λ = 0.01, Sec. 4 of
    arXiv:1812.04948 and App. C): w ~ N(0, 1/λ²) is stored and ŵ = λ·c·w, b̂ = λ·b are used,
    so the effective weights start as before but Adam, whose steps in w are about lr
    whatever the gradient's scale, moves ŵ λ times as fast."""

    def __init__(self, in_features: int, out_features: int, gain: float = HE_GAIN,
                 lr_multiplier: float = 1.0):  # fmt: skip
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features) * lr_multiplier  # c·λ
        self.lr_multiplier = lr_multiplier

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_multiplier)


class EqualizedConv2d(nn.Module):
    """A 'same'-padded k×k convolution with weights c·w, c = gain / sqrt(C_in · k · k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 gain: float = HE_GAIN):  # fmt: skip
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)  # c
        self.padding = kernel_size // 2

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class PixelNorm(nn.Module):
    """a / sqrt(mean_c a² + ε) at every pixel (Sec. 4.2, Eq. in text); also for z (B, L)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, a: Tensor) -> Tensor:
        return a * torch.rsqrt(a.pow(2).mean(dim=1, keepdim=True) + self.eps)


class MinibatchStdDev(nn.Module):
    """(B, C, H, W) -> (B, C + 1, H, W): the last channel is the standard deviation over
    the batch of each (feature, pixel), averaged over features and pixels (Sec. 3)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        d = x - x.mean(dim=0)  # the mean of squared deviations: x.var(dim=0) is slower on CPU
        std = torch.sqrt(d.square().mean(dim=0) + self.eps)  # (C, H, W)
        s = std.mean().expand(len(x), 1, *x.shape[2:])  # (B, 1, H, W)
        return torch.cat([x, s], dim=1)


def upsample(x: Tensor) -> Tensor:
    """×2 by nearest neighbour, the paper's upsampling (Table 2)."""
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def downsample(x: Tensor) -> Tensor:
    """÷2 by 2×2 average pooling, the paper's downsampling (Table 2)."""
    return F.avg_pool2d(x, 2)


def fade_in(old: Tensor, new: Tensor, alpha: float) -> Tensor:
    """(1 − α) · old + α · new: the old path's output (already resized) and the new block's."""
    return old + alpha * (new - old)


def resize_to(x: Tensor, resolution: int) -> Tensor:
    """Average-pool x (B, C, R, R) down to (B, C, resolution, resolution), R/resolution a
    power of 2; or upsample by nearest neighbour when resolution > R."""
    while x.shape[-1] > resolution:
        x = downsample(x)
    while x.shape[-1] < resolution:
        x = upsample(x)
    return x


def real_images_at(x: Tensor, resolution: int, alpha: float) -> Tensor:
    """The real images at the current resolution, blended during a fade as the generator's
    output is: (1 − α) · upsample(downsample(x_r)) + α · x_r (Sec. 2; the authors' code)."""
    x_r = resize_to(x, resolution)
    if alpha >= 1.0 or resolution <= 4:
        return x_r
    return fade_in(upsample(downsample(x_r)), x_r, alpha)


def progressive_stage(images_seen: int, images_per_phase: int, n_stages: int) -> tuple[int, float]:
    """(stage, α) after `images_seen` real images: stage k trains resolution 4·2^k.

    Stage 0 is stable for one phase; every later stage fades in for one phase (α = t / P,
    t the images seen in it) and is stable for one; the last stage stays, at α = 1.
    """
    P = images_per_phase
    if images_seen < P:
        return 0, 1.0
    stage, t = divmod(images_seen - P, 2 * P)
    stage += 1
    if stage >= n_stages:
        return n_stages - 1, 1.0
    return stage, min(1.0, t / P)
