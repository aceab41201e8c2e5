"""Tests of genzoo.data: parsers, checksums, datasets by name, transforms, real data."""

import gzip
import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import use_cifar_batches_with

from genzoo.core.errors import DataError, GenzooError
from genzoo.core.model import DataInfo
from genzoo.data import (
    FileStatus,
    Splits,
    Transform,
    data_root,
    dataset_names,
    datasets,
    fetch,
    file_status,
    files,
    load,
)
from genzoo.data import catalog as ds
from genzoo.data.splits import make_splits

# --- helpers -----------------------------------------------------------------------------


def idx_bytes(a: np.ndarray) -> bytes:
    magic = 0x0800 | a.ndim
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in a.shape)
    return header + a.astype(np.uint8).tobytes()


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def assert_one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg and msg
    return msg


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv("GENZOO_DATA_URL", raising=False)


# --- IDX ---------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=5, dtype=np.uint8)
    suffix = ".gz" if gz else ""
    p_img = write(tmp_path / f"img{suffix}", idx_bytes(images), gz)
    p_lab = write(tmp_path / f"lab{suffix}", idx_bytes(labels), gz)
    np.testing.assert_array_equal(files.read_idx(p_img, files.IDX_IMAGES), images)
    np.testing.assert_array_equal(files.read_idx(p_lab, files.IDX_LABELS), labels)


def test_idx_truncated(tmp_path):
    data = idx_bytes(np.zeros((5, 4, 3), np.uint8))
    p = write(tmp_path / "img.gz", data[:-7], gz=True)
    with pytest.raises(DataError, match="truncated IDX") as err:
        files.read_idx(p, files.IDX_IMAGES)
    assert_one_line(err)
    p = write(tmp_path / "hdr", data[:9])
    with pytest.raises(DataError, match="truncated IDX header"):
        files.read_idx(p, files.IDX_IMAGES)


def test_idx_overlong(tmp_path):
    p = write(tmp_path / "img", idx_bytes(np.zeros((2, 2, 2), np.uint8)) + b"\0")
    with pytest.raises(DataError, match="overlong IDX"):
        files.read_idx(p, files.IDX_IMAGES)


def test_idx_wrong_magic(tmp_path):
    p = write(tmp_path / "labels", idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(DataError, match="magic is 0x00000801, expected 0x00000803") as err:
        files.read_idx(p, files.IDX_IMAGES)
    assert_one_line(err)


def test_not_gzip(tmp_path):
    p = write(tmp_path / "img.gz", idx_bytes(np.zeros((2, 2, 2), np.uint8)))  # plain bytes
    with pytest.raises(DataError, match="not a valid gzip file") as err:
        files.read_idx(p, files.IDX_IMAGES)
    assert_one_line(err)


def test_truncated_gzip(tmp_path):
    blob = gzip.compress(idx_bytes(np.arange(600, dtype=np.uint8).reshape(6, 10, 10) % 251))
    p = write(tmp_path / "img.gz", blob[: len(blob) // 2])
    with pytest.raises(DataError, match="gzip") as err:
        files.read_idx(p, files.IDX_IMAGES)
    assert_one_line(err)


# --- .amat, .npz, CIFAR batches, archives -------------------------------------------------


def amat_text(x: np.ndarray, sep: str = " ", end: str = "\n") -> bytes:
    return "".join(sep.join(str(v) for v in row) + end for row in x).encode()


@pytest.mark.parametrize(("sep", "end"), [(" ", "\n"), (" ", " \r\n"), ("\t", "\n")])
def test_amat_round_trip(tmp_path, sep, end):
    x = np.random.default_rng(1).integers(0, 2, size=(3, 6), dtype=np.uint8)
    p = write(tmp_path / "a.amat.gz", amat_text(x, sep, end), gz=True)
    np.testing.assert_array_equal(files.read_amat(p, 3, 6), x)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (b"0 1 0\n1 1 2\n", "unexpected byte"),
        (b"0 1 0\n1 10\n", "single digits"),
        (b"0 1 0\n1 1\n", "a line has 2 values"),
        (b"0 1 0\n", "found 1 lines"),
        (b"0.0 1 0\n1 1 1\n", "unexpected byte"),
    ],
)
def test_amat_malformed(tmp_path, text, match):
    p = write(tmp_path / "a.amat", text)
    with pytest.raises(DataError, match=match) as err:
        files.read_amat(p, 2, 3)
    assert_one_line(err)


def test_npz_refuses_pickles(tmp_path):
    p = tmp_path / "a.npz"
    np.savez(p, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match="not a readable .npz") as err:
        files.read_npz(p, ["x"])
    assert_one_line(err)
    with pytest.raises(DataError, match="lacks array"):
        files.read_npz(p, ["y"])


def cifar_batch(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "batch_label": f"batch {seed}",
        "labels": rng.integers(0, 10, n).tolist(),
        "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        "filenames": [f"img_{seed}_{i:03d}.png" for i in range(n)],
    }


@pytest.mark.parametrize("protocol", [2, 4])
def test_cifar_batch_reader(tmp_path, protocol):
    batch = cifar_batch(4, 0)
    p = tmp_path / "data_batch_1"
    p.write_bytes(pickle.dumps(batch, protocol=protocol))
    x, y, names = files.read_cifar_batch(p)
    assert x.shape == (4, 3, 32, 32) and x.dtype == np.uint8
    np.testing.assert_array_equal(x.reshape(4, -1), batch["data"])
    assert y.tolist() == batch["labels"] and names == batch["filenames"]


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_cifar_batch_reader_refuses_other_globals(tmp_path):
    p = tmp_path / "data_batch_1"
    p.write_bytes(pickle.dumps({"data": Evil()}, protocol=2))
    with pytest.raises(DataError, match="refusing to load") as err:
        files.read_cifar_batch(p)
    assert_one_line(err)


def test_pickle_never_parsed_when_md5_mismatches(tmp_path):
    def read(f, path):
        raise AssertionError("parsed an unverified file")

    fmt = ds.Format("t", (), read)
    spec = ds.FileSpec("data_batch_1", "b", "0" * 32)
    p = write(tmp_path / "data_batch_1", b"not the official batch")
    problem, _ = datasets._check(fmt, spec, p)
    assert problem.startswith("md5 mismatch: expected 000")


def test_extract_members_is_confined(tmp_path):
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in [("d/good", b"good"), ("../evil", b"evil"), ("d/other", b"x")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("d/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    out = tmp_path / "out"
    files.extract_members(archive, {"d/good": out / "d" / "good"}, lambda n, p: None)
    assert (out / "d" / "good").read_bytes() == b"good"
    assert sorted(p.name for p in (out / "d").iterdir()) == ["good"]
    assert not (tmp_path / "evil").exists()
    with pytest.raises(DataError, match="lacks d/link"):  # links are never followed
        files.extract_members(archive, {"d/link": out / "link"}, lambda n, p: None)
    with pytest.raises(DataError, match="corrupt"):
        files.extract_members(archive, {"d/good": out / "g2"}, lambda n, p: "md5 mismatch")
    assert not (out / "g2").exists()


# --- checksums and status through the catalogue -------------------------------------------


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A fake IDX dataset "tiny" under tmp_path with known md5s (no download mirrors)."""
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, 6, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, 2, dtype=np.uint8),
    }
    md5 = {}
    for role, a in arrays.items():
        p = write(tmp_path / "tiny" / f"{ds.IDX_FILES[role]}.gz", idx_bytes(a), gz=True)
        md5[role] = hashlib.md5(p.read_bytes()).hexdigest()

    def build(parts):
        x = {r: a[0] for r, a in parts.items()}
        return make_splits(
            "tiny",
            (x["train_images"][:4, None], x["train_images"][4:, None], x["test_images"][:, None]),
            (x["train_labels"][:4], x["train_labels"][4:], x["test_labels"]),
            n_levels=256,
            protocol="tiny",
        )

    raw_md5 = dict.fromkeys(md5, None)  # the uncompressed format has no checksums
    spec = ds.DatasetSpec("tiny", ds._idx_formats(md5, raw_md5, ()), build)
    monkeypatch.setitem(ds.DATASETS, "tiny", spec)
    return tmp_path, arrays


def test_tiny_loads_and_is_ok(tiny):
    root, arrays = tiny
    s = load("tiny", root, download=False)
    assert s.train.shape == (4, 1, 28, 28) and s.train.dtype == torch.uint8
    np.testing.assert_array_equal(s.test.numpy()[:, 0], arrays["test_images"])
    assert s.train_labels.dtype == torch.int64
    status = file_status("tiny", root)
    assert [st.state for st in status] == ["ok"] * 4
    assert all(isinstance(st, FileStatus) and st.detail == "" for st in status)
    assert fetch("tiny", root) == [st.path for st in status]


def test_missing_bad_and_status(tiny):
    root, arrays = tiny
    missing = root / "tiny" / "t10k-labels-idx1-ubyte.gz"
    missing.unlink()
    states = {st.file: (st.state, st.detail) for st in file_status("tiny", root)}
    assert states["train-images-idx3-ubyte.gz"] == ("ok", "")
    assert states["t10k-labels-idx1-ubyte.gz"] == ("missing", "")
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz not found under") as err:
        load("tiny", root, download=False)
    assert "genzoo data fetch tiny" in assert_one_line(err)
    with pytest.raises(DataError, match="nowhere to download"):
        load("tiny", root)

    write(missing, idx_bytes(arrays["test_labels"]), gz=True)
    bad = root / "tiny" / "train-labels-idx1-ubyte.gz"
    write(bad, idx_bytes(arrays["train_labels"][::-1]), gz=True)  # well-formed, wrong content
    states = {st.file: (st.state, st.detail) for st in file_status("tiny", root)}
    assert states["t10k-labels-idx1-ubyte.gz"] == ("ok", "")
    assert states["train-labels-idx1-ubyte.gz"][0] == "bad"
    assert states["train-labels-idx1-ubyte.gz"][1].startswith("md5 mismatch: expected ")
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz is corrupt") as err:
        load("tiny", root, download=False)
    assert "md5 mismatch" in assert_one_line(err)
    with pytest.raises(DataError, match="cannot be downloaded"):
        fetch("tiny", root)


def test_structure_checked_without_checksum(tiny):
    root, arrays = tiny
    for role, a in arrays.items():  # move to the uncompressed format, which has no md5s
        write(root / "tiny" / ds.IDX_FILES[role], idx_bytes(a))
        (root / "tiny" / f"{ds.IDX_FILES[role]}.gz").unlink()
    assert load("tiny", root, download=False).train.shape == (4, 1, 28, 28)
    p = root / "tiny" / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated IDX file") as err:
        load("tiny", root, download=False)
    assert str(p) in assert_one_line(err)
    assert [st.state for st in file_status("tiny", root)] == ["bad", "ok", "ok", "ok"]


def test_unknown_names():
    with pytest.raises(GenzooError, match="unknown dataset 'nope'") as err:
        load("nope")
    assert "binarized-mnist" in assert_one_line(err)
    with pytest.raises(GenzooError):
        file_status("nope")


def test_dataset_names():
    assert dataset_names() == [
        "digits",
        "photo-patches",
        "mnist",
        "binarized-mnist",
        "fashion-mnist",
        "kmnist",
        "cifar10",
        "edges2fashion",  # a task derived from fashion-mnist (genzoo.data.tasks)
        "edges2fashion-unpaired",
        "cifar10-colour",  # from cifar10
        "mnist2printed-unpaired",  # from mnist
        "cat2dog-unpaired",  # from cifar10
        "fashion-patches",
        "mnist32",
        "morpho-mnist",
        "morpho-thick-unpaired",  # from mnist, morpho-mnist's recipe
        "morpho-slanted-unpaired",
        "mnist-captions",
        "cifar10-captions",
        "mnist32-captions",
    ]


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "env"))
    assert data_root(tmp_path / "x") == tmp_path / "x"
    assert data_root() == tmp_path / "env"
    monkeypatch.delenv("GENZOO_DATA")
    import platformdirs

    assert data_root() == Path(platformdirs.user_cache_dir("genzoo")) / "datasets"


def test_status_follows_the_format_in_use(tmp_path):
    # a complete .npz pair wins over an incomplete set of official batches
    for name in ("cifar10-train.npz", "cifar10-test.npz"):
        write(tmp_path / "cifar10" / name, b"junk")
    for i in range(1, 5):
        write(tmp_path / "cifar10" / ds.CIFAR_DIR / f"data_batch_{i}", b"junk")
    status = file_status("cifar10", tmp_path)
    assert [(st.file, st.state) for st in status] == [
        ("cifar10-train.npz", "bad"),
        ("cifar10-test.npz", "bad"),
    ]
    assert "not a readable .npz" in status[0].detail


# --- digits and folders ------------------------------------------------------------------


def test_digits():
    s = load("digits")
    assert (len(s.train), len(s.valid), len(s.test)) == (1197, 300, 300)
    assert s.train.shape[1:] == (1, 8, 8) and s.train.dtype == torch.uint8
    assert s.n_levels == 17
    everything = torch.cat([s.train, s.valid, s.test])
    assert everything.min() == 0 and everything.max() == 16
    assert s.train_labels.shape == (1197,) and s.train_labels.dtype == torch.int64
    again = load("digits")
    assert torch.equal(again.valid, s.valid)  # the seeded split is fixed
    assert s.split("valid") is s.valid
    with pytest.raises(GenzooError, match="unknown split"):
        s.split("validation")


def write_pngs(folder: Path, n: int, size=(6, 5), mode="L") -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(
            folder / f"{i:02d}.png"
        )


@pytest.mark.parametrize(("mode", "channels"), [("L", 1), ("RGB", 3)])
def test_folder(tmp_path, mode, channels):
    write_pngs(tmp_path / "imgs", 20, mode=mode)
    (tmp_path / "imgs" / "notes.txt").write_text("not an image")
    s = load(f"folder:{tmp_path / 'imgs'}")
    assert (len(s.train), len(s.valid), len(s.test)) == (16, 2, 2)
    assert s.train.shape[1:] == (channels, 5, 6) and s.train.dtype == torch.uint8
    assert s.n_levels == 256 and s.train_labels is None
    assert file_status(f"folder:{tmp_path / 'imgs'}") == []


def test_folder_mixed_sizes(tmp_path):
    from PIL import Image

    write_pngs(tmp_path / "imgs", 4)
    Image.new("L", (7, 7)).save(tmp_path / "imgs" / "02b.png")
    with pytest.raises(DataError, match="02b.png is 7x7 L") as err:
        load(f"folder:{tmp_path / 'imgs'}")
    assert_one_line(err)


def test_folder_empty_or_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds 0"):
        load(f"folder:{tmp_path / 'empty'}")
    with pytest.raises(DataError, match="not a directory"):
        load(f"folder:{tmp_path / 'nothing'}")


# --- transforms --------------------------------------------------------------------------


def grey(n=64, d=(1, 6, 6), L=256, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, L, (n, *d), generator=g, dtype=torch.uint8)


def test_static_binarisation_is_fixed():
    x = grey(n=5000)
    a = Transform(n_levels=256, binarize="static").fixed(x, "train")
    b = Transform(n_levels=256, binarize="static").fixed(x, "train")
    assert torch.equal(a, b) and set(a.unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(a, Transform(n_levels=256, binarize="static").fixed(x, "valid"))
    assert not torch.equal(a, Transform(n_levels=256, binarize="static", seed=1).fixed(x, "train"))
    assert torch.equal(Transform(n_levels=256, binarize="static").batch(a), a)
    assert abs(a.mean().item() - (x.float() / 255).mean().item()) < 0.01


def test_dynamic_binarisation():
    x = grey(n=4000)
    t = Transform(n_levels=256, binarize="dynamic")
    p = t.fixed(x, "train")
    torch.testing.assert_close(p, x.float() / 255)
    a, b = t.batch(p), t.batch(p)
    assert not torch.equal(a, b)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert abs(a.mean().item() - p.mean().item()) < 0.005
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(t.batch(p, g1), t.batch(p, g2))


def test_threshold():
    x = torch.tensor([[0, 127, 128, 255]], dtype=torch.uint8)
    assert Transform(n_levels=256, binarize="threshold").fixed(x, "test").tolist() == [[0, 0, 1, 1]]
    x = torch.tensor([[8, 9]], dtype=torch.uint8)
    assert Transform(n_levels=17, binarize="threshold").fixed(x, "test").tolist() == [[0, 1]]


def test_scales():
    x = torch.tensor([0, 1, 254, 255], dtype=torch.uint8)
    unit = Transform(n_levels=256, scale="unit").fixed(x, "train")
    torch.testing.assert_close(unit, torch.tensor([0, 1 / 255, 254 / 255, 1]))
    assert unit[0] == 0 and unit[-1] == 1
    sym = Transform(n_levels=256, scale="symmetric").fixed(x, "train")
    assert sym[0] == -1 and sym[-1] == 1
    torch.testing.assert_close(sym, unit * 2 - 1)
    assert Transform(n_levels=256, scale="levels").fixed(x, "train").tolist() == [0, 1, 254, 255]


def test_binary_data_passes_through():
    x = torch.tensor([0, 1, 1, 0], dtype=torch.uint8)
    for binarize in ("none", "threshold", "static", "dynamic"):
        t = Transform(n_levels=2, binarize=binarize)
        assert t.fixed(x, "train").tolist() == [0, 1, 1, 0]
        assert t.batch(t.fixed(x, "train")).tolist() == [0, 1, 1, 0]
    with pytest.raises(GenzooError, match="already binary"):
        Transform(n_levels=2, dequantize=True)


@pytest.mark.parametrize(("scale", "lo", "width"), [("unit", 0.0, 1.0), ("symmetric", -1.0, 2.0)])
def test_dequantize(scale, lo, width):
    torch.manual_seed(0)  # t.batch draws from the global RNG
    L = 256
    x = grey(n=2000)
    t = Transform(n_levels=L, scale=scale, dequantize=True)
    levels = t.fixed(x, "train")
    assert torch.equal(levels, x.float())
    y = t.batch(levels)
    assert y.min() >= lo and y.max() < lo + width
    assert t.dequant_scale == (L if scale == "unit" else L / 2)
    # y = (x + u) / dequant_scale + shift with u in [0, 1): x comes back up to the float32
    # rounding of the shift (exact for the unit scale, whose shift is 0)
    offset = (y - lo) * t.dequant_scale - x.float()
    rounding = 0 if lo == 0 else 1e-4  # the symmetric shift's float32 rounding, either way
    assert offset.min() >= -rounding and offset.max() < 1 + rounding
    assert not torch.equal(y, t.batch(levels))


def test_no_dequant_scale_without_dequantisation():
    assert Transform(n_levels=256).dequant_scale is None


def test_data_info():
    s = load("digits")
    shape = (1, 8, 8)
    assert Transform(n_levels=17).data_info(s) == DataInfo(shape, None)
    assert Transform(n_levels=17, scale="levels").data_info(s) == DataInfo(shape, 17)
    assert Transform(n_levels=17, binarize="static").data_info(s) == DataInfo(shape, 2)
    assert Transform(n_levels=17, dequantize=True).data_info(s) == DataInfo(shape, None)
    binary = Splits(
        "b", *(torch.zeros(2, 1, 2, 2, dtype=torch.uint8),) * 3, None, None, None, 2, ""
    )
    assert Transform(n_levels=2, scale="levels").data_info(binary) == DataInfo((1, 2, 2), 2)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"binarize": "static", "dequantize": True},
        {"scale": "levels", "dequantize": True},
        {"binarize": "static", "scale": "symmetric"},
        {"binarize": "sometimes"},
        {"scale": "wide"},
        {"n_levels": 1},
        {"n_levels": 2, "scale": "symmetric"},
    ],
)
def test_invalid_transforms(kwargs):
    with pytest.raises(GenzooError):
        Transform(**{"n_levels": 256, **kwargs})


def test_transform_round_trips_through_asdict():
    import dataclasses

    t = Transform(n_levels=17, binarize="dynamic", seed=3)
    expected = {
        "n_levels": 17,
        "binarize": "dynamic",
        "scale": "unit",
        "dequantize": False,
        "seed": 3,
    }
    assert dataclasses.asdict(t) == expected
    assert Transform(**dataclasses.asdict(t)) == t


def test_transform_is_for_one_level_count():
    with pytest.raises(GenzooError, match="17-level data, the data has 256"):
        Transform(n_levels=17).data_info(_splits_with_levels(256))


def _splits_with_levels(n_levels: int) -> Splits:
    x = torch.zeros(2, 1, 2, 2, dtype=torch.uint8)
    return Splits("s", x, x, x, None, None, None, n_levels, "")


# --- real data ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_root() -> Path:
    root = os.environ.get("GENZOO_DATA")
    needed = ["mnist", "binarized-mnist", "fashion-mnist", "cifar10"]
    if root and all((Path(root) / name).is_dir() for name in needed):
        return Path(root)
    reason = f"GENZOO_DATA={root!r} does not hold {', '.join(needed)}"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def assert_counts(s: Splits, counts: tuple[int, int, int], shape: tuple[int, ...]) -> None:
    assert (len(s.train), len(s.valid), len(s.test)) == counts
    assert s.train.shape[1:] == shape and s.train.dtype == torch.uint8


@pytest.mark.realdata
def test_real_mnist(real_root):
    s = load("mnist", real_root, download=False)
    assert_counts(s, (50000, 10000, 10000), (1, 28, 28))
    assert s.n_levels == 256 and s.train.max() == 255
    assert s.train_labels[:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first digits
    test_counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # shared README
    assert torch.bincount(s.test_labels).tolist() == test_counts
    assert [st.state for st in file_status("mnist", real_root)] == ["ok"] * 4


@pytest.mark.realdata
def test_real_binarized_mnist(real_root):
    s = load("binarized-mnist", real_root, download=False)
    assert_counts(s, (50000, 10000, 10000), (1, 28, 28))
    assert s.n_levels == 2 and s.train_labels is None
    assert set(s.test.unique().tolist()) == {0, 1}
    assert abs(s.test.float().mean().item() - 0.13251) < 1e-4  # shared README
    assert [st.state for st in file_status("binarized-mnist", real_root)] == ["ok"] * 3


@pytest.mark.realdata
def test_real_binarized_mnist_plain_amat(real_root, tmp_path):
    # The canonical download is uncompressed text, verified by its decoded values.
    for split in ("valid", "test"):
        src = real_root / "binarized-mnist" / f"binarized_mnist_{split}.amat.gz"
        write(tmp_path / "binarized-mnist" / src.name[:-3], gzip.decompress(src.read_bytes()))
    write(tmp_path / "binarized-mnist" / "binarized_mnist_train.amat", b"0 1\n")
    states = [(st.file, st.state) for st in file_status("binarized-mnist", tmp_path)]
    assert states == [
        ("binarized_mnist_train.amat", "bad"),
        ("binarized_mnist_valid.amat", "ok"),
        ("binarized_mnist_test.amat", "ok"),
    ]


@pytest.mark.realdata
def test_real_fashion_mnist(real_root):
    s = load("fashion-mnist", real_root, download=False)
    assert_counts(s, (50000, 10000, 10000), (1, 28, 28))
    assert torch.bincount(s.test_labels).tolist() == [1000] * 10
    assert [st.state for st in file_status("fashion-mnist", real_root)] == ["ok"] * 4


@pytest.mark.realdata
def test_real_cifar10(real_root, tmp_path, monkeypatch):
    s = load("cifar10", real_root, download=False)
    assert_counts(s, (45000, 5000, 10000), (3, 32, 32))
    assert torch.bincount(s.test_labels).tolist() == [1000] * 10
    assert torch.bincount(torch.cat([s.train_labels, s.valid_labels])).tolist() == [5000] * 10
    means = s.train.float().mean(dim=(0, 2, 3)) / 255
    torch.testing.assert_close(means, torch.tensor([0.4914, 0.4822, 0.4465]), atol=2e-3, rtol=0)
    assert [st.state for st in file_status("cifar10", real_root)] == ["ok"] * 2

    # Official-format batches (here rebuilt from the .npz in a scrambled order) give the
    # very same splits: the loader restores the (class, file name) order before splitting.
    x = {}
    with np.load(real_root / "cifar10" / "cifar10-train.npz") as z:
        x["train"] = (z["x"], z["y"], z["filenames"])
    with np.load(real_root / "cifar10" / "cifar10-test.npz") as z:
        x["test"] = (z["x"], z["y"], z["filenames"])
    batches = {}
    for name, (images, labels, names) in x.items():
        order = np.random.default_rng(0).permutation(len(images))
        images = images[order].transpose(0, 3, 1, 2).reshape(len(images), -1)
        chunks = range(1, 6) if name == "train" else [None]
        for i, part in zip(
            chunks, np.array_split(np.arange(len(images)), len(chunks)), strict=True
        ):
            batch = {
                "data": images[part],
                "labels": labels[order][part].tolist(),
                "filenames": names[order][part].tolist(),
            }
            batches[f"data_batch_{i}" if i else "test_batch"] = pickle.dumps(batch, protocol=2)
    out = tmp_path / "cifar10" / ds.CIFAR_DIR
    out.mkdir(parents=True)
    for name, blob in batches.items():
        (out / name).write_bytes(blob)
    use_cifar_batches_with(monkeypatch, batches)
    b = load("cifar10", tmp_path, download=False)
    for split in ("train", "valid", "test"):
        assert torch.equal(b.split(split), s.split(split))
    assert torch.equal(b.train_labels, s.train_labels)
    # only the test batch present: the test split alone loads, the same as before
    for name in list(batches):
        if name != "test_batch":
            (out / name).unlink()
    t = load("cifar10", tmp_path, download=False, splits=("test",))
    assert torch.equal(t.test, s.test) and torch.equal(t.test_labels, s.test_labels)
    assert len(t.train) == 0


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["mnist", "binarized-mnist", "fashion-mnist", "cifar10"])
def test_a_test_split_needs_only_its_own_files(real_root, tmp_path, name):
    # Scoring an OOD test split must not demand the (large) training files.
    full = load(name, real_root, download=False)
    for src in (real_root / name).iterdir():
        if "test" in src.name or "t10k" in src.name:
            (tmp_path / name).mkdir(exist_ok=True)
            (tmp_path / name / src.name).symlink_to(src.resolve())
    only = load(name, tmp_path, download=False, splits=("test",))
    assert torch.equal(only.test, full.test) and only.protocol == full.protocol
    assert (full.test_labels is None) == (only.test_labels is None)
    if full.test_labels is not None:
        assert torch.equal(only.test_labels, full.test_labels)
    assert len(only.train) == 0 and only.train.shape[1:] == full.train.shape[1:]
    with pytest.raises(DataError, match="not found") as err:
        load(name, tmp_path, download=False)  # the whole set still needs every file
    assert "test" not in str(err.value).split("not found")[0].replace(name, "")


def test_mnist32_is_mnist_padded_with_black(shared_data_root):
    from genzoo import data

    padded, plain = data.load("mnist32", shared_data_root), data.load("mnist", shared_data_root)
    for split in ("train", "valid", "test"):
        x = padded.split(split)
        assert x.shape[1:] == (1, 32, 32)
        assert torch.equal(x[:, :, 2:30, 2:30], plain.split(split))
        x[:, :, 2:30, 2:30] = 0
        assert x.sum() == 0  # the border is black
    assert torch.equal(padded.test_labels, plain.test_labels)
