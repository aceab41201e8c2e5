"""What the verbs share: exit codes, --set parsing, tables, output paths, and the options
every verb takes (so that `genzoo train ... --debug` works as `genzoo --debug train ...`)."""

from __future__ import annotations

import argparse

EXIT_USAGE = 2
SPLITS = ["train", "valid", "test"]
EXIT_INTERRUPTED = 130


def add(sub, common: argparse.ArgumentParser, name: str, help: str, **kwargs):
    """A verb's parser, with the global options, and its help as the page's description."""
    return sub.add_parser(name, help=help, description=help, parents=[common], **kwargs)


def global_options(parser: argparse.ArgumentParser, after_verb: bool = False) -> None:
    """--debug and --data-root, before the verb (with defaults) or after it (SUPPRESS: a verb
    that is not given them keeps what was said before it)."""
    default = {"default": argparse.SUPPRESS} if after_verb else {}
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors",
                        **default)  # fmt: skip
    parser.add_argument("--data-root", help="where datasets live (default: $GENZOO_DATA, cache)",
                        **default)  # fmt: skip


def parse_sets(pairs: list[str]) -> dict[str, str]:
    from genzoo.core.errors import GenzooError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise GenzooError(f"--set takes key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def print_table(header: list[str], rows: list[tuple]) -> None:
    rows = [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]  # fmt: skip
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def output_path(path: str, suffix: str):
    from pathlib import Path

    from genzoo.core.errors import GenzooError

    out = Path(path)
    if out.suffix != suffix:
        raise GenzooError(f"-o {path}: expected a {suffix} file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out
