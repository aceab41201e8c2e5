"""Latent tools for the models that encode (autoencoder, VAE, AAE): codes of a dataset,
interpolations between two inputs, and the picture of the codes beside the prior."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from genzoo.core.capabilities import Capability
from genzoo.core.errors import GenzooError
from genzoo.io.images import save_figure


def require_encoder(model, name: str) -> None:
    if Capability.ENCODE not in model.capabilities:
        raise GenzooError(f"{name} has no encoder: use a run of ae, vae or aae")


def run_inputs(run, splits, split: str) -> Tensor:
    """A split as the run's model sees it (its transform; fixed noise for the random parts)."""
    x = run.transform.fixed(splits.split(split), split)
    return run.transform.batch(x, torch.Generator().manual_seed(run.train_config.seed))


@torch.no_grad()
def encode_all(model, x: Tensor, batch_size: int = 1000) -> Tensor:
    model.eval()
    return torch.cat([model.encode(x[i : i + batch_size].to(model.device)).cpu()
                      for i in range(0, len(x), batch_size)])  # fmt: skip


@torch.no_grad()
def interpolate(model, a: Tensor, b: Tensor, steps: int) -> Tensor:
    """Decoder means along the straight line between the codes of a and b: (steps, *shape)."""
    if steps < 2:
        raise GenzooError("--steps must be at least 2")
    z = model.encode(torch.stack([a, b]).to(model.device))
    t = torch.linspace(0, 1, steps, device=z.device)[:, None]
    return model.decode_mean((1 - t) * z[0] + t * z[1]).cpu()


def prior_samples(model, n: int, prior: str | None, generator=None) -> tuple[str, Tensor]:
    """Samples of the prior to compare codes with: `prior` if named, else the model's own
    (the VAE's N(0, I), the AAE's configured prior)."""
    from genzoo.models.latent.priors import get_prior

    name = prior or getattr(model.config, "prior", None)
    if name is None and Capability.ELBO in model.capabilities:
        name = "gaussian"
    if name is None:
        raise GenzooError("this model has no prior: name one with --prior (e.g. gaussian)")
    return name, get_prior(name)(n, model.config.latent_dim, generator)


def share_on_own_component(codes: Tensor, labels: Tensor) -> float:
    """The share of codes whose nearest mixture mean is their label's component: what a
    supervised AAE is trained for (0.1 by chance with ten classes)."""
    from genzoo.models.latent.priors import mixture_means

    nearest = torch.cdist(codes, mixture_means(codes.shape[1])).argmin(1)
    return (nearest == labels).float().mean().item()


def latent_figure(codes, labels, prior, prior_name: str, title: str, path) -> Path:
    """2-D codes coloured by label (left) beside samples of the prior (right), one scale."""
    from genzoo.io.images import pyplot

    fig, axes = pyplot().subplots(1, 2, figsize=(10, 5), sharex=True, sharey=True)
    colour = labels.numpy() if labels is not None else "tab:blue"
    points = axes[0].scatter(codes[:, 0], codes[:, 1], c=colour, cmap="tab10", s=2, alpha=0.6)
    axes[0].set_title(title)
    if labels is not None:
        fig.colorbar(points, ax=axes[0], label="label")
    axes[1].scatter(prior[:, 0], prior[:, 1], s=2, alpha=0.6, color="tab:gray")
    axes[1].set_title(f"prior samples: {prior_name}")
    for ax in axes:
        ax.set_aspect("equal", adjustable="box")
    fig.tight_layout()
    return save_figure(fig, path)
