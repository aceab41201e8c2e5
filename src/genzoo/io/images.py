"""Images out: sample grids as PNG, written with PIL (no torchvision), and matplotlib figures."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genzoo.core.errors import GenzooError


def read_pixels(path: str | Path, channels: int) -> np.ndarray:
    """An image file as uint8 pixels, converted to greyscale (channels 1: (H, W)) or RGB
    ((H, W, 3)); a one-line GenzooError for a missing or unreadable file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("L" if channels == 1 else "RGB"))
    except FileNotFoundError:
        raise GenzooError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError) as e:
        raise GenzooError(f"{path}: not a readable image ({e})") from None


def to_unit_range(x: Tensor, n_values: int | None, scale: str = "unit") -> Tensor:
    """Model-space values -> [0, 1] for display."""
    if n_values is not None and n_values > 2:
        x = x / (n_values - 1)
    elif n_values is None and scale == "symmetric":
        x = (x + 1) / 2
    return x.clamp(0, 1)


def translation_rows(scale: str, *columns: Tensor) -> Tensor:
    """Continuous images of a translation, e.g. (input, output, target), each (N, C, H, W)
    in the data's range, interleaved for `save_grid(..., nrow=len(columns))`: one example
    a row, in [0, 1]; greyscale columns beside colour ones are shown in colour."""
    columns = [to_unit_range(c.detach().float().cpu(), None, scale) for c in columns]
    channels = max(c.shape[1] for c in columns)
    columns = [c.expand(-1, channels, -1, -1) for c in columns]
    return torch.stack(columns, dim=1).flatten(0, 1)


def check_image_path(path: str | Path) -> None:
    """A one-line GenzooError for an output path PIL cannot write an image to (an unknown
    extension), before anything is drawn."""
    from PIL import Image

    Image.init()
    suffix = Path(path).suffix.lower()
    if suffix not in Image.registered_extensions():
        raise GenzooError(f"{path}: {suffix or 'no extension'} is not an image format PIL "
                          "writes: use .png (or .jpg, .gif, ...)")  # fmt: skip


def save_grid(x: Tensor, path: str | Path, nrow: int | None = None, pad: int = 1) -> Path:
    """Tile images (N, C, H, W) with values in [0, 1] into one PNG, upscaled for small images."""
    check_image_path(path)
    image = grid_image(x, nrow, pad)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def save_gif(frames: Tensor, path: str | Path, fps: float = 10.0) -> Path:
    """Frames (T, C, H, W) in [0, 1] as a looping GIF, `fps` frames a second (PIL)."""
    from PIL import Image

    if Path(path).suffix.lower() != ".gif":
        raise GenzooError(f"{path}: an animation is written as a GIF: give a path ending .gif")
    x = (frames.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    pixels = x.permute(0, 2, 3, 1).numpy()
    images = [Image.fromarray(p[..., 0] if p.shape[-1] == 1 else p) for p in pixels]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], loop=0,
                   duration=round(1000 / fps))  # fmt: skip
    return path


def save_image(x: Tensor, path: str | Path) -> Path:
    """One image (C, H, W) in [0, 1] at its own size, without a frame or zoom."""
    from PIL import Image

    check_image_path(path)
    pixels = (x.detach().float().cpu().clamp(0, 1).permute(1, 2, 0) * 255).round()
    pixels = pixels.to(torch.uint8).numpy()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(path)
    return path


def grid_image(x: Tensor, nrow: int | None = None, pad: int = 1):
    """The PIL image `save_grid` writes: images (N, C, H, W) in [0, 1] tiled on a grey frame."""
    x = x.detach().float().cpu()
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected images (N, 1 or 3, H, W), got {tuple(x.shape)}")
    n, c, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    canvas = torch.full((c, ncol * (h + pad) + pad, nrow * (w + pad) + pad), 0.5)  # grey frame
    for i in range(n):
        r, q = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        canvas[:, top : top + h, left : left + w] = x[i]
    pixels = (canvas.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    from PIL import Image

    image = Image.fromarray(pixels[..., 0] if c == 1 else pixels)
    zoom = max(1, 256 // max(h, w) // 2)
    if zoom > 1:
        image = image.resize((image.width * zoom, image.height * zoom), Image.NEAREST)
    return image


def png_bytes(image) -> bytes:
    """A PIL image encoded as PNG."""
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG (creating its folder) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
