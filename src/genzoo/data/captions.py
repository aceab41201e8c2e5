"""Captioned images, built from real ones: the data of text-to-image models.

No captioned image set is available offline, so every caption is written from the image's
class label and properties measured from its pixels, deterministically:

    mnist-captions    the digit, and two Morpho-MNIST measures (Castro et al. 2019;
                      genzoo.data.morpho, the definitions the translation tasks use):
                        thickness  (mean stroke width, pixels):  thin  < THIN_BELOW = 2.2
                                   <= medium < THICK_FROM = 3.0 <= thick
                        slant      (angle of the ink's shear, degrees, positive leaning
                                   right):  left < LEFT_BELOW = −5° <= upright
                                   < RIGHT_FROM = 15° <= right
                      e.g. "a thick seven leaning right", "a bold 7, slanted to the right".
                      The bins hold 28 / 46 / 26 % (thickness) and 19 / 44 / 36 % (slant)
                      of the first 2,000 training digits.
    cifar10-captions  the class, and two properties of the pixels:
                        colour      the hue (HSV) that most "coloured" pixels have, a pixel
                                    being coloured when its saturation >= 0.3 and its value
                                    >= 0.25; hue bins in degrees: red [345, 15), orange
                                    [15, 45) (brown where the value < 0.6), yellow [45, 70),
                                    green [70, 165), teal [165, 195), blue [195, 260),
                                    purple [260, 300), pink [300, 345). "grey" when under
                                    COLOURFUL_SHARE = 20 % of the pixels are coloured.
                        brightness  the mean luma Y = 0.299 R + 0.587 G + 0.114 B on [0, 1]:
                                    dark < 0.40 <= (medium) < 0.55 <= bright
                      e.g. "a dark photo of a green frog".
    mnist32-captions  mnist-captions with every digit padded 28x28 -> 32x32 by PAD_32 = 2
                      black pixels a side, as mnist32 (the size StyleGAN grows to); the
                      captions are mnist-captions' (measured on the 28x28 digits, which
                      padding does not change), for joint image–text models that judge a
                      StyleGAN trained on mnist32.

Class prompts, for zero-shot classification (Radford et al. 2021, Sec. 3.1.4): one
sentence per class from the task's PROMPT template and the class's first synonym, e.g.
"a handwritten seven" (MNIST; a train template with its other slots left out) or
"a photo of a frog" (CIFAR-10).

Each property value has several synonyms, and each caption one of several templates, so
different sentences say the same thing. Training and validation captions use the TRAIN
templates; the test split's use only the held-out TEST templates (and the same
synonyms), so a model is tested on sentences it never read.

Choices are drawn by numpy.random.RandomState(CAPTION_SEED[split]): for each image in
order, one template and then one synonym for every slot (whether the template uses it or
not), so the first n captions of a split do not depend on how many are built.

The splits are subsampled, as morpho-mnist's are, to keep loading quick: the first
CAPTION_SIZES[split] images of the base dataset's split (10,000 / 1,000 / 1,000). Each
task has a "caption" stream: the strings and their sentence embeddings φ(t), float32
(N, 384) (genzoo.data.text, which also caches them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from genzoo.data import morpho
from genzoo.data.splits import SPLIT_NAMES, CaptionStream, Splits

CAPTION_SEED = {"train": 0, "valid": 1, "test": 2}
CAPTION_SIZES = {"train": 10_000, "valid": 1_000, "test": 1_000}  # the first N of each split

# MNIST: Morpho-MNIST thickness (pixels) and slant (degrees) bins
THIN_BELOW = 2.2
THICK_FROM = 3.0  # = genzoo.data.tasks.THICK_SPLIT, morpho-mnist's "thick"
LEFT_BELOW = -5.0
RIGHT_FROM = 15.0

# CIFAR-10: colour and brightness
SATURATED = 0.3  # a pixel is coloured when its HSV saturation is at least this ...
LIT = 0.25  # ... and its value at least this
COLOURFUL_SHARE = 0.2  # under this share of coloured pixels, the image is "grey"
BROWN_BELOW = 0.6  # an orange pixel darker than this value is brown
HUES = (  # (name, start in degrees); each bin runs to the next start, red wraps around
    ("red", 0), ("orange", 15), ("yellow", 45), ("green", 70), ("teal", 165), ("blue", 195),
    ("purple", 260), ("pink", 300), ("red", 345),
)  # fmt: skip
DARK_BELOW = 0.40  # mean luma
BRIGHT_FROM = 0.55

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck")  # fmt: skip


@dataclass(frozen=True)
class Scheme:
    """How one task's captions are written: the synonyms of every slot's values and the
    templates, which name slots in braces."""

    synonyms: dict[str, dict[str, tuple[str, ...]]]  # slot -> value -> its words
    train: tuple[str, ...]  # templates of the train and valid splits
    test: tuple[str, ...]  # held-out templates, of the test split only

    def templates(self, split: str) -> tuple[str, ...]:
        return self.test if split == "test" else self.train


MNIST_SCHEME = Scheme(
    synonyms={
        "digit": {d: (d, str(i), f"number {d}") for i, d in enumerate(DIGITS)},
        "thickness": {
            "thin": ("thin", "fine", "skinny"),
            "medium": ("medium", "regular", "normal"),
            "thick": ("thick", "bold", "heavy"),
        },  # fmt: skip
        "slant": {
            "left": ("leaning left", "slanted to the left", "tilted to the left"),
            "upright": ("upright", "standing straight", "not slanted"),
            "right": ("leaning right", "slanted to the right", "tilted to the right"),
        },
    },
    train=(
        "a {thickness} {digit} {slant}",
        "a {thickness} {digit}, {slant}",
        "a handwritten {digit}, {thickness} and {slant}",
        "{slant}, a {thickness} {digit}",
    ),
    test=(
        "the {digit} written {thickness}, {slant}",
        "an image of a {thickness} {digit} that is {slant}",
    ),
)

CIFAR_SCHEME = Scheme(
    synonyms={
        "object": {
            "airplane": ("airplane", "plane", "aeroplane"),
            "automobile": ("car", "automobile"),
            "bird": ("bird",),
            "cat": ("cat", "kitten"),
            "deer": ("deer",),
            "dog": ("dog",),
            "frog": ("frog", "toad"),
            "horse": ("horse", "pony"),
            "ship": ("ship", "boat"),
            "truck": ("truck", "lorry"),
        },
        "colour": {name: (name,) for name, _ in HUES}
        | {"brown": ("brown",), "grey": ("grey", "gray")},  # fmt: skip
        "brightness": {
            "dark": ("dark", "dim"),
            "medium": ("plain", "ordinary"),
            "bright": ("bright", "sunny"),
        },  # fmt: skip
    },
    train=(
        "a {brightness} photo of a {colour} {object}",
        "a {colour} {object} in a {brightness} picture",
        "{brightness} image: a {colour} {object}",
    ),
    test=(
        "a {colour} {object}, photographed in {brightness} light",
        "this {brightness} snapshot shows a {colour} {object}",
    ),
)


def _article(text: str) -> str:
    """'a' before a vowel becomes 'an' ("a orange car" -> "an orange car"); no template
    puts a digit's name right after 'a', so "one" never meets this rule."""
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", text)


def draw(values: list[dict[str, str]], scheme: Scheme, split: str) -> list[tuple[str, dict]]:
    """The template and the words of every slot of each image's caption (module
    docstring): one template, then one synonym per slot, for each image in order."""
    rng = np.random.RandomState(CAPTION_SEED[split])
    templates, out = scheme.templates(split), []
    for v in values:
        template = templates[rng.randint(len(templates))]
        words = {}
        for slot, synonyms in scheme.synonyms.items():
            choices = synonyms[v[slot]]
            words[slot] = choices[rng.randint(len(choices))]
        out.append((template, words))
    return out


def write_captions(values: list[dict[str, str]], scheme: Scheme, split: str) -> list[str]:
    """One caption per image from the value of each of its slots."""
    return [_article(template.format(**words)) for template, words in draw(values, scheme, split)]


def thickness_bin(thickness: float) -> str:
    return "thin" if thickness < THIN_BELOW else "thick" if thickness >= THICK_FROM else "medium"


def slant_bin(slant_degrees: float) -> str:
    if slant_degrees < LEFT_BELOW:
        return "left"
    return "right" if slant_degrees >= RIGHT_FROM else "upright"


def mnist_properties(images, labels) -> list[dict]:
    """Per digit (uint8 (N, 1, H, W)): its slot values, and the measured thickness
    (pixels) and slant (degrees) from genzoo.data.morpho."""
    out = []
    for img, y in zip(np.asarray(images)[:, 0], np.asarray(labels), strict=True):
        t, s = morpho.thickness(img), math.degrees(morpho.slant(img))
        out.append({"digit": DIGITS[int(y)], "thickness": thickness_bin(t),
                    "slant": slant_bin(s), "measured": {"thickness": t, "slant": s}})  # fmt: skip
    return out


def colour_and_brightness(images) -> tuple[list[str], np.ndarray]:
    """The dominant colour names and the mean luma on [0, 1] of uint8 RGB images
    (N, 3, H, W) (module docstring)."""
    x = np.asarray(images, dtype=np.float64) / 255.0
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    v, c = x.max(axis=1), x.max(axis=1) - x.min(axis=1)
    s = np.divide(c, v, out=np.zeros_like(v), where=v > 0)
    safe = np.where(c > 0, c, 1.0)  # the standard HSV hue, in degrees
    h = np.where(v == r, ((g - b) / safe) % 6, np.where(v == g, (b - r) / safe + 2,
                 (r - g) / safe + 4)) * 60  # fmt: skip
    coloured = (s >= SATURATED) & (v >= LIT)
    starts = np.array([start for _, start in HUES])
    names = [name for name, _ in HUES]
    bin_of = np.searchsorted(starts, h, side="right") - 1  # (N, H, W) index into HUES
    brown = (np.array(names)[bin_of] == "orange") & (v < BROWN_BELOW)
    all_names = sorted(set(names)) + ["brown"]
    index = {n: i for i, n in enumerate(all_names)}
    code = np.vectorize(index.__getitem__)(np.array(names))[bin_of]
    code = np.where(brown, index["brown"], code)
    colours = []
    for k in range(len(x)):
        if coloured[k].mean() < COLOURFUL_SHARE:
            colours.append("grey")
            continue
        counts = np.bincount(code[k][coloured[k]], minlength=len(all_names))
        colours.append(all_names[int(counts.argmax())])  # ties: the first name in order
    luma = (0.299 * r + 0.587 * g + 0.114 * b).mean(axis=(1, 2))
    return colours, luma


def brightness_bin(luma: float) -> str:
    return "dark" if luma < DARK_BELOW else "bright" if luma >= BRIGHT_FROM else "medium"


def cifar_properties(images, labels) -> list[dict]:
    colours, luma = colour_and_brightness(images)
    return [
        {
            "object": CIFAR_CLASSES[int(y)],
            "colour": c,
            "brightness": brightness_bin(m),
            "measured": {"luma": float(m)},
        }  # fmt: skip
        for y, c, m in zip(np.asarray(labels), colours, luma, strict=True)
    ]


@dataclass(frozen=True)
class CaptionTask:
    name: str
    base: str
    scheme: Scheme
    properties: Callable[[object, object], list[dict]]
    prompt: str = ""  # the class prompt's template, with the class slot in braces
    pad: int = 0  # black pixels added on each side of every image

    def class_prompts(self) -> list[str]:
        """One prompt per class, in label order (module docstring)."""
        (slot,) = re.findall(r"{(\w+)}", self.prompt)
        return [_article(self.prompt.format(**{slot: words[0]}))
                for words in self.scheme.synonyms[slot].values()]  # fmt: skip


PAD_32 = 2  # 28x28 -> 32x32
MNIST_PROMPT = "a handwritten {digit}"  # a TRAIN template, without thickness and slant
CIFAR_PROMPT = "a photo of a {object}"


CAPTION_TASKS = {
    "mnist-captions": CaptionTask("mnist-captions", "mnist", MNIST_SCHEME, mnist_properties,
                                  MNIST_PROMPT),
    "cifar10-captions": CaptionTask("cifar10-captions", "cifar10", CIFAR_SCHEME,
                                    cifar_properties, CIFAR_PROMPT),
    "mnist32-captions": CaptionTask("mnist32-captions", "mnist", MNIST_SCHEME,
                                    mnist_properties, MNIST_PROMPT, pad=PAD_32),
}  # fmt: skip


def class_prompts(task_name: str) -> list[str] | None:
    """The zero-shot class prompts of a captioned task, in label order; None for a task
    without them."""
    task = CAPTION_TASKS.get(task_name)
    return task.class_prompts() if task is not None and task.prompt else None


def caption_split(task: CaptionTask, base: Splits, split: str, n: int | None = None):
    """(images, labels, properties, captions) of the first n (default CAPTION_SIZES)
    images of one split of the base dataset."""
    n = CAPTION_SIZES[split] if n is None else n
    images, labels = base.split(split)[:n], getattr(base, f"{split}_labels")[:n]
    properties = task.properties(images.numpy(), labels.numpy())
    return images, labels, properties, write_captions(properties, task.scheme, split)


def build(task: CaptionTask, base: Splits, embed: Callable | None = None) -> Splits:
    """The captioned splits; `embed` (default genzoo.data.text.embed) maps captions to φ."""
    if embed is None:
        from genzoo.data.text import embed
    x, labels, text = {}, {}, {}
    for split in SPLIT_NAMES:
        x[split], labels[split], _, text[split] = caption_split(task, base, split)
        if task.pad:
            p = task.pad
            x[split] = torch.nn.functional.pad(x[split], (p, p, p, p))
    phi = {split: embed(text[split]) for split in SPLIT_NAMES}
    from genzoo.data.text import ENCODER

    sizes = "/".join(f"{CAPTION_SIZES[s]:,}" for s in SPLIT_NAMES)
    padded = (f"each image padded with {task.pad} black pixels a side "
              f"(captions measured before), " if task.pad else "")  # fmt: skip
    return Splits(
        task.name,
        *(x[s] for s in SPLIT_NAMES),
        *(labels[s] for s in SPLIT_NAMES),
        n_levels=base.n_levels,
        protocol=f"{task.name}: the first {sizes} of {task.base}'s train/valid/test, each "
        f"{padded}with a caption written from its class and measured properties (genzoo."
        f"data.captions; test captions from held-out templates), embedded by {ENCODER}. "
        f"Base: {base.protocol}",
        captions=CaptionStream(
            ENCODER,
            tuple(text["train"]),
            tuple(text["valid"]),
            tuple(text["test"]),
            *(phi[s] for s in SPLIT_NAMES),
        ),  # fmt: skip
    )
