"""Sample-quality metrics (FID, KID, IS, precision/recall) and genzoo's feature network."""

import dataclasses
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from genzoo.core.errors import CheckpointError, GenzooError, UnknownNameError
from genzoo.data import load
from genzoo.metrics import features
from genzoo.metrics.features import (
    FeatureExtractor,
    TrainSettings,
    feature_network,
    scale_to_unit,
    train_feature_network,
)
from genzoo.metrics.quality import (
    embed,
    fid,
    inception_score,
    kid,
    precision_recall,
    sample_metrics,
)


@pytest.fixture(scope="module")
def digits():
    return load("digits")


@pytest.fixture(scope="module")
def digits_net(tmp_path_factory, digits):
    cache = tmp_path_factory.mktemp("featnet")
    net, info = feature_network("digits", cache_dir=cache)
    return net, info, cache


@pytest.fixture(scope="module")
def test_images(digits):
    return scale_to_unit(digits.test, digits.n_levels)


def noisy(x, std, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (x + std * torch.randn(x.shape, generator=g)).clamp(0, 1)


# --- the feature network ---------------------------------------------------------------


def test_digits_feature_network_is_accurate(digits_net):
    net, info, cache = digits_net
    assert info["test_accuracy"] >= 0.9
    assert info["identifier"].startswith("digits-featnet-")
    assert (cache / f"{info['identifier']}.safetensors").is_file()
    assert not net.training
    assert all(not p.requires_grad for p in net.parameters())


def test_second_call_loads_the_cache(digits_net, test_images, monkeypatch):
    net, info, cache = digits_net

    def no_training(*args, **kwargs):
        raise AssertionError("the cached feature network was retrained")

    monkeypatch.setattr(features, "train_feature_network", no_training)
    loaded, loaded_info = feature_network("digits", cache_dir=cache)
    assert loaded_info == info
    with torch.no_grad():
        assert torch.equal(loaded.features(test_images), net.features(test_images))


def test_a_data_root_the_user_cannot_write_caches_in_the_user_cache(tmp_path, monkeypatch):
    """A shared, read-only copy of the datasets: the network trained for it is saved in
    genzoo's user cache instead (the first save fails as on a read-only folder), and the
    next call finds it there without training again."""
    import errno

    import platformdirs

    root, user = tmp_path / "shared", tmp_path / "user"
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda name: str(user / name))
    real_save, saved = features.save_tensors, []

    def save(path, *args):
        if root in path.parents:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        saved.append(path)
        real_save(path, *args)

    monkeypatch.setattr(features, "save_tensors", save)
    short = TrainSettings(steps=5)
    dirs = features.cache_dirs(root)
    assert dirs == [root / "genzoo-features", user / "genzoo" / "genzoo-features"]
    net, info = feature_network("digits", root, training=short)
    assert saved == [dirs[1] / f"{info['identifier']}.safetensors"]

    def no_training(*args, **kwargs):
        raise AssertionError("the cached feature network was retrained")

    monkeypatch.setattr(features, "train_feature_network", no_training)
    assert feature_network("digits", root, training=short)[1] == info

    # a failure other than permission is not hidden
    def full(*args):
        raise OSError(errno.ENOSPC, "full")

    monkeypatch.setattr(features, "save_tensors", full)
    monkeypatch.setattr(features, "train_feature_network", train_feature_network)
    with pytest.raises(OSError, match="full"):
        feature_network("digits", tmp_path / "other", training=TrainSettings(steps=6))


def test_training_is_deterministic(digits):
    short = TrainSettings(steps=3, batch_size=16)
    _, a = train_feature_network(digits, training=short)
    _, b = train_feature_network(digits, training=short)
    _, c = train_feature_network(digits, training=dataclasses.replace(short, seed=1))
    assert a["sha256"] == b["sha256"] != c["sha256"]


def _cached_copy(digits_net, tmp_path):
    _, info, cache = digits_net
    name = f"{info['identifier']}.safetensors"
    (tmp_path / name).write_bytes((cache / name).read_bytes())
    return tmp_path / name


def test_flipped_bytes_in_the_weights_are_detected(digits_net, tmp_path):
    path = _cached_copy(digits_net, tmp_path)
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF  # inside the last tensor's data: the file still parses
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="sha256.*delete it"):
        feature_network("digits", cache_dir=tmp_path, train_if_missing=False)


def test_truncated_cache_file_is_a_checkpoint_error(digits_net, tmp_path):
    path = _cached_copy(digits_net, tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="delete it") as e:
        feature_network("digits", cache_dir=tmp_path, train_if_missing=False)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_foreign_file_is_a_checkpoint_error(digits_net, tmp_path):
    from safetensors.torch import save_file

    path = _cached_copy(digits_net, tmp_path)
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(CheckpointError):
        feature_network("digits", cache_dir=tmp_path, train_if_missing=False)


def test_missing_network_without_training_is_an_error(tmp_path):
    with pytest.raises(GenzooError, match="not found"):
        feature_network("digits", cache_dir=tmp_path, train_if_missing=False)


def test_unlabelled_datasets_are_refused(digits, tmp_path):
    with pytest.raises(GenzooError, match="use mnist"):
        feature_network("binarized-mnist", cache_dir=tmp_path)
    unlabelled = dataclasses.replace(
        digits, name="unlabelled", train_labels=None, valid_labels=None, test_labels=None
    )
    with pytest.raises(GenzooError, match="no labels"):
        train_feature_network(unlabelled, training=TrainSettings(steps=1))


def test_feature_extractor_is_a_torchmetrics_feature_module(digits_net, digits, test_images):
    from torchmetrics.image.fid import FrechetInceptionDistance

    net, _, _ = digits_net
    valid = scale_to_unit(digits.valid, digits.n_levels)
    metric = FrechetInceptionDistance(feature=FeatureExtractor(net), normalize=True)
    metric.update(test_images, real=True)
    metric.update(valid, real=False)
    expected = fid(embed(net, test_images)[0], embed(net, valid)[0])
    assert metric.compute().item() == pytest.approx(expected, rel=1e-4)


# --- FID --------------------------------------------------------------------------------


def test_fid_matches_the_closed_form_with_scipy_sqrtm():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(400, 6, generator=g, dtype=torch.float64)
    A = torch.randn(6, 6, generator=g, dtype=torch.float64)
    b = torch.randn(300, 6, generator=g, dtype=torch.float64) @ A + 0.7
    mu_a, mu_b = a.mean(0).numpy(), b.mean(0).numpy()
    S_a, S_b = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    covmean = scipy.linalg.sqrtm(S_a @ S_b).real
    expected = ((mu_a - mu_b) ** 2).sum() + np.trace(S_a + S_b - 2 * covmean)
    assert fid(a, b) == pytest.approx(expected, rel=1e-8)


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_noise(digits_net, test_images):
    net, _, _ = digits_net
    f_real, _ = embed(net, test_images)
    scores = [fid(f_real, embed(net, noisy(test_images, std))[0]) for std in (0.1, 0.2, 0.4, 0.8)]
    assert abs(fid(f_real, f_real)) < 1e-6 * scores[0]
    assert all(lo < hi for lo, hi in zip(scores, scores[1:], strict=False))


# --- KID --------------------------------------------------------------------------------


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    g = torch.Generator().manual_seed(0)
    x, y, z = (torch.randn(600, 16, generator=g) for _ in range(3))
    same_mean, same_std = kid(x, y, subsets=50, subset_size=200)
    diff_mean, diff_std = kid(x, z + 0.5, subsets=50, subset_size=200)
    assert abs(same_mean) < 3 * same_std + 1e-3
    assert diff_mean > 10 * abs(same_mean) and diff_mean > 5 * diff_std


def test_kid_subset_size_adapts_to_few_samples():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 8, generator=g), torch.randn(30, 8, generator=g) + 1
    mean, _ = kid(x, y)  # the default subset size, 1000, is more than either side has
    assert mean > 0 and math.isfinite(mean)


def test_kid_on_digit_features(digits_net, digits, test_images):
    net, _, _ = digits_net
    f_test = embed(net, test_images)[0]
    f_train = embed(net, scale_to_unit(digits.train, digits.n_levels))[0]
    f_noisy = embed(net, noisy(test_images, 0.3, seed=1))[0]
    same, _ = kid(f_train, f_test, subsets=50, subset_size=250)
    different, _ = kid(f_noisy, f_test, subsets=50, subset_size=250)
    assert abs(same) < 0.1 * different


def test_kid_subsets_are_seeded_and_leave_the_global_rng_alone():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 8, generator=g), torch.randn(300, 8, generator=g) + 0.2
    state = torch.get_rng_state()
    first = kid(x, y, subsets=5, subset_size=50, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert kid(x, y, subsets=5, subset_size=50, seed=3) == first
    assert kid(x, y, subsets=5, subset_size=50, seed=4) != first


# --- Inception Score ----------------------------------------------------------------------


def test_inception_score_of_a_perfect_uniform_sampler_is_the_number_of_classes():
    K = 10
    probs = torch.eye(K).repeat(50, 1)  # confident, every class equally often
    mean, std = inception_score(probs)
    assert mean == pytest.approx(K, rel=1e-9) and std == 0
    mean, std = inception_score(probs, splits=5)
    assert mean == pytest.approx(K, rel=1e-9) and std == pytest.approx(0, abs=1e-9)


def test_inception_score_of_a_single_class_sampler_is_one():
    probs = torch.full((100, 10), 0.01)
    probs[:, 3] = 0.91
    assert inception_score(probs)[0] == pytest.approx(1.0, abs=1e-9)
    assert inception_score(torch.eye(10)[torch.full((64,), 7)])[0] == pytest.approx(1.0)


def test_inception_score_with_the_digits_classifier(digits_net, digits, test_images):
    net, _, _ = digits_net
    _, probs = embed(net, test_images)
    assert inception_score(probs)[0] > 8
    one_class = probs[digits.test_labels == 3]
    assert inception_score(one_class)[0] < 1.5


# --- precision and recall -------------------------------------------------------------------


def _brute_force_precision_recall(real, fake, k):
    d_rr, d_ff = torch.cdist(real, real), torch.cdist(fake, fake)
    r_real = d_rr.sort(1).values[:, k]
    r_fake = d_ff.sort(1).values[:, k]
    d_fr = torch.cdist(fake, real)
    precision = (d_fr <= r_real[None, :]).any(1).double().mean().item()
    recall = (r_fake[None, :] >= d_fr.T).any(1).double().mean().item()
    return precision, recall


def test_precision_recall_matches_brute_force_in_any_chunking():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(120, 5, generator=g, dtype=torch.float64)
    fake = torch.randn(90, 5, generator=g, dtype=torch.float64) + 1.0
    expected = _brute_force_precision_recall(real, fake, k=3)
    assert 0.1 < expected[0] < 0.95 and 0.1 < expected[1] < 0.95  # not trivially 0 or 1
    for batch_size in (7, 1000):
        got = precision_recall(real, fake, k=3, batch_size=batch_size)
        assert got == pytest.approx(expected, abs=1e-12)


def test_precision_recall_of_identical_and_of_disjoint_sets():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 8, generator=g)
    assert precision_recall(x, x.clone()) == (1.0, 1.0)
    assert precision_recall(x, x + 100.0) == (0.0, 0.0)


def test_precision_recall_of_a_sampler_that_covers_one_mode_of_two():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [20.0, 0.0]])
    real = torch.randn(400, 2, generator=g) + centres[torch.arange(400) % 2]
    fake = torch.randn(200, 2, generator=g) + centres[0]
    precision, recall = precision_recall(real, fake)
    assert precision > 0.9
    assert 0.4 < recall <= 0.5


# --- sample_metrics ----------------------------------------------------------------------


def test_sample_metrics_reports_every_metric(digits_net, digits, test_images):
    net, _, _ = digits_net
    valid = scale_to_unit(digits.valid, digits.n_levels)
    result = sample_metrics(valid, test_images, net, kid_subset_size=100, kid_subsets=10)
    expected_keys = {"fid", "kid_mean", "kid_std", "is", "precision", "recall"}
    assert expected_keys | {"class_counts", "n_samples", "n_reference"} == set(result)
    assert all(math.isfinite(result[key]) for key in expected_keys)
    assert result["n_samples"] == len(valid) and result["n_reference"] == len(test_images)
    only_is = sample_metrics(valid, test_images, net, metrics=("is",))
    assert set(only_is) == {"is", "class_counts", "n_samples", "n_reference"}


def test_class_counts_are_the_classifier_argmax_histogram(digits_net, digits, test_images):
    net, _, _ = digits_net
    valid = scale_to_unit(digits.valid, digits.n_levels)
    with torch.no_grad():
        predicted = net(valid).argmax(1)
    expected = [int((predicted == k).sum()) for k in range(10)]
    only_threes = valid[predicted == 3]  # a "collapsed" sampler: everything in one class
    assert sample_metrics(valid, test_images, net, ("is",))["class_counts"] == expected
    assert sample_metrics(only_threes, test_images, net, ("is",))["class_counts"] == [
        len(only_threes) if k == 3 else 0 for k in range(10)
    ]


def test_unknown_metric_name_is_refused(digits_net, test_images):
    net, _, _ = digits_net
    with pytest.raises(UnknownNameError, match="fid, kid, is, pr"):
        sample_metrics(test_images, test_images, net, metrics=("fid", "lpips"))


def test_images_outside_the_unit_range_or_of_the_wrong_shape_are_refused(
    digits_net, digits, test_images
):
    net, _, _ = digits_net
    with pytest.raises(GenzooError, match=r"\[0, 1\]"):
        sample_metrics(digits.test, test_images, net)  # uint8 levels, not scaled
    with pytest.raises(GenzooError, match="shape"):
        sample_metrics(torch.rand(10, 3, 8, 8), test_images, net)


def test_images_of_the_wrong_shape_are_refused_with_what_the_network_takes():
    from genzoo.metrics.features import FeatureNet, FeatureNetConfig

    net = FeatureNet(1, 8, 10, FeatureNetConfig())
    good, bad = torch.rand(4, 1, 8, 8), torch.rand(4, 1, 28, 28)
    with pytest.raises(GenzooError, match=r"\(4, 1, 28, 28\).*takes \(N, 1, 8, 8\)"):
        sample_metrics(bad, good, net, ("fid",))


def test_the_feature_network_trains_inside_a_no_grad_measurement():
    # a measurement under torch.no_grad() that needs the network trained first (SinGAN's
    # SIFID, a translation's FID) must still get a trained one
    from genzoo import data

    with torch.no_grad():
        net, info = train_feature_network(data.load("digits"), training=TrainSettings(steps=20),
                                          show_progress=False)  # fmt: skip
    assert info["test_accuracy"] > 0.3  # 10 classes: chance is 0.1
