"""Checkpoints as safetensors + JSON. Nothing here ever unpickles a file.

A run directory holds
    config.json              what to rebuild: model and its config, data, transform, training
    model.safetensors        model weights (the best by validation NLL, else the latest)
    checkpoint.safetensors   weights, optimizer tensors and RNG state for exact resume;
                             the JSON training state (step, optimizer settings, ...) sits
                             in the file's metadata, so the two can never disagree

Every file is written atomically (genzoo.io.files), so a crash leaves the previous version
intact.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from genzoo.core.errors import CheckpointError
from genzoo.io.files import load_tensors, save_tensors

RUN_FORMAT = "genzoo-run/1"
MODEL_FORMAT = "genzoo-model/1"
CHECKPOINT_FORMAT = "genzoo-checkpoint/1"


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
