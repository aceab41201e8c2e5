"""Weight-free sample metrics in pixel space: sliced Wasserstein distance and MS-SSIM.

Neither needs a feature network, so both are comparable across runs on the same data.

SWD, T. Karras et al., "Progressive Growing of GANs for Improved Quality, Stability, and
Variation", ICLR 2018 (arXiv:1710.10196), Sec. 5 and App. D. Each image x is split into a
Laplacian pyramid, with the 5-tap Gaussian g = [1, 4, 6, 4, 1] / 16 (separable, 5×5):

    G_0 = x,   G_{l+1} = (g * G_l)↓2,   L_l = G_l − 4 g * (G_{l+1})↑0     (↑0: zero-insert)

with levels from the full resolution down to 16×16 (the last level is G, the Gaussian
residual). From each level, 128 random 7×7 neighbourhoods per image give descriptors
(C·49 numbers); each descriptor set is normalised by its own per-channel mean and std.
Between the real set A and the generated set B, of equal size N, with unit directions θ:

    SWD(A, B) = E_θ [ 1/N Σ_i | sort(A θ)_i − sort(B θ)_i | ]

over 4 repeats of 128 random directions (512 in all). SWD is reported ×10³ per level
and averaged over the levels, as the paper's tables print it.

Protocol, as the authors' code (progressive_growing_of_gans, metrics/sliced_wasserstein.py)
computes it: levels at resolutions r, r/2, … while ≥ 16 (a 32² image: 32 and 16; 28²: 28
only); neighbourhood centres uniform over the positions where the 7×7 window fits;
the filter's borders mirrored (reflection without repeating the edge, as scipy's
mode="mirror"); std with 1/N. The paper uses 16,384 images per set (2^21 descriptors
per level).
Deviations:
- Images smaller than 16×16 (digits: 8×8) get one level, the image itself; the paper has none.
- The real and generated sets take their neighbourhoods at the same random positions (the
  positions depend only on the seed and the image size), so SWD(x, x) = 0 exactly.
- Sizes that do not halve evenly are cropped after each upsampling.

MS-SSIM, Z. Wang, E. P. Simoncelli and A. C. Bovik, "Multi-scale structural similarity for
image quality assessment", Asilomar 2003. Per scale j = 1..M (the images halved by 2×2
averaging between scales), with local Gaussian-weighted means μ, variances σ², covariance
σ_xy, C1 = (0.01 L)², C2 = (0.03 L)², L = 1 for images in [0, 1]:

    l(x, y)  = (2 μ_x μ_y + C1) / (μ_x² + μ_y² + C1)
    cs(x, y) = (2 σ_xy + C2) / (σ_x² + σ_y² + C2)
    MS-SSIM  = [mean l_M · cs_M]^{β_M} · Π_{j<M} [mean cs_j]^{β_j}

β = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), M = 5, an 11×11 window with σ = 1.5, no
padding ("valid"). Sample diversity (ProGAN Sec. 5, after Odena et al., "Conditional
Image Synthesis with Auxiliary Classifier GANs", ICML 2017, arXiv:1610.09585): the mean
MS-SSIM over random pairs of generated images, lower = more diverse, beside the same for
real images.
Protocol for small images: the 5 scales are kept, and at a scale smaller than the window
the window shrinks to the image, size s = min(11, H_j, W_j) with σ = 1.5 s / 11, as the
ms_ssim.py used by the ProGAN and AC-GAN authors does (32²: windows 11, 11, 8, 4, 2 at
32, 16, 8, 4, 2). Colour images: MS-SSIM of each channel, then their mean. A negative
mean cs or SSIM is clipped to 0 before its fractional power (as tf.image.ssim_multiscale).
Pairs: n/2 disjoint random pairs of the n images. Odena et al. take 100 pairs within one
class; the unconditional models here are paired regardless of class.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.core.errors import GenzooError

# ---- Laplacian pyramid (ProGAN App. D) ----

BINOMIAL_5 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16  # 1-d; the 5×5 filter is g gᵀ
MIN_RESOLUTION = 16  # App. D: "from 16×16 up to the full resolution"


def _filter(x: Tensor, gain: float = 1.0) -> Tensor:
    """gain · (g gᵀ) * x per channel, borders mirrored, same size; x (B, C, H, W)."""
    C = x.shape[1]
    g = BINOMIAL_5.to(x)
    kernel = (gain * torch.outer(g, g)).expand(C, 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, groups=C)


def pyramid_down(x: Tensor) -> Tensor:
    """(g * x)↓2, (B, C, ⌈H/2⌉, ⌈W/2⌉): as cv2.pyrDown."""
    return _filter(x)[:, :, ::2, ::2]


def pyramid_up(x: Tensor, size: tuple[int, int]) -> Tensor:
    """4 g * (x)↑0, cropped to `size`: as cv2.pyrUp."""
    B, C, H, W = x.shape
    up = x.new_zeros(B, C, 2 * H, 2 * W)
    up[:, :, ::2, ::2] = x
    return _filter(up, gain=4.0)[:, :, : size[0], : size[1]]


def laplacian_pyramid(x: Tensor, n_levels: int) -> list[Tensor]:
    """[L_0, …, L_{n−2}, G_{n−1}]: band-pass levels, finest first, then the low-pass rest."""
    levels = [x]
    for _ in range(n_levels - 1):
        down = pyramid_down(levels[-1])
        levels[-1] = levels[-1] - pyramid_up(down, levels[-1].shape[-2:])
        levels.append(down)
    return levels


def reconstruct_laplacian_pyramid(levels: list[Tensor]) -> Tensor:
    """x from its pyramid: G_l = L_l + 4 g * (G_{l+1})↑0, from the coarsest level up."""
    x = levels[-1]
    for band in levels[-2::-1]:
        x = band + pyramid_up(x, band.shape[-2:])
    return x


def swd_resolutions(size: int) -> list[int]:
    """The pyramid levels' resolutions: size, size/2, … while ≥ 16; [size] below 16."""
    resolutions = [size]
    while resolutions[-1] // 2 >= MIN_RESOLUTION:
        resolutions.append(resolutions[-1] // 2)
    return resolutions


# ---- sliced Wasserstein distance ----


def neighbourhood_descriptors(
    level: Tensor, per_image: int, size: int, generator: torch.Generator
) -> Tensor:
    """`per_image` random size×size neighbourhoods of each image, (B · per_image, C, s, s)."""
    B, C, H, W = level.shape
    h = size // 2
    if size > H or size > W:
        raise GenzooError(f"{size}x{size} neighbourhoods do not fit in {H}x{W} images")
    N = B * per_image
    image = torch.arange(N) // per_image
    y = torch.randint(h, H - h, (N,), generator=generator)  # centres where the window fits
    x = torch.randint(h, W - h, (N,), generator=generator)
    d = torch.arange(-h, h + 1)
    rows = (y[:, None] + d)[:, :, None]  # (N, s, 1)
    cols = (x[:, None] + d)[:, None, :]  # (N, 1, s)
    return level.permute(0, 2, 3, 1)[image[:, None, None], rows, cols].permute(0, 3, 1, 2)


def normalise_descriptors(desc: Tensor) -> Tensor:
    """Each channel to zero mean and unit std over the set and the window, flattened (N, D)."""
    desc = desc - desc.mean(dim=(0, 2, 3), keepdim=True)
    desc = desc / desc.std(dim=(0, 2, 3), keepdim=True, unbiased=False).clamp_min(1e-12)
    return desc.flatten(1)


def sliced_wasserstein(
    a: Tensor, b: Tensor, repeats: int, directions: int, generator: torch.Generator
) -> float:
    """Mean over random unit directions θ of 1/N Σ_i |sort(a θ)_i − sort(b θ)_i|; a, b (N, D)."""
    if a.shape != b.shape or a.ndim != 2:
        raise GenzooError(f"descriptor sets must be (N, D) of one shape, got {tuple(a.shape)} "
                          f"and {tuple(b.shape)}")  # fmt: skip
    results = []
    for _ in range(repeats):
        theta = torch.randn(a.shape[1], directions, generator=generator).to(a)
        theta = theta / theta.norm(dim=0, keepdim=True)  # (D, directions)
        # (directions, N), each row sorted; numpy's sort is ~3× faster than torch's on CPU
        proj_a = np.sort((theta.T @ a.T).cpu().numpy(), axis=1)
        proj_b = np.sort((theta.T @ b.T).cpu().numpy(), axis=1)
        results.append(float(np.abs(proj_a - proj_b).mean(dtype=np.float64)))
    return sum(results) / len(results)


@torch.no_grad()
def sliced_wasserstein_distance(
    real: Tensor,
    fake: Tensor,
    *,
    descriptors_per_image: int = 128,  # App. D
    neighbourhood: int = 7,  # App. D: 7×7
    repeats: int = 4,  # authors' code: 4 × 128 = 512 directions
    directions: int = 128,
    seed: int = 0,
) -> dict[str, float | list[int] | list[float]]:
    """SWD ×10³ between real and generated images, both (N, C, H, W) of one shape.

    Returns {"swd_levels": [SWD ×10³ per level, finest first], "swd_resolutions": [r per
    level], "swd": their mean}. The images' value range does not matter (each descriptor
    set is standardised).
    """
    if real.shape != fake.shape or real.ndim != 4:
        raise GenzooError(f"SWD compares two image sets of one shape (N, C, H, W), got "
                          f"{tuple(real.shape)} and {tuple(fake.shape)}")  # fmt: skip
    resolutions = swd_resolutions(min(real.shape[-2:]))
    pyramids = [laplacian_pyramid(x.double(), len(resolutions)) for x in (real, fake)]
    distances = []
    for real_level, fake_level in zip(*pyramids, strict=True):
        desc = []
        for level in (real_level, fake_level):
            positions = torch.Generator().manual_seed(seed)  # the same positions for both sets
            d = neighbourhood_descriptors(level, descriptors_per_image, neighbourhood, positions)
            desc.append(normalise_descriptors(d).float())
        theta = torch.Generator().manual_seed(seed + 1)
        distances.append(1e3 * sliced_wasserstein(*desc, repeats, directions, theta))
    return {"swd_levels": distances, "swd_resolutions": resolutions,
            "swd": sum(distances) / len(distances)}  # fmt: skip


# ---- MS-SSIM (Wang et al. 2003) ----

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # β_1..β_5, finest first
WINDOW, WINDOW_SIGMA = 11, 1.5
K1, K2 = 0.01, 0.03


def _gaussian_window(size: int, sigma: float) -> Tensor:
    """(size, size) normalised Gaussian, centred between pixels when size is even."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return torch.outer(g, g) / g.sum() ** 2


def _ssim_terms(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """(mean SSIM, mean cs) per image and channel, (B, C), windows shrunk to the image."""
    B, C, H, W = x.shape
    size = min(WINDOW, H, W)
    window = _gaussian_window(size, WINDOW_SIGMA * size / WINDOW).to(x)
    window = window.expand(C, 1, size, size)

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(t, window, groups=C)  # "valid"

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = K1**2, K2**2  # L = 1
    cs = (2 * cov + c2) / (var_x + var_y + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return (luminance * cs).mean(dim=(2, 3)), cs.mean(dim=(2, 3))


def _halve(x: Tensor) -> Tensor:
    """2×2 averages; an odd side repeats its last row or column first."""
    H, W = x.shape[-2:]
    if H % 2 or W % 2:
        x = F.pad(x, (0, W % 2, 0, H % 2), mode="replicate")
    return F.avg_pool2d(x, 2)


def ms_ssim(x: Tensor, y: Tensor) -> Tensor:
    """MS-SSIM of each pair (x_i, y_i), (B,), for images (B, C, H, W) in [0, 1]."""
    if x.shape != y.shape or x.ndim != 4:
        raise GenzooError(f"MS-SSIM compares image pairs of one shape (B, C, H, W), got "
                          f"{tuple(x.shape)} and {tuple(y.shape)}")  # fmt: skip
    x, y = x.double(), y.double()
    beta = torch.tensor(MS_SSIM_WEIGHTS, dtype=torch.float64)
    M = len(MS_SSIM_WEIGHTS)
    value = torch.ones(x.shape[:2], dtype=torch.float64)
    for j in range(M):
        ssim, cs = _ssim_terms(x, y)
        term = ssim if j == M - 1 else cs  # the luminance term at the coarsest scale only
        value = value * term.clamp_min(0) ** beta[j]
        x, y = _halve(x), _halve(y)
    return value.mean(dim=1)  # the mean over channels


@torch.no_grad()
def ms_ssim_diversity(x: Tensor, seed: int = 0, batch_size: int = 1000) -> tuple[float, int]:
    """(mean MS-SSIM over n/2 disjoint random pairs of the n images x, the number of pairs).
    Lower = more diverse."""
    n_pairs = len(x) // 2
    if n_pairs < 1:
        raise GenzooError(f"MS-SSIM diversity needs at least 2 images, got {len(x)}")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    first, second = order[:n_pairs], order[n_pairs : 2 * n_pairs]
    total = sum(
        ms_ssim(x[first[i : i + batch_size]], x[second[i : i + batch_size]]).sum().item()
        for i in range(0, n_pairs, batch_size)
    )
    return total / n_pairs, n_pairs
