"""Training settings. Every field can be set with `--set key=value` on the command line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class TrainConfig:
    # data
    binarize: Literal["auto", "none", "threshold", "static", "dynamic"] = "auto"
    scale: Literal["auto", "levels", "unit", "symmetric"] = "auto"
    dequantize: bool | None = None  # None: only for continuous models on 8-bit data
    # classes left out of every split, e.g. `exclude_classes=9` for leave-classes-out
    # anomaly detection (`genzoo score RUN --ood-classes 9`)
    exclude_classes: tuple[int, ...] = ()
    # every training batch: flip and/or crop=P (pixels of padding), e.g. "flip,crop=2"
    augment: str = ""
    # optimisation
    batch_size: int = 100
    # forward/backward in chunks of this many examples, gradients accumulated: the same
    # step, a smaller working set; None: the model's `micro_batch`; 0: the whole batch
    micro_batch: int | None = None
    lr: float = 1e-3
    lr_schedule: Literal["constant", "cosine"] = "constant"  # cosine: lr -> 0 at the last step
    weight_decay: float = 0.0
    grad_clip: float | None = None  # max gradient norm; None: no clipping
    epochs: int = 10
    max_steps: int | None = None  # when set, overrides epochs
    cpu_budget: float | None = None  # stop after this many CPU seconds of this session
    seed: int = 0
    # validation, early stopping, checkpoints
    val_every: int | None = None  # steps between validations; None: once per epoch
    patience: int = 10  # validations without improvement before stopping; 0: never stop
    # what keeps the best weights: "auto", the validation loss (the latest weights for models
    # without one); "fid", the FID of `select_samples` samples against the validation split
    # in genzoo's feature network (for GANs; the network is trained once if not cached)
    select_by: Literal["auto", "fid"] = "auto"
    select_samples: int = 1000
    checkpoint_every: int = 500  # steps
    eval_batch_size: int = 1000
    # hardware and logging
    accelerator: str = "cpu"
    devices: int = 1  # processes on this machine, each on its share of every batch
    precision: str = "32-true"  # Fabric's: "bf16-mixed" autocasts the training step
    num_threads: int | None = None  # torch intra-op threads; None: torch's default
    progress: bool = True
    tensorboard: bool = True
    n_samples: int = 64  # samples drawn for the grid at the end of training
