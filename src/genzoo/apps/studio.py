"""What `genzoo serve` shows, without the web: the runs under a folder, how each stands,
a bounded cache of loaded models, and an uploaded image scored, translated, assembled from
its key patches or matched against captions.

Runs are found by their config.json and addressed by an id made here from their place
under the root; a client never names a path. Models load only through `load_run`
(config.json and model.safetensors).
"""

from __future__ import annotations

import io
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genzoo.core.errors import GenzooError

MAX_DEPTH = 4  # folders below the root searched for runs
LIVE_SECONDS = 120  # a run whose files changed this recently, and not finished, is training
MAX_UPLOAD = 5 * 2**20  # bytes of one uploaded image
ANOMALY_QUANTILE = 0.99  # uploads scoring above this quantile of the test split are flagged
RUN_FILES = ("samples.png", "progress.gif", "reconstructions.png", "translations.png",
             "assembled.png")  # fmt: skip
ASSEMBLIES = 4  # images assembled from an upload's patches, z drawn from one seed


# ---------------------------------------------------------------- finding runs


@dataclass
class RunInfo:
    """One row of the runs page."""

    id: str
    path: Path
    model: str
    family: str
    data: str
    status: str  # finished | interrupted | training now | not started
    steps: int | None
    cpu_seconds: float | None
    headline: str


def find_runs(root: Path) -> dict[str, Path]:
    """id -> run directory, for every genzoo run at most MAX_DEPTH folders below `root`
    (or `root` itself); ids are the relative paths with "~" for "/"."""
    from genzoo.train.run import read_run_config

    root = Path(root)
    found = {}
    candidates = [root / "config.json"]
    for depth in range(1, MAX_DEPTH + 1):
        candidates += sorted(root.glob("/".join(["*"] * depth) + "/config.json"))
    for config in candidates:
        run_dir = config.parent
        try:
            read_run_config(run_dir)
        except GenzooError:
            continue
        rel = run_dir.relative_to(root).as_posix()
        found[run_dir.name if rel == "." else rel.replace("/", "~")] = run_dir
    return found


def run_status(run_dir: Path) -> tuple[str, dict]:
    """(status, the checkpoint's JSON state): finished, interrupted, training now (its files
    changed in the last LIVE_SECONDS and it has not finished), or not started."""
    from genzoo.apps.bench import FINISHED
    from genzoo.train.checkpoint import training_state

    files = [run_dir / n for n in ("checkpoint.safetensors", "metrics.jsonl", "config.json")]
    changed = max((f.stat().st_mtime for f in files if f.exists()), default=0.0)
    live = time.time() - changed < LIVE_SECONDS
    if not files[0].exists():
        return ("training now" if live else "not started"), {}
    try:
        state = training_state(run_dir)
    except GenzooError:
        return "damaged checkpoint", {}
    stopped = state.get("stopped")
    if stopped is None or stopped in FINISHED:  # older checkpoints did not say
        return "finished", state
    if stopped == "in progress" and live:
        return "training now", state
    return "interrupted", state


def headline(entries: list[dict]) -> str:
    """The last validation record's number, with its units."""
    valid = [e for e in entries if e.get("split") == "valid"]
    if not valid:
        return "no validation metric"
    last = valid[-1]
    for key, value in last.items():
        if key.endswith("_nats") and isinstance(value, int | float):
            line = f"valid {key.removesuffix('_nats')} {value:.2f} nats"
            for bits in ("bits_per_dim", "bits_per_dim_bound"):
                if bits in last:
                    bound = "≤ " if bits.endswith("bound") else ""
                    line += f" ({bound}{last[bits]:.3f} bits/dim)"
            return line
    key, value = next(((k, v) for k, v in last.items()
                       if k not in ("step", "epoch", "split", "wall_s")), ("", None))  # fmt: skip
    return f"valid {key} {value:.3g}" if isinstance(value, int | float) else "no validation metric"


def describe_run(run_id: str, run_dir: Path) -> RunInfo:
    from genzoo.apps.bench import read_metrics
    from genzoo.models import get_model
    from genzoo.train.run import read_run_config

    cfg = read_run_config(run_dir)
    try:
        family = get_model(cfg["model"]).family
    except GenzooError:
        family = "?"
    status, state = run_status(run_dir)
    return RunInfo(run_id, run_dir, cfg["model"], family, cfg["data"], status,
                   state.get("step"), state.get("cpu_seconds"),
                   headline(read_metrics(run_dir / "metrics.jsonl")))  # fmt: skip


def loss_curves(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """The training losses of metrics.jsonl by name, as (step, value); adversarial runs
    show d_loss and g_loss (their "loss" repeats one), as in the bench report."""
    from genzoo.apps.bench import read_metrics

    train = [e for e in read_metrics(run_dir / "metrics.jsonl") if e.get("split") == "train"]
    if not train:
        return {}
    keys = [k for k in train[-1] if "loss" in k]
    if len(keys) > 1:
        keys = [k for k in keys if k != "loss"]
    return {k: [(e["step"], float(e[k])) for e in train
                if k in e and math.isfinite(float(e[k]))] for k in keys}  # fmt: skip


# ---------------------------------------------------------------- loaded models


class ModelCache:
    """At most `size` loaded runs, the least recently used dropped first; a run whose
    model.safetensors changed since it was loaded is loaded again."""

    def __init__(self, size: int = 4):
        if size < 1:
            raise GenzooError(f"the model cache holds at least 1 run, not {size}")
        self.size = size
        self._runs: OrderedDict[Path, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, run_dir: Path):
        from genzoo.train.run import load_run

        weights = run_dir / "model.safetensors"
        if not weights.exists():
            raise GenzooError(f"{run_dir.name} has no trained weights yet (no model.safetensors)")
        stamp = weights.stat().st_mtime
        with self._lock:
            cached = self._runs.get(run_dir)
            if cached is not None and cached[0] == stamp:
                self._runs.move_to_end(run_dir)
                return cached[1]
        run = load_run(run_dir)
        with self._lock:
            self._runs[run_dir] = (stamp, run)
            self._runs.move_to_end(run_dir)
            while len(self._runs) > self.size:
                self._runs.popitem(last=False)
        return run

    def __len__(self) -> int:
        return len(self._runs)


# ---------------------------------------------------------------- uploads


class Upload(io.BytesIO):
    """Uploaded bytes that read like a file to PIL and print as the uploaded file's name."""

    def __init__(self, data: bytes, name: str):
        if len(data) > MAX_UPLOAD:
            raise GenzooError(f"{name} is {len(data) / 2**20:.1f} MB; uploads are at most "
                              f"{MAX_UPLOAD // 2**20} MB")  # fmt: skip
        super().__init__(data)
        self.name = name or "the upload"

    def __str__(self) -> str:
        return self.name


def read_upload(upload: Upload, shape: tuple[int, int, int]) -> torch.Tensor:
    """An uploaded image as uint8 (1, C, H, W) of the model's size (greyscale or colour is
    converted; the size must match, it is never resized). PIL reads the header first, so
    a large or damaged file is refused before its pixels are decoded."""
    from PIL import Image

    C, H, W = shape
    try:
        with Image.open(upload) as img:
            if img.size != (W, H):
                raise GenzooError(f"{upload} is {img.size[0]}x{img.size[1]}; this model takes "
                                  f"{W}x{H} images: resize or crop it")  # fmt: skip
            pixels = np.array(img.convert("L" if C == 1 else "RGB"))
    except GenzooError:
        raise
    except Exception as e:  # PIL raises many kinds (OSError, SyntaxError, DecompressionBomb..)
        raise GenzooError(f"{upload} is not an image PIL can read ({type(e).__name__}): "
                          "upload a PNG or JPEG") from None  # fmt: skip
    x = torch.from_numpy(pixels[None] if C == 1 else pixels.transpose(2, 0, 1).copy())
    return x[None]


@dataclass
class Score:
    """An upload's anomaly score beside the test split's."""

    value: float
    kind: str
    description: str
    in_nats: bool
    bits_per_dim: float | None
    percentile: float  # % of test images scoring lower
    threshold: float  # the test split's ANOMALY_QUANTILE quantile
    anomalous: bool
    test_scores: np.ndarray
    # what the model makes of the image, in [0, 1], one row: the input, then its
    # reconstruction (a model with an encoder) or completions of its bottom half (an
    # autoregressive one); None for other models
    picture: torch.Tensor | None = None
    picture_caption: str = ""


class TestScores:
    """The test split's anomaly scores per run, computed once (cached with the run)."""

    def __init__(self, data_root=None):
        self.data_root = data_root
        self._scores: dict[tuple[Path, int], tuple[np.ndarray, str]] = {}

    def __call__(self, run) -> tuple[np.ndarray, str]:
        from genzoo.apps.anomaly import anomaly_scores
        from genzoo.train.run import load_splits

        key = (run.path, id(run))
        if key not in self._scores:
            splits = load_splits(run.data_name, self.data_root, run.train_config)
            x = run.transform.fixed(splits.test, "test")
            scores, kind = anomaly_scores(run, x)
            self._scores = {k: v for k, v in self._scores.items() if k[0] != run.path}
            self._scores[key] = (scores.numpy(), kind)
        return self._scores[key]


def upload_levels(run, upload: Upload) -> torch.Tensor:
    """An uploaded image of the run's size in the run's grey levels, uint8 (1, C, H, W)."""
    from genzoo.apps.anomaly import image_shape, to_levels

    return to_levels(read_upload(upload, image_shape(run)), 256, run.transform.n_levels)


def model_input(run, upload: Upload) -> torch.Tensor:
    """An uploaded image of the run's size as the model takes it, (1, C, H, W): in the
    run's grey levels, then through its test-time transform."""
    return run.transform.fixed(upload_levels(run, upload), "test")


def score_upload(run, upload: Upload, test_scores: TestScores) -> Score:
    """−log p(x) (or the model's bound or score) of an uploaded image, where it falls among
    the test split's scores, and whether it lies above their ANOMALY_QUANTILE quantile."""
    from genzoo.apps.anomaly import anomaly_scores, describe_kind, score_kind
    from genzoo.core.units import bits_per_dim

    kind = score_kind(run)  # refuses a model with nothing to score by
    x = model_input(run, upload)
    value = float(anomaly_scores(run, x)[0][0])
    test, _ = test_scores(run)
    in_nats = not kind.startswith("discriminator")
    threshold = float(np.quantile(test, ANOMALY_QUANTILE))
    picture, caption = what_the_model_sees(run, x)
    return Score(value, kind, describe_kind(kind), in_nats,
                 bits_per_dim(value, math.prod(run.model.data.shape)) if in_nats else None,
                 100.0 * float(np.mean(test < value)), threshold, value > threshold,
                 test, picture, caption)  # fmt: skip


COMPLETIONS = 4  # samples of an uploaded image's bottom half, given its top half


@torch.no_grad()
def what_the_model_sees(run, x: torch.Tensor) -> tuple[torch.Tensor | None, str]:
    """One image x (1, C, H, W) in model values, beside the model's reconstruction of it
    (ENCODE) or COMPLETIONS samples of its bottom half given its top half (COMPLETE), all
    in [0, 1]; (None, "") for a model with neither."""
    from genzoo.apps.complete import complete, read_known
    from genzoo.apps.sampling import display
    from genzoo.core.capabilities import Capability

    model = run.model
    x = x.to(model.device)
    if Capability.ENCODE in model.capabilities and callable(getattr(model, "reconstruct", None)):
        rows = torch.cat([x, model.reconstruct(x)])
        return display(run, rows.cpu()), "the upload | its reconstruction, decode(encode(x))"
    if Capability.COMPLETE in model.capabilities:
        known = read_known("top-half", tuple(model.data.shape))
        generator = torch.Generator().manual_seed(0)
        done = complete(model, x, known, COMPLETIONS, generator)[0]
        rows = torch.cat([x, done])
        return display(run, rows.cpu()), (f"the upload | {COMPLETIONS} completions of its "
                                          "bottom half, sampled given the top half")  # fmt: skip
    return None, ""


def translate_upload(run, upload: Upload, seed: int = 0, direction: str = "a2b",
                     targets: list[str] | None = None) -> torch.Tensor:  # fmt: skip
    """The rows input | output of an uploaded image, in [0, 1], for `grid_image(..., nrow=2)`;
    `direction` for a model of two (a2b, b2a), `targets` ("NAME=VALUE", every attribute)
    for a model of attribute domains, as `genzoo translate --direction / --to` take them."""
    from genzoo.apps.translation import (
        check_direction,
        input_shape,
        parse_targets,
        read_input,
        require_translation,
        translate,
    )
    from genzoo.io.images import translation_rows

    require_translation(run)
    model, transform = run.model, run.transform
    try:
        check_direction(model, run.model_name, direction)
        pixels = read_input(upload, input_shape(model, direction))[None]
    except GenzooError:
        raise
    except Exception as e:  # what read_input does not expect of PIL
        raise GenzooError(f"{upload} is not an image PIL can read ({type(e).__name__}): "
                          "upload a PNG or JPEG") from None  # fmt: skip
    if transform.n_levels != 256:
        pixels = torch.round(pixels.float() / 255 * (transform.n_levels - 1)).to(torch.uint8)
    source = transform.fixed(pixels, "input")
    target = parse_targets(model, run.model_name, targets or None)
    out = translate(model, source, 1, seed, direction, target)
    return translation_rows(transform.scale, source, out)


@torch.no_grad()
def assemble_upload(
    run, upload: Upload, seed: int = 0, n: int = ASSEMBLIES
) -> tuple[torch.Tensor, torch.Tensor, int, bool]:
    """Key patches of an uploaded whole image, cut as the task cuts them (K non-overlapping
    P x P patches inside the item's bounding box, their places drawn from `seed`), and n
    images the model assembles from them alone (z from the same seed). Returns the upload
    with the patches' places outlined (1, C, H, W), `assemble_rows`' rows (each patch in
    a grey frame | the whole image | each patch's mask), all in [0, 1], images per row, and
    whether the rows have masks (a model with a mask branch)."""
    from genzoo.apps.sampling import assemble_rows, display
    from genzoo.core.capabilities import Capability
    from genzoo.data.tasks import cut_patches, patch_locations

    model = run.model
    if Capability.ASSEMBLE not in model.capabilities:
        raise GenzooError(f"{run.model_name} does not assemble images from patches")
    K, P = model.config.n_patches, model.patch_shape[-1]
    levels = upload_levels(run, upload)
    rng = np.random.RandomState(seed)
    places = torch.from_numpy(patch_locations(levels.numpy(), rng, K, P, run.transform.n_levels))
    patches = run.transform.fixed(cut_patches(levels, places, P), "test")
    rows, per_row = assemble_rows(run, patches.to(model.device), n, seed)
    shown = display(run, run.transform.fixed(levels, "test")).clone()
    for top, left in places[0].tolist():  # a white outline around each place
        box = shown[0, :, top : top + P, left : left + P]
        box[:, [0, -1], :] = 1.0
        box[:, :, [0, -1]] = 1.0
    return shown, rows, per_row, per_row > K + 1


def default_captions(run) -> list[str]:
    """The zero-shot class prompts of the run's captioned task ("a handwritten zero", ...),
    or none."""
    from genzoo.data.captions import class_prompts

    return class_prompts(run.data_name) or []


def match_upload(run, upload: Upload, captions: list[str]):
    """How well each caption fits an uploaded image in a joint image–text run's space
    (genzoo.apps.match.match_captions)."""
    from genzoo.apps.match import match_captions
    from genzoo.core.capabilities import Capability

    if Capability.JOINT not in run.model.capabilities:
        raise GenzooError(f"{run.model_name} has no joint image–text space to match in")
    return match_captions(run.model, model_input(run, upload), captions)


# ---------------------------------------------------------------- live progress


def progress(run_dir: Path, last: int = 5) -> dict:
    """How a run stands now, for a page that polls: its status, the latest step logged in
    metrics.jsonl, its last `last` entries and its loss curves."""
    from genzoo.apps.bench import read_metrics

    status, state = run_status(run_dir)
    entries = read_metrics(run_dir / "metrics.jsonl")
    steps = [e["step"] for e in entries if isinstance(e.get("step"), int)]
    step = max(steps + ([state["step"]] if isinstance(state.get("step"), int) else []),
               default=None)  # fmt: skip
    return {"status": status, "step": step, "entries": entries[-last:],
            "curves": loss_curves(run_dir)}  # fmt: skip


# ---------------------------------------------------------------- comparison reports


@dataclass
class Comparison:
    """One `genzoo compare` report being built (or built) in the studio's own folder."""

    id: str
    run_ids: list[str]
    out_dir: Path
    future: object = None  # concurrent.futures.Future of report_runs
    started: float = 0.0

    @property
    def state(self) -> str:
        if self.future is None or not self.future.done():
            return "running"
        return "failed" if self.future.exception() is not None else "done"

    @property
    def error(self) -> str:
        e = self.future.exception() if self.state == "failed" else None
        return "" if e is None else (str(e) if isinstance(e, GenzooError)
                                     else f"{type(e).__name__}: {e}")  # fmt: skip


class Comparisons:
    """Comparison reports of runs, written under a folder of their own (a temporary one
    by default, never a path a client names); at most `keep` are kept, oldest dropped."""

    def __init__(self, folder: Path | None = None, keep: int = 8):
        import tempfile

        self.folder = Path(folder or tempfile.mkdtemp(prefix="genzoo-studio-compare-"))
        self.keep = keep
        self._jobs: OrderedDict[str, Comparison] = OrderedDict()
        self._lock = threading.Lock()

    def new(self, run_ids: list[str]) -> Comparison:
        import shutil
        import uuid

        if len(run_ids) < 1:
            raise GenzooError("select at least one run to compare")
        job = Comparison(uuid.uuid4().hex[:12], list(run_ids), Path(), None, time.time())
        job.out_dir = self.folder / job.id
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self.keep:
                _, old = self._jobs.popitem(last=False)
                shutil.rmtree(old.out_dir, ignore_errors=True)
        return job

    def get(self, job_id: str) -> Comparison | None:
        with self._lock:
            return self._jobs.get(job_id)

    @staticmethod
    def build(job: Comparison, run_dirs: list[Path], data_root=None,
              labels_per_class: int = 100) -> Path:  # fmt: skip
        """Write the report (what `genzoo compare RUN... -o DIR` writes); its report.html."""
        from genzoo.apps.bench import report_runs
        from genzoo.train.run import load_run

        for run_dir in run_dirs:
            load_run(run_dir)  # every run must load before any is measured, as in compare
        title = "genzoo compare " + " ".join(job.run_ids)
        _, page = report_runs(run_dirs, job.out_dir, title, data_root, labels_per_class,
                              log=lambda line: None)  # fmt: skip
        return page
