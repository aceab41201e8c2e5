"""Sample quality of any run that can sample: its samples against real images of its data,
as the model sees them (the run's transform), in genzoo's feature network for the data or,
given the standard weights, in the FID Inception-v3."""

from __future__ import annotations

import torch

from genzoo.core.capabilities import Capability
from genzoo.core.errors import GenzooError


def run_samples(run, n: int, seed: int = 0, batch_size: int = 500) -> torch.Tensor:
    """n samples in [0, 1] for display and metrics, (n, C, H, W), drawn in batches."""
    from genzoo.core.progress import progress
    from genzoo.io.images import to_unit_range

    torch.manual_seed(seed)
    starts = progress(range(0, n, batch_size), desc=f"sampling {n:,} from {run.model_name}",
                      unit="batch")  # fmt: skip
    x = torch.cat([run.model.sample(min(batch_size, n - i)).cpu() for i in starts])
    return to_unit_range(x, run.model.data.n_values, run.transform.scale)


def evaluate_samples(
    run,
    metrics,
    n: int,
    split: str = "test",
    seed: int = 0,
    data_root=None,
    inception=None,
    splits=None,
):
    """(the metrics of `genzoo.metrics.quality.sample_metrics`, the feature network's info).

    inception: a safetensors file of the FID Inception-v3 weights, whose pool3 features
    (and logits, for IS) replace genzoo's feature network; info then holds its "sha256",
    "stand_in" and "identifier". splits: the run's data if already loaded (as `load_splits`
    gives it), else loaded here.
    """
    from genzoo.apps.latent import run_inputs
    from genzoo.io.images import to_unit_range
    from genzoo.metrics.features import LABELLED_TWIN, feature_network
    from genzoo.metrics.inception import load_inception
    from genzoo.metrics.quality import METRICS, sample_metrics
    from genzoo.train.run import load_splits

    model = run.model
    if Capability.SAMPLE not in model.capabilities:
        model.sample(1)  # raises the model's own explanation
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise GenzooError(f"--metrics takes a list of {', '.join(METRICS)}; got {metrics}")
    if n < 10:
        raise GenzooError("--n must be at least 10")
    if inception is not None:
        net = load_inception(inception).to(model.device)
        identifier = f"inception-v3-{net.sha256[:12]}"
        info = {"identifier": identifier, "sha256": net.sha256, "stand_in": net.stand_in}
    else:
        net, info = feature_network(LABELLED_TWIN.get(run.data_name, run.data_name), data_root)
    if splits is None:
        splits = load_splits(run.data_name, data_root, run.train_config)
    reference = run_inputs(run, splits, split)[:n]
    reference = to_unit_range(reference, model.data.n_values, run.transform.scale)
    samples = run_samples(run, n, seed)
    return sample_metrics(samples, reference, net, metrics), info


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
