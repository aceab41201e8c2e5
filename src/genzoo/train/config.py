"""Training settings. Every field can be set with `--set key=value` on the command line, and
is checked when set: a choice (a Literal) or a range (`at_least`, `above`), so that a bad value
is one line naming the field, the value and what is allowed, before anything runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from genzoo.core.config import above, at_least


@dataclass
class TrainConfig:
    # --- data ---
    # binary models on grey data: "static" draws x̃ ~ Bernoulli(x) once per image (seeded),
    # "dynamic" every batch, "threshold" at 0.5; "auto": static for binary models
    binarize: Literal["auto", "none", "threshold", "static", "dynamic"] = "auto"
    # continuous values: "unit" [0, 1], "symmetric" [-1, 1] (GANs' tanh), "levels" 0..K-1;
    # "auto": what the model expects
    scale: Literal["auto", "levels", "unit", "symmetric"] = "auto"
    dequantize: bool | None = None  # None: only for continuous models on 8-bit data
    # classes left out of every split, e.g. `exclude_classes=9` for leave-classes-out
    # anomaly detection (`genzoo score RUN --ood-classes 9`)
    exclude_classes: tuple[int, ...] = field(default=(), metadata=at_least(0))
    # every training batch: flip and/or crop=P (pixels of padding), e.g. "flip,crop=2"
    augment: str = ""
    # --- optimisation ---
    batch_size: int = field(default=100, metadata=at_least(1))  # examples per step
    # forward/backward in chunks of this many examples, gradients accumulated: the same
    # step, a smaller working set; None: the model's `micro_batch`; 0: the whole batch
    micro_batch: int | None = field(default=None, metadata=at_least(0))
    lr: float = field(default=1e-3, metadata=at_least(0.0))  # Adam's (GANs set their own)
    lr_schedule: Literal["constant", "cosine"] = "constant"  # cosine: lr -> 0 at the last step
    weight_decay: float = field(default=0.0, metadata=at_least(0.0))  # L2, in the optimizer
    # max gradient norm; None: no clipping
    grad_clip: float | None = field(default=None, metadata=above(0.0))
    epochs: int = field(default=10, metadata=at_least(1))  # passes over the training split
    max_steps: int | None = field(default=None, metadata=at_least(1))  # when set, overrides epochs
    # stop the training loop after this many CPU seconds of this session; the final
    # evaluation and report (valid and test NLL, samples) run after it and are not counted
    cpu_budget: float | None = field(default=None, metadata=above(0.0))
    seed: int = field(default=0, metadata=at_least(0))  # weights, batches, binarisation
    # --- validation, early stopping, checkpoints ---
    # steps between validations; None: once per epoch
    val_every: int | None = field(default=None, metadata=at_least(1))
    # validations without improvement before stopping; 0: never stop
    patience: int = field(default=10, metadata=at_least(0))
    # what keeps the best weights: "auto", the validation loss (the latest weights for models
    # without one); "fid", the FID of `select_samples` samples against the validation split
    # in genzoo's feature network (for GANs; the network is trained once if not cached)
    select_by: Literal["auto", "fid"] = "auto"
    select_samples: int = field(default=1000, metadata=at_least(10))  # for select_by=fid
    checkpoint_every: int = field(default=500, metadata=at_least(1))  # steps
    eval_batch_size: int = field(default=1000, metadata=at_least(1))  # validation and eval
    # --- hardware and logging ---
    accelerator: Literal["cpu", "gpu", "cuda", "mps", "auto"] = "cpu"  # Fabric's
    # processes on this machine, each on its share of every batch
    devices: int = field(default=1, metadata=at_least(1))
    # Fabric's: "bf16-mixed" autocasts the training step
    precision: Literal["32-true", "64-true", "bf16-mixed", "16-mixed", "bf16-true"] = "32-true"
    # torch intra-op threads; None: half the cores, at most 4 (1 on 2 cores), not torch's
    # one per core, which can stall when another job holds a core
    # (benchmarks/results/threads_under_load.txt); the CLI also sets OMP_WAIT_POLICY=PASSIVE
    num_threads: int | None = field(default=None, metadata=at_least(1))
    progress: bool = True  # a progress bar when stderr is a terminal (never in a pipe or log)
    tensorboard: bool = True  # event files under RUN/tensorboard
    # GANs: classify 1,000 samples per epoch with genzoo's feature network for the data
    # (trained on first need) and warn when one class takes over (progress/diversity.csv)
    diversity_monitor: bool = True
    # samples drawn for the grid at the end of training
    n_samples: int = field(default=64, metadata=at_least(0))
