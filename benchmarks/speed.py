"""`make bench`: the quick version of every speed benchmark, and one table of the results.

    .venv/bin/python benchmarks/speed.py | tee benchmarks/results/speed.txt

Each benchmark runs in its own process with `--quick --json FILE` (one thread unless it
measures threads) and writes rows: what was timed, genzoo's seconds, and where the
benchmark has one, a reference's seconds and the FLOPs of genzoo's step. The table gives

    ratio   reference seconds / genzoo seconds: above 1, genzoo is faster
    MFU     FLOPs / genzoo seconds / the FLOP/s of a 1024 x 1024 matmul on as many threads,
            in the step's precision (float32, or bf16 for bf16-mixed rows), measured just
            before and just after that benchmark (the larger is used)

Quick runs time few repetitions: they show where things stand in a few minutes, on a
machine that may be busy. The full runs (each script without --quick) are what
benchmarks/results/ holds, and their ratios are the ones to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import cpu_model, loadavg, matmul_rate  # benchmarks/common.py

HERE = Path(__file__).resolve().parent
# (script, arguments after --quick), in the order of the table
BENCHMARKS = (
    ("nade_throughput.py", ()),
    ("made_step.py", ("--order", "random", "--no-settings")),  # the peer draws an order
    ("pixel_models.py", ()),
    ("diagonal_bilstm.py", ()),
    ("bf16_speed.py", ("--models", "made,pixelcnn,dcgan")),
    ("mfu.py", ("--models", "vae,dcgan,pix2pix")),
    ("threads_under_load.py", ()),
    ("translation_throughput.py", ()),
    ("gan32_throughput.py", ()),
)


def run(script: str, extra: tuple[str, ...], log) -> list[dict]:
    """The rows of one benchmark's quick run; its output goes to `log`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        env = dict(os.environ, OMP_NUM_THREADS="1")
        if script == "threads_under_load.py":  # it sets each variant's threads itself
            env.pop("OMP_NUM_THREADS")
        cmd = [sys.executable, str(HERE / script), "--quick", *extra, "--json", str(out)]
        print(f"$ {' '.join(cmd[1:])}", file=log, flush=True)
        done = subprocess.run(cmd, env=env, cwd=HERE, stdout=log, stderr=subprocess.STDOUT)
        if done.returncode != 0 or not out.exists():
            return [{"name": f"{script}: failed (exit {done.returncode}), see the log"}]
        return json.loads(out.read_text())


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--log", default=str(HERE / "results" / "speed.log"),
                   help="every benchmark's output (default: results/speed.log)")  # fmt: skip
    args = p.parse_args(argv)
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, CPU: {cpu_model()}")
    print(f"load average at start: {loadavg()}")
    rows = []
    started = time.perf_counter()
    with open(args.log, "w") as log:
        for script, extra in BENCHMARKS:
            t0 = time.perf_counter()
            before = {dtype: matmul_rate(dtype, threads=1) for dtype in ("float32", "bfloat16")}
            found = run(script, extra, log)
            peaks = {dtype: max(p, matmul_rate(dtype, threads=1)) for dtype, p in before.items()}
            for r in found:
                r["peak"] = peaks[r.get("dtype", "float32")]
            rows += found
            print(f"  {script}: {time.perf_counter() - t0:.0f} s; 1-thread matmul peak "
                  f"{peaks['float32'] / 1e9:.0f} GFLOP/s float32, "
                  f"{peaks['bfloat16'] / 1e9:.0f} bf16", flush=True)  # fmt: skip
    print(f"{time.perf_counter() - started:.0f} s in all; load average at end: {loadavg()}")
    print()
    print(f"{'what':52s} {'genzoo ms':>10s} {'reference':>22s} {'ref ms':>9s} {'ratio':>7s} "
          f"{'MFU':>6s}")  # fmt: skip
    for r in rows:
        if "genzoo_s" not in r:
            print(r["name"])
            continue
        ours = r["genzoo_s"]
        ref = r.get("reference_s")
        ref_ms, ratio = (f"{ref * 1e3:.1f}", f"{ref / ours:.2f}x") if ref else ("", "")
        mfu = f"{r['flops'] / ours / r['peak']:.1%}" if r.get("flops") else ""
        print(f"{r['name'][:52]:52s} {ours * 1e3:10.1f} {r.get('reference', '')[:22]:>22s} "
              f"{ref_ms:>9s} {ratio:>7s} {mfu:>6s}".rstrip())  # fmt: skip
    print(f"\nevery benchmark's output: {os.path.relpath(args.log)}")


if __name__ == "__main__":
    main(sys.argv[1:])
