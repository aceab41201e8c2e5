"""Sample quality of any run that can sample: its samples against real images of its data,
as the model sees them (the run's transform), in genzoo's feature network for the data or,
given the standard weights, in the FID Inception-v3."""

from __future__ import annotations

import torch

from genzoo.core.capabilities import Capability
from genzoo.core.errors import GenzooError


def run_samples(run, n: int, seed: int = 0, batch_size: int = 500,
                options: dict[str, float] | None = None) -> torch.Tensor:  # fmt: skip
    """n samples in [0, 1] for display and metrics, (n, C, H, W), drawn in batches, with
    the model's sampling options (e.g. {"truncation": 0.7})."""
    from genzoo.core.progress import progress
    from genzoo.io.images import to_unit_range

    torch.manual_seed(seed)
    starts = progress(range(0, n, batch_size), desc=f"sampling {n:,} from {run.model_name}",
                      unit="batch")  # fmt: skip
    x = torch.cat([run.model.sample(min(batch_size, n - i), **(options or {})).cpu()
                   for i in starts])  # fmt: skip
    return to_unit_range(x, run.model.data.n_values, run.transform.scale)


# what each metric measures by default when no --n is given: FID & co. at the usual 10k;
# SWD at 2,048 images (the paper: 16,384), MS-SSIM over the pairs of 2,048 images, PPL over
# 2,000 paths (the paper: 100,000), so that a CPU finishes them in a minute or two
DEFAULT_N = {"fid": 10_000, "kid": 10_000, "is": 10_000, "pr": 10_000, "swd": 2048,
             "msssim": 2048, "ppl": 2000}  # fmt: skip
SAMPLE_METRICS = tuple(DEFAULT_N)
IMAGE_METRICS = ("fid", "kid", "is", "pr", "swd", "msssim")  # on a set of samples


def evaluate_samples(
    run,
    metrics,
    n: int | None,
    split: str = "test",
    seed: int = 0,
    data_root=None,
    inception=None,
    splits=None,
    options: dict[str, float] | None = None,
):
    """(metrics, the feature network's info, or None when no metric uses one).

    metrics: any of fid, kid, is, pr (`genzoo.metrics.quality.sample_metrics`), swd and
    msssim (`genzoo.metrics.pixel_space`: "swd", "swd_levels", "swd_resolutions", "n_swd";
    "msssim" of the samples' pairs and "msssim_real" of the split's, "n_pairs") and ppl
    (`genzoo.metrics.path_length`: "ppl_z_full", "ppl_z_end" and, for a style-based
    generator, "ppl_w_full", "ppl_w_end"; "n_paths"). n: samples (paths for ppl) of every
    metric; None: DEFAULT_N of each. Every image metric uses the first of one set of
    samples drawn with `seed`, and the first images of the split as the reference.
    inception: a safetensors file of the FID Inception-v3 weights, whose pool3 features
    (and logits, for IS) replace genzoo's feature network; info then holds its "sha256",
    "stand_in" and "identifier". splits: the run's data if already loaded (as `load_splits`
    gives it), else loaded here. options: the model's sampling options for the image
    metrics' samples (checked against those it declares), e.g. {"truncation": 0.7}.
    """
    from genzoo.apps.latent import run_inputs
    from genzoo.apps.sampling import check_options
    from genzoo.io.images import to_unit_range
    from genzoo.metrics.features import LABELLED_TWIN, feature_network
    from genzoo.metrics.inception import load_inception
    from genzoo.metrics.quality import METRICS, sample_metrics
    from genzoo.train.run import load_splits

    model = run.model
    unknown = [m for m in metrics if m not in SAMPLE_METRICS]
    if unknown or not metrics:
        raise GenzooError(f"--metrics takes a list of {', '.join(SAMPLE_METRICS)}; got "
                          f"{', '.join(metrics) or 'none'}")  # fmt: skip
    image_metrics = [m for m in metrics if m in IMAGE_METRICS]
    if image_metrics and Capability.SAMPLE not in model.capabilities:
        model.sample(1)  # raises the model's own explanation
    if n is not None and n < 10:
        raise GenzooError("--n must be at least 10")
    if "ppl" in metrics and inception is not None:
        raise GenzooError("--inception applies to fid, kid, is and pr; ppl measures in "
                          "genzoo's feature network")  # fmt: skip
    options = check_options(model, dict(options or {}))
    wanted = {m: n or DEFAULT_N[m] for m in metrics}
    net, info = None, None
    if inception is not None:
        net = load_inception(inception).to(model.device)
        identifier = f"inception-v3-{net.sha256[:12]}"
        info = {"identifier": identifier, "sha256": net.sha256, "stand_in": net.stand_in}
    elif {"fid", "kid", "is", "pr", "ppl"} & set(metrics):
        net, info = feature_network(LABELLED_TWIN.get(run.data_name, run.data_name), data_root)
        net = net.to(model.device)
    result: dict = {}
    if image_metrics:
        if splits is None:
            splits = load_splits(run.data_name, data_root, run.train_config)
        n_images = max(wanted[m] for m in image_metrics)
        reference = run_inputs(run, splits, split)[:n_images]
        reference = to_unit_range(reference, model.data.n_values, run.transform.scale)
        samples = run_samples(run, n_images, seed, options=options)
        result |= {"n_samples": len(samples), "n_reference": len(reference)}
        classic = [m for m in image_metrics if m in METRICS]
        if classic:
            k = max(wanted[m] for m in classic)
            result |= sample_metrics(samples[:k], reference[:k], net, classic)
        result |= _pixel_metrics(samples, reference, wanted, seed)
    if "ppl" in metrics:
        result |= _path_lengths(run, net, wanted["ppl"], seed)
    return result, info


def _pixel_metrics(samples, reference, wanted, seed) -> dict:
    from genzoo.metrics.pixel_space import ms_ssim_diversity, sliced_wasserstein_distance

    result = {}
    if "swd" in wanted:
        m = min(wanted["swd"], len(samples), len(reference))  # equal sets, as the paper's
        result |= sliced_wasserstein_distance(reference[:m], samples[:m], seed=seed)
        result["n_swd"] = m
    if "msssim" in wanted:
        m = wanted["msssim"]
        result["msssim"], result["n_pairs"] = ms_ssim_diversity(samples[:m], seed)
        result["msssim_real"], result["n_pairs_real"] = ms_ssim_diversity(reference[:m], seed)
    return result


def _path_lengths(run, net, n: int, seed: int) -> dict:
    """PPL in Z (any model with noise and decode_noise) and, for a style-based generator,
    in W; full and end paths; images in [0, 1] through the run's display transform."""
    from genzoo.core.progress import progress
    from genzoo.io.images import to_unit_range
    from genzoo.metrics.path_length import perceptual_path_length

    model = run.model
    if Capability.NOISE not in model.capabilities:
        raise GenzooError(f"{run.model_name} does not expose its noise z: ppl needs a model "
                          "that generates from z (gan, dcgan, progan, stylegan, vae)")  # fmt: skip
    spaces = ["z"] + (["w"] if Capability.STYLES in model.capabilities else [])
    runs = [(space, sampling) for space in spaces for sampling in ("full", "end")]

    def to_unit(x):
        return to_unit_range(x, model.data.n_values, run.transform.scale)

    result = {"n_paths": n}
    for space, sampling in progress(runs, desc=f"PPL, {n:,} paths each", unit="path set"):
        r = perceptual_path_length(model, net.features, space=space, sampling=sampling, n=n,
                                   seed=seed, to_unit=to_unit)  # fmt: skip
        result[f"ppl_{space}_{sampling}"] = r["ppl"]
    return result


def evaluate_translations(
    run, split: str = "test", n: int | None = None, seed: int = 0, data_root=None, splits=None
) -> tuple[dict[str, float], dict]:
    """(metrics, the feature network's info) of a translation run's outputs on a split, in
    genzoo's feature network for the task, a classifier trained on its target images and
    labels (genzoo.metrics.features):

    - a paired task (pix2pix, cyclegan's a2b): "fid" of the outputs G(source) against the
      split's real targets, "identity_fid" of the inputs themselves (the baseline), and
      the pix2pix paper's FCN-score idea: "accuracy", the classifier's accuracy on the
      outputs against the targets' labels, beside "target_accuracy", its accuracy on the
      real targets (the ceiling a translation can reach);
    - attribute domains (stargan): every input translated to its own attributes with each
      one flipped in turn; "class_kept" is the share of outputs the classifier puts in the
      input's class, beside "input_accuracy" on the unchanged inputs.

    The first n examples of the split (all by default); one dropout draw seeded by `seed`.
    """
    from genzoo.metrics.features import LABELLED_TWIN, feature_network
    from genzoo.train.run import load_splits

    if Capability.TRANSLATE not in run.model.capabilities:
        raise GenzooError(f"{run.model_name} does not translate images")
    if splits is None:
        splits = load_splits(run.data_name, data_root, run.train_config)
    labels = getattr(splits, f"{split}_labels")
    if labels is None:
        raise GenzooError(f"{run.data_name} has no labels: its translations cannot be "
                          "classified")  # fmt: skip
    net, info = feature_network(LABELLED_TWIN.get(run.data_name, run.data_name), data_root)
    with torch.no_grad():
        return _translation_quality(run, splits, split, labels, n, seed, net), info


def _translation_quality(run, splits, split, labels, n, seed, net) -> dict[str, float]:
    from genzoo.io.images import to_unit_range
    from genzoo.metrics.features import accuracy
    from genzoo.metrics.quality import sample_metrics
    from genzoo.metrics.translation import translate_batch
    from genzoo.train.run import translation_pairs

    model, transform, cfg = run.model, run.transform, run.train_config
    g = torch.Generator().manual_seed(seed)
    bs = cfg.batch_size

    def unit(x):
        return to_unit_range(x.cpu(), None, transform.scale)

    if getattr(model, "attribute_names", ()):
        x = transform.fixed(splits.split(split), split)[:n]
        c, y = splits.attributes.split(split)[: len(x)], labels[: len(x)]
        kept = []
        for k in range(c.shape[1]):
            target = c.clone()
            target[:, k] = 1 - target[:, k]
            out = torch.cat([unit(translate_batch(model, x[i : i + bs], g, target=target[
                i : i + bs])) for i in range(0, len(x), bs)])  # fmt: skip
            kept.append(accuracy(net, out, y))
        return {"n_examples": len(x), "class_kept": sum(kept) / len(kept),
                "input_accuracy": accuracy(net, unit(x), y)}  # fmt: skip
    source, target = translation_pairs(splits, transform, split)
    source, target, y = source[:n], target[:n], labels[:n]
    out = torch.cat([unit(translate_batch(model, source[i : i + bs], g))
                     for i in range(0, len(source), bs)])  # fmt: skip
    target = unit(target)
    r = sample_metrics(out, target, net, ["fid"])
    metrics = {"n_examples": len(out), "fid": r["fid"], "accuracy": accuracy(net, out, y),
               "target_accuracy": accuracy(net, target, y)}  # fmt: skip
    inputs = unit(source)
    if inputs.shape == target.shape:
        metrics["identity_fid"] = sample_metrics(inputs, target, net, ["fid"])["fid"]
    return metrics
