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

from genzoo.cli import evaluation, info, latent, sampling, training
from genzoo.cli.common import EXIT_INTERRUPTED, EXIT_USAGE, global_options, parse_sets

__all__ = ["build_parser", "main", "parse_sets", "run"]
GROUPS = (info, training, sampling, evaluation, latent)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genzoo", description="Deep generative models, next to their papers."
    )
    global_options(parser)
    common = argparse.ArgumentParser(add_help=False)
    global_options(common, after_verb=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        for add_verb in group.VERBS:
            add_verb(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
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
    except KeyboardInterrupt:
        print("genzoo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `genzoo models | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
