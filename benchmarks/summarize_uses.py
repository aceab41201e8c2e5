"""Tables from benchmarks/mnist_uses.sh's logs (runs/uses/): leave-one-class-out AUROC per
class, corruption AUROCs and probe accuracies, for NADE and VAE, as markdown."""

import re
import sys
from pathlib import Path

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/uses")


def auroc(log: Path, prefix: str = "  AUROC") -> str:
    """The AUROC on the first line of `genzoo score`'s output that starts with `prefix`."""
    if not log.exists():
        return "—"
    m = re.search(rf"^{re.escape(prefix)}[^\n]*?(\d\.\d+)", log.read_text(), re.M)
    return m.group(1)[:5] if m else "—"


def flagged(log: Path) -> str:
    """Shares of in / OOD batches the typicality test flags."""
    m = (
        re.search(r"flagged .*: in (\d\.\d+), ood (\d\.\d+)", log.read_text())
        if log.exists()
        else None
    )
    return f"{m.group(1)} / {m.group(2)}" if m else "—"


def row(name: str, values: list[str]) -> str:
    done = [float(v) for v in values if v != "—"]
    mean = f"{sum(done) / len(done):.3f}" if len(done) == len(values) else "—"
    return f"| {name} | " + " | ".join(values) + f" | {mean} |"


def report_line(run: Path, prefix: str) -> str:
    report = run / "report.md"
    if not report.exists():
        return "—"
    return next((ln for ln in report.read_text().splitlines() if ln.startswith(prefix)), "—")


print("Leave-one-class-out AUROC (train on the other nine digits, score test images;")
print("OOD = the held-out digit):\n")
print("| model (score) | " + " | ".join(str(c) for c in range(10)) + " | mean |")
print("|---|" + "---|" * 11)
logs = {m: [OUT / f"{m}-without-{c}.score.log" for c in range(10)] for m in ("nade", "vae")}
print(row("NADE (−log p, exact)", [auroc(log) for log in logs["nade"]]))
print(row("NADE, per-example typicality", [auroc(log, "  per-example") for log in logs["nade"]]))
print(row("VAE (−IWAE, k = 100)", [auroc(log) for log in logs["vae"]]))
print("\nNADE typicality test, batches of 10 flagged (in / held-out digit):\n")
print(" | ".join(f"{c}: {flagged(log)}" for c, log in enumerate(logs["nade"])))
print("\nTest NLL of each held-out-class run (nats; its own test split, without that digit):\n")
for model in ("nade", "vae"):
    for c in range(10):
        line = report_line(OUT / f"{model}-without-{c}", "| test")
        print(f"- {model} without {c}: {line}")

print("\nCorruption AUROC (runs on all ten digits; test set against its corruption):\n")
print("| model | noise | invert | flip | blur |")
print("|---|---|---|---|---|")
for model in ("nade", "vae"):
    kinds = ("noise", "invert", "flip", "blur")
    values = [auroc(OUT / f"{model}-all-{c}.score.log") for c in kinds]
    print(f"| {model} | " + " | ".join(values) + " |")
for model in ("nade", "vae"):
    for n in (10, 100):
        log = OUT / f"{model}-all.probe{n}.log"
        print(f"\n{model}, {n} labels per class:\n")
        print(log.read_text() if log.exists() else "(not run)")
