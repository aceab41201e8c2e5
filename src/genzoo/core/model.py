"""The model protocol: a plain `nn.Module` that declares what it can do and owns its objective.

A model is built from its config dataclass and a `DataInfo` (the shape and value type of
the data). The trainer only ever calls `training_step(x)` (or, for models that take several
optimizer steps per batch, such as adversarial ones, `update(x, optimizer)`) and
`validation_nll(x)`; it knows nothing about any particular model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core.capabilities import Capability
from genzoo.core.errors import GenzooError


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data."""

    shape: tuple[int, ...]  # one example, e.g. (1, 28, 28)
    n_values: int | None  # 2: binary, K: categorical on {0..K-1}, None: continuous

    @property
    def n_dims(self) -> int:
        return math.prod(self.shape)

    @property
    def kind(self) -> str:
        if self.n_values is None:
            return "continuous"
        return "binary" if self.n_values == 2 else "categorical"

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "n_values": self.n_values}

    @classmethod
    def from_json(cls, d: dict) -> DataInfo:
        return cls(shape=tuple(d["shape"]), n_values=d["n_values"])


class GenerativeModel(nn.Module):
    """Base class of every genzoo model."""

    Config: ClassVar[type]
    capabilities: ClassVar[Capability]
    data_kinds: ClassVar[frozenset[str]] = frozenset({"binary"})
    micro_batch: ClassVar[int | None] = None  # the trainer's default chunk (TrainConfig)
    # True: the model takes its own optimizer steps in `update(x, optimizer)` (e.g. the
    # alternating discriminator / generator steps of adversarial training)
    owns_updates: ClassVar[bool] = False
    uses_labels: ClassVar[bool] = False  # True: `update(x, optimizer, y)` gets the labels
    # what `validation_nll` measures, as logged: "nll" (exact), "neg_elbo" (an upper bound
    # on the NLL), "reconstruction" (the NLL of x given its own code: not a density), or
    # None: no validation loss (GANs)
    validation_metric: ClassVar[str | None] = "nll"
    # continuous data: its range ("unit" [0, 1] or "symmetric" [−1, 1]) and whether to
    # dequantise 8-bit levels (so that densities give the NLL of the discrete data)
    continuous_scale: ClassVar[str] = "unit"
    dequantize_continuous: ClassVar[bool] = True
    # where continuous samples lie: the data's range, or None where the density's support
    # is unbounded (a Gaussian's)
    sample_range: ClassVar[tuple[float, float] | None] = (0.0, 1.0)
    progress_grids: ClassVar[bool] = False  # the trainer saves a fixed-noise grid per epoch

    def __init__(self, config, data: DataInfo):
        super().__init__()
        if data.kind not in self.data_kinds:
            kinds = ", ".join(sorted(self.data_kinds))
            raise GenzooError(
                f"{type(self).__name__} models {kinds} data, but the data is {data.kind} "
                f"(set binarize=static or dynamic for grey-level data)"
            )
        self.config = config
        self.data = data

    def training_step(self, x: Tensor) -> dict[str, Tensor]:
        """One step of the model's own objective; returns at least {"loss": scalar}."""
        raise NotImplementedError

    def update(self, x: Tensor, optimizer: torch.optim.Optimizer) -> dict[str, Tensor]:
        """Models with `owns_updates`: all optimizer steps of one batch; returns detached
        logs, at least {"loss": scalar}. Build each step with `gradient_step`."""
        raise NotImplementedError

    def make_optimizer(self, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
        """The optimizer the trainer steps: Adam at the training config's rate, unless a
        model's paper says otherwise (a GAN's config carries its paper's optimizer). The
        trainer's schedule scales every group's rate from what this returns."""
        return torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)

    def validation_nll(self, x: Tensor) -> Tensor:
        """Per-example negative log-likelihood (or what `validation_metric` names) in nats,
        shape (B,). The trainer early-stops on its mean."""
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        if Capability.SAMPLE not in self.capabilities:
            reason = getattr(self, "why_no_samples", "it declares no SAMPLE capability")
            raise GenzooError(f"{type(self).__name__} cannot sample: {reason}")
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def gradient_step(optimizer: torch.optim.Optimizer, loss: Tensor, params: list) -> None:
    """One optimizer step that moves only `params`, by the gradient of `loss`.

    The gradients of every other parameter are left as None, and optimizers skip a
    parameter without a gradient, so e.g. a discriminator step cannot move the generator
    even though the loss depends on both.
    """
    optimizer.zero_grad(set_to_none=True)
    grads = torch.autograd.grad(loss, params)
    for p, g in zip(params, grads, strict=True):
        p.grad = g
    optimizer.step()


class LikelihoodModel(GenerativeModel):
    """A model with an exact log-likelihood, trained by maximum likelihood."""

    capabilities = Capability.SAMPLE | Capability.LOG_PROB

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x) in nats, shape (B,)."""
        raise NotImplementedError

    def training_step(self, x: Tensor) -> dict[str, Tensor]:
        loss = -self.log_prob(x).mean()
        return {"loss": loss}

    def validation_nll(self, x: Tensor) -> Tensor:
        return -self.log_prob(x)


def discrete_log_prob(logits: Tensor, x: Tensor, n_values: int) -> Tensor:
    """Elementwise log p(x) under Bernoulli (logits (B, D)) or categorical (logits (B, D, K))."""
    if n_values == 2:
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return torch.log_softmax(logits, dim=-1).gather(-1, x.long().unsqueeze(-1)).squeeze(-1)


def discrete_sample(logits: Tensor, n_values: int, generator=None) -> Tensor:
    """Draw x ~ Bernoulli(sigmoid(logits)) or Categorical(softmax(logits)), as floats."""
    if n_values == 2:
        return torch.bernoulli(torch.sigmoid(logits), generator=generator)
    probs = torch.softmax(logits, dim=-1)
    flat = probs.reshape(-1, n_values)
    return torch.multinomial(flat, 1, generator=generator).reshape(probs.shape[:-1]).float()


class AutoregressiveModel(LikelihoodModel):
    """p(x) = Π_d p(x_d | x_<d) over a fixed ordering of the dimensions.

    Subclasses define `conditionals(x)`: the logits of every conditional p(x_d | x_<d),
    indexed by dimension d (not by position in the ordering), shape (B, D) for binary data
    and (B, D, K) for K-valued data. `order[t]` is the dimension generated t-th.
    """

    order: Tensor

    def conditionals(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def log_prob(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], -1)
        logits = self.conditionals(x)
        return discrete_log_prob(logits, x, self.data.n_values).sum(dim=1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Generic ancestral sampling: one full pass of `conditionals` per dimension."""
        x = torch.zeros(n, self.data.n_dims, device=self.device, dtype=self.dtype)
        for d in self.order.tolist():
            logits = self.conditionals(x)[:, d]
            x[:, d] = discrete_sample(logits, self.data.n_values, generator)
        return x.reshape(n, *self.data.shape)

    @torch.no_grad()
    def complete(self, x: Tensor, known: Tensor, generator: torch.Generator | None = None):
        """Sample the dimensions of x (B, *shape) where `known` is False, in the model's
        order, each given everything before it; known values are kept as they are."""
        n = x.shape[0]
        x = x.to(device=self.device, dtype=self.dtype).reshape(n, -1).clone()
        known = known.to(self.device).expand(n, *self.data.shape).reshape(n, -1)
        for d in self.order.tolist():
            value = discrete_sample(self.conditionals(x)[:, d], self.data.n_values, generator)
            x[:, d] = torch.where(known[:, d], x[:, d], value)
        return x.reshape(n, *self.data.shape)
