"""The README's studio pictures, taken in headless Chromium at 1200x900 and quantised to
128 colours. From the `genzoo demo` runs, docs/images/studio-{runs,run,play,score}.png:

    cd /tmp/studio-demo && genzoo demo   # writes demo/runs/{pixelcnn,vae,dcgan}
    python docs/studio_screenshots.py    # from the repository root

and with `--trained`, docs/images/studio-{assemble,match}.png from this repository's
runs/ folder: the Puzzle-GAN run resumed to 4,200 CPU s (runs/puzzle-gan/masks-3600) on a
Fashion-MNIST test image, and the mnist32 contrastive model (runs/joint32) on an MNIST
test digit, both padded to 32x32 (docs/results.md has the commands that trained them).
"""

# ruff: noqa: E401, E402, E701, E702, E501
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

TRAINED = "--trained" in sys.argv
RUNS = str(Path(__file__).parents[1] / "runs") if TRAINED else "/tmp/studio-demo/demo/runs"
OUT = Path(__file__).parent / "images"
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[1] / "src"))
server = subprocess.Popen(
    [
        sys.executable,
        "-m",
        "genzoo.cli",
        "serve",
        "--runs",
        RUNS,
        "--port",
        str(port),
        "--threads",
        "1",
    ],
    env=env,
)
url = f"http://127.0.0.1:{port}"
for _ in range(200):
    try:
        urllib.request.urlopen(url)
        break
    except Exception:
        time.sleep(0.2)
o = webdriver.ChromeOptions()
o.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900"):
    o.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


def wait(cond, t=60):
    end = time.time() + t
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise SystemExit("timeout")


def shot(name):
    path = OUT / f"studio-{name}.png"
    d.save_screenshot(str(path))
    Image.open(path).convert("RGB").quantize(128).save(path, optimize=True)
    print(name, path.stat().st_size)


def loaded(i):
    return d.execute_script("const i = arguments[0]; return i.complete && i.naturalWidth > 0", i)


def upload(page: str, image: Path, result: str) -> None:
    d.get(url + page)
    d.find_element("id", "image").send_keys(str(image))
    d.find_element("id", "submit").click()
    wait(lambda: d.find_elements("id", result), 300)


def padded_test_image(name: str, i: int) -> Path:
    """Test image i of a dataset, padded to 32x32 as the tasks pad it, as a PNG."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "src"))
    from genzoo import data

    x = data.load(name, splits=("test",)).test[i, 0].numpy()
    path = Path(f"/tmp/{name}-{i}.png")
    Image.fromarray(np.pad(x, 2).astype(np.uint8), "L").save(path)
    return path


def trained_pages() -> None:
    upload("/run/puzzle-gan~masks-3600/assemble", padded_test_image("fashion-mnist", 0),
           "assembled")  # fmt: skip
    shot("assemble")
    upload("/run/joint32/match", padded_test_image("mnist", 0), "match")
    shot("match")


try:
    if TRAINED:
        trained_pages()
        raise SystemExit(0)
    d.get(url + "/")
    shot("runs")
    d.get(url + "/run/dcgan")
    wait(lambda: d.find_elements("id", "curves"))
    imgs = d.find_elements("css selector", "img.grid")
    wait(lambda: all(loaded(i) for i in imgs))
    shot("run")
    d.get(url + "/run/dcgan/play")
    seed = d.find_element("id", "seed")
    seed.clear()
    seed.send_keys("7")
    b = d.find_element("id", "seed_b")
    b.clear()
    b.send_keys("3")
    wait(lambda: "seed=7" in d.find_element("id", "samples").get_attribute("src"))
    wait(
        lambda: (
            "b=3" in d.find_element("id", "interpolation").get_attribute("src")
            and "a=7" in d.find_element("id", "interpolation").get_attribute("src")
        )
    )
    wait(
        lambda: (
            loaded(d.find_element("id", "samples"))
            and loaded(d.find_element("id", "interpolation"))
        )
    )
    d.execute_script("document.activeElement.blur(); window.scrollTo(0, 140)")
    time.sleep(0.5)
    shot("play")
    sys.path.insert(0, str(Path(__file__).parents[1] / "src"))
    from genzoo import data

    x = data.load("digits").test[0, 0].numpy().astype(np.float64)
    Image.fromarray(np.round(x / 16 * 255).astype(np.uint8), "L").save("/tmp/digit.png")
    d.get(url + "/run/pixelcnn/score")
    d.find_element("id", "image").send_keys("/tmp/digit.png")
    d.find_element("id", "submit").click()
    wait(lambda: d.find_elements("id", "score"), 300)
    shot("score")
finally:
    d.quit()
    server.terminate()
    server.wait(10)
