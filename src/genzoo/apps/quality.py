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
