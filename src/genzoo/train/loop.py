"""The training loop, on Lightning Fabric. It knows nothing about any particular model: it
calls `model.training_step(batch, step, optimizers, backward)` with the optimizers of
`model.configure_optimizers`, and `model.validation_nll(x)` for early stopping
(genzoo.core.model describes the contract).

Several processes (`devices=2`, or `torchrun`): each trains on its share of every batch, and
every optimizer averages its gradients across the processes just before it steps (an
optimizer pre-hook), then clips them. That works for any number of backward passes and
optimizers per batch (a GAN's two players), where torch's DDP wrapper assumes one backward
per forward. Buffers (BatchNorm statistics) are copied from the first process after every
step, as DDP does.

Exact resume: the data order of epoch e is a permutation drawn from (seed, e), so the batch
of any step follows from the step number alone; the checkpoint holds the weights, every
optimizer's state, the model's own training state and the global torch RNG (used by
stochastic transforms and by models that draw at training time, e.g. MADE's masks).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor

from genzoo.core.config import apply_overrides, validate
from genzoo.core.errors import GenzooError, TrainingDiverged
from genzoo.core.progress import progress, shows_progress
from genzoo.data.augment import Augment
from genzoo.data.streams import BatchSampler, StreamData, derived_seed
from genzoo.io.files import load_tensors, save_tensors
from genzoo.metrics.likelihood import mean_nll, validation_report
from genzoo.threads import default_threads
from genzoo.train.checkpoint import MODEL_FORMAT, load_checkpoint, save_checkpoint, save_model
from genzoo.train.config import TrainConfig

Callback = Callable[[int, dict], None]
LOSS_GROWTH = 1e3  # a loss this many times its first value gets a warning


class Selector(Protocol):
    """A score of the model, lower is better: `key` names it in metrics.jsonl, `name` in
    reports."""

    key: str
    name: str

    def __call__(self, model) -> float: ...


@dataclass
class FitResult:
    step: int
    stopped: str  # "completed" | "early_stopping" | "interrupted" | "cpu_budget"
    best_val_nll: float | None = None
    history: list[dict] = field(default_factory=list)
    cpu_seconds: float = 0.0  # process CPU time over all sessions of the run (rank 0)
    wall_seconds: float = 0.0
    replicas_agree: bool | None = None  # multi-process runs: all ranks ended with equal weights
    selected_by: str | None = None  # what best_val_nll measures, when a selector chose
    warnings: list[str] = field(default_factory=list)  # said during training, for the report


def lr_factor(config: TrainConfig, step: int, max_steps: int) -> float:
    """The schedule's multiplier of the learning rate at step `step` (0-based): a function
    of the step alone, so that resuming needs no scheduler state."""
    if config.lr_schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * step / max_steps))
    return 1.0


class _StopSignal:
    """Turns SIGINT/SIGTERM into a flag the loop checks after every step."""

    def __init__(self):
        self.received: int | None = None
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.received = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class _Logger:
    """metrics.jsonl and TensorBoard, written by rank 0 only."""

    def __init__(self, run_dir: Path | None, tensorboard: bool):
        self.path = run_dir / "metrics.jsonl" if run_dir else None
        self.writer = None
        if run_dir and tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def log(self, record: dict) -> None:
        if self.path:
            with self.path.open("a") as f:
                f.write(json.dumps(record) + "\n")
        if self.writer:
            for key, value in record.items():
                if key not in ("step", "split", "epoch", "wall_s") and isinstance(
                    value, int | float
                ):
                    self.writer.add_scalar(f"{record['split']}/{key}", value, record["step"])

    def close(self) -> None:
        if self.writer:
            self.writer.close()


def fit(
    model,
    train: Tensor | StreamData,
    valid: Tensor | None = None,
    config: TrainConfig | None = None,
    *,
    transform=None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
    labels: Tensor | None = None,
    select: Selector | None = None,
    **overrides,
) -> FitResult:
    """Train `model` on `train` by its own `training_step`: a tensor (N, ...) of the data x,
    or named streams (genzoo.data.streams.StreamData) of which every batch carries the ones
    in `model.streams`.

    `transform.batch(x)` is applied to every batch (dynamic binarisation, dequantisation).
    With `run_dir`, checkpoints, metrics and TensorBoard logs are written there, and
    `resume=True` continues exactly from its checkpoint. Models that learn from labels
    (`uses_labels`, e.g. a conditional GAN) get the rows of `labels` (N,) with each batch.
    Overrides such as `max_steps=200` update `config`.

    `select` replaces the validation loss as what keeps the best weights (model.safetensors)
    and early-stops: a score of the model, lower is better, taken at every validation
    point, e.g. the FID of a GAN's samples (genzoo.train.run.fid_selector). Without either,
    the latest weights are kept.

    Under `torchrun` every process calls this, and they train together (Fabric's DDP with
    the launcher's world); with `devices=N` this process starts N and waits for them.
    """
    config = apply_overrides(config or TrainConfig(), overrides)
    with torch_threads(config.num_threads or default_threads()):
        return _start(model, train, valid, config, transform, run_dir, resume, callbacks,
                      labels, select)  # fmt: skip


@contextlib.contextmanager
def torch_threads(n: int | None):
    """torch's intra-op threads set to n for the block (None: unchanged), then restored, so
    that a run's `num_threads` does not outlive it in the caller's process. fit's default
    is genzoo.threads.default_threads(), not torch's one thread per core, which
    collapses when another job holds a core."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _start(model, train, valid, config, transform, run_dir, resume, callbacks, labels, select):
    """fit, after its settings: resolve the data and launch one process or several."""
    run_dir = Path(run_dir) if run_dir else None
    if resume and not (run_dir and (run_dir / "checkpoint.safetensors").exists()):
        raise GenzooError(f"nothing to resume: no checkpoint.safetensors in {run_dir}")
    check_settings(model, config, callbacks)
    data = train if isinstance(train, StreamData) else StreamData.from_tensors(train, labels)
    data.spec.require(model.streams, type(model).__name__, paired=not model.unpaired)
    from lightning_fabric import Fabric

    if launched_by_torchrun():
        local = int(os.environ["LOCAL_WORLD_SIZE"])
        nodes = int(os.environ.get("WORLD_SIZE", local)) // local
        fabric = Fabric(accelerator=config.accelerator, devices=local, num_nodes=nodes,
                        strategy="ddp", precision=config.precision)  # fmt: skip
        fabric.launch()
        job = _ParallelJob(model, data, valid, config, transform, run_dir, resume, select)
        return job.run(fabric, model)
    if config.devices > 1:
        return _fit_spawned(model, data, valid, config, transform, run_dir, resume, select)
    fabric = Fabric(accelerator=config.accelerator, devices=1, precision=config.precision)
    return _fit(fabric, model, data, valid, config, transform, run_dir, resume, callbacks, select)


def check_settings(model, config: TrainConfig, callbacks: Sequence = ()) -> None:
    """What fit refuses before it starts, beyond each setting's own range (genzoo.train.run
    calls this too, before it writes anything)."""
    validate(config)
    if config.lr_schedule != "constant" and model.schedules_own_lr:
        raise GenzooError(
            f"{type(model).__name__} schedules its own learning rates: leave lr_schedule "
            f"constant (not {config.lr_schedule})"
        )
    if Augment.parse(config.augment) and not model.augmentable:
        raise GenzooError(f"{type(model).__name__} cannot be trained with augment="
                          f"{config.augment}: its streams' places would not move with the "
                          "images (leave augment empty)")  # fmt: skip
    if config.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise GenzooError(f"accelerator={config.accelerator}, but torch finds no CUDA GPU here "
                          "(torch.cuda.is_available() is False): use accelerator=cpu")  # fmt: skip
    if config.accelerator == "mps" and not torch.backends.mps.is_available():
        raise GenzooError("accelerator=mps, but this machine has no Apple GPU: use accelerator=cpu")
    if callbacks and (config.devices > 1 or launched_by_torchrun()):
        raise GenzooError("callbacks run in the trainer's process: use them with devices=1")


def launched_by_torchrun() -> bool:
    """Whether this process is one of a `torchrun` launch (its environment says so)."""
    return all(v in os.environ for v in ("RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK"))


def _fit_spawned(model, data, valid, config, transform, run_dir, resume, select) -> FitResult:
    """Start `devices` processes (gloo on CPU) and wait for them; the weights come back
    through a file, not the launcher's pipe, which a large state would fill and hang on.

    A Ctrl-C reaches every process of the terminal's group: the workers stop at the same
    step and write their checkpoint; this one waits for them instead of dying first."""
    from lightning_fabric import Fabric

    fabric = Fabric(accelerator=config.accelerator, devices=config.devices,
                    strategy="ddp_spawn", precision=config.precision)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="genzoo-ddp-") as tmp:
        weights = Path(tmp) / "model.safetensors"
        job = _ParallelJob(model, data, valid, config, transform, run_dir, resume, select,
                           weights)  # fmt: skip
        with _StopSignal() as stop:
            result = fabric.launch(job)
        state, _ = load_tensors(weights, MODEL_FORMAT)
    model.load_state_dict(state)
    if stop.received is not None:
        result.stopped = "interrupted"
    return result


class _ParallelJob:
    """The work of one of several processes. A plain object, because Fabric's launcher
    walks (and rejects frozen dataclasses among) the arguments it is given."""

    def __init__(self, model, data, valid, config, transform, run_dir, resume, select,
                 weights: Path | None = None):  # fmt: skip
        self.args = (model, data, valid, config, transform, run_dir, resume, select)
        self.weights = weights

    def __call__(self, fabric) -> FitResult:
        # spawn hands every process the parent's tensors in shared memory; without a private
        # copy all replicas would train one set of weights in place
        return self.run(fabric, copy.deepcopy(self.args[0]))

    def run(self, fabric, model) -> FitResult:
        import torch.distributed as dist

        _, data, valid, config, transform, run_dir, resume, select = self.args
        result = _fit(fabric, model, data, valid, config, transform, run_dir, resume, (), select)
        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        replicas = [torch.empty_like(flat) for _ in range(fabric.world_size)]
        dist.all_gather(replicas, flat)
        result.replicas_agree = all(torch.equal(r, replicas[0]) for r in replicas)
        if self.weights is not None and fabric.global_rank == 0:
            save_tensors(self.weights, model.state_dict(), MODEL_FORMAT, {})
        # tear the process group down before exit: gloo threads still running when the
        # process ends abort it ("terminate called without an active exception")
        dist.barrier()
        dist.destroy_process_group()
        result.history = result.history[-1:]  # the launcher's pipe carries the result back
        return result


def _before_step(fabric, grad_clip: float | None):
    """An optimizer pre-hook: average the gradients over the processes, then clip them."""

    def hook(optimizer, args, kwargs) -> None:
        params = [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        if not params:
            return
        if fabric.world_size > 1:
            grads = [p.grad for p in params]
            flat = fabric.all_reduce(torch.cat([g.reshape(-1) for g in grads]), reduce_op="mean")
            for g, shared in zip(grads, flat.split([g.numel() for g in grads]), strict=True):
                g.copy_(shared.view_as(g))
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)

    return hook


def _share_buffers(model) -> None:
    """Every process takes the first one's buffers (BatchNorm statistics), as DDP does."""
    import torch.distributed as dist

    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)


def _fit(fabric, model, data, valid, config, transform, run_dir, resume, callbacks,
         select=None) -> FitResult:  # fmt: skip
    rank, world = fabric.global_rank, fabric.world_size
    is_main = rank == 0
    model.to(fabric.device)
    optimizers = model.configure_optimizers(config.lr, config.weight_decay)
    # before any resume: the rates the schedule scales
    base_lrs = {name: [g["lr"] for g in opt.param_groups] for name, opt in optimizers.items()}
    state = {"step": 0, "best_val_nll": None, "bad_validations": 0, "cpu_seconds": 0.0,
             "wall_seconds": 0.0}  # fmt: skip
    if resume:
        state.update(load_checkpoint(run_dir / "checkpoint.safetensors", model, optimizers))
        state["checkpoint_step"] = state["step"]  # the checkpoint just loaded is good
    else:
        torch.manual_seed(config.seed)  # the same on every rank: models draw in lockstep
    if config.micro_batch is not None:
        model.micro_batch = config.micro_batch or None  # 0: the whole batch
    for optimizer in optimizers.values():
        optimizer.register_step_pre_hook(_before_step(fabric, config.grad_clip))

    sampler = BatchSampler(data.lengths(), config.batch_size, config.seed)
    steps_per_epoch = sampler.steps_per_epoch
    max_steps = config.max_steps or config.epochs * steps_per_epoch
    val_every = config.val_every or steps_per_epoch
    n_dims = math.prod(data.spec["x"].shape)
    augment = Augment.parse(config.augment)
    images = [s.name for s in data.spec.streams if s.kind == "image" and s.name in model.streams]

    cpu_start, wall_start = time.process_time(), time.perf_counter()
    cpu_before, wall_before = state["cpu_seconds"], state["wall_seconds"]
    logger = _Logger(run_dir if is_main else None, config.tensorboard)
    history: list[dict] = []
    start_step, stopped = state["step"], "completed"

    warnings: list[str] = []

    def warn(message: str) -> None:
        warnings.append(message)
        if is_main:
            print(f"genzoo: warning: {message}", file=sys.stderr)

    def record(entry: dict) -> None:
        entry["wall_s"] = round(wall_before + time.perf_counter() - wall_start, 3)
        history.append(entry)
        if is_main:
            logger.log(entry)

    def diverged(what: str) -> TrainingDiverged:
        good = state.get("checkpoint_step")
        if run_dir is None:
            where = ""
        elif good is None:
            where = f"; no checkpoint was written before it, so {run_dir} has none to resume"
        else:
            where = (f"; the last good checkpoint (step {good}) is in {run_dir}: resume it "
                     "with a lower lr or grad_clip")  # fmt: skip
        return TrainingDiverged(f"{what}{where}" + ("" if good else ": lower lr or set grad_clip"))

    def require_finite_weights() -> None:
        """Nothing non-finite is ever written: a step can blow the weights up while the
        loss it logged, computed before the step, was still finite."""
        bad = next((name for name, t in model.state_dict().items()
                    if t.is_floating_point() and not torch.isfinite(t).all()), None)  # fmt: skip
        if bad is not None:
            raise diverged(f"the weights ({bad}) became non-finite by step {state['step']}")

    def checkpoint() -> None:
        # how the run stands, for whoever reads the checkpoint (genzoo bench resumes runs
        # that did not finish)
        done = stopped != "completed" or state["step"] >= max_steps
        state["stopped"] = stopped if done else "in progress"
        state["cpu_seconds"] = cpu_before + time.process_time() - cpu_start
        state["wall_seconds"] = wall_before + time.perf_counter() - wall_start
        require_finite_weights()
        if is_main and run_dir:
            state["checkpoint_step"] = state["step"]
            save_checkpoint(run_dir / "checkpoint.safetensors", model, optimizers, state)
            if state["best_val_nll"] is None:  # no validation set: the latest is the best
                save_model(run_dir / "model.safetensors", model, {"step": state["step"]})

    bar = None
    if is_main and config.progress and shows_progress():
        bar = progress(total=max_steps, initial=start_step, unit="step", leave=True)

    t_last, seen = time.perf_counter(), 0
    with _StopSignal() as stop:
        while state["step"] < max_steps:
            step = state["step"]
            indices = {d: index[rank::world] for d, index in sampler.indices(step).items()}
            batch = data.rows(model.streams, indices)
            for name in images:
                if augment:  # drawn from (seed, step, rank): the same again on resume
                    g = torch.Generator().manual_seed(derived_seed(config.seed, step, rank))
                    batch[name] = augment(batch[name], g)
                if transform is not None:
                    batch[name] = transform.batch(batch[name])
            batch = {key: fabric.to_device(value) for key, value in batch.items()}

            model.train()
            if config.lr_schedule != "constant":
                factor = lr_factor(config, step, max_steps)
                for name, optimizer in optimizers.items():
                    for group, base_lr in zip(optimizer.param_groups, base_lrs[name], strict=True):
                        group["lr"] = base_lr * factor
            with fabric.autocast():
                out = model.training_step(batch, step, optimizers, fabric.backward)
            model.on_train_step_end(step + 1)
            if world > 1:
                _share_buffers(model)
            values = torch.stack([v.detach().double().reshape(()) for v in out.values()])
            if world > 1:
                values = fabric.all_reduce(values, reduce_op="mean")
            logs = dict(zip(out, values.tolist(), strict=True))
            bad = [key for key, value in logs.items() if not math.isfinite(value)]
            if bad:
                raise diverged(f"{bad[0]} became {logs[bad[0]]} at step {step + 1}")
            scale = state.setdefault("loss_scale", max(abs(logs["loss"]), 1.0))
            if abs(logs["loss"]) > LOSS_GROWTH * scale and not state.get("loss_warned"):
                state["loss_warned"] = True
                warn(f"step {step + 1}: the loss is {logs['loss']:.3g}, more than "
                     f"{LOSS_GROWTH:g} times its first value ({scale:.3g}); training may be "
                     "diverging: lower lr or set grad_clip")  # fmt: skip
            state["step"] = step = step + 1
            seen += len(batch["x"]) * world

            if step % 10 == 0 or step == max_steps:
                elapsed = time.perf_counter() - t_last
                logs["examples_per_s"] = seen / max(elapsed, 1e-9)
                t_last, seen = time.perf_counter(), 0
                record({"step": step, "epoch": step / steps_per_epoch, "split": "train", **logs})
                if bar is not None:
                    bar.set_postfix(
                        loss=f"{logs['loss']:.3f}", ex_s=f"{logs['examples_per_s']:.0f}"
                    )
            if bar is not None:
                bar.update(1)

            validating = valid is not None or select is not None
            if validating and (step % val_every == 0 or step == max_steps):
                if select is not None:  # a score of the model itself, e.g. its samples' FID
                    nll = select(model)
                    report = {select.key: nll}
                else:
                    nll = mean_nll(model, valid, transform, config.eval_batch_size, config.seed)
                    report = validation_report(model, nll, n_dims)
                record({"step": step, "epoch": step / steps_per_epoch, "split": "valid",
                        **report})  # fmt: skip
                if state["best_val_nll"] is None or nll < state["best_val_nll"]:
                    state["best_val_nll"], state["bad_validations"] = nll, 0
                    require_finite_weights()
                    if is_main and run_dir:
                        save_model(run_dir / "model.safetensors", model, {"step": step})
                else:
                    state["bad_validations"] += 1
                if config.patience and state["bad_validations"] >= config.patience:
                    stopped = "early_stopping"
            for callback in callbacks:
                callback(step, logs)

            over_budget = bool(config.cpu_budget) and (
                time.process_time() - cpu_start >= config.cpu_budget
            )
            flags = torch.tensor([float(stop.received is not None), float(over_budget)])
            if world > 1:  # every rank stops at the same step
                flags = fabric.all_reduce(flags, reduce_op="sum")
            if flags[0].item() > 0:
                stopped = "interrupted"
            elif flags[1].item() > 0:
                stopped = "cpu_budget"
            if step % config.checkpoint_every == 0 or stopped != "completed":
                checkpoint()
            if stopped != "completed":
                break
        else:
            checkpoint()
    if bar is not None:
        bar.close()
    logger.close()
    return FitResult(
        state["step"],
        stopped,
        state["best_val_nll"],
        history,
        cpu_seconds=state["cpu_seconds"],
        wall_seconds=state["wall_seconds"],
        selected_by=select.name if select is not None else None,
        warnings=warnings,
    )
