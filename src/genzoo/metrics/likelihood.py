"""Negative log-likelihood of a dataset, in nats per example and bits per dimension."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genzoo.core.units import bits_per_dim, dequantized_log_prob


@torch.no_grad()
def mean_nll(model, x: Tensor, transform=None, batch_size: int = 1000, seed: int = 0) -> float:
    """Mean per-example NLL in nats of the (fixed-transformed) data `x` under `model`.

    Stochastic transforms (dynamic binarisation, dequantisation) draw from a generator seeded
    with `seed`, so repeated evaluations see the same data. For dequantised data the result
    is the NLL of the discrete 8-bit data (an upper bound, via the change of variables).
    """
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    for start in range(0, x.shape[0], batch_size):
        xb = x[start : start + batch_size]
        if transform is not None:
            xb = transform.batch(xb, generator)
        total += model.validation_nll(xb.to(model.device)).double().sum().item()
    model.train(was_training)
    nll = total / x.shape[0]
    if transform is not None and transform.dequantize:
        nll = -dequantized_log_prob(-nll, math.prod(x.shape[1:]), transform.dequant_scale)
    return nll


def nll_report(nll_nats: float, n_dims: int) -> dict[str, float]:
    return {"nll_nats": nll_nats, "bits_per_dim": bits_per_dim(nll_nats, n_dims)}
