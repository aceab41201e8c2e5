"""StyleCLIP's latent optimisation (Patashnik et al. 2021, Eq. 1; genzoo.apps.edit.styleclip)
over many seeds and prompts, judged by oracles that the optimisation never sees.

For each prompt and each seed s in 0..--seeds−1: z = N(0, I) from torch.Generator seeded s
(as `genzoo edit --seed s`), w_s = f(z) in W+, then --steps Adam steps on w at --lr toward
the prompt in the joint model's space with λ_L2‖w − w_s‖₂ (no identity term). The oracles
judge the original G(w_s) and the edit G(w*):
- genzoo's classifier of the StyleGAN's dataset (`genzoo.metrics.features`), its class;
- handwritten digits: the Morpho-MNIST stroke thickness (pixels) and slant (degrees,
  positive leaning right), genzoo.data.morpho;
- colour photos: the mean luma Y on [0, 1], as genzoo.data.captions measures brightness.

An attribute prompt succeeds when its measure moves the asked way (any amount; the mean
change is reported beside the rate) and "kept" counts the edits whose class the classifier
still gives. A class prompt ("a handwritten seven") succeeds when the classifier gives the
asked class; seeds whose original already has it are left out and counted. The λ_L2 sweep
repeats one prompt at the same lr with λ_L2 from 0 up.

Run from the repository root:
  OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/styleclip_rates.py \\
      --stylegan RUN --joint JOINT_RUN [--data-root DIR] [--seeds 10] [--steps 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from common import cpu_model, loadavg

from genzoo.apps.edit import check_pair, load_joint, oracle, styleclip
from genzoo.data.captions import CIFAR_CLASSES
from genzoo.train.run import load_run

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# (prompt, what it asks: a measure and a sign, or "class" and the class index)
PROMPTS = {
    "digits": [("thicker", "thickness", +1), ("thinner", "thickness", -1),
               ("slanted left", "slant", -1), ("slanted right", "slant", +1),
               ("a handwritten seven", "class", DIGITS.index("seven"))],
    "photos": [("a brighter image", "brightness", +1), ("a darker image", "brightness", -1),
               ("make it a horse", "class", CIFAR_CLASSES.index("horse"))],
}  # fmt: skip
SWEEP = {"digits": "thicker", "photos": "a brighter image"}
UNITS = {"thickness": "px", "slant": "°", "brightness": "luma"}


def one_edit(run, joint, text: str, seed: int, args, l2: float) -> dict:
    z = torch.randn(1, run.model.config.latent_dim,
                    generator=torch.Generator().manual_seed(seed))  # fmt: skip
    edit = styleclip(run.model, joint.model, text, z, args.steps, args.lr, l2, n_frames=2)
    o = oracle(edit.frames[[0, -1]], run.data_name, args.data_root)
    row = {"text": text, "seed": seed, "l2_weight": l2, "l2": edit.l2[-1],
           "d_before": edit.distance[0], "d_after": edit.distance[-1],
           "class_before": o["class"][0], "class_after": o["class"][1]}  # fmt: skip
    for key in ("thickness", "slant", "brightness"):
        if key in o:
            row[key] = o[key]
    return row


def summary(rows: list[dict], asks: str, target: int) -> dict:
    """The rate of success, the mean change of the asked measure, the share of classes
    kept, the mean ‖w* − w_s‖₂ and D_joint before and after, over `rows`."""
    if asks == "class":
        judged = [r for r in rows if r["class_before"] != target]
        hits = [r["class_after"] == target for r in judged]
        change = None
    else:
        judged = rows
        deltas = [r[asks][1] - r[asks][0] for r in judged]
        hits = [d * target > 0 for d in deltas]
        change = statistics.mean(deltas)
    mean = lambda key: statistics.mean(r[key] for r in judged)  # noqa: E731
    return {"n": len(judged), "left_out": len(rows) - len(judged),
            "success": sum(hits) / len(hits), "change": change,
            "kept": sum(r["class_after"] == r["class_before"] for r in judged) / len(judged),
            "l2": mean("l2"), "d_before": mean("d_before"), "d_after": mean("d_after")}  # fmt: skip


def table_row(text: str, l2: float, asks: str, s: dict) -> str:
    change = "—" if s["change"] is None else f"{s['change']:+.3f} {UNITS[asks]}"
    n = f"{s['n']}" + (f" (+{s['left_out']} already)" if s["left_out"] else "")
    return (f"| {text} | {l2:g} | {n} | {s['success']:.2f} | {change} | {s['kept']:.2f} | "
            f"{s['l2']:.2f} | {s['d_before']:.3f} → {s['d_after']:.3f} |")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stylegan", required=True, help="a stylegan run")
    p.add_argument("--joint", required=True, help="a contrastive run on the same images")
    p.add_argument("--data-root", default=None)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--l2", type=float, default=0.008, help="λ_L2 of the prompt table")
    p.add_argument("--sweep", default="0,0.008,0.03,0.1,0.3,1",
                   help="λ_L2 values for the sweep ('' for none)")  # fmt: skip
    p.add_argument("--json", default=None, help="also write every edit as a JSON line here")
    args = p.parse_args()
    torch.set_num_threads(1)
    run = load_run(args.stylegan)
    joint = load_joint(args.joint, tuple(run.model.data.shape))
    check_pair(run, joint)
    kind = "digits" if run.model.data.shape[0] == 1 else "photos"
    print(f"torch {torch.__version__}, 1 thread, CPU: {cpu_model()}, "
          f"{time.strftime('%Y-%m-%d')}; load average at start: {loadavg()}")  # fmt: skip
    print(f"StyleGAN {args.stylegan} ({run.data_name}), joint model {joint.name}"
          f"{'; ' + joint.note if joint.note else ''}")  # fmt: skip
    print(f"seeds 0..{args.seeds - 1}, {args.steps} Adam steps at lr {args.lr}, W+, no "
          "identity term")  # fmt: skip
    start, rows = time.process_time(), []
    header = (
        "| prompt | λ_L2 | edits judged | success | mean change | class kept | "
        "‖w* − w_s‖₂ | D_joint before → after |\n|---|---|---|---|---|---|---|---|"
    )
    print("\nprompts at λ_L2", args.l2)
    print(header)
    for text, asks, target in PROMPTS[kind]:
        batch = [one_edit(run, joint, text, s, args, args.l2) for s in range(args.seeds)]
        rows += batch
        print(table_row(text, args.l2, asks, summary(batch, asks, target)), flush=True)
    if args.sweep:
        text = SWEEP[kind]
        _, asks, target = next(p for p in PROMPTS[kind] if p[0] == text)
        print(f"\nλ_L2 sweep for {text!r} at lr {args.lr}")
        print(header)
        for l2 in (float(v) for v in args.sweep.split(",")):
            batch = (
                [r for r in rows if r["text"] == text and r["l2_weight"] == l2]
                if l2 == args.l2
                else [one_edit(run, joint, text, s, args, l2) for s in range(args.seeds)]
            )
            rows += [] if l2 == args.l2 else batch
            print(table_row(text, l2, asks, summary(batch, asks, target)), flush=True)
    print(f"\n{len(rows)} edits in {time.process_time() - start:.0f} CPU s; load average at "
          f"end: {loadavg()}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)


if __name__ == "__main__":
    main()
