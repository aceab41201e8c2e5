"""WGAN with gradient penalty.

I. Gulrajani, F. Ahmed, M. Arjovsky, V. Dumoulin and A. Courville, "Improved Training of
Wasserstein GANs", NeurIPS 2017 (arXiv:1704.00028).

WGAN (wgan.py) with the Lipschitz constraint as a penalty instead of weight clipping, Eq. 3:

    L = E f(G(z)) − E f(x) + λ E_x̂[(‖∇_x̂ f(x̂)‖₂ − 1)²],   x̂ = ε x + (1 − ε) G(z), ε ~ U[0, 1]

The penalty is taken at random interpolates between real and generated samples (not at
the real data). Algorithm 1: λ = 10, n_critic = 5, Adam with α = 1e-4, β1 = 0, β2 = 0.9.
No BatchNorm in the critic (Sec. 4: it would make the penalty, a per-example gradient,
depend on the rest of the batch); the generator keeps it.

Deviations from the paper: none in the algorithm; the networks are the two-layer conv
nets of dcgan.py rather than the paper's ResNets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

from genzoo.core.config import at_least
from genzoo.core.model import gradient_step
from genzoo.core.registry import register
from genzoo.models.adversarial.base import ADAM_BETAS, AdversarialConfig, AdversarialModel
from genzoo.models.adversarial.losses import (
    critic_loss,
    gradient_penalty,
    interpolates,
    wasserstein_estimate,
)
from genzoo.models.adversarial.wgan import WGAN


@dataclass
class WGANGPConfig(AdversarialConfig):
    lr_d: float = field(default=1e-4, metadata=at_least(0.0))  # Alg. 1: α
    lr_g: float = field(default=1e-4, metadata=at_least(0.0))  # Alg. 1: α
    # Alg. 1: β1, β2
    betas: tuple[float, ...] = field(default=(0.0, 0.9), metadata=ADAM_BETAS)
    gp_weight: float = field(default=10.0, metadata=at_least(0.0))  # Alg. 1: λ
    n_critic: int = field(default=5, metadata=at_least(1))  # Alg. 1
    critic_warmup: bool = False  # WGAN's warm-up schedule (wgan.py); not in this paper


@register("wgan-gp", family="adversarial", description="WGAN with gradient penalty")
class WGANGP(WGAN):
    Config = WGANGPConfig
    critic_batch_norm = False  # Sec. 4

    configure_optimizers = AdversarialModel.configure_optimizers  # Adam (Alg. 1), not RMSprop

    def training_step(self, batch, step, optimizers, backward) -> dict[str, Tensor]:
        """Algorithm 1: a critic step with the penalty on every batch, a generator step
        after every n_critic-th; no clipping."""
        cfg, x = self.config, batch["x"]
        x_fake = self.generator(self.noise(len(x))).detach()
        f_real, f_fake = self.discriminator(x), self.discriminator(x_fake)
        penalty = gradient_penalty(self.discriminator, interpolates(x, x_fake))
        loss = critic_loss(f_real, f_fake) + cfg.gp_weight * penalty  # Eq. 3
        gradient_step(optimizers["discriminator"], loss, self.discriminator.parameters(), backward)
        logs = {"loss": loss.detach(), "gradient_penalty": penalty.detach(),
                "wasserstein": wasserstein_estimate(f_real, f_fake).detach()}  # fmt: skip
        if self.critic_run_ends():
            g_loss = -self.discriminator(self.generator(self.noise(len(x)))).mean()
            gradient_step(optimizers["generator"], g_loss, self.generator.parameters(), backward)
            logs["g_loss"] = g_loss.detach()
        return logs
