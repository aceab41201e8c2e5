"""Diagonal BiLSTM training step on CPU: the diagonal scan against the skew / unskew form.

    OMP_NUM_THREADS=1 GENZOO_DATA=DIR .venv/bin/python benchmarks/diagonal_bilstm.py \
        | tee benchmarks/results/diagonal_bilstm.txt

One training step is `DiagonalBiLSTM.training_step` with the optimizer from
`configure_optimizers` (Adam, lr 1e-3), as `genzoo train` runs it: forward, backward over
the model's micro-batches, Adam. The model is the default config (7 layers, h = 16, the
paper's MNIST network) on batches of binarised MNIST's training split (the fixed
binarisation, loaded by genzoo.data; batches drawn in a seeded random order).

"scan" is the model as it is. "skewed" is the same model, same initial weights, with every
layer's forward replaced by `forward_skewed`: the straightforward form, skew, a loop over
the skewed map's columns, unskew, with autograd through all of it (the form before
genzoo.nn.diagonal_scan; tests/test_pixelrnn.py holds the two equal). The two steps
alternate in one process on one thread (interleaved repetitions, so load from other
processes hits both alike) and the medians are compared. Minutes per epoch are projected
as 60,000 images / batch size x median step (the issue's unit; binarised MNIST's train
split alone is 50,000 images, 5/6 of that).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time

import torch
from common import FlopCount, cpu_model, loadavg, timed, write_rows  # benchmarks/common.py

from genzoo.core import DataInfo
from genzoo.core.model import plain_backward
from genzoo.data import Transform, load
from genzoo.models import create_model

EPOCH_IMAGES = 60_000


def skewed_copy(model: torch.nn.Module) -> torch.nn.Module:
    """The same model, same weights, whose layers run `forward_skewed`."""
    reference = copy.deepcopy(model)
    for layer in reference.layers:
        layer.forward = layer.forward_skewed
    return reference


def binarized_mnist_train() -> torch.Tensor:
    splits = load("binarized-mnist", download=False, splits=("train",))
    transform = Transform(splits.n_levels)
    return transform.fixed(splits.train, "train")  # (50000, 1, 28, 28) of 0/1


def measure(reps: int = 7, batch: int = 100, seed: int = 0, log=print) -> dict:
    """Median seconds of one training step of each form, `reps` interleaved steps each after
    one warm-up step, on batches of real binarised MNIST; returns the numbers it printed."""
    torch.set_num_threads(1)
    x_all = binarized_mnist_train()
    torch.manual_seed(seed)
    model = create_model("diagonal-bilstm", DataInfo(tuple(x_all.shape[1:]), 2))
    forms = {"skewed": skewed_copy(model), "scan": model}
    optimizers = {name: m.configure_optimizers(lr=1e-3) for name, m in forms.items()}
    order = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(seed))
    batches = [x_all[order[k * batch : (k + 1) * batch]] for k in range(reps + 1)]
    with torch.no_grad():
        losses = {name: m.objective(batches[0])["loss"].item() for name, m in forms.items()}
    gap = abs(losses["scan"] - losses["skewed"])
    log(f"Diagonal BiLSTM, default config: {model.n_parameters():,} parameters, "
        f"micro-batch {model.micro_batch}, batch {batch}, float32, Adam lr 1e-3")  # fmt: skip
    log(f"data: binarised MNIST train split, {len(x_all):,} images; batches in a seeded order")
    log(f"loss at start: scan {losses['scan']:.4f}, skewed {losses['skewed']:.4f} nats/image, "
        f"|difference| {gap:.1e}")  # fmt: skip
    log(f"load average at start: {loadavg()}")

    def step(name: str, x: torch.Tensor) -> None:
        forms[name].training_step({"x": x}, 0, optimizers[name], plain_backward)

    for name in forms:
        step(name, batches[0])  # warm-up
    with FlopCount() as counter:  # one more step of the scan, counted
        step("scan", batches[0])
    times: dict[str, list[float]] = {name: [] for name in forms}
    for x in batches[1:]:
        for name in forms:
            times[name].append(timed(lambda name=name, x=x: step(name, x)))
    log(f"{reps} interleaved steps each (forward + backward + Adam), 1 thread")
    log(f"{'':8s} {'median s':>9s} {'min s':>7s} {'min/epoch':>10s}")
    result = {"batch": batch, "reps": reps, "loss_gap": gap, "flops": counter.flops}
    for name, ts in times.items():
        median = statistics.median(ts)
        minutes = EPOCH_IMAGES / batch * median / 60
        result[name] = {"median_s": median, "min_s": min(ts), "minutes_per_epoch": minutes}
        log(f"{name:8s} {median:9.3f} {min(ts):7.3f} {minutes:10.1f}")
    result["speedup"] = result["skewed"]["median_s"] / result["scan"]["median_s"]
    log(f"scan speed-up over the skewed form (median skewed / scan): {result['speedup']:.2f}x")
    before, after = (result[name]["minutes_per_epoch"] for name in ("skewed", "scan"))
    log(f"minutes per epoch of {EPOCH_IMAGES:,} images, batch {batch}: {before:.1f} -> {after:.1f}")
    log(f"load average at end: {loadavg()}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="timed steps per form")
    parser.add_argument("--batch", type=int, default=100, help="the trainer's default batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2 steps per form (under a minute)")
    parser.add_argument("--json", help="also write the rows for `make bench` here")
    args = parser.parse_args()

    env = " ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "GENZOO_DATA", "PYTHONPATH")
                   if k in os.environ)  # fmt: skip
    python = os.path.relpath(sys.executable)
    print(f"$ {env} {python} {' '.join(sys.argv)} | tee benchmarks/results/diagonal_bilstm.txt")
    print(f"torch {torch.__version__}, CPU: {cpu_model()}, {time.strftime('%Y-%m-%d')}")
    r = measure(2 if args.quick else args.reps, args.batch, args.seed)
    write_rows(args.json, [{"name": f"Diagonal BiLSTM training step, B={args.batch}",
                            "genzoo_s": r["scan"]["median_s"], "reference": "skew/unskew form",
                            "reference_s": r["skewed"]["median_s"], "flops": r["flops"],
                            "threads": 1}])  # fmt: skip


if __name__ == "__main__":
    main()
