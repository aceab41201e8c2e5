"""The `genzoo` command: a thin layer over the Python API, one module per group of verbs,
each verb's arguments (`add_<verb>`) beside its handler (`cmd_<verb>`).

Errors a user can act on (`GenzooError`) print one line and exit with code 2; `--debug`
shows the traceback. Heavy imports happen inside the handlers, so `genzoo --help` is
instant. The global options (--debug, --data-root) go before or after the verb.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from genzoo.cli import edit, evaluation, info, latent, sampling, serve, training, translation
from genzoo.cli.common import EXIT_INTERRUPTED, EXIT_USAGE, global_options, parse_sets
from genzoo.threads import configure_cpu_threads, default_threads

__all__ = ["build_parser", "main", "parse_sets", "run"]
GROUPS = (info, training, sampling, translation, edit, evaluation, latent, serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genzoo",
        description="Deep generative models, next to their papers.",
        epilog=f"CPU threads: {default_threads()} here (half the cores, at most 4), with idle "
        "threads sleeping (OMP_WAIT_POLICY=PASSIVE), so that a machine shared with another "
        "job does not stall torch's default of one spinning thread per core "
        "(benchmarks/results/threads_under_load.txt). Set OMP_NUM_THREADS, or --set "
        "num_threads=N for training, to choose.",
    )
    parser.add_argument("--version", action="version", version=f"genzoo {version()}")
    global_options(parser)
    common = argparse.ArgumentParser(add_help=False)
    global_options(common, after_verb=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        for add_verb in group.VERBS:
            add_verb(sub, common)
    return parser


def version() -> str:
    """The installed package's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("genzoo")
    except PackageNotFoundError:  # run from a source tree without installing
        return "(not installed)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    configure_cpu_threads()  # before anything loads torch
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["genzoo", *argv])
    from genzoo.core.errors import GenzooError

    try:
        return args.func(args)
    except GenzooError as e:
        if args.debug:
            raise
        print(f"genzoo: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as e:
        print(f"genzoo: interrupted{': ' if str(e) else ''}{e}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `genzoo models | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # a path the system refused: one line that names it
        if args.debug:
            raise
        print(f"genzoo: error: {os_error_line(e)}", file=sys.stderr)
        return EXIT_USAGE


def os_error_line(e: OSError) -> str:
    """An OSError as one line that names the path and what to do."""
    import errno

    path = e.filename if e.filename is not None else "a file"
    hints = {
        errno.ENOSPC: "no space left on the device: free some space (files genzoo wrote "
        "before are intact: every write is atomic)",
        errno.EDQUOT: "disk quota exceeded: free some space",
        errno.EACCES: "permission denied: check its permissions, or choose another path",
        errno.EPERM: "operation not permitted: check its permissions, or choose another path",
        errno.EISDIR: "is a folder: give a file path",
        errno.ENOTDIR: "a part of this path is a file, not a folder: give another path",
        errno.EEXIST: "exists and is a file, not a folder: give another path",
        errno.ENOENT: "not found: check the path",
        errno.EROFS: "read-only file system: choose a writable path",
    }
    hint = hints.get(e.errno, e.strerror or str(e))
    return f"{path}: {hint}"


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
