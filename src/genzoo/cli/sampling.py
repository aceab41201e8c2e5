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
        "--text",
        help="text-conditioned models (text2image): the caption to draw, e.g. 'a thin two "
        "leaning left'; refused when empty or over the encoder's 256 word pieces",
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
    try:
        size = tuple(int(v) for v in args.size.lower().split("x"))
    except ValueError:
        size = ()
    if len(size) != 2 or not all(1 <= v <= 4096 for v in size):
        raise GenzooError(f"--size {args.size}: expected HxW in pixels, e.g. 64x200")
    return size


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
