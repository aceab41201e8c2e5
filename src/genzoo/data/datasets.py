"""Datasets by name: load, verify and fetch them.

`load(name)` returns the three splits as uint8 tensors (N, C, H, W) together with a one-line
`protocol` saying where the data came from and how it was split, so that every number a
model reports can name its data exactly. Files live under `data_root()/<dataset>/`; the
first format (see `catalog`) whose files are all present is used. Missing files are
downloaded from the canonical mirrors, or from `{base_url}/{dataset}/{file}` (a mirror laid
out like the data root).
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genzoo.core.errors import DataError, GenzooError, UnknownNameError, did_you_mean
from genzoo.data.catalog import (
    BUILTIN,
    DATASETS,
    Arrays,
    DatasetSpec,
    FileSpec,
    Format,
    dataset_names,
)
from genzoo.data.files import (
    IDX_IMAGES,
    DownloadError,
    data_root,
    download,
    download_to,
    extract_members,
    md5_array,
    md5_file,
    mismatch,
    one_line,
    read_idx,
    temporary_file,
)
from genzoo.data.splits import SPLIT_NAMES, Splits, make_splits, seeded_split
from genzoo.data.tasks import TASKS

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclass(frozen=True)
class FileStatus:
    dataset: str
    file: str  # relative to the dataset's directory
    path: Path
    state: str  # "ok" | "bad" | "missing"
    detail: str  # why it is bad, or ""


def _load_digits() -> Splits:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.images.astype(np.uint8)[:, None]  # (1797, 1, 8, 8), values 0..16
    y = digits.target.astype(np.int64)
    idx = seeded_split(len(x), 300, 300)
    return make_splits(
        "digits",
        tuple(x[i] for i in idx),
        tuple(y[i] for i in idx),
        n_levels=17,
        protocol="scikit-learn digits (UCI optdigits 8x8, values 0..16): 1,797 images permuted "
        "by RandomState(0); train = first 1,197, valid = next 300, test = last 300",
    )


PATCH = 32
PATCH_SPLITS = (0.8, 0.9)  # left 80 % of each photo: train, next 10 %: valid, last 10 %: test


def _load_photo_patches() -> Splits:
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = load_sample_images()
    parts: list[list[np.ndarray]] = [[], [], []]
    for photo in photos.images:  # china.jpg, flower.jpg: 427 x 640 RGB
        H, W = photo.shape[:2]
        for factor in (1, 2):
            image = Image.fromarray(photo)
            if factor > 1:
                image = image.resize((W // factor, H // factor), Image.BOX)
            pixels = np.asarray(image)
            for top in range(0, pixels.shape[0] - PATCH + 1, PATCH // 2):
                for left in range(0, pixels.shape[1] - PATCH + 1, PATCH // 2):
                    lo, hi = left * factor / W, (left + PATCH) * factor / W
                    split = sum(lo >= b for b in PATCH_SPLITS)
                    if split < 2 and hi > PATCH_SPLITS[split]:
                        continue  # straddles two splits' regions
                    parts[split].append(pixels[top : top + PATCH, left : left + PATCH])
    x = tuple(np.stack(p).transpose(0, 3, 1, 2) for p in parts)
    return make_splits(
        "photo-patches",
        x,
        None,
        n_levels=256,
        protocol="32x32 RGB patches (stride 16) of the two photos scikit-learn bundles "
        "(china.jpg, flower.jpg), at full and half resolution; split by position in each "
        "photo: left 80 % train, next 10 % valid, last 10 % test, no patch crossing a "
        "boundary. A patch dataset, not CIFAR",
    )


def _load_folder(name: str) -> Splits:
    from PIL import Image, UnidentifiedImageError

    folder = Path(name.removeprefix("folder:")).expanduser()
    if not folder.is_dir():
        raise DataError(f"{name}: {folder} is not a directory")
    paths = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    if len(paths) < 3:
        raise DataError(
            f"{name}: {folder} holds {len(paths)} .png/.jpg/.jpeg/.bmp image(s); "
            "at least 3 are needed for a train/valid/test split"
        )
    images = []
    size = mode = None
    try:
        for p in paths:
            with Image.open(p) as img:
                if size is None:
                    size, mode = img.size, img.mode
                elif (img.size, img.mode) != (size, mode):
                    raise DataError(
                        f"{name}: {p.name} is {img.size[0]}x{img.size[1]} {img.mode}, but "
                        f"{paths[0].name} is {size[0]}x{size[1]} {mode}: all images must match"
                    )
                images.append(np.asarray(img.convert("L" if mode in ("1", "L", "LA") else "RGB")))
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{name}: cannot read {p.name} ({one_line(e)})") from e
    x = np.stack(images)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # (N, C, H, W)
    n_held = max(1, len(x) // 10)
    idx = seeded_split(len(x), n_held, n_held)
    return make_splits(
        name,
        tuple(x[i] for i in idx),
        None,
        n_levels=256,
        protocol=f"image folder {folder} ({len(x)} files, sorted by name) permuted by "
        f"RandomState(0); train {len(idx[0])} / valid {len(idx[1])} / test {len(idx[2])}",
    )


def read_image_array(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(images uint8 (N, C, H, W), labels int64 (N,) or None, what was read) from an array
    file: `.npz` (images as x or images, or its one array; labels as y or labels, if any),
    never unpickled, or an IDX file of images (`*-ubyte`, gzipped or not)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    labels = None
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                keys = [k for k in ("x", "images") if k in z.files] or z.files
                if len(keys) != 1:
                    raise DataError(f"{path} holds arrays {', '.join(z.files)}: name the images "
                                    "x (or images), or keep one array")  # fmt: skip
                x = z[keys[0]]
                label_keys = [k for k in ("y", "labels") if k in z.files]
                if label_keys:
                    labels = z[label_keys[0]].astype(np.int64)
        except (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as e:
            raise DataError(f"{path}: not a readable .npz ({one_line(e)})") from None
        what = f"{path.name}[{keys[0]!r}]"
    elif path.name.endswith(("-ubyte", "-ubyte.gz")):
        try:
            x = read_idx(path, IDX_IMAGES)
        except DataError as e:
            raise DataError(f"{path}: {e}") from None
        what = path.name
    else:
        raise DataError(f"{path}: expected a .npz array or an IDX file of images (*-ubyte or "
                        "*-ubyte.gz)")  # fmt: skip
    if x.ndim == 3:
        x = x[:, None]
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1] not in (1, 3):
        raise DataError(f"{what}: uint8 images (N, H, W) or (N, 1 or 3, H, W) needed, found "
                        f"{x.dtype} of shape {x.shape}")  # fmt: skip
    if labels is not None and labels.shape != (len(x),):
        raise DataError(f"{what}: {labels.shape} labels for {len(x)} images")
    return np.require(x, requirements=["C", "W"]), labels, what


def _load_file(name: str) -> Splits:
    """`file:PATH`: a user's array file as a dataset, split 80/10/10 as a folder is."""
    x, labels, what = read_image_array(name.removeprefix("file:"))
    if len(x) < 3:
        raise DataError(f"{name}: {len(x)} image(s); at least 3 are needed for a "
                        "train/valid/test split")  # fmt: skip
    n_held = max(1, len(x) // 10)
    idx = seeded_split(len(x), n_held, n_held)
    return make_splits(
        name,
        tuple(x[i] for i in idx),
        None if labels is None else tuple(labels[i] for i in idx),
        n_levels=256,
        protocol=f"array file {what} ({len(x)} images{', labelled' if labels is not None else ''}"
        f") permuted by RandomState(0); train {len(idx[0])} / valid {len(idx[1])} / test "
        f"{len(idx[2])}",
    )


# --- one image (SinGAN) ------------------------------------------------------------------

IMAGE_MAX_SIZE = 128  # image:NAME's longer side by default; image:NAME@SIZE sets another
IMAGE_MIN_SIDE = 8  # a smaller image has no patches to learn from
BUNDLED_IMAGES = {  # photographs installed with scikit-learn and matplotlib
    "china": "scikit-learn's china.jpg (427x640 RGB)",
    "flower": "scikit-learn's flower.jpg (427x640 RGB)",
    "grace_hopper": "matplotlib's grace_hopper.jpg (600x512 RGB)",
}


def _open_bundled(key: str):
    from PIL import Image

    if key == "grace_hopper":
        from matplotlib import cbook

        return Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    from sklearn.datasets import load_sample_image

    return Image.fromarray(load_sample_image(f"{key}.jpg"))


def _load_image(name: str) -> Splits:
    """`image:NAME[@SIZE]` (a bundled photograph) or `image:PATH[@SIZE]` (a PNG or JPEG):
    one image, resized so that its longer side is at most SIZE (default IMAGE_MAX_SIZE),
    as every split (N = 1): a single-image model is judged on the image it learnt from."""
    from PIL import Image, UnidentifiedImageError

    key, max_size = name.removeprefix("image:"), IMAGE_MAX_SIZE
    head, at, tail = key.rpartition("@")
    if at and tail.isdigit():
        key, max_size = head, int(tail)
    if max_size < IMAGE_MIN_SIDE:
        raise DataError(f"{name}: @{max_size} is below {IMAGE_MIN_SIDE} px: give a larger size")
    if key in BUNDLED_IMAGES:
        img, source = _open_bundled(key), BUNDLED_IMAGES[key]
    else:
        path = Path(key).expanduser()
        if not path.is_file():
            bundled = ", ".join(f"image:{k}" for k in BUNDLED_IMAGES)
            raise DataError(f"{name}: {path} is not a file: give a PNG or JPEG, or one of "
                            f"{bundled}")  # fmt: skip
        try:
            img = Image.open(path)
            img.load()
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"{name}: cannot read {path.name} as an image ({one_line(e)}): "
                            "give a PNG or JPEG") from None  # fmt: skip
        if img.format not in ("PNG", "JPEG"):
            raise DataError(f"{name}: {path.name} is {img.format}, not PNG or JPEG")
        source = f"{path} ({img.width}x{img.height} {img.mode})"
    note = ""
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        note = ", its alpha channel dropped"
    grey = img.mode in ("1", "L", "LA", "I", "I;16", "F")
    img = img.convert("L" if grey else "RGB")
    if min(img.size) < IMAGE_MIN_SIDE:
        raise DataError(f"{name}: the image is {img.width}x{img.height}; at least "
                        f"{IMAGE_MIN_SIDE} px a side are needed")  # fmt: skip
    s = min(1.0, max_size / max(img.size))
    if s < 1:
        img = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))),
                         Image.BICUBIC)  # fmt: skip
    x = np.asarray(img)
    x = (x[None] if x.ndim == 2 else x.transpose(2, 0, 1))[None]  # (1, C, H, W)
    return make_splits(
        name,
        (x, x, x),
        None,
        n_levels=256,
        protocol=f"one image: {source}{note}, resized to {img.width}x{img.height} (longer "
        f"side at most {max_size}, bicubic); train = valid = test = this image",
    )


# --- files: verify, resolve, fetch -------------------------------------------------------


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        known = ", ".join(
            [
                *dataset_names(),
                "folder:PATH",
                "file:PATH.npz|PATH-ubyte.gz",
                "image:china|flower|grace_hopper|PATH[@SIZE]",
            ]
        )
        hint = did_you_mean(name, [*DATASETS, *TASKS])
        raise UnknownNameError(f"unknown dataset {name!r}{hint}: expected one of {known}")
    return DATASETS[name]


def _base_url(base_url: str | None) -> str | None:
    return base_url or os.environ.get("GENZOO_DATA_URL") or None


def _check(fmt: Format, f: FileSpec, path: Path) -> tuple[str | None, Arrays | None]:
    """(why the file at `path` is not a good copy of `f` or None, its arrays if decoded).

    The file md5 is compared first and a file is only parsed when that does not settle it,
    so a pickle is never parsed unverified (its spec has no content md5).
    """
    got = md5_file(path) if f.md5 else None
    if got is not None and got == f.md5:
        return None, None
    byte_problem = mismatch(f.md5, got) if got is not None else None
    if byte_problem and not f.content_md5:
        if fmt.parse_unverified:  # name the defect too: truncated, wrong magic, wrong count
            try:
                fmt.read(f, path)
            except DataError as e:
                return f"{byte_problem}; {e}", None
        return byte_problem, None
    try:
        arrays = fmt.read(f, path)
        digests = tuple(md5_array(a) for a in arrays[: len(f.content_md5)])
        if digests != f.content_md5:
            raise DataError(
                "decoded values: " + mismatch(", ".join(f.content_md5), ", ".join(digests))
            )
    except DataError as e:
        return (f"{byte_problem}; {e}" if byte_problem else str(e)), None
    return None, arrays  # contents verified, or structure checked where no checksum is known


def _problem(fmt: Format, f: FileSpec, path: Path) -> str | None:
    return _check(fmt, f, path)[0]


def _read_verified(spec: DatasetSpec, fmt: Format, f: FileSpec, directory: Path) -> Arrays:
    path = directory / f.name
    problem, arrays = _check(fmt, f, path)
    if problem is None:
        try:
            return arrays if arrays is not None else fmt.read(f, path)
        except DataError as e:
            problem = str(e)
    raise DataError(
        f"{spec.name}: {path} is corrupt ({problem}): delete it and run "
        f"`genzoo data fetch {spec.name}`, or replace it"
    )


def _needed(fmt: Format, splits: Collection[str] = SPLIT_NAMES) -> tuple[FileSpec, ...]:
    """The files of `fmt` that the given splits are built from."""
    return tuple(f for f in fmt.files if f.splits & set(splits))


def _complete(spec: DatasetSpec, directory: Path, splits=SPLIT_NAMES) -> Format | None:
    for fmt in spec.formats:
        if all((directory / f.name).is_file() for f in _needed(fmt, splits)):
            return fmt
    return None


def _downloadable(fmt: Format, base_url: str | None) -> bool:
    return bool(base_url or fmt.mirrors or fmt.archive)


def _download_format(spec: DatasetSpec, base_url: str | None) -> Format:
    """The first format that can be downloaded (a base_url mirrors the data root, so it
    serves the preferred one), else the preferred one."""
    return next((fmt for fmt in spec.formats if _downloadable(fmt, base_url)), spec.formats[0])


def _best_present(spec: DatasetSpec, directory: Path, base_url: str | None) -> Format:
    """The complete format, else the one with most files present, else the download one."""
    complete = _complete(spec, directory)
    if complete is not None:
        return complete
    counts = [sum((directory / f.name).is_file() for f in fmt.files) for fmt in spec.formats]
    if max(counts) == 0:
        return _download_format(spec, base_url)
    return spec.formats[counts.index(max(counts))]


def _download_files(
    spec: DatasetSpec, fmt: Format, files: list[FileSpec], directory: Path, base_url: str | None
) -> None:
    """Download `files` of `fmt` into `directory`, each verified before it is put in place."""
    base = base_url.rstrip("/") if base_url else None
    remaining = list(files)
    try:
        if fmt.archive is not None:
            _download_archive(spec, fmt, files, directory, base)
            return
        for f in files:
            urls = [f"{base}/{spec.name}/{f.name}"] if base else [m + f.name for m in fmt.mirrors]
            download(urls, directory / f.name, lambda p, f=f: _problem(fmt, f, p))
            remaining.remove(f)
    except DownloadError as e:
        names = ", ".join(f.name for f in remaining)
        present = any((directory / f.name).exists() for f in remaining)
        raise DataError(
            f"{spec.name}: {names} {'missing or bad' if present else 'not found'} under "
            f"{directory} and the download failed ({e.reason}): run "
            f"`genzoo data fetch {spec.name}` with network access, or put the file(s) there"
        ) from e
    except DataError as e:
        raise DataError(f"{spec.name}: {e}") from e


def _download_archive(
    spec: DatasetSpec, fmt: Format, files: list[FileSpec], directory: Path, base: str | None
) -> None:
    archive = fmt.archive
    url = f"{base}/{spec.name}/{archive.name}" if base else archive.url
    by_name = {f.name: f for f in files}
    with temporary_file(directory / archive.name) as tmp:
        download_to([url], tmp, archive.name)
        got = md5_file(tmp)
        if got != archive.md5:
            raise DataError(
                f"the download of {archive.name} from {url} is corrupt "
                f"({mismatch(archive.md5, got)}); nothing was saved"
            )
        extract_members(
            tmp,
            {f.name: directory / f.name for f in files},
            lambda name, p: _problem(fmt, by_name[name], p),
        )


def _ensure(spec: DatasetSpec, directory: Path, base_url: str | None, splits=SPLIT_NAMES) -> Format:
    """Make the files of one format that `splits` need complete and good, downloading
    what is missing or bad."""
    fmt = _complete(spec, directory, splits) or _download_format(spec, base_url)
    files = _needed(fmt, splits)
    problems = {
        f.name: _problem(fmt, f, directory / f.name) if (directory / f.name).is_file() else None
        for f in files
    }
    todo = [f for f in files if not (directory / f.name).is_file() or problems[f.name]]
    if todo and not _downloadable(fmt, base_url):
        bad = [f.name for f in todo if problems[f.name]]
        if bad:
            raise DataError(
                f"{spec.name}: {directory / bad[0]} is corrupt ({problems[bad[0]]}) and "
                f"{fmt.label} files cannot be downloaded: replace it"
            )
        raise DataError(
            f"{spec.name}: {', '.join(f.name for f in todo)} not found under {directory} "
            "and there is nowhere to download them from: put the file(s) there"
        )
    if todo:
        _download_files(spec, fmt, todo, directory, base_url)
    return fmt


def load(
    name: str,
    root: str | Path | None = None,
    *,
    download: bool = True,
    base_url: str | None = None,
    splits: Collection[str] = SPLIT_NAMES,
) -> Splits:
    """The named dataset's splits; missing files are downloaded unless download=False.

    Only the files that `splits` are built from are needed (scoring a test split does not
    read the training file); the splits not asked for may then come back empty.
    Every file is checked against its md5 on each load (hashing is cheap next to parsing).
    """
    unknown = set(splits) - set(SPLIT_NAMES)
    if unknown:
        raise GenzooError(f"unknown split {sorted(unknown)[0]!r}: expected train, valid or test")
    if name in BUILTIN:
        return _load_digits() if name == "digits" else _load_photo_patches()
    if name.startswith("folder:"):
        return _load_folder(name)
    if name.startswith("file:"):
        return _load_file(name)
    if name.startswith("image:"):
        return _load_image(name)
    if name in TASKS:  # derived from its base dataset, which is loaded as usual
        task = TASKS[name]
        return task.build(load(task.base, root, download=download, base_url=base_url,
                               splits=splits))  # fmt: skip
    spec = _spec(name)
    directory = data_root(root) / spec.name
    fmt = _complete(spec, directory, splits)
    if fmt is None:
        base_url = _base_url(base_url)
        if not download:
            fmt = _best_present(spec, directory, base_url)
            missing = [f.name for f in _needed(fmt, splits) if not (directory / f.name).is_file()]
            raise DataError(
                f"{spec.name}: {', '.join(missing)} not found under {directory}: run "
                f"`genzoo data fetch {spec.name}` or put the file(s) there"
            )
        fmt = _ensure(spec, directory, base_url, splits)
    arrays = {f.role: _read_verified(spec, fmt, f, directory) for f in _needed(fmt, splits)}
    return spec.build(arrays)


def file_status(name: str, root: str | Path | None = None) -> list[FileStatus]:
    """The state of each file of the dataset's format in use (or to be downloaded)."""
    if name in BUILTIN or name.startswith(("folder:", "file:", "image:")):
        return []  # no files that genzoo manages
    if name in TASKS:  # the files of its base, listed under the task's name
        return [dataclasses.replace(s, dataset=name) for s in file_status(TASKS[name].base, root)]
    spec = _spec(name)
    directory = data_root(root) / spec.name
    fmt = _best_present(spec, directory, _base_url(None))
    out = []
    for f in fmt.files:
        path = directory / f.name
        if not path.is_file():
            out.append(FileStatus(spec.name, f.name, path, "missing", ""))
            continue
        problem = _problem(fmt, f, path)
        state = "ok" if problem is None else "bad"
        out.append(FileStatus(spec.name, f.name, path, state, problem or ""))
    return out


def fetch(name: str, root: str | Path | None = None, base_url: str | None = None) -> list[Path]:
    """Download the dataset's missing (or corrupt) files; returns the verified paths."""
    if name in BUILTIN or name.startswith(("folder:", "file:", "image:")):
        return []
    if name in TASKS:
        return fetch(TASKS[name].base, root, base_url)
    spec = _spec(name)
    directory = data_root(root) / spec.name
    fmt = _ensure(spec, directory, _base_url(base_url))
    return [directory / f.name for f in fmt.files]
