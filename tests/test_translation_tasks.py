"""The translation tasks built from CIFAR-10 and MNIST: cifar10-colour (grey -> colour,
paired), mnist2printed-unpaired (handwritten <-> printed digits) and cat2dog-unpaired,
checked against their stated recipes: the luma formula, the printed digits' classes read
by an independent rendering, the seeds, and the unpaired shuffling with the true pairs
kept for evaluation."""

import functools

import numpy as np
import pytest
import torch
from conftest import real_data_root
from PIL import Image, ImageDraw, ImageFont

from genzoo.core import DataInfo, GenzooError
from genzoo.data import load
from genzoo.data.printed import (
    ANGLE,
    EM,
    FONTS,
    SHIFT,
    draw_params,
    font_path,
    printed_digits,
    render,
)
from genzoo.data.tasks import NO_TRUE_PAIRS, TASKS, luma
from genzoo.metrics import features
from genzoo.train.run import data_streams


@pytest.fixture(scope="module")
def cifar10():
    """cifar10's splits, loaded once for the module's two CIFAR-10 tasks."""
    return load("cifar10", real_data_root())


def rows_equal(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """bool (N,): whether row i of a equals row i of b."""
    return (a == b).flatten(1).all(1)


# ------------------------------------------------------------------ cifar10-colour


def within_rounding(y: torch.Tensor, rgb: torch.Tensor) -> bool:
    """Whether grey levels y (N, H, W) are 0.299 R + 0.587 G + 0.114 B of rgb (N, 3, H, W)
    to the nearest integer (|y - exact| <= 1/2), in exact integer arithmetic."""
    thousandths = (rgb.long() * torch.tensor([299, 587, 114]).view(1, 3, 1, 1)).sum(1)
    return bool((1000 * y.long() - thousandths).abs().max() <= 500)


def test_luma_is_bt601_rounded_half_up():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (64, 3, 5, 5), generator=g, dtype=torch.uint8)
    y = luma(x)
    assert y.shape == x.shape and y.dtype == torch.uint8
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 0], y[:, 2])
    assert within_rounding(y[:, 0], x)
    pure = torch.tensor([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0]],
                        dtype=torch.uint8).view(5, 3, 1, 1)  # fmt: skip
    assert luma(pure)[:, 0].flatten().tolist() == [76, 150, 29, 255, 0]  # 76.2, 149.7, 29.1
    half = torch.tensor([0, 0, 0], dtype=torch.uint8).view(1, 3, 1, 1)
    half[0, :, 0, 0] = torch.tensor([5, 0, 0])  # 299 * 5 = 1495: 1.495 -> 1
    assert luma(half).flatten()[0] == 1
    half[0, :, 0, 0] = torch.tensor([0, 0, 25])  # 114 * 25 = 2850: 2.85 -> 3
    assert luma(half).flatten()[0] == 3


def test_cifar10_colour_is_the_photo_and_its_grey_version(cifar10):
    task = TASKS["cifar10-colour"].build(cifar10)
    source = task.images["source"]
    for split in ("train", "valid", "test"):
        x, s = task.split(split), source.split(split)
        assert torch.equal(x, cifar10.split(split))  # cifar10's splits, shuffled from
        assert s.shape == x.shape and s.dtype == x.dtype == torch.uint8  # class order
        assert torch.equal(s[:, 0], s[:, 1]) and torch.equal(s[:, 0], s[:, 2])
        assert torch.equal(getattr(task, f"{split}_labels"), getattr(cifar10, f"{split}_labels"))
    x, s = task.test, source.test
    assert within_rounding(s[:, 0], x)  # the luma within rounding
    assert len(task.train) == 45_000 and len(set(task.train_labels[:100].tolist())) == 10
    again = TASKS["cifar10-colour"].build(cifar10)
    assert torch.equal(again.images["source"].train, source.train)
    assert source.domain == "a" and "BT.601" in task.protocol
    spec = data_streams(task, DataInfo((3, 32, 32), None))
    assert spec.kind == "labelled paired images"


# ------------------------------------------------------------------ printed digits


def reference(digit: int, font: int, em: int, angle: float) -> np.ndarray:
    """str(digit) drawn straight onto 28x28 in the same font, size and angle, without
    genzoo's supersampling and centring: an independent reading of what a digit looks like."""
    img = Image.new("L", (28, 28), 0)
    typeface = ImageFont.truetype(str(font_path(FONTS[font])), int(em))
    ImageDraw.Draw(img).text((14, 14), str(digit), fill=255, font=typeface, anchor="mm")
    return np.asarray(img.rotate(float(angle), Image.Resampling.BILINEAR), dtype=float)


def read_digit(image: np.ndarray, templates: list[np.ndarray], reach: int = 4) -> int:
    """The template of highest normalised correlation with the image, over shifts of up to
    `reach` pixels."""
    a = np.pad(image.astype(float), reach)
    windows = np.lib.stride_tricks.sliding_window_view(a, (28, 28)).reshape(-1, 28 * 28)
    windows = windows / (np.linalg.norm(windows, axis=1, keepdims=True) + 1e-9)
    t = np.stack([t.ravel() / (np.linalg.norm(t) + 1e-9) for t in templates])
    return int((windows @ t.T).max(0).argmax())


def test_printed_digits_are_of_their_class():
    labels = np.arange(100) % 10
    x = printed_digits(labels, seed=5)
    p = draw_params(len(labels), 5)
    read = [read_digit(x[i, 0], [reference(d, p["font"][i], p["em"][i], p["angle"][i])
                                 for d in range(10)]) for i in range(len(labels))]  # fmt: skip
    assert np.mean(np.array(read) == labels) >= 0.95
    means = np.stack([x[labels == d, 0].astype(float).mean(0) for d in range(10)])
    gaps = np.abs(means[:, None] - means[None]).mean((-1, -2))  # (10, 10) mean |difference|
    assert gaps[~np.eye(10, dtype=bool)].min() > 5  # every class's mean image its own


def test_printed_digits_follow_the_stated_draws():
    assert all(font_path(name).is_file() for name in FONTS) and len(FONTS) == 8
    p = draw_params(2000, 0)
    assert set(p["font"].tolist()) == set(range(8))
    assert p["em"].min() == EM[0] and p["em"].max() == EM[1]
    assert -ANGLE <= p["angle"].min() < -ANGLE + 1 and ANGLE - 1 < p["angle"].max() <= ANGLE
    for d in ("dx", "dy"):
        assert set(p[d].tolist()) == set(range(-SHIFT, SHIFT + 1))
    labels = np.arange(300) % 10
    x = printed_digits(labels, seed=0)
    assert x.shape == (300, 1, 28, 28) and x.dtype == np.uint8
    assert (x.reshape(300, -1).max(1) >= 200).all()  # none blank
    ink = (x > 127).mean((1, 2, 3))
    assert ink.min() > 0.03 and ink.max() < 0.4
    frame = np.concatenate([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], -1)
    assert frame.max() == 0  # every glyph whole inside the frame
    assert np.array_equal(printed_digits(labels, seed=0), x)  # the same seed: the same bits
    other = printed_digits(labels, seed=1)
    assert not np.array_equal(other, x)


def test_a_printed_digit_lands_where_its_shift_puts_it():
    for dx, dy in ((0, 0), (2, -2), (-2, 1)):
        img = render(8, 0, 22, 0.0, dx, dy)
        rows, cols = np.flatnonzero(img.max(1)), np.flatnonzero(img.max(0))
        assert abs((rows[0] + rows[-1]) / 2 - (13.5 + dy)) <= 1
        assert abs((cols[0] + cols[-1]) / 2 - (13.5 + dx)) <= 1
    assert not np.array_equal(render(6, 0, 22, 0.0, 0, 0), render(6, 0, 22, 10.0, 0, 0))


# ------------------------------------------------------------------ mnist2printed-unpaired


def test_mnist2printed_unpaired_shuffles_the_training_pairs_apart_and_keeps_the_test_pairs(
    shared_data_root,
):
    task = load("mnist2printed-unpaired", shared_data_root)
    mnist = load("mnist", shared_data_root)
    source = task.images["source"]
    assert source.domain == "handwritten"
    sizes = {"train": 10_000, "valid": 1_000, "test": 1_000}
    for split, n in sizes.items():
        x, y = task.split(split), getattr(task, f"{split}_labels")
        assert x.shape == source.split(split).shape == (n, 1, 28, 28)
        assert x.dtype == source.split(split).dtype == torch.uint8
        assert torch.equal(y, getattr(mnist, f"{split}_labels")[:n])  # x's classes
    for split, seed in (("valid", 1), ("test", 2)):  # the stated seeds give the same bits
        y = getattr(task, f"{split}_labels").numpy()
        assert torch.equal(task.split(split), torch.from_numpy(printed_digits(y, seed)))
    for split in ("valid", "test"):  # the true pairs, row by row
        assert torch.equal(source.split(split), mnist.split(split)[: sizes[split]])
    perm = torch.from_numpy(np.random.RandomState(0).permutation(10_000))
    assert torch.equal(source.train, mnist.train[:10_000][perm])
    assert rows_equal(source.train, mnist.train[:10_000]).float().mean() < 0.01
    same_class = (task.train_labels[perm] == task.train_labels).float().mean()
    assert same_class < 0.2  # training row i of A is of row i of B's class by chance only
    assert "DejaVu" in task.protocol and "true pairs" in task.protocol
    spec = data_streams(task, DataInfo((1, 28, 28), None))
    assert spec.kind == "labelled unpaired images" and spec["source"].domain == "handwritten"


# ------------------------------------------------------------------ cat2dog-unpaired


def test_cat2dog_unpaired_is_cifar10s_cats_and_dogs(cifar10):
    with np.load(real_data_root() / "cifar10" / "cifar10-test.npz") as f:
        assert (f["class_names"][3], f["class_names"][5]) == ("cat", "dog")  # the data's own
    task = TASKS["cat2dog-unpaired"].build(cifar10)
    source = task.images["source"]
    assert source.domain == "cats" and task.name in NO_TRUE_PAIRS
    for split in ("train", "valid", "test"):
        y = getattr(cifar10, f"{split}_labels")
        cats, dogs = cifar10.split(split)[y == 3], cifar10.split(split)[y == 5]
        n = len(task.split(split))
        assert torch.equal(source.split(split), cats[: len(source.split(split))])
        assert torch.equal(task.split(split), dogs[:n])
        assert getattr(task, f"{split}_labels").eq(5).all()  # x's class: dog
        if split == "train":
            assert (len(source.train), n) == (len(cats), len(dogs))
        else:  # lined up for the grid, equal counts
            assert len(source.split(split)) == n == min(len(cats), len(dogs))
    assert len(task.test) == 1_000 and task.test.shape[1:] == (3, 32, 32)
    assert "cats (class 3)" in task.protocol and "dogs (class 5)" in task.protocol
    spec = data_streams(task, DataInfo((3, 32, 32), None))
    assert spec.kind == "labelled unpaired images"


# ------------------------------------------------------------------ morpho-*-unpaired


@pytest.fixture(scope="module")
def mnist():
    return load("mnist", real_data_root())


@pytest.mark.parametrize("attribute", ["thick", "slanted"])
def test_morpho_pairs_part_morpho_mnists_training_images_and_pair_its_test_digits(mnist, attribute):
    from genzoo.data.tasks import (
        MORPHO_ATTRIBUTES,
        attribute_hits,
        measured_attributes,
        morpho_draws,
        morpho_images,
    )

    k, other = MORPHO_ATTRIBUTES.index(attribute), 1 - MORPHO_ATTRIBUTES.index(attribute)
    task = TASKS[f"morpho-{attribute}-unpaired"].build(mnist)
    morpho = TASKS["morpho-mnist"].build(mnist)
    source = task.images["source"]
    assert source.domain == {"thick": "thin", "slanted": "upright"}[attribute]
    # train: exactly morpho-mnist's training images, parted by the drawn attribute
    on = morpho.attributes.train[:, k] == 1
    assert torch.equal(task.train, morpho.train[on])
    assert torch.equal(source.train, morpho.train[~on])
    assert torch.equal(task.train_labels, morpho.train_labels[on])
    assert len(task.train) + len(source.train) == 10_000
    # test: every digit both ways, the other attribute as drawn; true pairs row by row
    images, a, y = morpho_draws(mnist, "test")
    assert torch.equal(task.test_labels, y) and len(task.test) == len(source.test) == 1_000
    for value, images_made in ((0, source.test), (1, task.test)):
        target = a.copy()
        target[:, k] = value
        assert torch.equal(images_made[:20], morpho_images(images[:20], target[:20]))
        hits = attribute_hits(measured_attributes(images_made.numpy()), target)
        assert hits[:, k].mean() > 0.9 and hits[:, other].mean() > 0.9, hits.mean(0)
    drawn_on = torch.from_numpy(a[:, k] == 1)  # morpho-mnist's own test images are among them
    assert torch.equal(task.test[drawn_on], morpho.test[drawn_on])
    assert torch.equal(source.test[~drawn_on], morpho.test[~drawn_on])
    spec = data_streams(task, DataInfo((1, 32, 32), None))
    assert spec.kind == "labelled unpaired images"


def test_the_new_tasks_are_judged_by_an_existing_classifier(tmp_path):
    """Printed digits by MNIST's network, colour photos and dogs by CIFAR-10's: none of
    them trains a network of its own."""
    for task, net in (("mnist2printed-unpaired", "mnist"), ("cifar10-colour", "cifar10"),
                      ("cat2dog-unpaired", "cifar10"),
                      ("morpho-thick-unpaired", "morpho-mnist"),
                      ("morpho-slanted-unpaired", "morpho-mnist")):  # fmt: skip
        with pytest.raises(GenzooError, match=f"train the {net} feature network first"):
            features.feature_network(task, cache_dir=tmp_path, train_if_missing=False)


def test_a_task_without_true_pairs_is_judged_without_l1(tmp_path, monkeypatch, capsys):
    """cat2dog's recipe on the built-in 8x8 digits (3s -> 5s), through train and eval:
    the report and eval skip L1 and PSNR, and still give FID and the classifier."""
    from genzoo.cli import main
    from genzoo.data.tasks import Task, _cat2dog_unpaired
    from genzoo.metrics.features import TrainSettings

    monkeypatch.setitem(TASKS, "digits3to5", Task("digits3to5", "digits", _cat2dog_unpaired, ""))
    quick = functools.partial(features.feature_network, training=TrainSettings(steps=5))
    monkeypatch.setattr(features, "feature_network", quick)
    run = tmp_path / "run"
    argv = ["--data-root", str(tmp_path), "train", "cyclegan", "--data", "digits3to5",
            "--run-dir", str(run), "--set", "width=4", "--set", "n_blocks=1", "--set",
            "d_layers=1", "--set", "max_steps=2", "--set", "n_samples=0", "--set",
            "progress=false", "--set", "tensorboard=false"]  # fmt: skip
    assert main(argv) == 0
    report = (run / "report.md").read_text()
    assert "has no true pairs" in report and "PSNR (dB)" not in report
    assert "Cycle reconstruction error" in report
    capsys.readouterr()
    assert main(["--data-root", str(tmp_path), "eval", str(run)]) == 0
    said = capsys.readouterr().out
    assert "no true pairs: L1 and PSNR are not measured" in said and "a2b: L1" not in said
    assert "FID against the test targets" in said and "on the real targets" in said
