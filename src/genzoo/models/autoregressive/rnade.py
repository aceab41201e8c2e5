"""RNADE: the real-valued neural autoregressive density estimator.

B. Uria, I. Murray and H. Larochelle, "RNADE: The real-valued neural autoregressive
density-estimator", NeurIPS 2013, arXiv:1306.0186.

NADE's recurrence, with each conditional a mixture of K Gaussians (a mixture density
network) whose parameters come from the hidden state:

    p(x) = Π_d p(x_{o_d} | x_{o_<d})
    a_1 = c,   a_{d+1} = a_d + W[:, o_d] x_{o_d}
    h_d = ψ(ρ_d a_d)                                  ρ_d: a learned per-dimension rescaling
    p(x_{o_d} | x_{o_<d}) = Σ_k π_{d,k} N(x_{o_d}; μ_{d,k}, σ_{d,k}^2)
    π_d = softmax(V^α_d h_d + b^α_d)
    μ_d = V^μ_d h_d + b^μ_d
    σ_d = exp(V^σ_d h_d + b^σ_d)

with per-dimension output weights V^α_d, V^μ_d, V^σ_d (K, H) and a shared W (H, D).
log p(x_{o_d} | ·) = logsumexp_k [log π_{d,k} + log N(x_{o_d}; μ_{d,k}, σ_{d,k}^2)], exactly.

RNADE's data have few dimensions (tens), so the pre-activations a_d of all d are built
at once, an exclusive cumulative sum over d of size (B, D, H), and autograd does the rest.

Deviations from the paper:
- ψ is the rectified linear unit with a learned ρ_d, initialised to 1 (as in the
  authors' released code); a sigmoid ψ is offered too.
- The authors' training scales the gradient of the means by σ; we leave gradients as
  they are (the optimiser is the trainer's business).
- Only mixtures of Gaussians (the paper's RNADE-MoG); not its mixture of Laplacians.
- Initialisation: W, V ~ U(±1/sqrt(fan_in)), b^μ ~ N(0, 1) so that the K components start
  apart, b^α = b^σ = 0. This suits standardised data (zero mean, unit variance per
  dimension), which is what the paper fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core import DataInfo, LikelihoodModel, register
from genzoo.core.config import at_least
from genzoo.models.autoregressive.ordering import pixel_order


@dataclass
class RNADEConfig:
    # Sec. 4.1, UCI experiments (the image-patch models are larger)
    hidden_dim: int = field(default=50, metadata=at_least(1))
    # Sec. 4: K, one of the mixture sizes compared there
    n_components: int = field(default=10, metadata=at_least(1))
    activation: Literal["relu", "sigmoid"] = "relu"  # Sec. 3: rescaled rectified units
    order: Literal["raster", "snake", "random"] = "raster"  # the data's own order
    # not in the paper; seeds order="random"
    order_seed: int = field(default=0, metadata=at_least(0))


@register(
    "rnade",
    family="autoregressive",
    description="RNADE: NADE with mixture-of-Gaussians conditionals, real-valued data",
)
class RNADE(LikelihoodModel):
    Config = RNADEConfig
    data_kinds = frozenset({"continuous"})
    sample_range = None  # a Gaussian mixture per dimension: any real value

    def __init__(self, config: RNADEConfig, data: DataInfo):
        super().__init__(config, data)
        D, H, K = data.n_dims, config.hidden_dim, config.n_components
        self.W = nn.Parameter(torch.empty(H, D).uniform_(-(D**-0.5), D**-0.5))
        self.c = nn.Parameter(torch.zeros(H))
        self.rho = nn.Parameter(torch.ones(D))
        self.V_alpha = nn.Parameter(torch.empty(D, K, H).uniform_(-(H**-0.5), H**-0.5))
        self.V_mu = nn.Parameter(torch.empty(D, K, H).uniform_(-(H**-0.5), H**-0.5))
        self.V_sigma = nn.Parameter(torch.empty(D, K, H).uniform_(-(H**-0.5), H**-0.5))
        self.b_alpha = nn.Parameter(torch.zeros(D, K))
        self.b_mu = nn.Parameter(torch.randn(D, K))
        self.b_sigma = nn.Parameter(torch.zeros(D, K))
        order = pixel_order(config.order, data.shape, config.order_seed)
        self.register_buffer("order", order)
        self.register_buffer("inverse_order", torch.argsort(order))
        self.psi = torch.relu if config.activation == "relu" else torch.sigmoid

    def _outputs(self, h: Tensor, d: slice) -> tuple[Tensor, Tensor, Tensor]:
        """(log π, μ, log σ), each (B, D', K), from hidden states h (B, D', H) of dimensions d."""
        V = torch.cat([self.V_alpha[d], self.V_mu[d], self.V_sigma[d]], dim=1)  # (D', 3K, H)
        bias = torch.cat([self.b_alpha[d], self.b_mu[d], self.b_sigma[d]], dim=1)  # (D', 3K)
        z = torch.einsum("bdh,dkh->bdk", h, V) + bias
        z_alpha, mu, log_sigma = z.chunk(3, dim=-1)
        return torch.log_softmax(z_alpha, dim=-1), mu, log_sigma

    def mixture_params(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(log π, μ, log σ) of every conditional p(x_d | x_<d), each (B, D, K), by dimension."""
        x = x.reshape(x.shape[0], -1)
        o = self.order
        x_o, W_o = x[:, o], self.W.t()[o]  # (B, D), (D, H)
        steps = x_o.unsqueeze(2) * W_o  # (B, D, H): x_{o_t} W[:, o_t]
        a = self.c + F.pad(torch.cumsum(steps[:, :-1], dim=1), (0, 0, 1, 0))  # a_1 = c
        h = self.psi(self.rho[o].unsqueeze(1) * a)  # (B, D, H)
        h = h[:, self.inverse_order]  # by dimension
        return self._outputs(h, slice(None))

    def log_prob(self, x: Tensor) -> Tensor:
        log_pi, mu, log_sigma = self.mixture_params(x)
        x = x.reshape(x.shape[0], -1, 1)
        log_normal = (
            -0.5 * ((x - mu) * torch.exp(-log_sigma)) ** 2 - log_sigma - 0.5 * math.log(2 * math.pi)
        )
        return torch.logsumexp(log_pi + log_normal, dim=-1).sum(dim=1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Ancestral sampling through the recurrence: component k ~ π_d, then x ~ N(μ_k, σ_k²)."""
        D = self.data.n_dims
        dev, dtype = self.W.device, self.W.dtype
        eps = torch.randn(D, n, generator=generator, device=dev, dtype=dtype)
        x = torch.empty(n, D, device=dev, dtype=dtype)
        a = self.c.expand(n, -1).clone()
        for d in self.order.tolist():
            h = self.psi(self.rho[d] * a)
            log_pi, mu, log_sigma = self._outputs(h.unsqueeze(1), slice(d, d + 1))
            k = torch.multinomial(log_pi[:, 0].exp(), 1, generator=generator)  # (n, 1)
            mu_k = mu[:, 0].gather(1, k).squeeze(1)
            sigma_k = log_sigma[:, 0].gather(1, k).exp().squeeze(1)
            x[:, d] = mu_k + sigma_k * eps[d]
            a.addr_(x[:, d], self.W[:, d])
        return x.reshape(n, *self.data.shape)
