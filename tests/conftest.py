import hashlib
import itertools
import os
from pathlib import Path

import pytest
import torch

from genzoo.core import DataInfo

# One intra-op thread for the whole suite, and for the `genzoo` processes tests start: small
# models are many tiny ops, and on two contended threads they run many times slower than on
# one. Tests that are about threads set them explicitly.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")


def all_inputs(n: int, n_values: int = 2) -> torch.Tensor:
    """Every configuration of n variables with n_values values, (n_values^n, n), float64."""
    return torch.tensor(list(itertools.product(range(n_values), repeat=n)), dtype=torch.float64)


def randomize(model: torch.nn.Module, std: float = 1.0, seed: int = 0) -> torch.nn.Module:
    """Random nonzero parameters, so that structural tests are not passed by zeros."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * std)
    return model


def train_step(model, x, optimizers=None, label=None, step: int = 0) -> dict:
    """One `training_step` outside the trainer (optimizers: the model's own, at lr 1e-3)."""
    from genzoo.core.model import plain_backward

    optimizers = optimizers or model.configure_optimizers(1e-3)
    batch = {"x": x} if label is None else {"x": x, "label": label}
    if "caption" in model.streams:  # a caption embedding per example: 3 distinct ones
        batch["caption"] = torch.eye(3, model.config.embedding_dim)[torch.arange(len(x)) % 3]
    if "patches" in model.streams:  # key patches cut from x at places (0, 0), (0, P), ...
        from genzoo.data.tasks import cut_patches

        K, P = model.config.n_patches, model.config.patch_size
        left = torch.arange(K) * P % max(x.shape[-1] - P + 1, 1)
        places = torch.stack([torch.zeros(K), left.float()], -1).flatten().expand(len(x), -1)
        batch |= {"patches": cut_patches(x, places, P), "attributes": places}
    for name in model.streams:  # a further image stream, paired with x (a translation's
        batch.setdefault(name, x.flip(-1))  # source): x mirrored
    return model.training_step(batch, step, optimizers, plain_backward)


@pytest.fixture
def shared_data_root() -> Path:
    """The real datasets. Under CI a missing data root is a failure, never a skip."""
    return real_data_root()


def real_data_root() -> Path:
    """shared_data_root's value, for fixtures of a wider scope that load real data once."""
    root = os.environ.get("GENZOO_DATA")
    if root and (Path(root) / "mnist").is_dir():
        return Path(root).resolve()  # tests may change the working directory
    message = f"real data not found (GENZOO_DATA={root!r}); point it at ../shared/datasets"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def binary_info() -> DataInfo:
    return DataInfo(shape=(1, 2, 3), n_values=2)


def use_cifar_batches_with(monkeypatch, batches: dict[str, bytes], archive: bytes | None = None):
    """Make `cifar10` the official-batches format only, with md5s of these test batches
    (and of this archive, when given), so that tests can serve and load synthetic ones."""
    from genzoo.data import catalog as ds

    official = ds.CIFAR10.formats[1]
    files = tuple(
        ds.FileSpec(f.name, f.role, hashlib.md5(batches[f.role]).hexdigest())
        for f in official.files
    )
    packed = None
    if archive is not None:
        md5 = hashlib.md5(archive).hexdigest()
        packed = ds.Archive(official.archive.name, "http://unused.invalid/", md5)
    patched = ds.Format(official.label, files, official.read, archive=packed)
    monkeypatch.setitem(
        ds.DATASETS, "cifar10", ds.DatasetSpec("cifar10", (patched,), ds._build_cifar)
    )
