"""`genzoo train`, `genzoo demo`, `genzoo bench` and `genzoo compare`: runs and their reports."""

from __future__ import annotations

import sys

from genzoo.cli.common import EXIT_INTERRUPTED, add, parse_sets


def add_train(sub, common) -> None:
    p = add(sub, common, "train", help="train a model; writes a run directory")
    p.add_argument("model", nargs="?", help="a name from `genzoo models`")
    p.add_argument("--data", default="digits", help="dataset name (default: digits)")
    p.add_argument("--run-dir", help="default: runs/<model>-<data>-<time>")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a model or training setting, e.g. --set max_steps=200",
    )
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint")
    p.add_argument(
        "--init-from",
        metavar="RUN_DIR",
        help="start from the trained weights of a run of the same model and data shape "
        "(fresh optimizer; model settings such as objective=iwae may differ)",
    )
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    from genzoo.apps.report import train_and_report

    if args.resume is None and args.model is None:
        from genzoo.core.errors import GenzooError

        raise GenzooError("give a MODEL to train, or --resume RUN_DIR to continue a run")
    run = train_and_report(
        args.model,
        args.data,
        parse_sets(args.set),
        run_dir=args.resume or args.run_dir,
        data_root=args.data_root,
        resume=args.resume is not None,
        command=args.command_line,
        init_from=args.init_from,
    )
    return _finish(run)


def _finish(run) -> int:
    if run is None:  # another process of a torchrun launch: the first one reports
        return 0
    report = (run.path / "report.md").read_text()
    print(report)
    print(f"run directory: {run.path}")
    print(f"  report:  {run.path / 'report.md'}")
    if (run.path / "samples.png").exists():
        print(f"  samples: {run.path / 'samples.png'}")
    if run.result.stopped == "interrupted":
        print(f"interrupted: checkpoint written; continue with `genzoo train --resume {run.path}`")
        return EXIT_INTERRUPTED
    return 0


def add_demo(sub, common) -> None:
    p = add(sub, common, "demo", help="train a model on the built-in digits, sample, report")
    p.add_argument("--run-dir", help="default: runs/<model>-digits-<time>")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from genzoo.apps.report import train_and_report

    print("genzoo demo: NADE on scikit-learn's 8x8 digits (static binarisation)")
    settings = {"epochs": "100", "val_every": "60", "patience": "5"}
    run = train_and_report("nade", "digits", settings, run_dir=args.run_dir,
                           data_root=args.data_root, command="genzoo demo")  # fmt: skip
    return _finish(run)


def add_bench(sub, common) -> None:
    p = add(sub, common, "bench", help="train every model on a preset, report them side by side")
    p.add_argument("--preset", default="quick", help="quick (digits, minutes) or full (MNIST)")
    p.add_argument("--models", help="comma-separated model names (default: every model)")
    p.add_argument("-o", "--output", help="report folder (default: bench-<preset>)")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    from pathlib import Path

    from genzoo.apps.bench import bench

    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    out = Path(args.output or f"bench-{args.preset}")
    md, page = bench(args.preset, models, out, args.data_root, progress=sys.stderr.isatty())
    print(f"wrote {md} and {page}")
    return 0


def add_compare(sub, common) -> None:
    p = add(sub, common, "compare", help="report existing runs side by side")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories")
    p.add_argument("-o", "--output", default="compare", help="report folder (default: compare)")
    p.add_argument("--labels-per-class", type=int, default=10,
                   help="labelled train examples per class for the probe (default 10)")  # fmt: skip
    p.set_defaults(func=cmd_compare)


def cmd_compare(args) -> int:
    from pathlib import Path

    from genzoo.apps.bench import report_runs
    from genzoo.train.run import load_run

    for run in args.runs:
        load_run(run)  # every run must load before any is measured
    title = "genzoo compare " + " ".join(args.runs)
    md, page = report_runs([Path(r) for r in args.runs], Path(args.output), title,
                           args.data_root, args.labels_per_class)  # fmt: skip
    print(f"wrote {md} and {page}")
    return 0


VERBS = (
    add_train,
    add_demo,
    add_bench,
    add_compare,
)
