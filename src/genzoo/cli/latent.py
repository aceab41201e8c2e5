"""`genzoo encode`, `genzoo interpolate` and `genzoo latent`: a latent model's codes."""

from __future__ import annotations

from genzoo.cli.common import add, add_split, check_grid, output_path


def add_encode(sub, common) -> None:
    p = add(sub, common, "encode", help="codes of a dataset split from a run with an encoder")
    p.add_argument("run", help="run directory (ae, vae, aae)")
    p.add_argument("--data", help="dataset (default: the run's)")
    add_split(p, "the split to encode")
    p.add_argument("-o", "--output", default="codes.npy", help=".npy path (labels beside it)")
    p.set_defaults(func=cmd_encode)


def cmd_encode(args) -> int:
    import numpy as np

    from genzoo import data as gdata
    from genzoo.apps.latent import encode_all, require_encoder, run_inputs
    from genzoo.train.run import load_run

    run = load_run(args.run)
    require_encoder(run.model, run.model_name)
    splits = gdata.load(args.data or run.data_name, args.data_root)
    codes = encode_all(run.model, run_inputs(run, splits, args.split)).numpy()
    out = output_path(args.output, ".npy")
    np.save(out, codes)
    print(f"wrote {codes.shape[0]:,} codes of dimension {codes.shape[1]} to {out}")
    labels = getattr(splits, f"{args.split}_labels")
    if labels is not None:
        label_path = out.with_name(out.stem + ".labels.npy")
        np.save(label_path, labels.numpy())
        print(f"wrote their labels to {label_path}")
    return 0


def add_interpolate(sub, common) -> None:
    p = add(sub, common, "interpolate", help="decode the straight line between two inputs' codes")
    p.add_argument("run", help="run directory (ae, vae, aae)")
    p.add_argument("--pair", action="append", metavar="I,J",
                   help="indices of two examples of the split; repeat for more rows")  # fmt: skip
    p.add_argument(
        "--steps",
        type=int,
        default=10,
        help="decoded points from one code to the other, ends included (default 10)",
    )
    add_split(p, "the split --pair indexes")
    p.add_argument("-o", "--output", default="interpolation.png", help="PNG path")
    p.set_defaults(func=cmd_interpolate)


def cmd_interpolate(args) -> int:
    import torch

    from genzoo import data as gdata
    from genzoo.apps.latent import interpolate, require_encoder, run_inputs
    from genzoo.core.errors import GenzooError
    from genzoo.io.images import save_grid, to_unit_range
    from genzoo.train.run import load_run

    run = load_run(args.run)
    if args.steps < 1:
        raise GenzooError("--steps must be at least 1")
    check_grid(len(args.pair or ["0,1"]) * (args.steps + 2), f"--steps {args.steps}")
    require_encoder(run.model, run.model_name)
    x = run_inputs(run, gdata.load(run.data_name, args.data_root), args.split)
    rows = []
    for pair in args.pair or ["0,1"]:
        try:
            i, j = (int(v) for v in pair.split(","))
        except ValueError:
            raise GenzooError(f"--pair takes two example indices I,J, not {pair!r}") from None
        if not (0 <= i < len(x) and 0 <= j < len(x)):
            raise GenzooError(f"--pair {pair}: the {args.split} split has {len(x)} examples")
        path = interpolate(run.model, x[i], x[j], args.steps)
        rows.append(torch.cat([x[i][None], path, x[j][None]]))
    images = to_unit_range(torch.cat(rows), run.model.data.n_values, run.transform.scale)
    out = save_grid(images, output_path(args.output, ".png"), nrow=args.steps + 2)
    print(f"wrote {len(rows)} interpolation(s) of {args.steps} steps to {out} "
          "(each row: first input, decoded path, second input)")  # fmt: skip
    return 0


def add_latent(sub, common) -> None:
    p = add(sub, common, "latent", help="how well the codes match the prior: MMD, 2-D scatter plot")
    p.add_argument("run", help="run directory (ae, vae, aae)")
    p.add_argument("--prior", help="compare with this prior (default: the model's own)")
    add_split(p, "the split to encode")
    p.add_argument("-n", type=int, default=5000, help="number of codes (default 5000)")
    p.add_argument("-o", "--output", default="latent.png", help="PNG path (2-D codes only)")
    p.set_defaults(func=cmd_latent)


def cmd_latent(args) -> int:
    import torch

    from genzoo import data as gdata
    from genzoo.apps.latent import (
        encode_all,
        latent_figure,
        prior_samples,
        require_encoder,
        run_inputs,
        share_on_own_component,
    )
    from genzoo.core.capabilities import Capability
    from genzoo.metrics.mmd import mmd2
    from genzoo.train.run import load_run

    run = load_run(args.run)
    model = run.model
    require_encoder(model, run.model_name)
    splits = gdata.load(run.data_name, args.data_root)
    codes = encode_all(model, run_inputs(run, splits, args.split)[: args.n])
    labels = getattr(splits, f"{args.split}_labels")
    labels = labels[: len(codes)] if labels is not None else None
    name, prior = prior_samples(model, len(codes), args.prior, torch.Generator().manual_seed(0))
    distance = mmd2(codes, prior)
    print(f"{run.model_name} on {run.data_name}: {len(codes):,} {args.split} codes, "
          f"latent_dim {codes.shape[1]}")  # fmt: skip
    print(
        f"  MMD^2(codes, {name} prior) = {distance:.4f}  (unbiased; Gaussian kernels at "
        "0.25-4x the prior's median distance; 0 when the codes follow the prior)"
    )
    labelled = Capability.CONDITIONAL in model.capabilities and model.condition.kind == "label"
    if labelled and labels is not None:
        share = share_on_own_component(codes, labels)
        print(f"  codes nearest their label's mixture component: {share:.1%} (chance: 10%)")
    if codes.shape[1] == 2:
        title = f"{run.model_name} codes ({args.split}), MMD² to prior {distance:.3f}"
        out = latent_figure(codes, labels, prior, name, title, output_path(args.output, ".png"))
        print(f"wrote the codes beside the prior's samples to {out}")
    else:
        print("  (no plot: the scatter plot needs latent_dim=2)")
    return 0


VERBS = (
    add_encode,
    add_interpolate,
    add_latent,
)
