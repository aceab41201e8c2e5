"""One StarGAN for both morpho-mnist attributes beside one CycleGAN per attribute, judged
the same way on the same test digits: the StarGAN paper's argument for one model.

    python benchmarks/stargan_vs_cyclegan.py --stargan RUN \
        --cyclegan thick=RUN --cyclegan slanted=RUN [--data-root ROOT]

Protocol: morpho-mnist's 1,000 test digits (genzoo.data.tasks), each translated to its own
attributes with attribute k flipped: StarGAN as G(x, c with c_k flipped); the CycleGAN of
attribute k (trained on morpho-k-unpaired, the same 10,000 training images parted by
attribute k) maps the digits with c_k = 0 by G (a2b) and those with c_k = 1 by F (b2a).
Each output is measured like the data (Morpho-MNIST thickness and slant):
  hit        share whose measured attribute k reaches the flipped value;
  kept       share whose other attribute stays on its side;
  class kept share that morpho-mnist's feature network (a classifier trained on its
             training images and MNIST labels) reads as the input's digit;
  L1, PSNR   against the true flip: the same MNIST digit made by the data's recipe with
             c_k flipped (pixels in [0, 1]; PSNR the mean over images, in dB).
The identity map (the unchanged inputs) is the floor, the true flips the ceiling of what
the measurements can confirm. One draw, seed 0 (neither model uses dropout).
"""

from __future__ import annotations

import argparse

import torch

from genzoo.data import load
from genzoo.data.tasks import (
    MORPHO_ATTRIBUTES,
    attribute_hits,
    measured_attributes,
    morpho_draws,
    morpho_images,
)
from genzoo.io.images import to_unit_range
from genzoo.metrics.features import accuracy, feature_network
from genzoo.metrics.translation import l1_and_psnr, translate_batch
from genzoo.train.checkpoint import training_state
from genzoo.train.run import load_run


def flipped(c: torch.Tensor, k: int) -> torch.Tensor:
    target = c.clone()
    target[:, k] = 1 - target[:, k]
    return target


@torch.no_grad()
def translate_flipped(run, x: torch.Tensor, c: torch.Tensor, k: int) -> torch.Tensor:
    """Outputs in [0, 1] of uint8 digits x with attributes c (N, A), attribute k flipped."""
    model, transform, bs = run.model, run.transform, run.train_config.batch_size
    x = transform.fixed(x, "test")
    out = torch.empty(x.shape)
    if getattr(model, "attribute_names", ()):  # StarGAN: one G for every target
        target = flipped(c, k)
        for i in range(0, len(x), bs):
            out[i : i + bs] = translate_batch(model, x[i : i + bs], None, target=target[i : i + bs])
    else:  # the CycleGAN of attribute k: G turns it on, F off
        for direction, rows in (("a2b", c[:, k] == 0), ("b2a", c[:, k] == 1)):
            idx = rows.nonzero().squeeze(1)
            for i in range(0, len(idx), bs):
                j = idx[i : i + bs]
                out[j] = translate_batch(model, x[j], None, direction).cpu()
    return to_unit_range(out, None, transform.scale)


def measure(out: torch.Tensor, truth: torch.Tensor, c: torch.Tensor, k: int, y, net) -> dict:
    hits = attribute_hits(measured_attributes(out.numpy()), flipped(c, k).numpy())
    others = [j for j in range(c.shape[1]) if j != k]
    l1, psnr = l1_and_psnr(out, truth)
    return {"hit": float(hits[:, k].mean()), "kept": float(hits[:, others].all(1).mean()),
            "class_kept": accuracy(net, out, y), "l1": l1.mean().item(),
            "psnr": psnr.mean().item()}  # fmt: skip


def describe(run) -> str:
    state = training_state(run.path)
    params = sum(p.numel() for p in run.model.parameters())
    generators = sum(p.numel() for name, p in run.model.named_parameters()
                     if name.split(".")[0] in ("G", "F"))  # fmt: skip
    return (f"{run.model_name} on {run.data_name}: {state['step']:,} steps, "
            f"{state['cpu_seconds']:,.0f} CPU s, {generators:,} generator parameters "
            f"({params:,} with the discriminators)")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stargan", required=True, help="a stargan run on morpho-mnist")
    p.add_argument("--cyclegan", action="append", default=[], metavar="ATTR=RUN",
                   help="the cyclegan run of each attribute, on morpho-ATTR-unpaired")  # fmt: skip
    p.add_argument("--data-root")
    args = p.parse_args()
    cyclegans = dict(spec.split("=", 1) for spec in args.cyclegan)
    if set(cyclegans) != set(MORPHO_ATTRIBUTES):
        p.error(f"give --cyclegan ATTR=RUN for each of {', '.join(MORPHO_ATTRIBUTES)}")
    stargan = load_run(args.stargan)
    runs = {a: load_run(r) for a, r in cyclegans.items()}

    base = load("mnist", args.data_root, splits=("test",))
    digits, drawn, y = morpho_draws(base, "test")
    x, c = morpho_images(digits, drawn), torch.from_numpy(drawn).float()
    net, info = feature_network("morpho-mnist", args.data_root)
    unit = x.float() / 255
    print(
        f"morpho-mnist test digits: {len(x):,}; feature network {info['identifier']} "
        f"(test accuracy {info['test_accuracy']:.4f}), accuracy on the unchanged inputs "
        f"{accuracy(net, unit, y):.4f}"
    )
    for run in (stargan, *runs.values()):
        print(describe(run))
    print()
    print(
        "| model | attribute flipped | hit ↑ | kept ↑ | class kept ↑ | L1 vs true flip ↓ "
        "| PSNR (dB) ↑ |"
    )
    print("|---|---|---|---|---|---|---|")
    for k, name in enumerate(MORPHO_ATTRIBUTES):
        truth = morpho_images(digits, flipped(c, k).long().numpy()).float() / 255
        rows = {
            "stargan (one model)": translate_flipped(stargan, x, c, k),
            f"cyclegan ({name} only)": translate_flipped(runs[name], x, c, k),
            "identity map (the input)": unit,
            "the true flip (data's recipe)": truth,
        }
        for label, out in rows.items():
            r = measure(out, truth, c, k, y, net)
            print(
                f"| {label} | {name} | {r['hit']:.3f} | {r['kept']:.3f} | "
                f"{r['class_kept']:.3f} | {r['l1']:.4f} | {r['psnr']:.2f} |"
            )


if __name__ == "__main__":
    main()
