"""The Wasserstein GAN.

M. Arjovsky, S. Chintala and L. Bottou, "Wasserstein GAN", ICML 2017 (arXiv:1701.07875).

The critic f (no sigmoid) estimates the Wasserstein-1 distance by the Kantorovich-Rubinstein
duality, W(P_r, P_g) = sup_{‖f‖_L ≤ 1} E_{P_r} f(x) − E_{P_g} f(x), with the Lipschitz
constraint enforced crudely by clipping every weight to [−c, c]. Algorithm 1: n_critic = 5
critic steps, each clipped, per generator step; the generator minimises −E f(G(z));
RMSprop with α = 5e-5 (momentum-based optimisers were unstable, Sec. 4.3), c = 0.01, m = 64.
The logged "wasserstein" is the critic's estimate E f(x) − E f(G(z)), the curve that the
paper shows tracking sample quality.

The authors' code (not Algorithm 1) also trains the critic harder where its estimate matters
most: 100 critic steps per generator step for the first 25 generator steps and for every
500th. `critic_warmup=true` follows that schedule; the default takes n_critic throughout, as
Algorithm 1 does and as the results in docs/results.md were made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from genzoo.core.config import above, at_least
from genzoo.core.model import gradient_step
from genzoo.core.registry import register
from genzoo.models.adversarial.base import (
    AdversarialConfig,
    AdversarialModel,
    Generator,
    dcgan_init,
)
from genzoo.models.adversarial.gan import Discriminator
from genzoo.models.adversarial.losses import clip_weights, critic_loss, wasserstein_estimate


@dataclass
class WGANConfig(AdversarialConfig):
    lr_d: float = field(default=5e-5, metadata=at_least(0.0))  # Alg. 1: α
    lr_g: float = field(default=5e-5, metadata=at_least(0.0))  # Alg. 1: α
    clip: float = field(default=0.01, metadata=above(0.0))  # Alg. 1: c
    n_critic: int = field(default=5, metadata=at_least(1))  # Alg. 1
    critic_warmup: bool = False  # the authors' code: 100 critic steps at generator steps
    #                              0-24 and every 500th; see critic_steps_end_here


WARMUP_CRITIC, WARMUP_STEPS, WARMUP_EVERY = 100, 25, 500


def critic_steps_end_here(d_steps: int, n_critic: int) -> bool:
    """Whether the generator steps after critic step number `d_steps` (1-based) under the
    authors' schedule: WARMUP_CRITIC critic steps before each of the first WARMUP_STEPS
    generator steps and before every WARMUP_EVERY-th, n_critic before the others.

    A closed form of the step count, so that resuming needs no state beyond `d_steps`."""
    warmup_end = WARMUP_CRITIC * WARMUP_STEPS
    if d_steps <= warmup_end:
        return d_steps % WARMUP_CRITIC == 0
    # generator steps WARMUP_STEPS .. WARMUP_EVERY - 1 take n_critic each ...
    e = d_steps - warmup_end
    first_run = n_critic * (WARMUP_EVERY - WARMUP_STEPS)
    if e <= first_run:
        return e % n_critic == 0
    # ... then blocks of one long critic run and WARMUP_EVERY - 1 short ones, repeating
    block = WARMUP_CRITIC + n_critic * (WARMUP_EVERY - 1)
    r = (e - first_run - 1) % block + 1
    return r == WARMUP_CRITIC or (r > WARMUP_CRITIC and (r - WARMUP_CRITIC) % n_critic == 0)


@register("wgan", family="adversarial", description="Wasserstein GAN, weight clipping, RMSprop")
class WGAN(AdversarialModel):
    Config = WGANConfig
    critic_batch_norm = True  # the paper's DCGAN critic keeps BatchNorm

    def __init__(self, config: WGANConfig, data):
        super().__init__(config, data)
        self.generator = Generator(config, data, config.latent_dim, batch_norm=True)
        self.discriminator = Discriminator(config, data, self.critic_batch_norm)  # the critic f
        if config.network == "conv":  # DCGAN's initialisation is for its conv nets
            dcgan_init(self)

    def configure_optimizers(self, lr: float, weight_decay: float = 0.0) -> dict:
        """RMSprop for the critic and for G (Sec. 4.3), at α."""
        cfg = self.config
        return {
            "discriminator": torch.optim.RMSprop(self.discriminator.parameters(), lr=cfg.lr_d),
            "generator": torch.optim.RMSprop(self.generator.parameters(), lr=cfg.lr_g),
        }

    def training_step(self, batch, step, optimizers, backward) -> dict[str, Tensor]:
        """Algorithm 1: a clipped critic step on every batch, a generator step after every
        n_critic-th (or on the authors' warm-up schedule)."""
        cfg, x = self.config, batch["x"]
        f_real = self.discriminator(x)
        f_fake = self.discriminator(self.generator(self.noise(len(x))).detach())
        loss = critic_loss(f_real, f_fake)
        gradient_step(optimizers["discriminator"], loss, self.discriminator.parameters(), backward)
        clip_weights(self.discriminator, cfg.clip)
        logs = {"loss": loss.detach(), "wasserstein": wasserstein_estimate(f_real, f_fake).detach()}
        if self.critic_run_ends():
            g_loss = -self.discriminator(self.generator(self.noise(len(x)))).mean()
            gradient_step(optimizers["generator"], g_loss, self.generator.parameters(), backward)
            logs["g_loss"] = g_loss.detach()
        return logs

    def critic_run_ends(self) -> bool:
        """Count a critic step; True when the generator steps after it: every n_critic-th,
        or on the authors' warm-up schedule."""
        if self.config.critic_warmup:
            self.d_steps += 1
            return critic_steps_end_here(int(self.d_steps), self.config.n_critic)
        return self.generator_turn(self.config.n_critic)
