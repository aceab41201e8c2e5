"""`genzoo translate`: a translation run's outputs for the user's own images, or for a
split of its paired task beside the targets, as a PNG grid (one example a row)."""

from __future__ import annotations

from genzoo.cli.common import add, check_grid


def add_translate(sub, common) -> None:
    what = (
        "translate images with a trained translation run (pix2pix, cyclegan, stargan) "
        "into a PNG grid"
    )
    p = add(sub, common, "translate", help=what)
    p.add_argument("run", help="run directory")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--input", metavar="IMAGE|DIR",
                      help="an image, or a folder of images, of the model's input size and "
                      "channels: rows input | output")  # fmt: skip
    what.add_argument("--split", choices=["train", "valid", "test"],
                      help="the run's paired task: rows input | output | target")  # fmt: skip
    p.add_argument("-n", type=int, default=16, help="with --split: the first n pairs (default 16)")
    p.add_argument("-o", "--output", default="translations.png", help="PNG path")
    p.add_argument("--seed", type=int, default=0, help="seeds the dropout draw (G's noise)")
    p.add_argument("--direction", choices=["a2b", "b2a"], default="a2b",
                   help="a2b: the task's source images to its targets (default); b2a: the "
                   "targets to the sources, for a model of two directions (cyclegan)")  # fmt: skip
    p.add_argument("--to", action="append", metavar="NAME=VALUE",
                   help="a model of attribute domains (stargan): set attribute NAME of the "
                   "output to VALUE (repeatable); with --split the others keep each image's "
                   "own, with --input give every one")  # fmt: skip
    p.set_defaults(func=cmd_translate)


def cmd_translate(args) -> int:
    import torch

    from genzoo.apps.translation import (
        attribute_names,
        check_direction,
        input_shape,
        parse_targets,
        read_inputs,
        require_translation,
        translate,
    )
    from genzoo.core.errors import GenzooError
    from genzoo.io.images import check_image_path, save_grid, translation_rows
    from genzoo.metrics.translation import directions
    from genzoo.train.run import load_run, load_splits, translation_pairs

    check_image_path(args.output)
    run = load_run(args.run)
    require_translation(run)
    model, transform, direction = run.model, run.transform, args.direction
    check_direction(model, run.model_name, direction)
    batch = run.train_config.batch_size
    named = attribute_names(model)
    # --to is checked before any image or data is read
    parse_targets(model, run.model_name, args.to,
                  None if args.input else torch.zeros(1, len(named)))  # fmt: skip
    if args.input is not None:
        pixels, paths = read_inputs(args.input, input_shape(model, direction), transform.n_levels)
        check_grid(2 * len(pixels), f"{len(pixels)} images")
        source = transform.fixed(pixels, "input")
        c = parse_targets(model, run.model_name, args.to)
        c = None if c is None else c.expand(len(source), -1)
        columns = (source, translate(model, source, batch, args.seed, direction, c))
        what = f"{len(paths)} image(s) from {args.input}"
    elif named:  # attribute domains: no target images, rows input | output
        if args.n < 1:
            raise GenzooError("-n must be at least 1")
        check_grid(2 * args.n, f"-n {args.n}")
        splits = load_splits(run.data_name, args.data_root, run.train_config)
        if splits.attributes is None:
            raise GenzooError(f"{run.data_name} has no attributes to translate from")
        source = transform.fixed(splits.split(args.split)[: args.n], args.split)
        c = parse_targets(model, run.model_name, args.to,
                          splits.attributes.split(args.split)[: args.n])  # fmt: skip
        columns = (source, translate(model, source, batch, args.seed, direction, c))
        to = ", ".join(args.to)
        what = f"the first {len(source)} {args.split} images of {run.data_name} ({to})"
    else:
        if args.n < 1:
            raise GenzooError("-n must be at least 1")
        check_grid(3 * args.n, f"-n {args.n}")
        splits = load_splits(run.data_name, args.data_root, run.train_config)
        source, target = translation_pairs(splits, transform, args.split, args.n)
        if direction == "b2a":  # from the targets back to the sources
            source, target = target, source
        columns = (source, translate(model, source, batch, args.seed, direction), target)
        what = f"the first {len(source)} {args.split} pairs of {run.data_name}"
    path = save_grid(translation_rows(transform.scale, *columns), args.output, nrow=len(columns))
    layout = " | ".join(("input", "output", "target")[: len(columns)])
    way = f"{direction} " if len(directions(model)) > 1 else ""
    print(f"wrote {way}translations of {what} to {path} (rows: {layout})")
    return 0


VERBS = (add_translate,)
