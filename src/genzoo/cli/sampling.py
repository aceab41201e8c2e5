"""`genzoo sample`: samples, conditional samples, traversals and completions as a PNG grid."""

from __future__ import annotations

from genzoo.cli.common import add, check_grid, parse_sets


def add_sample(sub, common) -> None:
    p = add(sub, common, "sample", help="draw samples from a trained run into a PNG grid")
    p.add_argument("run", help="run directory")
    p.add_argument("-n", type=int, help="number of samples (default 64; completions: 8)")
    p.add_argument("-o", "--output", default="samples.png", help="PNG path")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed: the same seed gives the same samples (default 0)",
    )
    p.add_argument("--label", type=int, help="conditional models (cgan): the class to sample")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a sampling option the model declares (repeatable), e.g. truncation=0.7 for "
        "GANs, temperature=0.8 for the VAE; `genzoo models` lists them",
    )
    p.add_argument("--size", metavar="HxW", help="singan: samples of this size, e.g. 64x200")
    p.add_argument(
        "--scale-x",
        type=float,
        metavar="F",
        help="singan: samples F times as wide as the image (Sec. 4), e.g. 2",
    )
    p.add_argument(
        "--start-scale",
        type=int,
        metavar="K",
        help="singan: fresh noise from scale K on (0 = coarsest), the scales below "
        "reconstructing the image (Fig. 6); with --from: where the image is injected",
    )
    p.add_argument(
        "--from",
        dest="from_image",
        metavar="IMAGE",
        help="singan: a PNG/JPEG injected at --start-scale K >= 1 (paint-to-image, editing, "
        "harmonisation; Sec. 4), or the input of --super-resolution",
    )
    p.add_argument(
        "--super-resolution",
        type=float,
        metavar="F",
        help="singan: upsample the training image (or --from) F times by the finest "
        "generator, repeatedly (Sec. 4); -n defaults to 1, written at its own size",
    )
    p.add_argument(
        "--animate",
        type=int,
        metavar="FRAMES",
        help="singan: a GIF (-o ending .gif) of a random walk in the noise, 10 frames/s",
    )
    p.add_argument(
        "--truncation",
        type=float,
        metavar="PSI",
        help="the truncation trick, short for --option truncation=PSI: stylegan's ψ in W "
        "(1 = as trained, 0 = the average image; Sec. 4), other GANs' bound τ on z",
    )
    p.add_argument(
        "--mix-from",
        type=int,
        metavar="SEED",
        help="stylegan: the samples of --seed with the styles of --mix-layers taken from "
        "this seed's z (style mixing, Sec. 3.1)",
    )
    p.add_argument(
        "--mix-layers",
        default="coarse",
        metavar="LAYERS",
        help="with --mix-from: coarse | middle | fine | A:B (layers A..B-1); default coarse",
    )
    p.add_argument(
        "--mix-grid",
        action="store_true",
        help="stylegan: the paper's Figure 3: 5 source seeds (--seed ...) across the top, 3 "
        "destinations down the side, a block of rows each for coarse, middle and fine",
    )
    p.add_argument(
        "--noise-only",
        action="store_true",
        help="stylegan: one w (--seed's) with -n noise realisations, then the per-pixel "
        "standard deviation over them as the last image (the paper's Figure 4)",
    )
    p.add_argument(
        "--interpolate",
        metavar="SEED_A,SEED_B",
        help="a row of --steps images on the line between two seeds' noise (each the first "
        "of `sample --seed S`'s 16); --space w: between their w (stylegan)",
    )
    p.add_argument("--space", default="z", choices=("z", "w"), help="with --interpolate")
    p.add_argument("--steps", type=int, default=8, help="with --interpolate: images (8)")
    p.add_argument(
        "--text",
        help="text-conditioned models (text2image): the caption to draw, e.g. 'a thin two "
        "leaning left'; refused when empty or over the encoder's 256 word pieces",
    )
    p.add_argument(
        "--patches",
        metavar="A.png,B.png,...",
        help="puzzle-gan: the whole image from these key patches (as many as the model "
        "takes, each PxP), and where each belongs: a row per draw of -n (default 1): the "
        "patches | the image | each patch's mask",
    )
    p.add_argument("--code", help="infogan: fix latent codes, e.g. cat=3 or cat=3,cont0=0.5")
    p.add_argument(
        "--traverse",
        metavar="CODE",
        help="infogan: a grid varying one code (cont0, cont1: a row per category; cat)",
    )
    p.add_argument(
        "--complete",
        metavar="IMAGE",
        help="complete this image instead (autoregressive models): sample its unknown pixels",
    )
    p.add_argument(
        "--known",
        default="top-half",
        help="with --complete: top-half | bottom-half | left-half | right-half | MASK.png "
        "(white = known); default top-half",
    )
    p.set_defaults(func=cmd_sample)


def cmd_sample(args) -> int:
    import torch

    from genzoo.apps.sampling import display, draw_samples, require_condition
    from genzoo.core.errors import GenzooError
    from genzoo.io.images import save_grid
    from genzoo.train.run import load_run

    run = load_run(args.run)
    if args.patches is not None:
        return _assemble(args, run)
    if args.truncation is not None:
        args.option = [*args.option, f"truncation={args.truncation}"]
    styles = [flag for flag, value in (("--mix-from", args.mix_from),
              ("--mix-grid", args.mix_grid or None), ("--noise-only", args.noise_only or None),
              ("--interpolate", args.interpolate)) if value is not None]  # fmt: skip
    if styles:
        return _styles(args, run, styles)
    pyramid = [flag for flag, value in (("--start-scale", args.start_scale),
               ("--from", args.from_image), ("--super-resolution", args.super_resolution),
               ("--animate", args.animate)) if value is not None]  # fmt: skip
    if pyramid:
        return _single_image(args, run, pyramid)
    if args.n is None:
        args.n = 64 if args.complete is None else 8
    if args.n < 1:
        raise GenzooError("-n must be at least 1")
    check_grid(args.n * (1 if args.complete is None else 2), f"-n {args.n}")
    if args.complete is not None:
        torch.manual_seed(args.seed)
        return _complete(args, run)
    model, nrow = run.model, None
    options = sample_options(model, args.option)
    if args.traverse is not None:
        require_condition(run, "codes", "--code and --traverse")
        torch.manual_seed(args.seed)
        x = display(run, model.traversal(args.traverse))  # a row per value of the categorical code
        nrow = 10 if args.traverse == "cat" else len(x) // model.condition.n_classes
    else:
        given = [o for o, v in (("--label", args.label), ("--code", args.code),
                                ("--text", args.text)) if v is not None]  # fmt: skip
        if len(given) > 1:
            raise GenzooError(f"give one condition, not {' and '.join(given)}")
        condition = args.text if args.text is not None else None
        if args.label is not None or args.code is not None:
            condition = _condition(args)
        x = draw_samples(run, args.n, args.seed, condition, options, _size(args, model))
    path = save_grid(x, args.output, nrow=nrow)
    print(f"wrote {len(x)} samples to {path}")
    return 0


MIX_SOURCES, MIX_DESTINATIONS = 5, 3  # --mix-grid: seeds S..S+4 and S+5..S+7


def _styles(args, run, flags: list[str]) -> int:
    """--mix-from, --mix-grid, --noise-only, --interpolate: a style-based generator's
    controls (interpolation also for any model that samples from noise)."""
    from genzoo.apps import sampling as app
    from genzoo.core.errors import GenzooError
    from genzoo.io.images import save_grid

    others = [flag for flag, value in (("--label", args.label), ("--code", args.code),
              ("--text", args.text), ("--traverse", args.traverse),
              ("--complete", args.complete), ("--size", args.size),
              ("--scale-x", args.scale_x)) if value is not None]  # fmt: skip
    if len(flags) > 1 or others:
        raise GenzooError(f"{flags[0]} does not combine with {', '.join((flags + others)[1:])}")
    if flags[0] != "--interpolate" and args.space != "z":
        raise GenzooError("--space applies to --interpolate")
    options = sample_options(run.model, args.option)
    psi = options.get("truncation")
    n = 64 if args.n is None else args.n
    if n < 1:
        raise GenzooError("-n must be at least 1")
    nrow, lines = None, []
    if args.mix_from is not None:
        check_grid(n, f"-n {n}")
        x = app.mix_styles(run, n, args.seed, args.mix_from, args.mix_layers, psi)
        lines.append(f"seed {args.seed}'s samples with the {args.mix_layers} styles of seed "
                     f"{args.mix_from}")  # fmt: skip
    elif args.mix_grid:
        s = args.seed
        sources = list(range(s, s + MIX_SOURCES))
        destinations = list(range(s + MIX_SOURCES, s + MIX_SOURCES + MIX_DESTINATIONS))
        x, labels = app.mix_grid(run, sources, destinations, psi)
        nrow = MIX_SOURCES + 1
        lines += [f"columns: destination, then sources seeds {sources[0]}-{sources[-1]}",
                  *(f"row {i}: {label}" for i, label in enumerate(labels, 1))]  # fmt: skip
    elif args.noise_only:
        check_grid(n + 1, f"-n {n}")
        x = app.noise_variations(run, args.seed, n, psi)
        lines.append(f"seed {args.seed}'s w, {n} noise realisations; the last image: "
                     "the per-pixel standard deviation (white = the maximum)")  # fmt: skip
    else:
        try:
            a, b = (int(v) for v in args.interpolate.split(","))
        except ValueError:
            raise GenzooError(f"--interpolate {args.interpolate}: expected two seeds, "
                              "e.g. 3,7") from None  # fmt: skip
        if not 2 <= args.steps <= 64:
            raise GenzooError(f"--steps {args.steps}: expected 2..64")
        x = app.interpolate_seeds(run, a, b, args.steps, 16, options, args.space)
        nrow = args.steps
        lines.append(f"from seed {a} to seed {b} in {args.space.upper()}")
    path = save_grid(x, args.output, nrow=nrow)
    print(f"wrote {len(x)} images to {path}")
    for line in lines:
        print(f"  {line}")
    return 0


def _assemble(args, run) -> int:
    """--patches A,B,C: Puzzle-GAN's whole image and masks from key patches."""
    from genzoo.apps.sampling import assemble_rows, read_patches
    from genzoo.core.errors import GenzooError
    from genzoo.io.images import check_image_path, save_grid

    others = [flag for flag, value in (("--label", args.label), ("--code", args.code),
              ("--text", args.text), ("--traverse", args.traverse),
              ("--complete", args.complete), ("--size", args.size),
              ("--scale-x", args.scale_x), ("--truncation", args.truncation),
              ("--option", args.option or None), ("--interpolate", args.interpolate),
              ("--mix-from", args.mix_from), ("--start-scale", args.start_scale),
              ("--from", args.from_image)) if value is not None]  # fmt: skip
    if others:
        raise GenzooError(f"--patches does not combine with {', '.join(others)}")
    n = 1 if args.n is None else args.n
    if not 1 <= n <= 64:
        raise GenzooError(f"-n {n}: give 1..64 draws")
    check_image_path(args.output)
    patches = read_patches(run, [p.strip() for p in args.patches.split(",") if p.strip()])
    x, per_row = assemble_rows(run, patches, n, args.seed)
    path = save_grid(x, args.output, nrow=per_row)
    masks = "each patch's mask (white = 1)" if per_row > run.model.config.n_patches + 1 else (
        "no masks (mask_branch=false)")  # fmt: skip
    print(f"wrote {n} row(s) to {path}: the patches | the whole image | {masks}")
    return 0


def _single_image(args, run, flags: list[str]) -> int:
    """--start-scale, --from, --super-resolution, --animate: SinGAN's applications."""
    from genzoo.apps import single_image as app
    from genzoo.core.errors import GenzooError
    from genzoo.io.images import check_image_path, save_gif, save_grid, save_image

    app.require_pyramid(run, flags[0])
    others = [flag for flag, value in (("--label", args.label), ("--code", args.code),
              ("--text", args.text), ("--traverse", args.traverse),
              ("--complete", args.complete),
              ("--option", args.option or None)) if value is not None]  # fmt: skip
    sized = args.size is not None or args.scale_x is not None

    def refuse(option: str, *conflicts: str) -> None:
        clash = [c for c in conflicts if c in flags or c in others or
                 (c == "--size" and sized) or (c == "-n" and args.n is not None)]  # fmt: skip
        if clash:
            shown = [c if c != "--size" else "--size/--scale-x" for c in clash]
            raise GenzooError(f"{option} does not combine with {', '.join(shown)}")

    refuse(flags[0], *others)
    image, notes = None, []
    if args.animate is not None:
        refuse("--animate", "--from", "--super-resolution", "--size", "-n")
        if not 2 <= args.animate <= 1000:
            raise GenzooError(f"--animate {args.animate}: give 2..1000 frames")
        if not args.output.lower().endswith(".gif"):
            raise GenzooError(f"-o {args.output}: --animate writes a GIF: give a path ending .gif")
        frames = app.animation(run, args.animate, args.seed, args.start_scale or 0)
        path = save_gif(frames, args.output)
        print(f"wrote {len(frames)} frames to {path}")
        return 0
    n = args.n
    if n is not None and n < 1:
        raise GenzooError("-n must be at least 1")
    check_image_path(args.output)
    if args.from_image is not None:
        image, notes = app.read_image(args.from_image, run.model.data.shape[0])
    if args.super_resolution is not None:
        refuse("--super-resolution", "--start-scale", "--size")
        x = app.super_resolution(run, args.super_resolution, args.seed, n or 1, image,
                                 args.data_root)  # fmt: skip
        source = args.from_image or "the training image"
        what = f"{source} super-resolved ×{args.super_resolution:g}"
    else:
        if args.start_scale is None:
            raise GenzooError("--from IMAGE needs --start-scale K (where it is injected, K >= 1) "
                              "or --super-resolution F")  # fmt: skip
        n = n or (8 if image is not None else 64)
        check_grid(n, f"-n {n}")
        if image is not None:
            refuse("--from", "--size")
        x = app.from_scale(run, n, args.seed, args.start_scale, image, _size(args, run.model))
        what = (f"{args.from_image} injected at scale {args.start_scale}" if image is not None
                else f"samples from scale {args.start_scale}")  # fmt: skip
    path = save_image(x[0], args.output) if len(x) == 1 else save_grid(x, args.output)
    note = f" ({'; '.join(notes)})" if notes else ""
    print(f"wrote {len(x)} image(s), {what}{note}, {x.shape[-2]}x{x.shape[-1]} each, to {path}")
    return 0


def _size(args, model) -> tuple[int, int] | None:
    """--size HxW or --scale-x F as (H, W) pixels, or None for the data's size."""
    from genzoo.core.errors import GenzooError

    if args.size is not None and args.scale_x is not None:
        raise GenzooError("give --size or --scale-x, not both")
    h, w = model.data.shape[-2:]
    if args.scale_x is not None:
        if not 0 < args.scale_x <= 16:
            raise GenzooError(f"--scale-x {args.scale_x}: expected a factor in (0, 16]")
        return h, max(1, round(w * args.scale_x))
    if args.size is None:
        return None
    from genzoo.apps.sampling import parse_size

    return parse_size(args.size)


def sample_options(model, pairs: list[str]) -> dict[str, float]:
    """--option name=value pairs, checked against the options the model declares."""
    from genzoo.apps.sampling import check_options
    from genzoo.core.errors import GenzooError

    options = {}
    for name, value in parse_sets(pairs).items():
        try:
            options[name] = float(value)
        except ValueError:
            declared = {o.name for o in model.sample_options}
            if name in declared:
                raise GenzooError(f"--option {name}={value}: expected a number") from None
            options[name] = float("nan")  # check_options names the unknown option
    return check_options(model, options)


def _condition(args):
    """--label 7 -> 7;  --code cat=3,cont0=0.5 -> {"cat": 3.0, "cont0": 0.5}."""
    from genzoo.core.errors import GenzooError

    if args.label is not None:
        return args.label
    code = {}
    for part in args.code.split(","):
        name, sep, value = part.partition("=")
        try:
            code[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise GenzooError(f"--code takes name=value pairs, e.g. cat=3,cont0=0.5; got {part!r}")
    return code


def _complete(args, run) -> int:
    """`genzoo sample RUN --complete IMAGE --known REGION`: one row per image, the observed
    part (unknown pixels grey) then the completions."""
    import torch

    from genzoo.apps.complete import (
        complete,
        read_image,
        read_known,
        require_completion,
        to_model_values,
    )
    from genzoo.io.images import save_grid, to_unit_range

    model, n = run.model, args.n
    require_completion(model)
    shape, K = model.data.shape, model.data.n_values
    known = read_known(args.known, shape)
    x = to_model_values(read_image(args.complete, shape), K)[None]
    filled = complete(model, x, known, n)  # (1, n, C, H, W)
    observed = torch.where(known, to_unit_range(x, K), torch.tensor(0.5))
    rows = torch.cat([observed[:, None], to_unit_range(filled, K)], dim=1)
    path = save_grid(rows.flatten(0, 1), args.output, nrow=n + 1)
    print(f"wrote {n} completions of {args.complete} ({args.known} known) to {path}")
    return 0


VERBS = (add_sample,)
