"""Measures of a single-image generative model (SinGAN, Shaham et al., ICCV 2019,
arXiv:1905.01164, Sec. 5).

SIFID, the single-image FID: the Fréchet distance between Gaussians fitted to the feature
vectors at every position of an early feature map of the real image x and of one sample
x̃ (each spatial position one vector), averaged over samples,

    SIFID(x, x̃) = ‖μ − μ̃‖² + Tr(Σ + Σ̃ − 2 (Σ Σ̃)^½).

The paper takes Inception-v3's "last convolutional layer before the second pooling
layer"; the authors' SIFID code takes pytorch-fid's block 0 (dims=64: the map after the
*first* max pool, 64 channels) at the image's own size; `InceptionV3.early_features` is
that block. Without Inception weights, the map is `FeatureNet.early_features` of genzoo's
CIFAR-10 classifier (its second conv, 64 channels at half resolution): comparable only
with numbers from the same network.

Diversity (Sec. 5): the std over N samples of each pixel's intensity, averaged over pixels
and channels, divided by the std of the training image's intensities.

Reconstruction: PSNR = 10 log10(1 / MSE) of the z* reconstruction against the training
image, both in [0, 1]; identical images give inf.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genzoo.core.errors import GenzooError


def frechet_distance(a: Tensor, b: Tensor) -> float:
    """‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½) of (N, F) and (M, F) vectors, in
    float64; Tr (Σ_a Σ_b)^½ as the eigenvalues of the symmetric Σ_a^½ Σ_b Σ_a^½, so that
    singular covariances (fewer positions than features) stay real."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise GenzooError(f"need (N, F) and (M, F) features, N, M >= 2; got "
                          f"{tuple(a.shape)} and {tuple(b.shape)}")  # fmt: skip
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(b.shape[1], -1)
    w, v = torch.linalg.eigh(s_a)
    root_a = (v * w.clamp_min(0).sqrt()) @ v.T  # Σ_a^½
    cross = torch.linalg.eigvalsh(root_a @ s_b @ root_a).clamp_min(0).sqrt().sum()
    d = (mu_a - mu_b).square().sum() + s_a.trace() + s_b.trace() - 2 * cross
    return max(float(d), 0.0)


def positions(feature_map: Tensor) -> Tensor:
    """(1, F, h, w) -> (h·w, F): one feature vector per spatial position."""
    return feature_map[0].flatten(1).T


def _check_unit(x: Tensor, what: str) -> None:
    if x.ndim != 4 or not x.is_floating_point() or x.min() < 0 or x.max() > 1:
        raise GenzooError(f"{what} must be float images (N, C, H, W) in [0, 1]")


def _rgb(x: Tensor) -> Tensor:
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


@torch.no_grad()
def sifid(real: Tensor, samples: Tensor, net) -> tuple[float, list[float]]:
    """(mean, per-sample) SIFID of samples (N, C, H, W) against the real image (1, C, H, W),
    all in [0, 1], in `net.early_features` (FeatureNet or InceptionV3)."""
    _check_unit(real, "the real image")
    _check_unit(samples, "samples")
    device = next(net.parameters()).device
    f_real = positions(net.early_features(_rgb(real[:1]).to(device))).cpu()
    each = [frechet_distance(f_real, positions(net.early_features(_rgb(x[None]).to(device))).cpu())
            for x in samples]  # fmt: skip
    return sum(each) / len(each), each


def diversity(samples: Tensor, real: Tensor) -> float:
    """Mean over pixels and channels of the std over N samples (N, C, H, W), divided by the
    std of the real image's intensities (Sec. 5); 0 for identical samples."""
    if len(samples) < 2:
        raise GenzooError("diversity needs at least 2 samples")
    return float(samples.double().std(0).mean() / real.double().std())


def psnr(x: Tensor, y: Tensor) -> float:
    """10 log10(1 / MSE) of images in [0, 1]; inf when they are identical."""
    mse = float((x.double() - y.double()).square().mean())
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)
