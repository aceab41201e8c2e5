"""Model FLOPs utilisation: each model's training step, in FLOP/s, against the machine's
matmul peak at the same thread count.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mfu.py | tee benchmarks/results/mfu.txt

For every registered model: `genzoo.train_run` on the dataset of its model page, default
settings (the model's and the trainer's; no sample grids), for `--steps` steps. The
model's `training_step` is timed from the inside (data loading and logging excluded), and
its third call runs under a dispatch mode that counts the FLOPs of matmuls and
convolutions, forward and backward, with the formulas of torch's FlopCounterMode
(elementwise ops are not counted, as is usual for MFU). Then

    MFU = FLOPs per step / median seconds per step / peak

with peak the FLOP/s of a 1024 x 1024 float32 matmul, measured before and after the models
(the larger is used). NADE's step is a fused sweep whose running sums the counter does not
see; it is counted analytically instead: 4·D·H multiply-add FLOPs per example forward (the
running activation and the output unit of every dimension), three times that with the
backward pass. Models that grow (ProGAN, StyleGAN) and SinGAN's scales are measured
at their first stage: their steps get larger as they train.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time

import torch
from common import (  # benchmarks/common.py
    FlopCount,
    cpu_model,
    loadavg,
    matmul_rate,
    nade_step_flops,
    write_rows,
)

from genzoo.apps.model_pages import ENTRIES
from genzoo.models import get_model, list_models
from genzoo.train.run import train_run

QUIET = {"progress": "false", "tensorboard": "false", "n_samples": "0",
         "diversity_monitor": "false"}  # fmt: skip
COUNTED_STEP = 2  # the call (0-based) counted by FlopCounterMode, not timed


class Measured(Exception):
    """Raised out of the training loop once the steps are measured: no validation,
    checkpoint or report follows."""


@contextlib.contextmanager
def instrumented(cls, steps: int):
    """cls.training_step timed per call, its COUNTED_STEP-th call counted instead; the
    loop stops after `steps` calls."""
    record = {"seconds": [], "flops": None, "calls": 0}
    original = cls.training_step

    def training_step(self, batch, *args, **kwargs):
        call = record["calls"]
        record["calls"] += 1
        record["model"], record["batch_size"] = self, len(next(iter(batch.values())))
        if call == COUNTED_STEP:
            with FlopCount() as counter:
                out = original(self, batch, *args, **kwargs)
            record["flops"] = counter.flops
        else:
            t0 = time.perf_counter()
            out = original(self, batch, *args, **kwargs)
            if call > 0:  # the first call warms up
                record["seconds"].append(time.perf_counter() - t0)
        if record["calls"] == steps:
            raise Measured
        return out

    cls.training_step = training_step
    try:
        yield record
    finally:
        cls.training_step = original


def nade_flops(model, batch_size: int) -> float:
    """Analytic FLOPs of one NADE training step (module docstring)."""
    return nade_step_flops(model.data.n_dims, model.config.hidden_dim, batch_size)


ANALYTIC = {"nade": nade_flops}


def measure_model(name: str, steps: int, data_root=None, settings: dict | None = None) -> dict:
    """FLOPs per step and median seconds per step of `name`'s training step, with its
    default settings updated by `settings` (--set's)."""
    cls = get_model(name).cls
    data = ENTRIES[name].data
    with tempfile.TemporaryDirectory() as tmp, instrumented(cls, steps) as record:
        overrides = {**QUIET, "max_steps": str(steps + 1), **(settings or {})}
        with contextlib.suppress(Measured):
            train_run(name, data, overrides, run_dir=f"{tmp}/run", data_root=data_root)
    flops, counted = record["flops"], "counter"
    if name in ANALYTIC:
        flops, counted = ANALYTIC[name](record["model"], record["batch_size"]), "analytic"
    seconds = statistics.median(record["seconds"])
    return {"model": name, "data": data, "flops": flops, "counted": counted, "seconds": seconds}


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=8, help="training steps per model (>= 4)")
    p.add_argument("--models", help="comma-separated names (default: every model)")
    p.add_argument("--quick", action="store_true", help="4 steps")
    p.add_argument("--data-root")
    p.add_argument("--json", help="also write the rows for `make bench` here")
    args = p.parse_args(argv)
    steps = 4 if args.quick else max(args.steps, 4)
    names = args.models.split(",") if args.models else [s.name for s in list_models()]
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} thread(s), CPU: {cpu_model()}")
    print(f"{steps} training steps per model; load average at start: {loadavg()}")
    peak_before = matmul_rate()
    rows = []
    for name in names:
        try:
            rows.append(measure_model(name, steps, args.data_root))
        except Exception as e:  # a row that says why, not a lost table
            rows.append({"model": name, "data": ENTRIES[name].data, "error": str(e)[:80]})
    peak = max(peak_before, matmul_rate())
    print(f"matmul peak (1024^2 float32): {peak_before / 1e9:.1f} GFLOP/s before, "
          f"{peak / 1e9:.1f} used")  # fmt: skip
    print(f"{'model':16s} {'data':24s} {'GFLOP/step':>10s} {'counted':>8s} {'ms/step':>9s} "
          f"{'GFLOP/s':>8s} {'MFU':>6s}")  # fmt: skip
    for r in rows:
        if "error" in r:
            print(f"{r['model']:16s} {r['data']:24s} failed: {r['error']}")
            continue
        rate = r["flops"] / r["seconds"]
        r["mfu"] = rate / peak
        print(f"{r['model']:16s} {r['data']:24s} {r['flops'] / 1e9:10.3f} {r['counted']:>8s} "
              f"{r['seconds'] * 1e3:9.1f} {rate / 1e9:8.2f} {r['mfu']:6.1%}")  # fmt: skip
    print(f"load average at end: {loadavg()}")
    write_rows(args.json, [{"name": f"{r['model']} training step ({r['data']})",
                            "genzoo_s": r["seconds"], "flops": r["flops"], "threads": threads}
                           for r in rows if "error" not in r])  # fmt: skip
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
