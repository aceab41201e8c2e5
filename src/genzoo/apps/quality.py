"""Sample quality of any run that can sample: its samples against real images of its data,
as the model sees them (the run's transform), in genzoo's feature network for the data."""

from __future__ import annotations

import torch

from genzoo.core.capabilities import Capability
from genzoo.core.errors import GenzooError


def run_samples(run, n: int, seed: int = 0, batch_size: int = 500) -> torch.Tensor:
    """n samples in [0, 1] for display and metrics, (n, C, H, W), drawn in batches."""
    from genzoo.apps.grid import to_unit_range

    torch.manual_seed(seed)
    x = torch.cat([run.model.sample(min(batch_size, n - i)).cpu() for i in range(0, n, batch_size)])
    return to_unit_range(x, run.model.data.n_values, run.transform.scale)


def evaluate_samples(run, metrics, n: int, split: str = "test", seed: int = 0, data_root=None):
    """(the metrics of `genzoo.metrics.quality.sample_metrics`, the feature network's info)."""
    from genzoo.apps.grid import to_unit_range
    from genzoo.apps.latent import run_inputs
    from genzoo.metrics.features import LABELLED_TWIN, feature_network
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
    net, info = feature_network(LABELLED_TWIN.get(run.data_name, run.data_name), data_root)
    splits = load_splits(run.data_name, data_root, run.train_config)
    reference = run_inputs(run, splits, split)[:n]
    reference = to_unit_range(reference, model.data.n_values, run.transform.scale)
    return sample_metrics(run_samples(run, n, seed), reference, net, metrics), info
