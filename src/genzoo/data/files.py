"""Data files on disk: where they live, how they are checked, fetched and parsed.

Everything here is independent of any particular dataset; `datasets.py` holds the catalogue
(which files, which checksums, which URLs). The rules that keep a dataset trustworthy live
here:

- a file is only ever written under its final name by `os.replace` from a temporary file in
  the same directory, after its checksum was verified, so an interrupted or corrupt
  download never leaves a file that looks complete;
- parsers validate structure (magic numbers, sizes, characters) and raise a one-line
  `DataError`, so a damaged file is explained even where no checksum is known;
- pickles (the official CIFAR-10 batches) are only read after their md5 matched, and then
  through an unpickler that can build numpy arrays and nothing else.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

from genzoo.core.errors import DataError

TIMEOUT_S = 10.0  # per connect / read: an unreachable host fails fast instead of hanging
CHUNK = 1 << 20
USER_AGENT = "genzoo (+https://pypi.org/project/genzoo)"


def data_root(explicit: str | Path | None = None) -> Path:
    """The directory that holds `<dataset>/<file>`: explicit > $GENZOO_DATA > user cache."""
    if explicit is not None:
        root, what = Path(explicit).expanduser(), "--data-root"
    elif os.environ.get("GENZOO_DATA"):
        root, what = Path(os.environ["GENZOO_DATA"]).expanduser(), "GENZOO_DATA"
    else:
        import platformdirs

        root, what = Path(platformdirs.user_cache_dir("genzoo")) / "datasets", "the cache"
    if root.exists() and not root.is_dir():
        raise DataError(f"{what} {root} is a file, not a folder: give the folder that holds "
                        "<dataset>/<file>")  # fmt: skip
    return root


def one_line(text: object) -> str:
    """Collapse whitespace so an error message stays on one line."""
    return " ".join(str(text).split())


# --- checksums ---------------------------------------------------------------------------


def md5_file(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def md5_array(a: np.ndarray) -> str:
    """md5 of an array's C-order bytes: identifies contents independently of the container."""
    return hashlib.md5(np.ascontiguousarray(a).data).hexdigest()


def mismatch(expected: str, got: str) -> str:
    return f"md5 mismatch: expected {expected}, got {got}"


# --- downloads ---------------------------------------------------------------------------


class DownloadError(DataError):
    """Every URL for a file failed at the network or HTTP level; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@contextmanager
def temporary_file(dest: Path) -> Iterator[Path]:
    """A fresh hidden file next to `dest` whose name ends like `dest` (so suffix-based
    parsers work on it); removed on exit unless it was moved into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{dest.name}", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _copy_url(url: str, out: BinaryIO, desc: str) -> None:
    from tqdm import tqdm

    from genzoo.core.progress import shows_progress

    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        total = response.headers.get("Content-Length")
        with tqdm(
            total=int(total) if total else None,
            desc=desc,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=sys.stderr,
            disable=not shows_progress(),
        ) as bar:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                bar.update(len(chunk))


def download_to(urls: Sequence[str], tmp: Path, desc: str) -> str:
    """Write the first of `urls` that answers into `tmp`; returns the URL used.

    Raises DownloadError naming every URL's failure when none answers.
    """
    reasons = []
    for url in urls:
        try:
            with open(tmp, "wb") as out:
                _copy_url(url, out, desc)
            return url
        except urllib.error.HTTPError as e:
            reasons.append(f"{url}: HTTP {e.code} {e.reason}")
        except urllib.error.URLError as e:
            reasons.append(f"{url}: {e.reason}")
        except (OSError, ValueError) as e:  # timeouts, resets, malformed URLs
            reasons.append(f"{url}: {e}")
    raise DownloadError(one_line("; ".join(reasons) or "no URL to download from"))


def download(urls: Sequence[str], dest: Path, verify: Callable[[Path], str | None]) -> None:
    """Download `dest` from the first answering URL, check it with `verify` (None: good,
    else the reason) and only then move it into place."""
    with temporary_file(dest) as tmp:
        url = download_to(urls, tmp, dest.name)
        problem = verify(tmp)
        if problem is not None:
            raise DataError(
                f"the download of {dest.name} from {url} is corrupt ({problem}); nothing was "
                f"saved: try again later, or put a good copy under {dest.parent}"
            )
        os.replace(tmp, dest)


def extract_members(
    archive: Path, members: dict[str, Path], verify: Callable[[str, Path], str | None]
) -> None:
    """Extract the named regular files of a tar archive to the given paths, each verified.

    Only the listed member names are read and they are written to paths chosen by the
    caller, never to a path taken from the archive, so a hostile archive cannot write
    elsewhere (no path traversal, no links).
    """
    wanted = dict(members)
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if name not in wanted or not member.isfile():
                    continue
                src = tar.extractfile(member)
                if src is None:
                    continue
                dest = wanted.pop(name)
                with temporary_file(dest) as tmp:
                    with open(tmp, "wb") as out:
                        while chunk := src.read(CHUNK):
                            out.write(chunk)
                    problem = verify(name, tmp)
                    if problem is not None:
                        raise DataError(f"{name} in {archive.name} is corrupt ({problem})")
                    os.replace(tmp, dest)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(f"{archive.name} is not a readable tar archive ({one_line(e)})") from e
    if wanted:
        raise DataError(f"{archive.name} lacks {', '.join(sorted(wanted))}")


# --- readers -----------------------------------------------------------------------------
# Each raises DataError saying what is wrong with the contents; the caller adds which file,
# since during a download the path is a temporary one.


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when its name ends in .gz."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except gzip.BadGzipFile as e:
        raise DataError(f"not a valid gzip file ({one_line(e)})") from e
    except EOFError as e:
        raise DataError("truncated gzip file") from e
    except zlib.error as e:
        raise DataError(f"corrupt gzip data ({one_line(e)})") from e


IDX_IMAGES = 0x00000803  # unsigned byte, 3 dims (N, rows, cols)
IDX_LABELS = 0x00000801  # unsigned byte, 1 dim (N,)


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (LeCun et al.'s MNIST format), gzipped or not.

    Header: a big-endian uint32 magic (0x0000 08 <n_dims>), then n_dims big-endian uint32
    sizes, then the data in C order. The size is checked against the header exactly.
    """
    data = read_bytes(path)
    if len(data) < 4:
        raise DataError(f"too short for an IDX file ({len(data)} bytes)")
    got = int.from_bytes(data[:4], "big")
    if got != magic:
        raise DataError(f"IDX magic is 0x{got:08x}, expected 0x{magic:08x}")
    n_dims = magic & 0xFF
    header = 4 + 4 * n_dims
    if len(data) < header:
        raise DataError("truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    size = int(np.prod(shape))
    if len(data) - header != size:
        kind = "truncated" if len(data) - header < size else "overlong"
        raise DataError(
            f"{kind} IDX file: the header promises {shape} = {size} bytes of data, "
            f"found {len(data) - header}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_amat(path: Path, n_rows: int, n_cols: int = 784) -> np.ndarray:
    """Parse a binary `.amat` text file (one example per line, space-separated 0/1 values),
    gzipped or not, into uint8 (n_rows, n_cols).

    Works on the raw bytes rather than through np.loadtxt: the usual layout ("d d ... d\n",
    2 bytes per value) is checked and sliced in one vectorised pass; any other whitespace
    goes through a general pass. Either way every value must be a lone '0' or '1' and every
    non-blank line must hold exactly n_cols of them.
    """
    raw = np.frombuffer(read_bytes(path), dtype=np.uint8)
    if raw.size == n_rows * n_cols * 2:
        grid = raw.reshape(n_rows, n_cols, 2)
        seps = grid[:, :, 1]
        if (seps[:, :-1] == ord(" ")).all() and (seps[:, -1] == ord("\n")).all():
            x = grid[:, :, 0] - np.uint8(ord("0"))  # wraps below '0', so one test suffices
            if (x <= 1).all():
                return x
    return _read_amat_general(raw, n_rows, n_cols)


def _read_amat_general(raw: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    is_digit = (raw == ord("0")) | (raw == ord("1"))
    is_space = (raw == ord(" ")) | (raw == ord("\n")) | (raw == ord("\r")) | (raw == ord("\t"))
    bad = np.flatnonzero(~(is_digit | is_space))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"unexpected byte {bytes(raw[i : i + 1])!r} at offset {i} of .amat text")
    if (is_digit[1:] & is_digit[:-1]).any():
        raise DataError(".amat values must be single digits 0 or 1")
    starts = np.concatenate([[0], np.flatnonzero(raw == ord("\n")) + 1])
    starts = starts[starts < raw.size]
    per_line = (
        np.add.reduceat(is_digit.view(np.uint8), starts, dtype=np.int64)
        if starts.size
        else np.zeros(0, dtype=np.int64)
    )
    per_line = per_line[per_line > 0]
    if per_line.size != n_rows or (per_line != n_cols).any():
        wrong = np.flatnonzero(per_line != n_cols)
        detail = f"; a line has {per_line[wrong[0]]} values" if wrong.size else ""
        raise DataError(
            f"expected {n_rows} lines of {n_cols} values, found {per_line.size} lines{detail}"
        )
    return (raw[is_digit] - ord("0")).reshape(n_rows, n_cols)


def read_npz(path: Path, keys: Sequence[str]) -> tuple[np.ndarray, ...]:
    """Named arrays of an .npz archive, without ever unpickling (allow_pickle=False)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise DataError(f".npz file lacks array(s) {', '.join(missing)}")
            return tuple(z[k] for k in keys)
    except (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as e:
        raise DataError(f"not a readable .npz file ({one_line(e)})") from e


class _ArrayUnpickler(pickle.Unpickler):
    """Builds dicts, lists, strings and numpy arrays; refuses every other global."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3 writes bytes at pickle protocol 2
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One official CIFAR-10 python batch: images uint8 (N, 3, 32, 32), labels, file names.

    Call only on a file whose md5 matched the official one; the unpickler is restricted too.
    """
    try:
        with open(path, "rb") as f:
            entry = _ArrayUnpickler(f, encoding="latin1").load()
        data, labels, names = entry["data"], entry["labels"], entry["filenames"]
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as e:
        raise DataError(f"not a CIFAR-10 batch ({one_line(e)})") from e
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise DataError("CIFAR-10 batch 'data' is not a uint8 matrix")
    if data.shape[1] != 3 * 32 * 32 or len(labels) != len(data) or len(names) != len(data):
        raise DataError(
            f"CIFAR-10 batch with data {data.shape}, {len(labels)} labels, {len(names)} names"
        )
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64), list(names)
