"""InfoGAN: interpretable codes by maximising mutual information.

X. Chen, Y. Duan, R. Houthooft, J. Schulman, I. Sutskever and P. Abbeel, "InfoGAN:
Interpretable Representation Learning by Information Maximizing Generative Adversarial
Nets", NeurIPS 2016 (arXiv:1606.03657).

The generator's input is noise z and a latent code c, here one categorical c_cat ~ Cat(K)
and continuous c_cont ~ U(−1, 1)^m. The GAN game is regularised by the mutual information
I(c; G(z, c)), through its variational lower bound (Eq. 4-5):

    L_I(G, Q) = E_{c ~ p(c), x ~ G(z, c)}[log Q(c | x)] + H(c)  ≤  I(c; G(z, c))
    min_{G,Q} max_D  V(D, G) − λ L_I(G, Q)

Q shares D's body and adds a small head (Sec. 6): softmax logits for c_cat and the means of
a factored Gaussian with unit variance for c_cont. Following the authors' code, the
information term is added to both the discriminator's loss (training Q and the shared
body) and the generator's. Appendix C.1 (MNIST): z of 62, one 10-way code and two
continuous codes; λ = 1 for the categorical code and smaller for the continuous ones;
Adam with 2e-4 for D, 1e-3 for G, β1 = 0.5.

Deviations from the paper: the two-layer conv nets of dcgan.py (the paper adds a 1024-unit
fully connected layer to both); λ_cont = 0.1 (the paper says only "smaller").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core.capabilities import Capability, Condition
from genzoo.core.config import at_least
from genzoo.core.errors import GenzooError
from genzoo.core.model import gradient_step
from genzoo.core.registry import register
from genzoo.models.adversarial.base import (
    AdversarialConfig,
    AdversarialModel,
    Generator,
    dcgan_init,
    discriminator_body,
    discriminator_logs,
)
from genzoo.models.adversarial.losses import discriminator_loss, generator_loss


@dataclass
class InfoGANConfig(AdversarialConfig):
    latent_dim: int = field(default=62, metadata=at_least(1))  # noise z; Appendix C.1
    n_categories: int = field(default=10, metadata=at_least(1))  # c_cat ~ Cat(K = 10); Appendix C.1
    n_continuous: int = field(default=2, metadata=at_least(0))  # c_cont ~ U(−1, 1)^2; Appendix C.1
    # Sec. 7: λ = 1 for discrete codes
    lambda_cat: float = field(default=1.0, metadata=at_least(0.0))
    # Sec. 7: "smaller" for continuous codes
    lambda_cont: float = field(default=0.1, metadata=at_least(0.0))
    lr_d: float = field(default=2e-4, metadata=at_least(0.0))  # Appendix C.1
    lr_g: float = field(default=1e-3, metadata=at_least(0.0))  # Appendix C.1
    feature_dim: int = field(default=128, metadata=at_least(1))  # D's body output, shared with Q
    k: int = field(default=1, metadata=at_least(1))


class InfoDiscriminator(nn.Module):
    """D and Q on one body: x -> (D's logit (B,), Q's outputs (B, K + m))."""

    def __init__(self, config: InfoGANConfig, data):
        super().__init__()
        self.body = nn.Sequential(
            discriminator_body(config, data, config.feature_dim, batch_norm=True),
            nn.LeakyReLU(0.2),
        )
        self.d_head = nn.Linear(config.feature_dim, 1)
        self.q_head = nn.Sequential(
            nn.Linear(config.feature_dim, 128), nn.BatchNorm1d(128), nn.LeakyReLU(0.2),
            nn.Linear(128, config.n_categories + config.n_continuous),
        )  # fmt: skip

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(x)
        return self.d_head(h)[:, 0], self.q_head(h)


@register("infogan", family="adversarial", description="InfoGAN: categorical + continuous codes")
class InfoGAN(AdversarialModel):
    Config = InfoGANConfig
    capabilities = (Capability.SAMPLE | Capability.CONDITIONAL | Capability.FEATURES
                    | Capability.DISCRIMINATE)  # fmt: skip

    def __init__(self, config: InfoGANConfig, data):
        super().__init__(config, data)
        n_in = config.latent_dim + config.n_categories + config.n_continuous
        self.generator = Generator(config, data, n_in, batch_norm=True)
        self.discriminator = InfoDiscriminator(config, data)
        if config.network == "conv":  # DCGAN's initialisation is for its conv nets
            dcgan_init(self)

    def codes(self, n: int, generator=None) -> tuple[Tensor, Tensor]:
        c_cat = torch.randint(self.config.n_categories, (n,), generator=generator)
        c_cont = 2 * torch.rand(n, self.config.n_continuous, generator=generator) - 1
        return c_cat.to(self.device), c_cont.to(self.device)

    def generate(self, z: Tensor, c_cat: Tensor, c_cont: Tensor) -> Tensor:
        one_hot = F.one_hot(c_cat, self.config.n_categories).to(z.dtype)
        return self.generator(torch.cat([z, one_hot, c_cont], dim=1))

    def information_loss(self, q: Tensor, c_cat: Tensor, c_cont: Tensor) -> Tensor:
        """−λ L_I up to the constant H(c): cross-entropy for c_cat, and the unit-variance
        Gaussian NLL (up to constants) for c_cont."""
        K = self.config.n_categories
        cat = F.cross_entropy(q[:, :K], c_cat)
        cont = 0.5 * (q[:, K:] - c_cont).pow(2).sum(1).mean()
        return self.config.lambda_cat * cat + self.config.lambda_cont * cont

    def training_step(self, batch, step, optimizers, backward) -> dict[str, Tensor]:
        x = batch["x"]
        z, (c_cat, c_cont) = self.noise(len(x)), self.codes(len(x))
        x_fake = self.generate(z, c_cat, c_cont)
        (d_real, _), (d_fake, q_fake) = self.discriminator(x), self.discriminator(x_fake.detach())
        d_loss = discriminator_loss(d_real, d_fake)
        info = self.information_loss(q_fake, c_cat, c_cont)
        gradient_step(optimizers["discriminator"], d_loss + info, self.discriminator.parameters(),
                      backward)  # fmt: skip
        K = self.config.n_categories
        # L_I of the categorical code alone, in nats: H(c_cat) − cross-entropy
        mi_cat = math.log(K) - F.cross_entropy(q_fake[:, :K], c_cat)
        logs = discriminator_logs(d_loss, d_real, d_fake) | {"mi_lower_bound_cat": mi_cat.detach()}
        if self.generator_turn(self.config.k):
            d_fake, q_fake = self.discriminator(x_fake)
            g_loss = generator_loss(d_fake) + self.information_loss(q_fake, c_cat, c_cont)
            gradient_step(optimizers["generator"], g_loss, self.generator.parameters(), backward)
            logs["g_loss"] = g_loss.detach()
        return logs

    @property
    def condition(self) -> Condition:
        """The codes that sample(condition=...) fixes and traversal(code) varies."""
        names = ("cat", *(f"cont{j}" for j in range(self.config.n_continuous)))
        return Condition("codes", self.config.n_categories, names)

    def discriminator_score(self, x: Tensor) -> Tensor:
        return self.discriminator(x)[0]  # D's logit; Q's outputs are [1]

    def parse_code(self, condition) -> dict[str, float]:
        names = self.condition.codes
        condition = dict(condition or {})
        unknown = set(condition) - set(names)
        if unknown:
            raise GenzooError(f"unknown code {sorted(unknown)[0]!r}; codes: {', '.join(names)}")
        if "cat" in condition and not 0 <= int(condition["cat"]) < self.config.n_categories:
            raise GenzooError(f"cat is 0..{self.config.n_categories - 1}, not {condition['cat']}")
        return condition

    @torch.no_grad()
    def sample(self, n: int, generator=None, condition: dict | None = None,
               truncation: float | None = None) -> Tensor:  # fmt: skip
        """Samples; `condition` fixes codes, e.g. {"cat": 3} or {"cat": 3, "cont0": 0.5}."""
        condition = self.parse_code(condition)
        z = self.noise(n, generator, truncation)
        c_cat, c_cont = self.codes(n, generator)
        if "cat" in condition:
            c_cat[:] = int(condition["cat"])
        for j in range(self.config.n_continuous):
            if f"cont{j}" in condition:
                c_cont[:, j] = float(condition[f"cont{j}"])
        return self.generate(z, c_cat, c_cont)

    @torch.no_grad()
    def traversal(self, code: str, steps: int = 10, generator=None) -> Tensor:
        """A grid (K rows x steps, *shape) for the paper's Fig. 2: row i has c_cat = i, and
        `code` (a continuous code) goes from −2 to 2 along the row; one z for the grid, the
        other continuous codes 0. With code="cat", the rows are 10 noises and the columns
        the K categories."""
        self.parse_code({code: 0})
        K, m = self.config.n_categories, self.config.n_continuous
        if code == "cat":
            z = self.noise(10, generator).repeat_interleave(K, 0)
            c_cat = torch.arange(K, device=self.device).repeat(10)
            return self.generate(z, c_cat, torch.zeros(10 * K, m, device=self.device))
        z = self.noise(1, generator).expand(K * steps, -1)
        c_cat = torch.arange(K, device=self.device).repeat_interleave(steps)
        c_cont = torch.zeros(K * steps, m, device=self.device)
        c_cont[:, int(code[4:])] = torch.linspace(-2, 2, steps, device=self.device).repeat(K)
        return self.generate(z, c_cat, c_cont)

    @torch.no_grad()
    def predict_category(self, x: Tensor) -> Tensor:
        """Q's most likely c_cat for real images: the unsupervised clustering of the data."""
        return self.discriminator(x)[1][:, : self.config.n_categories].argmax(1)
