"""`genzoo eval`, `genzoo score` and `genzoo probe`: the three uses of a trained model,
measured (likelihood or sample quality, anomaly scores, linear probes)."""

from __future__ import annotations

from genzoo.cli.common import (
    add,
    add_clip_options,
    add_split,
    check_memory,
    output_path,
    print_table,
)

DEFAULT_SAMPLE_METRICS = "fid,kid,is,pr"


def add_eval(sub, common) -> None:
    p = add(
        sub,
        common,
        "eval",
        help="NLL (or its bounds) of a run on a split; --metrics: FID etc.; a translation "
        "model: L1/PSNR against the true pairs, FID and classifier accuracy of its outputs; "
        "text2image with --joint: R-precision, class and attribute match, FID",
    )
    p.add_argument("run", help="run directory")
    add_split(p, "the split to evaluate on")
    p.add_argument(
        "--k", type=int, help="VAE: also estimate the NLL by importance sampling with k samples"
    )
    p.add_argument(
        "--metrics",
        help="sample quality instead, for any model that samples: a list of fid,kid,is,pr "
        f"(the default for an implicit model, which has no likelihood: {DEFAULT_SAMPLE_METRICS})"
        ", swd,msssim (ProGAN: sliced Wasserstein distance, MS-SSIM diversity) and ppl "
        "(StyleGAN's perceptual path length; models with noise z)"
        "; for singan also sifid,diversity,reconstruction (Sec. 5)",
    )
    p.add_argument(
        "--n",
        type=int,
        help="with --metrics: samples (fid,kid,is,pr: 10000; swd, msssim: 2048; sifid,"
        "diversity: 50 per scale), ppl: paths (2000); a translation model: the first N "
        "examples of the split (all); with --joint: the first N captions (all)",
    )
    p.add_argument(
        "--start-scale",
        type=int,
        action="append",
        metavar="K",
        help="with sifid,diversity: samples generated from scale K (repeatable; default 0 "
        "and 1, i.e. the paper's N and N-1)",
    )
    p.add_argument("--seed", type=int, default=0,
                   help="with --metrics: sampling seed; with --joint: z and the R-precision "
                   "candidates")  # fmt: skip
    p.add_argument("--joint", metavar="RUN|FILE",
                   help="text2image: the joint image–text model in whose space R-precision "
                   "ranks each image's caption among 100 (a `genzoo train contrastive` run on "
                   "the same images, or its weights file); also class and attribute match "
                   "and FID")  # fmt: skip
    add_clip_options(p)
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="with --metrics: a sampling option the model declares, e.g. truncation=0.7 "
        "(stylegan's ψ: the truncation trade-off)",
    )
    p.add_argument(
        "--inception",
        metavar="FILE",
        help="with --metrics: standard FID Inception-v3 weights (.safetensors, converted from "
        "pytorch-fid's pt_inception-2015-12-05-6726825d.pth) instead of genzoo's classifier",
    )
    p.set_defaults(func=cmd_eval)


def cmd_eval(args) -> int:
    from genzoo.apps.report import describe_transform, evaluate
    from genzoo.core.capabilities import Capability
    from genzoo.core.errors import GenzooError
    from genzoo.train.run import load_run, load_splits

    run = load_run(args.run)
    caps = run.model.capabilities
    if (args.clip_vocab or args.clip_act) and args.joint is None:
        raise GenzooError("--clip-vocab and --clip-act go with --joint FILE, an open_clip "
                          "ViT-CLIP weights file")  # fmt: skip
    takes_text = Capability.CONDITIONAL in caps and run.model.condition.kind == "text"
    if args.joint is not None or (takes_text and not args.metrics and args.k is None):
        return _text_metrics(args, run)
    if Capability.TRANSLATE in caps and not args.metrics and args.k is None:
        return _translation_metrics(args, run)
    if Capability.ASSEMBLE in caps and not args.metrics and args.k is None:
        return _puzzle_metrics(args, run)
    if not args.metrics and not run.has_likelihood and Capability.SAMPLE in caps:
        if args.k is not None:
            raise GenzooError(f"--k estimates a likelihood, and {run.model_name} is an implicit "
                              "model: it has none")  # fmt: skip
        args.metrics = DEFAULT_SAMPLE_METRICS
        print(f"{run.model_name} is an implicit model: it has no likelihood, so eval measures "
              f"its samples (--metrics {args.metrics})")  # fmt: skip
    if args.metrics:
        from genzoo.apps.single_image import METRICS as SINGLE

        names = {m.strip() for m in args.metrics.split(",") if m.strip()}
        if names & set(SINGLE):
            return _single_image_metrics(args, run, names)
        if args.start_scale:
            raise GenzooError("--start-scale applies to sifid and diversity (singan)")
        return _sample_metrics(args, run)
    if args.inception:
        raise GenzooError("--inception FILE applies to --metrics (fid, kid, is, pr)")
    if args.option:
        raise GenzooError("--option applies to --metrics (the samples' sampling options)")
    run.require_likelihood()  # before loading any data
    bound = Capability.ELBO in run.model.capabilities
    if args.k is not None and (not bound or args.k < 1):
        raise GenzooError("--k (importance samples, at least 1) applies to models with an ELBO")
    splits = load_splits(run.data_name, args.data_root, run.train_config)
    r = evaluate(run, splits, args.split, args.k)
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


def _single_image_metrics(args, run, names: set[str]) -> int:
    """`genzoo eval RUN --metrics sifid,diversity,reconstruction`: Sec. 5's measures."""
    from genzoo.apps.single_image import METRICS, measure
    from genzoo.core.errors import GenzooError

    if names - set(METRICS):
        raise GenzooError(f"{', '.join(sorted(names - set(METRICS)))} and "
                          f"{', '.join(sorted(names & set(METRICS)))} do not mix: run eval "
                          "once for each kind")  # fmt: skip
    scales = args.start_scale or [k for k in (0, 1) if k <= int(getattr(run.model, "scale", 0))]
    order = [m for m in METRICS if m in names]
    r = measure(run, order, 50 if args.n is None else args.n, args.seed, scales,
                args.data_root, args.inception)  # fmt: skip
    print(f"{run.model_name} on {run.data_name}: {r['n']} samples per start scale "
          f"(seed {args.seed}) against the training image")  # fmt: skip
    if r["features"]:
        print(f"  SIFID features: {r['features']}")
    header = ["start scale"] + [m for m in ("sifid", "diversity") if m in names]
    if len(header) > 1:
        print_table(header, [[str(row["start_scale"])] + [f"{row[m]:.4f}" for m in header[1:]]
                             for row in r["rows"]])  # fmt: skip
    if "reconstruction_psnr" in r:
        print(f"  reconstruction (z*, zero noise above) PSNR: {r['reconstruction_psnr']:.2f} dB")
    print(f"  data: {run.protocol}")
    return 0


def _sample_metrics(args, run) -> int:
    """`genzoo eval RUN --metrics fid,kid,is,pr,swd,msssim,ppl`: samples against a split of
    the run's data, in the features of genzoo's classifier for the dataset, or with
    `--inception FILE` in the standard FID Inception-v3's pool3; SWD and MS-SSIM in pixel
    space; PPL along latent paths, in genzoo's classifier's features."""
    from genzoo.apps.quality import DEFAULT_N, IMAGE_METRICS, evaluate_samples

    names = [m.strip() for m in args.metrics.split(",") if m.strip()]
    n_images = max([args.n or DEFAULT_N.get(m, 0) for m in names if m in IMAGE_METRICS],
                   default=0)  # fmt: skip
    check_memory(2 * n_images, run.model.data.shape, f"--n {n_images}")  # samples + reference
    from genzoo.cli.sampling import sample_options

    options = sample_options(run.model, args.option)
    r, info = evaluate_samples(run, names, args.n, args.split, args.seed, args.data_root,
                               args.inception, options=options)  # fmt: skip
    if "n_samples" in r:
        print(f"{run.model_name} on {run.data_name}: {r['n_samples']:,} samples vs "
              f"{r['n_reference']:,} {args.split} images (seed {args.seed})")  # fmt: skip
    else:
        print(f"{run.model_name} on {run.data_name} (seed {args.seed})")
    if options:
        print("  sampling options: " + ", ".join(f"{k}={v:g}" for k, v in options.items()))
    if args.inception:
        print(f"  features: Inception-v3 pool3 (weights sha256 {info['sha256'][:16]}), "
              "images resized to 299x299; standard FID for RGB data like CIFAR-10, comparable "
              "with papers only at their sample counts and reference set")  # fmt: skip
        if info["stand_in"]:
            print(f"  WARNING: {args.inception} holds genzoo's random stand-in weights, not "
                  "Inception's: these numbers measure nothing")  # fmt: skip
    elif info is not None:
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
    _print_gan_metrics(r)
    return 0


def _print_gan_metrics(r: dict) -> None:
    """SWD, MS-SSIM and PPL lines, each with its protocol."""
    if "swd" in r:
        pairs = zip(r["swd_resolutions"], r["swd_levels"], strict=True)
        levels = ", ".join(f"{res}: {d:.2f}" for res, d in pairs)
        print(f"  SWD x1e3: {r['swd']:.2f} (per level {levels})")
        small = " (below 16x16: the image itself)" if r["swd_resolutions"][0] < 16 else ""
        print(f"    protocol: ProGAN App. D: Laplacian pyramid levels {r['swd_resolutions']}"
              f"{small} (5-tap [1,4,6,4,1]/16), 128 random 7x7 neighbourhoods per image, each set "
              f"normalised per channel, 4 x 128 random directions; {r['n_swd']:,} images a "
              "side (the paper: 16,384)")  # fmt: skip
    if "msssim" in r:
        print(f"  MS-SSIM: {r['msssim']:.4f} between samples, {r['msssim_real']:.4f} between "
              "real images (lower = more diverse)")  # fmt: skip
        print(f"    protocol: mean over {r['n_pairs']:,} disjoint random pairs (real: "
              f"{r['n_pairs_real']:,}); Wang et al. 2003, 5 scales, weights (0.0448, 0.2856, "
              "0.3001, 0.2363, 0.1333), Gaussian window 11 (sigma 1.5), shrunk to the image at "
              "smaller scales (s = min(11, side), sigma = 1.5 s / 11) as the ProGAN authors' "
              "ms_ssim.py; mean over colour channels")  # fmt: skip
    if "ppl_z_full" in r:
        spaces = [s for s in ("z", "w") if f"ppl_{s}_full" in r]
        values = "   ".join(f"{s.upper()}: full {r[f'ppl_{s}_full']:.4g}, end "
                           f"{r[f'ppl_{s}_end']:.4g}" for s in spaces)  # fmt: skip
        print(f"  PPL: {values}")
        print(f"    protocol: StyleGAN Sec. 4.2: {r['n_paths']:,} paths per value (the paper: "
              "100,000), epsilon 1e-4, slerp in Z (radius sqrt(dim z)), lerp in W (styles "
              "broadcast, fixed noise), full t ~ U(0,1) / end t = 0, distances outside the "
              "1st-99th percentiles dropped; d = squared L2 in genzoo's feature network's "
              "features, NOT the paper's LPIPS/VGG16: compare only with the same feature "
              "network")  # fmt: skip


def _translation_metrics(args, run) -> int:
    """`genzoo eval RUN` of a translation model: its outputs on a split against the true
    targets (L1, PSNR; attribute hits for attribute domains) and in genzoo's feature
    network for the task (FID, and the classifier's accuracy on the outputs)."""
    from genzoo.apps.quality import evaluate_translations
    from genzoo.apps.report import evaluate_translation
    from genzoo.data.tasks import NO_TRUE_PAIRS
    from genzoo.metrics.translation import directions
    from genzoo.train.run import load_splits

    splits = load_splits(run.data_name, args.data_root, run.train_config)
    print(f"{run.model_name} on {run.data_name} ({args.split} split, seed {args.seed})")
    if splits.name in NO_TRUE_PAIRS:
        print(f"  {splits.name} has no true pairs: L1 and PSNR are not measured")
    elif not getattr(run.model, "attribute_names", ()):
        for d in directions(run.model):
            r = evaluate_translation(run, splits, args.split, d)
            base = (f"; identity map {r['identity_l1']:.4f} / {r['identity_psnr_db']:.2f} dB"
                    if "identity_l1" in r else "")  # fmt: skip
            print(f"  {d}: L1 {r['l1']:.4f}, PSNR {r['psnr_db']:.2f} dB against the true "
                  f"pairs ({r['n_examples']:,}){base}")  # fmt: skip
    r, info = evaluate_translations(run, args.split, args.n, args.seed, args.data_root, splits)
    print(f"  features: {info['identifier']}, genzoo's classifier for {info['dataset']} "
          f"(test accuracy {info['test_accuracy']:.4f}); not Inception")  # fmt: skip
    if "class_kept" in r:
        print(f"  class kept (each attribute flipped, {r['n_examples']:,} inputs): "
              f"{r['class_kept']:.4f}; the inputs' accuracy {r['input_accuracy']:.4f}")  # fmt: skip
        return 0
    base = f" (identity map {r['identity_fid']:.3f})" if "identity_fid" in r else ""
    print(f"  a2b FID against the {args.split} targets ({r['n_examples']:,}): "
          f"{r['fid']:.3f}{base}")  # fmt: skip
    print(f"  classifier accuracy on the outputs (FCN-score idea): {r['accuracy']:.4f}; "
          f"on the real targets {r['target_accuracy']:.4f}")  # fmt: skip
    return 0


def _text_metrics(args, run) -> int:
    """`genzoo eval RUN --joint JOINT` of a text-to-image run: one image per caption of the
    split, judged by R-precision in the joint model's space, genzoo's classifier and the
    captions' own measurements, and FID (genzoo.apps.text_quality)."""
    from genzoo.apps.edit import load_joint
    from genzoo.apps.sampling import require_condition
    from genzoo.apps.text_quality import evaluate_text2image
    from genzoo.core.errors import GenzooError
    from genzoo.train.run import load_splits

    require_condition(run, "text", "--joint")
    if args.joint is None:
        raise GenzooError(f"{run.model_name} is evaluated against its captions: give --joint "
                          "RUN, a joint image–text model of the same images (`genzoo train "
                          f"contrastive --data {run.data_name}`), or --metrics fid,kid,is,pr "
                          "for its samples of the shown captions")  # fmt: skip
    given = [flag for flag, v in (("--metrics", args.metrics), ("--k", args.k),
             ("--inception", args.inception), ("--option", args.option),
             ("--start-scale", args.start_scale)) if v]  # fmt: skip
    if given:
        raise GenzooError(f"--joint and {given[0]} do not mix: run eval once for each")
    joint = load_joint(args.joint, tuple(run.model.data.shape), args.clip_vocab, args.clip_act,
                       f"the {run.model_name} run makes")  # fmt: skip
    splits = load_splits(run.data_name, args.data_root, run.train_config)
    r, info = evaluate_text2image(run, joint, args.split, args.n, args.seed, args.data_root,
                                  splits)  # fmt: skip
    print(f"{run.model_name} on {run.data_name} ({args.split} split, {r['n_examples']:,} "
          f"captions, one image each, seed {args.seed})")  # fmt: skip
    note = f"; {joint.note}" if joint.note else ""
    print(f"  R-precision: {r['r_precision']:.4f}; the real images {r['r_precision_real']:.4f} "
          f"(this joint model's ceiling); chance {r['chance']:.4f}")  # fmt: skip
    print(f"    protocol: in the joint model {joint.name}{note}: each image's own caption "
          f"against {r['n_candidates'] - 1} other distinct captions of the split (seed "
          f"{args.seed}), a hit when its cosine is the highest (ties share the hit). Other "
          "sentences can say the same: a judge that reads class and properties perfectly "
          f"scores {r['r_precision_content']:.4f}")  # fmt: skip
    rows = [(what, f"{r['match'][what]:.4f}", f"{r['match_real'][what]:.4f}")
            for what in ("class", *r["attributes"], "all")]  # fmt: skip
    print_table(["  matches the caption", "generated", "real (ceiling)"],
                [(f"  {w}", *rest) for w, *rest in rows])  # fmt: skip
    measures = (f"; {', '.join(r['attributes'])}: the bins of the measurements that wrote "
                "the captions (genzoo.data.captions), on the images quantised to uint8"
                if r["attributes"] else "")  # fmt: skip
    print(f"    protocol: class: genzoo's classifier {info['identifier']} (test accuracy "
          f"{info['test_accuracy']:.4f}){measures}")  # fmt: skip
    print(f"  FID against the {r['n_examples']:,} {args.split} images: {r['fid']:.3f} "
          f"(features of {info['identifier']}; not Inception)")  # fmt: skip
    return 0


def _puzzle_metrics(args, run) -> int:
    """`genzoo eval RUN` of a model of key patches: patch L1 at the true places, mask IoU
    and FID on a split (genzoo.metrics.puzzle)."""
    from genzoo.apps.report import evaluate_puzzle, puzzle_fid_lines
    from genzoo.train.run import load_splits

    splits = load_splits(run.data_name, args.data_root, run.train_config)
    r = evaluate_puzzle(run, splits, args.split, args.seed, args.data_root)
    print(f"{run.model_name} on {run.data_name} ({args.split} split, {r['n_examples']:,} "
          f"images, seed {args.seed}), on [0, 1] pixels")  # fmt: skip
    print(f"  patch L1 at the true places: {r['patch_l1']:.4f} (an all-black image: "
          f"{r['black_patch_l1']:.4f}); image L1: {r['image_l1']:.4f}")  # fmt: skip
    if "mask_iou" in r:
        print(f"  mask IoU against the true places (M >= 0.5): {r['mask_iou']:.4f}")
    else:
        print("  mask IoU: none (mask_branch=false: the baseline predicts no masks)")
    for line in puzzle_fid_lines(r, args.split, args.seed):
        print(f"  {line}")
    return 0


def add_score(sub, common) -> None:
    p = add(sub, common, "score", help="anomaly scores of a split; with an OOD set: AUROC etc.")
    p.add_argument("run", help="run directory (any model with a likelihood, bound, encoder or D)")
    p.add_argument("--data", help="in-distribution dataset (default: the run's)")
    add_split(p, "the in-distribution split to score")
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
    ood.add_argument("--ood-folder", metavar="DIR",
                     help="every image file under a folder (subfolders: labels)")  # fmt: skip
    ood.add_argument("--ood-file", metavar="PATH",
                     help="images in an array file: .npz, or IDX (*-ubyte[.gz])")  # fmt: skip
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
    has_ood = any(v is not None for v in (args.ood, args.ood_classes, args.ood_folder,
                                          args.ood_file))  # fmt: skip
    if args.plot and not has_ood:
        raise GenzooError(
            "--plot draws in- against out-of-distribution scores: give --ood, "
            "--ood-classes, --ood-folder or --ood-file"
        )
    out = output_path(args.output, ".csv")
    splits = gdata.load(args.data or run.data_name, args.data_root)
    inside, ood = score_sets(
        run,
        splits,
        args.split,
        args.ood,
        args.ood_classes,
        args.ood_folder,
        args.data_root,
        args.ood_file,
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
        header = ["source", "index", "file", "label", "score"]
        writer.writerow(header + (["typicality"] if typical else []))
        for (source, s), values in zip(sets, scores, strict=True):
            labels = s.row_labels()
            typicality = typical.scores(values) if typical is not None else None
            for i in range(len(s)):
                row = [
                    source,
                    int(s.index[i]),
                    "" if s.names is None else s.names[int(s.index[i])],
                    "" if labels is None else int(labels[i]),
                    repr(float(values[i])),
                ]
                if typicality is not None:
                    row.append(repr(float(typicality[i])))
                writer.writerow(row)
    print(f"  wrote {n:,} rows (source, index, file, label, score) to {out}")
    return 0


def add_probe(sub, common) -> None:
    p = add(sub, common, "probe", help="linear-probe and kNN accuracy of a run's features")
    p.add_argument("run", help="run directory (ae, vae, aae, nade, gan, dcgan, infogan, wgan)")
    p.add_argument("--data", help="labelled dataset (default: the run's)")
    p.add_argument(
        "--labels-per-class",
        type=int,
        default=100,
        help="labelled training examples per class (default 100)",
    )
    add_split(p, "the split the probe is tested on")
    p.add_argument("--seed", type=int, default=0, help="draws the labelled examples")
    p.set_defaults(func=cmd_probe)


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
    print_table(
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


VERBS = (
    add_eval,
    add_score,
    add_probe,
)
