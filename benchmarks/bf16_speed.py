"""bf16 mixed precision against float32: the training step's speed, model by model.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bf16_speed.py \
        | tee benchmarks/results/bf16_speed.txt

Each model's training step is timed from the inside as in benchmarks/mfu.py (a
`genzoo.train_run` on its model page's dataset, default settings), with
`precision=32-true` and `precision=bf16-mixed` (Fabric's autocast: matmuls and convolutions
in bf16, weights and optimizer in float32). The two alternate in `--rounds` rounds of
`--steps` steps each, so that load from other processes hits both alike; the table gives
the median step time over all rounds and their ratio. Also measured: a 1024 x 1024 matmul
in float32 and in bf16, the most bf16 can give here. Quality at the same steps is measured
by benchmarks/bf16_quality.sh.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
from common import cpu_model, loadavg, matmul_rate, write_rows  # benchmarks/common.py
from mfu import measure_model  # benchmarks/mfu.py

MODELS = ("nade", "made", "pixelcnn", "row-lstm", "vae", "dcgan", "wgan-gp", "pix2pix")
PRECISIONS = ("32-true", "bf16-mixed")


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--steps", type=int, default=6, help="steps per round (>= 4)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="1 round of 4 steps")
    p.add_argument("--data-root")
    p.add_argument("--json", help="also write the rows for `make bench` here")
    args = p.parse_args(argv)
    steps, rounds = (4, 1) if args.quick else (max(args.steps, 4), args.rounds)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU: {cpu_model()}")
    print(f"{rounds} round(s) of {steps} steps per precision; load average at start: {loadavg()}")
    f32, bf16 = matmul_rate("float32"), matmul_rate("bfloat16")
    print(f"1024^2 matmul: float32 {f32 / 1e9:.1f} GFLOP/s, bf16 {bf16 / 1e9:.1f} GFLOP/s "
          f"({bf16 / f32:.2f}x)")  # fmt: skip
    rows = []
    print(f"{'model':12s} {'data':24s} {'fp32 ms':>9s} {'bf16 ms':>9s} {'speed-up':>9s}")
    for name in args.models.split(","):
        times = {precision: [] for precision in PRECISIONS}
        for _ in range(rounds):
            for precision in PRECISIONS:
                r = measure_model(name, steps, args.data_root, {"precision": precision})
                times[precision].append(r["seconds"])
        fp32, mixed = (statistics.median(times[p]) for p in PRECISIONS)
        rows.append({"name": f"{name} training step, bf16-mixed", "genzoo_s": mixed,
                     "reference": "float32", "reference_s": fp32, "flops": r["flops"],
                     "threads": torch.get_num_threads(), "dtype": "bfloat16"})  # fmt: skip
        print(f"{name:12s} {r['data']:24s} {fp32 * 1e3:9.1f} {mixed * 1e3:9.1f} "
              f"{fp32 / mixed:8.2f}x", flush=True)  # fmt: skip
    print(f"load average at end: {loadavg()}")
    write_rows(args.json, rows)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
