"""Arrows point down: cli → serve → apps → train → metrics → models → nn, data → io → core.
genzoo.threads sits beside core, below everything: the CLI loads it before torch.

Read from the source (every import, including those inside functions), so that a new
upward import fails here before it becomes a cycle.
"""

import ast
from pathlib import Path

import genzoo

SRC = Path(genzoo.__file__).parent
# a package may import only packages of a lower rank (and itself)
RANK = {
    "core": 0,
    "threads": 0,  # imports nothing of genzoo, nor torch
    "io": 1,
    "nn": 2,
    "data": 2,
    "models": 3,
    "metrics": 4,
    "train": 5,
    "apps": 6,
    "serve": 7,
    "cli": 8,
}


def package_of(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[0]


def genzoo_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported genzoo package) for every import in the file, and for every
    `importlib.import_module("genzoo....")` with a literal name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "genzoo":  # `from genzoo import data`
                names = [f"genzoo.{a.name}" for a in node.names]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", None) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names = [node.args[0].value]
        for name in names:
            parts = name.split(".")
            if parts[0] == "genzoo" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


def test_every_package_has_a_rank():
    packages = {package_of(p) for p in SRC.rglob("*.py")} - {"__init__"}
    assert packages == set(RANK)


def test_imports_point_down_only():
    upward = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "__init__.py":  # the package's lazy re-exports
            continue
        here = package_of(path)
        for line, target in genzoo_imports(path):
            if target != here and RANK[target] >= RANK[here]:
                upward.append(f"{path.relative_to(SRC)}:{line} imports genzoo.{target}")
    assert not upward, "\n".join(upward)
