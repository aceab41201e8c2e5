"""Output distributions for one pixel channel, given the network's raw parameters.

Every head maps parameters of shape (..., P) and values of shape (...) to log-probabilities
of shape (...), draws values from the same parameters with an explicit generator, and gives
the distribution's mean (for pictures of a decoder's output). The values are the model's
own: {0, 1} for binary data, {0, ..., K-1} for K-level data, reals for continuous data.

Draws are inverse-CDF on uniforms taken in a fixed order, so that two computations of the
same parameters (a full forward pass and an incremental one) give the same sample.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.core.errors import GenzooError, UnknownNameError


class BernoulliHead:
    """p(x = 1) = σ(ℓ); P = 1."""

    name = "bernoulli"

    def __init__(self) -> None:
        self.n_params = 1

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        return -F.binary_cross_entropy_with_logits(params[..., 0], x, reduction="none")

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        u = torch.rand(params.shape[:-1], generator=generator, dtype=params.dtype)
        return (u.to(params.device) < torch.sigmoid(params[..., 0])).to(params.dtype)

    def mean(self, params: Tensor) -> Tensor:
        return torch.sigmoid(params[..., 0])


class CategoricalHead:
    """p(x = k) = softmax(ℓ)_k over K values; P = K (the 256-way softmax of PixelRNN, Sec. 3.4)."""

    name = "categorical"

    def __init__(self, n_values: int) -> None:
        self.n_params = n_values

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        log_p = torch.log_softmax(params, dim=-1)
        return log_p.gather(-1, x.long().unsqueeze(-1)).squeeze(-1)

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        cdf = torch.softmax(params, dim=-1).cumsum(-1)
        u = torch.rand(params.shape[:-1], generator=generator, dtype=params.dtype)
        k = (u.to(params.device).unsqueeze(-1) > cdf).sum(-1)
        return k.clamp(max=self.n_params - 1).to(params.dtype)

    def mean(self, params: Tensor) -> Tensor:
        levels = torch.arange(self.n_params, dtype=params.dtype, device=params.device)
        return torch.softmax(params, dim=-1) @ levels


def log_sigmoid_difference(a: Tensor, b: Tensor) -> Tensor:
    """log(σ(a) − σ(b)) for a > b, without cancellation:
    σ(a) − σ(b) = σ(a) σ(−b) (1 − e^{b−a})."""
    d = (a - b).clamp(min=1e-12)
    log1m_exp = torch.where(d < 0.693, torch.log(-torch.expm1(-d)), torch.log1p(-torch.exp(-d)))
    return F.logsigmoid(a) + F.logsigmoid(-b) + log1m_exp


class LogisticMixtureHead:
    """Discretised mixture of M logistics (PixelCNN++, Salimans et al. 2017, arXiv:1701.05517).

    The K levels are the centres y_k = 2k/(K−1) − 1 of bins of half-width δ = 1/(K−1) on
    [−1, 1]; the end bins reach to ±∞, so the K probabilities sum to exactly 1 (Eq. 2):

        P(x = k) = Σ_m π_m [σ((y_k + δ − μ_m)/s_m) − σ((y_k − δ − μ_m)/s_m)]

    P = 3M: mixture logits, means μ, log-scales log s. Deviation from PixelCNN++: each colour
    channel has its own mixture, conditioned on the earlier channels through the network's
    colour masks, instead of one mixture per pixel with linear channel coefficients.
    """

    name = "logistic-mixture"

    def __init__(self, n_values: int, n_mixtures: int) -> None:
        self.n_values, self.n_mixtures = n_values, n_mixtures
        self.n_params = 3 * n_mixtures

    def unpack(self, params: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        logit_pi, mu, log_s = params.split(self.n_mixtures, dim=-1)
        return logit_pi, mu, log_s.clamp(min=-7.0)  # PixelCNN++'s floor on the scale

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        logit_pi, mu, log_s = self.unpack(params)
        delta = 1.0 / (self.n_values - 1)
        y = (x * (2 * delta) - 1).unsqueeze(-1)
        inv_s = torch.exp(-log_s)
        a = (y + delta - mu) * inv_s  # upper edge of the bin
        b = (y - delta - mu) * inv_s  # lower edge
        k = x.unsqueeze(-1).expand_as(a)
        log_p = torch.where(
            k == 0,
            F.logsigmoid(a),
            torch.where(k == self.n_values - 1, F.logsigmoid(-b), log_sigmoid_difference(a, b)),
        )
        return torch.logsumexp(torch.log_softmax(logit_pi, dim=-1) + log_p, dim=-1)

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        logit_pi, mu, log_s = self.unpack(params)
        u = torch.rand((2, *params.shape[:-1]), generator=generator, dtype=params.dtype)
        u = u.to(params.device)
        cdf = torch.softmax(logit_pi, dim=-1).cumsum(-1)
        m = (u[0].unsqueeze(-1) > cdf).sum(-1, keepdim=True).clamp(max=self.n_mixtures - 1)
        mu, s = mu.gather(-1, m).squeeze(-1), log_s.gather(-1, m).squeeze(-1).exp()
        v = u[1].clamp(1e-6, 1 - 1e-6)
        y = mu + s * (torch.log(v) - torch.log1p(-v))  # the logistic's inverse CDF
        k = torch.round((y + 1) * (self.n_values - 1) / 2)
        return k.clamp(0, self.n_values - 1)

    def mean(self, params: Tensor) -> Tensor:
        """The mixture's mean location, in levels (ignoring the clipping at the ends)."""
        logit_pi, mu, _ = self.unpack(params)
        y = (torch.softmax(logit_pi, dim=-1) * mu).sum(-1)
        return ((y + 1) * (self.n_values - 1) / 2).clamp(0, self.n_values - 1)


class GaussianHead:
    """N(x; μ, σ²) for continuous values. P = 2 (μ, log σ) when σ is learned per output,
    P = 1 (μ) when σ is fixed: then −log p is the squared error up to constants."""

    name = "gaussian"

    def __init__(self, std: float | None = None) -> None:
        if std is not None and std <= 0:
            raise GenzooError(f"the Gaussian head's fixed std must be positive, not {std}")
        self.std = std
        self.n_params = 1 if std is not None else 2

    def unpack(self, params: Tensor) -> tuple[Tensor, Tensor]:
        if self.std is not None:
            return params[..., 0], torch.full_like(params[..., 0], math.log(self.std))
        return params[..., 0], params[..., 1].clamp(min=-7.0)

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        mu, log_s = self.unpack(params)
        return -0.5 * ((x - mu) * torch.exp(-log_s)) ** 2 - log_s - 0.5 * math.log(2 * math.pi)

    def sample(self, params: Tensor, generator: torch.Generator | None = None) -> Tensor:
        mu, log_s = self.unpack(params)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
        return mu + log_s.exp() * eps

    def mean(self, params: Tensor) -> Tensor:
        return params[..., 0]


HEADS = ("auto", "bernoulli", "categorical", "logistic-mixture")


def make_head(name: str, n_values: int, n_mixtures: int = 5):
    """The head for `name` on data with n_values levels; "auto": Bernoulli for binary data,
    a K-way softmax otherwise."""
    if name == "auto":
        name = "bernoulli" if n_values == 2 else "categorical"
    if name == "bernoulli":
        if n_values != 2:
            raise GenzooError(f"the Bernoulli head models binary data, not {n_values} levels")
        return BernoulliHead()
    if name == "categorical":
        return CategoricalHead(n_values)
    if name == "logistic-mixture":
        return LogisticMixtureHead(n_values, n_mixtures)
    raise UnknownNameError(f"unknown head {name!r}: expected one of {', '.join(HEADS)}")
