"""The README's studio pictures (docs/images/studio-{runs,run,play,score}.png) from the
`genzoo demo` runs: headless Chromium at 1200x900, quantised to 128 colours.

    cd /tmp/studio-demo && genzoo demo   # writes demo/runs/{pixelcnn,vae,dcgan}
    python docs/studio_screenshots.py    # from the repository root
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
        "/tmp/studio-demo/demo/runs",
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


try:
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
