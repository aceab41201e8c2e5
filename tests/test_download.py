"""Downloads against a local HTTP server: verified files land in place, corrupt or failed
downloads leave nothing behind, and an unreachable server gives a one-line DataError."""

import hashlib
import io
import os
import pickle
import shutil
import socket
import tarfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from conftest import use_cifar_batches_with

from genzoo.core.errors import DataError
from genzoo.data import catalog as ds
from genzoo.data import fetch, file_status, load

BINARIZED = [f"binarized_mnist_{s}.amat.gz" for s in ("train", "valid", "test")]
MNIST = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """(base_url, served directory): serves tmp_path/"served" as <dataset>/<file>."""
    served = tmp_path / "served"
    served.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=served))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv("GENZOO_DATA_URL", raising=False)


@pytest.fixture(scope="module")
def shared() -> Path:
    root = os.environ.get("GENZOO_DATA")
    needed = [("binarized-mnist", f) for f in BINARIZED] + [("mnist", f) for f in MNIST]
    if root and all((Path(root) / d / f).is_file() for d, f in needed):
        return Path(root)
    reason = f"GENZOO_DATA={root!r} does not hold the binarized-mnist and mnist files"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def serve(shared: Path, served: Path, dataset: str, names: list[str]) -> None:
    (served / dataset).mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(shared / dataset / name, served / dataset / name)


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


@pytest.mark.realdata
def test_fetch_binarized_mnist(shared, server, tmp_path, capsys):
    base_url, served = server
    serve(shared, served, "binarized-mnist", BINARIZED)
    root = tmp_path / "root"
    paths = fetch("binarized-mnist", root, base_url=base_url)
    assert paths == [root / "binarized-mnist" / f for f in BINARIZED]
    assert listing(root / "binarized-mnist") == sorted(BINARIZED)  # no temporary files left
    assert [st.state for st in file_status("binarized-mnist", root)] == ["ok"] * 3
    assert capsys.readouterr().out == ""  # the progress bar goes to stderr
    assert fetch("binarized-mnist", root, base_url=f"http://127.0.0.1:{closed_port()}") == paths
    assert len(load("binarized-mnist", root, download=False).valid) == 10000


@pytest.mark.realdata
def test_load_downloads_mnist(shared, server, tmp_path, monkeypatch):
    base_url, served = server
    serve(shared, served, "mnist", MNIST)
    monkeypatch.setenv("GENZOO_DATA_URL", base_url)  # the environment names the mirror too
    s = load("mnist", tmp_path / "root")
    assert (len(s.train), len(s.valid), len(s.test)) == (50000, 10000, 10000)
    assert listing(tmp_path / "root" / "mnist") == sorted(MNIST)


@pytest.mark.realdata
def test_corrupt_download_leaves_nothing(shared, server, tmp_path):
    base_url, served = server
    serve(shared, served, "binarized-mnist", BINARIZED)
    served_test = served / "binarized-mnist" / BINARIZED[2]
    data = bytearray(served_test.read_bytes())
    data[1000:1010] = bytes(b ^ 0xFF for b in data[1000:1010])
    served_test.write_bytes(bytes(data))
    root = tmp_path / "root"
    with pytest.raises(DataError, match="md5 mismatch") as err:
        fetch("binarized-mnist", root, base_url=base_url)
    msg = str(err.value)
    assert "\n" not in msg and BINARIZED[2] in msg
    assert listing(root / "binarized-mnist") == sorted(BINARIZED[:2])  # the good ones only
    states = [st.state for st in file_status("binarized-mnist", root)]
    assert states == ["ok", "ok", "missing"]


def test_offline_is_one_line(tmp_path):
    root = tmp_path / "root"
    base_url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(DataError) as err:
        load("mnist", root, base_url=base_url)
    msg = str(err.value)
    assert "\n" not in msg
    assert "train-images-idx3-ubyte.gz" in msg and str(root / "mnist") in msg
    assert "download failed" in msg and "genzoo data fetch mnist" in msg
    assert listing(root / "mnist") == []


def test_http_404(server, tmp_path):
    base_url, _ = server
    with pytest.raises(DataError, match="HTTP 404") as err:
        fetch("kmnist", tmp_path / "root", base_url=base_url)
    assert "\n" not in str(err.value)
    assert listing(tmp_path / "root" / "kmnist") == []


def test_bad_file_is_replaced_by_fetch(server, tmp_path, monkeypatch):
    base_url, served = server
    labels = np.arange(10, dtype=np.uint8)
    good = (0x801).to_bytes(4, "big") + (10).to_bytes(4, "big") + labels.tobytes()
    (served / "tiny").mkdir()
    (served / "tiny" / "labels").write_bytes(good)
    spec = ds.DatasetSpec(
        "tiny",
        (
            ds.Format(
                "IDX",
                (ds.FileSpec("labels", "test_labels", hashlib.md5(good).hexdigest()),),
                ds._read_idx,
            ),
        ),
        lambda arrays: arrays,
    )
    monkeypatch.setitem(ds.DATASETS, "tiny", spec)
    root = tmp_path / "root"
    (root / "tiny").mkdir(parents=True)
    (root / "tiny" / "labels").write_bytes(good[:-3])
    assert [st.state for st in file_status("tiny", root)] == ["bad"]
    fetch("tiny", root, base_url=base_url)
    assert (root / "tiny" / "labels").read_bytes() == good
    assert listing(root / "tiny") == ["labels"]


def cifar_archive(members: dict[str, bytes], extra: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in {**members, **extra}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_cifar_archive_download(server, tmp_path, monkeypatch):
    """The official archive path: md5 of the archive, then each extracted batch verified,
    only the listed members written, the archive itself not kept."""
    base_url, served = server
    rng = np.random.default_rng(0)
    batches = {
        name: pickle.dumps(
            {
                "data": rng.integers(0, 256, (3, 3072), dtype=np.uint8),
                "labels": [0, 1, 2],
                "filenames": ["a.png", "b.png", "c.png"],
            },
            protocol=2,
        )
        for name in ds.CIFAR_BATCH_MD5
    }
    members = {f"{ds.CIFAR_DIR}/{name}": blob for name, blob in batches.items()}
    archive = cifar_archive(members, {"../../escaped": b"x", f"{ds.CIFAR_DIR}/readme": b"hi"})
    (served / "cifar10").mkdir()
    (served / "cifar10" / "cifar-10-python.tar.gz").write_bytes(archive)
    # only this format, since a base_url would otherwise serve the preferred .npz one
    use_cifar_batches_with(monkeypatch, batches, archive)
    root = tmp_path / "root"
    fetch("cifar10", root, base_url=base_url)
    assert listing(root / "cifar10") == [ds.CIFAR_DIR]
    assert listing(root / "cifar10" / ds.CIFAR_DIR) == sorted(batches)
    assert not (tmp_path / "escaped").exists() and not (root / "escaped").exists()
    assert [st.state for st in file_status("cifar10", root)] == ["ok"] * 6

    # a corrupt archive: nothing extracted, nothing left
    (served / "cifar10" / "cifar-10-python.tar.gz").write_bytes(archive[:-100])
    shutil.rmtree(root)
    with pytest.raises(DataError, match="md5 mismatch") as err:
        fetch("cifar10", root, base_url=base_url)
    assert "\n" not in str(err.value)
    assert listing(root / "cifar10") == []
