"""Translating images with a trained translation model (Capability.TRANSLATE): the user's
own images, or a split of the run's paired task beside its targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genzoo.core import Capability, GenzooError
from genzoo.metrics.translation import directions, translate_batch

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
MODES = {1: ("1", "L"), 3: ("RGB",)}  # PIL modes read as 1 and 3 channels


def require_translation(run) -> None:
    if Capability.TRANSLATE not in run.model.capabilities:
        raise GenzooError(
            f"{run.model_name} does not translate images (it has no translate capability): "
            "give the run of a translation model, e.g. pix2pix"
        )


def image_paths(path: str | Path) -> list[Path]:
    """The image file, or the images of a folder in name order."""
    path = Path(path).expanduser()
    if path.is_dir():
        paths = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise GenzooError(f"{path} holds no .png/.jpg/.jpeg/.bmp images")
        return paths
    if not path.is_file():
        raise GenzooError(f"{path}: no such file or folder")
    return [path]


def read_input(path: Path, shape: tuple[int, int, int]) -> Tensor:
    """One image as uint8 (C, H, W), which must have the model's input channels and size:
    never resized or converted silently."""
    from PIL import Image, UnidentifiedImageError

    C, H, W = shape
    want = f"{W}x{H} {'greyscale (mode L)' if C == 1 else 'RGB'} images"
    try:
        with Image.open(path) as img:
            if img.mode not in MODES.get(C, ()):
                raise GenzooError(f"{path} is a mode-{img.mode} image; the model translates "
                                  f"{want}: convert it")  # fmt: skip
            if img.size != (W, H):
                raise GenzooError(f"{path} is {img.size[0]}x{img.size[1]}; the model translates "
                                  f"{want}: resize or pad it")  # fmt: skip
            pixels = np.array(img.convert("L" if C == 1 else "RGB"))  # a writable copy
    except (UnidentifiedImageError, OSError) as e:
        raise GenzooError(f"{path}: not a readable image ({e})") from None
    return torch.from_numpy(pixels[None] if C == 1 else pixels.transpose(2, 0, 1).copy())


def read_inputs(path: str | Path, shape: tuple[int, int, int],
                n_levels: int = 256) -> tuple[Tensor, list[Path]]:  # fmt: skip
    """uint8 (N, C, H, W) from an image or a folder of images, in the data's `n_levels`
    grey levels (8-bit pixels rounded to the nearest level), and their paths."""
    paths = image_paths(path)
    pixels = torch.stack([read_input(p, shape) for p in paths])
    if n_levels != 256:
        pixels = torch.round(pixels.float() / 255 * (n_levels - 1)).to(torch.uint8)
    return pixels, paths


def check_direction(model, name: str, direction: str) -> None:
    if direction not in directions(model):
        raise GenzooError(f"{name} translates one way only (a2b: its source images to its "
                          f"targets): --direction {direction} needs a model of two "
                          "directions, e.g. cyclegan")  # fmt: skip


def input_shape(model, direction: str = "a2b") -> tuple[int, int, int]:
    """The shape of the images the model translates in `direction`: its source images'
    (a2b) or its targets' (b2a)."""
    return tuple(model.source_shape if direction == "a2b" else model.data.shape)


def translate(model, x: Tensor, batch_size: int, seed: int = 0, direction: str = "a2b",
              target: Tensor | None = None) -> Tensor:  # fmt: skip
    """model.translate over x in batches, dropout drawn from one generator seeded by seed;
    `target` (N, A): the target attributes of each image, for a model of attribute domains."""
    g = torch.Generator().manual_seed(seed)
    rows = [slice(i, i + batch_size) for i in range(0, len(x), batch_size)]
    return torch.cat([translate_batch(model, x[r], g, direction,
                                      None if target is None else target[r]).cpu()
                      for r in rows])  # fmt: skip


def attribute_names(model) -> tuple[str, ...]:
    """The attributes a model translates to (StarGAN's), or () for a model of image pairs."""
    return tuple(getattr(model, "attribute_names", ()))


def parse_targets(model, name: str, specs: list[str] | None,
                  own: Tensor | None = None) -> Tensor | None:  # fmt: skip
    """The target attributes (N, A) from `--to NAME=VALUE` specs: each named attribute set
    to VALUE, the others each image's `own` (N, A) where known; every attribute must be
    named when `own` is None. None for a model without attributes (and no specs)."""
    from genzoo.core.errors import did_you_mean

    names = attribute_names(model)
    if not names:
        if specs:
            raise GenzooError(f"{name} translates without target attributes: drop --to "
                              "(it is for models of attribute domains, e.g. stargan)")  # fmt: skip
        return None
    if not specs:
        raise GenzooError(f"{name} translates to target attributes: give --to NAME=VALUE, "
                          f"NAME one of {', '.join(names)}, e.g. --to {names[0]}=1")  # fmt: skip
    values = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep:
            raise GenzooError(f"--to {spec}: expected NAME=VALUE, e.g. --to {names[0]}=1")
        if key not in names:
            raise GenzooError(f"--to {spec}: unknown attribute {key!r}{did_you_mean(key, names)}"
                              f"; {name}'s attributes: {', '.join(names)}")  # fmt: skip
        try:
            values[key] = float(value)
        except ValueError:
            raise GenzooError(f"--to {spec}: {value!r} is not a number (0 or 1 for a binary "
                              "attribute)") from None  # fmt: skip
    missing = [n for n in names if n not in values]
    if own is None and missing:
        raise GenzooError(f"give every attribute for your own images: --to "
                          f"{' --to '.join(f'{n}=VALUE' for n in missing)} is missing")  # fmt: skip
    target = own.clone().float() if own is not None else torch.zeros(1, len(names))
    for k, n in enumerate(names):
        if n in values:
            target[:, k] = values[n]
    return target
