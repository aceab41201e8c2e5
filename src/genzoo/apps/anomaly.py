"""Anomaly scoring with a generative model, and the typicality test.

Density estimation put to use: a model of p(x) can flag inputs that it finds unlikely
(C. M. Bishop, "Novelty detection and neural network validation", IEE Proceedings 1994).
The score is chosen from what the model declares, and higher is always more anomalous:

    LOG_PROB               −log p(x)                       exact, in nats
    ELBO (VAE)             −IWAE_k ≥ −log p(x), or −ELBO    an estimate / a bound, in nats
    ENCODE only (ae, aae)  −log p(x | z = encode(x))        a reconstruction error, not a density
    GANs                   −ℓ(x), D(x) = σ(ℓ(x))            a heuristic: D was trained to tell
                           (WGAN: −f(x), the critic)        real images from generated ones

Likelihood is not a reliable anomaly score on its own: deep generative models can give
out-of-distribution images *higher* likelihood than their own test data (Nalisnick,
Matsukawa, Teh, Gorur and Lakshminarayanan, "Do Deep Generative Models Know What They
Don't Know?", ICLR 2019, arXiv:1810.09136; e.g. a model of Fashion-MNIST scores MNIST as
more likely). Their follow-up asks instead whether inputs are *typical*: in high dimensions
samples concentrate where −log p(x) is near the entropy H, not at the mode (Nalisnick,
Matsukawa, Teh and Lakshminarayanan, "Detecting Out-of-Distribution Inputs to Deep
Generative Models Using Typicality", 2019, arXiv:1906.02994, Alg. 1):

    Ĥ = (1/N) Σ_n −log p(x_n)                  over training data
    ε = (1 − α) quantile over K bootstrap batches of M validation inputs of
        |(1/M) Σ_m −log p(x_m) − Ĥ|
    a batch of M test inputs is out of distribution when |(1/M) Σ_m −log p(x_m) − Ĥ| > ε

`Typicality.scores` gives the per-example |−log p(x) − Ĥ| (the test with M = 1) as an
anomaly score too. Detection is measured as in Hendrycks and Gimpel ("A Baseline for
Detecting Misclassified and Out-of-Distribution Examples", ICLR 2017, arXiv:1610.02136):
AUROC, AUPRC with the OOD inputs as the positive class, and the FPR at 95 % TPR.

Out-of-distribution sets, all built from local data: another dataset of the same image
shape, held-out classes of the run's own data, corruptions of its test split, or a folder
of images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genzoo.core.capabilities import Capability
from genzoo.core.errors import GenzooError
from genzoo.io.images import save_figure

BATCH = 500
CORRUPTIONS = {
    "noise": "Gaussian noise (σ = 0.3 of the range) added to every pixel, clipped",
    "invert": "grey levels inverted (L − 1 − x)",
    "flip": "flipped vertically (upside down)",
    "blur": "3x3 box blur",
}
NOISE_STD = 0.3  # of the grey-level range: speckle that survives binarisation
IMAGE_MODES = {1: "L", 3: "RGB"}


# ---------------------------------------------------------------- scores


def score_kind(run, k: int | None = None) -> str:
    """What `anomaly_scores` measures for this run's model (raises if it has nothing)."""
    return _scorer(run, k)[1]


def _scorer(run, k: int | None):
    """(score(batch) -> (B,) higher = more anomalous, its kind, whether it is in nats of x)."""
    model, caps = run.model, run.model.capabilities
    if k is not None and (Capability.ELBO not in caps or k < 1):
        raise GenzooError("--k (importance samples, at least 1) applies to models with an ELBO")
    if Capability.LOG_PROB in caps:
        return (lambda xb: -model.log_prob(xb)), "nll (exact)", True
    if Capability.ELBO in caps:
        if k is None:
            return model.validation_nll, "-ELBO (bound)", True

        def iwae(xb):
            return -model.evaluation_terms(xb, k)["iwae_nll"]

        return iwae, f"nll estimate (IWAE, k={k})", True
    if Capability.ENCODE in caps:  # the autoencoder, and the AAE (it samples, but has no p(x))
        return model.validation_nll, "reconstruction (not a density)", True
    if Capability.DISCRIMINATE in caps:
        return (lambda xb: -model.discriminator_score(xb)), "discriminator score (heuristic)", False
    if model.uses_labels:  # a CGAN: its D(x | y) has no score of x alone
        raise GenzooError(
            f"{run.model_name}'s discriminator scores D(x | y) and needs a label y for "
            "every input, which anomaly scoring does not have: score a gan, dcgan, "
            "infogan or wgan run instead"
        )
    raise GenzooError(
        f"{run.model_name} declares neither a likelihood, a bound, an encoder nor a "
        "discriminator: it has nothing to score inputs with"
    )


def describe_kind(kind: str) -> str:
    """One line on what a score kind of `anomaly_scores` is, for printing beside it."""
    if kind == "nll (exact)":
        return "−log p(x) in nats, exact"
    if kind.startswith("nll estimate"):
        return "−IWAE_k in nats: an estimate of −log p(x) (a stochastic upper bound)"
    if kind == "-ELBO (bound)":
        return "−ELBO in nats: an upper bound on −log p(x)"
    if kind.startswith("reconstruction"):
        return "−log p(x | z = encode(x)) in nats: a reconstruction error; the model has no p(x)"
    return (
        "minus the discriminator's logit (WGAN: the critic's score); D was trained to "
        "tell real from generated images, not to model p(x): a HEURISTIC, not a density"
    )


@torch.no_grad()
def anomaly_scores(
    run, x: Tensor, k: int | None = None, batch_size: int = BATCH
) -> tuple[Tensor, str]:
    """Per-example anomaly scores (N,) float64, higher = more anomalous, and their kind.

    `x` is data after the run's fixed transform (`run.transform.fixed(levels, split)`);
    the every-batch part (dequantisation, dynamic binarisation) is drawn here from a
    generator seeded with the run's seed, exactly as `genzoo.metrics.likelihood.mean_terms`
    does, so that these are the scores of the data the model sees. Densities of
    dequantised data are turned into NLLs of the discrete data, as in `genzoo eval`.
    """
    score, kind, in_nats = _scorer(run, k)
    model, transform = run.model, run.transform
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(run.train_config.seed)
    parts = []
    for start in range(0, x.shape[0], batch_size):
        xb = transform.batch(x[start : start + batch_size], generator)
        parts.append(score(xb.to(model.device)).double().cpu())
    model.train(was_training)
    scores = torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)
    if in_nats and transform.dequantize:
        # −log P(x) ≤ −log p(y) + D log(scale): the constant shift of `dequantized_log_prob`
        scores = scores + math.prod(x.shape[1:]) * math.log(transform.dequant_scale)
    return scores, kind


# ---------------------------------------------------------------- detection metrics


def _finite(scores) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if np.isnan(s).any():
        raise GenzooError("some anomaly scores are NaN: the model is broken for these inputs")
    finite = s[np.isfinite(s)]
    top = finite.max() + 1 if finite.size else 1.0
    bottom = finite.min() - 1 if finite.size else -1.0
    # ±inf (zero probability) keeps its rank: above (below) every finite score
    return np.nan_to_num(s, posinf=top, neginf=bottom)


def ood_metrics(in_scores, ood_scores) -> dict[str, float]:
    """AUROC, AUPRC (OOD = the positive class) and the FPR at 95 % TPR of a score that is
    higher for anomalies (Hendrycks and Gimpel 2017)."""
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    s_in, s_ood = _finite(in_scores), _finite(ood_scores)
    if not len(s_in) or not len(s_ood):
        raise GenzooError("detection metrics need in-distribution and OOD examples")
    y = np.concatenate([np.zeros(len(s_in)), np.ones(len(s_ood))])
    s = np.concatenate([s_in, s_ood])
    fpr, tpr, _ = roc_curve(y, s)
    return {
        "auroc": float(roc_auc_score(y, s)),
        "auprc": float(average_precision_score(y, s)),
        # the smallest false-positive rate among thresholds that catch 95 % of the OOD set
        "fpr_at_95_tpr": float(fpr[np.searchsorted(tpr, 0.95, side="left")]),
    }


def score_histogram(in_scores, ood_scores, in_name: str, ood_name: str, kind: str, path,
                    title: str = "") -> Path:  # fmt: skip
    """Histograms of in- and out-of-distribution scores on shared bins, as a PNG."""
    from genzoo.io.images import pyplot

    plt = pyplot()

    s_in, s_ood = _finite(in_scores), _finite(ood_scores)
    bins = np.histogram_bin_edges(np.concatenate([s_in, s_ood]), bins=50)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(s_in, bins=bins, density=True, alpha=0.6, label=f"in: {in_name} ({len(s_in):,})")
    ax.hist(s_ood, bins=bins, density=True, alpha=0.6, label=f"OOD: {ood_name} ({len(s_ood):,})")
    ax.set_xlabel(f"anomaly score: {kind} (higher = more anomalous)")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


# ---------------------------------------------------------------- the typicality test


@dataclass(frozen=True)
class Typicality:
    """The fitted test of Nalisnick et al. (2019, Alg. 1), on NLLs in nats."""

    entropy: float  # Ĥ: the mean training NLL
    epsilon: float  # ε: the (1 − α) quantile of the bootstrap statistic
    m: int  # M: inputs per tested batch
    alpha: float
    n_train: int
    n_bootstrap: int

    def scores(self, nll: Tensor) -> Tensor:
        """Per example |−log p(x) − Ĥ| (the statistic with M = 1): an anomaly score."""
        return (nll.double() - self.entropy).abs()

    def statistic(self, nll_batches: Tensor) -> Tensor:
        """|mean NLL of each batch − Ĥ| for NLLs of shape (n_batches, M)."""
        return (nll_batches.double().mean(-1) - self.entropy).abs()

    def flag_rate(self, nll: Tensor, n_batches: int = 1000, seed: int = 0) -> float:
        """The fraction of `n_batches` random batches of M of these inputs (each without
        repeats) that the test calls out of distribution."""
        n = len(nll)
        if n < self.m:
            raise GenzooError(f"the typicality test takes batches of M={self.m}; only {n} inputs")
        g = torch.Generator().manual_seed(seed)
        rows = torch.ones(n_batches, n).multinomial(self.m, replacement=False, generator=g)
        return (self.statistic(nll.double()[rows]) > self.epsilon).double().mean().item()


def fit_typicality(train_nll: Tensor, valid_nll: Tensor, m: int, alpha: float = 0.01,
                   n_bootstrap: int = 1000, seed: int = 0) -> Typicality:  # fmt: skip
    """Ĥ from training NLLs, ε from bootstrap batches (with replacement) of validation NLLs."""
    if m < 1 or not 0 < alpha < 1:
        raise GenzooError(f"the typicality test needs M ≥ 1 and 0 < α < 1 (M={m}, α={alpha})")
    if not len(train_nll) or not len(valid_nll):
        raise GenzooError("the typicality test needs training and validation inputs")
    entropy = train_nll.double().mean().item()
    g = torch.Generator().manual_seed(seed)
    rows = torch.randint(len(valid_nll), (n_bootstrap, m), generator=g)
    boot = (valid_nll.double()[rows].mean(-1) - entropy).abs()
    epsilon = torch.quantile(boot, 1 - alpha).item()
    return Typicality(entropy, epsilon, m, alpha, len(train_nll), n_bootstrap)


# ---------------------------------------------------------------- image sets


@dataclass
class ImageSet:
    """Inputs to score: rows `index` of uint8 `images` (N, C, H, W) in the run's levels.

    The whole `images` array goes through the run's fixed transform under the name `split`
    before rows are picked, so a subset of a split gets the split's own static binarisation.
    """

    name: str
    images: Tensor
    split: str
    labels: Tensor | None = None  # (N,) int64
    index: Tensor | None = None  # None: every row
    notes: list[str] = field(default_factory=list)
    names: list[str] | None = None  # per image: where it came from (a file, an array row)

    def __post_init__(self):
        if self.index is None:
            self.index = torch.arange(len(self.images))

    def __len__(self) -> int:
        return len(self.index)

    def row_labels(self) -> Tensor | None:
        return None if self.labels is None else self.labels[self.index]

    def model_inputs(self, run) -> Tensor:
        return run.transform.fixed(self.images, self.split)[self.index]


def to_levels(x: Tensor, from_levels: int, to_levels: int) -> Tensor:
    """uint8 grey levels {0..from−1} -> {0..to−1}, the same fraction of the range."""
    if from_levels == to_levels:
        return x
    y = torch.round(x.double() * (to_levels - 1) / (from_levels - 1))
    return y.to(torch.uint8)


def dataset_set(name: str, split: str, run, data_root=None, **load_options) -> ImageSet:
    """A split of a named dataset, in the run's levels; its image shape must be the run's."""
    from genzoo import data as gdata

    splits = gdata.load(name, data_root, splits=(split,), **load_options)
    shape = tuple(splits.split(split).shape[1:])
    if shape != tuple(run.model.data.shape):
        raise GenzooError(
            f"{name} has images of shape {shape}, the run's model takes "
            f"{tuple(run.model.data.shape)}: pick a dataset of the same shape, or use "
            "--ood-folder, which resizes"
        )
    images = to_levels(splits.split(split), splits.n_levels, run.transform.n_levels)
    labels = getattr(splits, f"{split}_labels")
    notes = []
    if splits.n_levels != run.transform.n_levels:
        notes.append(
            f"{name} has {splits.n_levels} grey levels, the run {run.transform.n_levels}: "
            "rescaled to the run's levels"
        )
    return ImageSet(f"{name} {split}", images, split, labels, notes=notes)


def corrupt(x: Tensor, kind: str, n_levels: int, seed: int = 0) -> Tensor:
    """A corruption (see CORRUPTIONS) of uint8 levels (N, C, H, W), before any transform."""
    top = n_levels - 1
    if kind == "noise":
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(x.shape, generator=g, dtype=torch.float64) * NOISE_STD * top
        return torch.round(x.double() + noise).clamp(0, top).to(torch.uint8)
    if kind == "invert":
        return (top - x.int()).to(torch.uint8)
    if kind == "flip":
        return x.flip(-2)
    if kind == "blur":
        y = torch.nn.functional.avg_pool2d(x.double(), 3, stride=1, padding=1,
                                           count_include_pad=False)  # fmt: skip
        return torch.round(y).to(torch.uint8)
    raise GenzooError(
        f"unknown corruption {kind!r}: --ood takes corrupt:{', corrupt:'.join(CORRUPTIONS)}"
    )


def folder_set(folder, run) -> ImageSet:
    """Every image file under a folder, subfolders included (sorted by path), in the run's
    channels, size and levels. When every image lies in a subfolder, the first subfolder is
    its label. 16-bit greyscale is scaled to 8 bits, not clipped; files PIL cannot read are
    skipped. Each of these is named in `notes`, and each row keeps its file's path."""
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise GenzooError(f"--ood-folder {folder}: not a directory")
    C, H, W = image_shape(run)
    images, names, skipped, resized, deep = [], [], [], [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = str(path.relative_to(folder))
        try:
            with Image.open(path) as img:
                if img.mode.startswith("I"):  # 16-bit (or 32-bit) integer greyscale
                    img = from_16_bit(img, name, deep)
                img = img.convert(IMAGE_MODES[C])
        except (UnidentifiedImageError, OSError):
            skipped.append(name)
            continue
        if img.size != (W, H):
            resized.append(f"{name} ({img.size[0]}x{img.size[1]})")
            img = img.resize((W, H), Image.Resampling.LANCZOS)
        pixels = np.asarray(img, dtype=np.uint8)
        images.append(pixels[None] if C == 1 else pixels.transpose(2, 0, 1))
        names.append(name)
    if not images:
        what = f" (skipped, not images: {', '.join(skipped)})" if skipped else ""
        raise GenzooError(f"--ood-folder {folder}: no readable image file{what}")
    notes = [f"scored all {len(images):,} images under {folder}"]
    labels = None
    if all(len(Path(n).parts) > 1 for n in names):  # every image in a subfolder
        classes = sorted({Path(n).parts[0] for n in names})
        labels = torch.tensor([classes.index(Path(n).parts[0]) for n in names])
        notes.append("labels are the subfolders: "
                     + ", ".join(f"{c} = {i}" for i, c in enumerate(classes)))  # fmt: skip
    if skipped:
        notes.append(f"skipped {len(skipped)} file(s) that PIL cannot read as images: "
                     f"{', '.join(skipped)}")  # fmt: skip
    if deep:
        notes.append(f"{len(deep)} 16-bit image(s) scaled to 8 bits (round(v * 255 / 65535)): "
                     f"{', '.join(deep[:5])}{' ...' if len(deep) > 5 else ''}")  # fmt: skip
    if resized:
        notes.append(f"resized {len(resized)} image(s) to the run's {W}x{H} (PIL, Lanczos): "
                     f"{', '.join(resized[:5])}{' ...' if len(resized) > 5 else ''}")  # fmt: skip
    if run.transform.n_levels != 256:
        notes.append(f"8-bit pixels rescaled to the run's {run.transform.n_levels} grey levels")
    x = to_levels(torch.from_numpy(np.stack(images)), 256, run.transform.n_levels)
    return ImageSet(f"folder {folder}", x, "test", labels, notes=notes, names=names)


def image_shape(run) -> tuple[int, int, int]:
    shape = tuple(run.model.data.shape)
    if len(shape) != 3 or shape[0] not in IMAGE_MODES:
        raise GenzooError(f"{run.model_name}'s data is not grey or RGB images (shape {shape})")
    return shape


def from_16_bit(img, name: str, converted: list[str]):
    """A 16-bit greyscale PIL image as 8-bit "L", scaled (PIL's convert would clip)."""
    from PIL import Image

    a = np.asarray(img, dtype=np.float64)
    if a.size and (a.min() < 0 or a.max() > 65535):
        raise GenzooError(f"{name}: integer pixels outside 0..65535 (mode {img.mode}): "
                          "save it as 8- or 16-bit")  # fmt: skip
    converted.append(name)
    return Image.fromarray(np.round(a * 255 / 65535).astype(np.uint8), "L")


def array_set(path, run) -> ImageSet:
    """Every image of an array file (`genzoo.data.datasets.read_image_array`: `.npz` or
    IDX), which must be of the run's shape."""
    from genzoo.data.datasets import read_image_array

    x, labels, what = read_image_array(path)
    shape = image_shape(run)
    if tuple(x.shape[1:]) != shape:
        raise GenzooError(f"{what}: images of shape (N, {', '.join(map(str, shape))}) needed, "
                          f"found {tuple(x.shape)}")  # fmt: skip
    images = to_levels(torch.from_numpy(x), 256, run.transform.n_levels)
    labels = None if labels is None else torch.from_numpy(labels)
    names = [f"{what}[{i}]" for i in range(len(x))]
    return ImageSet(f"file {path}", images, "test", labels,
                    notes=[f"scored all {len(x):,} images of {what}"], names=names)  # fmt: skip


def parse_classes(spec: str) -> list[int]:
    try:
        classes = sorted({int(c) for c in spec.split(",") if c.strip()})
    except ValueError:
        classes = []
    if not classes:
        raise GenzooError(f"--ood-classes takes class labels, e.g. 9 or 3,5; got {spec!r}")
    return classes


def score_sets(run, splits, split: str, ood: str | None = None, ood_classes: str | None = None,
               ood_folder=None, data_root=None,
               ood_file=None) -> tuple[ImageSet, ImageSet | None]:  # fmt: skip
    """The in-distribution set (a split of `splits`) and the OOD set the options name."""
    data = splits.name
    if tuple(splits.train.shape[1:]) != tuple(run.model.data.shape):
        raise GenzooError(
            f"{data} has images of shape {tuple(splits.train.shape[1:])}, the run's model "
            f"takes {tuple(run.model.data.shape)}"
        )
    images = to_levels(splits.split(split), splits.n_levels, run.transform.n_levels)
    labels = getattr(splits, f"{split}_labels")
    clean = ImageSet(f"{data} {split}", images, split, labels)
    if ood_classes is not None:
        if labels is None:
            raise GenzooError(f"{data} has no labels: --ood-classes needs labelled data")
        classes = parse_classes(ood_classes)
        missing = [c for c in classes if not (labels == c).any()]
        if missing:
            raise GenzooError(f"the {data} {split} split has no class {missing[0]}")
        held = torch.isin(labels, torch.tensor(classes))
        names = ",".join(map(str, classes))
        note = f"leave-classes-out: OOD = {split} examples of class {names}, in = the other classes"
        seen = sorted(set(classes) - set(run.train_config.exclude_classes))
        if seen:
            note += (
                f". WARNING: the run was trained on class {','.join(map(str, seen))}; "
                f"train with --set exclude_classes={names} for a leave-classes-out test"
            )
        else:
            note += f"; the run was trained without them (exclude_classes={names})"
        inside = ImageSet(f"{data} {split}, classes other than {names}", images, split, labels,
                          index=torch.nonzero(~held)[:, 0], notes=[note])  # fmt: skip
        outside = ImageSet(f"{data} {split}, class {names}", images, split, labels,
                           index=torch.nonzero(held)[:, 0])  # fmt: skip
        return inside, outside
    if ood_folder is not None:
        return clean, folder_set(ood_folder, run)
    if ood_file is not None:
        return clean, array_set(ood_file, run)
    if ood is None:
        return clean, None
    if ood.startswith("corrupt:"):
        kind = ood.removeprefix("corrupt:")
        x = corrupt(images, kind, run.transform.n_levels)
        return clean, ImageSet(f"{ood} of {data} {split}", x, split, labels,
                               notes=[f"{ood}: {CORRUPTIONS[kind]}"])  # fmt: skip
    # offline: a dataset that is not here is an error naming the missing files
    return clean, dataset_set(ood, "test", run, data_root, download=False)


def held_in(image_set: ImageSet, splits, split: str, run, limit: int | None = None) -> Tensor:
    """Model inputs of another split with the same class filter as `image_set` (the
    typicality test's training and validation data), at most `limit` rows."""
    images = to_levels(splits.split(split), splits.n_levels, run.transform.n_levels)
    x = run.transform.fixed(images, split)
    labels = getattr(splits, f"{split}_labels")
    held_out = set()
    if image_set.labels is not None and len(image_set) < len(image_set.images):
        held_out = set(image_set.labels.tolist()) - set(image_set.row_labels().tolist())
    if held_out and labels is not None:
        x = x[~torch.isin(labels, torch.tensor(sorted(held_out)))]
    return x[:limit]
