"""Thread counts on a shared machine: how a training step's time changes when another job
holds a core, for torch's default threads, one thread, and genzoo's default.

    .venv/bin/python benchmarks/threads_under_load.py \
        | tee benchmarks/results/threads_under_load.txt

Each variant runs in a fresh process (OpenMP reads its settings when torch loads) and times
`--steps` training steps (forward, backward, Adam) of genzoo's default NADE (H=500) on
random binary 28x28 batches of 100, after 3 warm-up steps. "Loaded" means one other process
runs a one-thread float32 matmul loop for the whole measurement, as a second training
would. Quiet and loaded rounds alternate, and every variant runs once per round, so that
drift hits all alike; the table gives medians over rounds.

Variants (OMP_* variables are removed from each worker's environment first):
    torch default   torch's intra-op threads (one per core) and OpenMP's default wait
                    policy, in which idle threads spin before they sleep
    passive wait    the same threads, OMP_WAIT_POLICY=PASSIVE (idle threads sleep)
    1 thread        OMP_NUM_THREADS=1
    genzoo default  what the CLI sets before torch loads (genzoo.threads): half the
                    cores, at most 4, and the passive wait policy
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from common import cpu_model, loadavg, write_rows  # benchmarks/common.py

VARIANTS = ("torch default", "passive wait", "1 thread", "genzoo default")


def worker(variant: str, steps: int) -> float:
    """Seconds per training step of NADE in this process, under `variant`."""
    from genzoo.threads import configure_cpu_threads

    if variant == "passive wait":
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    elif variant == "1 thread":
        os.environ["OMP_NUM_THREADS"] = "1"
    elif variant == "genzoo default":
        configure_cpu_threads()
    import torch

    from genzoo.core import DataInfo
    from genzoo.models import create_model

    torch.manual_seed(0)
    model = create_model("nade", DataInfo(shape=(1, 28, 28), n_values=2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = (torch.rand(100, 1, 28, 28) < 0.5).float()

    def step():
        opt.zero_grad(set_to_none=True)
        model.objective(x)["loss"].backward()
        opt.step()

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def start_load() -> subprocess.Popen:
    code = (
        "import torch; torch.set_num_threads(1); a = torch.randn(512, 512)\n"
        "while True: a = (a @ a).tanh_()"
    )
    return subprocess.Popen([sys.executable, "-c", code])


def run_variant(variant: str, steps: int) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    out = subprocess.run(
        [sys.executable, __file__, "--worker", variant, "--steps", str(steps)],
        check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds_per_step"]


def measure(steps: int, rounds: int) -> dict[str, dict[str, float]]:
    """Median seconds per step by condition ("quiet", "loaded") and variant."""
    times = {c: {v: [] for v in VARIANTS} for c in ("quiet", "loaded")}
    for _ in range(rounds):
        for condition in ("quiet", "loaded"):
            load = start_load() if condition == "loaded" else None
            try:
                if load:
                    time.sleep(1.0)  # let it take its core
                for v in VARIANTS:
                    times[condition][v].append(run_variant(v, steps))
            finally:
                if load:
                    load.kill()
                    load.wait()
    return {c: {v: statistics.median(t) for v, t in by.items()} for c, by in times.items()}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="5 steps, 1 round")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--json", help="also write the rows for `make bench` here")
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps({"seconds_per_step": worker(args.worker, args.steps)}))
        return {}
    if args.quick:
        args.steps, args.rounds = 5, 1
    import torch

    from genzoo.threads import default_threads

    print(f"torch {torch.__version__}, {os.cpu_count()} cores, CPU: {cpu_model()}")
    print(f"NADE H=500, D=784, batch 100, Adam; {args.steps} steps per measurement, "
          f"{args.rounds} rounds; genzoo default here: {default_threads()} thread(s)")  # fmt: skip
    print(f"load average at start: {loadavg()}")
    medians = measure(args.steps, args.rounds)
    print("ms per step (median over rounds); last column: loaded, relative to 1 thread loaded")
    print(f"{'variant':16s} {'quiet':>9s} {'loaded':>9s} {'loaded/quiet':>13s} {'vs 1 thr':>9s}")
    one = medians["loaded"]["1 thread"]
    for v in VARIANTS:
        q, ld = medians["quiet"][v], medians["loaded"][v]
        print(f"{v:16s} {q * 1e3:9.1f} {ld * 1e3:9.1f} {ld / q:12.1f}x {ld / one:8.1f}x")
    print(f"load average at end: {loadavg()}")
    loaded = medians["loaded"]
    write_rows(args.json, [{"name": "NADE step, B=100, another job on a core", "genzoo_s":
                            loaded["genzoo default"], "reference": "torch default threads",
                            "reference_s": loaded["torch default"]}])  # fmt: skip
    return medians


if __name__ == "__main__":
    main()
