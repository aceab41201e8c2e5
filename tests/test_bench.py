"""`genzoo bench --preset quick` and `genzoo compare`: one report across families.

The quick preset trains every registered model on the built-in digits (about two minutes):
that run is behind the `slow` marker (`make test-all`). The fast suite runs the same preset
on one or two models of each family, once for the module."""

import json
import re
import shutil

import pytest

from genzoo.apps.bench import PRESETS, Footnotes, Row, bench_models, reason, table_cells
from genzoo.cli import main
from genzoo.core import Capability
from genzoo.models import get_model, list_models

# the models the tests below read, covering every family and every kind of table cell
FEW = ["independent", "fvsbn", "nade", "ae", "vae", "dcgan"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert main(["bench", "--preset", "quick", "--models", ",".join(FEW), "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def quick_all(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-all")
    assert main(["bench", "--preset", "quick", "-o", str(out)]) == 0
    return out


def table_rows(report: str) -> dict[str, list[str]]:
    """model -> cells of the report's main table."""
    lines = [line for line in report.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == len(header):
            rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


def check_rows(out, specs) -> dict[str, dict]:
    report = (out / "report.md").read_text()
    rows = table_rows(report)
    assert set(rows) == {s.name for s in specs}
    for spec in specs:
        row = rows[spec.name]
        assert row["family"] == spec.family and row["density"] == spec.density
        explicit = spec.capabilities & (Capability.LOG_PROB | Capability.ELBO)
        nll = row["NLL (nats)"]
        if explicit:  # a number, a bound marked as one
            assert re.match(r"\d+\.\d\d", nll), (spec.name, nll)
            assert nll.endswith("≤") == (Capability.LOG_PROB not in spec.capabilities)
        else:  # an empty cell that says why in a footnote
            assert re.fullmatch(r"— \[\d+\]", nll), (spec.name, nll)
        samples = Capability.SAMPLE in spec.capabilities
        assert re.match(r"\d+\.\d\d", row["FID"]) if samples else row["FID"].startswith("—")
        assert (out / "images" / f"{spec.name}-samples.png").exists() == samples
        assert (out / "images" / f"{spec.name}-curves.png").exists()
    page = (out / "report.html").read_text()
    assert "<table>" in page and page.count("data:image/png;base64,") >= 2 * len(specs)
    return rows


def benched(preset: str) -> list:
    """The models a preset benches by default: every one its data carries the streams of
    (a translation model needs a paired task)."""
    return [get_model(name) for name in bench_models(None, PRESETS[preset].streams)]


@pytest.mark.slow
def test_quick_bench_has_a_row_per_registered_model(quick_all):
    check_rows(quick_all, benched("quick"))


def test_quick_bench_rows_carry_each_models_numbers(quick):
    rows = check_rows(quick, [s for s in list_models() if s.name in FEW])
    report = (quick / "report.md").read_text()
    # numbers that a working pipeline gets right on digits
    assert 0.5 < float(rows["nade"]["AUROC"]) <= 1.0  # flipped digits look less likely
    assert float(rows["vae"]["probe"]) > 0.3  # ten classes: chance is about 0.1
    assert float(rows["nade"]["NLL (nats)"]) < float(rows["independent"]["NLL (nats)"])
    assert "raw pixels get 0." in report and "feature network" in report


def test_bench_reuses_finished_runs(quick, tmp_path, capsys):
    shutil.copytree(quick / "runs" / "nade", tmp_path / "runs" / "nade")
    weights = tmp_path / "runs" / "nade" / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert main(["bench", "--models", "nade", "-o", str(tmp_path)]) == 0
    assert weights.stat().st_mtime_ns == before
    config = json.loads((tmp_path / "runs" / "nade" / "config.json").read_text())
    assert len(config["commands"]) == 1  # the quick bench's: neither resumed nor retrained
    assert set(table_rows((tmp_path / "report.md").read_text())) == {"nade"}
    assert "wrote" in capsys.readouterr().out


def test_compare_reports_existing_runs(quick, tmp_path):
    # a run whose training checkpoint was deleted still reports, without its training time
    shutil.copytree(quick / "runs" / "fvsbn", tmp_path / "fvsbn")
    (tmp_path / "fvsbn" / "checkpoint.safetensors").unlink()
    runs = [str(quick / "runs" / name) for name in ("ae", "dcgan")] + [str(tmp_path / "fvsbn")]
    assert main(["compare", *runs, "-o", str(tmp_path / "cmp")]) == 0
    rows = table_rows((tmp_path / "cmp" / "report.md").read_text())
    assert set(rows) == {"ae", "dcgan", "fvsbn"}
    assert rows["ae"]["FID"].startswith("—") and rows["fvsbn"]["probe"].startswith("—")
    assert rows["fvsbn"]["CPU s"].startswith("— [") and rows["dcgan"]["CPU s"].isdigit()
    assert re.match(r"\d+\.\d\d", rows["fvsbn"]["NLL (nats)"])
    assert (tmp_path / "cmp" / "report.html").exists()


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["bench", "--preset", "huge", "-o", str(tmp_path / "b")]) == 2
    assert "unknown preset 'huge'" in error_line(capsys)
    assert main(["bench", "--models", "nade,gpt", "-o", str(tmp_path / "b")]) == 2
    assert "gpt" in error_line(capsys)
    (tmp_path / "notarun").mkdir()
    assert main(["compare", str(tmp_path / "notarun"), "-o", str(tmp_path / "c")]) == 2
    assert "config.json" in error_line(capsys)
    assert not (tmp_path / "c").exists()  # refused before writing anything


def test_footnotes_are_shared_by_models_with_the_same_reason():
    notes = Footnotes()
    rows = []
    for model, cls in (("gan", "GAN"), ("dcgan", "DCGAN")):
        row = Row(model, "adversarial", "implicit", f"runs/{model}", "digits", 10,
                  notes={"NLL": f"{model} is an implicit model"}, aliases=(model, cls))  # fmt: skip
        rows.append(table_cells(row, notes, "digits"))
    assert rows[0][6] == rows[1][6] == "— [1]"
    assert notes.texts == ["gan, dcgan: the model is an implicit model"]
    # a name inside another name is left alone
    row = Row("cgan", "adversarial", "implicit", "r", "d", 1,
              notes={"AUROC": "cgan cannot: use dcgan"}, aliases=("cgan", "CGAN"))  # fmt: skip
    assert reason(row, "AUROC") == "the model cannot: use dcgan"


def test_presets_name_a_step_budget_for_every_family():
    for name, preset in PRESETS.items():
        for spec in benched(name):
            assert preset.steps(spec.name, spec.family) > 0
    assert "pix2pix" not in [s.name for s in benched("quick")]  # digits has no pairs


def test_ctrl_c_stops_the_whole_bench_and_the_next_one_resumes_the_run(tmp_path, monkeypatch,
                                                                       capsys):  # fmt: skip
    import signal

    from genzoo.train import loop

    class InterruptedAtOnce(loop._StopSignal):
        """A Ctrl-C arriving during the first step of training."""

        def __enter__(self):
            super().__enter__()
            self.received = signal.SIGINT
            return self

    monkeypatch.setattr(loop, "_StopSignal", InterruptedAtOnce)
    out = tmp_path / "b"
    assert main(["bench", "--models", "fvsbn,nade", "-o", str(out)]) == 130
    assert "fvsbn was interrupted; the next bench resumes it" in capsys.readouterr().err
    assert not (out / "runs" / "nade").exists()  # the bench stopped: nade never started
    assert "stopped: interrupted" in (out / "runs" / "fvsbn" / "report.md").read_text()
    monkeypatch.undo()
    assert main(["bench", "--models", "fvsbn", "-o", str(out)]) == 0
    commands = json.loads((out / "runs" / "fvsbn" / "config.json").read_text())["commands"]
    assert len(commands) == 2  # trained, then resumed: not counted as done
    assert "stopped: completed" in (out / "runs" / "fvsbn" / "report.md").read_text()


def test_demo_writes_one_report_with_every_section(tmp_path, capsys):
    # `make demo` at a few steps per model: the report must hold each family's samples,
    # curves and anomaly histogram, and the explicit/implicit table
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--steps", "5"]) == 0
    printed = capsys.readouterr().out
    assert str((out / "report.html").resolve()) in printed
    assert f"genzoo serve --runs {out / 'runs'}" in printed
    page = (out / "report.html").read_text()
    for model in ("pixelcnn", "vae", "dcgan"):
        for image in ("samples", "curves", "anomaly scores"):
            assert f'alt="{model} {image}"' in page, (model, image)
    for density in ("explicit (exact)", "explicit (bound)", "implicit"):
        assert f"<td>{density}</td>" in page
    assert "Explicit models write p(x) down" in page
    assert page.count("data:image/png;base64,") == 10  # 3 x 3 + the overview
