"""A dataset's splits, and the helpers that build them from numpy arrays."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from genzoo.core.errors import DataError, GenzooError

SPLIT_NAMES = ("train", "valid", "test")


class BySplit:
    """`split(name)`: the train, valid or test field, by name."""

    def split(self, name: str) -> torch.Tensor:
        if name not in SPLIT_NAMES:
            raise GenzooError(f"unknown split {name!r}: expected train, valid or test")
        return getattr(self, name)


@dataclass(frozen=True, eq=False)  # eq=False: fields are tensors, whose == is elementwise
class ImageStream(BySplit):
    """Images beside a dataset's "x", a stream of its own (genzoo.data.streams): uint8
    (N, C, H, W) per split, with x's grey levels. Of x's domain "a" (the default), row i
    is paired with x's row i: a translation task's input image. Of another domain, the
    rows are an unpaired collection of any size."""

    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    domain: str = "a"


@dataclass(frozen=True, eq=False)  # eq=False: fields are tensors, whose == is elementwise
class AttributeStream(BySplit):
    """A vector of attributes per example of "x" (the "attributes" stream), row i paired
    with x's row i: float32 (N, A) per split, A = len(names), e.g. 0/1 for binary ones."""

    names: tuple[str, ...]
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor


@dataclass(frozen=True, eq=False)  # eq=False: fields are tensors, whose == is elementwise
class CaptionStream(BySplit):
    """A caption per example of "x" (the "caption" stream), row i paired with x's row i:
    the strings per split, and their sentence embeddings φ(t), float32 (N, D) per split
    (what `split` returns), by the text encoder `encoder` (genzoo.data.text)."""

    encoder: str
    train_text: tuple[str, ...]
    valid_text: tuple[str, ...]
    test_text: tuple[str, ...]
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor

    def text(self, split: str) -> tuple[str, ...]:
        self.split(split)  # checks the name
        return getattr(self, f"{split}_text")


@dataclass(frozen=True, eq=False)  # eq=False: fields are tensors, whose == is elementwise
class Splits(BySplit):
    """A dataset's train / valid / test splits as uint8 (N, C, H, W) tensors, any
    further image streams by name (a paired task's input images, see genzoo.data.tasks),
    and an attribute vector per image where the dataset has one (morpho-mnist)."""

    name: str
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    train_labels: torch.Tensor | None  # int64 (N,), or None for unlabelled data
    valid_labels: torch.Tensor | None
    test_labels: torch.Tensor | None
    n_levels: int  # grey levels: 2 (values 0/1), 17 (digits 0..16), 256 (8-bit)
    protocol: str  # one line: source and split
    images: dict[str, ImageStream] = field(default_factory=dict)  # streams beside "x"
    attributes: AttributeStream | None = None  # an attribute vector per example of "x"
    captions: CaptionStream | None = None  # a caption per example of "x"

    def __post_init__(self):
        for split in SPLIT_NAMES if self.captions is not None else ():
            n, m = len(self.captions.split(split)), len(self.split(split))
            if n != m or len(self.captions.text(split)) != m:
                raise GenzooError(f"{self.name}: {n} captions for {m} {split} images")
        for split in SPLIT_NAMES if self.attributes is not None else ():
            if len(self.attributes.split(split)) != len(self.split(split)):
                n, m = len(self.attributes.split(split)), len(self.split(split))
                raise GenzooError(f"{self.name}: {n} attribute vectors for {m} {split} images")
        for name, stream in self.images.items():
            if name in ("x", "label"):
                raise GenzooError(f"{self.name}: an image stream cannot be named {name!r}")
            for split in SPLIT_NAMES if stream.domain == "a" else ():
                if len(stream.split(split)) != len(self.split(split)):
                    raise GenzooError(
                        f"{self.name}: {len(stream.split(split))} {name!r} images for "
                        f"{len(self.split(split))} {split} images: paired streams have one "
                        "row per example"
                    )


def without_classes(splits: Splits, classes: tuple[int, ...]) -> Splits:
    """`splits` with every example of `classes` removed from all three splits."""
    if splits.train_labels is None:
        raise GenzooError(f"{splits.name} has no labels: exclude_classes needs labelled data")
    known = set(splits.train_labels.unique().tolist())
    unknown = sorted(set(classes) - known)
    if unknown:
        raise GenzooError(f"{splits.name} has no class {unknown[0]}; its classes: {sorted(known)}")
    drop = torch.tensor(sorted(set(classes)))
    kept, keeps = {}, {}
    for name in SPLIT_NAMES:
        keeps[name] = keep = ~torch.isin(getattr(splits, f"{name}_labels"), drop)
        kept[name] = getattr(splits, name)[keep]
        kept[f"{name}_labels"] = getattr(splits, f"{name}_labels")[keep]
    # paired streams lose the same rows; unpaired ones have no labels to drop by
    kept["images"] = {
        key: ImageStream(*(s.split(n)[keeps[n]] for n in SPLIT_NAMES)) if s.domain == "a" else s
        for key, s in splits.images.items()
    }
    if splits.attributes is not None:
        a = splits.attributes
        kept["attributes"] = AttributeStream(a.names, *(a.split(n)[keeps[n]] for n in SPLIT_NAMES))
    if splits.captions is not None:
        c = splits.captions
        texts = [tuple(t for t, k in zip(c.text(n), keeps[n].tolist(), strict=True) if k)
                 for n in SPLIT_NAMES]  # fmt: skip
        kept["captions"] = CaptionStream(c.encoder, *texts,
                                         *(c.split(n)[keeps[n]] for n in SPLIT_NAMES))  # fmt: skip
    if len(kept["train"]) == 0:
        raise GenzooError(f"exclude_classes={','.join(map(str, classes))} removes every class of "
                          f"{splits.name}: nothing is left to train on")  # fmt: skip
    names = ",".join(map(str, drop.tolist()))
    protocol = f"{splits.protocol}; class {names} removed from every split"
    return dataclasses.replace(splits, **kept, protocol=protocol)


def check_shape(name: str, what: str, a: np.ndarray, shape: tuple[int, ...]) -> None:
    if a.shape != shape:
        raise DataError(f"{name}: {what} have shape {a.shape}, expected {shape}")


def _tensor(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    # np.require copies read-only (np.frombuffer) or strided arrays, which torch cannot share
    return torch.from_numpy(np.require(a, requirements=["C", "W"])).to(dtype)


def make_splits(
    name: str,
    x: tuple[np.ndarray, ...],
    y: tuple[np.ndarray, ...] | None,
    *,
    n_levels: int,
    protocol: str,
) -> Splits:
    xs = [_tensor(a, torch.uint8) for a in x]
    ys = [_tensor(a, torch.int64) for a in y] if y is not None else [None] * 3
    return Splits(name, *xs, *ys, n_levels=n_levels, protocol=protocol)


def seeded_split(n: int, n_valid: int, n_test: int) -> tuple[np.ndarray, ...]:
    # RandomState, unlike Generator, guarantees the same stream in every numpy version.
    perm = np.random.RandomState(0).permutation(n)
    n_train = n - n_valid - n_test
    return perm[:n_train], perm[n_train : n_train + n_valid], perm[n_train + n_valid :]
