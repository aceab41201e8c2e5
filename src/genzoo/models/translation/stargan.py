"""StarGAN: one generator for translation among many domains.

Y. Choi, M. Choi, M. Kim, J.-W. Ha, S. Kim and J. Choo, "StarGAN: Unified Generative
Adversarial Networks for Multi-Domain Image-to-Image Translation", CVPR 2018
(arXiv:1711.09020).

One generator G(x, c) maps an image x to the domain named by the target attribute vector
c, given to G as A extra input channels (c replicated over the image, Sec. 3.1). One
discriminator D has two heads on a shared body: D_src(x), real or fake per patch, and
D_cls(x), a logit per attribute (Sec. 3.1). With x's own attributes c' and a target c:

    L_cls^r = E_{x,c'}[−log D_cls(c' | x)]           D learns the attributes of reals (Eq. 2)
    L_cls^f = E_{x,c}[−log D_cls(c | G(x, c))]       G makes fakes of the target c (Eq. 3)
    L_rec   = E_{x,c,c'}[‖x − G(G(x, c), c')‖₁]      back to x with x's OWN c' (Eq. 4)

with −log D_cls the binary cross-entropy summed over the attributes. The adversarial loss
is WGAN-GP's (Eq. 8, Gulrajani et al. 2017), the penalty at interpolates x̂ between reals
and fakes:

    L_adv = E_x[D_src(x)] − E_{x,c}[D_src(G(x, c))] − λ_gp E_x̂[(‖∇_x̂ D_src(x̂)‖₂ − 1)²]
    L_D = −L_adv + λ_cls L_cls^r                    (Eq. 5)
    L_G =  L_adv + λ_cls L_cls^f + λ_rec L_rec       (Eq. 6; G sees −E D_src(G(x, c)))

λ_cls = 1, λ_rec = 10, λ_gp = 10; one G step after every n_critic = 5 D steps; Adam at
1e-4, β = (0.5, 0.999) (Sec. 4, Implementation). The targets c are x's batch's own
attribute vectors in random order (the authors' code), so every target is a domain the
data has.

Networks (Appendix, Tables 4 and 5): G is CycleGAN's ResNet generator (7×7 conv, two
stride-2 downsamplings, residual blocks, two upsamplings, 7×7 conv with tanh; InstanceNorm)
on C + A input channels. D is a stack of 4×4 stride-2 convs with LeakyReLU(0.01) and no
normalisation (the penalty is a per-example gradient) down to 2×2, then D_src, a 3×3 conv
to one logit per position, and D_cls, a conv over the whole 2×2 map to A logits.

Streams: "x" and its "attributes" (A floats in {0, 1}, named by the data, e.g.
morpho-mnist's thick and slanted). `translate(x, target=c)` is G(x, c).

Deviations from the paper:
- G's down- and upsampling convs are CycleGAN's 3×3 (genzoo's cyclegan.py, reused)
  rather than the paper's 4×4; `width` (64) and `n_blocks` (6) scale G down for CPU.
- D's depth follows the image: stride-2 convs down to 2×2, four at 32×32 (the paper's six
  at 128×128), widths width·(1, 2, 4, ...). Weights keep PyTorch's default
  initialisation, as in the authors' code.
- Learning rates stay constant: the paper decays them linearly to 0 over the last 100,000
  of 200,000 iterations (genzoo's lr_schedule=cosine scales both).
- Batch size: the trainer's (100 by default) rather than the paper's 16.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core.config import at_least, below, length
from genzoo.core.errors import GenzooError
from genzoo.core.model import DataInfo, gradient_step
from genzoo.core.registry import register
from genzoo.models.adversarial.losses import gradient_penalty, interpolates
from genzoo.models.translation.base import TranslationModel
from genzoo.models.translation.cyclegan import ResNetGenerator

ATTRIBUTES = "attributes"  # the stream of each image's attribute vector


@dataclass
class StarGANConfig:
    lambda_cls: float = field(default=1.0, metadata=at_least(0.0))  # λ_cls (Sec. 4)
    lambda_rec: float = field(default=10.0, metadata=at_least(0.0))  # λ_rec (Sec. 4)
    gp_weight: float = field(default=10.0, metadata=at_least(0.0))  # λ_gp (Sec. 4)
    n_critic: int = field(default=5, metadata=at_least(1))  # D steps per G step (Sec. 4)
    width: int = field(default=64, metadata=at_least(1))  # G's first conv; D's (Table 4, 5)
    n_blocks: int = field(default=6, metadata=at_least(0))  # residual blocks of G (Table 4)
    norm: Literal["instance", "batch"] = "instance"  # G's (Table 4); D has none
    lr_d: float = field(default=1e-4, metadata=at_least(0.0))  # Sec. 4
    lr_g: float = field(default=1e-4, metadata=at_least(0.0))  # Sec. 4
    betas: tuple[float, ...] = field(
        default=(0.5, 0.999), metadata=at_least(0.0) | below(1.0) | length(2)
    )  # Sec. 4


class ConditionalGenerator(nn.Module):
    """G(x, c): x (B, C, H, W) with c (B, A) replicated as A more channels -> (B, C, H, W)
    in [−1, 1] (Sec. 3.1)."""

    def __init__(self, channels: int, n_attributes: int, config: StarGANConfig):
        super().__init__()
        self.net = ResNetGenerator(channels + n_attributes, channels, config)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        c_map = c[:, :, None, None].expand(-1, -1, *x.shape[2:])  # (B, A, H, W)
        return self.net(torch.cat([x, c_map.to(x.dtype)], dim=1))


class Discriminator(nn.Module):
    """D(x) -> (D_src (B, h, w): one critic value per position; D_cls (B, A): logits)
    (Table 5): 4×4 stride-2 convs with LeakyReLU(0.01) down to 2×2, no normalisation."""

    def __init__(self, channels: int, n_attributes: int, side: int, width: int):
        super().__init__()
        layers, c, h = [], channels, side
        while h > 2:
            k = width * 2 ** (len(layers) // 2)
            layers += [nn.Conv2d(c, k, 4, 2, 1), nn.LeakyReLU(0.01)]
            c, h = k, h // 2
        self.body = nn.Sequential(*layers)
        self.src = nn.Conv2d(c, 1, 3, 1, 1, bias=False)  # D_src
        self.cls = nn.Conv2d(c, n_attributes, h, bias=False)  # D_cls over the whole map

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(x)
        return self.src(h)[:, 0], self.cls(h).flatten(1)

    def critic(self, x: Tensor) -> Tensor:
        return self.forward(x)[0]


def classification_loss(logits: Tensor, c: Tensor) -> Tensor:
    """−log D_cls(c | x): binary cross-entropy summed over attributes, mean over the batch
    (Eq. 2, 3; the authors' code)."""
    return F.binary_cross_entropy_with_logits(logits, c, reduction="sum") / len(logits)


@register(
    "stargan",
    family="translation",
    description="StarGAN (Choi et al. 2018): one generator for many attribute domains",
)
class StarGAN(TranslationModel):
    Config = StarGANConfig
    streams = ("x", ATTRIBUTES)
    progress_grids = False  # no paired targets to show beside the translations
    why_no_samples = (
        "it translates a given image to target attributes (`genzoo translate RUN --input "
        "IMAGE --to NAME=VALUE`) and draws nothing from noise alone"
    )

    def __init__(self, config: StarGANConfig, data: DataInfo):
        super().__init__(config, data)
        if len(data.shape) != 3:
            raise GenzooError(f"stargan translates images (C, H, W), not shape {data.shape}")
        if not data.attributes:
            raise GenzooError("stargan translates between the domains of attribute vectors, "
                              "and this data has none: use a task with an 'attributes' "
                              "stream such as morpho-mnist")  # fmt: skip
        C, H, W = data.shape
        if H != W or H % 4 or H < 8:
            raise GenzooError(f"stargan's generator halves {H}x{W} images twice and its "
                              "discriminator down to 2x2: give square images at least 8x8 "
                              "whose side is a multiple of 4")  # fmt: skip
        self.attribute_names = tuple(data.attributes)
        self.source_shape = (C, H, W)
        A = len(self.attribute_names)
        self.G = ConditionalGenerator(C, A, config)
        self.D = Discriminator(C, A, H, config.width)

    def configure_optimizers(self, lr: float, weight_decay: float = 0.0) -> dict:
        """Adam for D and for G at the config's rates (Sec. 4); the trainer's lr does not
        apply."""
        cfg, betas = self.config, tuple(self.config.betas)
        return {
            "discriminator": torch.optim.Adam(self.D.parameters(), cfg.lr_d, betas=betas),
            "generator": torch.optim.Adam(self.G.parameters(), cfg.lr_g, betas=betas),
        }

    def discriminator_losses(self, x: Tensor, c_org: Tensor, c_trg: Tensor,
                             x_fake: Tensor | None = None) -> dict[str, Tensor]:  # fmt: skip
        """The terms of L_D (Eq. 5 with Eq. 8's WGAN-GP) on fakes G(x, c), detached: made
        here without a graph, or `x_fake` given (made with one for the G step after)."""
        if x_fake is None:
            with torch.no_grad():
                x_fake = self.G(x, c_trg)
        x_fake = x_fake.detach()
        d_real_src, d_real_cls = self.D(x)
        d_fake_src, _ = self.D(x_fake)
        loss_D_adv = d_fake_src.mean() - d_real_src.mean()  # −(E D_src(x) − E D_src(G(x, c)))
        loss_D_cls = classification_loss(d_real_cls, c_org)  # L_cls^r, Eq. 2
        loss_D_gp = gradient_penalty(self.D.critic, interpolates(x, x_fake))  # at x̂
        cfg = self.config
        loss_D = loss_D_adv + cfg.lambda_cls * loss_D_cls + cfg.gp_weight * loss_D_gp
        return {"d_loss": loss_D, "d_adv": loss_D_adv, "d_cls": loss_D_cls,
                "gradient_penalty": loss_D_gp}  # fmt: skip

    def generator_losses(self, x: Tensor, c_org: Tensor, c_trg: Tensor,
                         x_fake: Tensor | None = None) -> dict[str, Tensor]:  # fmt: skip
        """The terms of L_G (Eq. 6): fool D_src, be classified as c, and return to x; on
        G(x, c) made here, or `x_fake` given (with its graph)."""
        x_fake = self.G(x, c_trg) if x_fake is None else x_fake  # G(x, c)
        d_fake_src, d_fake_cls = self.D(x_fake)
        loss_G_adv = -d_fake_src.mean()
        loss_G_cls = classification_loss(d_fake_cls, c_trg)  # L_cls^f, Eq. 3
        loss_G_rec = (x - self.G(x_fake, c_org)).abs().mean()  # L_rec, Eq. 4: x's own c'
        cfg = self.config
        loss_G = loss_G_adv + cfg.lambda_cls * loss_G_cls + cfg.lambda_rec * loss_G_rec
        return {"g_loss": loss_G, "g_adv": loss_G_adv, "g_cls": loss_G_cls, "rec": loss_G_rec}

    def training_step(self, batch, step, optimizers, backward) -> dict[str, Tensor]:
        """A D step on every batch, a G step after every n_critic-th (Sec. 4)."""
        x, c_org = batch["x"], batch[ATTRIBUTES].to(batch["x"].dtype)
        self.check_attributes(c_org)
        c_trg = c_org[torch.randperm(len(c_org)).to(c_org.device)]  # targets: shuffled c'
        g_step = (step + 1) % self.config.n_critic == 0
        # G(x, c) once a step: D's step does not change G, so the G step's fakes are the same
        x_fake = self.G(x, c_trg) if g_step else None
        d = self.discriminator_losses(x, c_org, c_trg, x_fake)
        gradient_step(optimizers["discriminator"], d["d_loss"], self.D.parameters(), backward)
        logs = d | {"loss": d["d_loss"]}
        if g_step:
            g = self.generator_losses(x, c_org, c_trg, x_fake)
            gradient_step(optimizers["generator"], g["g_loss"], self.G.parameters(), backward)
            logs |= g
        return {key: value.detach() for key, value in logs.items()}

    def check_attributes(self, c: Tensor) -> None:
        if c.dim() != 2 or c.shape[1] != len(self.attribute_names):
            raise GenzooError(f"stargan translates to {len(self.attribute_names)} attributes "
                              f"({', '.join(self.attribute_names)}); got a target of shape "
                              f"{tuple(c.shape)}")  # fmt: skip

    @torch.no_grad()
    def translate(self, x: Tensor, generator: torch.Generator | None = None,
                  target: Tensor | None = None) -> Tensor:  # fmt: skip
        """G(x, c) for images x (B, C, H, W) in [−1, 1] and target attributes c, (B, A) or
        one vector (A,) for all, ordered as `attribute_names`. Deterministic: `generator`
        is accepted for the interface and unused."""
        if target is None:
            raise GenzooError(f"stargan translates to target attributes: give one value for "
                              f"each of {', '.join(self.attribute_names)}")  # fmt: skip
        if tuple(x.shape[1:]) != self.source_shape:
            C, H, W = self.source_shape
            raise GenzooError(f"stargan translates {C}-channel {W}x{H} images; got "
                              f"{'x'.join(map(str, x.shape[1:]))} (C x H x W)")  # fmt: skip
        x = x.to(self.device, self.dtype)
        c = torch.as_tensor(target, dtype=self.dtype, device=self.device)
        c = c.expand(len(x), -1) if c.dim() == 1 else c
        self.check_attributes(c)
        return self.G(x, c)
