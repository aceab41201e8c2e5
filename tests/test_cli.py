"""The command line, end to end on the built-in digits, and its answers to bad input."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genzoo.cli import main

QUIET = ["--set", "progress=false", "--set", "tensorboard=false"]


def genzoo(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    """Run the real console entry point in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "genzoo.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=300,
    )


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "fvsbn-digits"
    code = main(["train", "fvsbn", "--data", "digits", "--run-dir", str(run),
                 "--set", "max_steps=40", "--set", "val_every=20", *QUIET])  # fmt: skip
    assert code == 0
    return run


def test_train_writes_a_complete_run(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"config.json", "model.safetensors", "checkpoint.safetensors", "metrics.jsonl",
            "samples.png", "report.md"} <= names  # fmt: skip
    report = (trained_run / "report.md").read_text()
    assert "genzoo train fvsbn" in report or "--run-dir" in report
    assert "| test |" in report
    config = json.loads((trained_run / "config.json").read_text())
    assert config["train"]["max_steps"] == 40 and config["transform"]["binarize"] == "static"


def test_sample_needs_only_the_run_directory(trained_run, tmp_path):
    out = tmp_path / "grid.png"
    result = genzoo("sample", str(trained_run), "-n", "16", "-o", str(out),
                    env={"GENZOO_DATA": str(tmp_path / "empty")})  # fmt: skip
    assert result.returncode == 0, result.stderr
    from PIL import Image

    assert Image.open(out).size[0] > 32


def test_eval_prints_nats_bits_and_protocol(trained_run, capsys):
    assert main(["eval", str(trained_run), "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "nats" in out and "bits/dim" in out and "test" in out and "static" in out


def test_resume_continues_to_a_larger_budget(trained_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    assert main(["train", "--resume", str(run), "--set", "max_steps=50"]) == 0
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 50


def test_python_api_loads_a_run(trained_run):
    import genzoo

    model = genzoo.load(trained_run)
    assert genzoo.Capability.LOG_PROB in model.capabilities
    x = model.sample(3)
    assert model.log_prob(x).shape == (3,)


def test_models_and_params(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "fvsbn" in out and "explicit (exact)" in out
    assert main(["params", "--pixels", "10"]) == 0
    out = capsys.readouterr().out
    assert "1,023" in out and "19" in out  # 2^10 - 1 and 2*10 - 1


def test_unknown_model():
    assert_one_line_error(genzoo("train", "no-such-model"), "unknown model", "fvsbn")


def test_unknown_set_key(tmp_path):
    result = genzoo("train", "fvsbn", "--run-dir", str(tmp_path / "r"), "--set", "hiden_dim=3")
    assert_one_line_error(result, "hiden_dim")
    assert not (tmp_path / "r").exists()


def test_bad_set_value(tmp_path):
    result = genzoo("train", "markov", "--run-dir", str(tmp_path / "r"), "--set", "k=two")
    assert_one_line_error(result, "k=")


def test_a_pickle_is_not_a_checkpoint(trained_run, tmp_path):
    import shutil

    run = tmp_path / "tampered"
    shutil.copytree(trained_run, run)
    torch.save({"w": torch.zeros(3)}, run / "model.safetensors")
    assert_one_line_error(genzoo("sample", str(run), "-o", str(tmp_path / "x.png")),
                          "not a genzoo checkpoint")  # fmt: skip
    (tmp_path / "nothing").mkdir()
    assert_one_line_error(genzoo("eval", str(tmp_path / "nothing")), "config.json")


def test_an_existing_run_is_never_overwritten(trained_run):
    before = (trained_run / "model.safetensors").read_bytes()
    result = genzoo("train", "fvsbn", "--run-dir", str(trained_run), "--set", "max_steps=1")
    assert_one_line_error(result, "already holds a run")
    assert (trained_run / "model.safetensors").read_bytes() == before


def _write_idx(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(payload)


def test_truncated_and_wrong_magic_idx(tmp_path):
    header = (0x803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (60000, 28, 28))
    for other in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                  "t10k-labels-idx1-ubyte.gz"):  # fmt: skip
        _write_idx(tmp_path / "mnist" / other, b"")  # present, so the set is checked, not fetched
    _write_idx(tmp_path / "mnist" / "train-images-idx3-ubyte.gz", header + b"\0" * 100)
    result = genzoo("--data-root", str(tmp_path), "train", "fvsbn", "--data", "mnist",
                    env={"GENZOO_DATA_URL": "http://127.0.0.1:9"})  # fmt: skip
    assert_one_line_error(result, "train-images-idx3-ubyte.gz", "truncated IDX file")
    _write_idx(tmp_path / "mnist" / "train-images-idx3-ubyte.gz", b"\x12\x34\x56\x78" * 8)
    result = genzoo("--data-root", str(tmp_path), "train", "fvsbn", "--data", "mnist",
                    env={"GENZOO_DATA_URL": "http://127.0.0.1:9"})  # fmt: skip
    assert_one_line_error(result, "train-images-idx3-ubyte.gz", "IDX magic is 0x12345678")


def test_missing_file_offline(tmp_path):
    result = genzoo("--data-root", str(tmp_path), "train", "fvsbn", "--data", "binarized-mnist",
                    env={"GENZOO_DATA_URL": "http://127.0.0.1:9"})  # fmt: skip
    assert_one_line_error(result, "binarized_mnist_", str(tmp_path))
    # the global options also go after the verb, as users type them
    result = genzoo("train", "fvsbn", "--data", "binarized-mnist", "--data-root", str(tmp_path),
                    env={"GENZOO_DATA_URL": "http://127.0.0.1:9"})  # fmt: skip
    assert_one_line_error(result, "binarized_mnist_", str(tmp_path))


def test_debug_shows_the_traceback():
    result = genzoo("--debug", "train", "no-such-model")
    assert result.returncode != 0 and "Traceback" in result.stderr
    result = genzoo("train", "no-such-model", "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr
    result = genzoo("train", "no-such-model")  # without it: one line
    assert_one_line_error(result, "no-such-model")


def test_help_is_fast_because_nothing_heavy_is_imported():
    code = "import sys, genzoo.cli; genzoo.cli.build_parser(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"
