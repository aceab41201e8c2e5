"""One report across families: each model's three uses, side by side.

`genzoo bench` trains (or reuses) a run of every chosen model on a preset's dataset;
`genzoo compare` takes runs that exist. Both then measure every run the same way, as far
as its capabilities allow, and write `report.md` and `report.html` with:

    one table   model, family, density, parameters, training CPU time, test NLL (exact or
                a bound, in nats per image), FID / KID of its samples, anomaly AUROC,
                linear-probe accuracy (trained features and the same net at random init)
    per model   its sample grid and its loss curves

A cell a model cannot fill says why, in a footnote: an implicit model has no NLL, an
autoencoder does not sample, MADE offers no features to probe.

Protocol, fixed so that rows compare:
    NLL      the test split; exact, or the IWAE bound with the model's eval_k for the VAE
    FID/KID  as many samples as test images, against the test split, in genzoo's feature
             network for the dataset (not Inception: comparable between genzoo runs only)
    AUROC    test images (in) against the same images flipped upside down (OOD), scored
             by `genzoo score`'s score for the model (−log p, −ELBO, reconstruction error,
             or the discriminator's heuristic)
    probe    logistic regression on `labels_per_class` labelled train images per class,
             accuracy on the test split (`genzoo probe`)
NLLs compare only between rows whose "data" column agrees: a model of binarised images
and one of dequantised grey levels model different things.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from genzoo.core.capabilities import Capability
from genzoo.core.errors import GenzooError, UnknownNameError, did_you_mean

ANOMALY_OOD = "corrupt:flip"
FAMILY_ORDER = ("autoregressive", "latent", "adversarial", "translation", "joint")


@dataclass(frozen=True)
class Preset:
    data: str
    max_steps: dict[str, int]  # by model name, else by family
    labels_per_class: int
    description: str
    settings: dict[str, str] = field(default_factory=dict)  # --set for every run
    models: tuple[str, ...] = ()  # the models it trains by default; () for every model
    model_settings: dict[str, dict[str, str]] = field(default_factory=dict)  # --set per model
    streams: tuple[str, ...] = ("x", "label")  # what the data carries: a labelled dataset

    def steps(self, model: str, family: str) -> int:
        return self.max_steps.get(model, self.max_steps[family])

    def overrides(self, model: str, family: str) -> dict[str, str]:
        """The --set of a run of `model` under this preset."""
        return {**self.settings, **self.model_settings.get(model, {}),
                "max_steps": str(self.steps(model, family))}  # fmt: skip


PRESETS = {
    "demo": Preset(
        data="digits",
        max_steps={"autoregressive": 400, "latent": 1500, "adversarial": 600},
        labels_per_class=10,
        description="the lecture's three families on the built-in 8x8 digits, in grey "
        "levels: PixelCNN (explicit, exact log p), a VAE (explicit, a bound) and DCGAN "
        "(implicit); about two minutes on 2 CPU cores",
        # one thread: small models are many tiny ops, and two threads on two cores shared
        # with anything else run several times slower (PixelCNN: 40 s against 250 s)
        settings={"num_threads": "1"},
        models=("pixelcnn", "vae", "dcgan"),
        model_settings={"pixelcnn": {"binarize": "none"}, "vae": {"binarize": "none"}},
    ),
    "quick": Preset(
        data="digits",
        max_steps={
            "autoregressive": 300,
            "latent": 300,
            "adversarial": 300,
            "pixelcnn": 150,
            "row-lstm": 100,
            "diagonal-bilstm": 60,
            "markov": 50,
        },  # fmt: skip
        labels_per_class=10,
        description="every model on the built-in 8x8 digits, a few hundred steps each: "
        "a few minutes on 2 CPU cores; for seeing the pipeline and the families side by "
        "side, not for their best numbers",
        settings={"batch_size": "100"},
        # SinGAN's D needs more than 2 px per conv block at its coarsest scale: 3 on 8x8
        model_settings={"singan": {"min_size": "8", "n_blocks": "3"}},
    ),
    "full": Preset(
        data="mnist",
        max_steps={
            "autoregressive": 10_000,
            "latent": 10_000,
            "adversarial": 10_000,
            "pixelcnn": 5_000,
            "row-lstm": 3_000,
            "diagonal-bilstm": 2_000,
        },  # fmt: skip
        labels_per_class=100,
        description="every model on MNIST (binarised once for binary models), 2,000 to "
        "10,000 steps each: hours on a CPU",
        settings={"batch_size": "100"},
    ),
}


@dataclass
class Row:
    """One run's measurements; None where the model cannot give the number (see notes)."""

    model: str
    family: str
    density: str
    run: str
    data: str
    parameters: int
    steps: int | None = None
    cpu_seconds: float | None = None
    nll: float | None = None
    nll_kind: str = ""
    bits_per_dim: float | None = None
    fid: float | None = None
    kid: float | None = None
    auroc: float | None = None
    auroc_kind: str = ""
    probe: float | None = None
    probe_random: float | None = None
    probe_pixels: float | None = None
    samples: str | None = None  # image paths, relative to the report
    curves: str | None = None
    anomaly: str | None = None  # the histogram of in- and OOD scores
    notes: dict[str, str] = field(default_factory=dict)  # column -> why it is empty
    aliases: tuple[str, ...] = ()  # the names error messages use for the model


# ---------------------------------------------------------------- runs


def bench_models(names: Sequence[str] | None = None,
                 carried: Sequence[str] | None = None) -> list[str]:  # fmt: skip
    """The registered models to bench, in family order: `names`, else every model whose
    streams the data carries (`carried`: the stream names; None: every model)."""
    from genzoo.models import get_model, list_models

    if names:
        return [get_model(n).name for n in names]  # unknown names raise, listing the known
    specs = sorted(list_models(), key=lambda s: (FAMILY_ORDER.index(s.family), s.name))
    if carried is not None:  # e.g. a translation model needs a paired task, not a preset's
        specs = [s for s in specs if set(s.cls.streams) <= set(carried)]
    return [s.name for s in specs]


FINISHED = ("completed", "early_stopping", "cpu_budget")


def train_or_reuse(model: str, preset: Preset, runs_dir: Path, data_root=None,
                   progress: bool = True, log=print) -> Path:  # fmt: skip
    """The run of `model` under `runs_dir`: reused when finished, resumed when interrupted,
    trained with the preset's settings otherwise; `log` is told which of the three."""
    from genzoo.apps.report import train_and_report
    from genzoo.models import get_model
    from genzoo.train.checkpoint import training_state

    run_dir = runs_dir / model
    checkpoint = run_dir / "checkpoint.safetensors"
    overrides = {
        **preset.overrides(model, get_model(model).family),
        "progress": str(progress).lower(),
        "tensorboard": "false",
    }
    steps = int(overrides["max_steps"])
    # finished: a report, and a checkpoint that does not say otherwise (older ones did not say)
    state = training_state(run_dir) if checkpoint.exists() else {}
    if (run_dir / "report.md").exists() and state.get("stopped") in (None, *FINISHED):
        log(f"reusing its finished run {run_dir} ({state.get('step', '?')} steps)")
        return run_dir
    resume = checkpoint.exists()
    if resume:
        log(f"resuming its interrupted run {run_dir} at step {state.get('step', '?')} of {steps}")
    else:
        log(f"training {steps} steps on {preset.data} into {run_dir}")
    command = f"genzoo bench: genzoo train {model} --data {preset.data} " + " ".join(
        f"--set {k}={v}" for k, v in overrides.items()
    )
    run = train_and_report(model, preset.data, {} if resume else overrides, run_dir, data_root,
                           resume=resume, command=command)  # fmt: skip
    if run.result.stopped == "interrupted":  # one Ctrl-C stops the whole bench (exit 130)
        raise KeyboardInterrupt(f"{model} was interrupted; the next bench resumes it")
    return run_dir


# ---------------------------------------------------------------- measurements


def _cell(row: Row, column: str, measure: Callable[[], None]) -> None:
    """Run one measurement; a model that cannot give it leaves the cell empty, with why."""
    try:
        measure()
    except GenzooError as e:
        row.notes[column] = str(e)


def measure_run(run_dir: Path, out_dir: Path, data_root=None,
                labels_per_class: int = 10) -> Row:  # fmt: skip
    """Every number of the report for one run; images are copied under `out_dir`."""
    from genzoo.apps.report import describe_transform, evaluate
    from genzoo.models import get_model
    from genzoo.train.checkpoint import training_state
    from genzoo.train.run import load_run, load_splits

    run = load_run(run_dir)
    spec = get_model(run.model_name)
    model, caps = run.model, run.model.capabilities
    data = f"{run.data_name} ({describe_transform(run.transform)})"
    row = Row(run.model_name, spec.family, spec.density, str(run_dir), data,
              model.n_parameters(), aliases=(run.model_name, type(model).__name__))  # fmt: skip
    try:
        state = training_state(run_dir)
        row.steps, row.cpu_seconds = state.get("step"), state.get("cpu_seconds")
    except GenzooError as e:
        row.notes["time"] = str(e)
    splits = load_splits(run.data_name, data_root, run.train_config)

    def nll():
        run.require_likelihood()
        if Capability.LOG_PROB in caps:
            r = evaluate(run, splits, "test")
            row.nll, row.bits_per_dim, row.nll_kind = r["nll_nats"], r["bits_per_dim"], "exact"
        else:
            k = model.eval_k
            r = evaluate(run, splits, "test", k)
            row.nll, row.bits_per_dim = r["iwae_nll_nats"], r["iwae_bits_per_dim"]
            row.nll_kind = f"bound (IWAE, k={k})"

    def quality():
        from genzoo.apps.quality import evaluate_samples

        if Capability.SAMPLE not in caps:
            raise GenzooError(f"{row.model} does not sample")
        n = len(splits.test)
        values, _ = evaluate_samples(
            run, ["fid", "kid"], n, "test", data_root=data_root, splits=splits
        )
        row.fid, row.kid = values["fid"], values["kid_mean"]

    def anomaly():
        from genzoo.apps.anomaly import anomaly_scores, ood_metrics, score_histogram, score_sets

        inside, ood = score_sets(run, splits, "test", ood=ANOMALY_OOD)
        scores = []
        for s in (inside, ood):
            values, row.auroc_kind = anomaly_scores(run, s.model_inputs(run))
            scores.append(values)
        row.auroc = ood_metrics(*scores)["auroc"]
        name = f"images/{row.model}-anomaly.png"
        score_histogram(*scores, "test images", "flipped upside down", row.auroc_kind,
                        out_dir / name, f"{row.model}: AUROC {row.auroc:.3f}")  # fmt: skip
        row.anomaly = name

    def probe():
        from genzoo.apps.probe import probe_table

        trained, pixels, random = probe_table(run, splits, labels_per_class)[0]
        row.probe, row.probe_pixels, row.probe_random = trained.linear, pixels.linear, random.linear

    _cell(row, "NLL", nll)
    _cell(row, "FID", quality)
    _cell(row, "AUROC", anomaly)
    _cell(row, "probe", probe)
    images = out_dir / "images"
    if (run_dir / "samples.png").exists():
        images.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_dir / "samples.png", images / f"{row.model}-samples.png")
        row.samples = f"images/{row.model}-samples.png"
    curves = plot_curves(run_dir / "metrics.jsonl", images / f"{row.model}-curves.png", row.model)
    if curves is not None:
        row.curves = f"images/{row.model}-curves.png"
    return row


def read_metrics(path: Path) -> list[dict]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by an interrupted run
    return entries


def plot_curves(metrics: Path, path: Path, title: str) -> Path | None:
    """Training losses and, when the run validated, validation NLL against steps; None if
    the run logged nothing."""
    from genzoo.io.images import pyplot, save_figure

    plt = pyplot()

    entries = read_metrics(metrics)
    train = [e for e in entries if e.get("split") == "train"]
    valid = [e for e in entries if e.get("split") == "valid"]
    if not train:
        return None
    keys = [k for k in train[-1] if "loss" in k]
    if len(keys) > 1:  # adversarial: d_loss and g_loss, of which "loss" repeats one
        keys = [k for k in keys if k != "loss"]
    valid_keys = [k for k in (valid[-1] if valid else {}) if k.endswith("_nats")][:2]
    fig, axes = plt.subplots(1, 2 if valid_keys else 1, figsize=(8 if valid_keys else 4.2, 2.8))
    axes = list(axes) if valid_keys else [axes]
    for key in keys:
        points = [(e["step"], e[key]) for e in train if key in e]
        axes[0].plot(*zip(*points, strict=True), label=key, linewidth=1)
    axes[0].set_title("training", fontsize=9)
    axes[0].legend(fontsize=7)
    for key in valid_keys:
        points = [(e["step"], e[key]) for e in valid if key in e]
        axes[1].plot(*zip(*points, strict=True), marker=".", label=key, linewidth=1)
        axes[1].set_title("validation (nats per image)", fontsize=9)
        axes[1].legend(fontsize=7)
    for ax in axes:
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


FAMILY_COLOURS = {"autoregressive": "#4c72b0", "latent": "#55a868", "adversarial": "#c44e52"}


def plot_overview(rows: list[Row], main_data: str | None, path: Path) -> Path | None:
    """Bars of test bits/dim (rows on `main_data` only) and of FID, coloured by family."""
    from genzoo.io.images import pyplot, save_figure

    plt = pyplot()

    panels = [
        ("test NLL, bits/dim (lower is better)",
         [(r, r.bits_per_dim) for r in rows if r.data == main_data]),
        ("FID, genzoo features (lower is better)", [(r, r.fid) for r in rows]),
    ]  # fmt: skip
    panels = [(t, [(r, v) for r, v in bars if v is not None]) for t, bars in panels]
    panels = [(t, bars) for t, bars in panels if bars]
    if not panels:
        return None
    height = 0.9 + 0.22 * max(len(bars) for _, bars in panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), height), squeeze=False)
    for ax, (title, bars) in zip(axes[0], panels, strict=True):
        ax.barh([r.model for r, _ in bars], [v for _, v in bars],
                color=[FAMILY_COLOURS.get(r.family, "grey") for r, _ in bars])  # fmt: skip
        ax.invert_yaxis()
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


# ---------------------------------------------------------------- the report

EXPLICIT_IMPLICIT = (
    "Explicit models write p(x) down: autoregressive ones exactly, as a product of "
    "conditionals, latent ones as a bound (−ELBO = reconstruction + prior fitting), so "
    "they get an NLL and score anomalies by it. Implicit models (GANs, the AAE) only sample: "
    "they are judged by their samples (FID, KID) and have no NLL. Every family that sampled "
    "shows its grid below, with its training curves and the anomaly scores it gives test "
    "images against the same images upside down."
)

COLUMNS = ("model", "family", "density", "parameters", "steps", "CPU s", "NLL (nats)",
           "bits/dim", "FID", "KID", "AUROC", "probe", "probe, random init")  # fmt: skip


def _fmt(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def table_cells(row: Row, footnote: Footnotes, main_data: str | None) -> list[str]:
    """The row's cells as text; an empty cell carries a footnote mark, and so does an NLL
    of other data than `main_data`."""

    def why(column: str, text: str) -> str:
        return f"—{footnote(row.model, reason(row, column))}" if column in row.notes else text

    nll = _fmt(row.nll, ".2f") + (" ≤" if row.nll_kind.startswith("bound") else "")
    if row.nll is not None and main_data is not None and row.data != main_data:
        nll += footnote(row.model, f"the NLL is of other data than most rows': {row.data}")
    return [
        row.model,
        row.family,
        row.density,
        f"{row.parameters:,}",
        why("time", _fmt(row.steps, ",")),
        why("time", _fmt(row.cpu_seconds, ".0f")),
        why("NLL", nll),
        why("NLL", _fmt(row.bits_per_dim, ".4f")),
        why("FID", _fmt(row.fid, ".2f")),
        why("FID", _fmt(row.kid, ".4f")),
        why("AUROC", _fmt(row.auroc, ".3f")),
        why("probe", _fmt(row.probe, ".3f")),
        why("probe", _fmt(row.probe_random, ".3f")),
    ]


class Footnotes:
    """Numbered footnotes, one per distinct reason, each listing the models it is about."""

    def __init__(self):
        self.reasons: dict[str, list[str]] = {}  # reason -> models, in order of first use

    def __call__(self, model: str, text: str) -> str:
        models = self.reasons.setdefault(text, [])
        if model not in models:
            models.append(model)
        return f" [{list(self.reasons).index(text) + 1}]"

    @property
    def texts(self) -> list[str]:
        return [f"{', '.join(models)}: {text}" for text, models in self.reasons.items()]


def reason(row: Row, column: str) -> str:
    """Why a cell is empty, with the model's own names taken out so that models sharing
    the reason share one footnote."""
    text = row.notes[column]
    for name in row.aliases:
        text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", "the model", text)
    return text


def headline(row: Row) -> str:
    """The number a gallery caption shows: the NLL where the model has one, else FID."""
    parts = []
    if row.nll is not None:
        bound = "≤ " if row.nll_kind.startswith("bound") else ""
        parts.append(f"test NLL {bound}{row.nll:.2f} nats")
    if row.fid is not None:
        parts.append(f"FID {row.fid:.1f}")
    return ", ".join(parts) or "no NLL, no samples"


def protocol_lines(rows: list[Row], title: str, labels_per_class: int) -> list[str]:
    pixels = sorted({f"{r.probe_pixels:.3f} on {r.data}" for r in rows
                     if r.probe_pixels is not None})  # fmt: skip
    by_kind: dict[str, list[str]] = {}
    for r in rows:
        if r.auroc_kind:
            by_kind.setdefault(r.auroc_kind, []).append(r.model)
    kinds = [f"{kind} ({', '.join(models)})" for kind, models in by_kind.items()]
    data = sorted({r.data for r in rows})
    return [
        f"Runs: {title}.",
        f"Data as each model sees it: {'; '.join(data)}. NLLs compare only between rows "
        "on the same data.",
        "NLL: test split, nats per image, exact for explicit models; '≤' marks an upper "
        "bound (the VAE's IWAE estimate with its eval_k). bits/dim = nats / (dims · ln 2).",
        "FID / KID: as many samples as test images, against the test split, in genzoo's "
        "feature network for the dataset, not Inception: comparable between genzoo runs only.",
        f"AUROC: test images (in) against the same images flipped upside down "
        f"({ANOMALY_OOD}, OOD = positive). Scores: {'; '.join(kinds) or 'none'}. A "
        "discriminator's score is a heuristic, not a density.",
        f"probe: logistic regression on {labels_per_class} labelled train images per class, "
        f"test accuracy; the same net at random initialisation beside it; raw pixels get "
        f"{'; '.join(pixels) or '—'}.",
        "CPU s: the training loop's process CPU time over all its sessions.",
    ]


def write_report(rows: list[Row], out_dir: Path, title: str,
                 labels_per_class: int) -> tuple[Path, Path]:  # fmt: skip
    """report.md and report.html (images embedded) in `out_dir`."""
    from collections import Counter

    notes = Footnotes()
    with_nll = Counter(r.data for r in rows if r.nll is not None).most_common(1)
    main_data = with_nll[0][0] if with_nll else None
    cells = [table_cells(r, notes, main_data) for r in rows]
    overview = plot_overview(rows, main_data, out_dir / "images" / "overview.png")
    protocol = protocol_lines(rows, title, labels_per_class)
    md = ["# genzoo report", "", EXPLICIT_IMPLICIT, "", *protocol, ""]
    md += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    md += ["| " + " | ".join(c) + " |" for c in cells]
    md += ["", *(f"[{i}] {t}" for i, t in enumerate(notes.texts, 1)), ""]
    if overview is not None:
        md += ["![overview](images/overview.png)", ""]
    md += ["## Samples, curves and anomaly scores", "",
           "| model | samples | curves | anomaly scores |", "|---|---|---|---|"]  # fmt: skip
    for row in rows:
        samples = f"![{row.model} samples]({row.samples})" if row.samples else "does not sample"
        curves = f"![{row.model} curves]({row.curves})" if row.curves else "no log"
        hist = f"![{row.model} anomaly scores]({row.anomaly})" if row.anomaly else "—"
        md.append(f"| {row.model}<br>`{row.run}` | {samples} | {curves} | {hist} |")
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(md))

    def img(rel: str | None, alt: str) -> str:
        if rel is None:
            return ""
        data = base64.b64encode((out_dir / rel).read_bytes()).decode()
        return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'

    e = html.escape
    body = ["<h1>genzoo report</h1>", f"<p class=lead>{e(EXPLICIT_IMPLICIT)}</p>",
            "<div class=gallery>"]  # fmt: skip
    for row in rows:  # what people look at first: each model's samples, with its headline
        body += [f"<figure class={e(row.family)}><figcaption><b>{e(row.model)}</b> "
                 f"{e(row.family)} · {e(row.density)}<br>{e(headline(row))}</figcaption>",
                 img(row.samples, f"{row.model} samples") or "<p>does not sample</p>",
                 "</figure>"]  # fmt: skip
    body += ["</div>", "<h2>Side by side</h2>", "<table>",
             "<tr>" + "".join(f"<th>{e(c)}</th>" for c in COLUMNS) + "</tr>"]  # fmt: skip
    body += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in cells]
    body += ["</table>", "<ol class=notes>", *(f"<li>{e(t)}</li>" for t in notes.texts), "</ol>"]
    if overview is not None:
        body.append(img("images/overview.png", "overview"))
    body.append("<h2>Training curves and anomaly scores</h2>")
    for row in rows:
        body += [f"<section><h3>{e(row.model)} <code>{e(row.run)}</code></h3>",
                 img(row.curves, f"{row.model} curves"),
                 img(row.anomaly, f"{row.model} anomaly scores"), "</section>"]  # fmt: skip
    body += ["<h2>Protocol</h2>", *(f"<p class=protocol>{e(p)}</p>" for p in protocol)]
    html_path = out_dir / "report.html"
    html_path.write_text(HTML_PAGE.format(body="\n".join(body)))
    return md_path, html_path


HTML_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>genzoo report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 80em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }}
th:nth-child(-n+3), td:nth-child(-n+3) {{ text-align: left; }}
tr:nth-child(even) {{ background: #f6f6f6; }}
.gallery {{ display: flex; flex-wrap: wrap; gap: 1.5em; margin: 1.5em 0; }}
figure {{ margin: 0; padding: 0.6em; border-top: 5px solid #999; background: #fafafa; }}
figure.autoregressive {{ border-color: #4c72b0; }}
figure.latent {{ border-color: #55a868; }}
figure.adversarial {{ border-color: #c44e52; }}
figcaption {{ font-size: 0.9em; margin-bottom: 0.5em; }}
figure img {{ display: block; width: 18em; image-rendering: pixelated; }}
section img {{ display: inline-block; vertical-align: top; max-width: 36em; margin: 0 1em 0 0; }}
.notes {{ font-size: 0.85em; color: #444; }}
.lead {{ font-size: 1.05em; max-width: 60em; }}
.protocol {{ font-size: 0.85em; color: #444; max-width: 70em; margin: 0.3em 0; }}
</style></head>
<body>
{body}
</body></html>
"""


# ---------------------------------------------------------------- entry points


def report_runs(run_dirs: Sequence[Path], out_dir: Path, title: str, data_root=None,
                labels_per_class: int = 10, log=print) -> tuple[Path, Path]:  # fmt: skip
    """Measure existing runs and write the report (`genzoo compare`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, run_dir in enumerate(run_dirs, 1):
        log(f"[{i}/{len(run_dirs)}] measuring {run_dir}: NLL, samples' FID/KID, anomaly AUROC, "
            "probe")  # fmt: skip
        rows.append(measure_run(Path(run_dir), out_dir, data_root, labels_per_class))
    return write_report(rows, out_dir, title, labels_per_class)


def bench(preset_name: str, models: Sequence[str] | None, out_dir: Path, data_root=None,
          progress: bool = True, log=print,
          steps: int | None = None) -> tuple[Path, Path]:  # fmt: skip
    """Train (or reuse) a run per model under `out_dir/runs`, then report on all of them.
    `steps` replaces the preset's step counts (a quicker look, or a test)."""
    if preset_name not in PRESETS:
        hint = did_you_mean(preset_name, PRESETS)
        raise UnknownNameError(f"unknown preset {preset_name!r}{hint}; known: {', '.join(PRESETS)}")
    preset = PRESETS[preset_name]
    if steps is not None:
        if steps < 1:
            raise GenzooError(f"--steps {steps}: train at least 1 step")
        preset = dataclasses.replace(preset, max_steps=dict.fromkeys(FAMILY_ORDER, steps))
    run_dirs = []
    names = bench_models(models or preset.models, preset.streams)
    for i, name in enumerate(names, 1):
        prefix = f"[{i}/{len(names)}] {name}: "
        run_dirs.append(train_or_reuse(name, preset, out_dir / "runs", data_root, progress,
                                       log=lambda line, p=prefix: log(p + line)))  # fmt: skip
    title = f"genzoo bench --preset {preset_name}: {preset.description}"
    return report_runs(run_dirs, out_dir, title, data_root, preset.labels_per_class, log)
