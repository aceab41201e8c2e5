"""Negative log-likelihood of a dataset, in nats per example and bits per dimension."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genzoo.core.units import bits_per_dim, dequantized_log_prob


@torch.no_grad()
def mean_terms(model, x: Tensor, score, transform=None, batch_size: int = 1000, seed: int = 0,
               desc: str | None = None):  # fmt: skip
    """Means over the (fixed-transformed) data `x` of `score(batch) -> {name: (B,) nats}`.

    Stochastic transforms (dynamic binarisation, dequantisation) draw from a generator seeded
    with `seed`, so repeated evaluations see the same data. For dequantised data every term
    but "prior_fitting" is a density of the rescaled data and is turned into one of the
    discrete 8-bit data (an upper bound on its NLL, via the change of variables).
    With `desc`, a progress bar of examples is shown on a terminal.
    """
    from genzoo.core.progress import progress

    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    totals: dict[str, float] = {}
    with progress(total=x.shape[0], desc=desc, unit="ex", enabled=None if desc else False) as bar:
        for start in range(0, x.shape[0], batch_size):
            xb = x[start : start + batch_size]
            if transform is not None:
                xb = transform.batch(xb, generator)
            for key, value in score(xb.to(model.device)).items():
                totals[key] = totals.get(key, 0.0) + value.double().sum().item()
            bar.update(len(xb))
    model.train(was_training)
    means = {key: total / x.shape[0] for key, total in totals.items()}
    if transform is not None and transform.dequantize:
        n_dims, scale = math.prod(x.shape[1:]), transform.dequant_scale
        for key in means.keys() - {"prior_fitting"}:
            means[key] = -dequantized_log_prob(-means[key], n_dims, scale)
    return means


def mean_nll(model, x: Tensor, transform=None, batch_size: int = 1000, seed: int = 0) -> float:
    """Mean per-example `model.validation_nll` in nats (see `mean_terms`)."""
    score = lambda xb: {"nll": model.validation_nll(xb)}  # noqa: E731
    return mean_terms(model, x, score, transform, batch_size, seed)["nll"]


def nll_report(nll_nats: float, n_dims: int) -> dict[str, float]:
    return {"nll_nats": nll_nats, "bits_per_dim": bits_per_dim(nll_nats, n_dims)}


def validation_report(model, value: float, n_dims: int) -> dict[str, float]:
    """The trainer's validation record, named for what the model's `validation_nll` is."""
    metric = model.validation_metric
    if metric == "nll":
        return nll_report(value, n_dims)
    if metric in ("neg_elbo", "neg_iwae"):  # upper bounds on the NLL, and so on its bits/dim
        return {f"{metric}_nats": value, "bits_per_dim_bound": bits_per_dim(value, n_dims)}
    return {f"{metric}_nats": value}
