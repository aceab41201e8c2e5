"""Tasks: datasets derived from a shared one, built when loaded, deterministically and
offline (nothing but the base dataset's files is read or cached).

A task is loaded by name like any dataset (`genzoo train pix2pix --data edges2fashion`):
its base is loaded and verified as usual, then `build` turns the base's splits into the
task's, with any further image streams it defines (genzoo.data.splits.ImageStream).

    edges2fashion   paired: "source" = the edges of a Fashion-MNIST image, "x" = the image.
                    Every 28x28 image is padded with 2 black pixels on each side to 32x32
                    (the U-Net of pix2pix halves the side down to 1x1); its edge map is
                    the Sobel gradient magnitude of the padded image, thresholded:

                        G_x = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] * I,   G_y = G_x^T * I
                        edge = 255 if G_x² + G_y² >= 255² else 0

                    on the 0..255 pixels I, with zeros outside the image (`*` is
                    cross-correlation). In integers, so the same bits everywhere. Splits
                    and labels are Fashion-MNIST's (train: the first 50,000 of the
                    official training set, valid: the last 10,000, test: the official
                    10,000).

    edges2fashion-unpaired
                    edges2fashion with its training pairs shuffled apart, for models of
                    unpaired data (cyclegan): the "source" stream is of its own domain,
                    "edges", which the trainer's BatchSampler draws independently of "x",
                    and its train split is moreover permuted by
                    numpy.random.RandomState(0).permutation(50000), so that no training
                    row of the edges is paired with its image by index either. The valid
                    and test splits keep the true pairs, row by row: the progress grid
                    (valid) and the report's L1/PSNR (test) judge translations against
                    the ground truth, as the CycleGAN paper does with Cityscapes.
    fashion-patches
                    key local patches of Fashion-MNIST items, for Puzzle-GAN (Lee et al.
                    2018): "x" = each image padded 28x28 -> 32x32 with 2 black pixels a
                    side (edges2fashion's), "patches" = K = PATCH_COUNT = 3 square patches of
                    P = PATCH_SIZE = 8 pixels cut from x, stacked along channels: uint8
                    (N, K*C, P, P), patch k in channels k*C .. (k+1)*C - 1; "attributes" =
                    their true places, the top-left corners (top_k, left_k) in x's pixels,
                    float32 (N, 2K) named top1, left1, top2, left2, top3, left3, so that
                    x[:, top_k:top_k+P, left_k:left_k+P] is patch k exactly. The places
                    are drawn from where the item is: its bounding box is the rows and
                    columns of x with a pixel >= 32 of 255 (1/8 of the top level); top_k is drawn
                    uniformly from the tops that keep the patch inside the box's rows (if
                    the box is shorter than P: the patch is centred on it, clipped to the
                    image), left_k likewise. The K patches of an image must not
                    overlap. One numpy.random.RandomState(PATCH_SEED[split]) per split
                    (0/1/2 for train/valid/test) draws, for patch k = 1..K in turn and all
                    the split's images at once, PATCH_TRIES = 100 candidate tops (N, 100)
                    and 100 lefts inside the box, then 100 tops and 100 lefts anywhere
                    (0..32-P), each by RandomState.randint(low, high + 1, (N, 100)); patch
                    k's place is the first candidate inside the box that overlaps no
                    earlier patch, else the first such one anywhere, else the first free
                    place in raster order. Splits and labels are
                    Fashion-MNIST's (train: the first 50,000 of the official training set,
                    valid: the last 10,000, test: the official 10,000).
    cifar10-colour  paired, for colourisation: "source" = the grey version of a CIFAR-10
                    image, "x" = the colour image. Grey is the ITU-R BT.601 luma of the
                    8-bit R, G, B, rounded half up in integers,

                        Y = (299 R + 587 G + 114 B + 500) // 1000

                    kept as 3 equal channels (Y, Y, Y): pix2pix and cyclegan take a source
                    with as many channels as x unless told `in_channels`, and the identity
                    map (the baseline) is then an RGB image to compare. Splits and labels
                    are cifar10's (the 50,000 class-sorted training images permuted by
                    RandomState(0): train the first 45,000, valid the last 5,000; test the
                    official 10,000, class-sorted then permuted by RandomState(1)).
    mnist2printed-unpaired
                    unpaired, handwritten -> printed digits, for cyclegan: "source" (domain
                    A, the sampler's domain "handwritten") = MNIST digits, "x" (domain B) =
                    printed digits, 28x28 grey, drawn by genzoo.data.printed (matplotlib's
                    8 DejaVu Sans/Serif fonts, em 18-24 px, ±15°, shifts of ±2 px) from
                    RandomState(PRINTED_SEED[split]) = 0/1/2 for train/valid/test. Row i of
                    x is a printed digit of the class of MNIST image i: its true pair. Only
                    the first PRINTED_SIZES = 10,000 / 1,000 / 1,000 of MNIST's train / valid
                    / test splits are used, to keep loading quick. The training digits are
                    permuted by RandomState(UNPAIRED_SEED = 0).permutation(10000) and drawn
                    as a domain of their own, so no training row is paired with its
                    printed twin; valid and test keep the true pairs row by row. Labels are
                    the classes of x's rows (in valid and test also of the source's rows).
    cat2dog-unpaired
                    unpaired, for cyclegan: "source" (domain A, the sampler's domain
                    "cats") = the CIFAR-10 images of class CAT = 3, "x" (domain B) = those of
                    class DOG = 5, each split taken from the same split of cifar10, in its
                    order. Cats and dogs are different photographs, so no pairs exist and
                    none are shuffled apart: the sampler draws the domains independently.
                    Valid and test keep the first min(#cats, #dogs) of each (test: all
                    1,000 of each class) so that they line up row by row for the progress
                    grid and the cycle error, but their rows are no true pairs
                    (NO_TRUE_PAIRS: L1 and PSNR against them are not measured). Labels
                    are x's classes (all 5), so the CIFAR-10 classifier's accuracy on
                    translated cats is the share of them it reads as dogs.
    mnist32         MNIST with every 28x28 digit padded to 32x32 by 2 black pixels a side
                    (ProGAN and StyleGAN grow 4x4 -> 32x32 by doublings); MNIST's splits
                    and labels.
    morpho-mnist    MNIST digits with two binary morphological attributes, after
                    Morpho-MNIST (Castro et al. 2019; genzoo.data.morpho gives the
                    definitions): "thick" and "slanted". Each 28x28 digit is padded to
                    32x32 with 2 black pixels a side and given attributes drawn by
                    numpy.random.RandomState(MORPHO_SEED[split]).randint(0, 2, (N, 2)).
                    Then, in this order:
                        slant:     shear(img, s) with s = tan(target) − tan slant(img),
                                   target 0 (slanted=0, upright) or SLANTED = atan(0.5)
                                   ≈ 26.6° leaning right (slanted=1)
                        thickness: thin(img) (thick=0, −1 pixel of stroke width) or
                                   thicken(img) (thick=1, +2 pixels)
                    and the "attributes" stream holds (thick, slanted) as float 0/1.
                    To keep loading quick the splits are subsampled: train = the first
                    MORPHO_SIZES["train"] = 10,000 of MNIST's training split (genzoo's
                    first 50,000), valid and test the first 1,000 of theirs. Labels are
                    MNIST's digit classes. A measured attribute "hits" its value when
                    thickness >= THICK_SPLIT (thick=1) or < it (thick=0), and slant >=
                    SLANT_SPLIT (slanted=1) or < it (slanted=0).
    morpho-thick-unpaired, morpho-slanted-unpaired
                    one morpho-mnist attribute as two unpaired domains, for a cyclegan per
                    attribute beside one stargan for both (the StarGAN paper's argument):
                    "source" (domain A, the sampler's domain "thin" / "upright") = digits
                    with the attribute 0, "x" (domain B) = with it 1, the other attribute
                    as drawn. Train: morpho-mnist's 10,000 training images, parted by their
                    drawn attribute (so about 5,000 a domain, and no digit in both: they
                    are unpaired by construction). Valid and test: every digit of
                    morpho-mnist's split made both ways, with the same draws and recipe
                    (attribute set to 0 for the source, to 1 for x): true pairs, row by row,
                    for L1/PSNR in both directions. Labels are MNIST's digit classes.
    mnist-captions, cifar10-captions, mnist32-captions
                    MNIST digits / CIFAR-10 photos, each with a caption written from its
                    class and measured properties, and the caption's sentence embedding:
                    genzoo.data.captions says how.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from genzoo.data import captions, morpho, printed
from genzoo.data.splits import SPLIT_NAMES, AttributeStream, ImageStream, Splits

SOBEL = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])  # G_x's kernel; G_y's is its transpose
EDGE_THRESHOLD = 255  # on the gradient magnitude of 0..255 pixels (1.0 on [0, 1] pixels)
PAD = 2  # 28x28 -> 32x32
UNPAIRED_SEED = 0  # the permutation of edges2fashion-unpaired's training edges
UNPAIRED_DOMAIN = "edges"  # the sampler's domain of the unpaired "source" stream
MORPHO_ATTRIBUTES = ("thick", "slanted")
MORPHO_SEED = {"train": 0, "valid": 1, "test": 2}  # the attribute draws of each split
MORPHO_SIZES = {"train": 10_000, "valid": 1_000, "test": 1_000}  # the first N of each split
SLANTED = math.atan(0.5)  # radians, leaning right: slanted=1
THICK_SPLIT = 3.0  # pixels: a measured thickness at least this is "thick"
SLANT_SPLIT = SLANTED / 2  # radians: a measured slant at least this is "slanted"
MORPHO_OFF = {"thick": "thin", "slanted": "upright"}  # each attribute's 0, a domain's name
PATCH_COUNT = 3  # K key patches per image (fashion-patches)
PATCH_SIZE = 8  # P: each patch is P x P pixels
PATCH_INK = 8  # a pixel >= 1/PATCH_INK of the top level (32 of 255) is the item's
PATCH_TRIES = 100  # draws inside the box before a patch is drawn from the whole image
PATCH_SEED = {"train": 0, "valid": 1, "test": 2}  # the place draws of each split
LUMA = (299, 587, 114)  # ITU-R BT.601 luma weights of R, G, B, per mille
PRINTED_SEED = {"train": 0, "valid": 1, "test": 2}  # the printed digits' draws per split
PRINTED_SIZES = {"train": 10_000, "valid": 1_000, "test": 1_000}  # the first N of MNIST's
HANDWRITTEN_DOMAIN = "handwritten"  # the sampler's domain of mnist2printed's MNIST digits
CAT, DOG = 3, 5  # CIFAR-10 classes (its class_names: ..., cat, deer, dog, ...)
CATS_DOMAIN = "cats"  # the sampler's domain of cat2dog's cats
NO_TRUE_PAIRS = frozenset({"cat2dog-unpaired"})  # rows line up, but are not pairs


def pad(x: torch.Tensor, p: int = PAD) -> torch.Tensor:
    """uint8 images (N, C, H, W) with p black (0) pixels added on every side."""
    return torch.nn.functional.pad(x, (p, p, p, p))


def sobel_edges(x: torch.Tensor, threshold: int = EDGE_THRESHOLD) -> torch.Tensor:
    """The edge map of uint8 images (N, C, H, W): 255 where the Sobel gradient magnitude
    of the 0..255 pixels is at least `threshold`, else 0 (zeros outside the image)."""
    a = np.pad(x.numpy().astype(np.int32), ((0, 0), (0, 0), (1, 1), (1, 1)))
    H, W = x.shape[-2:]
    g_x = np.zeros(x.shape, np.int32)
    g_y = np.zeros(x.shape, np.int32)
    for i in range(3):
        for j in range(3):
            window = a[..., i : i + H, j : j + W]
            g_x += SOBEL[i, j] * window
            g_y += SOBEL[j, i] * window
    edges = (g_x**2 + g_y**2 >= threshold**2).astype(np.uint8) * 255
    return torch.from_numpy(edges)


@dataclass(frozen=True)
class Task:
    name: str
    base: str  # the dataset it is built from
    build: Callable[[Splits], Splits]
    description: str  # one line, for `genzoo data list` and errors


def _edges2fashion(base: Splits) -> Splits:
    x = {split: pad(base.split(split)) for split in SPLIT_NAMES}
    source = ImageStream(*(sobel_edges(x[split]) for split in SPLIT_NAMES))
    return Splits(
        "edges2fashion",
        *(x[split] for split in SPLIT_NAMES),
        base.train_labels,
        base.valid_labels,
        base.test_labels,
        n_levels=base.n_levels,
        protocol=f"edges2fashion: source = Sobel edges (G_x² + G_y² >= 255² on 0..255 pixels, "
        f"zero border) of each Fashion-MNIST image padded 28x28 -> 32x32 with 2 black pixels "
        f"a side, x = that padded image. Base: {base.protocol}",
        images={"source": source},
    )


def _mnist32(base: Splits) -> Splits:
    return dataclasses.replace(
        base, name="mnist32", **{split: pad(base.split(split)) for split in SPLIT_NAMES},
        protocol=f"mnist32: each MNIST digit padded 28x28 -> 32x32 with 2 black pixels a "
        f"side. Base: {base.protocol}",
    )  # fmt: skip


def _edges2fashion_unpaired(base: Splits) -> Splits:
    paired = _edges2fashion(base)
    edges = paired.images["source"]
    perm = np.random.RandomState(UNPAIRED_SEED).permutation(len(edges.train))
    source = ImageStream(edges.train[torch.from_numpy(perm)], edges.valid, edges.test,
                         domain=UNPAIRED_DOMAIN)  # fmt: skip
    protocol = (f"edges2fashion-unpaired: edges2fashion with the training edges permuted "
                f"(RandomState({UNPAIRED_SEED})) and drawn as a domain of their own, "
                f"independently of the images; valid and test keep the true pairs. "
                f"{paired.protocol}")  # fmt: skip
    return dataclasses.replace(paired, name="edges2fashion-unpaired", protocol=protocol,
                               images={"source": source})  # fmt: skip


def luma(x: torch.Tensor) -> torch.Tensor:
    """The grey version of uint8 RGB images (N, 3, H, W), as 3 equal channels:
    Y = (299 R + 587 G + 114 B + 500) // 1000 (ITU-R BT.601, rounded half up), uint8."""
    w = torch.tensor(LUMA, dtype=torch.int64).view(1, 3, 1, 1)
    y = ((x.to(torch.int64) * w).sum(1, keepdim=True) + 500) // 1000
    return y.to(torch.uint8).expand(-1, 3, -1, -1).contiguous()


def _cifar10_colour(base: Splits) -> Splits:
    source = ImageStream(*(luma(base.split(split)) for split in SPLIT_NAMES))
    return dataclasses.replace(
        base, name="cifar10-colour", images={"source": source},
        protocol="cifar10-colour: source = the BT.601 luma (299 R + 587 G + 114 B + 500) // "
        f"1000 of each CIFAR-10 image as 3 equal channels, x = the image. Base: {base.protocol}",
    )  # fmt: skip


def _mnist2printed_unpaired(base: Splits) -> Splits:
    mnist, x, labels = {}, {}, {}
    for split in SPLIT_NAMES:
        n = PRINTED_SIZES[split]
        mnist[split], labels[split] = base.split(split)[:n], getattr(base, f"{split}_labels")[:n]
        digits = printed.printed_digits(labels[split].numpy(), PRINTED_SEED[split])
        x[split] = torch.from_numpy(digits)
    perm = np.random.RandomState(UNPAIRED_SEED).permutation(len(mnist["train"]))
    source = ImageStream(mnist["train"][torch.from_numpy(perm)], mnist["valid"], mnist["test"],
                         domain=HANDWRITTEN_DOMAIN)  # fmt: skip
    return Splits(
        "mnist2printed-unpaired",
        *(x[split] for split in SPLIT_NAMES),
        *(labels[split] for split in SPLIT_NAMES),
        n_levels=base.n_levels,
        protocol=f"mnist2printed-unpaired: source = the first {PRINTED_SIZES['train']:,}/"
        f"{PRINTED_SIZES['valid']:,}/{PRINTED_SIZES['test']:,} MNIST digits of train/valid/test, "
        f"x = a printed digit of each one's class (matplotlib's DejaVu fonts, em "
        f"{printed.EM[0]}-{printed.EM[1]} px, ±{printed.ANGLE:g}°, shifts ±{printed.SHIFT} px, "
        f"RandomState 0/1/2, genzoo.data.printed); training digits permuted "
        f"(RandomState({UNPAIRED_SEED})) and drawn apart from the printed ones; valid and "
        f"test keep the true pairs. Base: {base.protocol}",
        images={"source": source},
    )


def _cat2dog_unpaired(base: Splits) -> Splits:
    cats, dogs, labels = {}, {}, {}
    for split in SPLIT_NAMES:
        y = getattr(base, f"{split}_labels")
        cats[split], dogs[split] = base.split(split)[y == CAT], base.split(split)[y == DOG]
        if split != "train":  # lined up row by row (not pairs) for the grid and the report
            n = min(len(cats[split]), len(dogs[split]))
            cats[split], dogs[split] = cats[split][:n], dogs[split][:n]
        labels[split] = torch.full((len(dogs[split]),), DOG, dtype=y.dtype)
    return Splits(
        "cat2dog-unpaired",
        *(dogs[split] for split in SPLIT_NAMES),
        *(labels[split] for split in SPLIT_NAMES),
        n_levels=base.n_levels,
        protocol=f"cat2dog-unpaired: source = the CIFAR-10 cats (class {CAT}), x = the dogs "
        f"(class {DOG}) of each split, drawn apart; valid and test cut to equal counts, their "
        f"rows no pairs. Base: {base.protocol}",
        images={"source": ImageStream(*(cats[s] for s in SPLIT_NAMES), domain=CATS_DOMAIN)},
    )


def morpho_image(img: np.ndarray, thick: int, slanted: int) -> np.ndarray:
    """One uint8 (H, W) digit given the attributes (thick, slanted): sheared to the target
    slant, then thinned or thickened (module docstring)."""
    s = (math.tan(SLANTED) if slanted else 0.0) - morpho.slant_tangent(img)
    img = morpho.shear(img, s)
    return morpho.thicken(img) if thick else morpho.thin(img)


def measured_attributes(images) -> np.ndarray:
    """The measured (thickness in pixels, slant in radians) of grey images (N, H, W) or
    (N, 1, H, W), uint8 or in [0, 1]: float64 (N, 2)."""
    a = np.asarray(images)
    a = a.reshape(len(a), *a.shape[-2:])
    return np.array([(morpho.thickness(img), morpho.slant(img)) for img in a]).reshape(-1, 2)


def attribute_hits(measured: np.ndarray, target: np.ndarray) -> np.ndarray:
    """bool (N, 2): whether each measured (thickness, slant) is on the side of THICK_SPLIT
    and SLANT_SPLIT that the target (thick, slanted) in {0, 1} names."""
    return (measured >= np.array([THICK_SPLIT, SLANT_SPLIT])) == (np.asarray(target) >= 0.5)


def morpho_draws(base: Splits, split: str) -> tuple[torch.Tensor, np.ndarray, torch.Tensor | None]:
    """(digits, attributes, labels) of a morpho-mnist split before morphology: the first
    MORPHO_SIZES[split] MNIST digits padded to 32x32, uint8 (N, 1, 32, 32), the attributes
    drawn for them by RandomState(MORPHO_SEED[split]), int (N, A), and their classes."""
    images = pad(base.split(split)[: MORPHO_SIZES[split]])
    rng = np.random.RandomState(MORPHO_SEED[split])
    a = rng.randint(0, 2, (len(images), len(MORPHO_ATTRIBUTES)))
    y = getattr(base, f"{split}_labels")
    return images, a, (y[: len(images)] if y is not None else None)


def morpho_images(images: torch.Tensor, attributes: np.ndarray) -> torch.Tensor:
    """morpho_image of each padded digit (N, 1, H, W) with its row of attributes (N, A)."""
    rows = zip(images.numpy(), attributes, strict=True)
    out = np.stack([morpho_image(img[0], *row) for img, row in rows])
    return torch.from_numpy(out.reshape(images.shape))


def _morpho_mnist(base: Splits) -> Splits:
    x, attributes, labels = {}, {}, {}
    for split in SPLIT_NAMES:
        images, a, labels[split] = morpho_draws(base, split)
        x[split] = morpho_images(images, a)
        attributes[split] = torch.from_numpy(a.astype(np.float32))
    return Splits(
        "morpho-mnist",
        *(x[split] for split in SPLIT_NAMES),
        *(labels[split] for split in SPLIT_NAMES),
        n_levels=base.n_levels,
        protocol=f"morpho-mnist: MNIST padded 28x28 -> 32x32, first {MORPHO_SIZES['train']:,}"
        f"/{MORPHO_SIZES['valid']:,}/{MORPHO_SIZES['test']:,} of train/valid/test, each with "
        f"random attributes (thick, slanted) (RandomState 0/1/2) applied by shear to 0 or "
        f"atan(0.5) and thin (-1 px) or thicken (+2 px) at 4x (genzoo.data.morpho). "
        f"Base: {base.protocol}",
        attributes=AttributeStream(MORPHO_ATTRIBUTES, *(attributes[s] for s in SPLIT_NAMES)),
    )


def _morpho_pair(attribute: str, base: Splits) -> Splits:
    """morpho-ATTRIBUTE-unpaired: one attribute of morpho-mnist as two unpaired domains
    (module docstring)."""
    k, off = MORPHO_ATTRIBUTES.index(attribute), MORPHO_OFF[attribute]
    source, x, labels = {}, {}, {}
    for split in SPLIT_NAMES:
        images, a, y = morpho_draws(base, split)
        if split == "train":  # morpho-mnist's training images, parted by their attribute
            drawn, on = morpho_images(images, a), torch.from_numpy(a[:, k] == 1)
            source[split], x[split] = drawn[~on], drawn[on]
            labels[split] = y[on] if y is not None else None
        else:  # each digit both ways: the true pairs
            a_off, a_on = a.copy(), a.copy()
            a_off[:, k], a_on[:, k] = 0, 1
            source[split], x[split] = morpho_images(images, a_off), morpho_images(images, a_on)
            labels[split] = y
    name = f"morpho-{attribute}-unpaired"
    return Splits(
        name,
        *(x[split] for split in SPLIT_NAMES),
        *(labels[split] for split in SPLIT_NAMES),
        n_levels=base.n_levels,
        protocol=f"{name}: morpho-mnist's {attribute} as two domains, source = {off} "
        f"({attribute}=0), x = {attribute} ({attribute}=1), the other attribute as drawn; train "
        f"= morpho-mnist's training images parted by their {attribute} (unpaired: no digit in "
        f"both), valid and test = each digit made both ways (true pairs). Base: {base.protocol}",
        images={"source": ImageStream(*(source[s] for s in SPLIT_NAMES), domain=off)},
    )


def patch_location_names(k: int = PATCH_COUNT) -> tuple[str, ...]:
    """The attribute names of the places of k patches: top1, left1, top2, left2, ..."""
    return tuple(f"{side}{i}" for i in range(1, k + 1) for side in ("top", "left"))


def _span(mask: np.ndarray, size: int, p: int) -> tuple[int, int]:
    """The first places (low, high inclusive) of a patch of side p inside the rows (or
    columns) where `mask` holds, or centred on them when they are fewer than p."""
    where = np.flatnonzero(mask)
    if len(where) == 0:  # an empty image: anywhere
        return 0, size - p
    a, b = int(where[0]), int(where[-1])
    if b - a + 1 >= p:
        return a, b - p + 1
    start = min(max((a + b + 1 - p) // 2, 0), size - p)
    return start, start


def patch_locations(x: np.ndarray, rng: np.random.RandomState, k: int = PATCH_COUNT,
                    p: int = PATCH_SIZE, n_levels: int = 256) -> np.ndarray:  # fmt: skip
    """The top-left corners (N, k, 2) of k non-overlapping p x p patches of each uint8
    image (N, C, H, W) of `n_levels` grey levels, drawn from its item's bounding box
    (module docstring)."""
    N, _, H, W = x.shape
    ink = x.max(axis=1).astype(np.int64) * PATCH_INK >= n_levels - 1  # (N, H, W)
    rows = np.array([_span(m.any(axis=1), H, p) for m in ink]).reshape(N, 2)
    cols = np.array([_span(m.any(axis=0), W, p) for m in ink]).reshape(N, 2)
    out = np.zeros((N, k, 2), np.int64)
    T = PATCH_TRIES
    for i in range(k):
        inside = np.stack([rng.randint(rows[:, :1], rows[:, 1:] + 1, (N, T)),
                           rng.randint(cols[:, :1], cols[:, 1:] + 1, (N, T))], -1)  # fmt: skip
        anywhere = np.stack([rng.randint(0, H - p + 1, (N, T)),
                             rng.randint(0, W - p + 1, (N, T))], -1)  # fmt: skip
        candidates = np.concatenate([inside, anywhere], 1)  # (N, 2T, 2)
        free = np.ones(candidates.shape[:2], bool)
        for j in range(i):  # no overlap with an earlier patch
            apart = np.abs(candidates - out[:, j, None]) >= p
            free &= apart[..., 0] | apart[..., 1]
        out[:, i] = candidates[np.arange(N), free.argmax(1)]
        for n in np.flatnonzero(~free.any(1)):  # the first free place in raster order
            out[n, i] = next(
                (t, s)
                for t in range(H - p + 1)
                for s in range(W - p + 1)
                if all(abs(t - a) >= p or abs(s - b) >= p for a, b in out[n, :i])
            )
    return out


def cut_patches(x: torch.Tensor, locations: torch.Tensor, p: int) -> torch.Tensor:
    """The patches (N, k*C, p, p) of images x (N, C, H, W) at the top-left corners
    `locations` (N, k, 2) or (N, 2k), stacked along channels in order."""
    N, C, _, W = x.shape
    loc = locations.reshape(N, -1, 2).long()  # (N, k, 2)
    d = torch.arange(p)
    rows = (loc[:, :, 0, None] + d)[:, :, :, None]  # (N, k, p, 1)
    cols = (loc[:, :, 1, None] + d)[:, :, None, :]  # (N, k, 1, p)
    flat = x.reshape(N, C, -1)
    index = (rows * W + cols).reshape(N, 1, -1).expand(N, C, -1)  # (N, C, k*p*p)
    out = flat.gather(2, index).reshape(N, C, loc.shape[1], p, p)
    return out.transpose(1, 2).reshape(N, loc.shape[1] * C, p, p)


def build_patches(base: Splits, name: str = "fashion-patches", k: int = PATCH_COUNT,
                  p: int = PATCH_SIZE, padding: int = PAD) -> Splits:  # fmt: skip
    """A task of key patches (fashion-patches, module docstring) from any grey dataset:
    its images padded by `padding`, k patches of p x p each, their places as attributes."""
    x, patches, places = {}, {}, {}
    for split in SPLIT_NAMES:
        x[split] = pad(base.split(split), padding)
        rng = np.random.RandomState(PATCH_SEED[split])
        loc = patch_locations(x[split].numpy(), rng, k, p, base.n_levels)
        places[split] = torch.from_numpy(loc.reshape(len(loc), -1).astype(np.float32))
        patches[split] = cut_patches(x[split], places[split], p)
    side = "x".join(map(str, x["train"].shape[-2:]))
    return Splits(
        name,
        *(x[split] for split in SPLIT_NAMES),
        base.train_labels,
        base.valid_labels,
        base.test_labels,
        n_levels=base.n_levels,
        protocol=f"{name}: {k} non-overlapping {p}x{p} patches of each image padded to {side}, "
        f"at places drawn inside its item's bounding box (pixels >= 1/{PATCH_INK} of the top "
        f"level) by RandomState 0/1/2 per split; their top-left corners are the attributes. "
        f"Base: {base.protocol}",
        images={"patches": ImageStream(*(patches[split] for split in SPLIT_NAMES))},
        attributes=AttributeStream(
            patch_location_names(k), *(places[split] for split in SPLIT_NAMES)
        ),  # fmt: skip
    )


TASKS = {
    "edges2fashion": Task(
        "edges2fashion",
        "fashion-mnist",
        _edges2fashion,
        "paired: Sobel edge maps (source) -> Fashion-MNIST images (x), 32x32",
    ),
    "edges2fashion-unpaired": Task(
        "edges2fashion-unpaired",
        "fashion-mnist",
        _edges2fashion_unpaired,
        "unpaired: edges2fashion's edges and images drawn apart in training; test pairs kept",
    ),
    "cifar10-colour": Task(
        "cifar10-colour",
        "cifar10",
        _cifar10_colour,
        "paired: BT.601 grey CIFAR-10 photos (source, 3 equal channels) -> colour (x)",
    ),
    "mnist2printed-unpaired": Task(
        "mnist2printed-unpaired",
        "mnist",
        _mnist2printed_unpaired,
        "unpaired: MNIST digits (source) and printed digits of their classes (x); test pairs kept",
    ),
    "cat2dog-unpaired": Task(
        "cat2dog-unpaired",
        "cifar10",
        _cat2dog_unpaired,
        "unpaired: CIFAR-10 cats (source) and dogs (x), 32x32; no true pairs",
    ),
    "fashion-patches": Task(
        "fashion-patches",
        "fashion-mnist",
        build_patches,
        "Fashion-MNIST 32x32 with 3 key patches (8x8) each and their true places",
    ),
    "mnist32": Task(
        "mnist32",
        "mnist",
        _mnist32,
        "MNIST padded to 32x32 (2 black pixels a side), for models that grow by powers of 2",
    ),
    "morpho-mnist": Task(
        "morpho-mnist",
        "mnist",
        _morpho_mnist,
        "MNIST 32x32 with attributes (thick, slanted) made by morphology and shear",
    ),
    **{
        f"morpho-{attribute}-unpaired": Task(
            f"morpho-{attribute}-unpaired",
            "mnist",
            functools.partial(_morpho_pair, attribute),
            f"unpaired: morpho-mnist's {off} (source) and {attribute} (x) digits; test pairs kept",
        )
        for attribute, off in MORPHO_OFF.items()
    },
    **{
        name: Task(
            name,
            c.base,
            functools.partial(captions.build, c),
            f"{c.base} with a caption per image (class and measured properties)",
        )
        for name, c in captions.CAPTION_TASKS.items()
    },  # fmt: skip
}
