"""Linear probes: how much a model's features know about the labels it never saw.

Representation learning, measured the standard way: freeze the features, fit a linear
classifier on a few labelled examples per class and report its test accuracy, beside that
of k-nearest neighbours in the same features. DCGAN (Radford, Metz and Chintala, ICLR
2016, arXiv:1511.06434, Sec. 5.1) does this with its discriminator's features; Alain and
Bengio ("Understanding intermediate layers using linear classifier probes", 2016,
arXiv:1610.01644) name the method.

Features are what a model with the FEATURES capability offers as `features(x)`, e.g. the
code (the posterior mean μ(x) for the VAE), NADE's hidden units once the recurrence has
read all of x, or a GAN's discriminator's penultimate layer.

Two baselines share the table, so that a number means something: the raw pixels (the
inputs the model sees, after the run's transform), and the same architecture at random
initialisation, rebuilt from the run's config with a fixed seed: random features are a
strong baseline (Saxe et al., "On Random Weights and Unsupervised Feature Learning",
ICML 2011).

Protocol: `labels_per_class` examples of every class drawn with a fixed seed from the
training split; features standardised on those; logistic regression (L2, C = 1) and
k-NN (k = 5, Euclidean, on the standardised features); accuracy on the whole test split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from genzoo.core.capabilities import Capability
from genzoo.core.errors import GenzooError

BATCH = 1000
K_NEIGHBOURS = 5


def feature_source(model) -> str:
    """What `model_features` returns for this model, in words (raises if nothing)."""
    if Capability.FEATURES in model.capabilities:
        return model.features_name
    if model.uses_labels:  # a CGAN
        raise GenzooError(
            f"{type(model).__name__} offers no features to probe: its discriminator scores "
            "D(x | y) and needs the label of every input"
        )
    raise GenzooError(
        f"{type(model).__name__} offers no features to probe: use a run of a model whose "
        "capabilities include features (`genzoo models`), e.g. ae, vae, aae, nade or dcgan"
    )


@torch.no_grad()
def model_features(model, x: Tensor, batch_size: int = BATCH) -> Tensor:
    """Features (N, F) of model inputs x (after the run's transform), in batches."""
    feature_source(model)
    was_training = model.training
    model.eval()  # BatchNorm with its running statistics: a feature of x alone
    f = model.features
    out = torch.cat([f(x[i : i + batch_size].to(model.device)).flatten(1).cpu()
                     for i in range(0, len(x), batch_size)])  # fmt: skip
    model.train(was_training)
    return out


def features(run, x: Tensor) -> Tensor:
    """The run's model's features (N, F) of model inputs x."""
    return model_features(run.model, x)


def random_init(run, seed: int = 0):
    """The run's architecture with fresh weights from `seed`, in eval mode (the global RNG
    is left as it was)."""
    from genzoo.models import get_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = get_model(run.model_name).cls(run.model.config, run.model.data)
    return model.to(run.model.device).eval()


def per_class_subset(labels: Tensor, labels_per_class: int, seed: int = 0) -> Tensor:
    """Indices of `labels_per_class` examples of every class, drawn with `seed`, sorted."""
    if labels_per_class < 1:
        raise GenzooError("--labels-per-class must be at least 1")
    g = torch.Generator().manual_seed(seed)
    picked = []
    for c in torch.unique(labels).tolist():
        members = torch.nonzero(labels == c)[:, 0]
        if len(members) < labels_per_class:
            raise GenzooError(
                f"class {c} has {len(members)} training examples, fewer than "
                f"--labels-per-class {labels_per_class}"
            )
        picked.append(members[torch.randperm(len(members), generator=g)[:labels_per_class]])
    return torch.cat(picked).sort().values


def probe(train_features, train_labels, test_features, test_labels,
          k: int = K_NEIGHBOURS) -> dict[str, float]:  # fmt: skip
    """Test accuracy of a logistic-regression probe and of k-NN on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    x_train, x_test = np.asarray(train_features, np.float64), np.asarray(test_features, np.float64)
    y_train, y_test = np.asarray(train_labels), np.asarray(test_labels)
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    linear = LogisticRegression(max_iter=5000).fit(x_train, y_train)
    knn = KNeighborsClassifier(n_neighbors=min(k, len(x_train))).fit(x_train, y_train)
    return {"linear": float(linear.score(x_test, y_test)), "knn": float(knn.score(x_test, y_test))}


@dataclass
class ProbeRow:
    features: str
    linear: float
    knn: float
    dim: int


def probe_table(run, splits, labels_per_class: int, split: str = "test",
                seed: int = 0) -> tuple[list[ProbeRow], dict]:  # fmt: skip
    """The model's features, raw pixels and the random-init architecture, each probed with
    the same labelled examples; returns the rows and the protocol."""
    from genzoo.apps.anomaly import to_levels

    if splits.train_labels is None or getattr(splits, f"{split}_labels") is None:
        raise GenzooError(f"{splits.name} has no labels: a probe needs labelled data")
    if tuple(splits.train.shape[1:]) != tuple(run.model.data.shape):
        raise GenzooError(
            f"{splits.name} has images of shape {tuple(splits.train.shape[1:])}, the run's "
            f"model takes {tuple(run.model.data.shape)}"
        )
    source = feature_source(run.model)
    chosen = per_class_subset(splits.train_labels, labels_per_class, seed)
    y_train, y_test = splits.train_labels[chosen], getattr(splits, f"{split}_labels")

    def inputs(name: str) -> Tensor:
        levels = to_levels(splits.split(name), splits.n_levels, run.transform.n_levels)
        x = run.transform.fixed(levels, name)
        return run.transform.batch(x, torch.Generator().manual_seed(run.train_config.seed))

    x_train, x_test = inputs("train")[chosen], inputs(split)
    untrained = random_init(run, seed)
    rows = []
    for name, f in (
        (f"{run.model_name} {source} (trained)", lambda x: model_features(run.model, x)),
        ("raw pixels (model inputs)", lambda x: x.flatten(1)),
        (f"{run.model_name} at random init (seed {seed})",
         lambda x: model_features(untrained, x)),
    ):  # fmt: skip
        f_train, f_test = f(x_train), f(x_test)
        acc = probe(f_train, y_train, f_test, y_test)
        rows.append(ProbeRow(name, acc["linear"], acc["knn"], f_train.shape[1]))
    protocol = {
        "split": split,
        "n_test": len(y_test),
        "labels_per_class": labels_per_class,
        "n_classes": len(torch.unique(y_train)),
        "n_labelled": len(chosen),
        "seed": seed,
        "chance": float(torch.bincount(y_test).max()) / len(y_test),
    }
    return rows, protocol
