"""Drawing samples from a trained run: what `genzoo sample` and `genzoo serve` both call,
so that one seed gives one image in either."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genzoo.core.capabilities import Capability
from genzoo.core.errors import GenzooError


def check_options(model, options: dict[str, float]) -> dict[str, float]:
    """Sampling options (name -> value), checked against the ones the model declares."""
    declared = {o.name: o for o in model.sample_options}
    for name, value in options.items():
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise GenzooError(f"{type(model).__name__} has no sampling option {name!r} "
                              f"(its options: {known})")  # fmt: skip
        option = declared[name]
        if not option.low < value <= option.high:
            raise GenzooError(f"--option {name}={value:g}: {name} lies in "
                              f"({option.low:g}, {option.high:g}]")  # fmt: skip
    return options


def require_condition(run, kind: str, option: str) -> None:
    """A one-line error unless the run's model samples conditioned on `kind` (label, codes)."""
    model = run.model
    if Capability.CONDITIONAL not in model.capabilities:
        if kind == "text":
            raise GenzooError(f"{run.model_name} takes no text: {option} applies to models "
                              "conditioned on captions (text2image)")  # fmt: skip
        raise GenzooError(f"{run.model_name} does not sample conditionally")
    if model.condition.kind != kind:
        raise GenzooError(f"{run.model_name} is conditioned on {model.condition.kind}, so "
                          f"{option} does not apply")  # fmt: skip


@torch.no_grad()
def draw_samples(run, n: int, seed: int, condition=None,
                 options: dict[str, float] | None = None,
                 size: tuple[int, int] | None = None) -> Tensor:  # fmt: skip
    """n samples (n, C, H, W) in [0, 1] for display, drawn after `torch.manual_seed(seed)`;
    `condition` is a label (int), codes (dict) or a text prompt (str) for a CONDITIONAL
    model; `size` (H, W)
    another size, for a model that draws any (`sample_sizes`: SinGAN)."""
    model = run.model
    if Capability.SAMPLE not in model.capabilities:
        if callable(getattr(model, "sample", None)):
            model.sample(1)  # a model that cannot sample says why (an autoencoder does)
        raise GenzooError(f"{run.model_name} does not sample")
    options = check_options(model, dict(options or {}))
    if size is not None:
        if not model.sample_sizes:
            h, w = model.data.shape[-2:]
            raise GenzooError(f"{run.model_name} samples images of its data's size ({h}x{w}) "
                              "only: drop --size / --scale-x")  # fmt: skip
        options["size"] = size
    if isinstance(condition, str):
        condition = text_condition(run, condition)
    elif condition is not None:
        kind = "label" if isinstance(condition, int) else "codes"
        require_condition(run, kind, "--label" if kind == "label" else "--code")
    torch.manual_seed(seed)
    x = (
        model.sample(n, **options)
        if condition is None
        else model.sample(n, condition=condition, **options)
    )
    return display(run, x)


def text_condition(run, prompt: str) -> Tensor:
    """φ(prompt) (D,) by the run's text encoder, for a model conditioned on text; a
    one-line error for an empty prompt, one over the encoder's MAX_TOKENS word pieces
    (refused, not cut), or a model without text."""
    from genzoo.data.text import check_prompt, embed

    require_condition(run, "text", "--text")
    encoder = run.model.condition.encoder
    return embed([check_prompt(prompt, encoder)], encoder, cache=False)[0]


@torch.no_grad()
def interpolate_seeds(run, seed_a: int, seed_b: int, steps: int = 8, n: int = 16,
                      options: dict[str, float] | None = None) -> Tensor:  # fmt: skip
    """Images (steps, C, H, W) in [0, 1] of the straight line z = (1 − t) z_a + t z_b,
    t = 0..1, for a model with the NOISE capability; z_a is the noise of the first image
    of seed_a's grid of n (`draw_samples(run, n, seed_a)`), likewise z_b. Each point is
    `decode_noise(z)`: a GAN's G(z), the very image of the grid; a VAE's decoder mean."""
    model = run.model
    if Capability.NOISE not in model.capabilities:
        raise GenzooError(f"{run.model_name} has no noise to interpolate in (it does not "
                          "make images from a latent z alone)")  # fmt: skip
    if steps < 2:
        raise GenzooError(f"an interpolation takes at least 2 steps, not {steps}")
    options = check_options(model, dict(options or {}))
    z_a, z_b = (model.noise(n, torch.Generator().manual_seed(s), **options)[0]
                for s in (seed_a, seed_b))  # fmt: skip
    t = torch.linspace(0, 1, steps, device=z_a.device)[:, None]
    return display(run, model.decode_noise((1 - t) * z_a + t * z_b))


def latent_plane(model) -> bool:
    """Whether the model's noise z is 2-D, so that a plane of z can be shown and clicked."""
    return Capability.NOISE in model.capabilities and tuple(model.noise(1).shape[1:]) == (2,)


PLANE = 3.0  # the studio's latent map shows z in [-PLANE, PLANE]², about ±3 σ of N(0, I)


@torch.no_grad()
def decode_point(run, z: list[float]) -> Tensor:
    """The image (1, C, H, W) in [0, 1] of one noise vector z, for a NOISE model: a GAN's
    G(z), a VAE's decoder mean E[x | z]."""
    model = run.model
    if Capability.NOISE not in model.capabilities:
        raise GenzooError(f"{run.model_name} does not make images from a latent z alone")
    shape = tuple(model.noise(1).shape[1:])
    if len(z) != math.prod(shape):
        raise GenzooError(f"z has {len(z)} numbers; {run.model_name}'s noise has "
                          f"{math.prod(shape)}")  # fmt: skip
    point = torch.tensor(z, dtype=torch.float32, device=model.device).reshape(1, *shape)
    return display(run, model.decode_noise(point))


def display(run, x: Tensor) -> Tensor:
    """Model-space images -> [0, 1]."""
    from genzoo.io.images import to_unit_range

    return to_unit_range(x, run.model.data.n_values, run.transform.scale)
