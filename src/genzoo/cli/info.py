"""`genzoo models`, `genzoo params` and `genzoo data`: what genzoo has, and where."""

from __future__ import annotations

from genzoo.cli.common import EXIT_USAGE, add, print_table


def add_models(sub, common) -> None:
    p = add(sub, common, "models", help="list models, their family and capabilities")
    p.set_defaults(func=cmd_models)


def cmd_models(args) -> int:
    from genzoo.models import list_models

    rows = [(s.name, s.family, s.density, ", ".join(s.capabilities.names),
             ", ".join(o.name for o in s.cls.sample_options) or "-", s.description)
            for s in list_models()]  # fmt: skip
    print_table(["model", "family", "density", "can", "sample options", "description"], rows)
    return 0


def add_params(sub, common) -> None:
    p = add(sub, common, "params", help="the lecture's parameter counts beside genzoo's models")
    p.add_argument("--pixels", type=int, default=784, help="number of binary inputs n")
    p.set_defaults(func=cmd_params)


def _big(n: int) -> str:
    if n < 10**15:
        return f"{n:,}"
    digits = str(n)
    return f"{digits[0]}.{digits[1:4]} x 10^{len(digits) - 1}"


def cmd_params(args) -> int:
    import math

    from genzoo.core import DataInfo, GenzooError
    from genzoo.models import list_models

    n = args.pixels
    if n < 1:
        raise GenzooError("--pixels must be at least 1")
    print(f"The lecture's counts for a joint over n = {n} binary pixels:")
    print_table(
        ["assumption", "formula", "parameters"],
        [
            ("fully dependent (full joint)", "2^n - 1", _big(2**n - 1)),
            ("fully independent", "n", _big(n)),
            ("Markov chain, AR-1", "2n - 1", _big(2 * n - 1)),
        ],
    )
    print(f"\ngenzoo's models for {n} inputs (default configs):")
    rows = []
    for spec in list_models():
        kind = "binary" if "binary" in spec.cls.data_kinds else sorted(spec.cls.data_kinds)[0]
        side = math.isqrt(n)
        shape = (1, side, side) if side * side == n else (1, n)  # images where n is square
        info = DataInfo(shape, 2 if kind == "binary" else None if kind == "continuous" else 256)
        try:
            count = _big(spec.cls(spec.default_config(), info).n_parameters())
        except (GenzooError, ValueError, RuntimeError) as e:
            count = f"n/a ({e})"
        rows.append((spec.name, kind, count))
    print_table(["model", "data", "parameters"], rows)
    return 0


def add_data(sub, common) -> None:
    p = add(sub, common, "data", help="list, fetch or verify datasets")
    p.add_argument("action", choices=["list", "fetch", "verify", "captions"],
                   help="list: every dataset's files and their state; fetch: download one; "
                   "verify: check md5s, exit 2 if any file is bad or missing; captions: "
                   "print the first captions of a captioned task and what they were "
                   "written from")  # fmt: skip
    p.add_argument("name", nargs="?", help="a dataset (default: all)")
    p.add_argument(
        "--data",
        dest="captioned",
        metavar="NAME",
        help="captions: mnist or cifar10 (or mnist-captions, cifar10-captions)",
    )
    p.add_argument("-n", type=int, default=20, help="captions: how many (default 20)")
    p.add_argument(
        "--of",
        dest="caption_split",
        default="train",
        choices=["train", "valid", "test"],
        help="captions: of which split (default train; test: the held-out templates)",
    )
    p.set_defaults(func=cmd_data)


def cmd_data(args) -> int:
    from genzoo import data as gdata
    from genzoo.data.catalog import BUILTIN, DESCRIPTIONS

    if args.action == "captions":
        return _captions(args)
    names = [args.name] if args.name else gdata.dataset_names()
    if args.action == "fetch":
        if not args.name:
            from genzoo.core.errors import GenzooError

            raise GenzooError("name the dataset to fetch, e.g. `genzoo data fetch mnist`")
        for path in gdata.fetch(args.name, args.data_root):
            print(f"ok  {path}")
        return 0
    rows, bad = [], False
    for name in names:
        if name in BUILTIN:
            rows.append((name, "(built in)", "ok", "-", DESCRIPTIONS[name]))
        for s in gdata.file_status(name, args.data_root):
            rows.append((s.dataset, s.file, s.state, str(s.path), s.detail))
            bad |= s.state == "bad" or (args.action == "verify" and s.state == "missing")
    if not rows:
        print(f"(no files: {args.name} is read from where it is named)")
    print_table(["dataset", "file", "status", "path", "detail"], rows)
    if not args.name:
        print(f"data root: {gdata.data_root(args.data_root)}; also --data folder:PATH (image "
              "files, subfolders as labels), --data file:PATH.npz|PATH-ubyte.gz and --data "
              "image:china|flower|grace_hopper|PATH[@SIZE] (one image)")  # fmt: skip
    return EXIT_USAGE if args.action == "verify" and bad else 0


def _captions(args) -> int:
    """`genzoo data captions --data mnist -n 20`: index, class, measured properties, caption."""
    from genzoo import data as gdata
    from genzoo.core.errors import GenzooError
    from genzoo.data.captions import CAPTION_TASKS, caption_split

    name = args.captioned or args.name
    if name is None:
        raise GenzooError("name the captioned data, e.g. `genzoo data captions --data mnist`")
    task = CAPTION_TASKS.get(name) or CAPTION_TASKS.get(f"{name}-captions")
    if task is None:
        bases = ", ".join(t.base for t in CAPTION_TASKS.values())
        raise GenzooError(f"no captions for {name!r}: captioned data are {bases}")
    if not 1 <= args.n <= 10_000:
        raise GenzooError(f"-n {args.n}: expected 1..10000")
    base = gdata.load(task.base, args.data_root, splits=(args.caption_split,))
    _, labels, properties, captions = caption_split(task, base, args.caption_split, args.n)
    rows = []
    for i, (y, p, c) in enumerate(zip(labels.tolist(), properties, captions, strict=True)):
        measured = ", ".join(f"{k} {v:.2f}" for k, v in p["measured"].items())
        values = ", ".join(v for k, v in p.items() if k != "measured")
        rows.append((str(i), str(y), measured, values, c))
    print_table(["row", "class", "measured", "values", "caption"], rows)
    print(
        f"{task.name}, {args.caption_split} split: captions by genzoo.data.captions (seeded; "
        f"{'held-out' if args.caption_split == 'test' else 'training'} templates)"
    )
    return 0


VERBS = (
    add_models,
    add_params,
    add_data,
)
