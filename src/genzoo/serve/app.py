"""`genzoo serve`: a local web studio over the runs in a folder (FastAPI, server-rendered).

A thin layer over genzoo.apps: the runs come from `genzoo.apps.studio`, samples from
`genzoo.apps.sampling.draw_samples` (what `genzoo sample` calls), scores from
`genzoo.apps.anomaly`. Every model call runs in one worker thread behind a bounded queue,
so pages that need no model answer while a model samples, and a full queue or a slow
model gets a message rather than a hung page.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from genzoo.apps import studio
from genzoo.core.errors import GenzooError
from genzoo.serve import pages

MAX_SAMPLES = 64  # images in one sample grid
UPLOAD_OVERHEAD = 64 * 2**10  # multipart headers around the uploaded file


class Busy(Exception):
    """The worker's queue is full."""


@dataclass
class Settings:
    runs: Path
    cache_size: int = 4
    queue_size: int = 16
    timeout: float = 60.0
    data_root: str | None = None
    compare_dir: Path | None = None  # where comparison reports go (default: a temp folder)
    poll_ms: int = 3000  # how often a training run's page asks for its progress


class Worker:
    """One thread for every model call (torch's global RNG, which `genzoo sample --seed`
    seeds, is then never shared), and at most `queue_size` calls waiting or running."""

    def __init__(self, queue_size: int):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genzoo-model")
        self._slots = threading.BoundedSemaphore(queue_size)

    async def run(self, timeout: float, fn, *args):
        return await asyncio.wait_for(asyncio.wrap_future(self.submit(fn, *args)), timeout)

    def submit(self, fn, *args):
        """Queue `fn` without waiting for it (a long job, such as a comparison report): its
        Future; it holds a slot of the queue until it ends."""
        if not self._slots.acquire(blocking=False):
            raise Busy
        try:
            future = self._pool.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def create_app(settings: Settings) -> FastAPI:
    cache = studio.ModelCache(settings.cache_size)
    test_scores = studio.TestScores(settings.data_root)
    worker = Worker(settings.queue_size)
    comparisons = studio.Comparisons(settings.compare_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        worker.shutdown()
        if settings.compare_dir is None:  # the temporary folder made for this server
            shutil.rmtree(comparisons.folder, ignore_errors=True)

    app = FastAPI(title="genzoo studio", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)  # fmt: skip
    app.state.worker, app.state.cache, app.state.comparisons = worker, cache, comparisons

    def run_dir(run_id: str) -> Path:
        """The run of an id from the listing; anything else (a path, `..`) is a 404."""
        found = studio.find_runs(settings.runs)
        if run_id not in found:
            raise HTTPException(404, f"no run {run_id!r} under {settings.runs}")
        return found[run_id]

    async def on_worker(fn, *args):
        try:
            return await worker.run(settings.timeout, fn, *args)
        except Busy:
            raise HTTPException(
                503,
                f"the model worker is busy: {settings.queue_size} requests are queued; try again",
            ) from None
        except TimeoutError:
            raise HTTPException(
                504,
                f"the model took longer than {settings.timeout:g} s; "
                "it finishes in the background: try again later",
            ) from None

    async def model_page(run_id: str):
        path = run_dir(run_id)
        run = await on_worker(cache.get, path)
        return studio.describe_run(run_id, path), run

    @app.middleware("http")
    async def limit_uploads(request: Request, call_next):
        if request.method == "POST":
            length = request.headers.get("content-length")
            if length is None:
                return html(pages.error_page("uploads must say their size (Content-Length)",
                                             411), 411)  # fmt: skip
            if not length.isdigit() or int(length) > studio.MAX_UPLOAD + UPLOAD_OVERHEAD:
                mb = studio.MAX_UPLOAD // 2**20
                return html(pages.error_page(f"the upload is larger than {mb} MB: "
                                             "upload a smaller image", 413), 413)  # fmt: skip
        return await call_next(request)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException):
        return html(pages.error_page(str(e.detail), e.status_code), e.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, e: RequestValidationError):
        errors = e.errors()
        what = "; ".join(f"{'.'.join(map(str, r['loc'][1:]))}: {r['msg']}" for r in errors)
        return html(pages.error_page(what, 422), 422)

    @app.exception_handler(GenzooError)
    async def genzoo_error(request: Request, e: GenzooError):
        return html(pages.error_page(str(e), 422), 422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception):  # a bug: one line, no traceback
        return html(pages.error_page(f"internal error ({type(e).__name__}); "
                                     "see the server's log", 500), 500)  # fmt: skip

    @app.get("/", response_class=HTMLResponse)
    def runs_page():
        rows = [studio.describe_run(i, p) for i, p in studio.find_runs(settings.runs).items()]
        return pages.runs_page(rows, settings.runs)

    @app.get("/run/{run_id}", response_class=HTMLResponse)
    async def run_page(run_id: str):
        info, run = await model_page(run_id)
        from genzoo.train.run import read_run_config

        report = info.path / "report.md"
        files = [f for f in studio.RUN_FILES if (info.path / f).exists()]
        now = studio.progress(info.path)
        return pages.run_page(info, pages.tabs_for(run.model), files, now["curves"],
                              report.read_text() if report.exists() else "",
                              read_run_config(info.path), now["entries"],
                              settings.poll_ms)  # fmt: skip

    @app.get("/run/{run_id}/file/{name}")
    def run_file(run_id: str, name: str):
        if name not in studio.RUN_FILES:
            raise HTTPException(404, f"no file {name!r}: a run shows {', '.join(studio.RUN_FILES)}")
        path = run_dir(run_id) / name
        if not path.is_file():
            raise HTTPException(404, f"{run_id} has no {name}")
        kind = "image/gif" if name.endswith(".gif") else "image/png"
        return Response(path.read_bytes(), media_type=kind)

    @app.get("/run/{run_id}/progress.json")
    def run_progress(run_id: str):
        """What a run page polls while the run trains: status, step, latest metrics."""
        now = studio.progress(run_dir(run_id))
        now["curves_svg"] = pages.curves_svg(now["curves"])
        return JSONResponse(now, headers={"Cache-Control": "no-store"})

    @app.post("/compare")
    async def compare(request: Request):
        found = studio.find_runs(settings.runs)
        form = await request.form(max_files=0, max_fields=len(found) + 4)
        ids = list(dict.fromkeys(v for v in form.getlist("run") if isinstance(v, str)))
        unknown = [i for i in ids if i not in found]
        if unknown:
            raise HTTPException(404, f"no run {unknown[0]!r} under {settings.runs}")
        if not ids:
            raise HTTPException(422, "select at least one run to compare (tick its box)")
        job = comparisons.new(ids)
        build = studio.Comparisons.build
        try:
            job.future = worker.submit(build, job, [found[i] for i in ids], settings.data_root)
        except Busy:
            raise HTTPException(503, f"the model worker is busy: {settings.queue_size} "
                                "requests are queued; try again") from None  # fmt: skip
        return RedirectResponse(f"/compare/{job.id}", status_code=303)

    def comparison(job_id: str) -> studio.Comparison:
        job = comparisons.get(job_id)
        if job is None:
            raise HTTPException(404, f"no comparison {job_id!r} (the studio keeps the last "
                                f"{comparisons.keep}, until it stops)")  # fmt: skip
        return job

    @app.get("/compare/{job_id}", response_class=HTMLResponse)
    def compare_page(job_id: str):
        return pages.compare_page(comparison(job_id))

    @app.get("/compare/{job_id}/report.html", response_class=HTMLResponse)
    def compare_report(job_id: str):
        job = comparison(job_id)
        if job.state != "done":
            raise HTTPException(404, f"comparison {job_id} is {job.state}: it has no report")
        return HTMLResponse((job.out_dir / "report.html").read_text())

    @app.get("/run/{run_id}/play", response_class=HTMLResponse)
    async def play(run_id: str):
        info, run = await model_page(run_id)
        from genzoo.core.capabilities import Capability

        if Capability.SAMPLE not in run.model.capabilities:
            raise HTTPException(404, f"{info.model} does not sample: it has no play page")
        return pages.play_page(info, pages.tabs_for(run.model), run.model, 16)

    @app.get("/run/{run_id}/sample.png")
    async def sample(run_id: str, request: Request, seed: int = 0, n: int = 16,
                     label: int | None = None, mix_from: str = "", mix_layers: str = "coarse",
                     size: str = "", text: str = ""):  # fmt: skip
        if not 1 <= n <= MAX_SAMPLES:
            raise HTTPException(422, f"n is 1..{MAX_SAMPLES}, not {n}")
        if not 0 <= seed < 2**63:
            raise HTTPException(422, f"the seed is a non-negative integer, not {seed}")
        codes, options = {}, {}
        for key, value in request.query_params.items():
            for prefix, into in (("code_", codes), ("option_", options)):
                if key.startswith(prefix) and value != "":
                    try:
                        into[key.removeprefix(prefix)] = float(value)
                    except ValueError:
                        raise HTTPException(422, f"{key}={value!r}: expected a number") from None
        condition = label if label is not None else (codes or None)
        if mix_from and not (mix_from.isdigit() and int(mix_from) < 2**63):
            raise HTTPException(422, f"mix_from={mix_from!r}: expected a seed")
        if text:  # a prompt for a text-conditioned model; checked by draw_samples
            condition = text
        path = run_dir(run_id)

        def draw() -> bytes:
            from genzoo.apps.sampling import draw_samples, mix_styles, parse_size
            from genzoo.io.images import grid_image, png_bytes

            run = cache.get(path)
            if mix_from:
                x = mix_styles(run, n, seed, int(mix_from), mix_layers, options.get("truncation"))
            else:
                shape = parse_size(size, "size") if size else None
                x = draw_samples(run, n, seed, condition, options, shape)
            return png_bytes(grid_image(x))

        return Response(await on_worker(draw), media_type="image/png",
                        headers={"Cache-Control": "no-store"})  # fmt: skip

    @app.get("/run/{run_id}/interpolate.png")
    async def interpolate(run_id: str, request: Request, a: int = 0, b: int = 1, steps: int = 8,
                          space: str = "z"):  # fmt: skip
        if not 2 <= steps <= MAX_SAMPLES:
            raise HTTPException(422, f"steps is 2..{MAX_SAMPLES}, not {steps}")
        if not (0 <= a < 2**63 and 0 <= b < 2**63):
            raise HTTPException(422, "the seeds are non-negative integers")
        options = {}
        for key, value in request.query_params.items():
            if key.startswith("option_") and value != "":
                try:
                    options[key.removeprefix("option_")] = float(value)
                except ValueError:
                    raise HTTPException(422, f"{key}={value!r}: expected a number") from None
        path = run_dir(run_id)

        def draw() -> bytes:
            from genzoo.apps.sampling import interpolate_seeds
            from genzoo.io.images import grid_image, png_bytes

            line = interpolate_seeds(cache.get(path), a, b, steps, 16, options, space)
            return png_bytes(grid_image(line, nrow=steps))

        return Response(await on_worker(draw), media_type="image/png",
                        headers={"Cache-Control": "no-store"})  # fmt: skip

    @app.get("/run/{run_id}/decode.png")
    async def decode(run_id: str, z: str):
        try:
            point = [float(v) for v in z.split(",")]
        except ValueError:
            raise HTTPException(422, f"z={z!r}: expected numbers separated by commas") from None
        if not all(math.isfinite(v) for v in point):
            raise HTTPException(422, f"z={z!r}: expected finite numbers")
        path = run_dir(run_id)

        def draw() -> bytes:
            from genzoo.apps.sampling import decode_point
            from genzoo.io.images import grid_image, png_bytes

            return png_bytes(grid_image(decode_point(cache.get(path), point), nrow=1))

        return Response(await on_worker(draw), media_type="image/png",
                        headers={"Cache-Control": "no-store"})  # fmt: skip

    async def upload_page(run_id, request, action, title, what, act,
                          fields=lambda run, choices: ""):  # fmt: skip
        """The page of an upload form: `fields(run, choices)` its controls (the choices
        sent, {} on GET), `act(run, upload, choices)` the result's HTML, on the worker."""
        info, run = await model_page(run_id)
        tabs = pages.tabs_for(run.model)
        if action not in tabs:
            raise HTTPException(404, f"{info.model} has no {action} page")
        if request.method == "GET":
            controls = fields(run, {})
            return html(pages.upload_form(info, tabs, action, title, what, fields=controls))
        form = await request.form(max_files=1, max_fields=16)
        choices = {k: v for k, v in form.items() if k != "image" and isinstance(v, str)}
        controls = fields(run, choices)
        file = form.get("image")
        if file is None or isinstance(file, str) or not file.filename:
            body = pages.upload_form(
                info,
                tabs,
                action,
                title,
                what,
                '<p class="error" id="error">choose an image file</p>',
                controls,
            )
            return html(body, 422)
        data = await file.read(studio.MAX_UPLOAD + 1)
        if len(data) > studio.MAX_UPLOAD:
            raise HTTPException(
                413,
                f"{file.filename} is larger than "
                f"{studio.MAX_UPLOAD // 2**20} MB: upload a smaller image",
            )
        upload = studio.Upload(data, file.filename)
        try:
            result = await on_worker(act, run, upload, choices)
        except GenzooError as e:
            message = f'<p class="error" id="error">{escape(str(e))}</p>'
            return html(pages.upload_form(info, tabs, action, title, what, message, controls),
                        422)  # fmt: skip
        return html(pages.upload_form(info, tabs, action, title, what, result, controls))

    @app.api_route("/run/{run_id}/score", methods=["GET", "POST"], response_class=HTMLResponse)
    async def score(run_id: str, request: Request):
        def act(run, upload, choices):
            return pages.score_result(studio.score_upload(run, upload, test_scores), upload.name)

        what = ("Upload an image of the run's size: its −log p(x) (or the model's bound or "
                "score) beside the test split's, and a verdict.")  # fmt: skip
        return await upload_page(run_id, request, "score", "Score", what, act)

    @app.api_route("/run/{run_id}/translate", methods=["GET", "POST"],
                   response_class=HTMLResponse)  # fmt: skip
    async def translate(run_id: str, request: Request):
        def act(run, upload, choices):
            from genzoo.io.images import grid_image, png_bytes

            direction = choices.get("direction", "a2b")
            targets = [f"{k.removeprefix('to_')}={v}" for k, v in choices.items()
                       if k.startswith("to_")]  # fmt: skip
            rows = studio.translate_upload(run, upload, direction=direction, targets=targets)
            return pages.translate_result(png_bytes(grid_image(rows, nrow=2)), upload.name)

        what = "Upload an image of the model's input size and channels: it is translated."
        return await upload_page(run_id, request, "translate", "Translate", what, act,
                                 lambda run, _: pages.translate_fields(run.model))  # fmt: skip

    @app.api_route("/run/{run_id}/assemble", methods=["GET", "POST"],
                   response_class=HTMLResponse)  # fmt: skip
    async def assemble(run_id: str, request: Request):
        def act(run, upload, choices):
            from genzoo.io.images import grid_image, png_bytes

            text = choices.get("seed", "0") or "0"
            if not (text.isdigit() and int(text) < 2**32):
                raise GenzooError(f"seed={text!r}: expected a whole number below 2**32")
            shown, rows, per_row, masks = studio.assemble_upload(run, upload, int(text))
            return pages.assemble_result(png_bytes(grid_image(shown, nrow=1)),
                                         png_bytes(grid_image(rows, nrow=per_row)), upload.name,
                                         masks)  # fmt: skip

        what = ("Upload a whole image of the run's size: the studio cuts its key patches as "
                "the task does, and the model assembles an image from them alone.")  # fmt: skip
        return await upload_page(run_id, request, "assemble", "Assemble", what, act,
                                 lambda run, choices: pages.seed_field(choices))  # fmt: skip

    @app.api_route("/run/{run_id}/match", methods=["GET", "POST"], response_class=HTMLResponse)
    async def match(run_id: str, request: Request):
        def act(run, upload, choices):
            captions = choices.get("captions", "").splitlines()
            return pages.match_result(studio.match_upload(run, upload, captions), upload.name)

        what = ("Upload an image of the run's size and give captions: how well each fits it "
                "in the model's joint image–text space.")  # fmt: skip

        def fields(run, choices):
            sent = choices.get("captions")
            return pages.caption_field(
                sent.splitlines() if sent is not None else studio.default_captions(run)
            )

        return await upload_page(run_id, request, "match", "Match", what, act, fields)

    return app


def html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status)
