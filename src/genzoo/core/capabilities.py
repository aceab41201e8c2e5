"""What a model can do. Apps and the CLI read these instead of probing for methods or
naming model classes; a model that declares one implements its method (the contract test
calls each on every registered model, config-dependent instances included)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal


class Capability(enum.Flag):
    SAMPLE = enum.auto()  # model.sample(n)
    LOG_PROB = enum.auto()  # model.log_prob(x): exact log-likelihood in nats, shape (B,)
    ELBO = enum.auto()  # model.elbo(x): a lower bound on log p(x) in nats, shape (B,);
    #                     evaluation_terms(x, k) and eval_k for reports and IWAE estimates
    ENCODE = enum.auto()  # model.encode(x): the latent code z of x, (B, latent_dim)
    FEATURES = enum.auto()  # model.features(x): a representation (B, F) for probes, named
    #                         by model.features_name
    DISCRIMINATE = enum.auto()  # model.discriminator_score(x): D's logit (critic's score),
    #                             (B,), higher = more like the training data
    COMPLETE = enum.auto()  # model.complete(x, known): sample the unknown pixels given the
    #                         known ones, in the model's order (discrete autoregressive models)
    CONDITIONAL = enum.auto()  # model.sample(n, condition=...), typed by model.condition
    TRANSLATE = enum.auto()  # model.translate(x, generator=None): the images paired with
    #                          source images x (a batch's "source" stream), in x's range
    NOISE = enum.auto()  # model.noise(n, generator=None) -> z (n, latent_dim), the noise
    #                      sample(n) draws, and model.decode_noise(z) -> (n, *shape): the image
    #                      of each z (a GAN's G(z), a VAE's E[x | z]); for interpolations
    STYLES = enum.auto()  # a style-based generator's per-layer styles: model.mapping(z) -> w,
    #                       broadcast(w) -> ws (B, L, w_dim), truncate(ws, ψ), synthesize(ws,
    #                       noise, clip=True), fixed_noise(), mix(z_dst, z_src, layers),
    #                       layer_groups() {"coarse", "middle", "fine"} and
    #                       style_layers("coarse" | "A:B")
    JOINT = enum.auto()  # images and texts in one space: model.embed_images(x) (B, d) and
    #                      model.embed_texts(t) (B, d), unit vectors, t the model's text
    #                      input (a contrastive model's φ, the sentence embeddings by the
    #                      encoder that model.text_encoder names; CLIP's token ids);
    #                      model.embed_prompts(texts) (B, d) and check_prompt(text) from
    #                      strings
    ASSEMBLE = enum.auto()  # model.assemble(patches, generator=None) -> (x, masks): a whole
    #                         image (B, *shape) from K local patches (B, K*C, P, P) with no
    #                         place given, and a mask per patch (B, K, H, W) in [0, 1] of
    #                         where it belongs (None without a mask branch); model.patch_shape

    @property
    def names(self) -> list[str]:
        return [c.name.lower() for c in Capability if c in self]


@dataclass(frozen=True)
class Condition:
    """What a CONDITIONAL model's `sample(n, condition=...)` takes.

    label: an int in 0..n_classes-1 (a CGAN's digit, a supervised AAE's component);
    codes: a dict of named codes, e.g. {"cat": 3, "cont0": 0.5} (InfoGAN), where "cat"
    takes 0..n_classes-1 and `traversal(name)` draws a grid that varies one of them;
    text: the sentence embeddings φ(t) (D,) or (n, D) of a caption by the text encoder
    `encoder` (genzoo.data.text), e.g. Text2Image's; n_classes is 0."""

    kind: Literal["label", "codes", "text"]
    n_classes: int
    codes: tuple[str, ...] = ()
    encoder: str | None = None  # kind "text": the encoder that embeds a prompt


@dataclass(frozen=True)
class SampleOption:
    """A knob of `sample(n, ..., name=value)` that a model declares in `sample_options`
    (a GAN's truncation, a VAE's temperature); the CLI and apps read these, and a value
    must lie in (low, high]. None, the default, leaves sampling as trained."""

    name: str
    low: float
    high: float
    help: str


def density_kind(capabilities: Capability) -> str:
    """The lecture's split: explicit models write p(x) down, implicit ones only sample."""
    if Capability.LOG_PROB in capabilities:
        return "explicit (exact)"
    if Capability.ELBO in capabilities:
        return "explicit (bound)"
    if Capability.SAMPLE in capabilities:
        return "implicit"
    if capabilities & (Capability.TRANSLATE | Capability.ASSEMBLE):  # y ~ p(y | x), x given
        return "implicit (conditional)"
    return "none"
