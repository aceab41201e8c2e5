"""Helpers shared by the benchmark scripts: machine description and timing."""

from __future__ import annotations

import json
import os
import platform
import time

from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def loadavg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def matmul_rate(dtype: str = "float32", threads: int | None = None, n: int = 1024) -> float:
    """FLOP/s of an n x n matmul in `dtype` (best of 10), on `threads` threads (None: as
    set): the machine's peak that MFU is measured against."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    a, b = (torch.randn(n, n, dtype=getattr(torch, dtype)) for _ in range(2))
    for _ in range(3):
        a @ b
    best = min(timed(lambda: a @ b) for _ in range(10))
    torch.set_num_threads(before)
    return 2 * n**3 / best


class FlopCount(TorchDispatchMode):
    """FLOPs of the matmuls and convolutions run inside it, by torch's own formulas
    (torch.utils.flop_counter's registry). Unlike FlopCounterMode it tracks no modules,
    whose hooks fail under a gradient penalty's double backward."""

    def __init__(self):
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.flops += count(*args, **kwargs, out_val=out)
        return out


def nade_step_flops(n_dims: int, hidden: int, batch: int) -> int:
    """Analytic FLOPs of one NADE training step: 4·D·H per example forward (the running
    activation and the output unit of every dimension), three times that with backward."""
    return 12 * n_dims * hidden * batch


def write_rows(path: str | None, rows: list[dict]) -> None:
    """The rows `make bench` (benchmarks/speed.py) reads, as JSON at `path` (--json);
    nothing without one."""
    if path:
        with open(path, "w") as f:
            json.dump(rows, f)
