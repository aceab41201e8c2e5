"""Sample-quality metrics for any model that can sample: FID, KID, Inception Score, P/R.

All four compare samples with reference images through a classifier, by default genzoo's
own per-dataset feature network (`genzoo.metrics.features`), NOT Inception-v3: the numbers
are comparable between genzoo runs that use the same feature-network identifier, never with
the Inception-based numbers in papers. Given the standard weights, the FID Inception-v3 of
`genzoo.metrics.inception` takes its place, through the same functions.

FID, Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium", NeurIPS 2017, arXiv:1706.08500. With Gaussians fitted to the features of real
(mu_r, Sigma_r) and generated (mu_g, Sigma_g) images,
    FID = ‖mu_r − mu_g‖² + Tr(Sigma_r + Sigma_g − 2 (Sigma_r Sigma_g)^½).
KID, Bińkowski et al., "Demystifying MMD GANs", ICLR 2018, arXiv:1801.01401: the unbiased
MMD² with the cubic polynomial kernel k(a, b) = (aᵀb / F + 1)³, averaged over random subsets
of m samples from each side (its std over subsets is reported too). m adapts to the smaller
sample when it holds fewer than the requested subset size.
Inception Score, Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016,
arXiv:1606.03498: IS = exp(E_x KL(p(y|x) ‖ p(y))), p(y) the mean of p(y|x) over the samples.
Precision and recall, Kynkäänniemi et al., "Improved Precision and Recall Metric for
Assessing Generative Models", NeurIPS 2019, arXiv:1904.06991: each feature vector owns a
ball whose radius is the distance to its k-th nearest neighbour in its own set;
    precision = fraction of generated samples inside some real sample's ball,
    recall    = fraction of real samples inside some generated sample's ball.

FID and KID are torchmetrics' FrechetInceptionDistance and KernelInceptionDistance through
their custom-feature path. They are fed features computed once by `FeatureNet.features`
(an identity feature module passes them on), so that all metrics share one forward pass;
`features.FeatureExtractor(net)` is the same network as a torchmetrics feature module for
images. IS and P/R are computed here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from genzoo.core.errors import GenzooError, UnknownNameError
from genzoo.metrics.features import FeatureNet
from genzoo.metrics.inception import InceptionV3

METRICS = ("fid", "kid", "is", "pr")


class _GivenFeatures(nn.Module):
    """A torchmetrics feature module for inputs that already are (B, F) features."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, f: Tensor) -> Tensor:
        return f


def _check_features(real: Tensor, fake: Tensor) -> None:
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise GenzooError(
            f"features must be (N, F) with one F, got {tuple(real.shape)} and {tuple(fake.shape)}"
        )
    if len(real) < 2 or len(fake) < 2:
        raise GenzooError(f"need at least 2 samples per side, got {len(real)} and {len(fake)}")


def fid(real_features: Tensor, fake_features: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to (N, F) and (M, F) features."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    _check_features(real_features, fake_features)
    metric = FrechetInceptionDistance(feature=_GivenFeatures(real_features.shape[1]))
    metric.update(real_features.double(), real=True)
    metric.update(fake_features.double(), real=False)
    return metric.compute().item()


def kid(
    real_features: Tensor,
    fake_features: Tensor,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Mean and std over `subsets` random subsets of the unbiased polynomial-kernel MMD²."""
    from torchmetrics.image.kid import KernelInceptionDistance

    _check_features(real_features, fake_features)
    m = min(subset_size, len(real_features), len(fake_features))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Metric `Kernel Inception Distance` will save")
        metric = KernelInceptionDistance(
            feature=_GivenFeatures(real_features.shape[1]), subsets=subsets, subset_size=m
        )
    metric.update(real_features.double(), real=True)
    metric.update(fake_features.double(), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the subsets come from torch.randperm
        mean, std = metric.compute()
    return mean.item(), std.item()


def fid_kid(
    real_features: Tensor,
    fake_features: Tensor,
    *,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """{"fid", "kid_mean", "kid_std"} between (N, F) real and (M, F) generated features."""
    kid_mean, kid_std = kid(
        real_features, fake_features, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed
    )
    return {"fid": fid(real_features, fake_features), "kid_mean": kid_mean, "kid_std": kid_std}


def inception_score(probs: Tensor, splits: int = 1) -> tuple[float, float]:
    """Mean and std over `splits` equal parts of exp(E_x KL(p(y|x) ‖ p(y))); probs (N, K)."""
    if probs.ndim != 2 or len(probs) < splits:
        raise GenzooError(f"need (N, K) probabilities with N >= {splits}, got {tuple(probs.shape)}")
    scores = []
    for p_yx in probs.double().chunk(splits):
        p_y = p_yx.mean(0, keepdim=True)
        kl = (torch.xlogy(p_yx, p_yx) - torch.xlogy(p_yx, p_y)).sum(1)  # KL(p(y|x) ‖ p(y))
        scores.append(kl.mean().exp())
    scores_t = torch.stack(scores)
    return scores_t.mean().item(), scores_t.std(unbiased=False).item()


def _squared_distances(a: Tensor, b: Tensor) -> Tensor:
    return (a.square().sum(1, keepdim=True) + b.square().sum(1) - 2 * a @ b.T).clamp_min_(0)


def _kth_neighbour_radii2(f: Tensor, k: int, batch_size: int) -> Tensor:
    """Squared distance from each row of f to its k-th nearest other row, (N,)."""
    # the k + 1-th smallest distance, counting the row itself at distance 0 (as in the paper's code)
    return torch.cat(
        [
            _squared_distances(f[i : i + batch_size], f).kthvalue(k + 1, dim=1).values
            for i in range(0, len(f), batch_size)
        ]
    )


def _fraction_covered(x: Tensor, centres: Tensor, radii2: Tensor, batch_size: int) -> float:
    """Fraction of rows of x within radius of at least one centre."""
    inside = sum(
        (_squared_distances(x[i : i + batch_size], centres) <= radii2).any(1).sum().item()
        for i in range(0, len(x), batch_size)
    )
    return inside / len(x)


@torch.no_grad()
def precision_recall(
    real_features: Tensor, fake_features: Tensor, k: int = 3, batch_size: int = 1000
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of (M, F) fakes vs (N, F) reals.

    Distances are taken `batch_size` rows at a time: memory is O(batch_size · max(N, M)).
    """
    _check_features(real_features, fake_features)
    if k >= min(len(real_features), len(fake_features)):
        raise GenzooError(f"k = {k} needs more than {k} samples on each side")
    real, fake = real_features.double(), fake_features.double()
    real_radii2 = _kth_neighbour_radii2(real, k, batch_size)
    fake_radii2 = _kth_neighbour_radii2(fake, k, batch_size)
    precision = _fraction_covered(fake, real, real_radii2, batch_size)
    recall = _fraction_covered(real, fake, fake_radii2, batch_size)
    return precision, recall


@torch.no_grad()
def embed(net: FeatureNet | InceptionV3, x: Tensor, batch_size: int = 500) -> tuple[Tensor, Tensor]:
    """Features (N, F) and class probabilities p(y|x) (N, K) of images x (N, C, H, W) in [0, 1]."""
    device = next(net.parameters()).device
    features, probs = [], []
    for i in range(0, len(x), batch_size):
        f = net.features(x[i : i + batch_size].to(device))
        features.append(f.cpu())
        probs.append(net.classifier(f).softmax(1).cpu())
    return torch.cat(features), torch.cat(probs)


def check_images(x: Tensor, what: str, net: FeatureNet | InceptionV3) -> None:
    takes = net.input_mismatch(x)
    if takes is not None:
        raise GenzooError(f"{what} have shape {tuple(x.shape)}; the feature network takes {takes}")
    if not x.is_floating_point() or x.min() < 0 or x.max() > 1:
        raise GenzooError(f"{what} must be float images in [0, 1] (scale uint8 levels first)")


def sample_metrics(
    samples: Tensor,
    reference: Tensor,
    net: FeatureNet | InceptionV3,
    metrics: Sequence[str] = METRICS,
    batch_size: int | None = None,
    *,
    k: int = 3,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float | list[int]]:
    """Metrics of generated `samples` against `reference` images, both (N, C, H, W) in [0, 1].

    metrics: any of "fid", "kid" (kid_mean, kid_std), "is" (one split over all samples, and
    class_counts: how many samples the network puts in each class, the balance that a
    partly collapsed generator loses) and "pr" (precision, recall with k nearest
    neighbours). Also returns n_samples, n_reference.
    batch_size images go through the network at once; by default, the network's own.
    """
    unknown = [name for name in metrics if name not in METRICS]
    if unknown:
        raise UnknownNameError(
            f"unknown sample metric {unknown[0]!r}: expected one of {', '.join(METRICS)}"
        )
    check_images(samples, "samples", net)
    check_images(reference, "reference images", net)
    batch_size = batch_size or net.batch_size
    f_fake, p_fake = embed(net, samples, batch_size)
    result: dict[str, float | list[int]] = {
        "n_samples": len(samples),
        "n_reference": len(reference),
    }
    if {"fid", "kid", "pr"} & set(metrics):
        f_real, _ = embed(net, reference, batch_size)
    if "fid" in metrics:
        result["fid"] = fid(f_real, f_fake)
    if "kid" in metrics:
        result["kid_mean"], result["kid_std"] = kid(
            f_real, f_fake, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed
        )
    if "is" in metrics:
        result["is"], _ = inception_score(p_fake)
        result["class_counts"] = p_fake.argmax(1).bincount(minlength=p_fake.shape[1]).tolist()
    if "pr" in metrics:
        result["precision"], result["recall"] = precision_recall(f_real, f_fake, k, batch_size)
    return result
