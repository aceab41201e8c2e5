"""Puzzle-GAN: a whole image, and where each part belongs, from a few key local patches.

D. Lee, S. Yun, S. Choi, H. Yoo, M.-H. Yang and S. Oh, "Unsupervised Holistic Image
Generation from Key Local Patches", ECCV 2018 (arXiv:1703.10730); the authors' code is
github.com/hellbell/KeyPatchGan.

Given K patches p_1..p_K of an object and no place, G draws the whole image x̂ and a mask
M̂_k per patch of where p_k lies in it. A part encoder E (one set of weights, applied to
every patch) gives f_k = E(p_k); the image generator draws from the features and noise,
the mask generator from the features alone:

    x̂ = G_x([f_1, ..., f_K, z]) ∈ [−1, 1]^(C×H×W),   z ~ N(0, I)
    M̂ = σ(G_M([f_1, ..., f_K])) ∈ [0, 1]^(K×H×W)

In training the patches are cut from a real image x at known places, whose masks are M_k
(1 on patch k's square, 0 elsewhere); "unsupervised" means that no one labels the key
parts, and that at test time no place is given. G minimises:

    L_adv     = −log D(x̂)                                     (non-saturating)
    L_spatial = mean_{k,i} BCE(M̂_k,i, M_k,i)                  masks at the true places
    L_appr    = mean_{k,c,i} |M̂_k,i x̂_c,i − M_k,i x_c,i|      the patches restored there
    L_overlap = mean_i Σ_{j<k} M̂_j,i M̂_k,i                    no two patches in one place
    L_G = L_adv + λ_spatial L_spatial + λ_appr L_appr + λ_overlap L_overlap

(i runs over pixels, c over channels; BCE(m̂, m) = −m log m̂ − (1 − m) log(1 − m̂)).
D is a conv net on the image alone. Besides G's images it learns to reject two
composites of real images (authors' code): with U the union of the true masks and x'
another image of the batch, U x' + (1 − U) x (another item's parts in this background)
and U x + (1 − U) x' (these parts in another's background):

    L_D = −log D(x) − log(1 − D(x̂))
          − log(1 − D(U x' + (1 − U) x)) − log(1 − D(U x + (1 − U) x'))

each term a mean over the batch. One D step, then one G step per batch; Adam at 2e-4,
β = (0.5, 0.999) (authors' code).

`mask_branch=false` is the baseline that the issue asks for: the same generator without
G_M, a plain inpainting-style model that must draw the patches at their true places
(L_appr with M in place of M̂; no L_spatial or L_overlap) and says nothing about where
they are.

Streams: "x", its "patches" (B, K·C, P, P), patch k in channels kC..(k+1)C − 1, and their
places as "attributes" (B, 2K): top_k, left_k, the top-left corner of each in x's pixels
(the fashion-patches task, genzoo.data.tasks).

Deviations from the paper (the paper's text was not at hand; the losses are read from
the authors' code and are my reading of the paper):
- L_spatial is a per-pixel cross-entropy; the authors' code takes the mean |M̂ − M|
  (`spatial=l1`), whose gradient through the sigmoid vanishes once the masks have
  shrunk to 0 on the 94% of pixels that no patch covers (in genzoo's short CPU runs
  the masks died there).
- K masks, one per patch; the paper's figures show one mask, the union of the parts'.
  Its L_spatial and L_appr are those of the union; here they average over the K masks.
- L_overlap is not in the paper or the authors' code: it is the issue's "masks from
  different patches should not overlap" (λ_overlap = 0 switches it off). The task's true
  masks never overlap, so it is 0 at the true places.
- The weights are constants, λ_spatial = λ_appr = 100 (pix2pix's λ for a per-pixel mean
  L1), λ_overlap = 10; the authors' code decays both of its weights from 1e-2 to 1e-4 over
  25 epochs.
- The features are concatenated, with z, as the issue describes; the authors' code sums
  the K encodings, and its mask generator's features also feed the image generator (a
  U-Net-like wiring) where here the two decoders are separate.
- Small DCGAN-like nets without normalisation (genzoo.nn.coders) for 32×32 images; the
  authors' code has U-Net or ResNet nets for 64×64 to 256×256 images. G steps after every
  D step (the authors': after every second).
- No conditional D: the issue's guess of a D on the image and the patches; the authors'
  D sees the image alone, as here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from genzoo.core.capabilities import Capability
from genzoo.core.config import at_least, below, length
from genzoo.core.errors import GenzooError
from genzoo.core.model import DataInfo, GenerativeModel, gradient_step
from genzoo.core.registry import register
from genzoo.models.adversarial.base import dcgan_init, discriminator_logs
from genzoo.models.adversarial.losses import generator_loss
from genzoo.nn.coders import ConvDecoder, ConvEncoder

PATCHES, PLACES = "patches", "attributes"  # the streams of the patches and their places


@dataclass
class PuzzleGANConfig:
    n_patches: int = field(default=3, metadata=at_least(1))  # K: part1..part3 (authors' code)
    patch_size: int = field(default=8, metadata=at_least(1))  # P: fashion-patches' (genzoo)
    latent_dim: int = field(default=128, metadata=at_least(1))  # z_dim (authors' code)
    feature_dim: int = field(default=128, metadata=at_least(1))  # part_embed_dim (authors')
    # the two stride-2 layers of E, G_x, G_M and D (scaled down from conv_dim=64 for CPU)
    channels: tuple[int, ...] = field(default=(32, 64), metadata=at_least(1) | length(2))
    mask_branch: bool = True  # False: the same G without G_M, the inpainting-style baseline
    lambda_spatial: float = field(default=100.0, metadata=at_least(0.0))  # genzoo (docstring)
    lambda_appr: float = field(default=100.0, metadata=at_least(0.0))  # genzoo (docstring)
    lambda_overlap: float = field(default=10.0, metadata=at_least(0.0))  # the term
    # L_spatial: "bce" per-pixel cross-entropy (genzoo), "l1" the authors' code's
    spatial: Literal["bce", "l1"] = "bce"
    shuffled_fakes: bool = True  # D also rejects composites of two real images (authors')
    lr_d: float = field(default=2e-4, metadata=at_least(0.0))  # learning_rate (authors')
    lr_g: float = field(default=2e-4, metadata=at_least(0.0))  # learning_rate (authors')
    betas: tuple[float, ...] = field(
        default=(0.5, 0.999), metadata=at_least(0.0) | below(1.0) | length(2)
    )  # beta1 = 0.5 (authors' code)


def place_masks(places: Tensor, size: int, shape: tuple[int, int]) -> Tensor:
    """M (B, K, H, W): 1 on each patch's size×size square at the top-left corners `places`
    (B, 2K) = (top_1, left_1, top_2, ...), 0 elsewhere."""
    H, W = shape
    top, left = places.reshape(len(places), -1, 2).unbind(-1)  # (B, K) each
    rows = torch.arange(H, device=places.device)
    cols = torch.arange(W, device=places.device)
    in_rows = (rows >= top[..., None]) & (rows < top[..., None] + size)  # (B, K, H)
    in_cols = (cols >= left[..., None]) & (cols < left[..., None] + size)  # (B, K, W)
    return (in_rows[..., :, None] & in_cols[..., None, :]).float()


def spatial_loss(M_hat: Tensor, M: Tensor, kind: str = "bce") -> Tensor:
    """L_spatial over masks and pixels: bce, the mean −M log M̂ − (1 − M) log(1 − M̂); l1,
    the mean |M̂ − M| (authors' code). Both are 0 where M̂ = M."""
    if kind == "l1":
        return (M_hat - M).abs().mean()
    return nn.functional.binary_cross_entropy(M_hat, M)


def overlap_loss(M_hat: Tensor) -> Tensor:
    """L_overlap = mean over pixels of Σ_{j<k} M̂_j M̂_k, (B, K, H, W) masks."""
    total = M_hat.sum(1)
    # Σ_{j<k} a_j a_k = ((Σ a)² − Σ a²) / 2
    return ((total.pow(2) - M_hat.pow(2).sum(1)) / 2).mean()


def appearance_loss(x_hat: Tensor, M_hat: Tensor, x: Tensor, M: Tensor) -> Tensor:
    """L_appr = mean |M̂_k x̂ − M_k x| over masks, channels and pixels."""
    return (M_hat[:, :, None] * x_hat[:, None] - M[:, :, None] * x[:, None]).abs().mean()


@register("puzzle-gan", family="adversarial",
          description="Puzzle-GAN (Lee et al. 2018): image and masks from key patches")  # fmt: skip
class PuzzleGAN(GenerativeModel):
    Config = PuzzleGANConfig
    capabilities = Capability.ASSEMBLE
    data_kinds = frozenset({"continuous"})
    continuous_scale = "symmetric"  # G's tanh range
    dequantize_continuous = False  # no likelihood to make comparable
    sample_range = (-1.0, 1.0)
    validation_metric = None
    streams = ("x", PATCHES, PLACES)
    augmentable = False  # a flip or crop of x would not move the patches' places
    why_no_samples = (
        "it draws an image from given key patches (`genzoo sample RUN --patches a.png,b.png,"
        "c.png`), not from noise alone"
    )

    def __init__(self, config: PuzzleGANConfig, data: DataInfo):
        super().__init__(config, data)
        if len(data.shape) != 3:
            raise GenzooError(f"puzzle-gan draws images (C, H, W), not shape {data.shape}")
        C, H, W = data.shape
        K, P = config.n_patches, config.patch_size
        if min(H, W) < P:
            raise GenzooError(f"patch_size={P} is larger than the {H}x{W} images")
        if data.attributes and len(data.attributes) != 2 * K:
            raise GenzooError(f"the data places {len(data.attributes) // 2} patches per "
                              f"image ({', '.join(data.attributes)}): set n_patches to "
                              "match")  # fmt: skip
        self.patch_shape = (K * C, P, P)
        self.encoder = ConvEncoder((C, P, P), config.feature_dim, config.channels, "leaky-relu")
        self.image_generator = ConvDecoder(K * config.feature_dim + config.latent_dim, data.shape,
                                           1, config.channels, "relu")  # fmt: skip
        self.mask_generator = (ConvDecoder(K * config.feature_dim, (K, H, W), 1, config.channels,
                                           "relu") if config.mask_branch else None)  # fmt: skip
        self.discriminator = ConvEncoder(data.shape, 1, config.channels, "leaky-relu")
        dcgan_init(self)

    @property
    def generator_parameters(self) -> list[nn.Parameter]:
        """E, G_x and G_M: everything that G's optimizer moves."""
        return [p for name, p in self.named_parameters() if not name.startswith("discriminator")]

    def configure_optimizers(self, lr: float, weight_decay: float = 0.0) -> dict:
        """Adam for D and for G at the config's rates; the trainer's lr does not apply."""
        cfg, betas = self.config, tuple(self.config.betas)
        return {"discriminator": torch.optim.Adam(self.discriminator.parameters(), cfg.lr_d,
                                                  betas=betas),
                "generator": torch.optim.Adam(self.generator_parameters, cfg.lr_g,
                                              betas=betas)}  # fmt: skip

    def check_patches(self, patches: Tensor) -> None:
        if tuple(patches.shape[1:]) != self.patch_shape:
            KC, P, _ = self.patch_shape
            got = "x".join(map(str, patches.shape[1:]))
            raise GenzooError(f"puzzle-gan takes {self.config.n_patches} patches of {P}x{P} "
                              f"({KC} channels stacked); got {got} (channels x H x W)")  # fmt: skip

    def encode_patches(self, patches: Tensor) -> Tensor:
        """[f_1, ..., f_K] (B, K·F): E applied to each patch of (B, K·C, P, P)."""
        B, C = len(patches), self.data.shape[0]
        p = patches.reshape(B * self.config.n_patches, C, *self.patch_shape[1:])
        return self.encoder(p).reshape(B, -1)

    def generate(self, patches: Tensor, z: Tensor) -> tuple[Tensor, Tensor | None]:
        """(x̂ (B, C, H, W) in [−1, 1], M̂ (B, K, H, W) in [0, 1] or None)."""
        f = self.encode_patches(patches)
        x_hat = torch.tanh(self.image_generator(torch.cat([f, z], 1))[..., 0])
        if self.mask_generator is None:
            return x_hat, None
        return x_hat, torch.sigmoid(self.mask_generator(f)[..., 0])

    def true_masks(self, places: Tensor) -> Tensor:
        return place_masks(places, self.config.patch_size, self.data.shape[1:])

    def training_step(self, batch, step, optimizers, backward) -> dict[str, Tensor]:
        """One D step on L_D, then one G step on L_G (module docstring)."""
        x, patches = batch["x"], batch[PATCHES]
        self.check_patches(patches)
        M = self.true_masks(batch[PLACES])
        z = torch.randn(len(x), self.config.latent_dim, device=x.device)
        x_hat, M_hat = self.generate(patches, z)

        fakes = [x_hat.detach()]
        if self.config.shuffled_fakes and len(x) > 1:
            U, x_other = M.amax(1, keepdim=True), x.roll(1, 0)  # (B, 1, H, W), another image
            fakes += [U * x_other + (1 - U) * x, U * x + (1 - U) * x_other]
        d_real = self.discriminator(x)[:, 0]
        d_fakes = [self.discriminator(f)[:, 0] for f in fakes]
        loss_D = nn.functional.softplus(-d_real).mean() + sum(
            nn.functional.softplus(d).mean() for d in d_fakes
        )  # L_D
        gradient_step(optimizers["discriminator"], loss_D, self.discriminator.parameters(),
                      backward)  # fmt: skip
        logs = discriminator_logs(loss_D, d_real, d_fakes[0])

        cfg, zero = self.config, torch.zeros((), device=x.device)
        loss_G_adv = generator_loss(self.discriminator(x_hat)[:, 0])  # −log D(x̂)
        if M_hat is None:  # the baseline: the patches at their true places
            loss_spatial, loss_overlap = zero, zero
            loss_appr = appearance_loss(x_hat, M, x, M)
        else:
            loss_spatial, loss_overlap = spatial_loss(M_hat, M, cfg.spatial), overlap_loss(M_hat)
            loss_appr = appearance_loss(x_hat, M_hat, x, M)
        loss_G = (loss_G_adv + cfg.lambda_spatial * loss_spatial + cfg.lambda_appr * loss_appr
                  + cfg.lambda_overlap * loss_overlap)  # fmt: skip
        gradient_step(optimizers["generator"], loss_G, self.generator_parameters, backward)
        return logs | {"loss": loss_G.detach(), "g_loss": loss_G.detach(),
                       "g_adv": loss_G_adv.detach(), "spatial": loss_spatial.detach(),
                       "appr": loss_appr.detach(), "overlap": loss_overlap.detach()}  # fmt: skip

    @torch.no_grad()
    def assemble(self, patches: Tensor, generator: torch.Generator | None = None
                 ) -> tuple[Tensor, Tensor | None]:  # fmt: skip
        """The whole image x̂ (B, C, H, W) in [−1, 1] of key patches (B, K·C, P, P) in the
        data's range, and the mask M̂ (B, K, H, W) in [0, 1] of where each belongs (None
        with mask_branch=false); z drawn from `generator`."""
        self.check_patches(patches)
        z = torch.randn(len(patches), self.config.latent_dim, generator=generator)
        return self.generate(patches.to(self.device, self.dtype), z.to(self.device))
