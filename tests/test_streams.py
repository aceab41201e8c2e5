"""Named data streams: paired rows stay together, unpaired domains are drawn on their own,
batches follow from the step alone, a model's missing stream is one line; and the seeded
image transforms."""

import pytest
import torch

from genzoo.core import DataInfo, GenzooError
from genzoo.data.augment import Augment, random_crop, random_flip, resize
from genzoo.data.streams import (
    BatchSampler,
    DataSpec,
    Stream,
    StreamData,
    TensorDataset,
    epoch_permutation,
)
from genzoo.models import create_model
from genzoo.train import fit

QUIET = {"progress": False, "tensorboard": False}


def test_the_first_domain_keeps_the_trainers_epoch_order():
    """The batches of single-domain data are those the trainer always drew (so that old
    runs resume and old numbers reproduce): epoch e in the order of epoch_permutation."""
    sampler = BatchSampler({"a": 10}, batch_size=4, seed=3)
    assert sampler.steps_per_epoch == 3
    for epoch in range(2):
        perm = epoch_permutation(10, 3, epoch)
        got = torch.cat([sampler.indices(3 * epoch + i)["a"] for i in range(3)])
        assert torch.equal(got, perm)


def test_unpaired_domains_visit_every_row_independently_of_the_first():
    sampler = BatchSampler({"a": 12, "b": 7}, batch_size=4, seed=0)
    b = torch.cat([sampler.indices(step)["b"] for step in range(7)])  # 28 rows = 4 passes of 7
    for k in range(4):
        assert sorted(b[7 * k : 7 * (k + 1)].tolist()) == list(range(7))
    assert not torch.equal(b[:7], b[7:14])  # a fresh permutation every pass
    other = BatchSampler({"a": 12, "b": 7}, batch_size=4, seed=1)
    assert torch.equal(other.indices(0)["a"], epoch_permutation(12, 1, 0)[:4])
    assert not torch.equal(other.indices(0)["b"], sampler.indices(0)["b"])
    # a function of the step alone: a fresh sampler (a resumed run) draws the same rows
    fresh = BatchSampler({"a": 12, "b": 7}, batch_size=4, seed=0)
    for step in (5, 2, 6):
        for domain in ("a", "b"):
            assert torch.equal(fresh.indices(step)[domain], sampler.indices(step)[domain])


def test_paired_streams_share_rows_and_a_model_names_what_it_lacks():
    x = torch.arange(6.0).reshape(6, 1, 1, 1)
    data = StreamData.from_tensors(x, labels=torch.arange(6) % 3)
    assert data.spec.names == ("x", "label") and data.spec["label"].n_classes == 3
    rows = data.rows(("x", "label"), {"a": torch.tensor([4, 1])})
    assert rows["x"].flatten().tolist() == [4.0, 1.0] and rows["label"].tolist() == [1, 1]
    with pytest.raises(GenzooError, match=r"CGAN learns from labels.*its streams: x\)"):
        StreamData.from_tensors(x).spec.require(("x", "label"), "CGAN")
    with pytest.raises(GenzooError, match="differ in length"):
        StreamData(data.spec, {"x": TensorDataset(x), "label": TensorDataset(torch.arange(5))})
    assert DataSpec.from_json(data.spec.to_json()) == data.spec


class TwoDomainFVSBN(type(create_model("fvsbn", DataInfo((1, 2, 2), 2)))):
    """An FVSBN on "x" that also asks for an unpaired second domain, "x_b", and records the
    rows of both that each batch brings."""

    streams = ("x", "x_b")
    unpaired = True  # its streams are of two domains (without this, fit refuses them)

    def training_step(self, batch, step, optimizers, backward):
        self.seen.append((batch["x"][:, 0, 0, 0].tolist(), batch["x_b"][:, 0, 0, 0].tolist()))
        return super().training_step(batch, step, optimizers, backward)


def test_the_trainer_serves_two_unpaired_domains():
    info = DataInfo((1, 2, 2), 2)
    model = TwoDomainFVSBN(create_model("fvsbn", info).config, info)
    model.seen = []
    # each image's first pixel is its row's parity, so rows of "x" can be told apart only
    # through their index; "x_b" rows carry their index in that pixel: 0 or 1 for 2 rows
    x = (torch.arange(8) % 2).float().reshape(8, 1, 1, 1).expand(8, 1, 2, 2).clone()
    x_b = torch.tensor([0.0, 1.0]).reshape(2, 1, 1, 1).expand(2, 1, 2, 2).clone()
    spec = DataSpec((Stream("x", "image", (1, 2, 2)), Stream("x_b", "image", (1, 2, 2), "b")))
    data = StreamData(spec, {"x": TensorDataset(x), "x_b": TensorDataset(x_b)})
    fit(model, data, max_steps=4, batch_size=4, **QUIET)
    assert [len(a) for a, _ in model.seen] == [4, 4, 4, 4]  # 8 rows: 2 steps an epoch
    b_rows = [v for _, b in model.seen for v in b]
    assert len(b_rows) == 16 and b_rows.count(0.0) == b_rows.count(1.0) == 8  # 8 passes of 2


def test_resize_averages_blocks_and_the_random_transforms_are_seeded():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert resize(x, (2, 2)).flatten().tolist() == [2.5, 4.5, 10.5, 12.5]
    assert resize(x, (8, 8)).shape == (1, 1, 8, 8) and resize(x, (4, 4)) is x
    batch = torch.rand(32, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    flipped = random_flip(batch, torch.Generator().manual_seed(1))
    same = (flipped == batch).flatten(1).all(1)
    mirrored = (flipped == batch.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all() and 5 < int(mirrored.sum()) < 27
    cropped = random_crop(batch, 2, torch.Generator().manual_seed(1))
    assert cropped.shape == batch.shape
    assert torch.equal(cropped, random_crop(batch, 2, torch.Generator().manual_seed(1)))
    assert not torch.equal(cropped, batch)
    flat = torch.full((4, 1, 5, 5), 0.3)  # replicated borders: a constant image stays so
    assert torch.equal(random_crop(flat, 2, torch.Generator().manual_seed(0)), flat)
    # an offset of exactly `padding` is the identity; every crop is a shifted window
    shift = random_crop(x.expand(50, 1, 4, 4), 1, torch.Generator().manual_seed(2))
    assert any(torch.equal(s[0], x[0, 0]) for s in shift)


def test_augment_settings_parse_and_fail_in_one_line():
    assert Augment.parse("flip,crop=2") == Augment(flip=True, crop=2)
    assert not Augment.parse("")
    with pytest.raises(GenzooError, match="augment='rotate'"):
        Augment.parse("rotate")


def test_augmented_training_resumes_exactly(tmp_path):
    info = DataInfo((1, 4, 4), 2)
    x = torch.bernoulli(torch.full((64, 1, 4, 4), 0.3), generator=torch.Generator().manual_seed(0))
    settings = dict(batch_size=16, augment="flip,crop=1", lr=0.05, **QUIET)
    torch.manual_seed(0)
    whole = create_model("fvsbn", info)
    fit(whole, x, max_steps=10, **settings)
    torch.manual_seed(0)
    first = create_model("fvsbn", info)
    fit(first, x, max_steps=6, run_dir=tmp_path, **settings)
    torch.manual_seed(0)
    resumed = create_model("fvsbn", info)
    fit(resumed, x, max_steps=10, run_dir=tmp_path, resume=True, **settings)
    assert torch.equal(resumed.w, whole.w)
    torch.manual_seed(0)
    plain = create_model("fvsbn", info)
    fit(plain, x, max_steps=10, **(settings | {"augment": ""}))
    assert not torch.equal(plain.w, whole.w)  # the augmentation did change the batches
