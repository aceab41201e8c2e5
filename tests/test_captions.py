"""The caption builder: deterministic, held-out templates at test time only, and measured
properties that agree with genzoo.data.morpho's definitions."""

import math
import re

import numpy as np
import pytest
import torch

from genzoo.data import captions as C
from genzoo.data import morpho
from genzoo.data.splits import CaptionStream, Splits, without_classes


def bar(width: int, shear: float = 0.0) -> np.ndarray:
    img = np.zeros((28, 28), np.uint8)
    img[4:24, 14 - width // 2 : 14 - width // 2 + width] = 255
    return morpho.shear(img, shear)


def pattern(template: str) -> re.Pattern:
    """A template as a regex: each slot any words, 'a' or 'an' before it."""
    parts = [re.sub(r"\ba ", "an? ", re.escape(p).replace("\\ ", " "))
             for p in re.split(r"{\w+}", template)]  # fmt: skip
    return re.compile("^" + ".+".join(parts) + "$")


def values(n: int) -> list[dict]:
    rng = np.random.RandomState(5)
    slots = C.MNIST_SCHEME.synonyms
    return [{s: list(v)[rng.randint(len(v))] for s, v in slots.items()} for _ in range(n)]


def test_a_thick_right_leaning_bar_and_a_thin_left_leaning_one():
    images = np.stack([bar(4, 0.5), bar(1, -0.3)])[:, None]
    p = C.mnist_properties(images, [7, 2])
    assert (p[0]["thickness"], p[0]["slant"]) == ("thick", "right")
    assert (p[1]["thickness"], p[1]["slant"]) == ("thin", "left")
    assert p[0]["measured"]["slant"] == pytest.approx(math.degrees(math.atan(0.5)), abs=0.6)


def test_measured_properties_are_morpho_mnist_s():
    images = np.stack([bar(w, s) for w, s in [(1, 0.0), (2, 0.2), (3, -0.4), (5, 0.1)]])
    for img, p in zip(images, C.mnist_properties(images[:, None], [0, 1, 2, 3]), strict=True):
        assert p["measured"]["thickness"] == morpho.thickness(img)
        assert p["measured"]["slant"] == math.degrees(morpho.slant(img))
        assert p["thickness"] == C.thickness_bin(morpho.thickness(img))
        assert p["slant"] == C.slant_bin(math.degrees(morpho.slant(img)))


def test_bins_at_their_thresholds():
    assert [C.thickness_bin(t) for t in (2.19, 2.2, 2.99, 3.0)] == [
        "thin",
        "medium",
        "medium",
        "thick",
    ]
    assert [C.slant_bin(s) for s in (-5.01, -5.0, 14.9, 15.0)] == [
        "left",
        "upright",
        "upright",
        "right",
    ]


def test_captions_are_deterministic_and_independent_of_how_many():
    v = values(50)
    a = C.write_captions(v, C.MNIST_SCHEME, "train")
    assert a == C.write_captions(v, C.MNIST_SCHEME, "train")
    assert a[:10] == C.write_captions(v[:10], C.MNIST_SCHEME, "train")
    assert a != C.write_captions(v, C.MNIST_SCHEME, "valid")  # another split, another seed
    assert len(set(a)) > 10  # templates and synonyms vary


@pytest.mark.parametrize("scheme", [C.MNIST_SCHEME, C.CIFAR_SCHEME])
def test_held_out_templates_only_in_the_test_split(scheme):
    rng = np.random.RandomState(0)
    v = [{s: list(w)[rng.randint(len(w))] for s, w in scheme.synonyms.items()} for _ in range(200)]
    for split in ("train", "valid", "test"):
        drawn = C.draw(v, scheme, split)
        used = {template for template, _ in drawn}
        assert used == set(scheme.test if split == "test" else scheme.train)
        for (template, _), caption in zip(drawn, C.write_captions(v, scheme, split), strict=True):
            assert pattern(template).match(caption), caption
    assert not set(scheme.train) & set(scheme.test)


def test_a_caption_names_its_values_by_one_of_their_synonyms():
    v = values(100)
    syn = C.MNIST_SCHEME.synonyms
    for vals, caption in zip(v, C.write_captions(v, C.MNIST_SCHEME, "train"), strict=True):
        for slot, value in vals.items():
            assert any(re.search(rf"\b{re.escape(w)}\b", caption) for w in syn[slot][value])


def test_colour_and_brightness_of_plain_images():
    def solid(rgb):
        return np.broadcast_to(np.array(rgb, np.uint8)[:, None, None], (3, 8, 8))

    images = np.stack(
        [
            solid((220, 20, 20)),
            solid((20, 20, 220)),
            solid((128, 128, 128)),
            solid((30, 200, 30)),
            solid((120, 70, 10)),
            solid((250, 250, 250)),
        ]
    )
    colours, luma = C.colour_and_brightness(images)
    assert colours == ["red", "blue", "grey", "green", "brown", "grey"]
    assert [C.brightness_bin(m) for m in luma] == [
        "dark",
        "dark",
        "medium",
        "medium",
        "dark",
        "bright",
    ]


def test_without_classes_keeps_captions_with_their_images():
    x = torch.arange(6, dtype=torch.uint8).reshape(6, 1, 1, 1).expand(6, 1, 2, 2).clone()
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    text = tuple(f"c{i}" for i in range(6))
    phi = torch.arange(6.0)[:, None].expand(6, 3).clone()
    s = Splits(
        "t",
        x,
        x,
        x,
        y,
        y,
        y,
        256,
        "p",
        captions=CaptionStream("enc", text, text, text, phi, phi, phi),
    )
    kept = without_classes(s, (1,))
    assert kept.captions.text("train") == ("c0", "c2", "c3", "c5")
    assert kept.captions.train[:, 0].tolist() == [0, 2, 3, 5]


@pytest.mark.realdata
def test_mnist_captions_agree_with_morpho_on_real_digits(shared_data_root):
    from genzoo import data
    from genzoo.data.tasks import measured_attributes

    base = data.load("mnist", shared_data_root, splits=("train",))
    task = C.CAPTION_TASKS["mnist-captions"]
    images, labels, props, captions = C.caption_split(task, base, "train", 100)
    m = measured_attributes(images)
    for (t, s), p, y, c in zip(m, props, labels.tolist(), captions, strict=True):
        assert p["thickness"] == C.thickness_bin(t)
        assert p["slant"] == C.slant_bin(math.degrees(s))
        assert p["digit"] == C.DIGITS[y]
        assert any(w in c for w in C.MNIST_SCHEME.synonyms["thickness"][p["thickness"]])
    assert captions == C.caption_split(task, base, "train", 100)[3]


@pytest.mark.realdata
def test_genzoo_data_captions_prints_n(shared_data_root, capsys):
    from genzoo.cli import main

    assert main(["data", "captions", "--data", "mnist", "-n", "5",
                 "--data-root", str(shared_data_root)]) == 0  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["row", "class"] and len(out) == 7


def test_genzoo_data_captions_refuses_uncaptioned_data(capsys):
    from genzoo.cli import main

    assert main(["data", "captions", "--data", "kmnist"]) == 2
    assert "no captions for 'kmnist'" in capsys.readouterr().err
