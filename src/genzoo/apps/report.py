"""A run's report and its likelihood numbers: what `genzoo train` writes into report.md and
`genzoo eval` prints, read from a trained run (genzoo.train.run) and its data.

    evaluate(run, splits, split, k)   NLL (or −ELBO = reconstruction + prior fitting, and
                                      IWAE_k) of a split, in nats and bits/dim
    write_report(run, splits)         samples.png, reconstructions.png (translations.png)
                                      and report.md
    train_and_report(...)             genzoo.train.run.train_run, then the report
"""

from __future__ import annotations

import math

import torch

from genzoo.core.capabilities import Capability
from genzoo.core.units import bits_per_dim
from genzoo.io.files import read_json
from genzoo.train.run import Run

# how reports name each model's validation metric (GenerativeModel.validation_metric)
VALIDATION_NAMES = {"nll": "NLL", "neg_elbo": "−ELBO", "neg_iwae": "−IWAE_k"}


def evaluate(run: Run, splits, split: str, k: int | None = None) -> dict[str, float]:
    """NLL of a split of the run's dataset, in nats and bits/dim, as in training.

    Models with an ELBO report −ELBO (an upper bound on the NLL) split into its
    reconstruction and prior-fitting terms and, with `k`, the IWAE_k estimate of the
    NLL ("iwae_nll_nats"); exact models report "nll_nats".
    """
    from genzoo.metrics.likelihood import mean_terms, nll_report

    run.require_likelihood()
    model, cfg, n_dims = run.model, run.train_config, run.model.data.n_dims
    x = run.transform.fixed(splits.split(split), split)
    if Capability.LOG_PROB in model.capabilities:
        score = lambda xb: {"nll": model.validation_nll(xb)}  # noqa: E731
    else:
        score = lambda xb: model.evaluation_terms(xb, k)  # noqa: E731
    what = (
        "log p(x)"
        if Capability.LOG_PROB in model.capabilities
        else (f"ELBO and IWAE (k={k})" if k else "ELBO")
    )
    terms = mean_terms(model, x, score, run.transform, cfg.eval_batch_size, cfg.seed,
                       desc=f"{what} of the {split} split")  # fmt: skip
    out = {"n_examples": x.shape[0]}
    if "nll" in terms:
        return out | nll_report(terms["nll"], n_dims)
    out |= {f"{key}_nats": value for key, value in terms.items()}
    out["bits_per_dim_bound"] = bits_per_dim(terms["neg_elbo"], n_dims)
    if "iwae_nll" in terms:
        out["iwae_bits_per_dim"] = bits_per_dim(terms["iwae_nll"], n_dims)
    return out


def write_report(run: Run, splits, result, seconds: float) -> None:
    """samples.png and report.md for a finished (or interrupted) run."""
    from genzoo.io.images import save_grid, to_unit_range

    model, cfg = run.model, run.train_config
    config = read_json(run.path / "config.json")
    init_from = config.get("init_from")
    lines = [
        f"# {run.model_name} on {run.data_name}",
        "",
        *(f"- command: `{c}`" for c in config["commands"]),
        *([f"- initialised from the trained weights of `{init_from}`"] if init_from else []),
        f"- stopped: {result.stopped} at step {result.step} "
        f"(epoch {result.step / math.ceil(len(splits.train) / cfg.batch_size):.1f})",
        f"- training loop, all sessions: {result.cpu_seconds:.0f} s CPU, "
        f"{result.wall_seconds:.0f} s wall; this command: {seconds:.0f} s wall",
        f"- parameters: {model.n_parameters():,}",
        f"- data: {run.protocol}",
        f"- transform: {describe_transform(run.transform)}",
        "",
    ]
    interrupted = result.stopped == "interrupted"
    if result.selected_by is not None and (interrupted or not run.has_likelihood):
        lines += [weights_line(model, result), ""]
    elif run.has_likelihood and result.stopped != "interrupted":
        lines += likelihood_table(run, splits, result)
    elif result.best_val_nll is not None and run.has_likelihood:  # interrupted
        what = VALIDATION_NAMES[model.validation_metric]
        lines += [f"Best validation {what} so far: {result.best_val_nll:.2f} nats per example. "
                  "Interrupted: the valid and test table is written when the run completes "
                  f"(`genzoo train --resume {run.path}`).", ""]  # fmt: skip
    elif result.best_val_nll is not None:
        lines += [f"Best validation {model.validation_metric}: {result.best_val_nll:.2f} "
                  "nats per example (not a likelihood of x).", ""]  # fmt: skip
    warnings = list(getattr(result, "warnings", []))  # the trainer's, then the monitor's
    monitor = run.path / "progress" / "warnings.txt"
    if monitor.exists():
        warnings += monitor.read_text().splitlines()
    if warnings:
        lines += ["Warnings during training:", "", *(f"- {w}" for w in warnings), ""]
    if cfg.n_samples and Capability.SAMPLE in model.capabilities:
        torch.manual_seed(cfg.seed)
        x = model.sample(cfg.n_samples)
        save_grid(
            to_unit_range(x, model.data.n_values, run.transform.scale), run.path / "samples.png"
        )
        lines += ["![samples](samples.png)", ""]
    if Capability.TRANSLATE in model.capabilities:
        lines += translation_section(run, splits)
    if Capability.JOINT in model.capabilities:
        lines += joint_section(run, splits)
    if Capability.ASSEMBLE in model.capabilities:
        lines += puzzle_section(run, splits)
    if Capability.ENCODE in model.capabilities and hasattr(model, "reconstruct"):
        x = run.transform.fixed(splits.test[:32], "test")
        x = run.transform.batch(x, torch.Generator().manual_seed(cfg.seed)).to(model.device)
        pairs = torch.stack([x, model.reconstruct(x)], dim=1).flatten(0, 1)
        path = run.path / "reconstructions.png"
        save_grid(to_unit_range(pairs, model.data.n_values, run.transform.scale), path, nrow=16)
        lines += ["Test images (left) beside their reconstructions (right):", "",
                  "![reconstructions](reconstructions.png)", ""]  # fmt: skip
    (run.path / "report.md").write_text("\n".join(lines))


def evaluate_translation(run: Run, splits, split: str, direction: str = "a2b") -> dict[str, float]:
    """L1 and PSNR of a translation run's outputs against the targets of a split (b2a: its
    sources), beside the identity map's (genzoo.metrics.translation gives the protocol)."""
    from genzoo.metrics.translation import translation_metrics
    from genzoo.train.run import translation_pairs

    source, target = translation_pairs(splits, run.transform, split)
    cfg = run.train_config
    return translation_metrics(run.model, source, target, run.transform.scale, cfg.batch_size,
                               cfg.seed, direction)  # fmt: skip


def attribute_section(run: Run, splits) -> list[str]:
    """A model of attribute domains (StarGAN): per attribute, the share of test outputs
    whose measured attribute reaches the flipped target (genzoo.metrics.translation gives
    the protocol), and translations.png: test inputs | each attribute flipped."""
    from genzoo.io.images import save_grid, translation_rows
    from genzoo.metrics.translation import attribute_metrics

    model, transform, cfg = run.model, run.transform, run.train_config
    if splits.attributes is None or splits.name != "morpho-mnist":
        return [f"{splits.name} has no attribute measurements: translations not judged.", ""]
    x = transform.fixed(splits.test, "test")
    c = splits.attributes.test
    rows = attribute_metrics(model, x, c, transform.scale, cfg.batch_size)
    lines = [f"Each of the {len(x):,} test images translated to its own attributes with one "
             "flipped; the outputs measured (Morpho-MNIST thickness and slant, "
             "genzoo.data.morpho): hit = share whose measured attribute reaches the target, "
             "kept = share whose other attributes stay, input hit = the unchanged inputs "
             "measured against the target (identity baseline).", "",
             "| attribute flipped | hit ↑ | kept ↑ | input hit |", "|---|---|---|---|"]  # fmt: skip
    for name, r in rows.items():
        lines.append(f"| {name} | {r['hit']:.3f} | {r['kept']:.3f} | {r['input_hit']:.3f} |")
    x16, c16 = x[:16], c[:16]
    columns = [x16]
    for k in range(c.shape[1]):
        target = c16.clone()
        target[:, k] = 1 - target[:, k]
        columns.append(model.translate(x16, target=target).cpu())
    save_grid(translation_rows(transform.scale, *columns), run.path / "translations.png",
              nrow=len(columns))  # fmt: skip
    flipped = " | ".join(f"{n} flipped" for n in model.attribute_names)
    return [*lines, "", f"Test inputs | {flipped}:", "", "![translations](translations.png)", ""]


def translation_table(rows: dict[str, dict], ways: tuple[str, ...]) -> list[str]:
    """The report's table of test L1 and PSNR against the true pairs, per direction."""
    r = rows["a2b"]
    lines = [
        f"Translations of the {r['n_examples']:,} test inputs against their targets: pixels in "
        "[0, 1], one dropout draw (seed), PSNR averaged over images. The identity map "
        "(output = input) is the baseline."
        + (
            " a2b maps the task's sources to its targets, b2a the targets back to the "
            "sources; both are judged against the true pairs."
            if len(ways) > 1
            else ""
        ),
        "",
        "| split | L1 ↓ | PSNR (dB) ↑ | identity L1 | identity PSNR (dB) |",
        "|---|---|---|---|---|",
    ]
    for d, r in rows.items():
        identity = [f"{r[k]:.4f}" if k in r else "-" for k in ("identity_l1",)]
        identity += [f"{r[k]:.2f}" if k in r else "-" for k in ("identity_psnr_db",)]
        name = "test" if len(ways) == 1 else f"test {d}"
        lines.append(f"| {name} | {r['l1']:.4f} | {r['psnr_db']:.2f} | {' | '.join(identity)} |")
    lines.append("")
    return lines


def translation_section(run: Run, splits) -> list[str]:
    """The test split's L1 and PSNR (each direction of a two-way model, and its cycle
    reconstruction error), and translations.png: test inputs | outputs | targets."""
    from genzoo.data.tasks import NO_TRUE_PAIRS
    from genzoo.io.images import save_grid, translation_rows
    from genzoo.metrics.translation import cycle_metrics, directions
    from genzoo.train.run import translation_pairs

    if getattr(run.model, "attribute_names", ()):
        return attribute_section(run, splits)
    ways = directions(run.model)
    paired = splits.name not in NO_TRUE_PAIRS
    if paired:
        lines = translation_table({d: evaluate_translation(run, splits, "test", d) for d in ways},
                                  ways)  # fmt: skip
    else:  # a row's target is any image of the other domain: L1 to it measures nothing
        lines = [f"{splits.name} has no true pairs (its test rows are unrelated images of the "
                 "two domains): L1 and PSNR are not measured; `genzoo eval` gives FID and the "
                 "classifier's accuracy on the outputs.", ""]  # fmt: skip
    source, target = translation_pairs(splits, run.transform, "test")
    if len(ways) > 1:
        c = cycle_metrics(run.model, source, target, run.transform.scale,
                          run.train_config.batch_size)  # fmt: skip
        lines += [f"Cycle reconstruction error on the test split (mean absolute error of [0, 1] "
                  f"pixels): |F(G(a)) − a| = {c['cycle_a_l1']:.4f} (sources), "
                  f"|G(F(b)) − b| = {c['cycle_b_l1']:.4f} (targets).", ""]  # fmt: skip
    source, target = source[:16], target[:16]
    y = run.model.translate(source, generator=torch.Generator().manual_seed(run.train_config.seed))
    save_grid(translation_rows(run.transform.scale, source, y, target),
              run.path / "translations.png", nrow=3)  # fmt: skip
    targets = "targets" if paired else "unrelated images of the target domain"
    return [*lines, f"Test inputs | translations | {targets}:", "",
            "![translations](translations.png)", ""]  # fmt: skip


JOINT_FILE = "joint.json"  # a joint model's test numbers, which every use of it quotes


def joint_section(run: Run, splits) -> list[str]:
    """A joint image–text model's zero-shot accuracy and retrieval top-1 on the test split
    (genzoo.metrics.joint), also written to joint.json in the run."""
    from genzoo.data.captions import class_prompts
    from genzoo.data.text import embed
    from genzoo.io.files import write_json
    from genzoo.metrics.joint import joint_report

    if splits.captions is None:
        return [f"{splits.name} has no captions: zero-shot accuracy not measured.", ""]
    x = run.transform.fixed(splits.test, "test")
    prompts = class_prompts(splits.name)
    r = joint_report(run.model, x, splits.test_labels, splits.captions.test,
                     list(splits.captions.text("test")), prompts, embed)  # fmt: skip
    write_json(run.path / JOINT_FILE, r | {"data": splits.name, "split": "test"})
    lines = [f"Test split of {splits.name} ({r['n_examples']:,} images with their held-out-"
             "template captions), genzoo.metrics.joint:", ""]  # fmt: skip
    if "zero_shot_accuracy" in r:
        n = len(prompts)
        lines.append(f"- zero-shot accuracy: {r['zero_shot_accuracy']:.3f} (chance "
                     f"{1 / n:.3f}); each image assigned the nearest of {n} class prompts "
                     f"\"{prompts[0]}\" … \"{prompts[-1]}\"")  # fmt: skip
    lines += [f"- retrieval top-1: image → caption {r['image_to_text']:.3f}, caption → image "
              f"{r['text_to_image']:.3f} among the {r['n_examples']:,} test captions",
              ""]  # fmt: skip
    return lines


def evaluate_puzzle(run: Run, splits, split: str, seed: int = 0,
                    data_root=None) -> dict:  # fmt: skip
    """Patch L1 at the true places, mask IoU, and FID and KID against the split's real
    images beside those of as many real images of another split (the first ones of the
    training split; of valid when the split is train), of a model of key patches
    (genzoo.metrics.puzzle gives the protocol). FID is in the feature network of the
    dataset whose images the task shows (genzoo.apps.edit.images_of: fashion-patches ->
    fashion-mnist). Besides the metrics: "feature_network" (its identifier),
    "feature_input" (what part of the images it sees), "reference_split", "reference_n";
    or "fid_not_measured": why not, when the network cannot judge these images."""
    from genzoo.apps.edit import images_of
    from genzoo.core.errors import GenzooError
    from genzoo.io.images import to_unit_range
    from genzoo.metrics.features import LABELLED_TWIN, feature_network
    from genzoo.metrics.puzzle import network_window, puzzle_metrics

    if "patches" not in splits.images or splits.attributes is None:
        raise GenzooError(f"{splits.name} has no key patches and places to judge "
                          f"{run.model_name} by: use fashion-patches")  # fmt: skip
    t = run.transform
    x = t.fixed(splits.split(split), split)
    patches = t.fixed(splits.images["patches"].split(split), f"{split}/patches")
    images = images_of(run.data_name)
    net, info = feature_network(LABELLED_TWIN.get(images, images), data_root)
    other = "valid" if split == "train" else "train"
    reference = t.fixed(splits.split(other)[: len(x)], other)
    try:
        rows, cols = network_window(net, to_unit_range(x, None, t.scale))
    except GenzooError as e:  # e.g. a task whose images are not its base dataset's
        net, reference, out = None, None, {"fid_not_measured": str(e)}
    else:
        (H, W), S = x.shape[-2:], net.image_size
        seen = f"the whole {H}x{W}" if (H, W) == (S, S) else f"the centred {S}x{S} of the {H}x{W}"
        out = {"feature_network": info["identifier"], "feature_input": f"{seen} images",
               "reference_split": other, "reference_n": len(reference)}  # fmt: skip
    return out | puzzle_metrics(run.model, x, patches, splits.attributes.split(split), t.scale,
                                run.train_config.eval_batch_size, seed, net,
                                reference)  # fmt: skip


def puzzle_fid_lines(r: dict, split: str, seed: int) -> list[str]:
    """What `genzoo eval` and the report say of evaluate_puzzle's FID and KID (r)."""
    if "fid" not in r:
        return [f"FID: not measured ({r['fid_not_measured']})"]
    n, m, other = f"{r['n_examples']:,}", f"{r['reference_n']:,}", r["reference_split"]
    kid = lambda key: f"KID {r[f'{key}_mean']:.4f} ± {r[f'{key}_std']:.4f}"  # noqa: E731
    return [f"FID against the {n} real {split} images of the images generated from each one's "
            f"own patches (one z each, seed {seed}): {r['fid']:.3f} ({kid('kid')})",
            f"FID against them of the first {m} real {other} images (what real images score "
            f"at this n): {r['reference_fid']:.3f} ({kid('reference_kid')})",
            f"protocol: features of genzoo's {r['feature_network']} (not Inception) on "
            f"{r['feature_input']}, [0, 1] pixels (genzoo.metrics.puzzle)"]  # fmt: skip


def puzzle_section(run: Run, splits) -> list[str]:
    """The test split's patch L1, mask IoU and FID, and assembled.png: for the first 8 test
    images, their patches | the generated image | its masks | the real image."""
    from genzoo.apps.sampling import assemble_rows
    from genzoo.io.images import save_grid, to_unit_range

    seed = run.train_config.seed
    r = evaluate_puzzle(run, splits, "test", seed, run.data_root)
    iou = f"{r['mask_iou']:.4f}" if "mask_iou" in r else "none (mask_branch=false)"
    lines = ["| test split | patch L1 at the true places | black image's | image L1 | "
             "mask IoU (≥ 0.5) |", "|---|---|---|---|---|",
             f"| {r['n_examples']:,} images | {r['patch_l1']:.4f} | {r['black_patch_l1']:.4f} "
             f"| {r['image_l1']:.4f} | {iou} |", "",
             "On [0, 1] pixels (genzoo.metrics.puzzle gives the protocol).", "",
             *(f"- {line}" for line in puzzle_fid_lines(r, "test", seed)),
             ""]  # fmt: skip
    t, rows = run.transform, []
    for i in range(min(8, len(splits.test))):
        patches = t.fixed(splits.images["patches"].test[i : i + 1], "test/patches")
        row, _ = assemble_rows(run, patches, 1, run.train_config.seed + i)
        real = to_unit_range(t.fixed(splits.test[i : i + 1], "test"), None, t.scale)
        rows.append(torch.cat([row, real]))
    save_grid(torch.cat(rows), run.path / "assembled.png", nrow=len(rows[0]))
    return [*lines, "Test patches | generated image | each patch's mask | the real image:", "",
            "![assembled](assembled.png)", ""]  # fmt: skip


def weights_line(model, result) -> str:
    """Which weights model.safetensors holds: the best validation loss, or what selected."""
    if result.best_val_nll is None:  # e.g. a cpu_budget spent before the first validation
        return "Weights: the latest (training stopped before its first validation)."
    if result.selected_by is not None:
        return f"Weights: the lowest {result.selected_by} ({result.best_val_nll:.2f})."
    what = VALIDATION_NAMES[model.validation_metric]
    return f"Weights: the best validation {what} ({result.best_val_nll:.2f} nats)."


def likelihood_table(run: Run, splits, result) -> list[str]:
    model = run.model
    if Capability.LOG_PROB in model.capabilities:
        lines = ["| split | NLL (nats) | bits/dim |", "|---|---|---|"]
        for split in ("valid", "test"):
            r = evaluate(run, splits, split)
            lines.append(f"| {split} | {r['nll_nats']:.2f} | {r['bits_per_dim']:.4f} |")
        return [*lines, "", weights_line(model, result), ""]
    k = model.eval_k
    lines = [
        "−ELBO = reconstruction + prior fitting is an upper bound on the NLL; the IWAE "
        f"estimate with k={k} is a tighter one (Burda et al. 2016). All in nats per example.",
        "",
        f"| split | −ELBO | reconstruction | prior fitting (KL) | NLL ≤ (IWAE, k={k}) "
        "| bits/dim (IWAE) |",
        "|---|---|---|---|---|---|",
    ]
    for split in ("valid", "test"):
        r = evaluate(run, splits, split, k)
        lines.append(
            f"| {split} | {r['neg_elbo_nats']:.2f} | {r['reconstruction_nats']:.2f} "
            f"| {r['prior_fitting_nats']:.2f} | {r['iwae_nll_nats']:.2f} "
            f"| {r['iwae_bits_per_dim']:.4f} |"
        )
    lines += ["", weights_line(model, result), ""]
    if model.objective_note():
        lines += [model.objective_note(), ""]
    return lines


def describe_transform(t) -> str:
    parts = [f"binarize={t.binarize}", f"scale={t.scale}"]
    if t.dequantize:
        parts.append("uniform dequantisation (NLL of the 8-bit data)")
    return ", ".join(parts)


def train_and_report(*args, **kwargs) -> Run | None:
    """`genzoo.train.run.train_run` (same arguments), then the run's report; None in the
    other processes of a torchrun launch."""
    from genzoo.train.run import train_run

    run = train_run(*args, **kwargs)
    if run is not None:
        write_report(run, run.splits, run.result, run.seconds)
    return run
