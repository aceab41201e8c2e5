"""Write docs/models/*.md, one page per registered model (see genzoo.apps.model_pages)."""

from pathlib import Path

from genzoo.apps.model_pages import write_pages

if __name__ == "__main__":
    docs = Path(__file__).resolve().parent
    for path in write_pages(docs / "results.md", docs / "models"):
        print(f"wrote {path.relative_to(docs.parent)}")
