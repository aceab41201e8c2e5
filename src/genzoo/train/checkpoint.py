"""Checkpoints as safetensors + JSON. Nothing here ever unpickles a file.

A run directory holds
    config.json              what to rebuild: model and its config, data, transform, training
    model.safetensors        model weights (the best by validation NLL, else the latest)
    checkpoint.safetensors   weights, optimizer tensors and RNG state for exact resume;
                             the JSON training state (step, optimizer settings, ...) sits
                             in the file's metadata, so the two can never disagree

Every file is written to a temporary name in the same directory and moved into place with
`os.replace`, so a crash leaves the previous version intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genzoo.core.errors import CheckpointError

RUN_FORMAT = "genzoo-run/1"
MODEL_FORMAT = "genzoo-model/1"
CHECKPOINT_FORMAT = "genzoo-checkpoint/1"


def atomic_write(path: Path, write) -> None:
    """Call `write(tmp_path)`, then move the result onto `path` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=2) + "\n"))


def read_json(path: Path) -> dict:
    try:
        obj = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} not found: is this a genzoo run directory?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} is not a genzoo config")
    return obj


def save_tensors(path: Path, tensors: dict[str, Tensor], fmt: str, meta: dict) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    metadata = {"format": fmt, "state": json.dumps(meta)}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def load_tensors(path: Path, fmt: str, tensors: bool = True) -> tuple[dict[str, Tensor], dict]:
    """Read a safetensors file that genzoo wrote (with `tensors=False`, only its JSON
    metadata); anything else is a CheckpointError."""
    from safetensors import SafetensorError
    from safetensors.torch import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()} if tensors else {}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(
            f"{path} is not a genzoo checkpoint (not a valid safetensors file: {reason})"
        ) from None
    if metadata.get("format") != fmt:
        raise CheckpointError(f"{path} is not a genzoo {fmt.split('/')[0]} file")
    try:
        meta = json.loads(metadata.get("state", "{}"))
    except json.JSONDecodeError:
        raise CheckpointError(f"{path} has damaged metadata") from None
    return tensors, meta


def save_model(path: Path, model: torch.nn.Module, meta: dict) -> None:
    save_tensors(path, model.state_dict(), MODEL_FORMAT, meta)


def load_model_weights(
    path: Path, model: torch.nn.Module, target: str = "the model in config.json"
) -> dict:
    tensors, meta = load_tensors(path, MODEL_FORMAT)
    _load_state(model, tensors, path, target)
    return meta


def _load_state(
    model: torch.nn.Module,
    state: dict[str, Tensor],
    path: Path,
    target: str = "the model in config.json",
) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise CheckpointError(f"{path} does not fit {target}: {first}") from None


def save_checkpoint(path: Path, model, optimizer, state: dict) -> None:
    """Weights, optimizer state and the global torch RNG; `state` is the loop's JSON state."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    optim = optimizer.state_dict()
    scalars: dict[str, dict] = {}
    for idx, param_state in optim["state"].items():
        for key, value in param_state.items():
            if isinstance(value, Tensor):
                tensors[f"optim.{idx}.{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    tensors["rng.torch"] = torch.get_rng_state()
    meta = dict(state, optim_param_groups=optim["param_groups"], optim_scalars=scalars)
    save_tensors(path, tensors, CHECKPOINT_FORMAT, meta)


def training_state(run_dir: Path) -> dict:
    """The loop's JSON state of a run's checkpoint (step, CPU and wall seconds, best
    validation NLL), read from its metadata without loading any tensor."""
    return load_tensors(Path(run_dir) / "checkpoint.safetensors", CHECKPOINT_FORMAT, False)[1]


def load_checkpoint(path: Path, model, optimizer) -> dict:
    """Restore what `save_checkpoint` wrote, in place; returns the loop's JSON state."""
    tensors, meta = load_tensors(path, CHECKPOINT_FORMAT)
    _load_state(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, path)
    optim_state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            optim_state.setdefault(int(idx), {})[name] = value
    for idx, scalars in meta.pop("optim_scalars").items():
        optim_state.setdefault(int(idx), {}).update(scalars)
    optimizer.load_state_dict(
        {"state": optim_state, "param_groups": meta.pop("optim_param_groups")}
    )
    torch.set_rng_state(tensors["rng.torch"])
    return meta
