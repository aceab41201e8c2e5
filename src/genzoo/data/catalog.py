"""The catalogue: which files make up each dataset, their checksums, and how they split.

A dataset may be stored in several formats (e.g. gzipped or plain IDX), in order of
preference. Checksums: MNIST and Fashion-MNIST from the project's shared README (official
md5s); KMNIST from torchvision's KMNIST class and the md5sums file of the Mila datalad
mirror (github.com/datasets-mila/datasets--kmnist); CIFAR-10 batches from torchvision's
cifar.py. Files whose bytes differ between faithful copies (the binarized-MNIST text, the
CIFAR-10 .npz) are verified by the md5 of their decoded arrays instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genzoo.core.errors import DataError
from genzoo.data.files import (
    IDX_IMAGES,
    IDX_LABELS,
    read_amat,
    read_cifar_batch,
    read_idx,
    read_npz,
)
from genzoo.data.splits import SPLIT_NAMES, Splits, check_shape, make_splits


@dataclass(frozen=True)
class FileSpec:
    name: str  # relative to <root>/<dataset>/
    role: str  # what the dataset's builder calls it, e.g. "train_images"
    md5: str | None  # of the file's bytes
    # md5 of each decoded array (see files.md5_array), for formats whose bytes can differ
    # between faithful copies; a file passes if either its bytes or its contents match.
    content_md5: tuple[str, ...] = ()

    @property
    def splits(self) -> frozenset[str]:
        """The splits built from this file: an official test file serves only the test
        split, and a training file both train and valid (valid is carved from it)."""
        if self.role.startswith("test"):
            return frozenset({"test"})
        if self.role == "valid":
            return frozenset({"valid"})
        return frozenset({"train", "valid"})


@dataclass(frozen=True)
class Archive:
    """A format that is downloaded as one archive and unpacked into its files."""

    name: str
    url: str
    md5: str


Arrays = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Format:
    label: str
    files: tuple[FileSpec, ...]
    read: Callable[[FileSpec, Path], Arrays]  # parse one file, validating its structure
    mirrors: tuple[str, ...] = ()  # base URLs serving the files by name, tried in order
    archive: Archive | None = None
    # True for a format whose reader parses plain bytes (IDX, amat): a file whose md5 fails
    # is then parsed to name its defect (truncated, wrong magic, wrong count). Never for a
    # format read through an unpickler (CIFAR's python batches)
    parse_unverified: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    formats: tuple[Format, ...]  # in order of preference
    build: Callable[[dict[str, Arrays]], Splits]  # arrays by file role -> splits


def _read_idx(f: FileSpec, path: Path) -> Arrays:
    return (read_idx(path, IDX_IMAGES if f.role.endswith("images") else IDX_LABELS),)


def _read_kmnist_npz(f: FileSpec, path: Path) -> Arrays:
    return read_npz(path, ["arr_0"])


IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _idx_formats(
    gz_md5: dict[str, str], raw_md5: dict[str, str], mirrors: tuple[str, ...]
) -> tuple[Format, Format]:
    gz = tuple(FileSpec(f"{IDX_FILES[r]}.gz", r, md5) for r, md5 in gz_md5.items())
    raw = tuple(FileSpec(IDX_FILES[r], r, md5) for r, md5 in raw_md5.items())
    return (
        Format("IDX (gzip)", gz, _read_idx, mirrors, parse_unverified=True),
        Format("IDX (uncompressed)", raw, _read_idx, parse_unverified=True),
    )


def _build_idx(name: str, title: str) -> Callable[[dict[str, Arrays]], Splits]:
    def build(arrays: dict[str, Arrays]) -> Splits:
        x = {role: a[0] for role, a in arrays.items()}
        shapes = {
            "train_images": (60000, 28, 28),
            "train_labels": (60000,),
            "test_images": (10000, 28, 28),
            "test_labels": (10000,),
        }
        for role, shape in shapes.items():
            if role not in x:  # a split that was not asked for
                x[role] = np.zeros((0, *shape[1:]), np.uint8)
                continue
            check_shape(name, role.replace("_", " ").replace("train", "training"), x[role], shape)
            if role.endswith("labels") and x[role].max() > 9:
                raise DataError(f"{name}: {role.replace('_', ' ')} go up to {x[role].max()}")
        train, test = x["train_images"][:, None], x["test_images"][:, None]
        y_train, y_test = x["train_labels"], x["test_labels"]
        return make_splits(
            name,
            (train[:50000], train[50000:], test),
            (y_train[:50000], y_train[50000:], y_test),
            n_levels=256,
            protocol=f"{title} (official IDX): train = first 50,000 of the official training "
            "set, valid = last 10,000, test = official 10,000",
        )

    return build


MNIST = DatasetSpec(
    "mnist",
    _idx_formats(
        {  # official md5s (shared README)
            "train_images": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train_labels": "d53e105ee54ea40749a09fcbcd1e9432",
            "test_images": "9fb629c4189551a2d022fa330f9573f3",
            "test_labels": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        {  # of the gunzipped official files
            "train_images": "6bbc9ace898e44ae57da46a324031adb",
            "train_labels": "a25bea736e30d166cdddb491f175f624",
            "test_images": "2646ac647ad5339dbf082846283269ea",
            "test_labels": "27ae3e4e09519cfbb04c329615203637",
        },
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    ),
    _build_idx("mnist", "MNIST"),
)

FASHION_MNIST = DatasetSpec(
    "fashion-mnist",
    _idx_formats(
        {  # official md5s (shared README)
            "train_images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train_labels": "25c81989df183df01b3e8a0aad5dffbe",
            "test_images": "bef4ecab320f06d8554ea6380940ec79",
            "test_labels": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        {  # of the gunzipped official files
            "train_images": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            "train_labels": "9018921c3c673c538a1fc5bad174d6f9",
            "test_images": "8181f5470baa50b63fa0f6fddb340f0a",
            "test_labels": "15d484375f8d13e6eb1aabb0c3f46965",
        },
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    ),
    _build_idx("fashion-mnist", "Fashion-MNIST"),
)

KMNIST_URL = "http://codh.rois.ac.jp/kmnist/dataset/kmnist/"
KMNIST = DatasetSpec(
    "kmnist",
    (
        *_idx_formats(
            {  # torchvision's KMNIST.resources; same in the Mila mirror's md5sums
                "train_images": "bdb82020997e1d708af4cf47b453dcf7",
                "train_labels": "e144d726b3acfaa3e44228e80efcd344",
                "test_images": "5c965bf0a639b31b8f53240b1b52f4d7",
                "test_labels": "7320c461ea6c1c855c0b718fb2a4b134",
            },
            {  # one source only: the git-annex MD5E keys of the gunzipped files in the Mila
                # mirror (sizes 47040016 / 60008 / 7840016 / 10008 bytes match the IDX headers)
                "train_images": "92be26ec9822e900ac425d0a0aa84ced",
                "train_labels": "949e75301f8813e0dc5800dcc320fc52",
                "test_images": "bf305b8cd328700fbc17f5acbc2856d2",
                "test_labels": "9f55f451c0988b028eccdf7d5cc265ab",
            },
            (KMNIST_URL,),
        ),
        Format(
            "NumPy .npz (KMNIST release)",
            (  # one source only: the Mila mirror's md5sums, written after downloading them
                FileSpec(
                    "kmnist-train-imgs.npz", "train_images", "a183fbc01ed9a345513b145673d3d0bb"
                ),
                FileSpec(
                    "kmnist-train-labels.npz", "train_labels", "b0e1d240e8afec72b50437fc3bc5908a"
                ),
                FileSpec("kmnist-test-imgs.npz", "test_images", "dace6de62ca8b90843cc45366337d02e"),
                FileSpec(
                    "kmnist-test-labels.npz", "test_labels", "3ae489a79983d0fe386152684e3b5412"
                ),
            ),
            _read_kmnist_npz,
            (KMNIST_URL,),
        ),
    ),
    _build_idx("kmnist", "Kuzushiji-MNIST"),
)


BINARIZED_ROWS = {"train": 50000, "valid": 10000, "test": 10000}
# md5_array of the decoded uint8 (N, 784) arrays, computed once from the shared .amat.gz
# files (whose values were checked against two independent copies, see the shared README).
BINARIZED_CONTENT_MD5 = {
    "train": "8d4f0427d6c2572b5e9994e08bad66de",
    "valid": "3e33becd40c694040e5e6c812e2f4b50",
    "test": "fc34623e13bd64fed2f8b61365198339",
}
BINARIZED_GZ_MD5 = {  # the shared .amat.gz files
    "train": "bfde9ab39a0031b5f732cbd9b394e91a",
    "valid": "9f4245b2362394529698d0e42ebb1d0d",
    "test": "2dc37c9988cde3b696bb4a0accb570db",
}


def _read_binarized(f: FileSpec, path: Path) -> Arrays:
    return (read_amat(path, BINARIZED_ROWS[f.role]),)


def _build_binarized(arrays: dict[str, Arrays]) -> Splits:
    x = [
        arrays[s][0].reshape(-1, 1, 28, 28) if s in arrays else np.zeros((0, 1, 28, 28), np.uint8)
        for s in SPLIT_NAMES
    ]
    return make_splits(
        "binarized-mnist",
        tuple(x),
        None,
        n_levels=2,
        protocol="binarized MNIST (Larochelle & Murray 2011 fixed binarisation, .amat): "
        "train 50,000 / valid 10,000 / test 10,000 as distributed",
    )


BINARIZED_MNIST = DatasetSpec(
    "binarized-mnist",
    (
        Format(
            ".amat text (gzip)",
            tuple(
                FileSpec(f"binarized_mnist_{s}.amat.gz", s, BINARIZED_GZ_MD5[s], (md5,))
                for s, md5 in BINARIZED_CONTENT_MD5.items()
            ),
            _read_binarized,
        ),
        Format(
            ".amat text",
            tuple(
                FileSpec(f"binarized_mnist_{s}.amat", s, None, (md5,))
                for s, md5 in BINARIZED_CONTENT_MD5.items()
            ),
            _read_binarized,
            ("http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/",),
        ),
    ),
    _build_binarized,
)


CIFAR_DIR = "cifar-10-batches-py"
CIFAR_BATCH_MD5 = {  # torchvision/datasets/cifar.py (train_list, test_list)
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}


def _read_cifar_npz(f: FileSpec, path: Path) -> Arrays:
    return read_npz(path, ["x", "y"])


def _read_cifar_batch(f: FileSpec, path: Path) -> Arrays:
    x, y, names = read_cifar_batch(path)
    return x, y, np.asarray(names, dtype=str)


def _cifar_part(arrays: dict[str, Arrays], roles: list[str], what: str, n: int):
    """(images CHW, labels) of one official part in (class, file name) order, or empty
    arrays when its files were not asked for."""
    if "train" in arrays or "test" in arrays:  # the shared .npz: HWC, already in that order
        if roles[0] not in arrays:
            return np.zeros((0, 3, 32, 32), np.uint8), np.zeros((0,), np.int64)
        x, y = arrays[roles[0]]
        check_shape("cifar10", f"{what} images", x, (n, 32, 32, 3))
        x = x.transpose(0, 3, 1, 2)
    else:  # the official batches, put into the .npz's order so both give identical splits
        if roles[0] not in arrays:
            return np.zeros((0, 3, 32, 32), np.uint8), np.zeros((0,), np.int64)
        x, y, names = (np.concatenate(a) for a in zip(*(arrays[r] for r in roles), strict=True))
        check_shape("cifar10", f"{what} images", x, (n, 3, 32, 32))
        order = np.lexsort((names, y))
        x, y = x[order], y[order]
    check_shape("cifar10", f"{what} labels", y, (n,))
    return x, y


def _build_cifar(arrays: dict[str, Arrays]) -> Splits:
    npz = "train" in arrays or "test" in arrays
    batches = [f"data_batch_{i}" for i in range(1, 6)]
    x_train, y_train = _cifar_part(arrays, ["train"] if npz else batches, "training", 50000)
    x_test, y_test = _cifar_part(arrays, ["test"] if npz else ["test_batch"], "test", 10000)
    perm = np.random.RandomState(0).permutation(50000)[: len(x_train)]
    train, valid = perm[:45000], perm[45000:]
    # the test images too: in class order, its first N (the reference of FID and of every
    # "first N test images" measure) would hold only the first N / 1,000 classes
    test = np.random.RandomState(1).permutation(10000)[: len(x_test)]
    return make_splits(
        "cifar10",
        (x_train[train], x_train[valid], x_test[test]),
        (y_train[train], y_train[valid], y_test[test]),
        n_levels=256,
        protocol="CIFAR-10 (Krizhevsky 2009): the 50,000 training images in (class, file name) "
        "order permuted by RandomState(0); train = first 45,000, valid = last 5,000; "
        "test = the official 10,000 in (class, file name) order permuted by RandomState(1)",
    )


CIFAR10 = DatasetSpec(
    "cifar10",
    (
        Format(
            "NumPy .npz (shared)",
            (
                FileSpec(
                    "cifar10-train.npz",
                    "train",
                    None,  # the zip's timestamps make the file md5 copy-specific
                    ("299b14d4ac992bdd570ce4227d1e95ab", "8c78f2139374abcbe5a5876feb624b43"),
                ),
                FileSpec(
                    "cifar10-test.npz",
                    "test",
                    None,
                    ("ec9b64ac9a44db68e1a0d85aabb4a988", "ad92d529f7ea7e5b75c94e6700fdfe52"),
                ),
            ),
            _read_cifar_npz,
        ),
        Format(
            "official python batches",
            tuple(FileSpec(f"{CIFAR_DIR}/{b}", b, md5) for b, md5 in CIFAR_BATCH_MD5.items()),
            _read_cifar_batch,
            archive=Archive(
                "cifar-10-python.tar.gz",
                "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                "c58f30108f718f92721af3b95e74349a",
            ),
        ),
    ),
    _build_cifar,
)

DATASETS: dict[str, DatasetSpec] = {
    d.name: d for d in (MNIST, BINARIZED_MNIST, FASHION_MNIST, KMNIST, CIFAR10)
}


BUILTIN = ("digits", "photo-patches")  # bundled with scikit-learn: nothing to download

DESCRIPTIONS = {  # one line each, for `genzoo data list` and `genzoo train --help`
    "digits": "built in: scikit-learn's 1,797 handwritten 8x8 digits, 17 grey levels",
    "photo-patches": "built in: 8x8 grey patches of scikit-learn's two photographs",
    "mnist": "MNIST, 70,000 handwritten 28x28 digits, 10 classes",
    "binarized-mnist": "MNIST binarised once (Larochelle & Murray 2011), the NLL benchmark",
    "fashion-mnist": "Fashion-MNIST, 70,000 28x28 clothing images, 10 classes",
    "kmnist": "Kuzushiji-MNIST, 70,000 28x28 cursive Japanese characters, 10 classes",
    "cifar10": "CIFAR-10, 60,000 32x32 colour photos, 10 classes",
    "edges2fashion": "paired task: Fashion-MNIST padded to 32x32 (x) and its thresholded "
    "Sobel edges (source), for pix2pix",
    "edges2fashion-unpaired": "unpaired task: edges2fashion with its training edges and "
    "images drawn apart (test pairs kept, to judge), for cyclegan",
    "cifar10-colour": "paired task: CIFAR-10 photos (x) and their BT.601 grey version as 3 "
    "equal channels (source), for pix2pix colourisation",
    "mnist2printed-unpaired": "unpaired task: 12,000 MNIST digits (source) and printed digits "
    "of their classes in matplotlib's DejaVu fonts (x), drawn apart (test pairs kept), for "
    "cyclegan",
    "cat2dog-unpaired": "unpaired task: CIFAR-10 cats (source) and dogs (x), for cyclegan; "
    "no true pairs, judged by FID and the classifier",
    "mnist32": "MNIST padded to 32x32 (2 black pixels a side), for progan and stylegan",
    "morpho-mnist": "multi-domain task: MNIST padded to 32x32, each digit thinned or thickened "
    "and upright or slanted by random attributes (thick, slanted), for stargan",
    "mnist-captions": "captioned task: 12,000 MNIST digits, each captioned from its class, "
    "stroke thickness and slant, with the caption's embedding, for text2image",
    "mnist32-captions": "captioned task: mnist-captions padded to 32x32 (as mnist32), for "
    "joint image–text models that judge a StyleGAN trained on mnist32",
    "cifar10-captions": "captioned task: 12,000 CIFAR-10 photos, each captioned from its "
    "class, dominant colour and brightness, with the caption's embedding, for text2image",
}


def dataset_names() -> list[str]:
    """Names `load` accepts, besides "folder:PATH" and "file:PATH": the datasets, then the
    tasks derived from them (genzoo.data.tasks)."""
    from genzoo.data.tasks import TASKS

    return [*BUILTIN, *DATASETS, *TASKS]
