"""What the verbs share: exit codes, --set parsing, tables, output paths, and the options
every verb takes (so that `genzoo train ... --debug` works as `genzoo --debug train ...`)."""

from __future__ import annotations

import argparse

EXIT_USAGE = 2
SPLITS = ["train", "valid", "test"]
EXIT_INTERRUPTED = 130


MAX_GRID = 10_000  # images in one PNG grid: 100 x 100, past which a grid is not useful
MEMORY_BUDGET = 2 * 2**30  # bytes of float32 images a command may hold at once


def check_grid(n: int, what: str) -> None:
    """A one-line GenzooError for a grid too large to be a useful picture."""
    from genzoo.core.errors import GenzooError

    if n > MAX_GRID:
        raise GenzooError(f"{what}: a grid of {n:,} images is not a useful picture (at most "
                          f"{MAX_GRID:,}); to measure many samples use `genzoo eval RUN "
                          "--metrics fid --n N`")  # fmt: skip


def check_memory(n: int, shape, what: str) -> None:
    """A one-line GenzooError when n float32 images of `shape` exceed MEMORY_BUDGET."""
    import math

    from genzoo.core.errors import GenzooError

    needed = n * math.prod(shape) * 4
    if needed > MEMORY_BUDGET:
        most = MEMORY_BUDGET // (math.prod(shape) * 4)
        raise GenzooError(f"{what}: {n:,} images of {tuple(shape)} need {needed / 2**30:.1f} "
                          f"GiB; at most {most:,} fit in genzoo's {MEMORY_BUDGET // 2**30} GiB "
                          "budget")  # fmt: skip


def add(sub, common: argparse.ArgumentParser, name: str, help: str, **kwargs):
    """A verb's parser, with the global options, and its help as the page's description."""
    return sub.add_parser(name, help=help, description=help, parents=[common], **kwargs)


def add_split(parser: argparse.ArgumentParser, what: str) -> None:
    """--split, the same choices and default in every verb."""
    parser.add_argument("--split", default="test", choices=SPLITS,
                        help=f"{what} (default: test)")  # fmt: skip


def add_clip_options(parser: argparse.ArgumentParser) -> None:
    """--clip-vocab and --clip-act: what an open_clip ViT-CLIP weights file given as --joint
    needs beside its tensors (genzoo.models.joint.clip)."""
    parser.add_argument("--clip-vocab", metavar="FILE",
                        help="an open_clip ViT-CLIP file's BPE vocabulary, open_clip's "
                        "bpe_simple_vocab_16e6.txt.gz (not in the weights)")  # fmt: skip
    parser.add_argument("--clip-act", choices=("quickgelu", "gelu"),
                        help="an open_clip ViT-CLIP file's activation, which the weights do "
                        "not record: quickgelu (OpenAI's weights) or gelu (most LAION "
                        "weights); the file's metadata 'act' where present, else default "
                        "quickgelu")  # fmt: skip


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
