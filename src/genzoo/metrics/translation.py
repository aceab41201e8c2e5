"""How close a translation model's outputs come to the targets of a paired task: L1 and
PSNR against the ground-truth pairs, an oracle the model is not judged by itself.

Protocol: pixels mapped to [0, 1]; L1 = mean |G(x) − y| over all pixels; PSNR = the mean
over images of 10 log10(1 / MSE_i) in dB (an image reproduced exactly counts as 100 dB);
one dropout draw from a generator seeded by `seed`, in batches of `batch_size` (the
training batch size, so that norm=batch normalises over batches like training's). The
identity map G(x) = x is the baseline a translation must beat.
"""

from __future__ import annotations

import torch
from torch import Tensor

MSE_FLOOR = 1e-10  # PSNR of an exact reproduction: 100 dB


def l1_and_psnr(output: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Per image (B,): mean absolute error and PSNR in dB, of images in [0, 1]."""
    l1 = (output - target).abs().flatten(1).mean(1)
    mse = (output - target).pow(2).flatten(1).mean(1)
    return l1, -10 * torch.log10(mse.clamp_min(MSE_FLOOR))


@torch.no_grad()
def translation_metrics(model, source: Tensor, target: Tensor, scale: str,
                        batch_size: int, seed: int = 0) -> dict[str, float]:  # fmt: skip
    """L1 and PSNR of model.translate(source) against target (both in the data's range,
    `scale`), and of the identity map; see the module's protocol."""
    from genzoo.io.images import to_unit_range

    g = torch.Generator().manual_seed(seed)
    identity = source.shape[1] in (1, target.shape[1])  # greyscale inputs compare with colour
    totals = {"l1": 0.0, "psnr_db": 0.0}
    if identity:
        totals |= {"identity_l1": 0.0, "identity_psnr_db": 0.0}
    for i in range(0, len(source), batch_size):
        x, y = source[i : i + batch_size], target[i : i + batch_size]
        y_hat = to_unit_range(model.translate(x, generator=g).cpu(), None, scale)
        y, x = to_unit_range(y, None, scale), to_unit_range(x, None, scale)
        pairs = (("", y_hat), ("identity_", x.expand_as(y))) if identity else (("", y_hat),)
        for prefix, out in pairs:
            l1, psnr = l1_and_psnr(out, y)
            totals[f"{prefix}l1"] += l1.sum().item()
            totals[f"{prefix}psnr_db"] += psnr.sum().item()
    n = len(source)
    return {"n_examples": n, **{key: value / max(n, 1) for key, value in totals.items()}}
