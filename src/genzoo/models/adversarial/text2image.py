"""Text to image: GAN-INT-CLS.

S. Reed, Z. Akata, X. Yan, L. Logeswaran, B. Schiele and H. Lee, "Generative Adversarial
Text to Image Synthesis", ICML 2016 (arXiv:1605.05396).

A caption t is embedded by a fixed sentence encoder, φ(t) ∈ R^384 (genzoo.data.text), and
compressed to 128 dimensions by a fully connected layer and a leaky ReLU in each player
(Sec. 4). G(z, φ(t)) takes [z, that code]; D(x, φ(t)) replicates the code over its last
feature map, concatenates it as channels, and scores after a 1x1 convolution (Sec. 4).

GAN-CLS, the matching-aware discriminator (Sec. 4.2, Algorithm 1). With h = φ(t) of the
image's own caption and ĥ = φ(t̂) of another image's, s = D(·, ·) ∈ (0, 1):

    s_r = D(x, h)      real image, matching text
    s_w = D(x, ĥ)      real image, mismatched text
    s_f = D(x̂, h)      fake image x̂ = G(z, h), matching text

    L_D = −log s_r − ½ (log(1 − s_w) + log(1 − s_f))
    L_G = −log s_f                                    (the non-saturating G loss)

GAN-INT, manifold interpolation (Sec. 4.3, Eq. 5): G is also trained on the embeddings
between two captions t1, t2 of the batch, which D never sees as real:

    h_β = β φ(t1) + (1 − β) φ(t2)        (β = 0.5)
    L_G += −log D(G(z', h_β), h_β)

With matching_aware=False, L_D = −log s_r − log(1 − s_f) (the plain conditional GAN);
with interpolation=False the L_G term of h_β is dropped.

The mismatched caption of image i is that of another image j ≠ i of the batch whose
caption differs (its embedding is not identical), drawn uniformly; where every other
caption of the batch is identical to i's, any j ≠ i. A batch of one has no mismatch and
trains D without the s_w term.

Sampling takes embeddings: `model.sample(n, condition=φ)` with φ (D,) or (n, D), which
`genzoo sample RUN --text "a thin two leaning left"` computes with the run's encoder.
Without a condition, the model draws for the captions of its first training batch (the
progress grids), kept as a buffer.

Deviations from the paper: the generator and discriminator are genzoo's two-layer DCGAN
pair (nn.coders) rather than the paper's four-layer 64x64 ones; D has no batch
normalisation (its three batches would each set their own statistics, as in cgan.py); the
text encoder is a pretrained, frozen all-MiniLM-L6-v2 instead of the paper's char-CNN-RNN
trained jointly on the captions, and its unit-norm φ is scaled by √384 before the
projection (TextProjection: at φ's own scale, G and D all but ignored the text in a
1,000-step mnist-captions run, D's mismatch score staying at its real one); the GAN-INT
term is added to L_G with weight 1 on a fresh noise batch; the captions are genzoo's
templated ones (genzoo.data.captions), not CUB's or Oxford-102's human ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core.capabilities import Capability, Condition
from genzoo.core.config import at_least
from genzoo.core.errors import GenzooError
from genzoo.core.model import gradient_step
from genzoo.core.registry import register
from genzoo.models.adversarial.base import (
    ADAM_BETAS,
    AdversarialConfig,
    AdversarialModel,
    Generator,
    dcgan_init,
    discriminator_body,
    discriminator_logs,
)
from genzoo.models.adversarial.losses import generator_loss

ENCODER = "all-MiniLM-L6-v2"  # genzoo.data.text.ENCODER
N_SHOWN = 16  # embeddings kept for sampling without a condition


@dataclass
class Text2ImageConfig(AdversarialConfig):
    network: Literal["conv"] = "conv"  # Sec. 4: DCGAN
    text_encoder: Literal["all-MiniLM-L6-v2"] = ENCODER  # φ (paper: char-CNN-RNN)
    embedding_dim: int = field(default=384, metadata=at_least(1))  # φ(t)'s size: MiniLM's
    projection_dim: int = field(default=128, metadata=at_least(1))  # Sec. 4: 128 dims
    matching_aware: bool = True  # GAN-CLS, Sec. 4.2
    interpolation: bool = True  # GAN-INT, Sec. 4.3
    beta: float = field(default=0.5, metadata=at_least(0.0))  # Sec. 4.3: β = 0.5, in [0, 1]
    lr_d: float = field(default=2e-4, metadata=at_least(0.0))  # Sec. 5: Adam, 0.0002
    lr_g: float = field(default=2e-4, metadata=at_least(0.0))
    betas: tuple[float, ...] = field(default=(0.5, 0.999), metadata=ADAM_BETAS)  # Sec. 5: β1 0.5


class TextProjection(nn.Module):
    """φ(t) (B, D) -> (B, 128): fully connected, then leaky ReLU (Sec. 4). φ is a unit
    vector, whose coordinates are about 1/√D; it is scaled by √D first, so that the text
    code starts at the scale of z rather than ~20x below it under the N(0, 0.02) init."""

    def __init__(self, config: Text2ImageConfig):
        super().__init__()
        self.scale = math.sqrt(config.embedding_dim)
        self.net = nn.Sequential(nn.Linear(config.embedding_dim, config.projection_dim),
                                 nn.LeakyReLU(0.2))  # fmt: skip

    def forward(self, h: Tensor) -> Tensor:
        return self.net(self.scale * h)


class TextGenerator(nn.Module):
    """G(z, φ(t)) -> x in [−1, 1]: the DCGAN generator on [z, projection of φ(t)]."""

    def __init__(self, config: Text2ImageConfig, data):
        super().__init__()
        self.project = TextProjection(config)
        self.net = Generator(config, data, config.latent_dim + config.projection_dim, True)

    def forward(self, z: Tensor, h: Tensor) -> Tensor:
        return self.net(torch.cat([z, self.project(h)], dim=1))


class TextDiscriminator(nn.Module):
    """D(x, φ(t)) -> logit (B,): conv features of x (B, c2, H/4, W/4), the text code
    replicated over them and concatenated as channels, a 1x1 convolution with leaky ReLU,
    then the body's final linear layer (Sec. 4)."""

    def __init__(self, config: Text2ImageConfig, data):
        super().__init__()
        self.project = TextProjection(config)
        self.body = discriminator_body(config, data, 1, batch_norm=False)  # a ConvEncoder
        c2 = config.channels[1]
        self.join = nn.Sequential(nn.Conv2d(c2 + config.projection_dim, c2, 1),
                                  nn.LeakyReLU(0.2))  # fmt: skip

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        features = self.body.net[:-2](F.pad(x, self.body.pad))  # (B, c2, H/4, W/4)
        code = self.project(h)[:, :, None, None].expand(-1, -1, *features.shape[2:])
        return self.body.net[-2:](self.join(torch.cat([features, code], dim=1)))[:, 0]


def mismatched(h: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """For each row i of h (B, D), the index j of another row: j ≠ i, and h_j ≠ h_i
    wherever the batch has such a row; drawn uniformly among the allowed (B,)."""
    B = len(h)
    if B < 2:
        raise GenzooError("a mismatched caption needs a batch of at least 2")
    same = (h[:, None, :] == h[None, :, :]).all(dim=2)  # (B, B), the diagonal included
    other = ~torch.eye(B, dtype=torch.bool, device=h.device)
    allowed = torch.where((~same).any(dim=1, keepdim=True), ~same, other)
    return torch.multinomial(allowed.float().cpu(), 1, generator=generator)[:, 0].to(h.device)


@register("text2image", family="adversarial",
          description="GAN-INT-CLS: images from a caption's sentence embedding")  # fmt: skip
class Text2Image(AdversarialModel):
    Config = Text2ImageConfig
    capabilities = Capability.SAMPLE | Capability.CONDITIONAL  # D(x, φ): no score of x alone
    streams = ("x", "caption")

    def __init__(self, config: Text2ImageConfig, data):
        if not 0.0 <= config.beta <= 1.0:
            raise GenzooError(f"beta={config.beta}: β weighs two captions, in [0, 1]")
        super().__init__(config, data)
        self.generator = TextGenerator(config, data)
        self.discriminator = TextDiscriminator(config, data)
        dcgan_init(self)
        # the captions of the first training batch: what sample(n) draws without a condition
        self.register_buffer("shown", torch.zeros(N_SHOWN, config.embedding_dim))

    @property
    def condition(self) -> Condition:
        return Condition("text", 0, encoder=self.config.text_encoder)

    def require_x_alone(self) -> None:
        raise GenzooError("text2image's discriminator scores D(x, φ(t)) and needs the caption "
                          "of every input: it has no score or features of x alone")  # fmt: skip

    def on_train_step_end(self, step: int) -> None:
        ema = self.generator.net.ema  # ema_decay > 0: of the image network (not the projection)
        if ema is not None:
            ema.update(self.generator.net.net)

    def interpolate(self, h: Tensor, j: Tensor) -> Tensor:
        """h_β = β φ(t1) + (1 − β) φ(t2), t1 each row's caption, t2 row j's (Eq. 5)."""
        beta = self.config.beta
        return beta * h + (1 - beta) * h[j]

    def discriminator_loss(self, s_r: Tensor, s_f: Tensor, s_w: Tensor | None) -> Tensor:
        """−log s_r − ½ (log(1 − s_w) + log(1 − s_f)), on logits (Algorithm 1); without
        s_w, −log s_r − log(1 − s_f)."""
        real = F.softplus(-s_r).mean()
        if s_w is None:
            return real + F.softplus(s_f).mean()
        return real + 0.5 * (F.softplus(s_w).mean() + F.softplus(s_f).mean())

    def training_step(self, batch, step, optimizers, backward) -> dict[str, Tensor]:
        x, h = batch["x"], batch["caption"]  # (B, C, H, W), (B, D)
        if h.shape[1:] != (self.config.embedding_dim,):
            raise GenzooError(f"caption embeddings of shape {tuple(h.shape[1:])}; this model "
                              f"takes {self.config.embedding_dim} numbers "
                              f"({self.config.text_encoder})")  # fmt: skip
        if not self.shown.any():
            self.shown.copy_(h[torch.arange(N_SHOWN) % len(h)])
        D, G = self.discriminator, self.generator
        x_fake = G(self.noise(len(x)), h)
        s_r, s_f = D(x, h), D(x_fake.detach(), h)
        s_w = None
        if self.config.matching_aware and len(x) > 1:
            s_w = D(x, h[mismatched(h)])
        d_loss = self.discriminator_loss(s_r, s_f, s_w)
        gradient_step(optimizers["discriminator"], d_loss, D.parameters(), backward)
        logs = discriminator_logs(d_loss, s_r, s_f)
        if s_w is not None:
            logs["d_mismatch"] = torch.sigmoid(s_w).mean().detach()
        g_loss = generator_loss(D(x_fake, h))
        if self.config.interpolation and len(x) > 1:
            h_beta = self.interpolate(h, mismatched(h))
            g_loss = g_loss + generator_loss(D(G(self.noise(len(x)), h_beta), h_beta))
        gradient_step(optimizers["generator"], g_loss, G.parameters(), backward)
        logs["g_loss"] = g_loss.detach()
        return logs

    def embeddings_to_sample(self, n: int, condition) -> Tensor:
        """(n, D): `condition` (one embedding (D,) or n of them), else the shown ones."""
        if condition is None:
            return self.shown[torch.arange(n) % N_SHOWN]
        h = torch.as_tensor(condition, dtype=self.dtype, device=self.device)
        if h.shape[-1:] != (self.config.embedding_dim,) or h.dim() > 2:
            raise GenzooError(f"text2image samples for caption embeddings (D,) or (n, D) with "
                              f"D = {self.config.embedding_dim}, not {tuple(h.shape)}")  # fmt: skip
        h = h.reshape(-1, h.shape[-1])
        return h.expand(n, -1) if len(h) == 1 else h

    @torch.no_grad()
    def sample(self, n: int, generator=None, condition=None, truncation=None) -> Tensor:
        h = self.embeddings_to_sample(n, condition)
        if len(h) != n:
            raise GenzooError(f"{len(h)} caption embeddings for {n} samples")
        return self.generator(self.noise(n, generator, truncation), h)
