"""`genzoo train`, `genzoo demo`, `genzoo bench` and `genzoo compare`: runs and their reports."""

from __future__ import annotations

import argparse
import sys
import textwrap

from genzoo.cli.common import EXIT_INTERRUPTED, add, parse_sets


class TrainHelp(argparse.Action):
    """`train --help` lists the models and datasets; `train MODEL --help` that model's
    settings. Built when asked for, so that `genzoo --help` imports no model."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):  # fmt: skip
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from genzoo.core.errors import GenzooError

        model = getattr(namespace, "model", None)
        try:
            parser.epilog = model_settings(model) if model else catalogue()
        except GenzooError as e:  # an unknown model name: say so, then the catalogue
            parser.epilog = f"{e}\n\n{catalogue()}"
        parser.print_help()
        parser.exit()


def catalogue() -> str:
    """The models by family and the datasets, for `genzoo train --help`."""
    from genzoo.data.catalog import DESCRIPTIONS, dataset_names
    from genzoo.models import list_models

    lines = ["models (`genzoo train MODEL --help` lists a model's --set keys):"]
    order = ("autoregressive", "latent", "adversarial")
    for s in sorted(list_models(), key=lambda s: order.index(s.family) if s.family in order else 9):
        lines.append(f"  {s.name:<16} {s.family}, {s.density}: {s.description}")
    lines += ["", "datasets (--data):"]
    for name in dataset_names():
        lines.append(f"  {name:<16} {DESCRIPTIONS.get(name, '')}")
    lines += [f"  {'folder:PATH':<16} your image files (subfolders become labels), "
              "split 80/10/10", f"  {'file:PATH':<16} an .npz or IDX (*-ubyte.gz) array of "
              "images, split 80/10/10", f"  {'image:NAME|PATH':<16} one photograph "
              "(china, flower, grace_hopper) or PNG/JPEG, longer side at most 128 px "
              "(image:china@250 sets it), for singan"]  # fmt: skip
    lines += ["", "training settings (--set KEY=VALUE, any model): "
              "`genzoo train MODEL --help` lists them with their defaults"]  # fmt: skip
    return "\n".join(lines)


def model_settings(name: str) -> str:
    """A model's description and every --set key, its and the trainer's, with defaults."""
    from genzoo.apps.model_pages import ENTRIES
    from genzoo.core.config import describe_fields
    from genzoo.models import get_model
    from genzoo.train.config import TrainConfig

    spec = get_model(name)
    lines = [f"{spec.name}: {spec.family}, {spec.density}. {spec.description}"]
    if spec.name in ENTRIES:
        entry = ENTRIES[spec.name]
        lines += textwrap.wrap(f"paper: {entry.paper}", 88, subsequent_indent="  ")
        lines.append(f"start with: genzoo train {spec.name} --data {entry.data}")
    for title, config in ((f"{spec.name} settings", spec.default_config()),
                          ("training settings (every model)", TrainConfig())):  # fmt: skip
        lines += ["", f"{title} (--set KEY=VALUE, repeatable):"]
        for f in describe_fields(config):
            value = ",".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
            lines.append(f"  {f.name}={value}")
            note = "; ".join(filter(None, [f.comment, f.allowed and f"allowed: {f.allowed}"]))
            if note:
                lines += textwrap.wrap(note, 88, initial_indent=" " * 6,
                                       subsequent_indent=" " * 6)  # fmt: skip
    return "\n".join(lines)


def add_train(sub, common) -> None:
    p = add(sub, common, "train", help="train a model; writes a run directory",
            add_help=False, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("-h", "--help", action=TrainHelp,
                   help="show this help (after MODEL: that model's settings)")  # fmt: skip
    p.add_argument("model", nargs="?", help="a model name (listed below)")
    p.add_argument("--data", default="digits", help="dataset name (default: digits; listed below)")
    p.add_argument("--run-dir", help="the run's folder (default: runs/<model>-<data>-<time>)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model or training setting, e.g. --set max_steps=200; repeat it for several "
        "(`genzoo train MODEL --help` lists the keys)",
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
    p = add(sub, common, "demo",
            help="the three families on the built-in digits in about two minutes: "
            "PixelCNN, a VAE and DCGAN, then one HTML report")  # fmt: skip
    p.add_argument("-o", "--output", default="demo",
                   help="folder for the runs and report.html (default: demo)")  # fmt: skip
    p.add_argument("--steps", type=int,
                   help="training steps of every model (default: the demo preset's 400 / "
                   "1500 / 600); fewer for a quicker, rougher look")  # fmt: skip
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from pathlib import Path

    from genzoo.apps.bench import PRESETS, bench

    print(f"genzoo demo: {PRESETS['demo'].description}")
    md, page = bench("demo", None, Path(args.output), args.data_root,
                     progress=sys.stderr.isatty(), steps=args.steps)  # fmt: skip
    print(f"\nthe report: {page.resolve()}  (open it in a browser; {md} is the same in "
          "markdown)")  # fmt: skip
    runs = Path(args.output) / "runs"
    print(f"the runs: {runs}/<model>; try `genzoo sample {runs / 'dcgan'} -n 64 --seed 1 "
          "-o more.png`")  # fmt: skip
    print(f"play with them in the browser: genzoo serve --runs {runs}")
    return 0


def add_bench(sub, common) -> None:
    p = add(sub, common, "bench", help="train every model on a preset, report them side by side")
    p.add_argument("--preset", default="quick", metavar="{quick,full,demo}",
                   help="quick: every model on the built-in digits, minutes; full: on MNIST, "
                   "hours; demo: what `genzoo demo` runs (default: quick)")  # fmt: skip
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
    p.add_argument("--labels-per-class", type=int, default=100,
                   help="labelled train examples per class for the probe (default 100, as "
                   "`genzoo probe`)")  # fmt: skip
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
