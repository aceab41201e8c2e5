"""Priors p(z) for the adversarial autoencoder: anything that can be *sampled*.

The VAE needs KL(q(z|x) ‖ p(z)) in closed form, so its prior is N(0, I); the AAE only asks
its discriminator to tell prior samples from codes, so any sampler works. A prior here is
a function (n, dim, generator) -> (n, dim); `register_prior("name", fn)` adds one, and the
AAE's `prior` setting names it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from genzoo.core.errors import GenzooError, UnknownNameError, did_you_mean

Prior = Callable[[int, int, torch.Generator | None], Tensor]

N_COMPONENTS = 10
MIXTURE_RADIUS, MIXTURE_STD = 4.0, 0.5


def gaussian(n: int, dim: int, generator=None) -> Tensor:
    return torch.randn(n, dim, generator=generator)


def mixture_means(dim: int) -> Tensor:
    """Ten means on a circle of radius 4 in the first two dimensions (on a line for dim 1)."""
    angles = torch.arange(N_COMPONENTS) * (2 * math.pi / N_COMPONENTS)
    means = torch.zeros(N_COMPONENTS, dim)
    if dim == 1:
        means[:, 0] = torch.linspace(-MIXTURE_RADIUS, MIXTURE_RADIUS, N_COMPONENTS) * 1.5
    else:
        means[:, 0], means[:, 1] = MIXTURE_RADIUS * angles.cos(), MIXTURE_RADIUS * angles.sin()
    return means


def mixture(n: int, dim: int, generator=None) -> Tensor:
    """An equal mixture of 10 Gaussians with std 0.5 (the AAE paper's Fig. 4 prior in 2-D)."""
    component = torch.randint(N_COMPONENTS, (n,), generator=generator)
    return mixture_component(component, dim, generator)


def mixture_component(component: Tensor, dim: int, generator=None) -> Tensor:
    """One sample of `mixture` from each given component (n,) in 0..9: (n, dim)."""
    noise = torch.randn(len(component), dim, generator=generator)
    return mixture_means(dim)[component] + MIXTURE_STD * noise


def uniform(n: int, dim: int, generator=None) -> Tensor:
    """U[−2, 2]^dim."""
    return 4 * torch.rand(n, dim, generator=generator) - 2


def swiss_roll(n: int, dim: int, generator=None) -> Tensor:
    """A noisy 2-D spiral, t ∈ [1.5π, 4.5π] (the AAE paper's Fig. 4 uses one too)."""
    if dim != 2:
        raise GenzooError(f"the swiss-roll prior is 2-D: set latent_dim=2 (not {dim})")
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
    points = torch.stack([t * t.cos(), t * t.sin()], dim=1) / 3
    return points + 0.1 * torch.randn(n, 2, generator=generator)


PRIORS: dict[str, Prior] = {
    "gaussian": gaussian,
    "mixture": mixture,
    "uniform": uniform,
    "swiss-roll": swiss_roll,
}


def register_prior(name: str, prior: Prior) -> None:
    """Make `prior` available to the AAE as `prior=name`."""
    PRIORS[name] = prior


def get_prior(name: str) -> Prior:
    if name not in PRIORS:
        raise UnknownNameError(f"unknown prior {name!r}{did_you_mean(name, PRIORS)}; "
                               f"known priors: {', '.join(PRIORS)}")  # fmt: skip
    return PRIORS[name]
