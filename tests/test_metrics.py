"""Likelihood evaluation: units, and the change of variables for dequantised data."""

import math

import torch
from torch import nn

from genzoo.core import bits_per_dim
from genzoo.data import Transform
from genzoo.metrics.likelihood import mean_nll


class UniformDensity(nn.Module):
    """p(y) = 1 on [0, 1)^D: the density of dequantised data if every level is equally likely."""

    def __init__(self):
        super().__init__()
        self.device = torch.device("cpu")

    def validation_nll(self, y):
        assert ((y >= 0) & (y < 1)).all()
        return torch.zeros(y.shape[0])


def test_dequantised_nll_is_the_nll_of_the_discrete_data():
    # a uniform density on [0,1)^D is the uniform distribution over 256^D levels: D log 256 nats
    t = Transform(n_levels=256, scale="unit", dequantize=True)
    x = t.fixed(torch.randint(0, 256, (10, 1, 2, 3), dtype=torch.uint8), "test")
    nll = mean_nll(UniformDensity(), x, t)
    assert math.isclose(nll, 6 * math.log(256), rel_tol=1e-12)
    assert math.isclose(bits_per_dim(nll, 6), 8.0, rel_tol=1e-12)
