"""genzoo: deep generative models, implemented next to their papers and measured against them.

    import genzoo
    model = genzoo.create_model("fvsbn", genzoo.DataInfo(shape=(1, 8, 8), n_values=2))
    genzoo.fit(model, x_train, x_valid, max_steps=500)
    model.log_prob(x)        # (B,) nats
    model.sample(16)         # (16, 1, 8, 8)
    model = genzoo.load("runs/fvsbn-digits-...")

The names below are imported on first use, so that `import genzoo` (and the CLI's --help)
does not pay for torch until it is needed.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Capability": "genzoo.core",
    "DataInfo": "genzoo.core",
    "GenzooError": "genzoo.core",
    "bits_per_dim": "genzoo.core",
    "create_model": "genzoo.models",
    "get_model": "genzoo.models",
    "list_models": "genzoo.models",
    "TrainConfig": "genzoo.train",
    "fit": "genzoo.train",
    "load": "genzoo.train",
    "load_run": "genzoo.train",
    "train_run": "genzoo.train",
    "train_and_report": "genzoo.apps.report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'genzoo' has no attribute {name!r}")


def __dir__():
    return __all__
