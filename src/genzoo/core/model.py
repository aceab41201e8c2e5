"""The model protocol: a plain `nn.Module` that declares what it can do and owns its training.

A model is built from its config dataclass and a `DataInfo` (the shape and value type of
the data). The trainer knows nothing about any particular model; it talks to every one
through this contract:

    configure_optimizers(lr, weight_decay) -> {name: Optimizer}
    training_step(batch, step, optimizers, backward) -> {"loss": scalar, ...}  detached logs
    on_train_step_end(step)            optional: EMA weights, fade-in, stage changes
    train_state() / load_train_state() optional: JSON state that resume must restore
    validation_nll(x) -> (B,)          models with a `validation_metric`

`batch` maps stream names to tensors: "x", the data the model learns p(x) of, and "label"
for models that list it in `streams`. `backward(loss, inputs=params)` is the trainer's
(Fabric's) backward: the trainer averages gradients across processes and clips them just
before each optimizer step, so a model may take any number of steps per batch.

Models that minimise one objective with one optimizer (every likelihood model) define
`objective(x)` and inherit `training_step`; adversarial ones write their own alternating
steps with `gradient_step`, as in their paper's algorithm.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core.capabilities import Capability, SampleOption
from genzoo.core.config import validate
from genzoo.core.errors import GenzooError


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data."""

    shape: tuple[int, ...]  # one example, e.g. (1, 28, 28)
    n_values: int | None  # 2: binary, K: categorical on {0..K-1}, None: continuous
    # the names of the "attributes" stream's entries, where the data has one (morpho-mnist)
    attributes: tuple[str, ...] = ()

    @property
    def n_dims(self) -> int:
        return math.prod(self.shape)

    @property
    def kind(self) -> str:
        if self.n_values is None:
            return "continuous"
        return "binary" if self.n_values == 2 else "categorical"

    def to_json(self) -> dict:
        d = {"shape": list(self.shape), "n_values": self.n_values}
        return d | {"attributes": list(self.attributes)} if self.attributes else d

    @classmethod
    def from_json(cls, d: dict) -> DataInfo:
        return cls(shape=tuple(d["shape"]), n_values=d["n_values"],
                   attributes=tuple(d.get("attributes", ())))  # fmt: skip


class GenerativeModel(nn.Module):
    """Base class of every genzoo model."""

    Config: ClassVar[type]
    capabilities: ClassVar[Capability]
    data_kinds: ClassVar[frozenset[str]] = frozenset({"binary"})
    # the named data streams a batch must carry: "x" always; "label" for models that learn
    # from class labels (a conditional GAN); an instance may add to them from its config
    streams: tuple[str, ...] = ("x",)
    # the default training_step's chunk: forward/backward this many examples at a time,
    # gradients accumulated (None: the whole batch); TrainConfig.micro_batch overrides it
    micro_batch: int | None = None
    # True: the model sets its own learning rates (in training_step or on_train_step_end),
    # and the trainer's lr_schedule must stay "constant"
    schedules_own_lr: ClassVar[bool] = False
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
    # keyword options that `sample` takes, e.g. a GAN's truncation (see SampleOption)
    sample_options: ClassVar[tuple[SampleOption, ...]] = ()
    progress_grids: ClassVar[bool] = False  # the trainer saves a fixed-noise grid per epoch
    # True: sample(n, size=(H, W)) draws images of another size than the data's (SinGAN)
    sample_sizes: ClassVar[bool] = False
    # False: the streams a model names must be paired (of one domain, e.g. pix2pix's input
    # and target); True: it learns from unpaired ones too (CycleGAN's two collections)
    unpaired: ClassVar[bool] = False
    # False: the trainer's augment (flip, crop) would break what the batch's streams say
    # about its images (Puzzle-GAN's patches' places do not move with a flip)
    augmentable: ClassVar[bool] = True

    def __init__(self, config, data: DataInfo):
        super().__init__()
        if data.kind not in self.data_kinds:
            kinds = ", ".join(sorted(self.data_kinds))
            raise GenzooError(
                f"{type(self).__name__} models {kinds} data, but the data is {data.kind} "
                f"(set binarize=static or dynamic for grey-level data)"
            )
        validate(config)  # each field's declared range and choices (genzoo.core.config)
        self.config = config
        self.data = data

    @property
    def uses_labels(self) -> bool:
        return "label" in self.streams

    def configure_optimizers(
        self, lr: float, weight_decay: float = 0.0
    ) -> dict[str, torch.optim.Optimizer]:
        """The optimizers that training_step steps, by name: Adam at the training config's
        rate, unless a model's paper says otherwise (a GAN's config carries its paper's
        optimizers). With lr_schedule, the trainer scales every group's rate from these."""
        return {"model": torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)}

    def objective(self, x: Tensor) -> dict[str, Tensor]:
        """The loss that the default training_step minimises, {"loss": scalar, ...}; further
        entries (detached) are logged."""
        raise NotImplementedError

    def training_step(
        self,
        batch: dict[str, Tensor],
        step: int,
        optimizers: dict[str, torch.optim.Optimizer],
        backward: Callable[..., None],
    ) -> dict[str, Tensor]:
        """All optimizer steps of one batch; returns detached logs, at least {"loss": ...}.

        The default is one step of `objective` with the one optimizer, its gradient
        accumulated over chunks of `micro_batch` examples. Models that take several steps
        per batch override this and build each with `gradient_step`."""
        (optimizer,) = optimizers.values()
        optimizer.zero_grad(set_to_none=True)
        logs = accumulate_gradients(self.objective, batch["x"], self.micro_batch, backward)
        optimizer.step()
        return logs

    def objective_note(self) -> str | None:
        """A line for run reports when the training objective was not the reported one
        (a VAE trained with beta != 1); None otherwise."""
        return None

    def planned_steps(self) -> int | None:
        """The length of the model's own training schedule in steps (SinGAN: its scales ×
        steps per scale), which `genzoo train` uses when neither max_steps nor epochs is
        set; None: the trainer's epochs decide."""
        return None

    def on_train_step_end(self, step: int) -> None:
        """Called after every training step (`step` counts from 1): EMA weights, fade-in,
        stage changes. Nothing by default."""

    def train_state(self) -> dict:
        """JSON-able state beyond the weights and buffers that resume must restore."""
        return {}

    def load_train_state(self, state: dict) -> None:
        """Restore what train_state returned."""

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


def gradient_step(optimizer: torch.optim.Optimizer, loss: Tensor, params: list, backward) -> None:
    """One optimizer step that moves only `params`, by the gradient of `loss`.

    The optimizer's gradients are cleared to None and the backward pass computes only those
    of `params`; optimizers skip a parameter without a gradient, so e.g. a discriminator
    step cannot move the generator even though the loss depends on both, and even where one
    optimizer holds both (the AAE's).
    """
    optimizer.zero_grad(set_to_none=True)
    backward(loss, inputs=list(params))
    optimizer.step()


def plain_backward(loss: Tensor, **kwargs) -> None:
    """`loss.backward(**kwargs)`: the `backward` to hand training_step outside the trainer
    (tests, benchmarks); the trainer hands it Fabric's."""
    loss.backward(**kwargs)


def accumulate_gradients(objective, x: Tensor, micro_batch: int | None, backward) -> dict:
    """Backpropagate the batch's mean loss, in chunks of `micro_batch` examples when set.

    The chunks' losses are weighted by their share of the batch, so the gradient is the
    whole batch's (for models without batch statistics); a small chunk's activations stay
    in cache, which on CPU can be faster than one large pass. Returns the detached values.
    """
    chunks = x.split(micro_batch) if micro_batch and micro_batch < len(x) else (x,)
    totals: dict[str, Tensor] = {}
    for chunk in chunks:
        weight = len(chunk) / len(x)
        out = objective(chunk)
        backward(out["loss"] * weight)
        for key, value in out.items():
            totals[key] = totals.get(key, 0.0) + value.detach() * weight
    return totals


class LikelihoodModel(GenerativeModel):
    """A model with an exact log-likelihood, trained by maximum likelihood."""

    capabilities = Capability.SAMPLE | Capability.LOG_PROB

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x) in nats, shape (B,)."""
        raise NotImplementedError

    def objective(self, x: Tensor) -> dict[str, Tensor]:
        return {"loss": -self.log_prob(x).mean()}

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

    capabilities = Capability.SAMPLE | Capability.LOG_PROB | Capability.COMPLETE
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
