"""Files that genzoo writes: atomically, as JSON or as safetensors with JSON metadata.
Nothing here ever unpickles a file.

Every file is written to a temporary name in the same directory and moved into place with
`os.replace`, so a crash leaves the previous version intact.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from torch import Tensor

from genzoo.core.errors import CheckpointError


def atomic_write(path: Path, write) -> None:
    """Call `write(tmp_path)`, then move the result onto `path` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete what an `atomic_write` killed mid-write (kill -9) left in `directory`: its
    ".NAME.XXXX.tmp" files, which can be as large as a checkpoint. Call it when a run starts,
    before anything of this session writes there."""
    stale = sorted(Path(directory).glob(".*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=2) + "\n"))


def read_json(path: Path) -> dict:
    try:
        obj = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} not found: is this a genzoo run directory?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} is not a genzoo config")
    return obj


def save_tensors(path: Path, tensors: dict[str, Tensor], fmt: str, meta: dict) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    metadata = {"format": fmt, "state": json.dumps(meta)}

    def write(tmp: str) -> None:
        try:
            save_file(tensors, tmp, metadata=metadata)
        except SafetensorError as e:  # its I/O errors are not OSErrors: make them so
            code = re.search(r"os error (\d+)", str(e))
            if code is None:
                raise
            number = int(code.group(1))
            raise OSError(number, os.strerror(number), str(path)) from None

    atomic_write(path, write)


def load_tensors(
    path: Path, fmt: str | tuple[str, ...], tensors: bool = True
) -> tuple[dict[str, Tensor], dict]:
    """Read a safetensors file that genzoo wrote in format `fmt` (or one of several), with
    `tensors=False` only its JSON metadata; anything else is a CheckpointError."""
    from safetensors import SafetensorError
    from safetensors.torch import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()} if tensors else {}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(
            f"{path} is not a genzoo checkpoint (not a valid safetensors file: {reason})"
        ) from None
    formats = (fmt,) if isinstance(fmt, str) else fmt
    if metadata.get("format") not in formats:
        raise CheckpointError(f"{path} is not a genzoo {formats[0].split('/')[0]} file")
    try:
        meta = json.loads(metadata.get("state", "{}"))
    except json.JSONDecodeError:
        raise CheckpointError(f"{path} has damaged metadata") from None
    return tensors, meta
