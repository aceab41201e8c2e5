"""MADE training step on CPU: genzoo against a re-implementation of pytorch-generative's.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/made_step.py \
        | tee benchmarks/results/made_step.txt
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/made_step.py --quick

The peer, written here after pytorch-generative (models/autoregressive/made.py and its
MaskedLinear): a `nn.Linear` subclass with a registered `mask` buffer, forward
`F.linear(x, self.mask * self.weight, self.bias)`, masks built once at construction; the
network is MaskedLinear(784, H) -> ReLU -> MaskedLinear(H, 784); loss: binary
cross-entropy with logits summed over the 784 pixels, mean over the batch; Adam, lr 1e-3.
It gets genzoo's initial weights and genzoo's (one) mask set, so both compute the same loss.

genzoo's step is `MADE.training_step` with the optimizer from `configure_optimizers`
(as `genzoo train` runs it): the objective (mask set choice included), backward, Adam.
The peer's Adam is PyTorch's default one, as pytorch-generative's trainer builds it;
genzoo's MADE asks for the fused one. genzoo's masked layers compute only the blocks
left of their staircase masks (genzoo.nn.staircase), about 56% of each weight matrix
here: in place with `--order raster` (genzoo's default), gathered block by block with
`--order random` (default: both, one after the other). Before the steps are timed, both
models' log p(x) are compared example by example, in float32 and in float64.

Then, for settings beyond the peer's one (direct connections, two layers, mask
ensembles, a new mask every step), genzoo's step against the same model and optimizer
with its masked layers on the dense `F.linear(x, W ⊙ M, b)` path (`measure_settings`).

`--quick` (under a minute) times fewer steps; `measure` and `measure_settings` are what
`make bench` calls.

One hidden layer of H = 8000, one mask set, binary inputs (p = 0.5), float32, one thread.
For each batch size, the two steps alternate (interleaved repetitions, so load from other
processes hits both alike) and the medians are compared; the ratios, not the absolute
times, are what carries over from a shared machine.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys

import torch
import torch.nn.functional as F
from common import cpu_model, loadavg, timed, write_rows  # benchmarks/common.py
from torch import Tensor, nn

from genzoo.core import DataInfo
from genzoo.models import create_model
from genzoo.nn.masked import MaskedLinear


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
        self.sync(model)
        self.net = nn.Sequential(self.hidden, nn.ReLU(), self.out)

    def sync(self, model: nn.Module) -> None:
        """Take genzoo's weights and masks, with the pixels in data order: genzoo's network
        takes them in the ordering (`MADE.inputs`), the peer's at their own places."""
        (W,) = model.W
        back = model.inputs_back
        with torch.no_grad():
            self.hidden.weight.copy_(W.weight[:, back])
            self.hidden.bias.copy_(W.bias)
            self.hidden.set_mask(W.mask[:, back])
            self.out.weight.copy_(model.V.weight[back])
            self.out.bias.copy_(model.V.bias[back])
            self.out.set_mask(model.V.mask[back])

    def loss(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], -1)
        return F.binary_cross_entropy_with_logits(self.net(x), x, reduction="none").sum(1).mean()


def measure(
    hidden: int = 8000,
    batches: tuple[int, ...] = (64, 100),
    reps: int = 30,
    seed: int = 0,
    order: str = "raster",
    report=print,
) -> dict[int, tuple[float, float]]:
    """Time genzoo's MADE step against the peer's, interleaved; `report` gets each line.
    Returns, per batch size, the median step times (genzoo's, the peer's) in seconds."""
    torch.set_num_threads(1)
    report(f"torch {torch.__version__}, 1 thread, CPU: {cpu_model()}")

    torch.manual_seed(seed)
    data = DataInfo((1, 28, 28), 2)
    model = create_model("made", data, hidden_dims=(hidden,), order=order)
    peer = PeerMADE(model)
    optimizers = model.configure_optimizers(lr=1e-3)
    peer_opt = torch.optim.Adam(peer.parameters(), lr=1e-3)
    report(f"MADE H={hidden}, D={data.n_dims}, 1 mask set, {order} order, Adam lr 1e-3, float32")
    fused = optimizers["model"].defaults.get("fused")
    report(f"Adam: genzoo fused={fused}, peer fused={peer_opt.defaults.get('fused')}")
    for name, layer in (("W (input)", model.W[0]), ("V (output)", model.V)):
        stairs = layer.staircase()
        how = "dense" if stairs is None else f"staircase, {len(stairs.groups)} row groups"
        read = 1.0 if stairs is None else stairs.fraction(layer.in_features)
        report(f"genzoo layer {name}: {how}, reads {read:.1%} of its weights")

    def genzoo_step(x: Tensor) -> None:
        model.training_step({"x": x}, 0, optimizers, lambda loss: loss.backward())

    def peer_step(x: Tensor) -> None:
        peer_opt.zero_grad(set_to_none=True)
        peer.loss(x).backward()
        peer_opt.step()

    ratios = {}
    for B in batches:
        x = (torch.rand(B, *data.shape) < 0.5).float()
        peer.sync(model)  # the same weights again after the last batch size's steps
        with torch.no_grad():
            flat = x.reshape(B, -1)
            log_p_peer = -F.binary_cross_entropy_with_logits(
                peer.net(flat), flat, reduction="none"
            ).sum(1)
            gap = (model.log_prob(x) - log_p_peer).abs().max().item()
            scale = log_p_peer.abs().max().item()
            model64, peer64, x64 = (
                copy.deepcopy(model).double(),
                copy.deepcopy(peer).double(),
                flat.double(),
            )
            log_p_peer64 = -F.binary_cross_entropy_with_logits(
                peer64.net(x64), x64, reduction="none"
            ).sum(1)
            gap64 = (model64.log_prob(x64) - log_p_peer64).abs().max().item()
        report("")
        report(f"=== batch {B}; load average at start: {loadavg()}")
        report(f"max |log p genzoo - log p peer| at start: {gap:.2e} nats (|log p| ≤ {scale:.0f})")
        report(f"the same in float64: {gap64:.2e} nats")
        genzoo_step(x)  # warm-up
        peer_step(x)
        times: dict[str, list[float]] = {"genzoo MADE": [], "peer MADE": []}
        for _ in range(reps):
            times["genzoo MADE"].append(timed(lambda x=x: genzoo_step(x)))
            times["peer MADE"].append(timed(lambda x=x: peer_step(x)))
        report(f"{reps} interleaved steps each (forward + backward + Adam)")
        report(f"{'':12s} {'median ms':>10s} {'min ms':>8s}")
        medians = {}
        for name, ts in times.items():
            medians[name] = statistics.median(ts)
            report(f"{name:12s} {medians[name] * 1e3:10.1f} {min(ts) * 1e3:8.1f}")
        ratios[B] = medians["genzoo MADE"], medians["peer MADE"]
        ratio = f"{medians['peer MADE'] / medians['genzoo MADE']:.2f}x"
        report(f"batch {B}: genzoo speed relative to the peer (median peer / genzoo): {ratio}")
    report(f"load average at end: {loadavg()}")
    return ratios


# MADE settings beyond the one the peer implements, each against genzoo's own dense path
SETTINGS = {
    "1 layer of 8000, raster order": dict(hidden_dims=(8000,)),
    "1 layer of 8000, random order": dict(hidden_dims=(8000,), order="random"),
    "the same, direct connections": dict(hidden_dims=(8000,), order="random", direct=True),
    "2 layers of 4000, random order": dict(hidden_dims=(4000, 4000), order="random"),
    "1 layer of 8000, 32 masks in turn": dict(hidden_dims=(8000,), n_masks=32, order="random"),
    "1 layer of 8000, a new mask each step": dict(hidden_dims=(8000,), resample="every_step"),
}


def dense_copy(model: nn.Module) -> nn.Module:
    """The same MADE with every masked layer on the dense F.linear(x, W ⊙ M, b) path."""
    dense = copy.deepcopy(model)
    for layer in dense.modules():
        if isinstance(layer, MaskedLinear):
            layer.staircase = lambda: None
    return dense


def measure_settings(batch: int = 100, reps: int = 10, seed: int = 0, report=print) -> dict:
    """genzoo's MADE step with staircase layers against the same model and optimizer with
    dense masked layers, interleaved, for each of SETTINGS. Returns dense / fast medians."""
    torch.set_num_threads(1)
    data = DataInfo((1, 28, 28), 2)
    report("")
    report(f"=== MADE settings, batch {batch}: staircase layers against genzoo's dense ones")
    report(f"load average at start: {loadavg()}")
    report(f"{'':40s} {'fast ms':>8s} {'dense ms':>9s} {'ratio':>6s} {'max |Δ log p|':>14s}")
    ratios = {}
    for name, settings in SETTINGS.items():
        torch.manual_seed(seed)
        fast = create_model("made", data, **settings)
        dense = dense_copy(fast)
        x = (torch.rand(batch, *data.shape) < 0.5).float()
        with torch.no_grad():
            gap = (fast.log_prob(x) - dense.log_prob(x)).abs().max().item()
        steps = {}
        for label, model in (("fast", fast), ("dense", dense)):
            optimizers = model.configure_optimizers(lr=1e-3)
            steps[label] = lambda m=model, o=optimizers, x=x: m.training_step(
                {"x": x}, 0, o, lambda loss: loss.backward()
            )
            steps[label]()  # warm-up
        times: dict[str, list[float]] = {"fast": [], "dense": []}
        for _ in range(reps):
            for label, step in steps.items():
                times[label].append(timed(step))
        fast_ms, dense_ms = (statistics.median(times[k]) * 1e3 for k in ("fast", "dense"))
        ratios[name] = dense_ms / fast_ms
        report(f"{name:40s} {fast_ms:8.1f} {dense_ms:9.1f} {ratios[name]:5.2f}x {gap:14.1e}")
    report(f"{reps} interleaved steps each (forward + backward + fused Adam); medians")
    report(f"load average at end: {loadavg()}")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=8000)
    parser.add_argument("--batches", default="64,100")
    parser.add_argument("--reps", type=int, default=30, help="timed steps per variant and batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--order", choices=("raster", "random", "both"), default="both")
    parser.add_argument("--no-settings", action="store_true", help="skip the settings table")
    parser.add_argument("--quick", action="store_true", help="8 timed steps each (5 per setting)")
    parser.add_argument("--json", help="also write the rows for `make bench` here")
    args = parser.parse_args()

    python = os.path.relpath(sys.executable)
    shown = ("OMP_NUM_THREADS", "PYTHONPATH")
    env = " ".join(f"{k}={os.environ[k]}" for k in shown if k in os.environ)
    prefix = f"{env} " if env else ""
    tee = "" if args.quick else " | tee benchmarks/results/made_step.txt"
    print(f"$ {prefix}{python} {' '.join(sys.argv)}{tee}")
    batches = tuple(int(b) for b in args.batches.split(","))
    reps = 8 if args.quick else args.reps
    orders = ("raster", "random") if args.order == "both" else (args.order,)
    rows = []
    for i, order in enumerate(orders):
        if i:
            print()
        for B, (ours, peer) in measure(args.hidden, batches, reps, args.seed, order).items():
            # no MFU: the staircase skips the masked half of the products, so the dense
            # count would overstate the work (benchmarks/mfu.py counts what is run)
            rows.append({"name": f"MADE H={args.hidden} training step, B={B}, {order} order",
                         "genzoo_s": ours, "reference": "peer's code path",
                         "reference_s": peer, "threads": 1})  # fmt: skip
    if not args.no_settings:
        measure_settings(batches[-1], 5 if args.quick else max(5, reps // 3), args.seed)
    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
