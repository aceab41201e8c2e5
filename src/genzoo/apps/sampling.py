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


def parse_size(text: str, what: str = "--size") -> tuple[int, int]:
    """ "HxW" in pixels -> (H, W), each 1..4096."""
    try:
        size = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        size = ()
    if len(size) != 2 or not all(1 <= v <= 4096 for v in size):
        raise GenzooError(f"{what} {text}: expected HxW in pixels, e.g. 64x200")
    return size


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


SPACES = ("z", "w")  # where an interpolation runs: the noise z, or a style-based G's w


@torch.no_grad()
def interpolate_seeds(run, seed_a: int, seed_b: int, steps: int = 8, n: int = 16,
                      options: dict[str, float] | None = None,
                      space: str = "z") -> Tensor:  # fmt: skip
    """Images (steps, C, H, W) in [0, 1] of the straight line z = (1 − t) z_a + t z_b,
    t = 0..1, for a model with the NOISE capability; z_a is the noise of the first image
    of seed_a's grid of n (`draw_samples(run, n, seed_a)`), likewise z_b. Each point is
    `decode_noise(z)`: a GAN's G(z), the very image of the grid; a VAE's decoder mean.

    A style-based generator (STYLES) can also interpolate in W (space="w"): the line
    w = (1 − t) f(z_a) + t f(z_b) instead of f((1 − t) z_a + t z_b); both with its fixed
    noise, and its truncation ψ applied to each point's styles."""
    model = run.model
    if Capability.NOISE not in model.capabilities:
        raise GenzooError(f"{run.model_name} has no noise to interpolate in (it does not "
                          "make images from a latent z alone)")  # fmt: skip
    if steps < 2:
        raise GenzooError(f"an interpolation takes at least 2 steps, not {steps}")
    if space not in SPACES:
        raise GenzooError(f"--space {space}: expected z or w")
    if space == "w":
        require_styles(run, "interpolation in W (--space w)")
    options = check_options(model, dict(options or {}))
    z_a, z_b = (model.noise(n, torch.Generator().manual_seed(s), **options)[0]
                for s in (seed_a, seed_b))  # fmt: skip
    t = torch.linspace(0, 1, steps, device=z_a.device)[:, None]
    if Capability.STYLES not in model.capabilities:
        return display(run, model.decode_noise((1 - t) * z_a + t * z_b))
    if space == "w":
        w_a, w_b = model.mapping(torch.stack([z_a, z_b]))
        w = (1 - t) * w_a + t * w_b
    else:
        w = model.mapping((1 - t) * z_a + t * z_b)
    return display(run, synthesize(model, w, options.get("truncation"), model.fixed_noise()))


# ---------------------------------------------------------------- per-layer styles


def require_styles(run, what: str) -> None:
    if Capability.STYLES not in run.model.capabilities:
        raise GenzooError(f"{run.model_name} has no per-layer styles, so {what} does not "
                          "apply: it is for a style-based generator (stylegan)")  # fmt: skip


def seed_noise(model, seed: int) -> Tensor:
    """The z (1, latent_dim) of a seed: that of `genzoo sample --seed SEED -n 1`."""
    return model.noise(1, torch.Generator().manual_seed(seed))


def synthesize(model, w: Tensor, truncation: float | None, noise) -> Tensor:
    """The images of w (B, w_dim), the same style in every layer, truncated by ψ."""
    ws = model.broadcast(w)
    return model.synthesize(ws if truncation is None else model.truncate(ws, truncation), noise)


@torch.no_grad()
def mix_styles(run, n: int, seed: int, mix_from: int, layers: str,
               truncation: float | None = None) -> Tensor:  # fmt: skip
    """n images (n, C, H, W) in [0, 1]: the z's that `genzoo sample --seed SEED -n N` draws
    (after torch.manual_seed(seed)), with the styles of `layers` ("coarse", "middle",
    "fine" or "A:B") taken from seed mix_from's z (Sec. 3.1, Fig. 3); fixed noise."""
    require_styles(run, "style mixing (--mix-from)")
    model = run.model
    torch.manual_seed(seed)
    z = model.noise(n)
    return display(run, model.mix(z, seed_noise(model, mix_from), layers, truncation))


@torch.no_grad()
def mix_grid(run, sources: list[int], destinations: list[int],
             truncation: float | None = None) -> tuple[Tensor, list[str]]:  # fmt: skip
    """The paper's Figure 3 as one grid of len(sources) + 1 columns: the first row the
    sources' images after a blank corner; then for each layer group (coarse, middle, fine)
    a block of rows, one per destination: its image, then its styles with the group's
    layers taken from each source. Fixed noise. (images in [0, 1], the row labels)."""
    require_styles(run, "the style-mixing grid (--mix-grid)")
    model = run.model
    z_src = torch.cat([seed_noise(model, s) for s in sources])
    z_dst = torch.cat([seed_noise(model, s) for s in destinations])
    fixed = model.fixed_noise()
    image = lambda z: display(run, synthesize(model, model.mapping(z), truncation, fixed))  # noqa: E731
    first = image(z_src)
    rows, labels = [torch.ones_like(first[:1]), first], ["sources"]
    for name, layers in model.layer_groups().items():
        for d, z in zip(destinations, z_dst.split(1), strict=True):
            mixed = display(run, model.mix(z, z_src, layers, truncation))
            rows += [image(z), mixed]
            labels.append(f"{name} (layers {layers.start}-{layers.stop - 1}) from the sources, "
                          f"destination seed {d}")  # fmt: skip
    return torch.cat(rows), labels


@torch.no_grad()
def noise_variations(run, seed: int, n: int, truncation: float | None = None) -> Tensor:
    """The paper's Figure 4: n images (n + 1, C, H, W) in [0, 1] of one w (seed's z) with n
    realisations of the per-pixel noise, then the per-pixel standard deviation over them
    (averaged over colour channels, scaled so that its maximum is white)."""
    require_styles(run, "noise-only variation (--noise-only)")
    if n < 2:
        raise GenzooError(f"-n {n}: the noise's effect needs at least 2 realisations")
    model = run.model
    w = model.mapping(seed_noise(model, seed)).expand(n, -1)
    x = display(run, synthesize(model, w, truncation, torch.Generator().manual_seed(seed)))
    std = x.std(0, keepdim=True).mean(1, keepdim=True)  # (1, 1, H, W)
    std = std / std.max().clamp_min(1e-12)
    return torch.cat([x, std.expand(1, x.shape[1], -1, -1)])


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


# ---------------------------------------------------------------- whole images from patches


def read_patches(run, paths: list[str]) -> Tensor:
    """Key patches from image files, one a file, as the model takes them: (1, K·C, P, P) in
    the data's range; a one-line error for a wrong count, size or file."""
    from pathlib import Path

    import numpy as np

    from genzoo.io.images import read_pixels

    model = run.model
    if Capability.ASSEMBLE not in model.capabilities:
        raise GenzooError(f"{run.model_name} takes no patches: --patches applies to models "
                          "that assemble an image from key patches (puzzle-gan)")  # fmt: skip
    K, C, P = model.config.n_patches, model.data.shape[0], model.patch_shape[-1]
    if len(paths) != K:
        raise GenzooError(f"--patches: {run.model_name} takes {K} patches, got {len(paths)}")
    pixels = []
    for path in map(Path, paths):
        a = read_pixels(path, C)
        if a.shape[:2] != (P, P):
            raise GenzooError(f"{path} is {a.shape[1]}x{a.shape[0]}; {run.model_name} takes "
                              f"{P}x{P} patches")  # fmt: skip
        pixels.append(a[None] if C == 1 else a.transpose(2, 0, 1))
    levels = torch.from_numpy(np.concatenate(pixels)[None].copy())  # uint8 (1, K·C, P, P)
    return run.transform.fixed(levels, "test")


@torch.no_grad()
def assemble_rows(run, patches: Tensor, n: int, seed: int) -> tuple[Tensor, int]:
    """n rows (z drawn from `seed`) for patches (1, K·C, P, P): the K patches, each in the
    middle of a grey H×W frame | the whole image x̂ | each patch's mask M̂_k (white = 1;
    none without a mask branch). (images in [0, 1], images per row)."""
    model = run.model
    C, H, W = model.data.shape
    K, P = model.config.n_patches, model.patch_shape[-1]
    x_hat, masks = model.assemble(patches.expand(n, -1, -1, -1),
                                  torch.Generator().manual_seed(seed))  # fmt: skip
    frames = torch.full((K, C, H, W), 0.5)
    top, left = (H - P) // 2, (W - P) // 2
    shown = display(run, patches[0].reshape(K, C, P, P).cpu())
    frames[..., top : top + P, left : left + P] = shown
    rows = []
    for i in range(n):
        row = [frames, display(run, x_hat[i : i + 1].cpu())]
        if masks is not None:
            row.append(masks[i].cpu()[:, None].expand(K, C, H, W))
        rows.append(torch.cat(row))
    return torch.cat(rows), len(rows[0])


def display(run, x: Tensor) -> Tensor:
    """Model-space images -> [0, 1]."""
    from genzoo.io.images import to_unit_range

    return to_unit_range(x, run.model.data.n_values, run.transform.scale)
