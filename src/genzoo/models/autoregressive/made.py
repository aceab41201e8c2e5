"""MADE: masked autoencoder for distribution estimation, for binary data.

M. Germain, K. Gregor, I. Murray and H. Larochelle, "MADE: Masked Autoencoder for
Distribution Estimation", ICML 2015, arXiv:1502.03509.

An autoencoder whose connections are masked so that output d only sees the inputs that
come before d in an ordering. Its outputs are then the conditionals of

    p(x) = Π_d p(x_d | x_<d),    p(x_d = 1 | x_<d) = x̂_d

and one forward pass gives all of them:

    h^0 = x,   h^l = g(b^l + (W^l ⊙ M^{W^l}) h^{l-1})        l = 1..L
    x̂ = sigm(c + (V ⊙ M^V) h^L  [+ (A ⊙ M^A) x])              (A: direct connections)

Each unit gets a degree m: m^0(d) ∈ {1..D} is d's position in the ordering, and hidden
degrees are drawn m^l(k) ~ U{min_k' m^{l-1}(k'), ..., D-1}. The masks are

    M^{W^l}[k, k'] = 1[m^l(k) ≥ m^{l-1}(k')]                  (Eq. 12)
    M^V[d, k]      = 1[m^0(d) > m^L(k)]                        (Eq. 13)
    M^A[d, d']     = 1[m^0(d) > m^0(d')]

so any path from input d' to output d has m^0(d') ≤ ... ≤ m^L(k) < m^0(d).

Order- and connectivity-agnostic training (Sec. 4.3-4.4): each step uses one mask set
(an ordering and hidden degrees), either cycling through `n_masks` sets drawn once
(kept in buffers, so they are saved with the model) or drawing a fresh one every step.
At test time the masks are an ensemble:

    log p(x) = log (1/M) Σ_m p_m(x)

Deviations from the paper:
- With `resample="every_step"`, `log_prob` averages over the `n_masks` stored sets, not
  over newly drawn ones, so that it is deterministic.
- With several mask sets and `resample="fixed_set"`, steps cycle through the sets in order.
- Weights use PyTorch's Linear initialisation by default; the paper does not fix one.

The authors' released code (github.com/mgermain/MADE, trainMADE.py and its README's
binarized-MNIST command) trains with Adagrad at lr 0.01, orthogonal weights and zero biases,
batch 100, early stopping with a look-ahead of 30 epochs, and direct input-to-output
connections. `optimizer="adagrad"` (set the trainer's `lr=0.01`) and `init="orthogonal"`
select the first two; `direct=True` the last. That command's network has two hidden layers
of 8000 units, not 500.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

import torch
from torch import Tensor, nn

from genzoo.core import AutoregressiveModel, DataInfo, GenzooError, register
from genzoo.core.config import at_least
from genzoo.models.autoregressive.ordering import pixel_order
from genzoo.nn.masked import MaskedLinear


@dataclass
class MADEConfig:
    # Sec. 6: one hidden layer of 500 units
    hidden_dims: tuple[int, ...] = field(default=(500,), metadata=at_least(1))
    activation: Literal["relu", "sigmoid"] = "relu"  # Sec. 6: ReLU hidden units
    direct: bool = False  # Sec. 4: optional direct input-to-output connections
    # Sec. 4.3-4.4: 1 = one ordering and connectivity, as in Sec. 6's base
    n_masks: int = field(default=1, metadata=at_least(1))
    resample: Literal["fixed_set", "every_step"] = "fixed_set"  # Sec. 4.3-4.4
    order: Literal["raster", "random"] = "raster"  # first mask's ordering; the "natural" one
    # not in the paper; seeds the stored mask sets
    order_seed: int = field(default=0, metadata=at_least(0))
    # Sec. 4.4 test-time ensembles; None: all n_masks sets
    eval_masks: int | None = field(default=None, metadata=at_least(1))
    # Not in the paper; the authors' released code: Adagrad (with the trainer's lr = 0.01)
    # and orthogonal weights with zero biases. Defaults: Adam and PyTorch's Linear init.
    optimizer: Literal["adam", "adagrad"] = "adam"
    init: Literal["torch", "orthogonal"] = "torch"


def made_masks(degrees: list[Tensor]) -> tuple[list[Tensor], Tensor, Tensor]:
    """Masks from degrees [m^0 (D,), m^1 (H_1,), ..., m^L (H_L,)].

    Returns the hidden masks M^{W^l} (H_l, H_{l-1}), M^V (D, H_L) and M^A (D, D).
    """
    m0 = degrees[0]
    hidden = [(m[:, None] >= m_prev[None, :]).float() for m_prev, m in pairwise(degrees)]
    M_V = (m0[:, None] > degrees[-1][None, :]).float()  # Eq. 13
    M_A = (m0[:, None] > m0[None, :]).float()
    return hidden, M_V, M_A


def draw_degrees(
    order: Tensor, hidden_dims: tuple[int, ...], generator: torch.Generator | None
) -> list[Tensor]:
    """m^0 from an ordering (order[t] is the dimension at position t+1), hidden m^l at random."""
    D = order.numel()
    m0 = torch.empty(D, dtype=torch.long)
    m0[order] = torch.arange(1, D + 1)
    degrees = [m0]
    for H in hidden_dims:
        low = min(int(degrees[-1].min()), D - 1)
        degrees.append(torch.randint(low, max(D, low + 1), (H,), generator=generator))
    return degrees


@register(
    "made",
    family="autoregressive",
    description="MADE: masked autoencoder, all conditionals in one pass; mask ensembles",
)
class MADE(AutoregressiveModel):
    Config = MADEConfig

    def __init__(self, config: MADEConfig, data: DataInfo):
        super().__init__(config, data)
        if config.n_masks < 1:
            raise GenzooError(f"n_masks must be at least 1, not {config.n_masks}")
        if not config.hidden_dims:
            raise GenzooError("hidden_dims must name at least one hidden layer, e.g. (500,)")
        D = data.n_dims
        sizes = (D, *config.hidden_dims)
        self.W = nn.ModuleList(MaskedLinear(i, o) for i, o in pairwise(sizes))
        self.V = MaskedLinear(sizes[-1], D)  # its bias is the paper's c
        self.A = MaskedLinear(D, D, bias=False) if config.direct else None
        self.g = nn.ReLU() if config.activation == "relu" else nn.Sigmoid()
        if config.init == "orthogonal":
            self._init_orthogonal()

        # The stored mask sets: degrees m^l for every set, (n_masks, size of layer l).
        generator = torch.Generator().manual_seed(config.order_seed)
        first = pixel_order(config.order, data.shape, config.order_seed)
        sets = []
        for i in range(config.n_masks):
            order = first if i == 0 else torch.randperm(D, generator=generator)
            sets.append(draw_degrees(order, config.hidden_dims, generator))
        # the network's t-th input and output unit is data dimension inputs[t]
        self.register_buffer("inputs", torch.arange(D))
        if config.n_masks == 1 and config.resample == "fixed_set":
            self._sort_hidden_units(sets[0])
            self._sort_inputs(sets[0])
        self.register_buffer("inputs_back", torch.argsort(self.inputs), persistent=False)
        for layer in range(len(sizes)):
            self.register_buffer(f"degrees_{layer}", torch.stack([s[layer] for s in sets]))
        self.register_buffer("order", first.clone())
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        # which stored set the mask buffers hold; None: unknown (arbitrary degrees, or
        # buffers loaded from a state dict), so the next use_mask rebuilds them
        self._active_set: int | None = None
        self.register_load_state_dict_pre_hook(MADE._inputs_in_data_order)
        self.register_load_state_dict_post_hook(MADE._forget_active_set)
        self.use_mask(0)

    @torch.no_grad()
    def _sort_hidden_units(self, degrees: list[Tensor]) -> None:
        """Renumber each hidden layer's units in order of degree, moving their weights with
        them: the same network, drawn from the same seeds, now with masks that are staircases
        without reordering (MaskedLinear computes those fastest: genzoo.nn.staircase). Only
        for a single fixed mask set; the units of several sets cannot all be in order."""
        layers = [*self.W, self.V]
        for l in range(1, len(degrees)):
            perm = torch.argsort(degrees[l], stable=True)
            degrees[l] = degrees[l][perm]
            into, out_of = layers[l - 1], layers[l]
            into.weight.copy_(into.weight[perm])
            if into.bias is not None:
                into.bias.copy_(into.bias[perm])
            out_of.weight.copy_(out_of.weight[:, perm])

    @torch.no_grad()
    def _sort_inputs(self, degrees: list[Tensor]) -> None:
        """Take the data dimensions into the network in the ordering: unit t is the t-th
        dimension of the order (`inputs`), with its weights (columns of W^1, rows of V and
        the bias c, both sides of A). The same network again; only where its weights are
        stored changes, and with it the masks: M^{W^1}, M^V and M^A become staircases
        without reordering, computed in place (a random order's took gathering every weight
        block and scattering its gradient each step: benchmarks/made_step.py). x goes in
        as x[:, inputs], and the logits come out in data order."""
        perm = torch.argsort(degrees[0], stable=True)
        degrees[0] = degrees[0][perm]
        self.inputs.copy_(perm)
        first = self.W[0]
        first.weight.copy_(first.weight[:, perm])
        self.V.weight.copy_(self.V.weight[perm])
        self.V.bias.copy_(self.V.bias[perm])
        if self.A is not None:
            self.A.weight.copy_(self.A.weight[perm][:, perm])

    @staticmethod
    def _inputs_in_data_order(module: MADE, state_dict, prefix, *args) -> None:
        """Checkpoints written before `inputs` existed store every unit at its data
        dimension: load them as they are, with the identity for `inputs`."""
        key = prefix + "inputs"
        if key not in state_dict:
            state_dict[key] = torch.arange(module.data.n_dims)

    def _init_orthogonal(self) -> None:
        """Each weight (W^l, V, A) a semi-orthogonal matrix, each bias zero: orthonormal
        rows or columns, whichever is the shorter side. The masks are applied on top."""
        for layer in [*self.W, self.V, *([self.A] if self.A is not None else [])]:
            nn.init.orthogonal_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)

    def configure_optimizers(self, lr: float, weight_decay: float = 0.0) -> dict:
        """Adam (the default), or Adagrad as in the authors' code, at the trainer's lr.

        Adam is PyTorch's fused implementation: the same update, several times faster on
        CPU than the default for-each one on MADE's large weights (benchmarks/made_step.py).
        """
        if self.config.optimizer == "adagrad":
            return {
                "model": torch.optim.Adagrad(self.parameters(), lr=lr, weight_decay=weight_decay)
            }
        adam = torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
        return {"model": adam}

    # ------------------------------------------------------------ masks

    @property
    def n_eval_masks(self) -> int:
        wanted = self.config.eval_masks or self.config.n_masks
        return min(wanted, self.config.n_masks)

    def stored_degrees(self, m: int) -> list[Tensor]:
        return [getattr(self, f"degrees_{layer}")[m] for layer in range(len(self.W) + 1)]

    def set_degrees(self, degrees: list[Tensor]) -> None:
        """Make the mask set given by `degrees` the active one: the degrees of the network's
        units, the input units' m^0[t] that of data dimension inputs[t]."""
        self._active_set = None
        # the masks of made_masks, each with its staircase read off the degrees
        for layer, m_prev, m in zip(self.W, degrees, degrees[1:], strict=False):
            layer.set_degree_mask(m, m_prev, strict=False)  # Eq. 12
        self.V.set_degree_mask(degrees[0], degrees[-1], strict=True)  # Eq. 13
        if self.A is not None:
            self.A.set_degree_mask(degrees[0], degrees[0], strict=True)
        self.order.copy_(self.inputs[torch.argsort(degrees[0])])  # in data dimensions

    def use_mask(self, m: int) -> None:
        """Make stored mask set m (0 ≤ m < n_masks) the active one."""
        if not 0 <= m < self.config.n_masks:
            raise GenzooError(f"mask {m} does not exist; this MADE stores {self.config.n_masks}")
        if m != self._active_set:  # the buffers already hold set m: nothing to rebuild
            self.set_degrees(self.stored_degrees(m))
            self._active_set = m

    @staticmethod
    def _forget_active_set(module: MADE, incompatible_keys) -> None:
        module._active_set = None
        module.inputs_back.copy_(torch.argsort(module.inputs))

    def _active(self) -> tuple[list[Tensor], int | None]:
        masks = [b for name, b in self.named_buffers() if name.endswith("mask")] + [self.order]
        return [b.clone() for b in masks], self._active_set

    def _restore(self, saved: tuple[list[Tensor], int | None]) -> None:
        values, active_set = saved
        masks = [b for name, b in self.named_buffers() if name.endswith("mask")] + [self.order]
        for target, value in zip(masks, values, strict=True):
            target.copy_(value)
        self._active_set = active_set

    # ------------------------------------------------------------ the network

    def conditionals(self, x: Tensor) -> Tensor:
        """Logits of p(x_d = 1 | x_<d) under the active mask set, (B, D) by dimension."""
        x = x.reshape(x.shape[0], -1).to(self.V.weight.dtype)
        x = x.index_select(1, self.inputs)  # unit t is dimension inputs[t] (`_sort_inputs`)
        h = x
        for W_l in self.W:
            h = self.g(W_l(h))
        logits = self.V(h)
        if self.A is not None:
            logits = logits + self.A(x)
        return logits.index_select(1, self.inputs_back)  # in data order

    def log_prob_mask(self, x: Tensor, m: int) -> Tensor:
        """log p_m(x) under stored mask set m alone, (B,). The active set is kept."""
        if m == self._active_set:
            return super().log_prob(x)
        saved = self._active()
        self.use_mask(m)
        try:
            return super().log_prob(x)
        finally:
            self._restore(saved)

    def log_prob(self, x: Tensor) -> Tensor:
        """The ensemble log (1/M) Σ_m p_m(x) over the first `n_eval_masks` stored sets."""
        M = self.n_eval_masks
        if M == 1:
            return self.log_prob_mask(x, 0)
        log_p = torch.stack([self.log_prob_mask(x, m) for m in range(M)])  # (M, B)
        return torch.logsumexp(log_p, dim=0) - math.log(M)

    def objective(self, x: Tensor) -> dict[str, Tensor]:
        """One step on one mask set: −mean log p_m(x), m drawn per `resample`."""
        if self.config.resample == "every_step":
            order = torch.randperm(self.data.n_dims)  # global RNG: restored on resume
            self.set_degrees(draw_degrees(order, self.config.hidden_dims, None))
        else:
            self.use_mask(int(self.step) % self.config.n_masks)
            self.step += 1
        loss = -super().log_prob(x).mean()
        return {"loss": loss}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Samples of the ensemble: a mask set uniformly per sample, then ancestral sampling."""
        M = self.n_eval_masks
        which = torch.randint(M, (n,), generator=generator, device="cpu")
        x = torch.empty(n, *self.data.shape, device=self.device, dtype=self.V.weight.dtype)
        saved = self._active()
        try:
            for m in range(M):
                rows = (which == m).nonzero().squeeze(1)
                if rows.numel():
                    self.use_mask(m)
                    x[rows.to(x.device)] = super().sample(rows.numel(), generator).to(x.dtype)
        finally:
            self._restore(saved)
        return x
