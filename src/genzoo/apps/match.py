"""Captions against an image in a joint image–text space: how well each fits it, and CLIP's
zero-shot choice among them (Radford et al. 2021, Sec. 3.1.2: the softmax of the scaled
cosines over the candidate captions). `genzoo match` and the studio's Match page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from genzoo.core.errors import GenzooError

MAX_CAPTIONS = 32  # captions matched against one image


@dataclass
class Match:
    """An image against captions in a joint model's space, best first."""

    captions: list[str]
    cosine: list[float]  # u · v of the image's and each caption's unit vectors
    probability: list[float]  # softmax over the captions at the model's logit scale
    scale: float


@torch.no_grad()
def match_captions(model, x: Tensor, captions: list[str]) -> Match:
    """Each caption's cosine with the image x (1, C, H, W) in [−1, 1] in `model`'s joint
    space (Capability.JOINT), and the softmax over the captions at the model's learned scale
    exp(logit_scale); blank captions are skipped, at most MAX_CAPTIONS."""
    texts = [line.strip() for line in captions if line.strip()]
    if not texts:
        raise GenzooError("give at least one caption, one a line")
    if len(texts) > MAX_CAPTIONS:
        raise GenzooError(f"{len(texts)} captions; at most {MAX_CAPTIONS} are matched at once")
    texts = [model.check_prompt(t) for t in texts]
    u = model.embed_images(x.to(next(model.parameters()).device))  # (1, d)
    cosine = (u @ model.embed_prompts(texts).T)[0].float().cpu()
    scale = float(model.logit_scale.exp())
    probability = torch.softmax(scale * cosine, 0)
    order = torch.argsort(cosine, descending=True, stable=True).tolist()
    return Match([texts[i] for i in order], [float(cosine[i]) for i in order],
                 [float(probability[i]) for i in order], scale)  # fmt: skip


def read_image(path: str | Path, shape: tuple[int, ...] | None) -> Tensor:
    """An image file as (1, C, H, W) in [−1, 1], the range joint models embed: of `shape`
    (C, H, W) exactly (never resized), or RGB of any size (None: CLIP resizes it)."""
    from genzoo.io.images import read_pixels

    pixels = read_pixels(path, 3 if shape is None else shape[0])
    if shape is not None and pixels.shape[:2] != tuple(shape[1:]):
        raise GenzooError(f"{path} is {pixels.shape[1]}x{pixels.shape[0]}; this joint model "
                          f"embeds {shape[2]}x{shape[1]} images: resize or crop it")  # fmt: skip
    x = torch.from_numpy(pixels.copy()).float()
    x = x[None] if x.dim() == 2 else x.permute(2, 0, 1)
    return (x / 255 * 2 - 1)[None]
