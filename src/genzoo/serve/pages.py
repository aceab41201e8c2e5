"""The studio's HTML: server-rendered pages, a little plain JavaScript, no build step.
Every value that comes from a run or a request is escaped here."""

from __future__ import annotations

import base64
import json
import re
import time
from html import escape

import numpy as np

from genzoo.core.capabilities import Capability

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222}
header{background:#24292f;color:#fff;padding:8px 16px}header a{color:#fff;margin-right:14px}
main{padding:16px;max-width:1100px}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}
img.grid{image-rendering:pixelated;border:1px solid #ccc;max-width:100%}
.error{background:#fde7e9;border:1px solid #c44;padding:8px;white-space:pre-wrap}
.verdict{font-weight:bold}nav a{margin-right:12px}pre{background:#f6f8fa;padding:8px;overflow:auto}
label{display:inline-block;margin:4px 14px 4px 0}
"""


def page(title: str, body: str, run_id: str | None = None, tabs: tuple[str, ...] = ()) -> str:
    nav = ""
    if run_id is not None:
        q = escape(run_id)
        links = [f'<a href="/run/{q}">report</a>'] + [
            f'<a id="tab-{t}" href="/run/{q}/{t}">{t}</a>' for t in tabs
        ]
        nav = f"<nav>{escape(run_id)}: {' '.join(links)}</nav>"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)} · "
            f"genzoo studio</title><style>{STYLE}</style></head><body><header>"
            f"<a href='/'>genzoo studio</a> runs</header><main>{nav}<h1>{escape(title)}</h1>"
            f"{body}</main></body></html>")  # fmt: skip


def error_page(message: str, status: int) -> str:
    return page(f"error {status}", f'<p class="error" id="error">{escape(message)}</p>')


def tabs_for(model) -> tuple[str, ...]:
    """The run's pages, by what its model can do (never by its name)."""
    caps = model.capabilities
    tabs = []
    if Capability.SAMPLE in caps:
        tabs.append("play")
    if caps & (Capability.LOG_PROB | Capability.ELBO | Capability.ENCODE | Capability.DISCRIMINATE):
        tabs.append("score")
    if Capability.TRANSLATE in caps:
        tabs.append("translate")
    if Capability.ASSEMBLE in caps:
        tabs.append("assemble")
    if Capability.JOINT in caps:
        tabs.append("match")
    return tuple(tabs)


SORT_JS = """
document.querySelectorAll('table.sortable th[data-key]').forEach((th, column) => {
  th.addEventListener('click', () => {
    const table = th.closest('table'), body = table.tBodies[0];
    const up = th.dataset.order !== 'up';
    table.querySelectorAll('th').forEach((h) => { delete h.dataset.order; });
    th.dataset.order = up ? 'up' : 'down';
    const key = (row) => {
      const td = row.cells[Number(th.dataset.key)];
      return td.dataset.value !== undefined ? td.dataset.value : td.textContent.trim();
    };
    const rows = Array.from(body.rows).sort((a, b) => {
      const x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
      const numbers = x !== '' && y !== '' && isFinite(nx) && isFinite(ny);
      const c = numbers ? nx - ny : (x === '' ? 1 : y === '' ? -1 : x.localeCompare(y));
      return up ? c : -c;
    });
    rows.forEach((r) => body.appendChild(r));
  });
});
const picked = () => document.querySelectorAll('input.pick:checked').length;
const compare = document.getElementById('compare-button');
document.querySelectorAll('input.pick').forEach((box) => box.addEventListener('change', () => {
  compare.disabled = picked() === 0;
}));
compare.disabled = picked() === 0;
document.getElementById('compare').addEventListener('submit', () => {
  compare.disabled = true; compare.textContent = 'starting the comparison...';
});
"""


def headline_value(text: str) -> str:
    """The number in a run's headline ("valid nll 80.12 nats ..."), for sorting."""
    match = re.search(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)
    return match.group(0) if match else ""


def runs_page(rows, root) -> str:
    if not rows:
        body = (f"<p>No genzoo runs under <code>{escape(str(root))}</code>. Train one with "
                "<code>genzoo train nade</code> or <code>make demo</code>.</p>")  # fmt: skip
        return page("Runs", body)
    cells = []
    for r in rows:
        cpu = "" if r.cpu_seconds is None else f"{r.cpu_seconds:.1f} s"
        cpu_value = "" if r.cpu_seconds is None else f"{r.cpu_seconds:.3f}"
        steps = "" if r.steps is None else str(r.steps)
        q = escape(r.id)
        cells.append(
            f'<tr><td><input type="checkbox" class="pick" name="run" value="{q}" '
            f'form="compare" aria-label="select {q}"></td>'
            f'<td><a class="run" href="/run/{q}">{q}</a></td>'
            f"<td>{escape(r.model)}</td><td>{escape(r.family)}</td><td>{escape(r.data)}</td>"
            f'<td>{escape(r.status)}</td><td data-value="{steps}">{steps}</td>'
            f'<td data-value="{cpu_value}">{cpu}</td>'
            f'<td data-value="{headline_value(r.headline)}">{escape(r.headline)}</td></tr>'
        )
    names = ("run", "model", "family", "dataset", "status", "steps", "CPU time", "headline")
    head = "<th></th>" + "".join(
        f'<th data-key="{i}" title="sort by {h}" style="cursor:pointer">{h} ⇅</th>'
        for i, h in enumerate(names, 1)
    )
    body = (
        f"<p>{len(rows)} run(s) under <code>{escape(str(root))}</code>; click a column's "
        "header to sort by it.</p>"
        f'<table id="runs" class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(cells)}</tbody></table>"
        '<form id="compare" method="post" action="/compare"><p><button id="compare-button">'
        "compare the selected runs</button> builds <code>genzoo compare</code>'s report "
        "(NLL, FID/KID of samples, anomaly AUROC, a probe): a minute or more per run.</p>"
        f"</form><script>{SORT_JS}</script>"
    )
    return page("Runs", body)


def compare_page(job) -> str:
    ids = ", ".join(escape(i) for i in job.run_ids)
    if job.state == "running":
        seconds = time.time() - job.started
        body = (
            '<meta http-equiv="refresh" content="2">'
            f'<p id="compare-state">running: measuring {ids} ({seconds:.0f} s so far); this '
            "page reloads itself until the report is ready.</p>"
        )
    elif job.state == "failed":
        message = f"the comparison of {ids} failed: {escape(job.error)}"
        body = f'<p class="error" id="error">{message}</p>'
    else:
        url = f"/compare/{escape(job.id)}/report.html"
        body = (
            f'<p id="compare-state">done: <a id="report" href="{url}">report.html</a> '
            f"compares {ids}.</p>"
            f'<iframe src="{url}" style="width:100%;height:75vh;border:1px solid #ddd"></iframe>'
        )
    return page("Compare runs", body)


def curves_svg(curves: dict[str, list[tuple[int, float]]], width=520, height=200) -> str:
    """Loss curves as an inline SVG polyline per series."""
    points = [p for series in curves.values() for p in series]
    if not points:
        return '<p id="curves">no training log (metrics.jsonl) yet</p>'
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    sx = (width - 60) / max(x1 - x0, 1)
    sy = (height - 30) / (y1 - y0 if y1 > y0 else 1)
    colours = ("#4c72b0", "#c44e52", "#55a868", "#8172b2")
    lines, legend = [], []
    for i, (name, series) in enumerate(curves.items()):
        c = colours[i % len(colours)]
        xy = " ".join(f"{50 + (s - x0) * sx:.1f},{10 + (y1 - v) * sy:.1f}" for s, v in series)
        lines.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.2" points="{xy}"/>')
        legend.append(f'<text x="{60 + 90 * i}" y="{height - 2}" fill="{c}" '
                      f'font-size="11">{escape(name)}</text>')  # fmt: skip
    axes = (f'<text x="2" y="14" font-size="10">{y1:.3g}</text>'
            f'<text x="2" y="{height - 20}" font-size="10">{y0:.3g}</text>'
            f'<text x="{width - 60}" y="{height - 2}" font-size="10">step {x1}</text>')  # fmt: skip
    return (
        f'<svg id="curves" width="{width}" height="{height}" '
        f'style="border:1px solid #ddd">{axes}{"".join(lines)}{"".join(legend)}</svg>'
    )


LIVE_JS = """
const live = document.getElementById('live');
async function poll() {
  let now;
  try {
    const r = await fetch(live.dataset.url, {cache: 'no-store'});
    if (!r.ok) { live.textContent = 'progress unavailable (' + r.status + ')'; return; }
    now = await r.json();
  } catch (e) { setTimeout(poll, 5000); return; }
  document.getElementById('status').textContent = now.status;
  document.getElementById('step').textContent = now.step === null ? 0 : now.step;
  document.getElementById('curves').outerHTML = now.curves_svg;
  document.getElementById('latest').textContent =
    now.entries.map((e) => JSON.stringify(e)).join('\\n');
  live.textContent = now.status === 'training now'
    ? 'training: updated ' + new Date().toLocaleTimeString()
    : 'training stopped (' + now.status + '): reload for its final images';
  if (now.status === 'training now') setTimeout(poll, Number(live.dataset.every));
}
poll();
"""


def run_page(info, tabs, files, curves, report: str, config: dict, latest=(),
             poll_ms: int = 3000) -> str:  # fmt: skip
    """A run's report; while it trains, a script polls /run/ID/progress.json every
    `poll_ms` and redraws the step, the loss curves and the latest metrics."""
    q = escape(info.id)
    images = "".join(
        f'<figure><img class="grid" src="/run/{q}/file/{escape(f)}" alt="{escape(f)}">'
        f"<figcaption>{escape(f)}</figcaption></figure>"
        for f in files
    )
    cpu = "" if info.cpu_seconds is None else f", {info.cpu_seconds:.1f} s CPU"
    training = info.status == "training now"
    live = (f'<p id="live" data-url="/run/{q}/progress.json" data-every="{poll_ms}">'
            "training: following its log</p>" if training else "")  # fmt: skip
    latest_text = "\n".join(json.dumps(e) for e in latest) or "no metrics.jsonl entries yet"
    body = (
        f'<p id="summary">{escape(info.model)} ({escape(info.family)}) on {escape(info.data)}: '
        f'<span id="status">{escape(info.status)}</span>, <span id="step">{info.steps or 0}'
        f"</span> steps{cpu}; {escape(info.headline)}</p>{live}"
        f"<h2>Loss curves</h2>{curves_svg(curves)}"
        f"<details{' open' if training else ''}><summary>latest metrics.jsonl entries"
        f'</summary><pre id="latest">{escape(latest_text)}</pre></details>'
        f"<h2>Images</h2>{images or '<p>none yet</p>'}"
        f"<h2>Report</h2><pre>{escape(report) or 'no report.md yet'}</pre>"
        f"<h2>Config</h2><pre>{escape(json.dumps(config, indent=2))}</pre>"
        + (f"<script>{LIVE_JS}</script>" if training else "")
    )
    return page(f"{info.model} on {info.data}", body, info.id, tabs)


PLAY_JS = """
const form = document.getElementById('controls'), img = document.getElementById('samples');
const status = document.getElementById('status');
function refresh() {
  const params = new URLSearchParams(new FormData(form));
  status.textContent = 'sampling...';
  img.src = form.dataset.url + '?' + params.toString();
}
img.addEventListener('load', () => { status.textContent = 'seed ' + form.seed.value; });
img.addEventListener('error', async () => {
  const r = await fetch(img.src); status.textContent = await r.text();
});
function changed(e) {
  if (e.target.classList.contains('fix')) {
    document.getElementById(e.target.dataset.for).disabled = !e.target.checked;
  }
  refresh();
}
form.addEventListener('input', changed);
form.addEventListener('change', changed);
form.addEventListener('submit', (e) => { e.preventDefault(); refresh(); });
refresh();
const line = document.getElementById('interpolation');
if (line) {
  const other = document.getElementById('seed_b');
  const lineStatus = document.getElementById('line-status');
  const redraw = () => {
    const params = new URLSearchParams(new FormData(form));
    params.delete('seed'); params.delete('n');
    params.set('a', form.seed.value); params.set('b', other.value);
    lineStatus.textContent = 'interpolating...';
    line.src = line.dataset.url + '?' + params.toString();
  };
  line.addEventListener('load', () => {
    lineStatus.textContent = 'seed ' + form.seed.value + ' to seed ' + other.value;
  });
  line.addEventListener('error', async () => {
    const r = await fetch(line.src); lineStatus.textContent = await r.text();
  });
  form.addEventListener('input', redraw);
  form.addEventListener('change', redraw);
  other.addEventListener('input', redraw);
  redraw();
}
"""


def play_page(info, tabs, model, n: int) -> str:
    """Controls chosen from the model's capabilities: a seed; a label, codes or a text
    prompt for a CONDITIONAL model; a slider per declared sampling option."""
    controls = ['<label>seed <input type="number" name="seed" id="seed" value="0" min="0" '
                'max="2147483647"></label>']  # fmt: skip
    if Capability.CONDITIONAL in model.capabilities:
        condition = model.condition
        if condition.kind == "label":
            options = "".join(f"<option>{k}</option>" for k in range(condition.n_classes))
            controls.append(f'<label>label <select name="label" id="label">{options}'
                            "</select></label>")  # fmt: skip
        elif condition.kind == "text":  # a caption; empty: the model's own (training) ones
            controls.append('<label>text <input type="text" name="text" id="text" size="40" '
                            'placeholder="a thin two leaning left"></label>')  # fmt: skip
        else:
            for code in condition.codes:
                if code == "cat":
                    options = '<option value="">random</option>' + "".join(
                        f"<option>{k}</option>" for k in range(condition.n_classes)
                    )
                    controls.append(f'<label>{code} <select name="code_{code}" id="code_{code}">'
                                    f"{options}</select></label>")  # fmt: skip
                else:
                    c = escape(code)
                    controls.append(
                        f'<label><input type="checkbox" class="fix" data-for="code_{c}" '
                        f'id="fix_{c}"> fix {c} <input type="range" name="code_{c}" '
                        f'id="code_{c}" min="-2" max="2" step="0.1" value="0" disabled></label>'
                    )
    for o in model.sample_options:
        controls.append(
            f'<label title="{escape(o.help)}">{escape(o.name)} <input type="number" '
            f'name="option_{escape(o.name)}" id="option_{escape(o.name)}" min="{o.low}" '
            f'max="{o.high}" step="any" placeholder="as trained"></label>'
        )
    if Capability.STYLES in model.capabilities:  # style mixing (StyleGAN, Sec. 3.1)
        groups = "".join(f"<option>{escape(g)}</option>" for g in model.layer_groups())
        controls.append(
            '<label title="the styles of these layers come from another seed\'s w">mix styles '
            'from seed <input type="number" name="mix_from" id="mix_from" min="0" '
            'placeholder="off"></label><label>layers <select name="mix_layers" '
            f'id="mix_layers">{groups}</select></label>'
        )
    if Capability.NOISE in model.capabilities and Capability.STYLES in model.capabilities:
        controls.append('<label>interpolate in <select name="space" id="space"><option>z'
                        "</option><option>w</option></select></label>")  # fmt: skip
    if model.sample_sizes:  # a model that draws images of any size (SinGAN)
        h, w = model.data.shape[-2:]
        controls.append(f'<label>size <input type="text" name="size" id="size" '
                        f'placeholder="{h}x{w}" pattern="\\d+x\\d+"></label>')  # fmt: skip
    body = (
        f'<form id="controls" data-url="/run/{escape(info.id)}/sample.png">'
        f'{"".join(controls)}<input type="hidden" name="n" value="{n}"></form>'
        f'<p id="status"></p><img id="samples" class="grid" alt="samples" width="384">'
        f"<p>The same seed gives the same grid as <code>genzoo sample RUN -n {n} --seed S"
        "</code> (with <code>--label</code>, <code>--code</code>, <code>--text</code>, "
        "<code>--option</code>, <code>--mix-from</code>, <code>--mix-layers</code>, "
        "<code>--size</code> as set "
        f"here).</p>{interpolation_controls(info, model)}{latent_map(info, model)}"
        f"<script>{PLAY_JS}</script>"
    )
    return page(f"Play: {info.model}", body, info.id, tabs)


def interpolation_controls(info, model, steps: int = 8) -> str:
    """For a model with the NOISE capability: the straight line between the noise of the
    first image of the seed's grid and that of another seed."""
    if Capability.NOISE not in model.capabilities:
        return ""
    return (
        "<h2>Interpolate</h2><p>From the first image of this seed's grid to the first of "
        'seed <input type="number" id="seed_b" value="1" min="0" max="2147483647">, along '
        "the straight line between their noise z (<code>genzoo.apps.sampling."
        'interpolate_seeds</code>):</p><p id="line-status"></p>'
        f'<img id="interpolation" class="grid" alt="interpolation" width="{64 * steps}" '
        f'data-url="/run/{escape(info.id)}/interpolate.png">'
    )


LATENT_JS = """
const plane = document.getElementById('latent-map');
if (plane) {
  const out = document.getElementById('decoded'), where = document.getElementById('z');
  const r = Number(plane.dataset.range);
  plane.addEventListener('click', (e) => {
    const box = plane.getBoundingClientRect();
    const z1 = ((e.clientX - box.left) / box.width * 2 - 1) * r;
    const z2 = (1 - (e.clientY - box.top) / box.height * 2) * r;
    where.textContent = 'z = (' + z1.toFixed(2) + ', ' + z2.toFixed(2) + ')';
    out.src = plane.dataset.url + '?z=' + z1.toFixed(3) + ',' + z2.toFixed(3);
  });
}
"""


def latent_map(info, model) -> str:
    """For a model whose noise z is 2-D: a plane of z to click, and the decoding there."""
    from genzoo.apps.sampling import PLANE, latent_plane

    if not latent_plane(model):
        return ""
    return (
        f"<h2>Latent space</h2><p>Click a point z of [−{PLANE:g}, {PLANE:g}]² to see its "
        '<span id="z">decoding</span> (<code>genzoo.apps.sampling.decode_point</code>).</p>'
        f'<div id="latent-map" data-url="/run/{escape(info.id)}/decode.png" '
        f'data-range="{PLANE}" style="display:inline-block;width:240px;height:240px;'
        "cursor:crosshair;border:1px solid #999;background:linear-gradient(#999,#999) "
        'center/1px 100% no-repeat,linear-gradient(#999,#999) center/100% 1px no-repeat">'
        '</div> <img id="decoded" class="grid" alt="decoding" width="120">'
        f"<script>{LATENT_JS}</script>"
    )


def upload_form(info, tabs, action: str, title: str, what: str, result: str = "",
                fields: str = "") -> str:  # fmt: skip
    body = (
        f"<p>{what}</p>"
        f'<form id="upload" method="post" enctype="multipart/form-data" '
        f'action="/run/{escape(info.id)}/{action}"><input type="file" name="image" id="image" '
        f'accept="image/*"> {fields}<button id="submit">{action}</button></form>{result}'
    )
    return page(f"{title}: {info.model}", body, info.id, tabs)


def translate_fields(model) -> str:
    """The translate form's controls, from what the model declares: a direction for a model
    of two (CycleGAN's a2b, b2a), a 0/1 choice per target attribute (StarGAN's)."""
    from genzoo.apps.translation import attribute_names
    from genzoo.metrics.translation import directions

    fields = []
    if len(directions(model)) > 1:
        options = "".join(f"<option>{escape(d)}</option>" for d in directions(model))
        fields.append(f'<label>direction <select name="direction" id="direction">{options}'
                      "</select></label> ")  # fmt: skip
    for name in attribute_names(model):
        n = escape(name)
        fields.append(f'<label>{n} <select name="to_{n}" id="to_{n}"><option>0</option>'
                      "<option>1</option></select></label> ")  # fmt: skip
    return "".join(fields)


def histogram_svg(test: np.ndarray, value: float, threshold: float, width=520, height=160):
    lo, hi = float(min(test.min(), value)), float(max(test.max(), value))
    counts, edges = np.histogram(test, bins=40, range=(lo, hi if hi > lo else lo + 1))
    bw, top = (width - 20) / len(counts), max(counts.max(), 1)
    bars = "".join(
        f'<rect x="{10 + i * bw:.1f}" y="{height - 20 - c / top * (height - 40):.1f}" '
        f'width="{bw - 1:.1f}" height="{c / top * (height - 40):.1f}" fill="#9db4d6"/>'
        for i, c in enumerate(counts)
    )

    def at(v):
        return 10 + (v - edges[0]) / (edges[-1] - edges[0]) * (width - 20)

    marks = (
        f'<line x1="{at(threshold):.1f}" x2="{at(threshold):.1f}" y1="10" y2="{height - 20}" '
        'stroke="#888" stroke-dasharray="4"/>'
        f'<line x1="{at(value):.1f}" x2="{at(value):.1f}" y1="10" y2="{height - 20}" '
        'stroke="#c44e52" stroke-width="2"/>'
        f'<text x="10" y="{height - 4}" font-size="10">{edges[0]:.4g}</text>'
        f'<text x="{width - 60}" y="{height - 4}" font-size="10">{edges[-1]:.4g}</text>'
    )
    return f'<svg id="histogram" width="{width}" height="{height}">{bars}{marks}</svg>'


def score_result(score, name: str) -> str:
    unit = " nats" if score.in_nats else ""
    bits = "" if score.bits_per_dim is None else f" = {score.bits_per_dim:.4f} bits/dim"
    verdict = "ANOMALOUS" if score.anomalous else "typical"
    return (
        f'<h2>{escape(name)}</h2><p id="score">score {score.value:.3f}{unit}{bits}</p>'
        f"<p>{escape(score.description)}</p>"
        f"<p>higher than {score.percentile:.1f} % of the {len(score.test_scores)} test images"
        f" (red line; dashed: their 99th percentile, {score.threshold:.3f}{unit})</p>"
        f"{histogram_svg(score.test_scores, score.value, score.threshold)}"
        f'<p class="verdict" id="verdict">verdict: {verdict} (flagged above the test split\'s '
        "99th percentile: 1 % of test images are flagged too)</p>"
        f"{model_view(score)}"
    )


def inline_png(png: bytes, element_id: str, alt: str) -> str:
    """An <img> of the grid class carrying the PNG itself (a data: URL)."""
    data = base64.b64encode(png).decode()
    return (f'<img id="{element_id}" class="grid" src="data:image/png;base64,{data}" '
            f'alt="{escape(alt)}">')  # fmt: skip


def model_view(score) -> str:
    """The upload beside the model's reconstruction or completions, when it has them."""
    if score.picture is None:
        return ""
    from genzoo.io.images import grid_image, png_bytes

    png = png_bytes(grid_image(score.picture, nrow=len(score.picture)))
    return (f"<p>{escape(score.picture_caption)}</p>"
            f"{inline_png(png, 'model-view', score.picture_caption)}")  # fmt: skip


def seed_field(choices: dict) -> str:
    seed = escape(choices.get("seed", "0"))
    return (f'<label>seed <input type="number" name="seed" id="seed" value="{seed}" '
            'min="0"></label> ')  # fmt: skip


def assemble_result(upload_png: bytes, rows_png: bytes, name: str, masks: bool) -> str:
    layout = "the patches | the whole image" + (" | each patch's mask" if masks else "")
    return (
        f"<h2>{escape(name)}</h2><p>the upload, the patches' places outlined (the model is "
        f"not told them)</p>{inline_png(upload_png, 'upload-places', 'the upload')}"
        f"<p>each row, a new z: {layout}</p>"
        f"{inline_png(rows_png, 'assembled', 'assembled images')}"
    )


def caption_field(captions: list[str]) -> str:
    return ('<label>captions, one a line<br><textarea name="captions" id="captions" rows="10" '
            f'cols="40">{escape(chr(10).join(captions))}</textarea></label><br>')  # fmt: skip


def match_result(match, name: str) -> str:
    rows = "".join(
        f'<tr><td>{escape(c)}</td><td>{cos:.3f}</td><td><svg width="160" height="12">'
        f'<rect width="{160 * p:.1f}" height="12" fill="#4c72b0"/></svg> {100 * p:.1f} %'
        "</td></tr>"
        for c, cos, p in zip(match.captions, match.cosine, match.probability, strict=True)
    )
    return (
        f"<h2>{escape(name)}</h2><p>best first: the cosine of the image's and each "
        "caption's embeddings, and the softmax over these captions at the model's learned "
        f"scale ({match.scale:.1f}): its zero-shot choice among them</p>"
        f'<table id="match"><tr><th>caption</th><th>cosine</th><th>probability</th></tr>'
        f"{rows}</table>"
    )


def translate_result(png: bytes, name: str) -> str:
    picture = inline_png(png, "translation", "translation")
    return f"<h2>{escape(name)}</h2><p>input | output</p>{picture}"
