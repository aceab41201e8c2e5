"""Image transforms for batches of float images (B, C, H, W): resize, random crop, random
horizontal flip. The random ones take a torch.Generator, so that a run seeded by its step
draws the same augmentation again on resume.

`Augment.parse("flip,crop=4")` builds the per-batch chain that `TrainConfig.augment` names:
    flip       mirror each image left-right with probability 1/2
    crop=P     pad each side by P pixels (replicating the border) and crop back to the
               original size at a random offset per image
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.core.errors import GenzooError


def resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Images to (H, W) = size: area averaging when shrinking, bilinear when growing."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrinking = size[0] <= x.shape[-2] and size[1] <= x.shape[-1]
    if shrinking:
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def random_flip(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Each image mirrored left-right with probability 1/2."""
    flip = torch.rand(len(x), generator=generator) < 0.5
    return torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)


def random_crop(x: Tensor, padding: int, generator: torch.Generator | None = None) -> Tensor:
    """Pad every side by `padding` (replicating the border), then crop each image back to
    its size at a random offset in 0..2*padding along each axis."""
    if padding == 0:
        return x
    B, _, H, W = x.shape
    padded = F.pad(x, (padding,) * 4, mode="replicate")
    top = torch.randint(2 * padding + 1, (B,), generator=generator)
    left = torch.randint(2 * padding + 1, (B,), generator=generator)
    rows = (top[:, None] + torch.arange(H)).to(x.device)  # (B, H)
    cols = (left[:, None] + torch.arange(W)).to(x.device)  # (B, W)
    b = torch.arange(B, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[b, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


@dataclass(frozen=True)
class Augment:
    flip: bool = False
    crop: int = 0  # padding of the random crop; 0: none

    @classmethod
    def parse(cls, text: str) -> Augment:
        flip, crop = False, 0
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, value = part.partition("=")
            if name == "flip" and not value:
                flip = True
            elif name == "crop" and value.isdigit():
                crop = int(value)
            else:
                raise GenzooError(f"augment={text!r}: expected a list of flip and crop=P "
                                  f"(pixels), e.g. flip,crop=2; got {part!r}")  # fmt: skip
        return cls(flip, crop)

    def __bool__(self) -> bool:
        return self.flip or self.crop > 0

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        if self.crop:
            x = random_crop(x, self.crop, generator)
        if self.flip:
            x = random_flip(x, generator)
        return x
