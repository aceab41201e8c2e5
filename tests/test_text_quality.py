"""Evaluating a text-to-image run against its captions: R-precision's ranking and its
candidates, the attribute measurements that wrote the captions read the real images back
exactly, and `genzoo eval RUN --joint JOINT` end to end on tiny runs, with its errors."""

import dataclasses
import hashlib
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from genzoo.apps.text_quality import (
    N_CANDIDATES,
    caption_values,
    content_r_precision,
    draw_candidates,
    match_shares,
    measured,
    r_precision,
    rank_first,
)


def test_rank_first_scores_own_caption_first_one_last_zero_and_shares_ties():
    scores = torch.tensor([[0.9, 0.1, 0.5, 0.2],  # own highest
                           [0.0, 0.1, 0.5, 0.2],  # own lowest
                           [0.5, 0.5, 0.1, 0.5],  # tied at the top with two others
                           [0.3, 0.3, 0.9, 0.1]])  # fmt: skip  # tied, but not at the top
    assert rank_first(scores).tolist() == pytest.approx([1.0, 0.0, 1 / 3, 0.0])
    assert rank_first(torch.zeros(5, N_CANDIDATES)).mean().item() == pytest.approx(0.01)


def repeated_texts(n=400, distinct=150):
    return tuple(f"caption {(7 * i) % distinct}" for i in range(n))


def test_candidates_are_distinct_sentences_and_never_the_own_one():
    texts = repeated_texts()
    first, own, others = draw_candidates(texts, 120, seed=3)
    sentences = [texts[i] for i in first]
    assert len(set(sentences)) == len(sentences) == 150
    assert others.shape == (120, N_CANDIDATES - 1)
    for i in range(120):
        assert sentences[own[i]] == texts[i]
        candidates = [sentences[k] for k in [own[i].item(), *others[i].tolist()]]
        assert len(set(candidates)) == N_CANDIDATES  # the own text once, no text twice
    again = draw_candidates(texts, 120, seed=3)[2]
    assert torch.equal(others, again) and not torch.equal(others, draw_candidates(
        texts, 120, seed=4)[2])  # fmt: skip
    with pytest.raises(Exception, match="at least 100"):
        draw_candidates(repeated_texts(distinct=99), 10)


def test_r_precision_of_a_perfect_oracle_is_one_and_of_an_inverted_one_zero():
    texts = repeated_texts()
    first, own, others = draw_candidates(texts, 200)
    v = torch.eye(len(first))  # each sentence its own direction
    assert r_precision(v[own], v, own, others) == 1.0  # an image embedded as its caption
    assert r_precision(-v[own], v, own, others) == 0.0

    distinct = [(i,) for i in range(400)]  # every caption says something else
    assert content_r_precision(distinct, first, own, others) == 1.0
    same = [(0,)] * 400  # every caption says the same thing
    assert content_r_precision(same, first, own, others) == pytest.approx(1 / N_CANDIDATES)


@pytest.mark.realdata
def test_caption_measurements_read_the_real_images_back(shared_data_root):
    """The caption's values, measured again, rewrite the stored captions; measured on the
    images as [0, 1] floats (what a generator gives) they match every caption, also with
    mnist32-captions' padding."""
    from genzoo import data

    splits = data.load("mnist-captions", shared_data_root)
    n = 300
    x, y = splits.test[:n].float() / 255, splits.test_labels[:n]
    for name, s, images in [("mnist-captions", splits, x),
                            ("mnist32-captions", dataclasses.replace(
                                splits, test=F.pad(splits.test, (2, 2, 2, 2))),
                             F.pad(x, (2, 2, 2, 2)))]:  # fmt: skip
        run = SimpleNamespace(data_name=name)
        attributes, intended = caption_values(run, s, "test", n)
        assert attributes == ("thickness", "slant")
        shares = match_shares(measured(run, images, y, attributes), intended, y, y, attributes)
        assert shares == {"class": 1.0, "thickness": 1.0, "slant": 1.0, "all": 1.0}
    flipped = x.flip(-1)  # mirrored digits lean the other way
    shares = match_shares(measured(run, F.pad(flipped, (2, 2, 2, 2)), y, attributes), intended,
                          y, y, attributes)  # fmt: skip
    assert shares["slant"] < 0.7 and shares["thickness"] > 0.95


def fake_embed(texts):
    """A stand-in for the sentence encoder: a fixed random unit vector per sentence."""
    rows = []
    for t in texts:
        seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:4], "little")
        rows.append(F.normalize(torch.randn(384, generator=torch.Generator().manual_seed(seed)),
                                dim=0))  # fmt: skip
    return torch.stack(rows)


def varied_digit_captions(base):
    """scikit-learn's 8x8 digits, captioned "a handwritten <digit>, sample <k>" (k < 30):
    enough distinct sentences for R-precision, embedded without the text extra."""
    from genzoo.data.captions import DIGITS
    from genzoo.data.splits import SPLIT_NAMES, CaptionStream
    from genzoo.data.text import ENCODER

    text = {s: tuple(f"a handwritten {DIGITS[y]}, sample {i % 30}"
                     for i, y in enumerate(getattr(base, f"{s}_labels").tolist()))
            for s in SPLIT_NAMES}  # fmt: skip
    stream = CaptionStream(ENCODER, *text.values(), *(fake_embed(text[s]) for s in SPLIT_NAMES))
    return dataclasses.replace(base, name="digits-varied", captions=stream)


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.realdata  # the cached digits classifier
def test_eval_with_a_joint_model_through_the_command_line(tmp_path, monkeypatch, capsys,
                                                          shared_data_root):  # fmt: skip
    from genzoo.apps.edit import save_joint_file
    from genzoo.cli import main
    from genzoo.core.model import DataInfo
    from genzoo.data.tasks import TASKS, Task
    from genzoo.metrics.features import SAME_IMAGES
    from genzoo.models import create_model

    monkeypatch.setitem(TASKS, "digits-varied",
                        Task("digits-varied", "digits", varied_digit_captions, ""))  # fmt: skip
    monkeypatch.setitem(SAME_IMAGES, "digits-varied", "digits")  # the cached digits classifier
    quiet = ["--set", "progress=false", "--set", "tensorboard=false", "--set", "n_samples=0"]
    t2i, clip, nade = tmp_path / "t2i", tmp_path / "clip", tmp_path / "nade"
    root = ["--data-root", str(shared_data_root)]
    assert main([*root, "train", "text2image", "--data", "digits-varied", "--run-dir", str(t2i),
                 "--set", "channels=4,8", "--set", "latent_dim=4", "--set", "max_steps=3",
                 *quiet]) == 0  # fmt: skip
    assert main([*root, "train", "contrastive", "--data", "digits-varied", "--run-dir",
                 str(clip), "--set", "width=4", "--set", "feature_dim=16", "--set",
                 "max_steps=5", *quiet]) == 0  # fmt: skip
    capsys.readouterr()
    ev = [*root, "eval", str(t2i), "--joint", str(clip), "--n", "60"]
    assert main(ev) == 0
    out = capsys.readouterr().out
    with capsys.disabled():
        print(out)
    assert "60 captions" in out and "R-precision" in out and "chance 0.0100" in out
    assert "digits-featnet-" in out and "FID against the 60 test images" in out
    assert "class" in out and "real (ceiling)" in out and "perfectly scores" in out
    assert main([*ev[:-1], "7"]) == 0 and capsys.readouterr().out != out  # --n is read
    # bad inputs: one line each, exit 2
    assert main(ev[:4]) == 2 and "give --joint" in error_line(capsys)
    assert main([*ev, "--metrics", "fid"]) == 2 and "do not mix" in error_line(capsys)
    assert main([*root, "train", "nade", "--data", "digits", "--run-dir", str(nade),
                 "--set", "max_steps=1", *quiet[:4]]) == 0  # fmt: skip
    capsys.readouterr()
    assert main([*root, "eval", str(nade), "--joint", str(clip)]) == 2
    assert "takes no text" in error_line(capsys)
    assert main([*ev[:5], str(t2i)]) == 2 and "joint image–text model" in error_line(capsys)
    other = create_model("contrastive", DataInfo((1, 8, 8), None), width=4, feature_dim=16)
    weights = save_joint_file(other, tmp_path / "mnist.safetensors", "mnist")
    assert main([*ev[:5], str(weights)]) == 2 and "other images" in error_line(capsys)
    small = create_model("contrastive", DataInfo((1, 16, 16), None), width=4, feature_dim=16)
    weights = save_joint_file(small, tmp_path / "j16.safetensors")
    assert main([*ev[:5], str(weights)]) == 2 and "embeds 1x16x16 images" in error_line(capsys)
    assert main([*ev, "--n", "0"]) == 2 and "--n 0" in error_line(capsys)
