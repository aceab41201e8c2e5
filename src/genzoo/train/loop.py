"""The training loop, on Lightning Fabric. It knows nothing about any particular model: it
calls `model.training_step(x)` for the loss (or `model.update(x, optimizer)` for models that
take their own steps) and `model.validation_nll(x)` for early stopping.

Exact resume: the data order of epoch e is a permutation drawn from (seed, e), so the batch
of any step follows from the step number alone; the checkpoint holds the weights, the
optimizer state and the global torch RNG (used by stochastic transforms and by models that
draw at training time, e.g. MADE's masks).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from genzoo.core.config import apply_overrides
from genzoo.core.errors import GenzooError, TrainingDiverged
from genzoo.metrics.likelihood import mean_nll, validation_report
from genzoo.train.checkpoint import load_checkpoint, save_checkpoint, save_model
from genzoo.train.config import TrainConfig

Callback = Callable[[int, dict], None]


@dataclass
class FitResult:
    step: int
    stopped: str  # "completed" | "early_stopping" | "interrupted" | "cpu_budget"
    best_val_nll: float | None = None
    history: list[dict] = field(default_factory=list)
    cpu_seconds: float = 0.0  # process CPU time over all sessions of the run (rank 0)
    wall_seconds: float = 0.0
    replicas_agree: bool | None = None  # multi-process runs: all ranks ended with equal weights


def epoch_permutation(n: int, seed: int, epoch: int) -> Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


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


def accumulate_gradients(fabric, model, x: Tensor, micro_batch: int | None) -> dict:
    """Backpropagate the batch's mean loss, in chunks of `micro_batch` examples when set.

    The chunks' losses are weighted by their share of the batch, so the gradient is the
    whole batch's (for models without batch statistics); a small chunk's activations stay
    in cache, which on CPU can be faster than one large pass. Returns the detached values.
    """
    chunks = x.split(micro_batch) if micro_batch and micro_batch < len(x) else (x,)
    totals: dict[str, Tensor] = {}
    for k, chunk in enumerate(chunks):
        weight = len(chunk) / len(x)
        last = k == len(chunks) - 1
        with fabric.no_backward_sync(model, enabled=fabric.world_size > 1 and not last):
            out = model.training_step(chunk)
            fabric.backward(out["loss"] * weight)
        for key, value in out.items():
            totals[key] = totals.get(key, 0.0) + value.detach() * weight
    return totals


def fit(
    model,
    train: Tensor,
    valid: Tensor | None = None,
    config: TrainConfig | None = None,
    *,
    transform=None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
    labels: Tensor | None = None,
    **overrides,
) -> FitResult:
    """Train `model` on the tensor `train` (N, ...) by its own `training_step`.

    `transform.batch(x)` is applied to every batch (dynamic binarisation, dequantisation).
    With `run_dir`, checkpoints, metrics and TensorBoard logs are written there, and
    `resume=True` continues exactly from its checkpoint. Models that learn from labels
    (`uses_labels`, e.g. a conditional GAN) get the rows of `labels` (N,) with each batch.
    Overrides such as `max_steps=200` update `config`.
    """
    config = apply_overrides(config or TrainConfig(), overrides)
    run_dir = Path(run_dir) if run_dir else None
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    if resume and not (run_dir and (run_dir / "checkpoint.safetensors").exists()):
        raise GenzooError(f"nothing to resume: no checkpoint.safetensors in {run_dir}")
    if model.owns_updates and (config.devices > 1 or config.grad_clip or config.micro_batch):
        raise GenzooError(
            f"{type(model).__name__} takes its own optimizer steps: train it with devices=1, "
            "no grad_clip and no micro_batch"
        )
    if model.uses_labels and (labels is None or len(labels) != len(train)):
        raise GenzooError(f"{type(model).__name__} learns from labels: use a labelled dataset")
    if config.devices > 1:
        if callbacks:
            raise GenzooError("callbacks run in the trainer's process: use them with devices=1")
        return _fit_spawned(model, train, valid, config, transform, run_dir, resume)
    from lightning_fabric import Fabric

    fabric = Fabric(accelerator=config.accelerator, devices=1)
    return _fit(fabric, model, train, valid, config, transform, run_dir, resume, callbacks, labels)


def _fit_spawned(model, train, valid, config, transform, run_dir, resume) -> FitResult:
    """Multi-process DDP (gloo on CPU): each process trains on its share of every batch."""
    from lightning_fabric import Fabric

    fabric = Fabric(accelerator=config.accelerator, devices=config.devices, strategy="ddp_spawn")
    job = _SpawnedJob(model, train, valid, config, transform, run_dir, resume)
    result, state = fabric.launch(job)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return result


class _SpawnedJob:
    """The work of one DDP process. A plain object, because Fabric's launcher walks (and
    rejects frozen dataclasses among) the arguments it is given."""

    def __init__(self, *args):
        self.args = args

    def __call__(self, fabric):
        model, train, valid, config, transform, run_dir, resume = self.args
        # spawn hands every process the parent's tensors in shared memory; without a private
        # copy all replicas would train one set of weights in place
        model = copy.deepcopy(model)
        result = _fit(fabric, model, train, valid, config, transform, run_dir, resume, ())
        import torch.distributed as dist

        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        replicas = [torch.empty_like(flat) for _ in range(fabric.world_size)]
        dist.all_gather(replicas, flat)
        result.replicas_agree = all(torch.equal(r, replicas[0]) for r in replicas)
        # tear the process group down before exit: gloo threads still running when the
        # process ends abort it ("terminate called without an active exception")
        dist.barrier()
        dist.destroy_process_group()
        # numpy arrays travel back by value; torch tensors would be shared with a dead process
        return result, {k: v.cpu().numpy().copy() for k, v in model.state_dict().items()}


def _fit(fabric, model, train, valid, config, transform, run_dir, resume, callbacks,
         labels=None) -> FitResult:  # fmt: skip
    rank, world = fabric.global_rank, fabric.world_size
    is_main = rank == 0
    optimizer = model.make_optimizer(config.lr, config.weight_decay)
    base_lrs = [group["lr"] for group in optimizer.param_groups]  # before any resume
    state = {"step": 0, "best_val_nll": None, "bad_validations": 0, "cpu_seconds": 0.0,
             "wall_seconds": 0.0}  # fmt: skip
    if resume:
        state.update(load_checkpoint(run_dir / "checkpoint.safetensors", model, optimizer))
    else:
        torch.manual_seed(config.seed)  # the same on every rank: models draw in lockstep
    fabric_model, optimizer = fabric.setup(model, optimizer)
    # route training_step through DDP's forward so that gradients are all-reduced
    fabric_model.mark_forward_method("training_step")

    n, batch_size = train.shape[0], config.batch_size
    micro_batch = config.micro_batch
    if micro_batch is None:
        micro_batch = type(model).micro_batch
    if micro_batch is not None and micro_batch < 0:
        raise GenzooError(f"micro_batch={micro_batch}: use a positive chunk size, or 0 for none")
    steps_per_epoch = math.ceil(n / batch_size)
    max_steps = config.max_steps or config.epochs * steps_per_epoch
    val_every = config.val_every or steps_per_epoch
    n_dims = math.prod(train.shape[1:])

    cpu_start, wall_start = time.process_time(), time.perf_counter()
    cpu_before, wall_before = state["cpu_seconds"], state["wall_seconds"]
    logger = _Logger(run_dir if is_main else None, config.tensorboard)
    history: list[dict] = []
    start_step, stopped = state["step"], "completed"

    def record(entry: dict) -> None:
        entry["wall_s"] = round(wall_before + time.perf_counter() - wall_start, 3)
        history.append(entry)
        if is_main:
            logger.log(entry)

    def checkpoint() -> None:
        state["cpu_seconds"] = cpu_before + time.process_time() - cpu_start
        state["wall_seconds"] = wall_before + time.perf_counter() - wall_start
        if is_main and run_dir:
            save_checkpoint(run_dir / "checkpoint.safetensors", model, optimizer, state)
            if state["best_val_nll"] is None:  # no validation set: the latest is the best
                save_model(run_dir / "model.safetensors", model, {"step": state["step"]})

    bar = None
    if is_main and config.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_steps, initial=start_step, unit="step", dynamic_ncols=True)

    perm_epoch, perm = -1, None
    t_last, seen = time.perf_counter(), 0
    with _StopSignal() as stop:
        while state["step"] < max_steps:
            step = state["step"]
            epoch, i = divmod(step, steps_per_epoch)
            if epoch != perm_epoch:
                perm_epoch, perm = epoch, epoch_permutation(n, config.seed, epoch)
            index = perm[i * batch_size : (i + 1) * batch_size][rank::world]
            x = train[index]
            if transform is not None:
                x = transform.batch(x)
            x = fabric.to_device(x)

            model.train()
            for group, base_lr in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base_lr * lr_factor(config, step, max_steps)
            if model.uses_labels:
                out = model.update(x, optimizer, fabric.to_device(labels[index]))
            elif model.owns_updates:  # e.g. alternating discriminator / generator steps
                out = model.update(x, optimizer)
            else:
                optimizer.zero_grad(set_to_none=True)
                out = accumulate_gradients(fabric, fabric_model, x, micro_batch)
            loss_value = out["loss"]
            if world > 1:
                loss_value = fabric.all_reduce(loss_value, reduce_op="mean")
            if not torch.isfinite(loss_value):
                where = f"; the last good checkpoint is in {run_dir}" if run_dir else ""
                raise TrainingDiverged(
                    f"loss became {loss_value.item()} at step {step + 1}{where}: "
                    "lower lr or set grad_clip"
                )
            if not model.owns_updates:
                if config.grad_clip:
                    fabric.clip_gradients(fabric_model, optimizer, max_norm=config.grad_clip)
                optimizer.step()
            state["step"] = step = step + 1
            seen += x.shape[0] * world

            logs = {"loss": loss_value.item()}
            logs.update({k: v.item() for k, v in out.items() if k != "loss"})
            if step % 10 == 0 or step == max_steps:
                elapsed = time.perf_counter() - t_last
                logs["examples_per_s"] = seen / max(elapsed, 1e-9)
                t_last, seen = time.perf_counter(), 0
                record({"step": step, "epoch": step / steps_per_epoch, "split": "train", **logs})
                if bar:
                    bar.set_postfix(
                        loss=f"{logs['loss']:.3f}", ex_s=f"{logs['examples_per_s']:.0f}"
                    )
            if bar:
                bar.update(1)

            if valid is not None and (step % val_every == 0 or step == max_steps):
                nll = mean_nll(model, valid, transform, config.eval_batch_size, config.seed)
                record({"step": step, "epoch": step / steps_per_epoch, "split": "valid",
                        **validation_report(model, nll, n_dims)})  # fmt: skip
                if state["best_val_nll"] is None or nll < state["best_val_nll"]:
                    state["best_val_nll"], state["bad_validations"] = nll, 0
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
    if bar:
        bar.close()
    logger.close()
    return FitResult(
        state["step"],
        stopped,
        state["best_val_nll"],
        history,
        cpu_seconds=state["cpu_seconds"],
        wall_seconds=state["wall_seconds"],
    )
