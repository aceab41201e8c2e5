"""Printed digits: the digits 0-9 typeset in the fonts that ship with matplotlib, at
random sizes, places and angles, rendered with PIL to 28x28 grey images like MNIST's
(the B domain of the mnist2printed-unpaired task, genzoo.data.tasks).

One image of class d, given its draws (font f, em size s, angle θ, shift (dx, dy)):

    1. the character str(d) in FONTS[f] at s * SUPERSAMPLE pixels per em, white on black,
       on a square canvas of CANVAS * SUPERSAMPLE pixels;
    2. cut to its ink's bounding box and pasted back with that box centred on the canvas;
    3. rotated by θ degrees (counter-clockwise, bicubic) about the canvas centre;
    4. averaged over SUPERSAMPLE x SUPERSAMPLE blocks (anti-aliasing) to CANVAS x CANVAS;
    5. the 28x28 window whose centre is the ink's centre moved by (dx, dy) pixels
       (right, down) is kept.

Each split draws, for all its images at once and in this order, from its own
numpy.random.RandomState(seed):

    f  = randint(0, len(FONTS), N)          the font
    s  = randint(EM[0], EM[1] + 1, N)       em size in output pixels (a digit's height is
                                            about 0.73 em in DejaVu: 13-18 px)
    θ  = uniform(-ANGLE, ANGLE, N)          degrees
    dx = randint(-SHIFT, SHIFT + 1, N), dy likewise   pixels

The ranges keep every glyph whole inside the 28x28 frame. The same draws give the same
bits for the same font files and the same Pillow (FreeType) build; the fonts are read
from matplotlib's installation, never downloaded.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

FONTS = (  # matplotlib's DejaVu fonts: sans and serif, regular, bold, slanted, both
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
)
EM = (18, 24)  # em size in output pixels, both ends included
ANGLE = 15.0  # degrees: θ ~ U(-ANGLE, ANGLE)
SHIFT = 2  # pixels: dx, dy uniform on -SHIFT..SHIFT
SIDE = 28  # the output images are SIDE x SIDE
CANVAS = 34  # the square the glyph is rotated on, in output pixels (>= SIDE + 2 SHIFT)
SUPERSAMPLE = 4  # rendered at 4x, then averaged down


def font_path(name: str) -> Path:
    """The file of one of matplotlib's bundled fonts (its mpl-data/fonts/ttf folder)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name


@functools.lru_cache(maxsize=len(FONTS) * 10 * (EM[1] - EM[0] + 1))
def _glyph(digit: int, font: int, em: int):
    """Steps 1-2: the glyph at SUPERSAMPLE x, its ink centred on the canvas (PIL "L")."""
    from PIL import Image, ImageDraw, ImageFont

    side = CANVAS * SUPERSAMPLE
    typeface = ImageFont.truetype(str(font_path(FONTS[font])), em * SUPERSAMPLE)
    canvas = Image.new("L", (side, side), 0)
    ImageDraw.Draw(canvas).text((side // 2, side // 2), str(digit), fill=255, font=typeface,
                                anchor="mm")  # fmt: skip
    ink = canvas.crop(canvas.getbbox())
    centred = Image.new("L", (side, side), 0)
    centred.paste(ink, ((side - ink.width) // 2, (side - ink.height) // 2))
    return centred


def render(digit: int, font: int, em: int, angle: float, dx: int, dy: int) -> np.ndarray:
    """One printed digit, uint8 (SIDE, SIDE), by steps 1-5 of the module docstring."""
    from PIL import Image

    big = _glyph(int(digit), int(font), int(em)).rotate(float(angle), Image.Resampling.BICUBIC)
    small = np.asarray(big.resize((CANVAS, CANVAS), Image.Resampling.BOX))
    top = (CANVAS - SIDE) // 2 - int(dy)
    left = (CANVAS - SIDE) // 2 - int(dx)
    return small[top : top + SIDE, left : left + SIDE].copy()


def draw_params(n: int, seed: int) -> dict[str, np.ndarray]:
    """The draws of n images from RandomState(seed), in the docstring's order."""
    rng = np.random.RandomState(seed)
    return {
        "font": rng.randint(0, len(FONTS), n),
        "em": rng.randint(EM[0], EM[1] + 1, n),
        "angle": rng.uniform(-ANGLE, ANGLE, n),
        "dx": rng.randint(-SHIFT, SHIFT + 1, n),
        "dy": rng.randint(-SHIFT, SHIFT + 1, n),
    }


def printed_digits(labels: np.ndarray, seed: int) -> np.ndarray:
    """uint8 (N, 1, SIDE, SIDE): a printed digit of class labels[i] for every i, with the
    draws of RandomState(seed)."""
    labels = np.asarray(labels)
    p = draw_params(len(labels), seed)
    out = np.zeros((len(labels), 1, SIDE, SIDE), np.uint8)
    for i, d in enumerate(labels):
        out[i, 0] = render(d, p["font"][i], p["em"][i], p["angle"][i], p["dx"][i], p["dy"][i])
    return out
