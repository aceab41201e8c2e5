"""Checkpoints as safetensors + JSON. Nothing here ever unpickles a file.

A run directory holds
    config.json              what to rebuild: model and its config, data, transform, training
    model.safetensors        model weights (the best by validation NLL, else the latest)
    checkpoint.safetensors   weights, the tensors of every optimizer (by name) and the RNG
                             state for exact resume; the JSON training state (step,
                             optimizer settings, the model's own train_state) sits in the
                             file's metadata, so the two can never disagree

Checkpoints of format 1 (before models named their optimizers) held one optimizer; they
load into the optimizers of today's models when their parameter groups line up, as every
built-in model's do.

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
CHECKPOINT_FORMAT = "genzoo-checkpoint/2"
CHECKPOINT_FORMATS = (CHECKPOINT_FORMAT, "genzoo-checkpoint/1")  # what load_checkpoint reads


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


def save_checkpoint(path: Path, model, optimizers: dict, state: dict) -> None:
    """Weights, every optimizer's state, the model's train_state and the global torch RNG;
    `state` is the loop's JSON state."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    settings = {}
    for name, optimizer in optimizers.items():
        if "." in name:
            raise ValueError(f"optimizer name {name!r}: no dots")
        optim = optimizer.state_dict()
        scalars: dict[str, dict] = {}
        for idx, param_state in optim["state"].items():
            for key, value in param_state.items():
                if isinstance(value, Tensor):
                    tensors[f"optim.{name}.{idx}.{key}"] = value
                else:
                    scalars.setdefault(str(idx), {})[key] = value
        settings[name] = {"param_groups": optim["param_groups"], "scalars": scalars}
    tensors["rng.torch"] = torch.get_rng_state()
    meta = dict(state, optimizers=settings, model_state=model.train_state())
    save_tensors(path, tensors, CHECKPOINT_FORMAT, meta)


def training_state(run_dir: Path) -> dict:
    """The loop's JSON state of a run's checkpoint (step, CPU and wall seconds, best
    validation NLL), read from its metadata without loading any tensor."""
    path = Path(run_dir) / "checkpoint.safetensors"
    return load_tensors(path, CHECKPOINT_FORMATS, False)[1]


def load_checkpoint(path: Path, model, optimizers: dict) -> dict:
    """Restore what `save_checkpoint` wrote, in place; returns the loop's JSON state."""
    tensors, meta = load_tensors(path, CHECKPOINT_FORMATS)
    _load_state(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, path)
    if "optimizers" in meta:
        states = _optimizer_states(tensors, meta.pop("optimizers"))
    else:
        states = _format_1_states(path, tensors, meta, optimizers)
    if set(states) != set(optimizers):
        raise CheckpointError(
            f"{path} holds the optimizers {sorted(states)}, but the model has {sorted(optimizers)}"
        )
    for name, optimizer in optimizers.items():
        try:
            optimizer.load_state_dict(states[name])
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"{path}: optimizer {name!r} does not fit ({e})") from None
    model.load_train_state(meta.pop("model_state", {}))
    torch.set_rng_state(tensors["rng.torch"])
    return meta


def _optimizer_states(tensors: dict, settings: dict) -> dict[str, dict]:
    states = {
        name: {"state": {}, "param_groups": s["param_groups"]} for name, s in settings.items()
    }
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, name, idx, field = key.split(".", 3)
            states[name]["state"].setdefault(int(idx), {})[field] = value
    for name, s in settings.items():
        for idx, scalars in s["scalars"].items():
            states[name]["state"].setdefault(int(idx), {}).update(scalars)
    return states


def _format_1_states(path: Path, tensors: dict, meta: dict, optimizers: dict) -> dict[str, dict]:
    """A format-1 checkpoint's one optimizer, split over today's optimizers: their parameter
    groups, in order, are the old optimizer's groups (a GAN's [discriminator, generator])."""
    old_state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, idx, field = key.split(".", 2)
            old_state.setdefault(int(idx), {})[field] = value
    for idx, scalars in meta.pop("optim_scalars").items():
        old_state.setdefault(int(idx), {}).update(scalars)
    old_groups = iter(meta.pop("optim_param_groups"))
    states = {}
    for name, optimizer in optimizers.items():
        groups, state = [], {}
        for group in optimizer.param_groups:
            old = next(old_groups, None)
            if old is None or len(old["params"]) != len(group["params"]):
                raise CheckpointError(
                    f"{path} was written by an older genzoo whose optimizer does not fit this "
                    f"model's; start a new run from its weights with --init-from {path.parent}"
                )
            first = sum(len(g["params"]) for g in groups)
            new = list(range(first, first + len(old["params"])))
            for i, j in zip(old["params"], new, strict=True):
                if i in old_state:
                    state[j] = old_state[i]
            groups.append(dict(old, params=new))
        states[name] = {"state": state, "param_groups": groups}
    if next(old_groups, None) is not None:
        raise CheckpointError(
            f"{path} was written by an older genzoo whose optimizer does not fit this "
            f"model's; start a new run from its weights with --init-from {path.parent}"
        )
    return states
