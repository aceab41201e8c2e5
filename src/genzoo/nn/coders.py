"""Encoders and decoders for latent-variable models: an MLP and a small conv net.

    encoder: image (B, C, H, W) -> vector (B, out_dim)
    decoder: vector (B, in_dim) -> per-pixel parameters (B, C, H, W, P)

The conv pair halves the resolution twice with stride-2 convolutions (kernel 4) and
doubles it back with transposed convolutions, as in DCGAN-style networks. Images whose
sides are not multiples of 4 are zero-padded on the way in and cropped on the way out, so
the same net serves 8x8 digits, 28x28 MNIST and 32x32 colour images.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky-relu": lambda: nn.LeakyReLU(0.2)}


def mlp(sizes: list[int], activation: str = "relu") -> nn.Sequential:
    """Linear layers of the given sizes with `activation` between them (not after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    def __init__(self, shape, out_dim: int, hidden_dims, activation: str):
        super().__init__()
        self.net = mlp([math.prod(shape), *hidden_dims, out_dim], activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1))


class MLPDecoder(nn.Module):
    def __init__(self, in_dim: int, shape, n_params: int, hidden_dims, activation: str):
        super().__init__()
        self.shape, self.n_params = tuple(shape), n_params
        self.net = mlp([in_dim, *hidden_dims, math.prod(shape) * n_params], activation)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).reshape(*z.shape[:-1], *self.shape, self.n_params)


def _padded(side: int) -> int:
    return 4 * math.ceil(side / 4)


def _norm(batch_norm: bool, n: int, dims: int = 2) -> nn.Module:
    if not batch_norm:
        return nn.Identity()
    return nn.BatchNorm2d(n) if dims == 2 else nn.BatchNorm1d(n)


class ConvEncoder(nn.Module):
    """With `batch_norm`, the DCGAN discriminator: BatchNorm on every layer but the input."""

    def __init__(self, shape, out_dim: int, channels, activation: str, batch_norm: bool = False):
        super().__init__()
        c, h, w = shape
        c1, c2 = channels
        self.pad = (0, _padded(w) - w, 0, _padded(h) - h)
        act = ACTIVATIONS[activation]
        self.net = nn.Sequential(
            nn.Conv2d(c, c1, 4, stride=2, padding=1), act(),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), _norm(batch_norm, c2), act(),
            nn.Flatten(),
            nn.Linear(c2 * _padded(h) // 4 * _padded(w) // 4, out_dim),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.net(F.pad(x, self.pad))


class ConvDecoder(nn.Module):
    """With `batch_norm`, the DCGAN generator: project and reshape, then fractionally
    strided convolutions, BatchNorm on every layer but the output."""

    def __init__(self, in_dim: int, shape, n_params: int, channels, activation: str,
                 batch_norm: bool = False):  # fmt: skip
        super().__init__()
        self.shape, self.n_params = tuple(shape), n_params
        c, h, w = shape
        c1, c2 = channels
        self.start = (c2, _padded(h) // 4, _padded(w) // 4)
        act = ACTIVATIONS[activation]
        n_start = math.prod(self.start)
        self.fc = nn.Sequential(nn.Linear(in_dim, n_start), _norm(batch_norm, n_start, 1), act())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), _norm(batch_norm, c1), act(),
            nn.ConvTranspose2d(c1, c * n_params, 4, stride=2, padding=1),
        )  # fmt: skip

    def forward(self, z: Tensor) -> Tensor:
        lead = z.shape[:-1]
        y = self.net(self.fc(z.reshape(-1, z.shape[-1])).reshape(-1, *self.start))
        c, h, w = self.shape
        y = y[:, :, :h, :w].reshape(-1, c, self.n_params, h, w).permute(0, 1, 3, 4, 2)
        return y.reshape(*lead, c, h, w, self.n_params)
