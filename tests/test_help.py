"""The CLI teaches: every verb and option explains itself, `train --help` lists what can be
trained on what, and long waits show progress on a terminal but not in a pipe."""

import argparse
import dataclasses
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from genzoo.apps.bench import PRESETS
from genzoo.cli import build_parser, main
from genzoo.data import dataset_names
from genzoo.models import get_model, list_models
from genzoo.train.config import TrainConfig

GENZOO = [sys.executable, "-m", "genzoo.cli"]


def verbs() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_verb_and_option_has_help_text():
    for name, parser in verbs().items():
        assert parser.description, f"genzoo {name} --help has no description"
        for action in parser._actions:
            what = f"genzoo {name} {action.option_strings or action.dest}"
            assert action.help and action.help != argparse.SUPPRESS, f"{what} has no help"


def test_options_shared_by_verbs_have_one_default():
    defaults: dict[str, set] = {}
    for parser in verbs().values():
        for action in parser._actions:
            for option in ("--split", "--labels-per-class", "--seed", "--data-root"):
                # None: off unless given (translate's --split, instead of --input)
                if option in action.option_strings and action.default is not None:
                    defaults.setdefault(option, set()).add(repr(action.default))
    assert len(defaults) == 4
    assert all(len(values) == 1 for values in defaults.values()), defaults


def test_train_help_lists_models_datasets_and_a_models_settings(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for spec in list_models():
        assert f"  {spec.name} " in out and spec.family in out
    for name in dataset_names():
        assert f"  {name} " in out
    assert "repeat" in out  # --set repeats

    with pytest.raises(SystemExit):
        main(["train", "dcgan", "--help"])
    out = capsys.readouterr().out
    settings = [
        *dataclasses.fields(get_model("dcgan").cls.Config),
        *dataclasses.fields(TrainConfig),
    ]
    for f in settings:
        assert f"\n  {f.name}=" in out, f.name
    assert "betas=0.5,0.999" in out and "Sec. 4" in out  # default and the paper's section
    assert "Radford" in out  # the paper

    with pytest.raises(SystemExit):
        main(["train", "nadee", "--help"])
    assert "did you mean 'nade'" in capsys.readouterr().out


def test_version_presets_and_built_in_data(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("genzoo ")
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = capsys.readouterr().out
    assert all(preset in out for preset in PRESETS)
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "photo-patches" in out and "built in" in out


def stderr_of(args: list[str], cwd: Path, terminal: bool) -> str:
    """The command's stderr, written to a pseudo-terminal or to a pipe."""
    env = {**os.environ, "COLUMNS": "100"}
    if not terminal:
        done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stderr
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))  # rows, cols
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the command closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=300) == 0
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_progress_bars_show_on_a_terminal_and_not_in_a_pipe(tmp_path):
    for terminal in (True, False):
        run = tmp_path / f"nade-{terminal}"
        args = [*GENZOO, "train", "nade", "--run-dir", str(run), "--set", "max_steps=30",
                "--set", "tensorboard=false", "--set", "hidden_dim=8"]  # fmt: skip
        err = stderr_of(args, tmp_path, terminal)
        assert ("30/30" in err) is terminal, err  # the training bar
        err = stderr_of([*GENZOO, "eval", str(run)], tmp_path, terminal)
        assert ("log p(x) of the test split" in err) is terminal, err  # the evaluation bar
