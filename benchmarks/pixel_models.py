"""PixelCNN training throughput against a straightforward PixelCNN, and cached against
full-recompute sampling for every pixel model.

    .venv/bin/python benchmarks/pixel_models.py | tee benchmarks/results/pixel_models.txt
    .venv/bin/python benchmarks/pixel_models.py --quick   # about a minute: fewer repetitions

Training: examples/s of one optimiser step (forward, backward, Adam) at batch 256 on
28x28 binary images, PixelCNN with h=16 and 15 residual blocks (the issue's "15x16"). The
reference is written here the common way: full k x k kernels multiplied by their mask,
`nn.Conv2d` padding, one pass over the whole batch. It computes the same function: it is
loaded with genzoo's weights and its log-likelihood is checked against genzoo's (equal up
to float32 rounding: genzoo computes its 1x1 layers as matrix products). genzoo steps
through `genzoo.core.model.accumulate_gradients`, the trainer's own code, with the
model's default micro-batch. Variants are timed in interleaved repetitions and the
medians compared, so load from other processes hits both alike.

Sampling: seconds for n samples with the incremental (cached) step functions, and with a
whole forward pass per (pixel, channel). The full recompute costs the same for every
step, so it is timed one row at a time over the first `--full-rows` rows, each row's time
scaled by the 28 rows (stated in the output); the rows alternate with the timed
generate() calls, so that load from other processes hits both alike, and the medians
are compared. tests/test_pixel*.py check that both give identical samples.

Data: random binary images, p = 0.5 (timing does not depend on the values).

`--allocator` times the training comparison a second time after telling glibc's malloc
(mallopt) to keep freed memory rather than hand it back to the system: the reference's
full-batch step frees about a gigabyte of activations at the end of every backward pass,
and when malloc returns it, the next step pays page faults to get it back. That run shows
how much of the ratio is that cost (the peer pays it when it runs on its own, as here).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))  # importable from anywhere
from common import FlopCount, cpu_model, loadavg, timed, write_rows  # noqa: E402  (benchmarks/common.py)

from genzoo.core import DataInfo  # noqa: E402
from genzoo.core.model import accumulate_gradients, plain_backward  # noqa: E402
from genzoo.models import create_model, list_models  # noqa: E402
from genzoo.models.autoregressive.pixel import PixelModel  # noqa: E402

# --quick: the same measurements with fewer repetitions, for `make bench` (about a minute)
ENV = ("OMP_NUM_THREADS", "PYTHONPATH")  # shown in the command line that the output starts with
QUICK = {"reps": 2, "full_rows": 1, "generate_reps": 1, "threads": [1]}


class ReferenceMaskedConv(nn.Conv2d):
    """The usual masked convolution: a full k x k kernel, zeroed below and right of the centre."""

    def __init__(self, c_in: int, c_out: int, k: int, mask_type: str):
        super().__init__(c_in, c_out, k, padding=k // 2)
        mask = torch.ones_like(self.weight)
        mask[:, :, k // 2, k // 2 + (mask_type == "B") :] = 0
        mask[:, :, k // 2 + 1 :] = 0
        self.register_buffer("mask", mask)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class ReferencePixelCNN(nn.Module):
    """PixelCNN (one grey channel, Bernoulli output) as a straightforward implementation."""

    def __init__(self, h: int, n_blocks: int, out_channels: int):
        super().__init__()
        self.conv_in = ReferenceMaskedConv(1, 2 * h, 7, "A")
        self.blocks = nn.ModuleList(
            nn.ModuleList(
                [nn.Conv2d(2 * h, h, 1), ReferenceMaskedConv(h, h, 3, "B"), nn.Conv2d(h, 2 * h, 1)]
            )
            for _ in range(n_blocks)
        )
        self.out1 = nn.Conv2d(2 * h, out_channels, 1)
        self.out2 = nn.Conv2d(out_channels, 1, 1)

    def log_prob(self, x: Tensor) -> Tensor:
        s = self.conv_in(2 * x - 1)
        for reduce, conv, expand in self.blocks:
            s = s + expand(F.relu(conv(F.relu(reduce(F.relu(s))))))
        logits = self.out2(F.relu(self.out1(F.relu(s))))
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))

    @torch.no_grad()
    def load_from(self, model: nn.Module) -> None:
        """Copy genzoo's weights: its kernels store only the rows at and above the centre."""
        ours = [model.conv_in, *(c for b in model.blocks for c in (b.reduce, b.conv, b.expand))]
        ours += [model.out1, model.out2]
        theirs = [self.conv_in, *(c for b in self.blocks for c in b), self.out1, self.out2]
        for a, b in zip(ours, theirs, strict=True):
            b.weight.zero_()
            b.weight[:, :, : a.weight.shape[2]] = a.masked_weight()
            b.bias.copy_(a.bias)


def training_throughput(args) -> list[dict]:
    """The interleaved training comparison; returns a row per thread count for `make bench`."""
    torch.manual_seed(args.seed)
    data = DataInfo((1, 28, 28), 2)
    model = create_model("pixelcnn", data, hidden_channels=16, n_blocks=15)
    reference = ReferencePixelCNN(16, 15, model.config.out_channels)
    reference.load_from(model)
    x = (torch.rand(args.batch, *data.shape) < 0.5).float()
    with torch.no_grad():
        gap = (model.log_prob(x[:64]) - reference.log_prob(x[:64])).abs().max().item()
    print(f"PixelCNN h=16, 15 blocks, 28x28 binary, batch {args.batch}, Adam lr 1e-3, float32")
    print(f"parameters: genzoo {model.n_parameters():,} (kernels store only unmasked rows), "
          f"reference {sum(p.numel() for p in reference.parameters()):,}")  # fmt: skip
    print(f"max |log p difference| from the reference, same weights: {gap:.2e} nats")
    print(f"genzoo micro-batch (the trainer's default for this model): {model.micro_batch}")

    optimizers = {
        "genzoo PixelCNN": torch.optim.Adam(model.parameters(), lr=1e-3),
        "reference": torch.optim.Adam(reference.parameters(), lr=1e-3),
    }

    def step(name: str) -> None:
        optimizers[name].zero_grad(set_to_none=True)
        if name == "reference":
            (-reference.log_prob(x).mean()).backward()
        else:
            accumulate_gradients(model.objective, x, model.micro_batch, plain_backward)
        optimizers[name].step()

    with FlopCount() as counter:  # one step of genzoo's, counted
        step("genzoo PixelCNN")
    rows = []
    for threads in dict.fromkeys(args.threads):
        torch.set_num_threads(threads)
        print(f"\n=== training, {threads} thread(s); load average at start: {loadavg()}")
        for name in optimizers:
            step(name)  # warm-up
        times: dict[str, list[float]] = {k: [] for k in optimizers}
        for _ in range(args.reps):
            for name in optimizers:
                times[name].append(timed(lambda name=name: step(name)))
        print(f"{'':16s} {'median s':>9s} {'min s':>7s} {'examples/s':>11s}")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"{name:16s} {med:9.3f} {min(ts):7.3f} {args.batch / med:11.0f}")
        ratio = statistics.median(times["reference"]) / statistics.median(times["genzoo PixelCNN"])
        print(f"genzoo speed-up over the reference (medians): {ratio:.2f}x")
        print(f"load average at end: {loadavg()}")
        rows.append({"name": f"PixelCNN training step, B={args.batch}, {threads} thread(s)",
                     "genzoo_s": statistics.median(times["genzoo PixelCNN"]),
                     "reference": "full masked kernels", "threads": threads,
                     "reference_s": statistics.median(times["reference"]),
                     "flops": counter.flops})  # fmt: skip
    return rows


@torch.no_grad()
def time_steps(model: PixelModel, n: int, rows: range, cached: bool) -> float:
    """Seconds for the sampling steps of `rows`: generate()'s loop, cut short."""
    C, H, W = model.data.shape
    x = torch.zeros(n, C, H, W)
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    step = model.stepper(x) if cached else PixelModel.stepper(model, x)
    for i in rows:
        for j in range(W):
            for c in range(C):
                x[:, c, i, j] = model.head.sample(step(i, j, c), g)
    return time.perf_counter() - t0


def sampling_speed(args) -> list[dict]:
    names = [s.name for s in list_models() if issubclass(s.cls, PixelModel)]
    sizes = {"pixelcnn": {"hidden_channels": 16, "n_blocks": 15}}
    torch.set_num_threads(1)  # as generate() does
    print(f"\n=== sampling {args.sample_n} images of 28x28 binary, 1 thread (as generate() "
          f"uses); load average at start: {loadavg()}")  # fmt: skip
    print(f"full recompute: each of the first {args.full_rows} of 28 rows timed, scaled by 28; "
          f"medians, alternating with {args.generate_reps} generate() calls")  # fmt: skip
    print(f"{'model':16s} {'params':>8s} {'generate s':>11s} {'full s':>9s}  speed-up")
    found = []
    for name in names:
        torch.manual_seed(args.seed)
        model = create_model(name, DataInfo((1, 28, 28), 2), **sizes.get(name, {})).eval()
        zeros = torch.zeros(args.sample_n, 1, 28, 28)
        generate = lambda m=model, z=zeros: m.generate(z, generator=torch.Generator())  # noqa: E731
        generated, full_rows = [], []
        for r in range(max(args.generate_reps, args.full_rows)):
            if r < args.generate_reps:
                generated.append(timed(generate))
            if r < args.full_rows:
                full_rows.append(time_steps(model, args.sample_n, range(r, r + 1), cached=False))
        cached, full = statistics.median(generated), statistics.median(full_rows) * 28
        print(f"{name:16s} {model.n_parameters():8,d} {cached:11.3f} {full:9.1f}  "
              f"{full / cached:6.1f}x")  # fmt: skip
        found.append({"name": f"{name} sampling, {args.sample_n} images", "threads": 1,
                      "genzoo_s": cached, "reference": "full recompute",
                      "reference_s": full})  # fmt: skip
    return found


def keep_freed_memory() -> None:
    """glibc malloc: never trim the heap, and serve blocks up to 32 MB (its largest
    threshold) from it, so that memory freed by one step is reused by the next without
    new page faults."""
    libc = ctypes.CDLL("libc.so.6")
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    if not (libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1) and libc.mallopt(M_MMAP_THRESHOLD, 2**25)):
        raise RuntimeError("mallopt refused the settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--sample-n", type=int, default=16)
    parser.add_argument("--full-rows", type=int, default=4)
    parser.add_argument("--generate-reps", type=int, default=3, help="timed generate() calls")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[torch.get_num_threads(), 1],
        help="comma-separated thread counts for the training comparison",
    )
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-sampling", action="store_true")
    parser.add_argument(
        "--allocator",
        action="store_true",
        help="time training again with malloc keeping freed memory (see the docstring)",
    )
    parser.add_argument("--quick", action="store_true", help=f"defaults {QUICK}")
    parser.add_argument("--json", help="also write the rows for `make bench` here")
    args = parser.parse_args()
    if args.quick:  # options given on the command line still win
        parser.set_defaults(**QUICK)
        args = parser.parse_args()
    python = os.path.relpath(sys.executable)
    out = "pixel_models_allocator" if args.allocator else "pixel_models"
    tee = "" if args.quick else f" | tee benchmarks/results/{out}.txt"
    env = "".join(f"{k}={os.environ[k]} " for k in ENV if k in os.environ)
    print(f"$ {env}{python} {' '.join(sys.argv)}{tee}")
    print(f"torch {torch.__version__}, default threads {torch.get_num_threads()}, "
          f"CPU: {cpu_model()}, {time.strftime('%Y-%m-%d')}")  # fmt: skip
    rows = [] if args.skip_training else training_throughput(args)
    if args.allocator:
        keep_freed_memory()
        print("\n--- again, with malloc keeping freed memory (mallopt: no trim, mmap above 32 MB)")
        training_throughput(args)
    if not args.skip_sampling:
        rows += sampling_speed(args)
    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
