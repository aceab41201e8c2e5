"""NADE throughput on CPU: genzoo's fused sweep against the straightforward per-dimension loop.

    .venv/bin/python benchmarks/nade_throughput.py | tee benchmarks/results/nade_throughput.txt

Training: examples/s of one full step (forward, backward, Adam) at batch 512, D = 784,
H = 500, for genzoo's `NADE.objective` and for a reference written here the obvious
way (a Python loop over d with one small matmul each, autograd through all of them).
A third variant, computing blocks of K dimensions with one triangular matmul each, is an
alternative that was tried and not kept. All start from the same weights and minimise
the same loss, −mean log p(x). They are timed in interleaved repetitions and the medians
compared, so that load from other processes hits all alike. Also: the time to draw 64
samples, and likelihood-evaluation throughput (no grad) on 10,000 examples.

Everything runs twice: with torch's default thread count, then with one thread. On a
shared machine the one-thread numbers are the steadier: a step of the sweep is a chain
of short parallel ops, each as slow as its slowest thread.

Data: random binary images, p(pixel = 1) = 0.5 (timing does not depend on the values).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from common import cpu_model, loadavg, nade_step_flops, timed, write_rows  # benchmarks/common.py
from torch import Tensor, nn

from genzoo.core import DataInfo
from genzoo.models import create_model


class LoopNADE(nn.Module):
    """The reference: NADE written as one autograd step per dimension."""

    def __init__(self, model: nn.Module):
        super().__init__()
        # W stored transposed, (D, H), so that W[:, d] is a contiguous row here too
        self.W_t = nn.Parameter(model.W.detach().t().contiguous())
        self.V = nn.Parameter(model.V.detach().clone())  # (D, H)
        self.b = nn.Parameter(model.b.detach().clone())
        self.c = nn.Parameter(model.c.detach().clone())
        self.order = model.order.tolist()

    def log_prob(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], -1)
        a = self.c.expand(x.shape[0], -1)
        logits = []
        for d in self.order:
            h = torch.sigmoid(a)
            logits.append(h @ self.V[d] + self.b[d])
            a = a + x[:, d : d + 1] * self.W_t[d]
        logits = torch.stack(logits, dim=1)
        x_o = x[:, self.order]
        return -F.binary_cross_entropy_with_logits(logits, x_o, reduction="none").sum(1)

    def objective(self, x: Tensor) -> dict[str, Tensor]:
        return {"loss": -self.log_prob(x).mean()}


class BlockedNADE(LoopNADE):
    """An alternative that was measured and not kept: K dimensions at a time.

    Within a block, a_{t0+k} = a_{t0} + Σ_{j<k} x_j W_j for all k is one matmul of the
    strictly lower-triangular, x-weighted (K·B, K) matrix with the block's K rows of W;
    autograd does the rest. The (K, B, H) activations of every block are kept for backward.
    """

    def __init__(self, model: nn.Module, block: int):
        super().__init__(model)
        self.block = block

    def log_prob(self, x: Tensor) -> Tensor:
        x_o = x.reshape(x.shape[0], -1)[:, self.order]
        B, D = x_o.shape
        W, V, b = self.W_t[self.order], self.V[self.order], self.b[self.order]
        a = self.c.expand(B, -1)
        logits = []
        for t0 in range(0, D, self.block):
            t1 = min(t0 + self.block, D)
            K = t1 - t0
            x_k = x_o[:, t0:t1]  # (B, K)
            below = torch.tril(torch.ones(K, K), diagonal=-1)  # [k, j] = 1[j < k]
            L = (below[:, None, :] * x_k[None]).reshape(K * B, K)
            h = torch.sigmoid((L @ W[t0:t1]).view(K, B, -1) + a)  # (K, B, H)
            logits.append(torch.bmm(h, V[t0:t1, :, None]).squeeze(-1) + b[t0:t1, None])
            a = a + x_k @ W[t0:t1]
        logits = torch.cat(logits).t()
        return -F.binary_cross_entropy_with_logits(logits, x_o, reduction="none").sum(1)


def probe() -> str:
    """µs per iteration of a short op chain (sigmoid, matvec, update on 512 x 500) with
    2 threads and with 1. On a healthy machine 2 threads win; when another tenant slows
    one core, every parallel op waits for it and 2 threads lose."""
    a, v, lo = torch.randn(512, 500), torch.randn(500), torch.empty(512)
    h = torch.empty_like(a)
    threads, out = torch.get_num_threads(), []
    for n in (2, 1):
        torch.set_num_threads(n)
        t0 = time.perf_counter()
        for _ in range(1000):
            torch.sigmoid(a, out=h)
            torch.mv(h, v, out=lo)
            a.addcmul_(lo[:, None], v, value=1e-9)
        out.append(f"{n} thread(s) {(time.perf_counter() - t0) * 1e3:.0f} us")
    torch.set_num_threads(threads)
    return ", ".join(out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--reps", type=int, default=9, help="timed training steps per variant")
    parser.add_argument("--eval-n", type=int, default=10_000)
    parser.add_argument("--sample-n", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--block", type=int, default=16, help="K of the blocked alternative")
    parser.add_argument(
        "--threads",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[torch.get_num_threads(), 1],
        help="comma-separated thread counts to run in turn (default: torch's default, then 1)",
    )
    parser.add_argument("--quick", action="store_true",
                        help="one thread, 3 repetitions, 1,000 evaluation examples")  # fmt: skip
    parser.add_argument("--json", help="also write the rows for `make bench` here")
    args = parser.parse_args(argv)
    if args.quick:
        args.threads, args.reps, args.eval_n = [1], 3, 1000

    python = os.path.relpath(sys.executable)
    print(f"$ {python} {' '.join(sys.argv)} | tee benchmarks/results/nade_throughput.txt")
    print(
        f"torch {torch.__version__}, default threads {torch.get_num_threads()}, CPU: {cpu_model()}"
    )

    torch.manual_seed(args.seed)
    data = DataInfo((1, 28, 28), 2)
    model = create_model("nade", data, hidden_dim=args.hidden)
    reference = LoopNADE(model)
    blocked = BlockedNADE(model, args.block)
    variants = {
        "genzoo NADE": model,
        "reference loop": reference,
        f"blocked K={args.block}": blocked,
    }
    optimizers = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, m in variants.items()}
    x = (torch.rand(args.batch, *data.shape) < 0.5).float()
    x_eval = (torch.rand(args.eval_n, *data.shape) < 0.5).float()
    print(f"NADE H={args.hidden}, D={data.n_dims}, batch {args.batch}, Adam lr 1e-3, float32")
    with torch.no_grad():
        for name in ("reference loop", f"blocked K={args.block}"):
            gap = (model.log_prob(x) - variants[name].log_prob(x)).abs().max().item()
            print(f"max |log p difference| from {name}, before training: {gap:.2e} nats")

    def step(name: str) -> None:
        optimizers[name].zero_grad(set_to_none=True)
        variants[name].objective(x)["loss"].backward()
        optimizers[name].step()

    best: dict[str, tuple[float, int]] = {}  # variant -> (median s, thread count) at its best
    rows = []
    for threads in dict.fromkeys(args.threads):
        torch.set_num_threads(threads)
        print()
        print(f"=== {threads} thread(s); load average at start: {loadavg()}")
        print(f"machine probe before: {probe()}")
        for name in variants:  # warm-up
            step(name)
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(args.reps):
            for name in variants:
                times[name].append(timed(lambda name=name: step(name)))

        print(f"machine probe after:  {probe()}")
        print("training step (forward + backward + Adam), interleaved repetitions")
        print(f"{'':16s} {'median ms':>10s} {'min ms':>8s} {'examples/s':>11s}")
        medians = {}
        for name, ts in times.items():
            medians[name] = statistics.median(ts)
            if name not in best or medians[name] < best[name][0]:
                best[name] = (medians[name], threads)
            rate = args.batch / medians[name]
            print(f"{name:16s} {medians[name] * 1e3:10.1f} {min(ts) * 1e3:8.1f} {rate:11.0f}")
        for name in variants:
            if name != "genzoo NADE":
                ratio = medians[name] / medians["genzoo NADE"]
                print(f"genzoo NADE speed-up over {name} (medians): {ratio:.2f}x")
        rows.append({"name": f"NADE training step, B={args.batch}, {threads} thread(s)",
                     "genzoo_s": medians["genzoo NADE"], "reference": "per-dimension loop",
                     "reference_s": medians["reference loop"], "threads": threads,
                     "flops": nade_step_flops(data.n_dims, args.hidden, args.batch)})  # fmt: skip

        model.sample(args.sample_n)
        t_sample = statistics.median(
            timed(lambda: model.sample(args.sample_n)) for _ in range(args.reps)
        )
        print(f"sampling {args.sample_n} x {data.n_dims}: median {t_sample:.4f} s")

        t_eval: dict[str, list[float]] = {"genzoo NADE": [], "reference loop": []}
        with torch.no_grad():
            for _ in range(3):
                t_eval["genzoo NADE"].append(timed(lambda: model.log_prob(x_eval)))
                t_eval["reference loop"].append(
                    timed(lambda: [reference.log_prob(xb) for xb in x_eval.split(args.batch)])
                )
        print(f"likelihood evaluation, no grad, {args.eval_n} examples, median of 3")
        for name, ts in t_eval.items():
            print(f"{name:16s} {args.eval_n / statistics.median(ts):10.0f} examples/s")
        print(f"load average at end: {loadavg()}")

    if len(best) and len(dict.fromkeys(args.threads)) > 1:
        print()
        print("=== each variant at its best thread count (medians)")
        ours, ours_threads = best["genzoo NADE"]
        for name, (t, n) in best.items():
            print(f"{name:16s} {t * 1e3:10.1f} ms ({n} thread(s))")
        for name, (t, n) in best.items():
            if name != "genzoo NADE":
                print(f"genzoo NADE ({ours_threads}) speed-up over {name} ({n}): {t / ours:.2f}x")

    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
