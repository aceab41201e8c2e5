"""The adversarial losses, each a few lines next to its equation. Discriminators return
logits ℓ, so D(x) = σ(ℓ(x)); critics (WGAN) return unbounded scores.

Goodfellow et al. 2014 (arXiv:1406.2661), Eq. 1:
    min_G max_D  E_x[log D(x)] + E_z[log(1 − D(G(z)))]
The discriminator minimises −log D(x) − log(1 − D(G(z))). The generator either minimises
log(1 − D(G(z))) ("minimax", as in Eq. 1) or maximises log D(G(z)) ("non-saturating",
Sec. 3: the same fixed point, but strong gradients early in training, when D rejects the
samples easily).

Arjovsky et al. 2017 (arXiv:1701.07875), Alg. 1: the critic f maximises E f(x) − E f(G(z))
under a Lipschitz constraint (weight clipping); Gulrajani et al. 2017 (arXiv:1704.00028),
Eq. 3: the constraint as a penalty λ E[(‖∇f(x̂)‖₂ − 1)²] at x̂ = εx + (1 − ε)G(z),
ε ~ U[0, 1], points on lines between real and generated samples.

Mao et al. 2017 (arXiv:1611.04076), Eq. 2 with a = 0, b = c = 1 (least squares GAN): D
minimises E_x[(D(x) − 1)²] + E_z[D(G(z))²] and G minimises E_z[(D(G(z)) − 1)²], on the raw
outputs D(·) (no sigmoid).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def discriminator_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """−log D(x) − log(1 − D(G(z))), averaged: D's side of Eq. 1."""
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def generator_loss(d_fake: Tensor, kind: str = "non-saturating") -> Tensor:
    """non-saturating: −log D(G(z));  minimax: log(1 − D(G(z)))."""
    if kind == "minimax":
        return -F.softplus(d_fake).mean()  # log(1 − σ(ℓ)) = −softplus(ℓ)
    return F.softplus(-d_fake).mean()  # −log σ(ℓ) = softplus(−ℓ)


def least_squares_discriminator_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """E[(D(x) − 1)²] + E[D(G(z))²]: LSGAN's D side (Mao et al., Eq. 2)."""
    return (d_real - 1).pow(2).mean() + d_fake.pow(2).mean()


def least_squares_generator_loss(d_fake: Tensor) -> Tensor:
    """E[(D(G(z)) − 1)²]: LSGAN's G side (Mao et al., Eq. 2)."""
    return (d_fake - 1).pow(2).mean()


def critic_loss(f_real: Tensor, f_fake: Tensor) -> Tensor:
    """−(E f(x) − E f(G(z))): the critic maximises the Wasserstein estimate."""
    return f_fake.mean() - f_real.mean()


def wasserstein_estimate(f_real: Tensor, f_fake: Tensor) -> Tensor:
    return f_real.mean() - f_fake.mean()


def interpolates(real: Tensor, fake: Tensor, generator=None) -> Tensor:
    """x̂ = ε x + (1 − ε) x̃ with one ε ~ U[0, 1] per example (WGAN-GP, Alg. 1)."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), generator=generator)
    eps = eps.to(device=real.device, dtype=real.dtype)
    return eps * real + (1 - eps) * fake


def gradient_penalty(critic: nn.Module, x_hat: Tensor) -> Tensor:
    """E[(‖∇_x̂ f(x̂)‖₂ − 1)²], differentiable in the critic's parameters (Eq. 3)."""
    x_hat = x_hat.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def drift_penalty(d_real: Tensor) -> Tensor:
    """E D(x)²: ProGAN's drift term, which keeps the critic's scores near 0 (Karras et al.
    2018, Sec. A.1, weighted by ε_drift = 0.001)."""
    return d_real.pow(2).mean()


@torch.no_grad()
def clip_weights(module: nn.Module, c: float) -> None:
    """WGAN's Lipschitz constraint (Alg. 1, line 7): every parameter into [−c, c]."""
    for p in module.parameters():
        p.clamp_(-c, c)
