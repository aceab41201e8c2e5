"""Morphological measurements and transformations of digit images, after Morpho-MNIST.

D. C. Castro, J. Tan, B. Kainz, E. Konukoglu and B. Glocker, "Morpho-MNIST: Quantitative
Assessment and Diagnostics for Representation Learning", JMLR 2019 (arXiv:1809.10780).

Every function takes one grey image (H, W) with ink bright on a black background (uint8
0..255 or float 0..1, read as its fraction of full ink), and is deterministic.

Measurements (Sec. 2.1 of the paper):

    thickness(img) = 2 · mean_{p ∈ ridge} DT(p) / UPSCALE         in pixels of img

        The image is upscaled ×UPSCALE (bilinear) and thresholded at half ink; DT is the
        Euclidean distance of each ink pixel to the nearest background pixel. The paper
        averages DT along the skeleton; here the skeleton is the ridge of DT (the ink
        pixels whose DT is the largest of their 3×3 neighbourhood), which needs no
        scikit-image. A vertical bar w pixels wide measures w.

    slant(img) = atan(−μ11 / μ02)                                 in radians

        μ11, μ02: second-order central moments of the ink, weighted by intensity, with x
        the column and y the row (downwards). Positive slant leans right: the top of the
        stroke lies right of its bottom. A vertical bar sheared by `shear(img, s)` measures
        atan(s).

Transformations (Sec. 2.2):

    shear(img, s)        x' = x + s · (c − y), about the centre row c = (H − 1) / 2,
                         bilinear; it adds atan-space s to the slant's tangent:
                         tan slant(shear(img, s)) = tan slant(img) + s
    thin(img), thicken(img)
                         upscale ×UPSCALE (bilinear), threshold at half ink, binary
                         erosion (thin) or dilation (thicken) with a disk of radius
                         THIN_RADIUS or THICK_RADIUS upscaled pixels, then the mean of each
                         UPSCALE×UPSCALE block back to the original size: strokes lose
                         2·THIN_RADIUS/UPSCALE = 1 pixel of width, or gain 2 pixels.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

UPSCALE = 4  # the paper measures and transforms at 4x resolution too
THIN_RADIUS = 2  # upscaled pixels: -1 pixel of stroke width
THICK_RADIUS = 4  # upscaled pixels: +2 pixels of stroke width


def _unit(img) -> np.ndarray:
    a = np.asarray(img, dtype=np.float64)
    return a / 255.0 if np.asarray(img).dtype == np.uint8 else a


def _to_dtype(a: np.ndarray, like) -> np.ndarray:
    if np.asarray(like).dtype == np.uint8:
        return np.clip(np.rint(a * 255), 0, 255).astype(np.uint8)
    return a


def disk(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return r[:, None] ** 2 + r[None, :] ** 2 <= radius**2


def upscaled_mask(img) -> np.ndarray:
    """The image ×UPSCALE (bilinear), thresholded at half ink: bool (UH, UW)."""
    return ndimage.zoom(_unit(img), UPSCALE, order=1, mode="nearest", grid_mode=True) >= 0.5


def _downscale(mask: np.ndarray) -> np.ndarray:
    H, W = mask.shape[0] // UPSCALE, mask.shape[1] // UPSCALE
    return mask.reshape(H, UPSCALE, W, UPSCALE).mean(axis=(1, 3))


def thickness(img) -> float:
    """Mean stroke width in pixels (module docstring); 0.0 for an image without ink."""
    dt = ndimage.distance_transform_edt(upscaled_mask(img))
    ridge = (dt > 0) & (dt >= ndimage.maximum_filter(dt, size=3))
    if not ridge.any():
        return 0.0
    return float(2 * dt[ridge].mean() / UPSCALE)


def slant_tangent(img) -> float:
    """−μ11 / μ02 of the ink (module docstring); 0.0 for an image without ink."""
    a = _unit(img)
    mass = a.sum()
    if mass <= 0:
        return 0.0
    y, x = np.mgrid[: a.shape[0], : a.shape[1]].astype(np.float64)
    y_bar, x_bar = (a * y).sum() / mass, (a * x).sum() / mass
    mu11 = (a * (x - x_bar) * (y - y_bar)).sum()
    mu02 = (a * (y - y_bar) ** 2).sum()
    return float(-mu11 / mu02) if mu02 > 0 else 0.0


def slant(img) -> float:
    """Slant angle in radians, positive leaning right (module docstring)."""
    return math.atan(slant_tangent(img))


def shear(img, s: float):
    """x' = x + s · (c − y) about the centre row, bilinear, zeros outside."""
    a = _unit(img)
    c = (a.shape[0] - 1) / 2
    # output (y, x) reads input (y, x − s (c − y)) = (y, x + s y − s c)
    out = ndimage.affine_transform(a, np.array([[1.0, 0.0], [s, 1.0]]), offset=(0.0, -s * c),
                                   order=1, mode="constant", cval=0.0)  # fmt: skip
    return _to_dtype(np.clip(out, 0, 1), img)


def thin(img):
    """Binary erosion at ×UPSCALE by a disk of THIN_RADIUS (module docstring)."""
    mask = ndimage.binary_erosion(upscaled_mask(img), disk(THIN_RADIUS))
    return _to_dtype(_downscale(mask), img)


def thicken(img):
    """Binary dilation at ×UPSCALE by a disk of THICK_RADIUS (module docstring)."""
    mask = ndimage.binary_dilation(upscaled_mask(img), disk(THICK_RADIUS))
    return _to_dtype(_downscale(mask), img)
