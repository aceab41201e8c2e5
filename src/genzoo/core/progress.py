"""Progress bars for every wait longer than a couple of seconds.

A bar goes to stderr when stderr is a terminal and is silent otherwise, so that a log file
or a pipe does not fill with carriage returns. `enabled` overrides the terminal test (a
setting such as the trainer's `progress=false`, or a test).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable


def shows_progress(enabled: bool | None = None) -> bool:
    """Whether a bar would be drawn: `enabled`, else whether stderr is a terminal."""
    return sys.stderr.isatty() if enabled is None else enabled


def progress(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str | None = None,
    unit: str = "it",
    enabled: bool | None = None,
    leave: bool = False,
    initial: int = 0,
):
    """A tqdm bar (or a silent stand-in with the same methods) over `iterable` or `total`."""
    from tqdm import tqdm

    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        initial=initial,
        leave=leave,
        dynamic_ncols=True,
        file=sys.stderr,
        disable=not shows_progress(enabled),
    )
