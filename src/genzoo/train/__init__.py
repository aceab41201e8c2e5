"""Training: the Fabric loop, checkpoints (safetensors + JSON) and run directories."""

from genzoo.train.config import TrainConfig
from genzoo.train.loop import FitResult, fit
from genzoo.train.run import Run, load, load_run, train_run

__all__ = ["FitResult", "Run", "TrainConfig", "fit", "load", "load_run", "train_run"]
