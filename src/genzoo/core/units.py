"""Units of likelihood. genzoo reports log-likelihoods in nats; this is the one place
that turns nats into bits per dimension, and continuous densities into discrete ones.
"""

import math

import torch

LN2 = math.log(2.0)


def bits_per_dim(nll_nats: torch.Tensor | float, n_dims: int) -> torch.Tensor | float:
    """Negative log-likelihood per example in nats -> bits per dimension."""
    return nll_nats / (n_dims * LN2)


def dequantized_log_prob(
    log_density: torch.Tensor | float, n_dims: int, scale: float
) -> torch.Tensor | float:
    """Lower bound on the log-probability of 8-bit data from a density on rescaled data.

    With x in {0..K-1}, y = (x + u) / scale and u ~ U[0,1)^D, the density on y relates to
    the density on the integer grid by p_int(x + u) = p(y) / scale^D, and
    log P(x) >= E_u[log p_int(x + u)] (Theis et al. 2016, arXiv:1511.01844, Eq. 8).
    """
    return log_density - n_dims * math.log(scale)
