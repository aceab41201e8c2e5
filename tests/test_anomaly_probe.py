"""Anomaly scores, detection metrics, the typicality test and linear probes: known answers
on Gaussians, score directions of every family after short training, and the CLI."""

import csv
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo import data as gdata
from genzoo.apps.anomaly import (
    anomaly_scores,
    corrupt,
    fit_typicality,
    ood_metrics,
    score_kind,
    score_sets,
)
from genzoo.apps.probe import model_features, per_class_subset, probe, probe_table
from genzoo.apps.report import evaluate
from genzoo.cli import main
from genzoo.core import Capability, DataInfo, GenzooError
from genzoo.core.model import LikelihoodModel
from genzoo.data import Transform
from genzoo.models import create_model
from genzoo.train.config import TrainConfig
from genzoo.train.run import Run, load_run, load_splits

QUIET = ["--set", "progress=false", "--set", "tensorboard=false", "--set", "n_samples=0"]


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Commands here write their default outputs (scores.csv, scores.png) to the working
    directory: keep them out of the repository."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """One short run per family on the built-in digits (about a second each)."""
    root = tmp_path_factory.mktemp("runs")
    trained = (("nade", 40), ("vae", 40), ("ae", 40), ("dcgan", 40), ("cgan", 4), ("rnade", 4))
    for name, steps in trained:
        args = ["train", name, "--run-dir", str(root / name), "--set", f"max_steps={steps}"]
        assert main([*args, *QUIET]) == 0
    args = ["train", "nade", "--run-dir", str(root / "nade-without-1"), "--set", "max_steps=40"]
    assert main([*args, "--set", "exclude_classes=1", *QUIET]) == 0
    return root


@pytest.fixture(scope="module")
def digits():
    return gdata.load("digits")


# ---------------------------------------------------------------- known answers


class StandardNormal(LikelihoodModel):
    """p(x) = N(x; 0, I): a model whose Ĥ and score distributions are known exactly."""

    Config = dict
    data_kinds = frozenset({"continuous"})

    def __init__(self, dim: int):
        super().__init__({}, DataInfo((dim,), None))
        self.unused = torch.nn.Parameter(torch.zeros(()))  # .device needs one parameter

    def log_prob(self, x):
        return -0.5 * (x.double() ** 2 + math.log(2 * math.pi)).sum(1)


def gaussian_run(dim: int = 1) -> Run:
    transform = Transform(n_levels=256, scale="unit")  # batch() is the identity
    return Run(Path("."), StandardNormal(dim), "std-normal", "none", TrainConfig(), transform, "")


def phi(t: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(t / math.sqrt(2)))


def test_auroc_of_known_gaussians():
    """In: N(0, 1); OOD: N(μ, 1), OOD the positive class.

    The likelihood ratio is monotone in x, so with score x the AUROC is P(Y > X) =
    Φ(μ / √2) and the FPR at 95 % TPR is 1 − Φ(μ − z_0.95). The model's own score, the
    NLL x²/2 + c, is not monotone in x: its AUROC is P(Y² > X²) = E_Y[2Φ(|Y|) − 1].
    A swapped label gives 1 − AUROC, far outside the tolerance.
    """
    mu, n = 1.5, 20_000
    g = torch.Generator().manual_seed(0)
    x_in, x_ood = torch.randn(n, 1, generator=g), mu + torch.randn(n, 1, generator=g)

    m = ood_metrics(x_in[:, 0], x_ood[:, 0])
    assert m["auroc"] == pytest.approx(phi(torch.tensor(mu / math.sqrt(2))).item(), abs=0.01)
    fpr = 1 - phi(torch.tensor(mu - 1.6448536)).item()
    assert m["fpr_at_95_tpr"] == pytest.approx(fpr, abs=0.015)
    assert m["auprc"] > 0.75

    run = gaussian_run()
    assert score_kind(run) == "nll (exact)"
    s_in, kind = anomaly_scores(run, x_in)
    s_ood, _ = anomaly_scores(run, x_ood)
    assert kind == "nll (exact)" and s_in.dtype == torch.float64 and s_in.shape == (n,)
    y = torch.linspace(mu - 10, mu + 10, 200_001, dtype=torch.float64)
    density = torch.exp(-0.5 * (y - mu) ** 2) / math.sqrt(2 * math.pi)
    exact = torch.trapezoid((2 * phi(y.abs()) - 1) * density, y).item()
    assert ood_metrics(s_in, s_ood)["auroc"] == pytest.approx(exact, abs=0.01)


def test_typicality_flags_shifted_batches_and_too_typical_ones():
    """N(0, I_d): −log p(x) = ‖x‖²/2 + (d/2) log 2π, whose mean is H = (d/2)(1 + log 2π)."""
    d, m, alpha = 16, 10, 0.05
    run = gaussian_run(d)
    g = torch.Generator().manual_seed(0)

    def nll(std: float, n: int) -> torch.Tensor:
        return anomaly_scores(run, std * torch.randn(n, d, generator=g))[0]

    test = fit_typicality(nll(1.0, 20_000), nll(1.0, 5_000), m, alpha, n_bootstrap=2000)
    assert test.entropy == pytest.approx(d / 2 * (1 + math.log(2 * math.pi)), abs=0.1)
    assert 0.02 < test.flag_rate(nll(1.0, 5_000), n_batches=4000) < 0.09  # about α
    wider, narrower = nll(1.3, 2_000), nll(0.7, 2_000)
    assert test.flag_rate(wider) > 0.95
    # narrower data is *more* likely (the NLL alone ranks it as less anomalous), but it is
    # atypical: its NLL is far below the entropy
    in_scores = nll(1.0, 2_000)
    assert ood_metrics(in_scores, narrower)["auroc"] < 0.1
    assert test.flag_rate(narrower) > 0.95
    assert ood_metrics(test.scores(in_scores), test.scores(narrower))["auroc"] > 0.75


# ---------------------------------------------------------------- scores of trained runs


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("nade", "nll (exact)"),
        ("vae", "-ELBO (bound)"),
        ("ae", "reconstruction (not a density)"),
        ("dcgan", "discriminator score (heuristic)"),
    ],
)
def test_noise_scores_higher_than_clean_data(runs, digits, name, kind):
    run = load_run(runs / name)
    clean, noisy = score_sets(run, digits, "test", ood="corrupt:noise")
    s_clean, k = anomaly_scores(run, clean.model_inputs(run))
    s_noisy, _ = anomaly_scores(run, noisy.model_inputs(run))
    assert k == kind and s_clean.shape == s_noisy.shape == (300,)
    assert torch.isfinite(s_clean).all() and torch.isfinite(s_noisy).all()
    assert s_noisy.mean() > s_clean.mean()
    assert ood_metrics(s_clean, s_noisy)["auroc"] > 0.6


def test_vae_scores_by_iwae_with_k(runs, digits):
    run = load_run(runs / "vae")
    x = run.transform.fixed(digits.test[:50], "test")
    neg_elbo, _ = anomaly_scores(run, x)
    neg_iwae, kind = anomaly_scores(run, x, k=20)
    assert kind == "nll estimate (IWAE, k=20)"
    assert neg_iwae.mean() < neg_elbo.mean()  # IWAE_k is the tighter bound


def test_dequantised_scores_average_to_the_evaluated_nll(runs, digits):
    """The same seeded dequantisation noise and change of variables as `genzoo eval`."""
    run = load_run(runs / "rnade")
    assert run.transform.dequantize
    for split in ("valid", "test"):
        scores, _ = anomaly_scores(run, run.transform.fixed(digits.split(split), split))
        assert scores.mean().item() == pytest.approx(evaluate(run, digits, split)["nll_nats"])


def gan_run(name: str) -> Run:
    torch.manual_seed(0)
    model = create_model(name, DataInfo((1, 8, 8), None), channels=(4, 8)).eval()
    transform = Transform(n_levels=17, scale="symmetric")
    return Run(Path("."), model, name, "digits", TrainConfig(), transform, "")


@pytest.mark.parametrize("name", ["gan", "dcgan", "wgan", "infogan"])
def test_gan_features_are_what_the_discriminator_scores(name):
    """D's logit is its final linear layer applied to the features the probe uses, and the
    anomaly score is minus that logit (InfoGAN's D also returns Q's outputs)."""
    run = gan_run(name)
    model = run.model
    x = torch.rand(6, 1, 8, 8) * 2 - 1
    with torch.no_grad():
        h = model_features(model, x)
        out = model.discriminator(x)
        logit = out[0] if name == "infogan" else out
        last = model.discriminator.d_head if name == "infogan" else model.discriminator.net.net[-1]
        assert torch.allclose(last(h)[:, 0], logit, atol=1e-5)
    scores, kind = anomaly_scores(run, x)
    assert kind == "discriminator score (heuristic)"
    assert torch.allclose(scores, -logit.double(), atol=1e-5)


def test_nade_hidden_features_are_the_hidden_layer_after_all_of_x():
    torch.manual_seed(0)
    nade = create_model("nade", DataInfo((1, 4, 4), 2), hidden_dim=7, order="random")
    x = torch.bernoulli(torch.full((5, 1, 4, 4), 0.4))
    h = nade.features(x)
    assert h.shape == (5, 7)
    assert torch.allclose(h, torch.sigmoid(x.flatten(1) @ nade.W.t() + nade.c), atol=1e-6)


def test_corruptions_of_grey_levels():
    x = torch.randint(0, 17, (4, 1, 8, 8), dtype=torch.uint8)
    assert torch.equal(corrupt(x, "invert", 17), 16 - x)
    assert torch.equal(corrupt(x, "flip", 17)[:, :, 0], x[:, :, -1])
    noisy, blurred = corrupt(x, "noise", 17), corrupt(x, "blur", 17)
    for y in (noisy, blurred):
        assert y.dtype == torch.uint8 and y.shape == x.shape and int(y.max()) <= 16
    assert not torch.equal(noisy, x)
    flat = torch.full((1, 1, 8, 8), 5, dtype=torch.uint8)
    assert torch.equal(corrupt(flat, "blur", 17), flat)  # a box blur keeps a constant image


# ---------------------------------------------------------------- probes


def test_per_class_subset_is_balanced_and_seeded():
    labels = torch.arange(100) % 4
    a, b = per_class_subset(labels, 5, seed=1), per_class_subset(labels, 5, seed=1)
    assert torch.equal(a, b) and torch.bincount(labels[a]).tolist() == [5, 5, 5, 5]
    assert not torch.equal(a, per_class_subset(labels, 5, seed=2))


def test_probe_separates_separable_features():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 2
    f = torch.randn(200, 3, generator=g) + 4 * y[:, None]
    acc = probe(f[:100], y[:100], f[100:], y[100:])
    assert acc["linear"] > 0.95 and acc["knn"] > 0.95


def test_autoencoder_probe_beats_chance_beside_the_baselines(runs, digits):
    rows, protocol = probe_table(load_run(runs / "ae"), digits, labels_per_class=10)
    assert [r.features for r in rows] == [
        "ae code (trained)",
        "raw pixels (model inputs)",
        "ae at random init (seed 0)",
    ]
    assert rows[0].dim == 32 and rows[1].dim == 64
    assert protocol["n_labelled"] == 100 and protocol["chance"] < 0.15
    assert rows[0].linear > 0.35 and rows[0].knn > 0.25  # 10 classes: chance is about 0.1


# ---------------------------------------------------------------- the CLI


def test_score_command_writes_scores_metrics_and_plot(runs, tmp_path, capsys):
    out, plot = tmp_path / "s.csv", tmp_path / "h.png"
    args = ["score", str(runs / "nade"), "--ood", "corrupt:noise", "--typicality"]
    assert main([*args, "-o", str(out), "--plot", str(plot)]) == 0
    text = capsys.readouterr().out
    assert "nll (exact)" in text and "examples/s" in text and "AUROC" in text
    assert "FPR@95TPR" in text and "typicality test" in text and str(plot) in text
    assert plot.exists()
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 600
    assert set(rows[0]) == {"source", "index", "file", "label", "score", "typicality"}
    assert [r["source"] for r in rows].count("ood") == 300
    assert rows[0]["label"] != "" and math.isfinite(float(rows[0]["score"]))

    assert main(["score", str(runs / "dcgan"), "-o", str(out)]) == 0
    assert "heuristic" in capsys.readouterr().out
    with open(out) as f:
        assert len(list(csv.DictReader(f))) == 300


def test_leave_classes_out_says_what_it_assumes_and_warns_when_ood_looks_likelier(
    runs, tmp_path, capsys
):
    # digits "1" have the least ink, and a NADE trained on all ten classes gives them a
    # higher likelihood than the rest: the known failure of likelihoods as OOD scores
    # (about 0.3 over seeds 0-2 after 40 steps)
    out = tmp_path / "s.csv"
    assert main(["score", str(runs / "nade"), "--ood-classes", "1", "-o", str(out)]) == 0
    assert "WARNING: the run was trained on class 1" in capsys.readouterr().out
    assert main(["score", str(runs / "nade-without-1"), "--ood-classes", "1", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "trained without them (exclude_classes=1)" in text
    auroc = float(re.search(r"AUROC (\d\.\d+)", text).group(1))
    assert auroc < 0.5 and "LOWER anomaly scores" in text
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert {r["label"] for r in rows if r["source"] == "ood"} == {"1"}
    assert "1" not in {r["label"] for r in rows if r["source"] == "in"}


def test_exclude_classes_removes_them_from_every_split(digits):
    splits = load_splits("digits", None, TrainConfig(exclude_classes=(1, 7)))
    for name in ("train", "valid", "test"):
        labels = getattr(splits, f"{name}_labels")
        assert not torch.isin(labels, torch.tensor([1, 7])).any()
        assert len(getattr(splits, name)) == len(labels)
        full = getattr(digits, f"{name}_labels")
        assert len(labels) == int((~torch.isin(full, torch.tensor([1, 7]))).sum())
    assert "class 1,7 removed from every split" in splits.protocol
    with pytest.raises(GenzooError, match="no class 12"):
        load_splits("digits", None, TrainConfig(exclude_classes=(12,)))


def test_probe_command_prints_the_table_and_protocol(runs, capsys):
    assert main(["probe", str(runs / "nade"), "--labels-per-class", "10"]) == 0
    text = capsys.readouterr().out
    assert "nade hidden units (trained)" in text and "raw pixels" in text
    assert "random init" in text and "10 labelled train examples per class" in text


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_ood_folder_skips_non_images_and_resizes(runs, tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / "a.png")
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / "b.png")
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "s.csv"
    assert main(["score", str(runs / "ae"), "--ood-folder", str(folder), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "notes.txt" in text and "skipped" in text and "resized" in text and "b.png" in text
    with open(out) as f:
        assert [r["source"] for r in csv.DictReader(f)].count("ood") == 2


def test_ood_folder_recurses_labels_by_subfolder_and_scales_16_bit(runs, tmp_path, capsys):
    from genzoo.apps.anomaly import folder_set
    from genzoo.train.run import load_run

    run = load_run(runs / "nade")
    folder = tmp_path / "held-out"
    for sub in ("cats", "dogs"):
        (folder / sub).mkdir(parents=True)
    grey = np.array([[0, 32768, 65535, 257]] * 8, dtype=np.uint16).repeat(2, axis=1)  # 8x8
    Image.fromarray(grey).save(folder / "dogs" / "deep.png")  # mode I;16
    Image.fromarray(np.full((8, 8), 200, dtype=np.uint8)).save(folder / "cats" / "flat.png")
    images = folder_set(folder, run)
    assert images.names == ["cats/flat.png", "dogs/deep.png"]
    assert images.labels.tolist() == [0, 1] and "cats = 0, dogs = 1" in " ".join(images.notes)
    assert "16-bit" in " ".join(images.notes)
    # 0, 32768, 65535, 257 of 65535 are 0, 128, 255, 1 of 255, in the run's 17 levels
    expected = torch.round(torch.tensor([0.0, 128, 255, 1]) * 16 / 255).repeat_interleave(2)
    assert torch.equal(images.images[1, 0, 0].float(), expected)
    out = tmp_path / "s.csv"
    assert main(["score", str(runs / "nade"), "--ood-folder", str(folder), "-o", str(out)]) == 0
    with open(out) as f:
        rows = [r for r in csv.DictReader(f) if r["source"] == "ood"]
    assert [(r["file"], r["label"]) for r in rows] == [("cats/flat.png", "0"),
                                                       ("dogs/deep.png", "1")]  # fmt: skip
    assert "scored all 2 images" in capsys.readouterr().out


def test_ood_file_takes_npz_and_idx_arrays_of_the_runs_shape(runs, tmp_path, capsys):
    import gzip

    nade = str(runs / "nade")
    x = np.random.default_rng(0).integers(0, 256, (5, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "held.npz", x=x)
    header = (0x803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (5, 8, 8))
    (tmp_path / "held-ubyte.gz").write_bytes(gzip.compress(header + x.tobytes()))
    for name in ("held.npz", "held-ubyte.gz"):
        out = tmp_path / f"{name}.csv"
        assert main(["score", nade, "--ood-file", str(tmp_path / name), "-o", str(out)]) == 0
        with open(out) as f:
            files = [r["file"] for r in csv.DictReader(f) if r["source"] == "ood"]
        assert len(files) == 5 and files[0].startswith(name)
    capsys.readouterr()
    np.savez(tmp_path / "wrong.npz", x=x[:, :4])
    assert main(["score", nade, "--ood-file", str(tmp_path / "wrong.npz")]) == 2
    assert "(N, 1, 8, 8) needed, found (5, 1, 4, 8)" in error_line(capsys)
    (tmp_path / "cut-ubyte.gz").write_bytes(gzip.compress(header + x.tobytes()[:100]))
    assert main(["score", nade, "--ood-file", str(tmp_path / "cut-ubyte.gz")]) == 2
    assert "truncated IDX file" in error_line(capsys)
    # the same files as a dataset: file:PATH, split 80/10/10 as a folder is
    y = np.arange(5) % 2
    np.savez(tmp_path / "labelled.npz", x=np.repeat(x, 2, axis=0), y=np.repeat(y, 2))
    splits = gdata.load(f"file:{tmp_path / 'labelled.npz'}")
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (8, 1, 1)
    assert splits.train_labels is not None and splits.n_levels == 256
    assert main(["score", nade, "--ood", f"file:{tmp_path / 'labelled.npz'}"]) == 0


def test_bad_inputs_give_one_line_errors(runs, tmp_path, capsys):
    nade = str(runs / "nade")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["score", nade, "--ood-folder", str(empty)]) == 2
    assert "no readable image" in error_line(capsys)
    (empty / "readme.md").write_text("#")
    assert main(["score", nade, "--ood-folder", str(empty)]) == 2
    assert "readme.md" in error_line(capsys)
    assert main(["score", nade, "--ood", "no-such-data"]) == 2
    assert "no-such-data" in error_line(capsys)
    assert main(["score", nade, "--ood", "corrupt:melt"]) == 2
    assert "corrupt:noise" in error_line(capsys)
    # offline: a dataset that is not in the data root is named, never downloaded
    assert main(["--data-root", str(tmp_path), "score", nade, "--ood", "mnist"]) == 2
    assert "not found" in error_line(capsys)
    assert main(["score", nade, "--ood-classes", "seven"]) == 2
    error_line(capsys)
    assert main(["score", nade, "--k", "5"]) == 2
    assert "ELBO" in error_line(capsys)
    assert main(["score", str(runs / "ae"), "--typicality"]) == 2
    assert "likelihood" in error_line(capsys)


@pytest.mark.realdata
def test_an_ood_dataset_of_another_shape_is_refused(runs, shared_data_root, tmp_path, capsys):
    args = ["--data-root", str(shared_data_root), "score", str(runs / "nade"), "--ood", "mnist"]
    assert main(args) == 2
    assert "same shape" in error_line(capsys)
    # only the test files needed: a root without the training files gets as far
    for src in (shared_data_root / "mnist").glob("t10k-*"):
        (tmp_path / "mnist").mkdir(exist_ok=True)
        (tmp_path / "mnist" / src.name).symlink_to(src.resolve())
    args[1] = str(tmp_path)
    assert main(args) == 2
    assert "same shape" in error_line(capsys)


def test_a_conditional_gan_is_refused_clearly(runs, capsys):
    cgan = str(runs / "cgan")
    assert Capability.CONDITIONAL in load_run(cgan).model.capabilities
    assert main(["score", cgan]) == 2
    assert "needs a label" in error_line(capsys)
    assert main(["probe", cgan, "--labels-per-class", "5"]) == 2
    assert "needs the label" in error_line(capsys)
