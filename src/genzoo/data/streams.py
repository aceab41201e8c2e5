"""Named data streams: what a training batch carries, and how its rows are drawn.

A dataset is a `DataSpec` of named streams, each with its own kind and shape:

    image        an image, e.g. "x" (the data the model learns p(x) of), or a second
                 domain's image for translation
    label        a class index in 0..n_classes-1, shape ()
    attributes   a vector of binary attributes, shape (A,)
    embedding    a fixed vector per example, e.g. a caption's sentence embedding

Streams of one *domain* are paired: they share an index (an image and its label, an input
and its target). Different domains are unpaired: each is drawn from its own permutation,
and they may differ in size (CycleGAN's two collections).

`StreamData` holds one indexable `Dataset` per stream (`TensorDataset` is the in-memory
one; anything with `len` and row indexing by a LongTensor works, so large data need not be
loaded whole). `BatchSampler` gives the rows of every domain at a training step as a
function of (seed, step) alone, so that a resumed run draws exactly the batches an
uninterrupted one would. A model lists the streams it needs (`GenerativeModel.streams`);
`DataSpec.require` says in one line what is missing, naming the kind of batch the model
needs and the kind the data has.

Names with a meaning every model shares: "x", the images a model learns the distribution
of (a translation's *target*); "label", their classes; "source", the image paired with
each "x" that a translation model maps to it (pix2pix's input).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from genzoo.core.errors import GenzooError

KINDS = ("image", "label", "attributes", "embedding")
SOURCE = "source"  # the input image paired with each "x" in a translation task
WHAT = {"label": "labels", "attributes": "attribute vectors", "embedding": "embeddings",
        "caption": "captioned images (a caption's embedding for every 'x')",
        SOURCE: "paired images (a 'source' image for every 'x')",
        "patches": "key local patches (a 'patches' stack for every 'x')"}  # fmt: skip
# what to use instead, by the stream that the data lacks
HINT = {"label": "use a labelled dataset",
        "caption": "use a captioned task such as mnist-captions",
        SOURCE: "use a paired task such as edges2fashion (`genzoo data list`)",
        "patches": "use a task of key patches such as fashion-patches"}  # fmt: skip


@dataclass(frozen=True)
class Stream:
    name: str
    kind: str  # one of KINDS
    shape: tuple[int, ...]  # one example's
    domain: str = "a"  # streams of one domain share an index
    n_classes: int | None = None  # label streams

    def __post_init__(self):
        if self.kind not in KINDS:
            raise GenzooError(f"stream {self.name!r}: kind {self.kind!r} is not one of {KINDS}")

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "shape": list(self.shape),
                "domain": self.domain, "n_classes": self.n_classes}  # fmt: skip

    @classmethod
    def from_json(cls, d: dict) -> Stream:
        return cls(d["name"], d["kind"], tuple(d["shape"]), d["domain"], d["n_classes"])


@dataclass(frozen=True)
class DataSpec:
    streams: tuple[Stream, ...]

    def __post_init__(self):
        names = [s.name for s in self.streams]
        if len(set(names)) != len(names):
            raise GenzooError(f"stream names repeat: {names}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.streams)

    def __getitem__(self, name: str) -> Stream:
        return next(s for s in self.streams if s.name == name)

    def domains(self) -> dict[str, list[Stream]]:
        """The streams of each domain, in order; the first domain sets the epochs."""
        out: dict[str, list[Stream]] = {}
        for s in self.streams:
            out.setdefault(s.domain, []).append(s)
        return out

    @property
    def kind(self) -> str:
        """The kind of batch, in words: "images", "labelled images", "paired images",
        "unpaired images" (several domains)."""
        images = [s for s in self.streams if s.kind == "image"]
        if len({s.domain for s in self.streams}) > 1:
            what = "unpaired images"
        else:
            what = "paired images" if len(images) > 1 else "images"
        if any(s.kind == "label" for s in self.streams):
            what = f"labelled {what}"
        extras = [WHAT[k] for k in ("attributes", "embedding")
                  if any(s.kind == k for s in self.streams)]  # fmt: skip
        return f"{what} with {' and '.join(extras)}" if extras else what

    def require(self, needed, who: str, paired: bool = True) -> None:
        """A one-line GenzooError naming the kind of batch `who` needs and the kind the
        data is; with `paired`, the needed streams must also share one domain."""
        missing = [name for name in needed if name not in self.names]
        if missing:
            what = ", ".join(WHAT.get(name, f"a {name!r} stream") for name in missing)
            hint = HINT.get(missing[0], "use a dataset with them")
            raise GenzooError(f"{who} learns from {what}, but this data is {self.kind} (its "
                              f"streams: {', '.join(self.names)}): {hint}")  # fmt: skip
        domains = {self[name].domain for name in needed}
        if paired and len(domains) > 1:
            streams = ", ".join(f"{n} ({self[n].domain})" for n in needed)
            raise GenzooError(f"{who} learns from paired streams, but this data's {streams} "
                              "are of different domains, unpaired: use a paired task such as "
                              "edges2fashion, or a model of unpaired data (cyclegan)")  # fmt: skip

    def to_json(self) -> list[dict]:
        return [s.to_json() for s in self.streams]

    @classmethod
    def from_json(cls, d: list[dict]) -> DataSpec:
        return cls(tuple(Stream.from_json(s) for s in d))


class Dataset(Protocol):
    """What the trainer reads a stream through: its length and its rows at an index."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: Tensor) -> Tensor: ...


class TensorDataset:
    """A stream held in memory as one tensor (N, *shape)."""

    def __init__(self, tensor: Tensor):
        self.tensor = tensor

    def __len__(self) -> int:
        return len(self.tensor)

    def __getitem__(self, index: Tensor) -> Tensor:
        return self.tensor[index]


@dataclass
class StreamData:
    """A spec and one dataset per stream; the streams of one domain have one length."""

    spec: DataSpec
    datasets: dict[str, Dataset]

    def __post_init__(self):
        if set(self.datasets) != set(self.spec.names):
            raise GenzooError(f"datasets {sorted(self.datasets)} do not match the streams "
                              f"{list(self.spec.names)}")  # fmt: skip
        for domain, streams in self.spec.domains().items():
            lengths = {s.name: len(self.datasets[s.name]) for s in streams}
            if len(set(lengths.values())) != 1:
                raise GenzooError(f"the paired streams of domain {domain!r} differ in "
                                  f"length: {lengths}")  # fmt: skip

    @classmethod
    def from_tensors(cls, x: Tensor, labels: Tensor | None = None,
                     n_classes: int | None = None) -> StreamData:  # fmt: skip
        """Images "x" (N, C, H, W) and, when given, their class labels "label" (N,)."""
        streams = [Stream("x", "image", tuple(x.shape[1:]))]
        datasets: dict[str, Dataset] = {"x": TensorDataset(x)}
        if labels is not None:
            if len(labels) != len(x):
                raise GenzooError(f"{len(labels)} labels for {len(x)} images")
            if n_classes is None:
                n_classes = int(labels.max()) + 1 if len(labels) else 0
            streams.append(Stream("label", "label", (), n_classes=n_classes))
            datasets["label"] = TensorDataset(labels)
        return cls(DataSpec(tuple(streams)), datasets)

    def lengths(self) -> dict[str, int]:
        return {d: len(self.datasets[s[0].name]) for d, s in self.spec.domains().items()}

    def rows(self, names, indices: dict[str, Tensor]) -> dict[str, Tensor]:
        """The batch of streams `names`: each stream's rows at its domain's indices."""
        return {name: self.datasets[name][indices[self.spec[name].domain]] for name in names}


def epoch_permutation(n: int, seed: int, epoch: int) -> Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def derived_seed(*parts) -> int:
    """A 63-bit seed from any parts (a run's seed, a name, a step), the same everywhere."""
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8],
                          "little") >> 1  # fmt: skip


class BatchSampler:
    """The indices of every domain at each step, from (seed, step) alone.

    The first domain sets the epochs: epoch e visits it in the order of a permutation drawn
    from (seed, e), in batches of `batch_size` (the last one smaller). Every other domain
    runs through its own endless sequence of permutations, drawn from (seed, domain, k),
    `batch_size` rows per step, independently of the first: unpaired data.
    """

    def __init__(self, lengths: dict[str, int], batch_size: int, seed: int):
        if not lengths or min(lengths.values()) < 1:
            raise GenzooError(f"nothing to train on: {lengths}")
        self.lengths, self.batch_size, self.seed = lengths, batch_size, seed
        self.anchor = next(iter(lengths))
        self.steps_per_epoch = math.ceil(lengths[self.anchor] / batch_size)
        self._cache: dict[tuple[str, int], Tensor] = {}

    def indices(self, step: int) -> dict[str, Tensor]:
        epoch, i = divmod(step, self.steps_per_epoch)
        perm = self._permutation(self.anchor, epoch)
        out = {self.anchor: perm[i * self.batch_size : (i + 1) * self.batch_size]}
        count = len(out[self.anchor])
        for domain in list(self.lengths)[1:]:
            out[domain] = self._endless(domain, step * self.batch_size, count)
        return out

    def _permutation(self, domain: str, k: int) -> Tensor:
        if (domain, k) not in self._cache:
            n = self.lengths[domain]
            if domain == self.anchor:
                perm = epoch_permutation(n, self.seed, k)
            else:
                g = torch.Generator().manual_seed(derived_seed(self.seed, domain, k))
                perm = torch.randperm(n, generator=g)
            # keep the permutations of the current and the next pass
            self._cache = {key: v for key, v in self._cache.items() if key[0] != domain
                           or key[1] >= k - 1}  # fmt: skip
            self._cache[domain, k] = perm
        return self._cache[domain, k]

    def _endless(self, domain: str, start: int, count: int) -> Tensor:
        n, parts = self.lengths[domain], []
        while count > 0:
            k, offset = divmod(start, n)
            take = min(count, n - offset)
            parts.append(self._permutation(domain, k)[offset : offset + take])
            start, count = start + take, count - take
        return torch.cat(parts)
