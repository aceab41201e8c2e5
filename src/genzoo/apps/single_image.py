"""SinGAN's applications (Sec. 4) and measures (Sec. 5) on a trained run: samples from a
start scale, an injected image (paint-to-image, editing, harmonisation), super-resolution,
an animation, and SIFID / diversity / reconstruction PSNR. Any model with the pyramid
methods (`inject`, `super_resolve`, `animate`, `reconstruct`) qualifies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genzoo.core.errors import GenzooError

PYRAMID_METHODS = ("inject", "super_resolve", "animate", "reconstruct", "check_start_scale")
METRICS = ("sifid", "diversity", "reconstruction")


def require_pyramid(run, what: str) -> None:
    """A one-line error unless the run's model is a single-image pyramid (has its methods)."""
    if not all(callable(getattr(run.model, m, None)) for m in PYRAMID_METHODS):
        raise GenzooError(f"{what} applies to a single-image pyramid model (singan); "
                          f"{run.model_name} has none")  # fmt: skip


def read_image(path: str | Path, channels: int) -> tuple[torch.Tensor, list[str]]:
    """A PNG or JPEG as uint8 (1, channels, H, W), and notes on what was converted."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path).expanduser()
    if not path.is_file():
        raise GenzooError(f"{path} is not a file: give a PNG or JPEG")
    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise GenzooError(f"cannot read {path.name} as an image ({reason})") from None
    notes = []
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        notes.append("its alpha channel dropped")
    grey = img.mode in ("1", "L", "LA", "I", "I;16", "F")
    if channels == 3 and grey:
        notes.append("grey, repeated to RGB")
    elif channels == 1 and not grey:
        notes.append("colour, converted to grey (PIL's L)")
    elif channels not in (1, 3):
        raise GenzooError(f"the run's images have {channels} channels; only 1 or 3 are read")
    x = np.asarray(img.convert("L" if channels == 1 else "RGB"))
    x = x[None] if x.ndim == 2 else x.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(x))[None], notes


def model_values(run, x: torch.Tensor) -> Tensor:
    """uint8 images -> the values the run's model sees (its transform)."""
    return run.transform.batch(run.transform.fixed(x, "test"))


def display(run, x: Tensor) -> Tensor:
    from genzoo.io.images import to_unit_range

    return to_unit_range(x.cpu(), run.model.data.n_values, run.transform.scale)


def training_image(run, data_root=None) -> Tensor:
    """The image the run learnt from, (1, C, H, W) in [0, 1]."""
    from genzoo.apps.latent import run_inputs
    from genzoo.train.run import load_splits

    splits = load_splits(run.data_name, data_root, run.train_config)
    return display(run, run_inputs(run, splits, "train")[:1])


@torch.no_grad()
def from_scale(run, n: int, seed: int, start_scale: int, image: Tensor | None = None,
               size: tuple[int, int] | None = None) -> Tensor:  # fmt: skip
    """n images (n, C, H, W) in [0, 1] generated from `start_scale`: with `image` (uint8,
    from `read_image`) injected there (Sec. 4), else with the scales below reconstructing
    the training image (Fig. 6); seeded by `seed`."""
    require_pyramid(run, "--start-scale")
    model, generator = run.model, torch.Generator().manual_seed(seed)
    if image is None:
        return display(run, model.sample(n, generator, size, start_scale=start_scale))
    return display(run, model.inject(model_values(run, image), start_scale, n, generator))


@torch.no_grad()
def super_resolution(run, factor: float, seed: int, n: int = 1,
                     image: Tensor | None = None, data_root=None) -> Tensor:  # fmt: skip
    """n super-resolved images (n, C, H·factor, W·factor) in [0, 1] of `image` (uint8) or,
    by default, the training image (Sec. 4)."""
    require_pyramid(run, "--super-resolution")
    model = run.model
    model.upsampling_steps(factor)  # checks before any data is read
    if image is None:
        from genzoo.apps.latent import run_inputs
        from genzoo.train.run import load_splits

        splits = load_splits(run.data_name, data_root, run.train_config)
        x = run_inputs(run, splits, "train")[:1]
    else:
        x = model_values(run, image)
    generator = torch.Generator().manual_seed(seed)
    return display(run, model.super_resolve(x.expand(n, -1, -1, -1), factor, generator))


@torch.no_grad()
def animation(run, frames: int, seed: int, start_scale: int = 0) -> Tensor:
    """Frames (frames, C, H, W) in [0, 1] of the random walk of `model.animate`."""
    require_pyramid(run, "--animate")
    generator = torch.Generator().manual_seed(seed)
    return display(run, run.model.animate(frames, start_scale, generator=generator))


def feature_net(data_root=None, inception: str | Path | None = None):
    """(net with `early_features`, a description for reports): the FID Inception-v3 when
    its weights are given, else genzoo's CIFAR-10 feature network (trained once, cached)."""
    if inception is not None:
        from genzoo.metrics.inception import load_inception

        net = load_inception(inception)
        what = (f"Inception-v3 block 0 (64 channels after the first max pool, the authors' "
                f"SIFID layer; weights sha256 {net.sha256[:16]})")  # fmt: skip
        return net, what + (" STAND-IN WEIGHTS: measures nothing" if net.stand_in else "")
    from genzoo.metrics.features import feature_network

    net, info = feature_network("cifar10", data_root)
    what = (f"{info['identifier']} second conv (64 channels, half resolution), genzoo's "
            "CIFAR-10 classifier, not Inception: compare only with the same network")  # fmt: skip
    return net, what


@torch.no_grad()
def measure(run, metrics, n: int = 50, seed: int = 0, start_scales=(0, 1), data_root=None,
            inception=None, net=None) -> dict:  # fmt: skip
    """Sec. 5's measures of a run: {"rows": [{"start_scale", "sifid", "diversity"}, ...],
    "reconstruction_psnr", "features", "n"}; n samples per start scale, seeded by `seed`.
    `net` (with `early_features`) replaces the feature network, e.g. in tests."""
    from genzoo.metrics.single_image import diversity, psnr, sifid

    require_pyramid(run, "--metrics " + ",".join(metrics))
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise GenzooError(f"single-image metrics are {', '.join(METRICS)}; got {list(metrics)}")
    if n < (2 if "diversity" in metrics else 1):
        raise GenzooError(f"--n {n}: give at least 2 for diversity (a std over samples), "
                          "1 for sifid")  # fmt: skip
    for k in start_scales:
        run.model.check_start_scale(k)
    real = training_image(run, data_root)
    out: dict = {"n": n, "rows": [], "features": None}
    if "sifid" in metrics:
        if net is None:
            net, out["features"] = feature_net(data_root, inception)
        else:
            out["features"] = f"given network {type(net).__name__}"
    for k in start_scales if {"sifid", "diversity"} & set(metrics) else ():
        x = from_scale(run, n, seed, k)
        row = {"start_scale": k}
        if "sifid" in metrics:
            row["sifid"] = sifid(real, x, net)[0]
        if "diversity" in metrics:
            row["diversity"] = diversity(x, real)
        out["rows"].append(row)
    if "reconstruction" in metrics:
        rec = run.model.reconstruct(int(run.model.scale))  # mid-training: a coarser scale
        if rec.shape[-2:] != real.shape[-2:]:
            rec = torch.nn.functional.interpolate(rec, size=real.shape[-2:], mode="bicubic",
                                                  antialias=True)  # fmt: skip
        out["reconstruction_psnr"] = psnr(display(run, rec), real)
    return out
