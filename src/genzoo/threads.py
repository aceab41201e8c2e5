"""CPU threads when the user does not choose: half the cores, at most 4, and idle threads
that sleep instead of spinning. (No torch here: the CLI loads this before torch.)

torch's default is one intra-op thread per core, and OpenMP's idle threads spin for a while
before they sleep. On a machine where another job holds a core, every parallel op then
waits for a thread that is not running (the performance issue reports a 200-step NADE run
at 148 s against 4 s with one thread). benchmarks/threads_under_load.py measures the
variants, quiet and loaded (benchmarks/results/threads_under_load.txt).

`OMP_NUM_THREADS` and `OMP_WAIT_POLICY`, when set, win: these only fill what is not set.
"""

from __future__ import annotations

import os
import sys


def default_threads() -> int:
    """Half the cores, at most 4, at least 1 (1 on a 2-core machine)."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def configure_cpu_threads() -> None:
    """Before torch loads (OpenMP reads these once): default_threads() intra-op threads and
    the passive wait policy, unless the environment already says. The CLI calls this first;
    after torch has loaded it changes nothing."""
    if "torch" in sys.modules:
        return
    os.environ.setdefault("OMP_NUM_THREADS", str(default_threads()))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
