"""Morpho-MNIST measurements on synthetic strokes of known width and slant, and the
morpho-mnist task's attributes measured on its images."""

import math

import numpy as np
import pytest

from genzoo.data import morpho


def bar(width: int, side: int = 32) -> np.ndarray:
    img = np.zeros((side, side), np.uint8)
    left = side // 2 - width // 2
    img[6:26, left : left + width] = 255
    return img


@pytest.mark.parametrize("w", [1, 2, 3, 4, 5])
def test_a_bar_of_width_w_measures_w(w):
    assert morpho.thickness(bar(w)) == pytest.approx(w, abs=0.05)
    assert morpho.slant(bar(w)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("s", [-0.4, 0.2, 0.5])
def test_a_bar_sheared_by_s_measures_atan_s(s):
    assert morpho.slant(morpho.shear(bar(3), s)) == pytest.approx(math.atan(s), abs=0.01)


def test_shear_leans_right_for_positive_s():
    img = morpho.shear(bar(3), 0.5)
    rows = np.nonzero(img.sum(1))[0]
    top, bottom = img[rows[0]].argmax(), img[rows[-1]].argmax()
    assert top > bottom  # the top of the stroke lies right of its bottom


def test_thin_and_thicken_change_the_width_by_their_radii():
    assert morpho.thickness(morpho.thin(bar(4))) == pytest.approx(3, abs=0.05)
    assert morpho.thickness(morpho.thicken(bar(3))) == pytest.approx(5, abs=0.05)


def test_empty_images_measure_zero():
    empty = np.zeros((8, 8), np.uint8)
    assert morpho.thickness(empty) == 0.0 and morpho.slant(empty) == 0.0


def test_morpho_mnist_attributes_agree_with_measurements(shared_data_root):
    from genzoo.data.datasets import load
    from genzoo.data.tasks import (
        MORPHO_ATTRIBUTES,
        attribute_hits,
        measured_attributes,
        morpho_image,
    )

    base = load("mnist", shared_data_root, splits=("test",))
    images = base.test[:200, 0].numpy()
    a = np.random.RandomState(2).randint(0, 2, (len(images), len(MORPHO_ATTRIBUTES)))
    out = np.stack([np.pad(img, 2) for img in images])
    out = np.stack([morpho_image(img, *row) for img, row in zip(out, a, strict=True)])
    hits = attribute_hits(measured_attributes(out), a)
    assert hits.mean(0).min() > 0.9, hits.mean(0)
