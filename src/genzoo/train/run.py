"""Run directories: train a registered model on a named dataset, and load it back.

runs/<model>-<data>-<time>/
    config.json  model.safetensors  checkpoint.safetensors
    metrics.jsonl  tensorboard/  samples.png  report.md
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from genzoo.core.capabilities import Capability
from genzoo.core.config import apply_overrides, config_from_json, config_to_json
from genzoo.core.errors import CheckpointError, GenzooError, UnknownNameError, did_you_mean
from genzoo.core.model import DataInfo, GenerativeModel
from genzoo.io.files import read_json, remove_stale_temporaries, write_json
from genzoo.models import get_model
from genzoo.train.checkpoint import RUN_FORMAT, load_model_weights
from genzoo.train.config import TrainConfig


@dataclass
class Run:
    """A trained model with everything needed to evaluate and sample it (genzoo.apps.report
    evaluates it and writes its report)."""

    path: Path
    model: GenerativeModel
    model_name: str
    data_name: str
    train_config: TrainConfig
    transform: object  # genzoo.data.Transform
    protocol: str
    # set by train_run: how training ended, the wall seconds of this command, and the data
    # as training saw it and where it came from (for the report)
    result: object = None  # genzoo.train.loop.FitResult
    seconds: float | None = None
    splits: object = None  # genzoo.data.Splits
    data_root: object = None  # str | Path | None, train_run's

    @property
    def has_likelihood(self) -> bool:
        return bool(self.model.capabilities & (Capability.LOG_PROB | Capability.ELBO))

    def require_likelihood(self) -> None:
        if not self.has_likelihood:
            from genzoo.core.capabilities import density_kind

            kind = density_kind(self.model.capabilities)
            what = "not a generative model" if kind == "none" else "an implicit model"
            raise GenzooError(f"{self.model_name} is {what}: it has no likelihood to evaluate")


def split_overrides(model_name: str, overrides: dict[str, str]) -> tuple[dict, dict]:
    """Route each `--set key=value` to the model config or the training config."""
    model_fields = {f.name for f in dataclasses.fields(get_model(model_name).cls.Config)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    model_overrides, train_overrides = {}, {}
    for key, value in overrides.items():
        if key in model_fields:
            model_overrides[key] = value
        elif key in train_fields:
            train_overrides[key] = value
        else:
            known = ", ".join(sorted(model_fields | train_fields))
            hint = did_you_mean(key, model_fields | train_fields)
            raise UnknownNameError(
                f"unknown setting {key!r} for {model_name}{hint}; known: {known}"
            )
    return model_overrides, train_overrides


def resolve_transform(config: TrainConfig, model_cls: type[GenerativeModel], n_levels: int):
    """Turn the "auto" data settings into a concrete Transform for this model and dataset."""
    from genzoo.data import Transform

    kinds = model_cls.data_kinds
    binarize = config.binarize
    if binarize == "auto":
        binarize = "static" if n_levels > 2 and "binary" in kinds else "none"
    continuous = binarize == "none" and n_levels > 2 and "categorical" not in kinds
    scale = config.scale
    if scale == "auto":
        scale = "levels" if binarize == "none" and n_levels > 2 and not continuous else "unit"
        if continuous:
            scale = model_cls.continuous_scale
    dequantize = config.dequantize
    if dequantize is None:
        dequantize = continuous and scale != "levels" and model_cls.dequantize_continuous
    return Transform(
        n_levels=n_levels, binarize=binarize, scale=scale, dequantize=dequantize, seed=config.seed
    )


def load_splits(data_name: str, data_root, train_config: TrainConfig):
    """The dataset as the run sees it: with its `exclude_classes` removed."""
    from genzoo import data as gdata
    from genzoo.data.splits import without_classes

    splits = gdata.load(data_name, data_root)
    if train_config.exclude_classes:
        splits = without_classes(splits, train_config.exclude_classes)
    return splits


def default_run_dir(model_name: str, data_name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe_data = data_name.replace("/", "_").replace(":", "-")
    return Path("runs") / f"{model_name}-{safe_data}-{stamp}"


def train_run(
    model_name: str,
    data_name: str = "digits",
    overrides: dict[str, str] | None = None,
    run_dir: str | Path | None = None,
    data_root: str | Path | None = None,
    resume: bool = False,
    command: str | None = None,
    init_from: str | Path | None = None,
) -> Run | None:
    """Train (or resume) `model_name` on `data_name` in a run directory; returns the Run
    (None in the other processes of a `torchrun` launch), with the FitResult as
    `run.result`; genzoo.apps.report.train_and_report also writes its report.

    `init_from` starts a new run from another run's trained weights (its model.safetensors)
    with a fresh optimizer and schedule, e.g. a VAE continued under the IWAE objective.
    """
    from genzoo.train.loop import check_settings, fit, launched_by_torchrun

    overrides = dict(overrides or {})
    run_dir_given = run_dir
    if resume and init_from is not None:
        raise GenzooError("--init-from starts a new run; it cannot be combined with --resume")
    if resume:
        run_dir = Path(run_dir)
        cfg = read_run_config(run_dir)
        model_name, data_name = cfg["model"], cfg["data"]
        if not (run_dir / "checkpoint.safetensors").exists():
            raise GenzooError(
                f"{run_dir} has no checkpoint: its training stopped before the first one. "
                f"Start it again with `genzoo train {model_name} --data {data_name} --run-dir "
                f"{run_dir}` (the folder is reused)"
            )
    spec = get_model(model_name)
    model_overrides, train_overrides = split_overrides(model_name, overrides)
    if resume:
        if model_overrides:
            raise GenzooError(f"the model of a run cannot change on resume: {model_overrides}")
        train_config = apply_overrides(config_from_json(TrainConfig, cfg["train"]), train_overrides)
        model_config = config_from_json(spec.cls.Config, cfg["model_config"])
    else:
        train_config = apply_overrides(TrainConfig(), train_overrides)
        model_config = apply_overrides(spec.default_config(), model_overrides)
        run_dir = Path(run_dir) if run_dir else default_run_dir(model_name, data_name)
        if (run_dir / "checkpoint.safetensors").exists():
            raise GenzooError(f"{run_dir} already holds a run: use --resume or another --run-dir")
        # a folder whose run stopped before its first checkpoint is reused (its files are
        # overwritten as the new run writes them)

    splits = load_splits(data_name, data_root, train_config)
    transform = resolve_transform(train_config, spec.cls, splits.n_levels)
    info = transform.data_info(splits)
    streams = data_streams(splits, info)
    torch.manual_seed(train_config.seed)
    model = spec.cls(model_config, info)
    streams.require(model.streams, model_name, paired=not model.unpaired)
    planned = model.planned_steps()
    if planned and not resume and not {"max_steps", "epochs"} & set(train_overrides):
        # a model whose own schedule sets the run's length (SinGAN's scales)
        train_config = dataclasses.replace(train_config, max_steps=planned)
    select = None
    if train_config.select_by == "fid":
        select = fid_selector(model, model_name, data_name, data_root, splits, transform,
                              train_config.select_samples)  # fmt: skip
    if init_from is not None:
        init_from = str(init_weights(model, model_name, info, Path(init_from)))
    elif resume:
        init_from = cfg.get("init_from")

    command = command or f"genzoo.train_run({model_name!r}, {data_name!r}, {overrides!r})"
    first_process = os.environ.get("RANK", "0") == "0"  # torchrun starts several
    if launched_by_torchrun() and run_dir_given is None:
        raise GenzooError("under torchrun give --run-dir: every process must use the same one")
    check_settings(model, train_config)
    # everything is checked: from here on, the run directory changes
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(run_dir)
    if not resume:  # a reused folder: the stopped run's log is not this run's
        (run_dir / "metrics.jsonl").unlink(missing_ok=True)
    train_x = transform.fixed(splits.train, "train")
    valid_x = transform.fixed(splits.valid, "valid") if model.validation_metric else None
    callbacks = []
    # the grid monitor holds this process's model: with several processes, none is kept
    several = train_config.devices > 1 or launched_by_torchrun()
    if model.progress_grids and train_config.n_samples and not several:
        from genzoo.train.monitor import SampleMonitor, TranslationMonitor, diversity_classifier

        steps_per_epoch = math.ceil(len(train_x) / train_config.batch_size)
        if Capability.TRANSLATE in model.capabilities:  # fixed validation inputs
            source, target = translation_pairs(splits, transform, "valid", PROGRESS_PAIRS)
            callbacks.append(TranslationMonitor(model, run_dir, transform, steps_per_epoch,
                                                source, target))  # fmt: skip
        else:
            classifier = diversity_classifier(data_name, data_root,
                                              train_config.diversity_monitor)  # fmt: skip
            callbacks.append(SampleMonitor(model, run_dir, transform, steps_per_epoch,
                                           classifier, name=model_name))  # fmt: skip
    if first_process:
        write_json(
            run_dir / "config.json",
            {
                "format": RUN_FORMAT,
                "model": model_name,
                "model_config": config_to_json(model_config),
                "data": data_name,
                "data_info": info.to_json(),
                "data_spec": streams.to_json(),
                "transform": dataclasses.asdict(transform),
                "train": config_to_json(train_config),
                "protocol": splits.protocol,
                **({"init_from": init_from} if init_from else {}),
                "commands": ([*cfg.get("commands", [])] if resume else []) + [command],
            },
        )
    started = time.perf_counter()
    data = stream_data(splits, streams, transform, "train", {"x": train_x})
    result = fit(model, data, valid_x, train_config, transform=transform, run_dir=run_dir,
                 resume=resume, callbacks=callbacks, select=select)  # fmt: skip
    for callback in callbacks:
        callback.finish()
    if not first_process:  # the first process returns the run
        return None
    seconds = time.perf_counter() - started
    run = load_run(run_dir)
    run.result, run.seconds, run.splits, run.data_root = result, seconds, splits, data_root
    return run


def fid_selector(model, model_name, data_name, data_root, splits, transform, n: int):
    """select_by=fid: a FIDSelector on the validation split (genzoo.train.monitor)."""
    from genzoo.metrics.features import LABELLED_TWIN, feature_network
    from genzoo.train.monitor import FIDSelector

    if Capability.SAMPLE not in model.capabilities:
        raise GenzooError(f"select_by=fid judges samples, and {model_name} does not sample")
    if n < 10:
        raise GenzooError(f"select_samples={n}: take at least 10 samples")
    net, _ = feature_network(LABELLED_TWIN.get(data_name, data_name), data_root)
    valid = transform.fixed(splits.valid[:n], "valid")
    return FIDSelector(net.to(model.device), valid, model, transform, n, data_name)


def n_classes(splits) -> int | None:
    """The number of classes of a labelled dataset (the largest label of any split, + 1)."""
    if splits.train_labels is None:
        return None
    labels = [getattr(splits, f"{s}_labels") for s in ("train", "valid", "test")]
    return max(int(y.max()) for y in labels if y is not None and len(y)) + 1


def data_streams(splits, info: DataInfo):
    """The named streams of a dataset as the model sees it: images "x", "label" when the
    dataset has labels, its further image streams (a paired task's "source"), and
    "attributes" when it has an attribute vector per image (morpho-mnist), and "caption"
    (the embedding of each image's caption) for a captioned task."""
    from genzoo.data.streams import DataSpec, Stream

    streams = [Stream("x", "image", info.shape)]
    if splits.train_labels is not None:
        streams.append(Stream("label", "label", (), n_classes=n_classes(splits)))
    for name, images in splits.images.items():
        streams.append(Stream(name, "image", tuple(images.train.shape[1:]), images.domain))
    if splits.attributes is not None:
        streams.append(Stream("attributes", "attributes", (len(splits.attributes.names),)))
    if splits.captions is not None:  # a caption's sentence embedding φ(t)
        streams.append(Stream("caption", "embedding", tuple(splits.captions.train.shape[1:])))
    return DataSpec(tuple(streams))


def stream_data(splits, spec, transform, split: str, done: dict | None = None):
    """The StreamData of one split: every image stream of `spec` through the transform's
    once-per-split part (`done` holds streams already transformed), labels and attribute
    vectors as they are."""
    from genzoo.data.streams import StreamData, TensorDataset

    done = done or {}
    datasets = {}
    for stream in spec.streams:
        if stream.kind == "image":
            x = done.get(stream.name)
            if x is None:
                x = transform.fixed_stream(splits, stream.name, split)
            datasets[stream.name] = TensorDataset(x)
        elif stream.name == "label":
            datasets["label"] = TensorDataset(getattr(splits, f"{split}_labels"))
        elif stream.kind == "attributes" and splits.attributes is not None:
            datasets[stream.name] = TensorDataset(splits.attributes.split(split))
        elif stream.name == "caption" and splits.captions is not None:
            datasets["caption"] = TensorDataset(splits.captions.split(split))
        else:
            raise GenzooError(f"stream {stream.name!r} of kind {stream.kind} is not loaded yet")
    return StreamData(spec, datasets)


PROGRESS_PAIRS = 8  # the fixed validation inputs of a translation model's progress grid


def translation_pairs(splits, transform, split: str, n: int | None = None):
    """(source, target): the first n pairs of a split of a paired task, through the
    transform (all of them when n is None)."""
    from genzoo.data.streams import SOURCE

    if SOURCE not in splits.images:
        raise GenzooError(f"{splits.name} is not a paired task: it has no {SOURCE!r} images "
                          "to translate (`genzoo data list` names the tasks)")  # fmt: skip
    if len(splits.images[SOURCE].split(split)) != len(splits.split(split)):
        raise GenzooError(f"the {split} split of {splits.name} is not paired: "
                          f"{len(splits.images[SOURCE].split(split))} {SOURCE!r} images for "
                          f"{len(splits.split(split))} targets")  # fmt: skip
    rows = slice(None, n)
    source = transform.fixed(splits.images[SOURCE].split(split)[rows], f"{split}/{SOURCE}")
    return source, transform.fixed(splits.split(split)[rows], split)


def init_weights(model, model_name: str, info: DataInfo, source: Path) -> Path:
    """Load the trained weights of the run at `source` into `model` (same model and data shape)."""
    cfg = read_run_config(source)
    if cfg.get("model") != model_name:
        raise GenzooError(f"--init-from {source} is a {cfg.get('model')} run, not {model_name}")
    if cfg.get("data_info") != info.to_json():
        raise GenzooError(f"--init-from {source} was trained on data of another shape or "
                          f"alphabet ({cfg.get('data_info')}, here {info.to_json()})")  # fmt: skip
    load_model_weights(source / "model.safetensors", model, "the model configured here")
    return source


RUN_SCHEMA = {"model": str, "model_config": dict, "data": str, "data_info": dict,
              "transform": dict, "train": dict, "protocol": str, "commands": list}  # fmt: skip


def read_run_config(path: Path) -> dict:
    """config.json of the run directory `path`, checked to be a genzoo run's."""
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a directory: give a genzoo run directory")
    cfg = read_json(path / "config.json")
    if cfg.get("format") != RUN_FORMAT:
        raise CheckpointError(f"{path / 'config.json'} is not a genzoo run config")
    for key, kind in RUN_SCHEMA.items():  # everything read before the configs are parsed
        if not isinstance(cfg.get(key), kind):
            what = "missing" if key not in cfg else f"not a {kind.__name__}"
            raise CheckpointError(f"{path / 'config.json'} is damaged: {key!r} is {what}")
    return cfg


def load_run(run_dir: str | Path) -> Run:
    """Rebuild a run's model from config.json and model.safetensors alone (no dataset)."""
    from genzoo.data import Transform

    path = Path(run_dir)
    cfg = read_run_config(path)
    try:
        spec = get_model(cfg["model"])
        model_config = config_from_json(spec.cls.Config, cfg["model_config"])
        info = DataInfo.from_json(cfg["data_info"])
        transform = Transform(**cfg["transform"])
        train_config = config_from_json(TrainConfig, cfg["train"])
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{path / 'config.json'} is incomplete or damaged ({e})") from None
    model = spec.cls(model_config, info)
    load_model_weights(path / "model.safetensors", model)
    model.eval()
    return Run(path, model, cfg["model"], cfg["data"], train_config, transform, cfg["protocol"])


def load(run_dir: str | Path) -> GenerativeModel:
    """`genzoo.load(run_dir)`: the trained model of a run, in eval mode."""
    return load_run(run_dir).model
