"""Validation curves of the runs behind docs/results.md, as committed PNG and CSV files.

    .venv/bin/python docs/plot_curves.py runs/nade-bmnist runs/made32-bmnist ... -o docs/curves

For each run: <name>.csv (epoch, the validation number in nats: the NLL for exact models,
−ELBO for VAEs) and one PNG with all runs' curves.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from genzoo.apps.bench import read_metrics
from genzoo.io.images import pyplot

KEYS = ("nll_nats", "neg_elbo_nats", "neg_iwae_nats")  # exact NLL, −ELBO or −IWAE_k


def valid_curve(run: Path) -> tuple[str, list[tuple[float, float]]]:
    key, rows = KEYS[0], []
    for record in read_metrics(run / "metrics.jsonl"):
        if record.get("split") == "valid":
            key = next(k for k in KEYS if k in record)
            rows.append((record["epoch"], record[key]))
    return key, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/curves"))
    parser.add_argument("--png", default="binarized-mnist-valid.png", help="the plot's file name")
    parser.add_argument(
        "--title",
        default="binarised MNIST, validation NLL (static binarisation, 10,000 images)",
    )
    parser.add_argument("--ymax", type=float, default=110.0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for run in args.runs:
        key, curve = valid_curve(run)
        name = run.name
        lines = [f"epoch,valid_{key}"] + [f"{e:.2f},{nll:.3f}" for e, nll in curve]
        (args.out / f"{name}.csv").write_text("\n".join(lines) + "\n")
        label = {"nll_nats": name, "neg_elbo_nats": f"{name} (−ELBO)"}.get(key, f"{name} (−IWAE_k)")
        ax.plot(*zip(*curve, strict=True), label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation NLL or −ELBO (nats)")
    ax.set_ylim(top=min(args.ymax, ax.get_ylim()[1]))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(args.title)
    fig.tight_layout()
    fig.savefig(args.out / args.png, dpi=100)


if __name__ == "__main__":
    main()
