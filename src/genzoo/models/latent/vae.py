"""The variational autoencoder, with the importance-weighted bound.

D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014 (arXiv:1312.6114).
Y. Burda, R. Grosse and R. Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016
(arXiv:1509.00519).

The model is p(z) = N(0, I) and a decoder p_θ(x | z); the encoder gives the approximate
posterior q_φ(z | x) = N(μ(x), diag σ²(x)). For every x,

    log p(x) ≥ ELBO = E_q[log p(x | z)] − KL(q(z | x) ‖ p(z))
                      reconstruction     prior fitting

The reconstruction term is estimated with z = μ + σ ⊙ ε, ε ~ N(0, I) (the
reparameterisation trick, so gradients reach φ); the KL has the closed form of
`gaussian_kl`, which is why the prior is Gaussian: the KL must be computable. The
adversarial autoencoder (aae.py) drops that requirement.

With k samples z_1..z_k ~ q(z | x) and weights w_i = p(x, z_i) / q(z_i | x),

    log p(x) ≥ IWAE_k = E[log (1/k) Σ_i w_i] ≥ IWAE_1 = ELBO,   IWAE_k ↑ log p(x) as k → ∞

(Burda et al., Theorem 1). `iwae_bound(x, k)` is genzoo's log p(x) estimate for latent
models (k = 5000 in the paper's evaluation); it is a stochastic lower bound, reported as an
estimate and never as an exact likelihood. `objective="iwae"` trains on IWAE_k itself.

Defaults are Burda et al.'s one-stochastic-layer MNIST model: 784-200-200-50 with tanh, a
Bernoulli decoder. Deviations: the paper trains with batch 20 for 3,280 epochs on a
decaying schedule; genzoo's trainer settings are its own (see docs/results.md for the runs).
`beta` ≠ 1 weights the KL (β-VAE, Higgins et al. 2017): the objective is then no longer
a bound on log p(x), and the report says so; reported bounds always use β = 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from genzoo.core.capabilities import Capability, SampleOption
from genzoo.core.config import at_least
from genzoo.core.errors import GenzooError
from genzoo.core.registry import register
from genzoo.models.latent.base import CoderConfig, LatentModel

LOG_2PI = math.log(2 * math.pi)
EVAL_SEED = 0  # validation and evaluation draw their noise from this seed: repeatable numbers


@dataclass
class VAEConfig(CoderConfig):
    # Burda et al., Sec. 5.1 (one stochastic layer)
    latent_dim: int = field(default=50, metadata=at_least(1))
    # ibid.: two deterministic layers
    hidden_dims: tuple[int, ...] = field(default=(200, 200), metadata=at_least(1))
    activation: Literal["relu", "tanh", "leaky-relu"] = "tanh"  # ibid.
    objective: Literal["elbo", "iwae"] = "elbo"
    # samples per example: averaged (elbo) or importance-weighted (iwae; 50: Table 1)
    k: int = field(default=1, metadata=at_least(1))
    beta: float = field(default=1.0, metadata=at_least(0.0))  # KL weight in training; 1 is the ELBO
    # importance samples for the run report's log p(x) estimate
    eval_k: int = field(default=100, metadata=at_least(1))


def gaussian_kl(mu: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ_j (μ_j² + σ_j² − log σ_j² − 1), per row (nats)."""
    return 0.5 * (mu.pow(2) + log_var.exp() - log_var - 1).sum(-1)


def gaussian_log_density(z: Tensor, mu: Tensor | float = 0.0, log_var: Tensor | float = 0.0):
    """log N(z; μ, diag σ²), summed over the last dimension."""
    log_var = torch.as_tensor(log_var, dtype=z.dtype)
    return -0.5 * ((z - mu).pow(2) * torch.exp(-log_var) + log_var + LOG_2PI).sum(-1)


def reparameterize(mu: Tensor, log_var: Tensor, k: int, generator=None) -> Tensor:
    """k draws z = μ + σ ⊙ ε per row, shape (k, *mu.shape); differentiable in μ and σ."""
    eps = torch.randn((k, *mu.shape), generator=generator, dtype=mu.dtype).to(mu.device)
    return mu + torch.exp(0.5 * log_var) * eps


def log_mean_exp(a: Tensor, dim: int = 0) -> Tensor:
    return torch.logsumexp(a, dim) - math.log(a.shape[dim])


@register("vae", family="latent", description="variational autoencoder; ELBO or IWAE objective")
class VAE(LatentModel):
    Config = VAEConfig
    capabilities = (Capability.SAMPLE | Capability.ELBO | Capability.ENCODE | Capability.FEATURES
                    | Capability.NOISE)  # fmt: skip
    features_name = "posterior mean"
    sample_options = (
        SampleOption("temperature", 0.0, math.inf, "z ~ N(0, T² I): T < 1 gives more typical, "
                     "less varied samples"),
    )  # fmt: skip
    validation_metric = "neg_elbo"
    encoder_outputs = 2

    def __init__(self, config: VAEConfig, data):
        super().__init__(config, data)
        if config.k < 1 or config.eval_k < 1:
            raise GenzooError("k and eval_k are numbers of samples: at least 1")
        if config.objective == "iwae":  # validate (and select weights) on what is trained
            self.validation_metric = "neg_iwae"

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """q(z | x): mean and log-variance, each (B, latent_dim)."""
        return self.encoder(x).chunk(2, dim=-1)

    def terms(self, x: Tensor, k: int = 1, generator=None) -> dict[str, Tensor]:
        """k reparameterised draws from q(z | x), and what the bounds are made of."""
        mu, log_var = self.posterior(x)
        z = reparameterize(mu, log_var, k, generator)  # (k, B, L)
        return {
            "mu": mu,
            "log_var": log_var,
            "z": z,
            "log_px_z": self.log_likelihood(x, z),
        }  # fmt: skip  (k, B)

    def elbo(self, x: Tensor, generator=None) -> Tensor:
        """The ELBO per example (B,), with one reparameterised sample."""
        t = self.terms(x, 1, generator)
        return t["log_px_z"][0] - gaussian_kl(t["mu"], t["log_var"])

    def log_weights(self, x: Tensor, k: int, generator=None) -> Tensor:
        """log w_i = log p(x | z_i) + log p(z_i) − log q(z_i | x), shape (k, B)."""
        t = self.terms(x, k, generator)
        log_q = gaussian_log_density(t["z"], t["mu"], t["log_var"])
        return t["log_px_z"] + gaussian_log_density(t["z"]) - log_q

    @torch.no_grad()
    def iwae_bound(self, x: Tensor, k: int, generator=None, max_rows: int = 50_000) -> Tensor:
        """IWAE_k per example (B,): the estimate of log p(x), in chunks of samples."""
        chunk = max(1, max_rows // x.shape[0])
        parts = [torch.logsumexp(self.log_weights(x, min(chunk, k - i), generator), 0)
                 for i in range(0, k, chunk)]  # fmt: skip
        return torch.logsumexp(torch.stack(parts), 0) - math.log(k)

    def objective(self, x: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        t = self.terms(x, cfg.k)
        reconstruction = -t["log_px_z"].mean(0)  # −E_q log p(x | z), per example
        prior_fitting = gaussian_kl(t["mu"], t["log_var"])
        if cfg.objective == "iwae":
            log_q = gaussian_log_density(t["z"], t["mu"], t["log_var"])
            log_w = t["log_px_z"] + gaussian_log_density(t["z"]) - log_q
            loss = -log_mean_exp(log_w, 0).mean()
        else:
            loss = (reconstruction + cfg.beta * prior_fitting).mean()
        return {"loss": loss, "reconstruction": reconstruction.mean().detach(),
                "prior_fitting": prior_fitting.mean().detach()}  # fmt: skip

    def validation_nll(self, x: Tensor) -> Tensor:
        """−ELBO, or −IWAE_k for objective="iwae" (upper bounds on −log p(x)), with fixed
        noise so that it is repeatable."""
        generator = torch.Generator().manual_seed(EVAL_SEED)
        with torch.no_grad():
            if self.config.objective == "iwae":
                return -self.iwae_bound(x, self.config.k, generator)
            return -self.elbo(x, generator)

    @property
    def eval_k(self) -> int:
        """Importance samples for the IWAE estimate in reports."""
        return self.config.eval_k

    def objective_note(self) -> str | None:
        if self.config.beta == 1.0:
            return None
        return (f"Trained with beta={self.config.beta}: the training objective was not an "
                "ELBO; the bounds above use beta = 1.")  # fmt: skip

    @torch.no_grad()
    def evaluation_terms(self, x: Tensor, k: int | None = None) -> dict[str, Tensor]:
        """Per example: −ELBO = reconstruction + prior fitting, and −IWAE_k if k is given."""
        t = self.terms(x, 1, torch.Generator().manual_seed(EVAL_SEED))
        out = {"reconstruction": -t["log_px_z"][0],
               "prior_fitting": gaussian_kl(t["mu"], t["log_var"])}  # fmt: skip
        out["neg_elbo"] = out["reconstruction"] + out["prior_fitting"]
        if k:
            out["iwae_nll"] = -self.iwae_bound(x, k, torch.Generator().manual_seed(EVAL_SEED))
        return out

    @torch.no_grad()
    def sample(self, n: int, generator=None, temperature: float | None = None) -> Tensor:
        """x ~ p(x | z), z ~ N(0, I), or N(0, T² I) at `temperature` T."""
        return self.decode_sample(self.noise(n, generator, temperature), generator)

    def noise(self, n: int, generator=None, temperature: float | None = None) -> Tensor:
        """z ~ N(0, I), or N(0, T² I) at `temperature` T: (n, latent_dim)."""
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(self.device)
        return z if temperature is None else z * temperature

    @torch.no_grad()
    def decode_noise(self, z: Tensor) -> Tensor:
        """E[x | z], (n, *shape): the decoder's mean, as `genzoo interpolate` shows."""
        return self.decode_mean(z.to(self.device))
