"""A contrastive image–text model: CLIP's objective with a small image tower and a frozen
sentence encoder as the text tower.

A. Radford, J. W. Kim, C. Hallacy, A. Ramesh, G. Goh, S. Agarwal, G. Sastry, A. Askell,
P. Mishkin, J. Clark, G. Krueger and I. Sutskever, "Learning Transferable Visual Models
From Natural Language Supervision", ICML 2021 (arXiv:2103.00020).

Two towers map an image x and a caption t into one d-dimensional space (Sec. 2.4, Fig. 3):

    u = normalise(E_I(x) W_i)        image tower E_I: a small CNN; W_i = visual.proj
    v = normalise(φ(t) W_t)          φ: the frozen all-MiniLM-L6-v2 embedding (384-d,
                                     genzoo.data.text); W_t = text_projection

For a batch of N pairs, the logits are s_ij = exp(τ') u_i · v_j, with τ' = logit_scale a
learned log inverse temperature, initialised to log(1 / 0.07) and clipped at log 100
(Sec. 2.5). The loss is the symmetric InfoNCE (Fig. 3's pseudocode):

    L = ½ [ CE(s, targets over texts for each image) + CE(sᵀ, targets over images for
            each text) ]

It is symmetric: swapping the roles of u and v (s -> sᵀ) leaves L unchanged.

Zero-shot classification (Sec. 3.1.2): each class c gets a prompt p_c, and an image is
assigned argmax_c u · v(p_c); a run's report gives the test split's accuracy with the
captioned task's class prompts (genzoo.data.captions.class_prompts) and the top-1 of
image -> caption and caption -> image retrieval among the test split's captions.

The weights keep open_clip's top-level names and shapes for the parts the towers share
with it: visual.proj (F, d), text_projection (384, d), logit_scale () (log scale), so that
`x @ proj` is the projection as there (genzoo.apps.edit reads such a file, checked, from
safetensors).

Deviations from the paper:
- The image tower is a 3-layer CNN (as genzoo's feature network) with a hidden dense
  layer, not a ResNet or ViT; d = 128, not 512.
- The text tower is a frozen, pretrained sentence encoder plus a learned linear
  projection, not a transformer trained from scratch (what LiT, Zhai et al. 2022, calls
  locking a tower; here the text side is locked instead of the image side).
- Captions that occur twice in a batch are both positives: the target of image i is spread
  uniformly over the texts identical to its own (and likewise for texts), where the paper
  has one positive per row. Templated captions repeat; without this, identical sentences
  would be pushed apart. With distinct captions this is the paper's loss.
- Adam at the trainer's rate, no weight decay or cosine schedule by default (the paper:
  AdamW, decoupled weight decay, cosine decay; `--set lr_schedule=cosine` gives the last).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core.capabilities import Capability
from genzoo.core.config import above, at_least
from genzoo.core.errors import GenzooError
from genzoo.core.model import DataInfo, GenerativeModel, gradient_step
from genzoo.core.registry import register

ENCODER = "all-MiniLM-L6-v2"  # genzoo.data.text.ENCODER


@dataclass
class ContrastiveConfig:
    text_encoder: Literal["all-MiniLM-L6-v2"] = ENCODER  # φ (paper: a text transformer)
    embedding_dim: int = field(default=384, metadata=at_least(1))  # φ(t)'s size: MiniLM's
    joint_dim: int = field(default=128, metadata=at_least(1))  # d (paper: 512 for ViT-B/32)
    width: int = field(default=32, metadata=at_least(1))  # channels of the first conv
    feature_dim: int = field(default=256, metadata=at_least(1))  # F, E_I's output
    temperature: float = field(default=0.07, metadata=above(0.0))  # Sec. 2.5: τ starts at 0.07
    max_logit_scale: float = field(default=100.0, metadata=above(0.0))  # Sec. 2.5: clip at 100


def contrastive_loss(u: Tensor, v: Tensor, logit_scale: Tensor,
                     match: Tensor | None = None) -> Tensor:  # fmt: skip
    """½ [CE(s, targets) + CE(sᵀ, targetsᵀ)] with s = exp(logit_scale) u vᵀ, u and v (N, d)
    unit rows paired by index; `match` (N, N) bool, symmetric, marks the pairs that count as
    positives (default: the diagonal), each row's target spread uniformly over its own."""
    s = logit_scale.exp() * u @ v.T  # (N, N)
    if match is None:
        match = torch.eye(len(u), dtype=torch.bool, device=u.device)
    target = match.float() / match.sum(dim=1, keepdim=True)
    return 0.5 * (F.cross_entropy(s, target) + F.cross_entropy(s.T, target.T))


def same_text(phi: Tensor) -> Tensor:
    """(N, N) bool: whether rows i and j of φ (N, D) are the same caption's embedding."""
    return (phi[:, None, :] == phi[None, :, :]).all(dim=2)


class ImageTower(nn.Module):
    """E_I: x (B, C, H, W) in [−1, 1] -> (B, F): three 3×3 convs (the last two strided),
    adaptive average pooling to at most 4×4, a dense layer; then x @ proj -> (B, d)."""

    def __init__(self, config: ContrastiveConfig, data: DataInfo):
        super().__init__()
        C, H = data.shape[0], data.shape[-1]
        w, pool = config.width, min(4, math.ceil(H / 4))
        self.body = nn.Sequential(
            nn.Conv2d(C, w, 3, padding=1), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.ReLU(),  # (B, 2w, H/2, W/2)
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), nn.ReLU(),  # (B, 4w, H/4, W/4)
            nn.AdaptiveAvgPool2d(pool), nn.Flatten(),
            nn.Linear(4 * w * pool * pool, config.feature_dim), nn.ReLU(),
        )  # fmt: skip
        self.proj = nn.Parameter(torch.randn(config.feature_dim, config.joint_dim)
                                 * config.feature_dim**-0.5)  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) @ self.proj


@register("contrastive", family="joint",
          description="a joint image–text space by CLIP's symmetric contrastive loss, "
          "with a frozen sentence encoder as the text tower")  # fmt: skip
class Contrastive(GenerativeModel):
    Config = ContrastiveConfig
    capabilities = Capability.JOINT
    data_kinds = frozenset({"continuous"})
    continuous_scale = "symmetric"  # images in [−1, 1], as the GANs whose outputs it judges
    dequantize_continuous = False
    validation_metric = None  # no likelihood; the report gives zero-shot accuracy
    streams = ("x", "caption")
    why_no_samples = ("it embeds images and captions in one space and models no p(x): use it "
                      "to classify, retrieve, or steer a StyleGAN (`genzoo edit`)")  # fmt: skip

    def __init__(self, config: ContrastiveConfig, data: DataInfo):
        super().__init__(config, data)
        self.visual = ImageTower(config, data)
        self.text_projection = nn.Parameter(torch.randn(config.embedding_dim, config.joint_dim)
                                            * config.embedding_dim**-0.5)  # fmt: skip
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / config.temperature)))

    @property
    def text_encoder(self) -> str:
        return self.config.text_encoder

    def embed_images(self, x: Tensor) -> Tensor:
        """u = normalise(E_I(x) W_i), (B, d), for x (B, C, H, W) in [−1, 1]."""
        if tuple(x.shape[1:]) != tuple(self.data.shape):
            raise GenzooError(f"images of shape {tuple(x.shape[1:])}; this model embeds "
                              f"{tuple(self.data.shape)}")  # fmt: skip
        return F.normalize(self.visual(x.to(self.device, self.dtype)), dim=1)

    def embed_texts(self, phi: Tensor) -> Tensor:
        """v = normalise(φ W_t), (B, d), for sentence embeddings φ (B, embedding_dim)."""
        if phi.dim() != 2 or phi.shape[1] != self.config.embedding_dim:
            raise GenzooError(f"caption embeddings of shape {tuple(phi.shape)}; this model "
                              f"takes (B, {self.config.embedding_dim}) "
                              f"({self.config.text_encoder})")  # fmt: skip
        return F.normalize(phi.to(self.device, self.dtype) @ self.text_projection, dim=1)

    def check_prompt(self, text: str) -> str:
        """`text` stripped, or a one-line GenzooError if the sentence encoder cannot read it."""
        from genzoo.data.text import check_prompt

        return check_prompt(text, self.text_encoder)

    def embed_prompts(self, texts: list[str]) -> Tensor:
        """v of each prompt, (B, d): its sentence embedding φ (genzoo.data.text), then
        embed_texts."""
        from genzoo.data.text import embed

        return self.embed_texts(embed(list(texts), self.text_encoder))

    def loss(self, x: Tensor, phi: Tensor) -> Tensor:
        """The symmetric InfoNCE of a batch of pairs (x_i, φ_i) (Fig. 3)."""
        u, v = self.embed_images(x), self.embed_texts(phi)
        return contrastive_loss(u, v, self.logit_scale, same_text(phi.to(u.device)))

    def training_step(self, batch, step, optimizers, backward) -> dict[str, Tensor]:
        (optimizer,) = optimizers.values()
        loss = self.loss(batch["x"], batch["caption"])
        gradient_step(optimizer, loss, list(self.parameters()), backward)
        return {"loss": loss.detach(), "logit_scale": self.logit_scale.detach().exp()}

    def on_train_step_end(self, step: int) -> None:
        with torch.no_grad():  # Sec. 2.5: the logits' scale is clipped at 100
            self.logit_scale.clamp_(max=math.log(self.config.max_logit_scale))

    @torch.no_grad()
    def similarity(self, x: Tensor, phi: Tensor) -> Tensor:
        """u_i · v_j, (B_x, B_φ): cosine similarities, without the temperature."""
        return self.embed_images(x) @ self.embed_texts(phi).T
