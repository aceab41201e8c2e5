"""docs/models: one generated page per registered model, kept in step with the code."""

from pathlib import Path

from genzoo.apps.model_pages import ENTRIES, pages, result_rows
from genzoo.models import list_models

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_registered_model_has_an_up_to_date_page():
    assert {s.name for s in list_models()} <= set(ENTRIES)
    expected = pages((DOCS / "results.md").read_text())
    for name, text in expected.items():
        path = DOCS / "models" / name
        assert path.exists() and path.read_text() == text, (
            f"{path} is out of date: run .venv/bin/python docs/make_model_pages.py"
        )


def test_result_rows_match_the_first_cell_by_whole_name():
    md = "\n".join([
        "## Binarised MNIST",
        "| model | NLL |",
        "|---|---|",
        "| NADE, H = 500 | 88.23 |",
        "| RNADE | 1.0 |",
        "",
        "## GANs",
        "| model | FID |",
        "|---|---|",
        "| WGAN-GP | 3 |",
        "| WGAN (clipping) | 4 |",
        "| NADE features | 5 |",
    ])  # fmt: skip
    rows = result_rows(md, ("NADE",))
    assert [r[2] for r in rows] == ["| NADE, H = 500 | 88.23 |", "| NADE features | 5 |"]
    assert rows[0][:2] == ("Binarised MNIST", "| model | NLL |")
    assert rows[1][:2] == ("GANs", "| model | FID |")
    assert [r[2] for r in result_rows(md, ("WGAN",))] == ["| WGAN (clipping) | 4 |"]


def test_pages_carry_the_papers_number_beside_ours():
    text = pages((DOCS / "results.md").read_text())["nade.md"]
    assert "88.86" in text and "Larochelle & Murray" in text and "genzoo train nade" in text
    assert "No measured result yet." in pages("")["nade.md"]
