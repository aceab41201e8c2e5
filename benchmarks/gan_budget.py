"""The GANs after a fixed CPU budget each, on MNIST, and a straightforward DCGAN beside them.

    .venv/bin/python benchmarks/gan_budget.py --data-root ../shared/datasets --budget 900 \
        --runs runs/bench-gan-900 | tee benchmarks/results/gan_budget_900.txt

(The committed 15-minute results ran this as two processes, one per core, splitting the
models with --models and giving one of them --no-reference; gan_budget.txt is 300 s.
`--set critic_warmup=true` made gan_budget_900_wgan_warmup.txt.)

Every model trains for `--budget` CPU seconds on one thread (run directories under
--runs), then draws --n samples, scored against the first --n test images in the features
of genzoo's MNIST classifier (not Inception). Beside them, a DCGAN written the way the
common PyTorch example writes it (nn.Sequential nets with BatchNorm, BCELoss on a sigmoid,
real/fake label tensors, one script loop), with the same data, batch size, optimizer and
budget. Also: the classifier's accuracy on CGAN samples per requested label, and the
unsupervised clustering accuracy of InfoGAN's categorical code on the test set (each code
value mapped to one digit by the Hungarian algorithm).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from common import cpu_model, loadavg
from torch import nn

MODELS = ("gan", "dcgan", "cgan", "infogan", "wgan", "wgan-gp")
BATCH = {"dcgan": 128}  # DCGAN, Sec. 4; the others: 64 (WGAN, WGAN-GP: m = 64)


class ReferenceDCGAN:
    """The usual script-style DCGAN, sized for 28x28 (the PyTorch example's nets are 64x64)."""

    def __init__(self, nz: int = 100):
        self.nz = nz
        self.G = nn.Sequential(
            nn.ConvTranspose2d(nz, 128, 7, 1, 0, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
            nn.ConvTranspose2d(64, 1, 4, 2, 1, bias=False), nn.Tanh(),
        )  # fmt: skip
        self.D = nn.Sequential(
            nn.Conv2d(1, 64, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(128, 1, 7, 1, 0, bias=False), nn.Sigmoid(),
        )  # fmt: skip
        for m in [*self.G.modules(), *self.D.modules()]:
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)
        self.criterion = nn.BCELoss()
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def step(self, real: torch.Tensor) -> None:
        """One iteration of the example's loop body: a D step on real and fake, a G step."""
        b = real.size(0)
        self.D.zero_grad()
        label = torch.full((b,), 1.0)
        err_real = self.criterion(self.D(real).view(-1), label)
        err_real.backward()
        noise = torch.randn(b, self.nz, 1, 1)
        fake = self.G(noise)
        label.fill_(0.0)
        err_fake = self.criterion(self.D(fake.detach()).view(-1), label)
        err_fake.backward()
        self.opt_d.step()
        self.G.zero_grad()
        label.fill_(1.0)
        err_g = self.criterion(self.D(fake).view(-1), label)
        err_g.backward()
        self.opt_g.step()

    def train(self, data: torch.Tensor, batch_size: int, budget: float) -> tuple[int, float]:
        start, seen, step = time.process_time(), 0, 0
        while time.process_time() - start < budget:
            perm = torch.randperm(len(data))
            for i in range(0, len(data) - batch_size + 1, batch_size):
                self.step(data[perm[i : i + batch_size]])
                seen, step = seen + batch_size, step + 1
                if time.process_time() - start >= budget:
                    break
        return step, seen / (time.process_time() - start)

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        self.G.eval()
        return self.G(torch.randn(n, self.nz, 1, 1))


def interleaved_throughput(repeats: int = 5, steps: int = 10, batch: int = 128) -> None:
    """genzoo's DCGAN update against the reference's loop body, alternating in one process on
    the same batch: the ratio that the budget runs above, taken one after another under
    changing load, cannot give."""
    from genzoo.core import DataInfo
    from genzoo.core.model import plain_backward
    from genzoo.models import create_model

    torch.manual_seed(0)
    x = torch.rand(batch, 1, 28, 28) * 2 - 1
    ours = create_model("dcgan", DataInfo((1, 28, 28), None))
    optimizers = ours.configure_optimizers(0.0)

    def update(x):
        return ours.training_step({"x": x}, 0, optimizers, plain_backward)

    reference = ReferenceDCGAN()
    print(f"\n# DCGAN update throughput, interleaved ({repeats} x {steps} steps each, batch "
          f"{batch}, 1 thread, CPU time)")  # fmt: skip
    totals = [0.0, 0.0]
    for _ in range(repeats):
        for i, step in enumerate((lambda: update(x), lambda: reference.step(x))):
            t = time.process_time()
            for _ in range(steps):
                step()
            totals[i] += time.process_time() - t
    n = repeats * steps * batch
    print(f"  genzoo {n / totals[0]:.0f} examples/s   reference {n / totals[1]:.0f} examples/s"
          f"   ratio {totals[1] / totals[0]:.2f}x")  # fmt: skip

    # what the trainer adds around the update: the same steps through `fit` (after a first
    # call that pays Fabric's one-time set-up)
    from genzoo.train import fit

    data = x.repeat(steps, 1, 1, 1)
    quiet = {"progress": False, "tensorboard": False, "n_samples": 0}
    fit(ours, data, max_steps=1, batch_size=batch, **quiet)
    t = time.process_time()
    for i in range(steps):
        update(data[i * batch : (i + 1) * batch])
    bare = time.process_time() - t
    t = time.process_time()
    fit(ours, data, max_steps=steps, batch_size=batch, **quiet)
    through_fit = time.process_time() - t
    print(f"  {steps} steps: bare updates {bare:.2f} s, through fit() {through_fit:.2f} s "
          f"(trainer overhead {through_fit / bare - 1:+.1%})")  # fmt: skip


def throughput(run_dir: Path) -> float:
    """Training examples per CPU second over the whole run (one thread, so contention from
    other processes changes wall time, not this)."""
    from genzoo.io.files import load_tensors
    from genzoo.train.checkpoint import CHECKPOINT_FORMAT

    _, state = load_tensors(run_dir / "checkpoint.safetensors", CHECKPOINT_FORMAT)
    return state["step"] * BATCH.get(run_dir.name, 64) / state["cpu_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--budget", type=float, default=360.0, help="CPU seconds per model")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--runs", type=Path, default=Path("runs/bench-gan"))
    parser.add_argument("--seed", type=int, default=0, help="training seed of every model")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for every model trained, e.g. critic_warmup=true "
                        "(wgan)")  # fmt: skip
    parser.add_argument("--throughput-only", action="store_true")
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the reference DCGAN and the throughput"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.throughput_only:
        print(f"# command: {' '.join(['.venv/bin/python', *sys.argv])}; load {loadavg()}")
        interleaved_throughput()
        return

    from genzoo import data as gdata
    from genzoo.apps.quality import evaluate_samples
    from genzoo.apps.report import train_and_report
    from genzoo.cli import parse_sets
    from genzoo.data import Transform
    from genzoo.metrics.features import feature_network
    from genzoo.metrics.quality import sample_metrics
    from genzoo.train.run import load_run

    print(f"# command: {' '.join(['.venv/bin/python', *sys.argv])}")
    print(f"# cpu: {cpu_model()}; torch {torch.__version__}, 1 thread; load {loadavg()}")
    print(f"# MNIST (train 50,000); budget {args.budget:.0f} CPU s per model, training seed "
          f"{args.seed}; metrics on {args.n:,} samples vs the first {args.n:,} test "
          "images")  # fmt: skip
    net, info = feature_network("mnist", args.data_root)
    print(f"# features: {info['identifier']} (genzoo's MNIST classifier, test accuracy "
          f"{info['test_accuracy']:.4f}); not Inception")  # fmt: skip
    print()
    print(f"{'model':<18}{'steps':>8}{'ex/cpu-s':>10}{'FID':>9}{'KID':>9}{'IS':>7}{'prec':>7}"
          f"{'recall':>7}")  # fmt: skip
    metrics = ["fid", "kid", "is", "pr"]
    runs = {}
    for name in args.models.split(","):
        run_dir = args.runs / name
        settings = {"cpu_budget": str(args.budget), "epochs": "1000", "num_threads": "1",
                    "progress": "false", "batch_size": str(BATCH.get(name, 64)),
                    "seed": str(args.seed)}  # fmt: skip
        settings.update(parse_sets(args.set))
        if not (run_dir / "report.md").exists():
            train_and_report(name, "mnist", settings, run_dir=run_dir, data_root=args.data_root,
                      command=f"benchmarks/gan_budget.py ({name})")  # fmt: skip
        run = runs[name] = load_run(run_dir)
        r, _ = evaluate_samples(run, metrics, args.n, "test", 0, args.data_root)
        steps = _steps(run_dir)
        print_row(name, steps, throughput(run_dir), r)

    splits = gdata.load("mnist", args.data_root)
    transform = Transform(n_levels=256, scale="symmetric")
    if not args.no_reference:
        torch.manual_seed(0)
        reference = ReferenceDCGAN()
        steps, rate = reference.train(transform.fixed(splits.train, "train"), 128, args.budget)
        torch.manual_seed(0)
        fake = (reference.sample(args.n) + 1) / 2
        real = splits.test[: args.n].float() / 255
        r = sample_metrics(fake.clamp(0, 1), real, net, metrics)
        print_row("reference DCGAN", steps, rate, r)

    if "cgan" in runs:
        print("\n# CGAN: the classifier's accuracy on 1,000 samples per requested label")
        model = runs["cgan"].model
        accs = []
        for label in range(10):
            torch.manual_seed(label)
            x = (model.sample(1000, condition=label) + 1) / 2
            accs.append((net(x.clamp(0, 1)).argmax(1) == label).float().mean().item())
        print("  " + "  ".join(f"{k}: {a:.3f}" for k, a in enumerate(accs)))
        print(f"  mean {sum(accs) / 10:.3f}")
    if "infogan" in runs:
        from scipy.optimize import linear_sum_assignment

        model = runs["infogan"].model
        x = transform.fixed(splits.test, "test")
        with torch.no_grad():
            codes = torch.cat([model.predict_category(x[i : i + 1000])
                               for i in range(0, len(x), 1000)])  # fmt: skip
        counts = torch.zeros(10, 10)
        counts.index_put_((codes, splits.test_labels), torch.ones(len(codes)), accumulate=True)
        rows, cols = linear_sum_assignment(-counts.numpy())
        accuracy = counts[rows, cols].sum().item() / len(codes)
        print("\n# InfoGAN: test-set clustering accuracy of the categorical code (Hungarian map)")
        print(f"  {accuracy:.4f} (error {1 - accuracy:.4f}; the paper reports about 5 % error)")
    if not args.no_reference:
        interleaved_throughput()


def print_row(name: str, steps: int, rate: float, r: dict[str, float]) -> None:
    print(f"{name:<18}{steps:>8}{rate:>10.0f}{r['fid']:>9.2f}{r['kid_mean']:>9.2f}{r['is']:>7.2f}"
          f"{r['precision']:>7.3f}{r['recall']:>7.3f}", flush=True)  # fmt: skip


def _steps(run_dir: Path) -> int:
    import json

    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return max(json.loads(line)["step"] for line in lines)


if __name__ == "__main__":
    main()
