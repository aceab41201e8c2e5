"""The FID Inception-v3 (genzoo.metrics.inception): its published structure, loading only from
safetensors, and `genzoo eval --inception`. The real weights cannot be downloaded here: a
random stand-in file with their names and shapes, written by genzoo, takes their place."""

import hashlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from genzoo.cli import main
from genzoo.core.errors import GenzooError
from genzoo.metrics import features, inception
from genzoo.metrics.inception import (
    CONVERT,
    InceptionV3,
    expected_shapes,
    load_inception,
    write_stand_in,
)
from genzoo.metrics.quality import embed, sample_metrics

# The structure of pt_inception-2015-12-05-6726825d.pth (pytorch-fid's fid_inception_v3:
# torchvision's Inception3 with aux_logits=False, num_classes=1008 and the FID blocks):
# 94 conv+BatchNorm layers of 5 tensors each (conv.weight, bn.weight, bn.bias,
# bn.running_mean, bn.running_var), plus fc.weight and fc.bias.
N_TENSORS = 94 * 5 + 2
# Cross-check of the parameter count: torchvision documents 27,161,264 parameters for
# Inception3 with its aux head and 1000 classes. The aux head holds 768·128 + 2·128
# + 128·768·25 + 2·768 + 768·1000 + 1000 = 3,326,696 and the 8 extra classes add
# 8·2048 + 8 = 16,392, so 27,161,264 − 3,326,696 + 16,392 = 23,850,960.
N_PARAMETERS = 23_850_960
N_RUNNING_STATS = 34_432  # 2 x 17,216 BatchNorm channels
# sha256 of the sorted "name:shape" lines of the 472 tensors
STRUCTURE_SHA256 = "954403df03f5a6d824cbccdc11f2b359003e906b126822a8a9a1afc4b6c8b849"


def one_line_error(path) -> str:
    with pytest.raises(GenzooError) as e:
        load_inception(path)
    message = str(e.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory) -> Path:
    return write_stand_in(tmp_path_factory.mktemp("inception") / "stand-in.safetensors")


@pytest.fixture(scope="module")
def net(stand_in) -> InceptionV3:
    return load_inception(stand_in)


@pytest.fixture(scope="module")
def stand_in_tensors(stand_in) -> dict:
    return load_file(str(stand_in))


def images(n, channels, size, seed=0):
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed))


# --- the network ------------------------------------------------------------------------


def test_names_and_shapes_are_those_of_the_published_weights():
    shapes = expected_shapes()
    assert len(shapes) == N_TENSORS
    lines = "\n".join(f"{k}:{tuple(s)}" for k, s in sorted(shapes.items()))
    assert hashlib.sha256(lines.encode()).hexdigest() == STRUCTURE_SHA256
    assert sum(torch.Size(s).numel() for s in shapes.values()) == N_PARAMETERS + N_RUNNING_STATS
    net = InceptionV3()
    assert sum(p.numel() for p in net.parameters()) == N_PARAMETERS
    assert shapes["Conv2d_1a_3x3.conv.weight"] == (32, 3, 3, 3)
    assert shapes["Mixed_5b.branch_pool.conv.weight"] == (32, 192, 1, 1)
    assert shapes["Mixed_6e.branch7x7dbl_5.conv.weight"] == (192, 192, 1, 7)
    assert shapes["Mixed_7c.branch3x3dbl_3b.bn.running_var"] == (384,)
    assert shapes["fc.weight"] == (1008, 2048) and shapes["fc.bias"] == (1008,)
    assert not any(k.startswith("AuxLogits") for k in shapes)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(convs) == len(norms) == 94
    assert all(c.bias is None for c in convs) and all(b.eps == 1e-3 for b in norms)


def test_the_fid_variants_of_the_pools():
    x = torch.ones(1, 1, 5, 5)
    assert torch.equal(inception._avg_pool(x), x)  # padding is not averaged in
    net = InceptionV3()
    assert (net.Mixed_7b.pool, net.Mixed_7c.pool) == ("avg", "max")
    assert not net.train().training  # BatchNorm keeps its running statistics


def test_the_stand_in_round_trips_with_the_real_names_and_shapes(stand_in, net):
    tensors = load_file(str(stand_in))
    assert {k: tuple(v.shape) for k, v in tensors.items()} == expected_shapes()
    assert all((v > 0).all() for k, v in tensors.items() if k.endswith("running_var"))
    assert net.stand_in and len(net.sha256) == 64 and not net.training
    assert net.sha256 == features.weights_sha256(tensors)
    again = write_stand_in(stand_in.with_name("again.safetensors"))
    assert load_inception(again).sha256 == net.sha256  # deterministic


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [8, 28, 32])
def test_pool3_features_of_any_small_image(net, channels, size):
    with torch.no_grad():
        f = net.features(images(2, channels, size))
    assert f.shape == (2, 2048) and f.isfinite().all()
    assert net.classifier(f).shape == (2, 1008)


def test_grey_images_are_repeated_to_rgb(net):
    x = images(2, 1, 8)
    with torch.no_grad():
        assert torch.allclose(net.features(x), net.features(x.repeat(1, 3, 1, 1)))


def test_num_batches_tracked_may_be_present(net, stand_in_tensors, tmp_path):
    with_counts = dict(stand_in_tensors)
    with_counts.update({k: v for k, v in net.state_dict().items() if "num_batches" in k})
    assert len(with_counts) == N_TENSORS + 94
    save_file(with_counts, str(tmp_path / "counts.safetensors"))
    loaded = load_inception(tmp_path / "counts.safetensors")
    assert loaded.sha256 == net.sha256 and not loaded.stand_in  # no stand-in metadata


# --- refusing files ----------------------------------------------------------------------


@pytest.mark.parametrize("zipped", [True, False])
def test_a_pickle_is_refused_and_never_unpickled(tmp_path, monkeypatch, zipped):
    path = tmp_path / "pt_inception.pth"
    torch.save({"fc.bias": torch.zeros(1008)}, path, _use_new_zipfile_serialization=zipped)

    def unpickling(*args, **kwargs):
        raise AssertionError("genzoo unpickled a file")

    for module, name in [(torch, "load"), (pickle, "load"), (pickle, "loads"),
                         (pickle, "Unpickler")]:  # fmt: skip
        monkeypatch.setattr(module, name, unpickling)
    message = one_line_error(path)
    assert "never unpickles" in message and "weights_only=True" in message
    assert "save_file" in message and str(path.with_suffix(".safetensors")) in message


def test_the_documented_conversion_is_the_one_in_the_docs():
    assert "pt_inception-2015-12-05-6726825d.pth" in CONVERT
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert CONVERT in readme


def test_missing_unexpected_and_misshapen_tensors(stand_in_tensors, tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({k: v for k, v in stand_in_tensors.items() if k != "Mixed_6c.branch1x1.bn.bias"},
              str(path))  # fmt: skip
    assert "lacks Mixed_6c.branch1x1.bn.bias" in one_line_error(path)
    save_file({**stand_in_tensors, "AuxLogits.fc.weight": torch.zeros(1000, 768)}, str(path))
    assert "holds AuxLogits.fc.weight" in one_line_error(path)
    save_file({**stand_in_tensors, "fc.weight": torch.zeros(1000, 2048)}, str(path))
    assert "fc.weight has shape (1000, 2048), expected (1008, 2048)" in one_line_error(path)
    nan = stand_in_tensors["fc.bias"].clone()
    nan[3] = float("nan")
    save_file({**stand_in_tensors, "fc.bias": nan}, str(path))
    assert "non-finite" in one_line_error(path)


def test_truncated_foreign_and_missing_files(stand_in, tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(stand_in.read_bytes()[: stand_in.stat().st_size // 2])
    assert "not a valid safetensors file" in one_line_error(path)
    path.write_text("weights")
    assert "not a valid safetensors file" in one_line_error(path)
    assert "not found" in one_line_error(tmp_path / "nothing.safetensors")
    assert "not a file" in one_line_error(tmp_path)


# --- metrics ------------------------------------------------------------------------------


def test_fid_of_a_set_with_itself_is_zero_through_inception(net):
    x, y = images(4, 1, 28, seed=1), images(4, 1, 28, seed=2) ** 3  # y: darker
    same = sample_metrics(x, x, net, ("fid", "pr"), batch_size=3)
    assert abs(same["fid"]) < 1e-3
    assert same["precision"] == same["recall"] == 1.0
    f_x, _ = embed(net, x, batch_size=3)
    f_y, _ = embed(net, y, batch_size=3)
    assert torch.allclose(f_x, embed(net, x, batch_size=4)[0], atol=1e-5)  # any batching
    # FID(x, y) >= ‖mu_x − mu_y‖² (its trace term is >= 0): a cheap proof that it is not 0
    assert (f_x.mean(0) - f_y.mean(0)).square().sum() > 1.0
    with pytest.raises(GenzooError, match="1 or 3"):
        sample_metrics(images(6, 2, 8), x, net, ("fid",))


# --- the command line ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "fvsbn-digits"
    code = main(["train", "fvsbn", "--data", "digits", "--run-dir", str(run),
                 "--set", "max_steps=40", "--set", "val_every=20",
                 "--set", "progress=false", "--set", "tensorboard=false"])  # fmt: skip
    assert code == 0
    return run


def test_eval_with_inception_prints_its_protocol(trained_run, stand_in, net, capsys, monkeypatch):
    def no_feature_network(*args, **kwargs):
        raise AssertionError("genzoo's feature network was used")

    monkeypatch.setattr(features, "feature_network", no_feature_network)
    capsys.readouterr()
    args = ["eval", str(trained_run), "--metrics", "fid,kid,is,pr", "--inception", str(stand_in)]
    assert main([*args, "--n", "20"]) == 0
    out = capsys.readouterr().out
    assert "20 samples vs 20 test images" in out
    assert f"Inception-v3 pool3 (weights sha256 {net.sha256[:16]})" in out
    assert "stand-in" in out
    for line in ("FID: ", "KID: ", "IS: ", "precision: "):
        assert line in out


def test_eval_with_a_bad_inception_file_is_one_line(trained_run, tmp_path):
    pth = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save({"w": torch.zeros(3)}, pth)
    result = subprocess.run(
        [sys.executable, "-m", "genzoo.cli", "eval", str(trained_run), "--metrics", "fid",
         "--inception", str(pth), "--n", "20"],
        capture_output=True, text=True, env={**os.environ}, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "never unpickles" in lines[0] and "python -c" in lines[0]
    assert main(["eval", str(trained_run), "--inception", str(pth)]) == 2  # needs --metrics
