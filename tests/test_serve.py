"""`genzoo serve`: the studio's pages over real runs (trained here in seconds on digits),
its safety rules over HTTP, and the pages in a real browser (headless Chromium).

The browser tests need the Debian packages `chromium` and `chromium-driver` (`make test`
installs them); without them they skip, except under CI=true, where they fail.
"""

import io
import os
import shutil
import socket
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.cli import main
from genzoo.data.splits import ImageStream, Splits
from genzoo.data.tasks import TASKS, Task, pad, sobel_edges

QUIET = ["--set", "tensorboard=false", "--set", "progress=false"]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def edges2digits(base: Splits) -> Splits:
    """8x8 digits padded to 16x16 and their edges: a paired task pix2pix trains on in seconds."""
    x = {s: pad(base.split(s), 4) for s in ("train", "valid", "test")}
    edges = [sobel_edges(x[s], threshold=16) // 255 * 16 for s in ("train", "valid", "test")]
    return Splits("edges2digits", *x.values(), base.train_labels, base.valid_labels,
                  base.test_labels, n_levels=17, protocol="digits edges",
                  images={"source": ImageStream(*edges)})  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A folder of three tiny runs: nade (a likelihood), cgan (labels), pix2pix (translates)."""
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(TASKS, "edges2digits", Task("edges2digits", "digits", edges2digits, ""))
        for model, data, extra in (("nade", "digits", []), ("cgan", "digits", []),
                                   ("pix2pix", "edges2digits", ["--set", "width=4"])):  # fmt: skip
            argv = ["train", model, "--data", data, "--run-dir", str(root / model),
                    "--set", "max_steps=24", *extra, *QUIET]  # fmt: skip
            assert main(argv) == 0
    return root


@pytest.fixture(scope="module")
def client(runs):
    from fastapi.testclient import TestClient

    from genzoo.serve.app import Settings, create_app

    with TestClient(create_app(Settings(runs)), raise_server_exceptions=False) as c:
        yield c


def png(size=(8, 8), mode="L", value=40) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, value).save(buffer, "PNG")
    return buffer.getvalue()


def digit_png(path: Path | None = None) -> bytes:
    """The first test digit as an 8x8 greyscale PNG in 0..255."""
    from genzoo import data

    x = data.load("digits").test[0, 0].numpy().astype(np.float64)
    buffer = io.BytesIO()
    Image.fromarray(np.round(x / 16 * 255).astype(np.uint8), "L").save(buffer, "PNG")
    if path is not None:
        path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def cli_sample(run: Path, out: Path, seed: int, label: int | None = None) -> np.ndarray:
    argv = ["sample", str(run), "-n", "16", "--seed", str(seed), "-o", str(out)]
    assert main(argv + ([] if label is None else ["--label", str(label)])) == 0
    return np.asarray(Image.open(out))


# ------------------------------------------------------------------ over HTTP


def test_the_runs_page_lists_every_run_with_its_status_and_headline(client):
    page = client.get("/").text
    for model in ("nade", "cgan", "pix2pix"):
        assert f'href="/run/{model}"' in page
    assert page.count("<td>finished</td>") == 3
    assert "nats" in page and "bits/dim" in page  # nade's validation NLL, with units


@pytest.mark.parametrize("path", ["/run/..%2F..%2Fetc%2Fpasswd", "/run/../../etc/passwd",
                                  "/run/%2Fetc%2Fpasswd/play", "/run/nosuchrun",
                                  "/run/nade/file/config.json", "/run/nade/file/..%2Fconfig.json",
                                  "/run/nade/translate", "/run/pix2pix/score"])  # fmt: skip
def test_paths_and_unknown_runs_and_pages_are_404(client, path):
    r = client.get(path)
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "Traceback" not in r.text and "root:" not in r.text


def test_the_sample_endpoint_gives_the_grid_genzoo_sample_draws(client, runs, tmp_path):
    for run, query, label in (("nade", "seed=5", None), ("cgan", "seed=5&label=3", 3)):
        r = client.get(f"/run/{run}/sample.png?n=16&{query}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        served = np.asarray(Image.open(io.BytesIO(r.content)))
        assert np.array_equal(served, cli_sample(runs / run, tmp_path / f"{run}.png", 5, label))
    assert client.get("/run/cgan/sample.png?seed=x").status_code == 422
    assert client.get("/run/cgan/sample.png?n=1000").status_code == 422
    assert client.get("/run/cgan/sample.png?label=99").status_code == 422


def test_score_an_upload_and_refuse_what_is_not_an_image(client):
    r = client.post("/run/nade/score", files={"image": ("digit.png", digit_png(), "image/png")})
    assert r.status_code == 200 and 'id="score"' in r.text and "bits/dim" in r.text
    assert 'id="verdict"' in r.text and 'id="histogram"' in r.text
    assert 'id="model-view"' in r.text and "completions of its bottom half" in r.text
    cases = [(("notes.txt", b"hello, not an image", "text/plain"), 422, "not an image"),
             (("wide.png", png((9, 8)), "image/png"), 422, "is 9x8"),
             (("cut.png", png()[:30], "image/png"), 422, "not an image")]  # fmt: skip
    for file, status, message in cases:
        r = client.post("/run/nade/score", files={"image": file})
        assert r.status_code == status and message in r.text and "Traceback" not in r.text
    r = client.post("/run/nade/score", files={"image": ("huge.png", b"0" * (6 * 2**20))})
    assert r.status_code == 413 and "5 MB" in r.text
    r = client.post("/run/nade/score", data={"other": "field"})
    assert r.status_code == 422 and "choose an image" in r.text


def test_translate_an_upload_only_for_a_translation_model(client):
    r = client.post(
        "/run/pix2pix/translate",
        files={"image": ("edges.png", png((16, 16), value=255), "image/png")},
    )
    assert r.status_code == 200 and 'id="translation"' in r.text
    r = client.post("/run/pix2pix/translate", files={"image": ("small.png", png(), "image/png")})
    assert r.status_code == 422 and "is 8x8" in r.text


def test_the_runs_table_sorts_numbers_as_numbers(client):
    page = client.get("/").text
    assert 'class="sortable"' in page and "data-key" in page and "parseFloat" in page
    assert page.count('class="pick" name="run"') == 3 and 'id="compare-button"' in page
    assert 'data-value="24"' in page  # steps, sorted by their value


def test_compare_selected_runs_builds_the_report_in_the_studios_folder(runs, tmp_path):
    from fastapi.testclient import TestClient

    from genzoo.serve.app import Settings, create_app

    app = create_app(Settings(runs, compare_dir=tmp_path / "reports"))
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/compare", data={"run": ["nade", "cgan"]}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/compare/")
        job = r.headers["location"]
        assert "running" in c.get(job).text or "done" in c.get(job).text
        app.state.comparisons.get(job.rsplit("/", 1)[1]).future.result(timeout=600)
        page = c.get(job).text
        assert 'id="report"' in page, page
        report = c.get(job + "/report.html")
        assert report.status_code == 200 and "nade" in report.text and "cgan" in report.text
        assert list((tmp_path / "reports").glob("*/report.html"))  # only under its folder
        assert not (runs / "report.html").exists()
        assert c.post("/compare", data={"run": ["../../etc"]}).status_code == 404
        assert c.post("/compare", data={}).status_code == 422
        assert c.get("/compare/nosuchjob").status_code == 404


def test_progress_follows_metrics_jsonl_and_404s_for_unknown_runs(runs, tmp_path):
    from fastapi.testclient import TestClient

    from genzoo.serve.app import Settings, create_app

    live = tmp_path / "live"
    live.mkdir()
    for name in ("config.json", "metrics.jsonl"):
        shutil.copyfile(runs / "nade" / name, live / name)
    with TestClient(create_app(Settings(tmp_path)), raise_server_exceptions=False) as c:
        before = c.get("/run/live/progress.json").json()
        assert before["status"] == "training now" and before["step"] == 24
        with open(live / "metrics.jsonl", "a") as f:
            f.write('{"step": 31, "epoch": 0, "split": "train", "loss": 1.5}\n')
        now = c.get("/run/live/progress.json").json()
        assert now["step"] == 31 and now["entries"][-1]["loss"] == 1.5
        assert now["curves"]["loss"][-1] == [31, 1.5] and 'id="curves"' in now["curves_svg"]
        assert c.get("/run/nosuchrun/progress.json").status_code == 404
        assert c.get("/run/..%2Fnade/progress.json").status_code == 404


def test_interpolate_between_two_seeds_of_a_model_that_samples_from_noise(client, tmp_path):
    from fastapi.testclient import TestClient

    from genzoo.apps.sampling import draw_samples, interpolate_seeds
    from genzoo.serve.app import Settings, create_app
    from genzoo.train.run import load_run

    argv = ["train", "gan", "--data", "digits", "--run-dir", str(tmp_path / "gan"),
            "--set", "max_steps=8", *QUIET]  # fmt: skip
    assert main(argv) == 0
    run = load_run(tmp_path / "gan")
    line = interpolate_seeds(run, 3, 5, steps=6)
    assert line.shape == (6, 1, 8, 8)  # the ends: the first image of each seed's grid
    assert torch.equal(line[0], draw_samples(run, 16, 3)[0])
    assert torch.equal(line[-1], draw_samples(run, 16, 5)[0])
    with TestClient(create_app(Settings(tmp_path)), raise_server_exceptions=False) as c:
        assert 'id="interpolation"' in c.get("/run/gan/play").text
        r = c.get("/run/gan/interpolate.png?a=3&b=5&steps=6")
        assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size[0] > 6 * 8
        assert c.get("/run/gan/interpolate.png?steps=1").status_code == 422
    assert 'id="interpolation"' not in client.get("/run/cgan/play").text  # needs a label too
    r = client.get("/run/nade/interpolate.png")
    assert r.status_code == 422 and "no noise to interpolate" in r.text


def test_the_model_cache_keeps_at_most_its_size(runs):
    from genzoo.apps.studio import ModelCache

    cache = ModelCache(2)
    first = cache.get(runs / "nade")
    cache.get(runs / "cgan")
    cache.get(runs / "pix2pix")
    assert len(cache) == 2 and cache.get(runs / "nade") is not first  # dropped, then reloaded


def test_serve_refuses_a_missing_runs_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["serve"]) == 2
    assert "give --runs DIR" in capsys.readouterr().err
    assert main(["serve", "--runs", str(tmp_path / "none")]) == 2


# ------------------------------------------------------------------ in a browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(settings):
    """The studio on a free local port, served by uvicorn in a thread of this process."""
    import uvicorn

    from genzoo.serve.app import create_app

    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                            log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def server(runs):
    from genzoo.serve.app import Settings

    with serving(Settings(runs)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    missing = [
        f"{p} (Debian package {pkg})"
        for p, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver"))
        if not p.exists()
    ]
    if missing:
        message = f"missing {', '.join(missing)}: `apt-get install chromium chromium-driver`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1100,900"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def shot(driver, tmp_path: Path, name: str) -> None:
    """A screenshot into the test's folder (and into $GENZOO_SCREENSHOTS when set: how the
    README's pictures in docs/images/ are made)."""
    path = tmp_path / f"{name}.png"
    assert driver.save_screenshot(str(path))
    if os.environ.get("GENZOO_SCREENSHOTS"):
        shutil.copyfile(path, Path(os.environ["GENZOO_SCREENSHOTS"]) / f"studio-{name}.png")


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting in the browser ({condition.__doc__ or condition})")


def shown_image(driver) -> tuple[str, np.ndarray]:
    """The play page's sample grid once loaded: its URL and its decoded pixels."""
    img = driver.find_element("id", "samples")
    wait_for(lambda: img.get_attribute("src") and driver.execute_script(
        "const i = arguments[0]; return i.complete && i.naturalWidth > 0", img))  # fmt: skip
    src = img.get_attribute("src")
    with urllib.request.urlopen(src) as r:  # the same URL, from the same server
        return src, np.asarray(Image.open(io.BytesIO(r.read())))


def test_browse_runs_and_open_a_run(browser, server, tmp_path):
    browser.get(server + "/")
    assert len(browser.find_elements("css selector", "a.run")) == 3
    shot(browser, tmp_path, "runs")
    browser.find_element("link text", "nade").click()
    wait_for(lambda: browser.find_elements("id", "curves"))
    assert "nade (autoregressive) on digits" in browser.find_element("id", "summary").text
    assert browser.find_element("id", "tab-play") and browser.find_element("id", "tab-score")
    assert not browser.find_elements("id", "tab-translate")  # nade does not translate
    shot(browser, tmp_path, "run")


def test_sort_the_runs_and_compare_two_in_the_browser(browser, server):
    browser.get(server + "/")

    def order():
        return [a.text for a in browser.find_elements("css selector", "a.run")]

    before = order()
    browser.find_element("css selector", 'th[data-key="1"]').click()  # run, A to Z
    assert order() == sorted(before)
    browser.find_element("css selector", 'th[data-key="1"]').click()
    assert order() == sorted(before, reverse=True)
    assert not browser.find_element("id", "compare-button").is_enabled()  # nothing ticked
    for run in ("nade", "cgan"):
        browser.find_element("css selector", f'input.pick[value="{run}"]').click()
    browser.find_element("id", "compare-button").click()
    wait_for(lambda: browser.find_elements("id", "compare-state"))
    link = wait_for(lambda: browser.find_elements("id", "report"), timeout=300)[0]
    assert link.get_attribute("href").endswith("/report.html")


def test_play_seed_and_label_controls_match_genzoo_sample(browser, server, runs, tmp_path):
    from selenium.webdriver.support.ui import Select

    browser.get(server + "/run/cgan/play")
    first_src, first = shown_image(browser)
    # the label control starts at 0
    assert np.array_equal(first, cli_sample(runs / "cgan", tmp_path / "s0.png", 0, 0))
    seed = browser.find_element("id", "seed")
    seed.clear()
    seed.send_keys("7")
    Select(browser.find_element("id", "label")).select_by_visible_text("4")
    wait_for(
        lambda: (
            "label=4" in browser.find_element("id", "samples").get_attribute("src")
            and "seed=7" in browser.find_element("id", "samples").get_attribute("src")
        )
    )
    src, pixels = shown_image(browser)
    assert src != first_src and not np.array_equal(pixels, first)
    assert np.array_equal(pixels, cli_sample(runs / "cgan", tmp_path / "s7.png", 7, 4))
    shot(browser, tmp_path, "play")


def test_score_uploads_in_the_browser(browser, server, tmp_path):
    browser.get(server + "/run/nade/score")
    digit_png(tmp_path / "digit.png")
    browser.find_element("id", "image").send_keys(str(tmp_path / "digit.png"))
    browser.find_element("id", "submit").click()
    score = wait_for(lambda: browser.find_elements("id", "score"))[0].text
    assert "nats" in score and "bits/dim" in score
    assert "verdict" in browser.find_element("id", "verdict").text
    shot(browser, tmp_path, "score")
    (tmp_path / "notes.txt").write_text("not an image")
    browser.find_element("id", "image").send_keys(str(tmp_path / "notes.txt"))
    browser.find_element("id", "submit").click()
    error = wait_for(lambda: browser.find_elements("id", "error"))[0].text
    assert "notes.txt is not an image PIL can read" in error


def test_a_training_runs_page_follows_its_log_in_the_browser(browser, runs, tmp_path):
    """The run page of a run that is training polls its progress and redraws the step and
    the latest metrics when metrics.jsonl grows, without a reload."""
    from genzoo.serve.app import Settings

    live = tmp_path / "runs" / "live"
    live.mkdir(parents=True)
    for name in ("config.json", "metrics.jsonl", "model.safetensors"):  # no final checkpoint
        shutil.copyfile(runs / "nade" / name, live / name)
    with serving(Settings(tmp_path / "runs", poll_ms=100)) as url:
        browser.get(url + "/run/live")
        step = browser.find_element("id", "step")
        assert browser.find_element("id", "status").text == "training now"
        wait_for(lambda: "training: updated" in browser.find_element("id", "live").text)
        assert step.text == "24"
        with open(live / "metrics.jsonl", "a") as f:
            f.write('{"step": 31, "epoch": 0, "split": "train", "loss": 1.5}\n')
        wait_for(lambda: browser.find_element("id", "step").text == "31")
        assert '"loss":1.5' in browser.find_element("id", "latest").get_attribute("textContent")
        shot(browser, tmp_path, "live")


def test_translate_uploads_in_the_browser(browser, server, tmp_path):
    browser.get(server + "/run/pix2pix/translate")
    (tmp_path / "edges.png").write_bytes(png((16, 16), value=255))
    browser.find_element("id", "image").send_keys(str(tmp_path / "edges.png"))
    browser.find_element("id", "submit").click()
    wait_for(lambda: browser.find_elements("id", "translation"))
    shot(browser, tmp_path, "translate")


def test_the_score_page_shows_what_the_model_makes_of_the_upload(tmp_path):
    # an encoder's reconstruction; an autoregressive model's completions keep the top half
    from genzoo.apps import studio
    from genzoo.train.run import load_run

    x = None
    for model in ("vae", "nade"):
        argv = ["train", model, "--run-dir", str(tmp_path / model), "--set", "max_steps=5", *QUIET]
        assert main(argv) == 0
        run = load_run(tmp_path / model)
        x = run.transform.fixed(torch.randint(0, 17, (1, 1, 8, 8), dtype=torch.uint8), "test")
        picture, caption = studio.what_the_model_sees(run, x)
        assert picture.shape[1:] == (1, 8, 8) and picture.min() >= 0 and picture.max() <= 1
        if model == "vae":
            assert len(picture) == 2 and "reconstruction" in caption
        else:
            assert len(picture) == 1 + studio.COMPLETIONS and "completions" in caption
            top = picture[:, :, :4]  # every completion keeps the upload's top half
            assert torch.equal(top, top[:1].expand_as(top))


def test_a_2d_latent_space_can_be_clicked_and_decodes_there(tmp_path):
    from fastapi.testclient import TestClient

    from genzoo.apps.sampling import decode_point
    from genzoo.io.images import grid_image
    from genzoo.serve.app import Settings, create_app
    from genzoo.train.run import load_run

    argv = ["train", "vae", "--run-dir", str(tmp_path / "runs" / "vae2"), "--set",
            "latent_dim=2", "--set", "max_steps=5", *QUIET]  # fmt: skip
    assert main(argv) == 0
    with TestClient(create_app(Settings(tmp_path / "runs")), raise_server_exceptions=False) as c:
        assert 'id="latent-map"' in c.get("/run/vae2/play").text
        r = c.get("/run/vae2/decode.png?z=0.5,-1")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        served = np.asarray(Image.open(io.BytesIO(r.content)))
        expected = decode_point(load_run(tmp_path / "runs" / "vae2"), [0.5, -1.0])
        assert np.array_equal(served, np.asarray(grid_image(expected, nrow=1)))
        for bad, message in (("1", "noise has 2"), ("a,b", "expected numbers"),
                             ("nan,1", "finite")):  # fmt: skip
            r = c.get(f"/run/vae2/decode.png?z={bad}")
            assert r.status_code == 422 and message in r.text, bad


def test_no_latent_map_where_the_noise_is_not_2d(client):
    assert 'id="latent-map"' not in client.get("/run/cgan/play").text


@pytest.mark.parametrize("name", ["cyclegan", "stargan"])
def test_the_translate_page_offers_what_the_model_declares(name):
    # a direction for a model of two, a 0/1 per attribute for a model of attribute domains;
    # the upload is then translated as `genzoo translate --direction / --to` would
    from types import SimpleNamespace

    from test_contract import tiny

    from genzoo.apps import studio
    from genzoo.core.errors import GenzooError
    from genzoo.data import Transform
    from genzoo.serve import pages

    model = tiny(name).eval()
    fields = pages.translate_fields(model)
    run = SimpleNamespace(model=model, model_name=name,
                          transform=Transform(n_levels=256, scale="symmetric"))  # fmt: skip
    side = model.data.shape[-1]
    upload = studio.Upload(png((side, side)), "in.png")
    if name == "cyclegan":
        assert 'name="direction"' in fields and "b2a" in fields
        for direction in ("a2b", "b2a"):
            rows = studio.translate_upload(run, upload, direction=direction)
            assert rows.shape == (2, *model.data.shape)
        with pytest.raises(GenzooError):
            studio.translate_upload(run, upload, direction="sideways")
    else:
        names = model.attribute_names
        assert all(f'name="to_{n}"' in fields for n in names)
        rows = studio.translate_upload(run, upload, targets=[f"{n}=1" for n in names])
        assert rows.shape == (2, *model.data.shape)
        assert len(names) > 1
        with pytest.raises(GenzooError, match="every attribute"):
            studio.translate_upload(run, upload, targets=[f"{names[0]}=1"])


def test_play_offers_style_mixing_w_interpolation_and_sizes_by_capability(tmp_path):
    """A stylegan run's Play page has the mixing controls and W interpolation, and serves
    what `genzoo sample --mix-from` and `--interpolate --space w` draw; a singan run's has a
    size box; a model with neither has none of them."""
    from fastapi.testclient import TestClient

    from genzoo.apps.sampling import draw_samples, interpolate_seeds, mix_styles
    from genzoo.io.images import grid_image
    from genzoo.serve.app import Settings, create_app
    from genzoo.train.run import load_run

    runs = tmp_path / "runs"
    tiny = ["latent_dim=4", "w_dim=4", "n_mapping=2", "max_channels=8", "channel_base=32",
            "images_per_phase=64", "max_steps=4", "batch_size=16"]  # fmt: skip
    for argv in (["stylegan", "--data", "digits", *(a for s in tiny for a in ("--set", s))],
                 ["singan", "--data", "image:flower@40", "--set", "width=4", "--set",
                  "steps_per_scale=2", "--set", "max_steps=4"],
                 ["dcgan", "--data", "digits", "--set", "max_steps=2"]):  # fmt: skip
        assert main(["train", *argv, "--run-dir", str(runs / argv[0]), *QUIET]) == 0

    def served(c, url) -> np.ndarray:
        r = c.get(url)
        assert r.status_code == 200, r.text
        return np.asarray(Image.open(io.BytesIO(r.content)))

    with TestClient(create_app(Settings(runs)), raise_server_exceptions=False) as c:
        play = c.get("/run/stylegan/play").text
        assert 'id="mix_from"' in play and "<option>coarse</option>" in play
        assert 'id="space"' in play and 'id="size"' not in play
        style = load_run(runs / "stylegan")
        got = served(c, "/run/stylegan/sample.png?seed=2&n=4&mix_from=5&mix_layers=fine")
        assert np.array_equal(got, np.asarray(grid_image(mix_styles(style, 4, 2, 5, "fine"))))
        got = served(c, "/run/stylegan/interpolate.png?a=1&b=3&steps=4&space=w")
        line = interpolate_seeds(style, 1, 3, 4, 16, space="w")
        assert np.array_equal(got, np.asarray(grid_image(line, nrow=4)))
        r = c.get("/run/stylegan/sample.png?n=4&mix_from=5&mix_layers=middle")
        assert r.status_code == 422 and "layers &#x27;middle&#x27;: give" in r.text  # 8x8
        assert c.get("/run/stylegan/sample.png?mix_from=x").status_code == 422

        assert 'id="size"' in c.get("/run/singan/play").text
        got = served(c, "/run/singan/sample.png?seed=1&n=2&size=20x60")
        expected = draw_samples(load_run(runs / "singan"), 2, 1, size=(20, 60))
        assert np.array_equal(got, np.asarray(grid_image(expected)))
        assert c.get("/run/singan/sample.png?n=2&size=big").status_code == 422

        plain = c.get("/run/dcgan/play").text
        assert not any(f'id="{k}"' in plain for k in ("mix_from", "space", "size"))
        r = c.get("/run/dcgan/interpolate.png?space=w")
        assert r.status_code == 422 and "no per-layer styles" in r.text
