"""genzoo's own feature network for sample-quality metrics (FID, KID, IS, precision/recall).

Sample-quality metrics compare generated and real images in the feature space of a
classifier: the pool3 layer of Inception-v3 trained on ImageNet in the papers (Heusel et al.
2017, arXiv:1706.08500; Salimans et al. 2016, arXiv:1606.03498). Its weights cannot be
downloaded here, and it was never meant for 8x8 or 28x28 greyscale images, so genzoo trains
a small CNN classifier per dataset instead and uses
    features(x) = ReLU(W_f · pool(conv(x)))      the penultimate layer, (B, F)
    p(y | x)    = softmax(W_c · features(x))     the classifier, for the Inception Score.
Numbers computed with it are comparable with each other (same dataset and identifier), NOT
with Inception-based numbers in papers.

Training: the dataset's train split scaled to [0, 1] (x / (n_levels − 1)), cross-entropy,
Adam with a cosine learning-rate decay, a fixed number of steps from a fixed seed. Many
genzoo models emit binary samples, so a fraction of each batch is replaced by a Bernoulli
binarisation of itself, x̃ ~ Bernoulli(x), which keeps binary images in distribution.

The trained network is cached as `<cache>/<dataset>-featnet-<hash8>.safetensors`, where
hash8 hashes the dataset name, architecture and training settings, and `<cache>` defaults
to `<data root>/genzoo-features/`; where the data root cannot be written (a shared,
read-only copy of the datasets), to genzoo's user cache `~/.cache/genzoo/genzoo-features/`
(platformdirs), which is also searched. The file's metadata holds the test accuracy and a
sha256 of the weights, checked on every load.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo import data
from genzoo.core.errors import CheckpointError, GenzooError
from genzoo.core.progress import progress
from genzoo.data.splits import Splits
from genzoo.io.files import load_tensors, save_tensors

FEATURES_FORMAT = "genzoo-featnet/1"
CACHE_SUBDIR = "genzoo-features"
# same images, with labels: whose feature network an unlabelled dataset should use
LABELLED_TWIN = {"binarized-mnist": "mnist"}
# tasks whose images are their base's (or a subset, unchanged): they use the base's
# feature network (edges2fashion-unpaired: edges2fashion's garments; cifar10-colour: the
# CIFAR-10 photos in cifar10's splits; cat2dog-unpaired: its dogs, class 5)
SAME_IMAGES = {"mnist-captions": "mnist", "cifar10-captions": "cifar10",
               "mnist32-captions": "mnist32",
               "edges2fashion-unpaired": "edges2fashion",
               "cifar10-colour": "cifar10", "cat2dog-unpaired": "cifar10"}  # fmt: skip
# tasks whose images are of another dataset's classes, not its images: they are judged by
# its classifier, an oracle that never saw them (mnist2printed-unpaired: printed digits,
# read by the network trained on MNIST's handwritten ones; its accuracy on the real
# printed targets, which evaluations print, is the ceiling of what it can confirm;
# morpho-*-unpaired: digits made by morpho-mnist's recipe, read by morpho-mnist's network;
# their test digits are MNIST test digits it never saw)
SAME_CLASSES = {"mnist2printed-unpaired": "mnist", "morpho-thick-unpaired": "morpho-mnist",
                "morpho-slanted-unpaired": "morpho-mnist"}  # fmt: skip


@dataclass(frozen=True)
class FeatureNetConfig:
    width: int = 32  # channels of the first conv; doubled by each strided conv
    feature_dim: int = 128  # F, the width of the penultimate (feature) layer


@dataclass(frozen=True)
class TrainSettings:
    steps: int = 1500
    batch_size: int = 128
    lr: float = 2e-3
    binarized_fraction: float = 0.5  # of each batch, replaced by x̃ ~ Bernoulli(x)
    seed: int = 0


class FeatureNet(nn.Module):
    """A small CNN classifier for (C, H, W) images with values in [0, 1]."""

    batch_size = 500  # images per forward pass when embedding a sample set

    def __init__(self, in_channels: int, image_size: int, n_classes: int, config: FeatureNetConfig):
        super().__init__()
        self.in_channels, self.image_size, self.n_classes = in_channels, image_size, n_classes
        self.config = config
        w, pool = config.width, min(4, math.ceil(image_size / 4))
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),  # (B, 2w, H/2, W/2)
            nn.ReLU(),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1),  # (B, 4w, H/4, W/4)
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(pool),
            nn.Flatten(),
            nn.Linear(4 * w * pool * pool, config.feature_dim),
            nn.ReLU(),
        )
        self.classifier = nn.Linear(config.feature_dim, n_classes)

    @property
    def num_features(self) -> int:
        return self.config.feature_dim

    def input_mismatch(self, x: Tensor) -> str | None:
        """None if x is a batch this network takes, else the shape it takes."""
        C, S = self.in_channels, self.image_size
        return None if x.ndim == 4 and tuple(x.shape[1:]) == (C, S, S) else f"(N, {C}, {S}, {S})"

    def features(self, x: Tensor) -> Tensor:
        """The penultimate layer, (B, F), for x of shape (B, C, H, W) in [0, 1]."""
        return self.body(2 * x - 1)

    def early_features(self, x: Tensor) -> Tensor:
        """The second conv's ReLU map, (B, 2·width, H/2, W/2), at any image size: what
        SIFID compares (`genzoo.metrics.single_image`)."""
        return self.body[:4](2 * x - 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))  # logits (B, n_classes)


class FeatureExtractor(nn.Module):
    """`FeatureNet.features` as a torchmetrics feature module: frozen, always in eval mode.

    FrechetInceptionDistance(feature=FeatureExtractor(net)) and
    KernelInceptionDistance(feature=FeatureExtractor(net)) take float images in [0, 1].
    """

    def __init__(self, net: FeatureNet):
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.num_features = net.num_features  # read by torchmetrics' FID instead of a probe

    def train(self, mode: bool = True) -> FeatureExtractor:
        return super().train(False)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        return self.net.features(x)


def scale_to_unit(x: Tensor, n_levels: int) -> Tensor:
    """uint8 levels 0 .. n_levels − 1 as floats in [0, 1]."""
    return x.float() / (n_levels - 1)


def weights_sha256(state: dict[str, Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def identifier(data_name: str, config: FeatureNetConfig, training: TrainSettings) -> str:
    """`<dataset>-featnet-<hash8>`: names the cache file and the network in reports."""
    spec = {"dataset": data_name, "net": asdict(config), "training": asdict(training)}
    blob = json.dumps([FEATURES_FORMAT, spec], sort_keys=True).encode()
    return f"{data_name}-featnet-{hashlib.sha256(blob).hexdigest()[:8]}"


def _no_labels_message(name: str) -> str:
    twin = LABELLED_TWIN.get(name)
    if twin is not None:
        return (
            f"{name} has no labels to train a feature network on: "
            f"use {twin}'s feature network (same images)"
        )
    return f"{name} has no labels to train a feature network on: use a labelled dataset"


@torch.no_grad()
def accuracy(net: FeatureNet, x: Tensor, y: Tensor, batch_size: int = 1000) -> float:
    """Fraction of x (B, C, H, W) in [0, 1] that the net classifies as y."""
    correct = sum(
        (net(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum().item()
        for i in range(0, len(x), batch_size)
    )
    return correct / len(x)


@torch.enable_grad()  # also when a caller measures under torch.no_grad() and needs it trained
def train_feature_network(
    splits: Splits,
    config: FeatureNetConfig | None = None,
    training: TrainSettings | None = None,
    show_progress: bool | None = None,
) -> tuple[FeatureNet, dict]:
    """Train a FeatureNet on the train split; returns it in eval mode and its info. A
    progress bar is shown on a terminal (`show_progress` overrides)."""
    config, training = config or FeatureNetConfig(), training or TrainSettings()
    if splits.train_labels is None or splits.test_labels is None:
        raise GenzooError(_no_labels_message(splits.name))
    x_train, y_train = splits.train, splits.train_labels
    n_train, C, H, W = x_train.shape
    if H != W:
        raise GenzooError(f"{splits.name}: the feature network needs square images, not {H}x{W}")
    n_classes = int(max(y_train.max(), splits.test_labels.max())) + 1
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(training.seed)
        net = FeatureNet(C, H, n_classes, config)
    generator = torch.Generator().manual_seed(training.seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=training.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=training.steps)
    n_binarized = round(training.binarized_fraction * training.batch_size)
    order, position = torch.randperm(n_train, generator=generator), 0
    net.train()
    desc = f"training genzoo's {splits.name} feature network (once; cached)"
    for _ in progress(range(training.steps), desc=desc, unit="step", enabled=show_progress):
        if position + training.batch_size > n_train:
            order, position = torch.randperm(n_train, generator=generator), 0
        idx = order[position : position + training.batch_size]
        position += training.batch_size
        x = scale_to_unit(x_train[idx], splits.n_levels)
        x[:n_binarized] = torch.bernoulli(x[:n_binarized], generator=generator)
        loss = F.cross_entropy(net(x), y_train[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    net.eval().requires_grad_(False)
    x_test = scale_to_unit(splits.test, splits.n_levels)
    test_binarized = torch.bernoulli(x_test, generator=torch.Generator().manual_seed(0))
    info = {
        "dataset": splits.name,
        "identifier": identifier(splits.name, config, training),
        "config": asdict(config),
        "training": asdict(training),
        "in_channels": C,
        "image_size": H,
        "n_classes": n_classes,
        "n_train": n_train,
        "test_accuracy": accuracy(net, x_test, splits.test_labels),
        "test_accuracy_binarized": accuracy(net, test_binarized, splits.test_labels),
        "train_seconds": round(time.perf_counter() - start, 2),
        "sha256": weights_sha256(net.state_dict()),
    }
    return net, info


def _load_cached(path: Path) -> tuple[FeatureNet, dict]:
    retrain = "delete it to retrain the feature network"
    try:
        tensors, info = load_tensors(path, FEATURES_FORMAT)
    except CheckpointError as e:
        raise CheckpointError(f"{e}; {retrain}") from None
    if info.get("identifier") != path.stem:
        raise CheckpointError(f"{path} holds feature network {info.get('identifier')}: {retrain}")
    if weights_sha256(tensors) != info.get("sha256"):
        raise CheckpointError(f"{path} is damaged (its weights fail their sha256): {retrain}")
    try:
        config = FeatureNetConfig(**info["config"])
        net = FeatureNet(info["in_channels"], info["image_size"], info["n_classes"], config)
        net.load_state_dict(tensors)
    except (KeyError, TypeError, RuntimeError):
        raise CheckpointError(
            f"{path} does not describe a genzoo feature network: {retrain}"
        ) from None
    return net.eval().requires_grad_(False), info


def feature_network(
    data_name: str,
    data_root: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    train_if_missing: bool = True,
    config: FeatureNetConfig | None = None,
    training: TrainSettings | None = None,
) -> tuple[FeatureNet, dict]:
    """The dataset's feature network, in eval mode, and its info; trained once, then cached.

    info holds "identifier" and "test_accuracy" (what reports print), the config, training
    settings, n_train and the weights' sha256.
    """
    if data_name in LABELLED_TWIN:
        raise GenzooError(f"{data_name} has no feature network of its own: use "
                          f"{LABELLED_TWIN[data_name]}'s (same images)")  # fmt: skip
    data_name = SAME_IMAGES.get(data_name, SAME_CLASSES.get(data_name, data_name))
    config, training = config or FeatureNetConfig(), training or TrainSettings()
    name = f"{identifier(data_name, config, training)}.safetensors"
    directories = cache_dirs(data_root) if cache_dir is None else [Path(cache_dir)]
    for directory in directories:
        if (directory / name).exists():
            return _load_cached(directory / name)
    path = directories[0] / name
    if not train_if_missing:
        raise GenzooError(f"{path} not found: train the {data_name} feature network first")
    net, info = train_feature_network(data.load(data_name, data_root), config, training)
    for i, directory in enumerate(directories):
        try:
            save_tensors(directory / name, net.state_dict(), FEATURES_FORMAT, info)
            break
        except OSError as e:  # a data root the user cannot write: the user cache is next
            if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS) or i == len(directories) - 1:
                raise
    return net, info


def cache_dirs(data_root: str | Path | None = None) -> list[Path]:
    """Where feature networks are looked for and saved, in order: <data root>/genzoo-features,
    then genzoo's user cache (for a data root the user cannot write)."""
    import platformdirs

    user = Path(platformdirs.user_cache_dir("genzoo")) / CACHE_SUBDIR
    first = data.data_root(data_root) / CACHE_SUBDIR
    return [first] if first == user else [first, user]
