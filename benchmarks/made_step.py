"""MADE training step on CPU: genzoo against a re-implementation of pytorch-generative's.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/made_step.py \
        | tee benchmarks/results/made_step.txt

The peer, written here after pytorch-generative (models/autoregressive/made.py and its
MaskedLinear): a `nn.Linear` subclass with a registered `mask` buffer, forward
`F.linear(x, self.mask * self.weight, self.bias)`, masks built once at construction; the
network is MaskedLinear(784, H) -> ReLU -> MaskedLinear(H, 784); loss: binary
cross-entropy with logits summed over the 784 pixels, mean over the batch; Adam, lr 1e-3.
It gets genzoo's initial weights and genzoo's (one) mask set, so both compute the same loss.

genzoo's step is `MADE.training_step` with the optimizer from `configure_optimizers`
(as `genzoo train` runs it): the objective (mask set choice included), backward, Adam.
The peer's Adam is PyTorch's default (for-each) one, as pytorch-generative's trainer builds
it; genzoo's MADE asks for the fused one, which is most of the difference in the step.

One hidden layer of H = 8000, one mask set, binary inputs (p = 0.5), float32, one thread.
For each batch size, the two steps alternate (interleaved repetitions, so load from other
processes hits both alike) and the medians are compared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import torch
import torch.nn.functional as F
from common import cpu_model, loadavg, timed  # benchmarks/common.py
from torch import Tensor, nn

from genzoo.core import DataInfo
from genzoo.models import create_model


class PeerMaskedLinear(nn.Linear):
    """pytorch-generative's MaskedLinear: a mask buffer multiplied in on every forward."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__(in_features, out_features)
        self.register_buffer("mask", torch.ones(out_features, in_features))

    def set_mask(self, mask: Tensor) -> None:
        self.mask.data.copy_(mask)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.mask * self.weight, self.bias)


class PeerMADE(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        (W,) = model.W
        self.hidden = PeerMaskedLinear(W.in_features, W.out_features)
        self.out = PeerMaskedLinear(model.V.in_features, model.V.out_features)
        for mine, theirs in ((self.hidden, W), (self.out, model.V)):
            with torch.no_grad():
                mine.weight.copy_(theirs.weight)
                mine.bias.copy_(theirs.bias)
            mine.set_mask(theirs.mask)
        self.net = nn.Sequential(self.hidden, nn.ReLU(), self.out)

    def loss(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], -1)
        return F.binary_cross_entropy_with_logits(self.net(x), x, reduction="none").sum(1).mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=8000)
    parser.add_argument("--batches", default="64,100")
    parser.add_argument("--reps", type=int, default=15, help="timed steps per variant and batch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    python = os.path.relpath(sys.executable)
    threads = os.environ.get("OMP_NUM_THREADS", "")
    prefix = f"OMP_NUM_THREADS={threads} " if threads else ""
    print(f"$ {prefix}{python} {' '.join(sys.argv)} | tee benchmarks/results/made_step.txt")
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, CPU: {cpu_model()}")

    torch.manual_seed(args.seed)
    data = DataInfo((1, 28, 28), 2)
    model = create_model("made", data, hidden_dims=(args.hidden,))
    peer = PeerMADE(model)
    optimizers = model.configure_optimizers(lr=1e-3)
    peer_opt = torch.optim.Adam(peer.parameters(), lr=1e-3)
    print(f"MADE H={args.hidden}, D={data.n_dims}, 1 mask set, Adam lr 1e-3, float32")
    fused = optimizers["model"].defaults.get("fused")
    print(f"Adam: genzoo fused={fused}, peer fused={peer_opt.defaults.get('fused')}")

    def genzoo_step(x: Tensor) -> None:
        model.training_step({"x": x}, 0, optimizers, lambda loss: loss.backward())

    def peer_step(x: Tensor) -> None:
        peer_opt.zero_grad(set_to_none=True)
        peer.loss(x).backward()
        peer_opt.step()

    for B in (int(b) for b in args.batches.split(",")):
        x = (torch.rand(B, *data.shape) < 0.5).float()
        with torch.no_grad():
            gap = (model.objective(x)["loss"] - peer.loss(x)).abs().item()
        print()
        print(f"=== batch {B}; load average at start: {loadavg()}")
        print(f"|loss difference| genzoo - peer at start: {gap:.2e} nats")
        genzoo_step(x)  # warm-up
        peer_step(x)
        times: dict[str, list[float]] = {"genzoo MADE": [], "peer MADE": []}
        for _ in range(args.reps):
            times["genzoo MADE"].append(timed(lambda x=x: genzoo_step(x)))
            times["peer MADE"].append(timed(lambda x=x: peer_step(x)))
        print(f"{args.reps} interleaved steps each (forward + backward + Adam)")
        print(f"{'':12s} {'median ms':>10s} {'min ms':>8s}")
        medians = {}
        for name, ts in times.items():
            medians[name] = statistics.median(ts)
            print(f"{name:12s} {medians[name] * 1e3:10.1f} {min(ts) * 1e3:8.1f}")
        ratio = medians["peer MADE"] / medians["genzoo MADE"]
        print(f"batch {B}: genzoo speed relative to the peer (median peer / genzoo): {ratio:.2f}x")
    print(f"load average at end: {loadavg()}")


if __name__ == "__main__":
    main()
