"""Maximum mean discrepancy: a two-sample distance, here between codes and prior samples.

Gretton et al., "A Kernel Two-Sample Test", JMLR 2012. With a characteristic kernel k,
MMD²(P, Q) = E k(x, x') + E k(y, y') − 2 E k(x, y) is zero exactly when P = Q. We use the
unbiased estimator (Lemma 6; it can be slightly negative when P = Q) with a sum of Gaussian
kernels whose bandwidths are set from the *reference* sample alone (multiples of its median
pairwise distance), so that several samples compared with one reference share a kernel.
"""

from __future__ import annotations

import torch
from torch import Tensor

SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)


def median_distance(y: Tensor, max_points: int = 2000) -> float:
    y = y[:max_points]
    d = torch.cdist(y, y)
    return d[torch.triu(torch.ones_like(d, dtype=torch.bool), diagonal=1)].median().item()


def _kernel(a: Tensor, b: Tensor, bandwidths: list[float]) -> Tensor:
    d2 = torch.cdist(a, b).pow(2)
    return sum(torch.exp(-d2 / (2 * h * h)) for h in bandwidths)


@torch.no_grad()
def mmd2(x: Tensor, reference: Tensor, bandwidths: list[float] | None = None) -> float:
    """Unbiased MMD² between samples x (n, d) and reference (m, d)."""
    x, y = x.double(), reference.double()
    if bandwidths is None:
        bandwidths = [s * median_distance(y) for s in SCALES]
    n, m = len(x), len(y)
    kxx, kyy, kxy = _kernel(x, x, bandwidths), _kernel(y, y, bandwidths), _kernel(x, y, bandwidths)
    off_x = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    off_y = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return (off_x + off_y - 2 * kxy.mean()).item()
