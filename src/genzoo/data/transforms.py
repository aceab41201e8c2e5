"""From uint8 grey levels to what a model consumes: binary, categorical or continuous values.

A `Transform` works in two stages, so that what is random is explicit:

- `fixed(x, split)` runs once per split (deterministic, cacheable);
- `batch(x, generator)` runs on every training / evaluation batch (the fresh randomness of
  dynamic binarisation and of dequantisation).

Binarisation (L = number of grey levels):
- "threshold": x >= L/2 -> 1;
- "static": one Bernoulli(x / (L-1)) draw per split from a generator seeded by
  (seed, split), the same on every run (Salakhutdinov & Murray 2008);
- "dynamic": a fresh Bernoulli(x / (L-1)) draw for every batch.

Dequantisation (Theis et al. 2016, arXiv:1511.01844; Uria et al. 2013): for integer levels
x in {0..L-1}^D and u ~ U[0,1)^D,

    y = (x + u) / L                 (scale="unit", y in [0, 1))
    y = 2 (x + u) / L - 1           (scale="symmetric", y in [-1, 1))

i.e. y = (x + u) / dequant_scale + shift. A density p(y) then gives the discrete model
P(x) = ∫ p(y) dy over the cube of side 1/dequant_scale around x, and Jensen gives
log P(x) >= E_u[log p(y)] - D log(dequant_scale), which is exactly
`genzoo.core.units.dequantized_log_prob(log p(y), D, transform.dequant_scale)`. Reported
nats and bits/dim are then upper bounds on the discrete NLL, comparable with the papers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import torch

from genzoo.core.errors import GenzooError
from genzoo.core.model import DataInfo
from genzoo.data.splits import Splits

BINARIZE = ("none", "threshold", "static", "dynamic")
SCALE = ("levels", "unit", "symmetric")
CHUNK_ROWS = 4096  # static binarisation draws in chunks to bound the float32 noise buffer


@dataclass(frozen=True)
class Transform:
    n_levels: int  # grey levels L of the raw data: 2 (binary), 17 (digits), 256 (8-bit)
    binarize: Literal["none", "threshold", "static", "dynamic"] = "none"
    scale: Literal["levels", "unit", "symmetric"] = "unit"
    dequantize: bool = False
    seed: int = 0

    def __post_init__(self):
        if self.binarize not in BINARIZE:
            raise GenzooError(f"binarize={self.binarize!r}: expected one of {', '.join(BINARIZE)}")
        if self.scale not in SCALE:
            raise GenzooError(f"scale={self.scale!r}: expected one of {', '.join(SCALE)}")
        if self.n_levels < 2:
            raise GenzooError(f"n_levels={self.n_levels}: data needs at least 2 levels")
        if self.dequantize and self.binarize != "none":
            raise GenzooError("dequantize applies to grey levels: use it with binarize=none")
        if self.dequantize and self.scale == "levels":
            raise GenzooError(
                "dequantize gives continuous values: use scale=unit or symmetric, "
                "or drop dequantize to model the levels as categories"
            )
        if self.binarize != "none" and self.scale == "symmetric":
            raise GenzooError("binarized data is 0/1: use scale=unit with binarize")
        if self.n_levels == 2 and (self.dequantize or self.scale == "symmetric"):
            raise GenzooError(
                "this data is already binary (0/1): dequantize and scale=symmetric apply "
                "to grey-level data"
            )

    def data_info(self, splits: Splits) -> DataInfo:
        """What the model sees: binary, categorical over the levels, or continuous."""
        self._check_levels(splits.n_levels)
        L = self.n_levels
        shape = tuple(splits.train.shape[1:])
        names = splits.attributes.names if splits.attributes is not None else ()
        if self.binarize != "none" or L == 2:
            return DataInfo(shape, n_values=2, attributes=names)
        if self.scale == "levels":
            return DataInfo(shape, n_values=L, attributes=names)
        return DataInfo(shape, n_values=None, attributes=names)

    def fixed(self, x: torch.Tensor, split: str) -> torch.Tensor:
        """The once-per-split part: uint8 levels -> float32 (binary, scaled, or levels)."""
        if x.dtype != torch.uint8:
            raise GenzooError(f"Transform.fixed expects uint8 levels, got {x.dtype}")
        L = self.n_levels
        x = x.float()
        if L == 2:
            return x
        if self.binarize == "threshold":
            return (x >= L / 2).float()
        if self.binarize == "static":
            return self._static(x / (L - 1), split)
        if self.binarize == "dynamic":
            return x / (L - 1)  # probabilities; `batch` draws
        if self.dequantize or self.scale == "levels":
            return x  # `batch` adds the noise and rescales
        if self.scale == "unit":
            return x / (L - 1)
        return x / (L - 1) * 2 - 1  # symmetric

    def fixed_stream(self, splits: Splits, name: str, split: str) -> torch.Tensor:
        """`fixed` for the image stream `name` of a split: "x", or one of `splits.images`
        (e.g. a translation's "source"), each with a static binarisation of its own."""
        if name == "x":
            return self.fixed(splits.split(split), split)
        if name not in splits.images:
            raise GenzooError(f"{splits.name} has no image stream {name!r}")
        return self.fixed(splits.images[name].split(split), f"{split}/{name}")

    def batch(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The every-batch part: a fresh Bernoulli draw (dynamic) or uniform noise
        (dequantize); identity otherwise. `generator` defaults to the global torch RNG."""
        if self.binarize == "dynamic" and self.n_levels != 2:
            return torch.bernoulli(x, generator=generator)
        if not self.dequantize:
            return x
        u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        # x + u can round up to x + 1 in float32; keep it in [x, x + 1) so floor(y L) = x
        v = torch.minimum(x + u, torch.nextafter(x + 1, x))
        if self.scale == "unit":
            return v / self.n_levels
        return v / (self.n_levels / 2) - 1

    @property
    def dequant_scale(self) -> float | None:
        """The s in y = (x + u) / s (+ shift): L for unit, L/2 for symmetric; None without
        dequantisation. Pass it to `genzoo.core.units.dequantized_log_prob`."""
        if not self.dequantize:
            return None
        return float(self.n_levels) if self.scale == "unit" else self.n_levels / 2

    def _check_levels(self, n_levels: int) -> None:
        if n_levels != self.n_levels:
            raise GenzooError(
                f"this Transform is for {self.n_levels}-level data, the data has {n_levels}"
            )

    def _static(self, p: torch.Tensor, split: str) -> torch.Tensor:
        # One CPU generator per (seed, split): the same draw on every run and every device.
        key = hashlib.sha256(f"{self.seed}/{split}".encode()).digest()
        g = torch.Generator().manual_seed(int.from_bytes(key[:8], "little") >> 1)
        p_cpu = p.cpu()
        out = torch.empty_like(p_cpu)
        for i in range(0, len(p_cpu), CHUNK_ROWS):
            chunk = p_cpu[i : i + CHUNK_ROWS]
            out[i : i + CHUNK_ROWS] = (torch.rand(chunk.shape, generator=g) < chunk).float()
        return out.to(p.device)
