"""Anomaly-scoring throughput: examples/s of `genzoo score`'s scores, per run, one thread.

    .venv/bin/python benchmarks/scoring_throughput.py RUN... \
        | tee benchmarks/results/scoring_throughput.txt

For each run, the score `genzoo score` uses for its model (−log p, −ELBO, −IWAE_k with
--k, reconstruction error, or a discriminator's heuristic) on the first N test images of
the run's data (after its transform). The runs are timed in interleaved rounds and the
median round reported, so that load from other processes hits all alike. VAE runs are
timed twice: with −ELBO (one sample) and with the IWAE estimate at k = 100.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_model, loadavg, timed  # noqa: E402

from genzoo.apps.anomaly import anomaly_scores, score_kind  # noqa: E402
from genzoo.core.capabilities import Capability  # noqa: E402
from genzoo.train.run import load_run, load_splits  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--data-root", default="../shared/datasets")
    parser.add_argument("--n", type=int, default=10_000, help="test images per run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)

    cases = []  # (label, run, k, inputs)
    for path in args.runs:
        run = load_run(path)
        splits = load_splits(run.data_name, args.data_root, run.train_config)
        x = run.transform.fixed(splits.test, "test")[: args.n]
        ks = [None, 100] if Capability.ELBO in run.model.capabilities else [None]
        for k in ks:
            label = f"{run.model_name} ({path}): {score_kind(run, k)}"
            cases.append((label, run, k, x))

    print(f"# command: {' '.join(['python', *sys.argv])}")
    print(f"# cpu: {cpu_model()}; torch {torch.__version__}; 1 thread; load {loadavg()}")
    times: dict[str, list[float]] = {label: [] for label, *_ in cases}
    for _ in range(args.rounds):
        for label, run, k, x in cases:
            times[label].append(timed(lambda run=run, k=k, x=x: anomaly_scores(run, x, k)))
    print(f"{'run: score':<80} {'examples':>9} {'median s':>9} {'examples/s':>11}")
    for label, _, _, x in cases:
        seconds = statistics.median(times[label])
        print(f"{label:<80} {len(x):>9,} {seconds:>9.2f} {len(x) / seconds:>11,.0f}")
    print(f"# load after: {loadavg()}")


if __name__ == "__main__":
    main()
