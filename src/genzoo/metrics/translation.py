"""How close a translation model's outputs come to the targets of a paired task: L1 and
PSNR against the ground-truth pairs, an oracle the model is not judged by itself.

Protocol: pixels mapped to [0, 1]; L1 = mean |G(x) − y| over all pixels; PSNR = the mean
over images of 10 log10(1 / MSE_i) in dB (an image reproduced exactly counts as 100 dB);
one dropout draw from a generator seeded by `seed`, in batches of `batch_size` (the
training batch size, so that norm=batch normalises over batches like training's). The
identity map G(x) = x is the baseline a translation must beat.

A model of two directions (CycleGAN) is judged both ways against the same pairs: a2b
maps the sources to the targets, b2a the targets to the sources. Its cycle reconstruction
error is the mean |F(G(a)) − a| over the sources' pixels (A→B→A) and |G(F(b)) − b| over
the targets' (B→A→B), on [0, 1] pixels.

A model of attribute domains (StarGAN on morpho-mnist) is judged by measurement: each test
image is translated to its own attributes with attribute k flipped, and the output's
thickness and slant are measured (genzoo.data.morpho, thresholds in genzoo.data.tasks).
"hit" is the share of outputs whose measured attribute k is on its target's side; "kept"
the share whose other attributes stay on their own side; "input hit" the same measurement
of the unchanged inputs against the flipped target (the identity baseline, near 0).
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


def directions(model) -> tuple[str, ...]:
    """The directions a translation model translates in: "a2b" (its "source" to its "x")
    always, "b2a" too for a model of two mappings (CycleGAN's F)."""
    return tuple(getattr(model, "directions", ("a2b",)))


def translate_batch(model, x: Tensor, generator, direction: str = "a2b",
                    target: Tensor | None = None) -> Tensor:  # fmt: skip
    """model.translate(x), in `direction` for a model of two directions, to the target
    attributes (B, A) for a model of attribute domains (StarGAN)."""
    if target is not None:
        return model.translate(x, generator=generator, target=target)
    if len(directions(model)) == 1:
        return model.translate(x, generator=generator)
    return model.translate(x, generator=generator, direction=direction)


@torch.no_grad()
def cycle_metrics(model, source: Tensor, target: Tensor, scale: str,
                  batch_size: int) -> dict[str, float]:  # fmt: skip
    """The cycle reconstruction errors of a two-way model: mean |F(G(a)) − a| over the
    sources' pixels and |G(F(b)) − b| over the targets', on [0, 1] pixels."""
    from genzoo.io.images import to_unit_range

    totals = {"cycle_a_l1": 0.0, "cycle_b_l1": 0.0}
    for i in range(0, len(source), batch_size):
        for key, x, there, back in (("cycle_a_l1", source, "a2b", "b2a"),
                                    ("cycle_b_l1", target, "b2a", "a2b")):  # fmt: skip
            x = x[i : i + batch_size]
            x_rec = translate_batch(model, translate_batch(model, x, None, there), None, back)
            error = to_unit_range(x_rec.cpu(), None, scale) - to_unit_range(x, None, scale)
            totals[key] += error.abs().flatten(1).mean(1).sum().item()
    return {key: value / max(len(source), 1) for key, value in totals.items()}


@torch.no_grad()
def translation_metrics(model, source: Tensor, target: Tensor, scale: str,
                        batch_size: int, seed: int = 0,
                        direction: str = "a2b") -> dict[str, float]:  # fmt: skip
    """L1 and PSNR of model.translate(source) against target (both in the data's range,
    `scale`), and of the identity map; see the module's protocol. With direction="b2a"
    the targets are translated and judged against the sources."""
    from genzoo.io.images import to_unit_range

    if direction == "b2a":
        source, target = target, source
    g = torch.Generator().manual_seed(seed)
    identity = source.shape[1] in (1, target.shape[1])  # greyscale inputs compare with colour
    totals = {"l1": 0.0, "psnr_db": 0.0}
    if identity:
        totals |= {"identity_l1": 0.0, "identity_psnr_db": 0.0}
    for i in range(0, len(source), batch_size):
        x, y = source[i : i + batch_size], target[i : i + batch_size]
        y_hat = to_unit_range(translate_batch(model, x, g, direction).cpu(), None, scale)
        y, x = to_unit_range(y, None, scale), to_unit_range(x, None, scale)
        pairs = (("", y_hat), ("identity_", x.expand_as(y))) if identity else (("", y_hat),)
        for prefix, out in pairs:
            l1, psnr = l1_and_psnr(out, y)
            totals[f"{prefix}l1"] += l1.sum().item()
            totals[f"{prefix}psnr_db"] += psnr.sum().item()
    n = len(source)
    return {"n_examples": n, **{key: value / max(n, 1) for key, value in totals.items()}}


@torch.no_grad()
def attribute_metrics(model, x: Tensor, c: Tensor, scale: str,
                      batch_size: int) -> dict[str, dict[str, float]]:  # fmt: skip
    """Per attribute name: {"hit", "kept", "input_hit"} over images x (the data's range)
    with attributes c (N, A) in {0, 1}; see the module's protocol (morpho-mnist)."""
    from genzoo.data.tasks import attribute_hits, measured_attributes
    from genzoo.io.images import to_unit_range

    measured_x = measured_attributes(to_unit_range(x, None, scale).numpy())
    out = {}
    for k, name in enumerate(model.attribute_names):
        target = c.clone()
        target[:, k] = 1 - target[:, k]
        y = torch.cat([translate_batch(model, x[i : i + batch_size], None, target=target[
            i : i + batch_size]).cpu() for i in range(0, len(x), batch_size)])  # fmt: skip
        hits = attribute_hits(measured_attributes(to_unit_range(y, None, scale).numpy()),
                              target.numpy())  # fmt: skip
        others = [j for j in range(c.shape[1]) if j != k]
        out[name] = {
            "hit": float(hits[:, k].mean()),
            "kept": float(hits[:, others].all(1).mean()) if others else 1.0,
            "input_hit": float(attribute_hits(measured_x, target.numpy())[:, k].mean()),
        }
    return out
