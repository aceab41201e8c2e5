"""The `genzoo` command: a thin layer over the Python API.

Errors a user can act on (`GenzooError`) print one line and exit with code 2; `--debug`
shows the traceback. Heavy imports happen inside the commands, so `genzoo --help` is instant.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

EXIT_USAGE = 2
SPLITS = ["train", "valid", "test"]
EXIT_INTERRUPTED = 130


def parse_sets(pairs: list[str]) -> dict[str, str]:
    from genzoo.core.errors import GenzooError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise GenzooError(f"--set takes key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def cmd_models(args) -> int:
    from genzoo.models import list_models

    rows = [(s.name, s.family, s.density, ", ".join(s.capabilities.names), s.description)
            for s in list_models()]  # fmt: skip
    _print_table(["model", "family", "density", "can", "description"], rows)
    return 0


def cmd_train(args) -> int:
    from genzoo.train.run import train_run

    if args.resume is None and args.model is None:
        from genzoo.core.errors import GenzooError

        raise GenzooError("give a MODEL to train, or --resume RUN_DIR to continue a run")
    run = train_run(
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
    if run.stopped == "interrupted":
        print(f"interrupted: checkpoint written; continue with `genzoo train --resume {run.path}`")
        return EXIT_INTERRUPTED
    return 0


def cmd_sample(args) -> int:
    import torch

    from genzoo.core.errors import GenzooError
    from genzoo.io.images import save_grid, to_unit_range
    from genzoo.train.run import load_run

    run = load_run(args.run)
    if args.n is None:
        args.n = 64 if args.complete is None else 8
    if args.n < 1:
        raise GenzooError("-n must be at least 1")
    torch.manual_seed(args.seed)
    if args.complete is not None:
        return _complete(args, run)
    model, nrow = run.model, None
    if args.traverse is not None or args.label is not None or args.code is not None:
        from genzoo.core.capabilities import Capability

        if Capability.CONDITIONAL not in model.capabilities:
            raise GenzooError(f"{run.model_name} does not sample conditionally")
        condition = model.condition
        wanted = "label" if args.label is not None else "codes"
        if condition.kind != wanted:
            option = "--label" if wanted == "label" else "--code and --traverse"
            raise GenzooError(f"{run.model_name} is conditioned on {condition.kind}, so "
                              f"{option} does not apply")  # fmt: skip
    if args.traverse is not None:
        x = model.traversal(args.traverse)  # a row per value of the categorical code
        nrow = 10 if args.traverse == "cat" else len(x) // model.condition.n_classes
    elif args.label is not None or args.code is not None:
        x = model.sample(args.n, condition=_condition(args))
    else:
        x = model.sample(args.n)
    path = save_grid(to_unit_range(x, model.data.n_values, run.transform.scale), args.output,
                     nrow=nrow)  # fmt: skip
    print(f"wrote {len(x)} samples to {path}")
    return 0


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


def cmd_eval(args) -> int:
    from genzoo.core.capabilities import Capability
    from genzoo.core.errors import GenzooError
    from genzoo.train.run import describe_transform, load_run, load_splits

    run = load_run(args.run)
    if args.metrics:
        return _sample_metrics(args, run)
    if args.inception:
        raise GenzooError("--inception FILE applies to --metrics (fid, kid, is, pr)")
    run.require_likelihood()  # before loading any data
    bound = Capability.ELBO in run.model.capabilities
    if args.k is not None and (not bound or args.k < 1):
        raise GenzooError("--k (importance samples, at least 1) applies to models with an ELBO")
    splits = load_splits(run.data_name, args.data_root, run.train_config)
    r = run.evaluate(splits, args.split, args.k)
    print(f"{run.model_name} on {run.data_name} ({args.split}, {r['n_examples']:,} examples)")
    if bound:
        print(f"  -ELBO: {r['neg_elbo_nats']:.3f} nats = reconstruction "
              f"{r['reconstruction_nats']:.3f} + prior fitting {r['prior_fitting_nats']:.3f}"
              f"   (NLL <= this; {r['bits_per_dim_bound']:.4f} bits/dim)")  # fmt: skip
        if args.k:
            print(f"  NLL estimate (IWAE, k={args.k}): {r['iwae_nll_nats']:.3f} nats   "
                  f"{r['iwae_bits_per_dim']:.4f} bits/dim (a stochastic upper bound)")  # fmt: skip
    else:
        print(f"  NLL: {r['nll_nats']:.3f} nats   {r['bits_per_dim']:.4f} bits/dim")
    print(f"  data: {run.protocol}")
    print(f"  transform: {describe_transform(run.transform)}")
    return 0


def _sample_metrics(args, run) -> int:
    """`genzoo eval RUN --metrics fid,kid,is,pr`: samples against a split of the run's data,
    in the features of genzoo's classifier for the dataset, or with `--inception FILE` in
    the standard FID Inception-v3's pool3."""
    from genzoo.apps.quality import evaluate_samples

    names = [m.strip() for m in args.metrics.split(",") if m.strip()]
    r, info = evaluate_samples(
        run, names, args.n, args.split, args.seed, args.data_root, args.inception
    )
    print(f"{run.model_name} on {run.data_name}: {r['n_samples']:,} samples vs "
          f"{r['n_reference']:,} {args.split} images (seed {args.seed})")  # fmt: skip
    if args.inception:
        print(f"  features: Inception-v3 pool3 (weights sha256 {info['sha256'][:16]}), "
              "images resized to 299x299; standard FID for RGB data like CIFAR-10, comparable "
              "with papers only at their sample counts and reference set")  # fmt: skip
        if info["stand_in"]:
            print(f"  WARNING: {args.inception} holds genzoo's random stand-in weights, not "
                  "Inception's: these numbers measure nothing")  # fmt: skip
    else:
        print(f"  features: {info['identifier']}, genzoo's classifier for {info['dataset']} "
              f"(test accuracy {info['test_accuracy']:.4f}); not Inception: compare only with "
              "numbers from the same feature network")  # fmt: skip
    if "fid" in r:
        print(f"  FID: {r['fid']:.3f}")
    if "kid_mean" in r:
        print(f"  KID: {r['kid_mean']:.4f} +- {r['kid_std']:.4f} (unbiased; subsets)")
    if "is" in r and args.inception:
        print(f"  IS: {r['is']:.3f} (softmax over Inception's 1008 unbiased logits; "
              "one split, where papers average 10)")  # fmt: skip
    elif "is" in r:
        print(f"  IS: {r['is']:.3f} (classifier-softmax score; at most the number of classes)")
        counts = r["class_counts"]
        print(f"  samples per class 0-{len(counts) - 1} (classifier's argmax): "
              + " ".join(str(c) for c in counts))  # fmt: skip
    if "precision" in r:
        print(f"  precision: {r['precision']:.4f}   recall: {r['recall']:.4f} (k = 3)")
    return 0


def cmd_encode(args) -> int:
    import numpy as np

    from genzoo import data as gdata
    from genzoo.apps.latent import encode_all, require_encoder, run_inputs
    from genzoo.train.run import load_run

    run = load_run(args.run)
    require_encoder(run.model, run.model_name)
    splits = gdata.load(args.data or run.data_name, args.data_root)
    codes = encode_all(run.model, run_inputs(run, splits, args.split)).numpy()
    out = _output_path(args.output, ".npy")
    np.save(out, codes)
    print(f"wrote {codes.shape[0]:,} codes of dimension {codes.shape[1]} to {out}")
    labels = getattr(splits, f"{args.split}_labels")
    if labels is not None:
        label_path = out.with_name(out.stem + ".labels.npy")
        np.save(label_path, labels.numpy())
        print(f"wrote their labels to {label_path}")
    return 0


def _output_path(path: str, suffix: str):
    from pathlib import Path

    from genzoo.core.errors import GenzooError

    out = Path(path)
    if out.suffix != suffix:
        raise GenzooError(f"-o {path}: expected a {suffix} file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def cmd_interpolate(args) -> int:
    import torch

    from genzoo import data as gdata
    from genzoo.apps.latent import interpolate, require_encoder, run_inputs
    from genzoo.core.errors import GenzooError
    from genzoo.io.images import save_grid, to_unit_range
    from genzoo.train.run import load_run

    run = load_run(args.run)
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
    out = save_grid(images, _output_path(args.output, ".png"), nrow=args.steps + 2)
    print(f"wrote {len(rows)} interpolation(s) of {args.steps} steps to {out} "
          "(each row: first input, decoded path, second input)")  # fmt: skip
    return 0


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
        out = latent_figure(codes, labels, prior, name, title, _output_path(args.output, ".png"))
        print(f"wrote the codes beside the prior's samples to {out}")
    else:
        print("  (no plot: the scatter plot needs latent_dim=2)")
    return 0


def cmd_score(args) -> int:
    import csv
    import time
    from pathlib import Path

    import torch

    from genzoo import data as gdata
    from genzoo.apps.anomaly import (
        anomaly_scores,
        describe_kind,
        fit_typicality,
        held_in,
        ood_metrics,
        score_histogram,
        score_kind,
        score_sets,
    )
    from genzoo.core.errors import GenzooError
    from genzoo.train.run import load_run

    run = load_run(args.run)
    kind = score_kind(run, args.k)  # refuses before loading any data
    if args.typicality and not run.has_likelihood:
        raise GenzooError(
            f"--typicality needs a likelihood or a bound; {run.model_name} scores with a {kind}"
        )
    has_ood = args.ood is not None or args.ood_classes is not None or args.ood_folder
    if args.plot and not has_ood:
        raise GenzooError(
            "--plot draws in- against out-of-distribution scores: give --ood, "
            "--ood-classes or --ood-folder"
        )
    out = _output_path(args.output, ".csv")
    splits = gdata.load(args.data or run.data_name, args.data_root)
    inside, ood = score_sets(
        run, splits, args.split, args.ood, args.ood_classes, args.ood_folder, args.data_root
    )
    for note in [*inside.notes, *(ood.notes if ood else [])]:
        print(f"note: {note}")
    sets = [("in", inside)] + ([("ood", ood)] if ood else [])
    inputs = [s.model_inputs(run) for _, s in sets]
    started = time.perf_counter()
    scores = [anomaly_scores(run, x, args.k)[0] for x in inputs]
    seconds = time.perf_counter() - started
    n = sum(len(x) for x in inputs)
    what = " and ".join(f"{len(s):,} {s.name}" for _, s in sets)
    print(f"{run.model_name} ({run.data_name} run): anomaly scores of {what}")
    print(f"  score: {kind}, higher = more anomalous: {describe_kind(kind)}")
    threads = torch.get_num_threads()
    print(
        f"  speed: {n / max(seconds, 1e-9):,.0f} examples/s ({n:,} examples in "
        f"{seconds:.2f} s, {threads} thread{'s' if threads > 1 else ''})"
    )

    typical = None
    if args.typicality:
        train_x = held_in(inside, splits, "train", run, limit=args.typicality_train)
        valid_x = held_in(inside, splits, "valid", run)
        typical = fit_typicality(
            anomaly_scores(run, train_x, args.k)[0],
            anomaly_scores(run, valid_x, args.k)[0],
            args.typicality_m,
            args.alpha,
        )
        print(
            f"  typicality test (Nalisnick et al. 2019): H^ = {typical.entropy:.3f} nats "
            f"(mean {kind} of {typical.n_train:,} train examples); M = {typical.m}, "
            f"alpha = {typical.alpha}: epsilon = {typical.epsilon:.3f} from "
            f"{typical.n_bootstrap:,} bootstrap batches of {len(valid_x):,} valid examples"
        )
        rates = [
            f"{name} {typical.flag_rate(s):.3f}" for (name, _), s in zip(sets, scores, strict=True)
        ]
        print(
            f"  batches of {typical.m} flagged out of distribution (1,000 random batches "
            f"each): {', '.join(rates)}"
        )

    if ood is not None:
        m = ood_metrics(*scores)
        print(
            f"  AUROC {m['auroc']:.4f}   AUPRC {m['auprc']:.4f}   FPR@95TPR "
            f"{m['fpr_at_95_tpr']:.4f}   (OOD = positive class; score: {kind})"
        )
        if m["auroc"] < 0.5:
            print(
                f"  WARNING: the OOD set gets LOWER anomaly scores than the in-distribution "
                f"data (AUROC {m['auroc']:.3f} < 0.5): the model finds it more typical of "
                "its data. Likelihood models are known to do this (Nalisnick et al. 2019: "
                "a model of Fashion-MNIST gives MNIST higher likelihood); try --typicality"
            )
        if typical is not None:
            t = ood_metrics(*(typical.scores(s) for s in scores))
            print(
                f"  per-example typicality |score - H^|: AUROC {t['auroc']:.4f}   AUPRC "
                f"{t['auprc']:.4f}   FPR@95TPR {t['fpr_at_95_tpr']:.4f}"
            )
        plot = Path(args.plot) if args.plot else out.with_suffix(".png")
        title = f"{run.model_name}: AUROC {m['auroc']:.3f}"
        path = score_histogram(*scores, inside.name, ood.name, kind, plot, title)
        print(f"  histogram: {path}")

    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["source", "index", "label", "score"] + (["typicality"] if typical else []))
        for (source, s), values in zip(sets, scores, strict=True):
            labels = s.row_labels()
            typicality = typical.scores(values) if typical is not None else None
            for i in range(len(s)):
                row = [
                    source,
                    int(s.index[i]),
                    "" if labels is None else int(labels[i]),
                    repr(float(values[i])),
                ]
                if typicality is not None:
                    row.append(repr(float(typicality[i])))
                writer.writerow(row)
    print(f"  wrote {n:,} rows (source, index, label, score) to {out}")
    return 0


def cmd_probe(args) -> int:
    from genzoo import data as gdata
    from genzoo.apps.probe import K_NEIGHBOURS, feature_source, probe_table
    from genzoo.train.run import load_run

    run = load_run(args.run)
    feature_source(run.model)  # refuses before loading any data
    splits = gdata.load(args.data or run.data_name, args.data_root)
    rows, p = probe_table(run, splits, args.labels_per_class, args.split, args.seed)
    print(
        f"{run.model_name} ({run.data_name} run): linear probe and {K_NEIGHBOURS}-NN "
        f"accuracy on {splits.name} {p['split']} ({p['n_test']:,} examples)"
    )
    _print_table(
        ["features", "linear probe", f"kNN (k={K_NEIGHBOURS})", "dim"],
        [(r.features, f"{r.linear:.4f}", f"{r.knn:.4f}", r.dim) for r in rows],
    )
    print(
        f"protocol: {p['labels_per_class']} labelled train examples per class "
        f"({p['n_labelled']:,} in all, {p['n_classes']} classes) drawn with seed {p['seed']}; "
        "features standardised on them; logistic regression (L2, C=1) and k-NN "
        f"(Euclidean); accuracy on the {p['split']} split; majority-class rate "
        f"{p['chance']:.4f}"
    )
    return 0


def cmd_bench(args) -> int:
    from pathlib import Path

    from genzoo.apps.bench import bench

    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    out = Path(args.output or f"bench-{args.preset}")
    md, page = bench(args.preset, models, out, args.data_root, progress=sys.stderr.isatty())
    print(f"wrote {md} and {page}")
    return 0


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
    _print_table(
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
    _print_table(["model", "data", "parameters"], rows)
    return 0


def cmd_data(args) -> int:
    from genzoo import data as gdata

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
        for s in gdata.file_status(name, args.data_root):
            rows.append((s.dataset, s.file, s.state, str(s.path), s.detail))
            bad |= s.state == "bad" or (args.action == "verify" and s.state == "missing")
    if not rows:
        print(f"(no files: built in) under {gdata.data_root(args.data_root)}")
    _print_table(["dataset", "file", "status", "path", "detail"], rows)
    return EXIT_USAGE if args.action == "verify" and bad else 0


def cmd_demo(args) -> int:
    from genzoo.train.run import train_run

    print("genzoo demo: NADE on scikit-learn's 8x8 digits (static binarisation)")
    settings = {"epochs": "100", "val_every": "60", "patience": "5"}
    run = train_run("nade", "digits", settings, run_dir=args.run_dir, data_root=args.data_root,
                    command="genzoo demo")  # fmt: skip
    return _finish(run)


def _print_table(header: list[str], rows: list[tuple]) -> None:
    rows = [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]  # fmt: skip
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genzoo", description="Deep generative models, next to their papers."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--data-root", help="where datasets live (default: $GENZOO_DATA, cache)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("models", help="list models, their family and capabilities")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("train", help="train a model; writes a run directory")
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

    p = sub.add_parser("sample", help="draw samples from a trained run into a PNG grid")
    p.add_argument("run", help="run directory")
    p.add_argument("-n", type=int, help="number of samples (default 64; completions: 8)")
    p.add_argument("-o", "--output", default="samples.png", help="PNG path")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", type=int, help="conditional models (cgan): the class to sample")
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

    p = sub.add_parser("eval", help="NLL (or its bounds) of a run on a split; --metrics: FID etc.")
    p.add_argument("run", help="run directory")
    p.add_argument("--split", default="test", choices=SPLITS)
    p.add_argument(
        "--k", type=int, help="VAE: also estimate the NLL by importance sampling with k samples"
    )
    p.add_argument(
        "--metrics",
        help="sample quality instead, for any model that samples: a list of fid,kid,is,pr",
    )
    p.add_argument("--n", type=int, default=10_000, help="with --metrics: samples (10000)")
    p.add_argument("--seed", type=int, default=0, help="with --metrics: sampling seed")
    p.add_argument(
        "--inception",
        metavar="FILE",
        help="with --metrics: standard FID Inception-v3 weights (.safetensors, converted from "
        "pytorch-fid's pt_inception-2015-12-05-6726825d.pth) instead of genzoo's classifier",
    )
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("encode", help="codes of a dataset split from a run with an encoder")
    p.add_argument("run", help="run directory (ae, vae, aae)")
    p.add_argument("--data", help="dataset (default: the run's)")
    p.add_argument("--split", default="test", choices=SPLITS)
    p.add_argument("-o", "--output", default="codes.npy", help=".npy path (labels beside it)")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("interpolate", help="decode the straight line between two inputs' codes")
    p.add_argument("run", help="run directory (ae, vae, aae)")
    p.add_argument("--pair", action="append", metavar="I,J",
                   help="indices of two examples of the split; repeat for more rows")  # fmt: skip
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--split", default="test", choices=SPLITS)
    p.add_argument("-o", "--output", default="interpolation.png", help="PNG path")
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("latent", help="how well the codes match the prior: MMD, 2-D scatter plot")
    p.add_argument("run", help="run directory (ae, vae, aae)")
    p.add_argument("--prior", help="compare with this prior (default: the model's own)")
    p.add_argument("--split", default="test", choices=SPLITS)
    p.add_argument("-n", type=int, default=5000, help="number of codes (default 5000)")
    p.add_argument("-o", "--output", default="latent.png", help="PNG path (2-D codes only)")
    p.set_defaults(func=cmd_latent)

    p = sub.add_parser("score", help="anomaly scores of a split; with an OOD set: AUROC etc.")
    p.add_argument("run", help="run directory (any model with a likelihood, bound, encoder or D)")
    p.add_argument("--data", help="in-distribution dataset (default: the run's)")
    p.add_argument("--split", default="test", choices=SPLITS)
    ood = p.add_mutually_exclusive_group()
    ood.add_argument(
        "--ood",
        metavar="NAME",
        help="a dataset of the same image shape (its test split), or "
        "corrupt:noise | corrupt:invert | corrupt:flip | corrupt:blur",
    )
    ood.add_argument(
        "--ood-classes",
        metavar="C[,C...]",
        help="leave-classes-out: these classes of the split are the OOD set",
    )
    ood.add_argument("--ood-folder", metavar="DIR", help="every image file in a folder")
    p.add_argument("--k", type=int, help="VAE: score by the IWAE estimate with k samples")
    p.add_argument(
        "--typicality",
        action="store_true",
        help="also the typicality test (Nalisnick et al. 2019); likelihood models",
    )
    p.add_argument(
        "--typicality-m",
        type=int,
        default=10,
        metavar="M",
        help="inputs per tested batch (default 10)",
    )
    p.add_argument(
        "--alpha",
        type=float,
        default=0.01,
        help="typicality test: false-alarm rate on in-distribution batches (0.01)",
    )
    p.add_argument(
        "--typicality-train",
        type=int,
        default=10_000,
        metavar="N",
        help="training examples that estimate the entropy (default 10000)",
    )
    p.add_argument("-o", "--output", default="scores.csv", help="CSV path")
    p.add_argument("--plot", help="histogram PNG path (default: beside the CSV)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("probe", help="linear-probe and kNN accuracy of a run's features")
    p.add_argument("run", help="run directory (ae, vae, aae, nade, gan, dcgan, infogan, wgan)")
    p.add_argument("--data", help="labelled dataset (default: the run's)")
    p.add_argument(
        "--labels-per-class",
        type=int,
        default=100,
        help="labelled training examples per class (default 100)",
    )
    p.add_argument("--split", default="test", choices=SPLITS, help="evaluation split")
    p.add_argument("--seed", type=int, default=0, help="draws the labelled examples")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("bench", help="train every model on a preset, report them side by side")
    p.add_argument("--preset", default="quick", help="quick (digits, minutes) or full (MNIST)")
    p.add_argument("--models", help="comma-separated model names (default: every model)")
    p.add_argument("-o", "--output", help="report folder (default: bench-<preset>)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("compare", help="report existing runs side by side")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories")
    p.add_argument("-o", "--output", default="compare", help="report folder (default: compare)")
    p.add_argument("--labels-per-class", type=int, default=10,
                   help="labelled train examples per class for the probe (default 10)")  # fmt: skip
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("params", help="the lecture's parameter counts beside genzoo's models")
    p.add_argument("--pixels", type=int, default=784, help="number of binary inputs n")
    p.set_defaults(func=cmd_params)

    p = sub.add_parser("data", help="list, fetch or verify datasets")
    p.add_argument("action", choices=["list", "fetch", "verify"])
    p.add_argument("name", nargs="?", help="a dataset (default: all)")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("demo", help="train a model on the built-in digits, sample, report")
    p.add_argument("--run-dir", help="default: runs/<model>-digits-<time>")
    p.set_defaults(func=cmd_demo)
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
