"""genzoo's DCGAN and the script-style reference DCGAN trained side by side, step for step.

    cd benchmarks && ../.venv/bin/python dcgan_equal_steps.py --data-root ../../shared/datasets \
        --steps 3000 --seeds 0,1,2 | tee results/dcgan_equal_steps.txt

gan_budget.py trains each model for a CPU budget, one after another, so a change in the
machine's load changes how many steps each gets. Here both nets train in one process for
the same number of steps on the same real batches (blocks of --block steps, alternating),
so the steps are equal and the CPU seconds of each are measured under the same load. Each
seed draws both nets' initial weights and the batch order; the FID spread over seeds is
part of the answer. Samples (--n) are scored against the first --n MNIST test images in
genzoo's MNIST classifier features (not Inception).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from common import cpu_model, loadavg
from gan_budget import ReferenceDCGAN

BATCH = 128  # DCGAN, Sec. 4


def train_side_by_side(data: torch.Tensor, steps: int, block: int, seed: int):
    """(genzoo's model, the reference, CPU seconds of each) after `steps` updates each."""
    from genzoo.core import DataInfo
    from genzoo.core.model import plain_backward
    from genzoo.models import create_model

    torch.manual_seed(seed)
    ours = create_model("dcgan", DataInfo((1, 28, 28), None))
    optimizers = ours.configure_optimizers(0.0)

    def update(x):
        return ours.training_step({"x": x}, 0, optimizers, plain_backward)

    reference = ReferenceDCGAN()
    order = torch.Generator().manual_seed(seed)
    per_epoch = len(data) // BATCH
    batches = []
    for _ in range(-(-steps // per_epoch)):
        perm = torch.randperm(len(data), generator=order)
        batches += [perm[i * BATCH : (i + 1) * BATCH] for i in range(per_epoch)]
    cpu = [0.0, 0.0]
    for start in range(0, steps, block):
        chunk = batches[start : min(start + block, steps)]
        for i, step in enumerate((update, reference.step)):
            t = time.process_time()
            for index in chunk:
                step(data[index])
            cpu[i] += time.process_time() - t
    return ours, reference, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--block", type=int, default=50, help="steps per turn")
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    torch.set_num_threads(1)

    from genzoo import data as gdata
    from genzoo.data import Transform
    from genzoo.metrics.features import feature_network
    from genzoo.metrics.quality import sample_metrics

    print(f"# command: {' '.join(['../.venv/bin/python', *sys.argv])}")
    print(f"# cpu: {cpu_model()}; torch {torch.__version__}, 1 thread; load {loadavg()}")
    splits = gdata.load("mnist", args.data_root)
    data = Transform(n_levels=256, scale="symmetric").fixed(splits.train, "train")
    net, info = feature_network("mnist", args.data_root)
    print(
        f"# MNIST train {len(data):,}, batch {BATCH}, {args.steps:,} steps each, alternating "
        f"blocks of {args.block}; {args.n:,} samples vs the first {args.n:,} test images"
    )
    print(f"# features: {info['identifier']} (genzoo's MNIST classifier, test accuracy "
          f"{info['test_accuracy']:.4f}); not Inception")  # fmt: skip
    print()
    print(f"{'seed':<6}{'model':<12}{'cpu s':>8}{'ex/cpu-s':>10}{'FID':>9}{'KID':>9}{'IS':>7}"
          f"{'prec':>7}{'recall':>7}")  # fmt: skip
    real = splits.test[: args.n].float() / 255
    fids: dict[str, list[float]] = {"genzoo": [], "reference": []}
    rates: dict[str, list[float]] = {"genzoo": [], "reference": []}
    for seed in (int(s) for s in args.seeds.split(",")):
        ours, reference, cpu = train_side_by_side(data, args.steps, args.block, seed)
        ours.eval()
        torch.manual_seed(seed)
        fake_ours = (ours.sample(args.n) + 1) / 2
        torch.manual_seed(seed)
        fake_reference = (reference.sample(args.n) + 1) / 2
        for name, fake, seconds in (("genzoo", fake_ours, cpu[0]),
                                    ("reference", fake_reference, cpu[1])):  # fmt: skip
            r = sample_metrics(fake.clamp(0, 1), real, net, ["fid", "kid", "is", "pr"])
            rate = args.steps * BATCH / seconds
            fids[name].append(r["fid"])
            rates[name].append(rate)
            print(f"{seed:<6}{name:<12}{seconds:>8.0f}{rate:>10.0f}{r['fid']:>9.2f}"
                  f"{r['kid_mean']:>9.2f}{r['is']:>7.2f}{r['precision']:>7.3f}"
                  f"{r['recall']:>7.3f}", flush=True)  # fmt: skip
    print()
    for name in fids:
        spread = statistics.stdev(fids[name]) if len(fids[name]) > 1 else 0.0
        mean_fid, mean_rate = statistics.mean(fids[name]), statistics.mean(rates[name])
        print(f"# {name}: FID mean {mean_fid:.2f} (sd {spread:.2f} over {len(fids[name])} "
              f"seeds); {mean_rate:.0f} examples/CPU-s")  # fmt: skip
    ratio = statistics.mean(rates["genzoo"]) / statistics.mean(rates["reference"])
    print(f"# throughput ratio genzoo / reference: {ratio:.2f}x")


if __name__ == "__main__":
    main()
