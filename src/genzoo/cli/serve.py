"""`genzoo serve`: the local web studio over a folder of runs (genzoo.serve.app)."""

from __future__ import annotations

from genzoo.cli.common import add
from genzoo.threads import default_threads

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_RUNS = ("runs", "demo/runs")  # `genzoo train`'s folder, then `make demo`'s


def add_serve(sub, common) -> None:
    what = ("a local web studio: browse runs, sample with seeds and labels, score, "
            "translate, assemble or caption-match uploaded images")  # fmt: skip
    p = add(sub, common, "serve", help=what)
    p.add_argument("--runs", metavar="DIR",
                   help="folder searched for runs, 4 levels deep (default: runs, or demo/runs "
                   "when there is no runs folder)")  # fmt: skip
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1, this machine only); anything "
                   "else exposes the studio, and its uploads, to the network")  # fmt: skip
    p.add_argument("--threads", type=int, default=default_threads(),
                   help="torch CPU threads for the model worker (torch.set_num_threads; "
                   f"default: half the cores, at most 4, here {default_threads()}); "
                   "model calls run one at a time in one worker thread")  # fmt: skip
    p.add_argument(
        "--cache",
        type=int,
        default=4,
        metavar="N",
        help="loaded runs kept in memory, least recently used dropped (default 4)",
    )
    p.add_argument(
        "--queue",
        type=int,
        default=16,
        metavar="N",
        help="model requests waiting or running at once; more get 503 (default 16)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds a page waits for the model before it says so (default 60)",
    )
    p.set_defaults(func=cmd_serve)


def runs_folder(given: str | None):
    from pathlib import Path

    from genzoo.core.errors import GenzooError

    if given is not None:
        path = Path(given).expanduser()
        if not path.is_dir():
            raise GenzooError(f"--runs {given}: no such folder (train a model first, or give "
                              "the folder that holds your runs)")  # fmt: skip
        return path
    for name in DEFAULT_RUNS:
        if Path(name).is_dir():
            return Path(name)
    raise GenzooError("neither runs/ nor demo/runs/ exists here: give --runs DIR, or run "
                      "`make demo` or `genzoo train` first")  # fmt: skip


def cmd_serve(args) -> int:
    import sys

    from genzoo.core.errors import GenzooError

    for name in ("threads", "cache", "queue"):
        if getattr(args, name) < 1:
            raise GenzooError(f"--{name} must be at least 1")
    if args.timeout <= 0:
        raise GenzooError("--timeout must be positive")
    runs = runs_folder(args.runs)
    import torch
    import uvicorn

    from genzoo.serve.app import Settings, create_app

    torch.set_num_threads(args.threads)
    app = create_app(Settings(runs, args.cache, args.queue, args.timeout, args.data_root))
    if args.host not in LOCAL_HOSTS:
        print(f"genzoo serve: WARNING: binding {args.host} exposes the studio to the network; "
              "it has no login, and anyone who reaches it can read your runs and upload "
              "images", file=sys.stderr)  # fmt: skip
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"genzoo serve: runs under {runs}, torch threads {args.threads}: "
          f"http://{host}:{args.port}/  (Ctrl-C stops)", flush=True)  # fmt: skip
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


VERBS = (add_serve,)
