"""`genzoo edit`: StyleCLIP's latent optimisation of a StyleGAN image toward a text prompt,
as a strip from the original to the edit, with oracle measures before and after; and
`genzoo match`: captions against an image in a joint image–text model's space."""

from __future__ import annotations

from genzoo.cli.common import add, add_clip_options


def add_edit(sub, common) -> None:
    p = add(sub, common, "edit",
            help="edit a StyleGAN image toward a text prompt (StyleCLIP latent optimisation "
            "in W+, steered by a joint image–text model)")  # fmt: skip
    p.add_argument("run", help="a stylegan run directory")
    p.add_argument("--joint", required=True, metavar="RUN|FILE",
                   help="the joint image–text model: a `genzoo train contrastive` run on "
                   "the StyleGAN's images (e.g. mnist32-captions for mnist32), or a "
                   ".safetensors file of its weights in open_clip's naming, or of an "
                   "open_clip ViT-CLIP (with --clip-vocab)")  # fmt: skip
    add_clip_options(p)
    p.add_argument("--text", required=True, help="the prompt, e.g. 'a thick seven'")
    p.add_argument("--seed", type=int, default=0, help="z of the original image (default 0)")
    p.add_argument("--steps", type=int, default=200, help="Adam steps (default 200)")
    p.add_argument("--lr", type=float, default=0.1, help="Adam's learning rate (default 0.1)")
    p.add_argument("--l2", type=float, default=0.008,
                   help="λ_L2, the weight of ‖w − w_s‖₂ (default 0.008)")  # fmt: skip
    p.add_argument("--truncation", type=float, default=None, metavar="ψ",
                   help="truncate w_s toward w̄ first, ψ in (−1, 1] (default: none)")  # fmt: skip
    p.add_argument("--frames", type=int, default=6,
                   help="images in the strip, original and final included (default 6)")  # fmt: skip
    p.add_argument("-o", "--output", default="edit.png", help="PNG path")
    p.set_defaults(func=cmd_edit)


def cmd_edit(args) -> int:
    import torch

    from genzoo.apps.edit import check_pair, load_joint, oracle, styleclip
    from genzoo.core.errors import GenzooError
    from genzoo.io.images import check_image_path, save_grid, to_unit_range
    from genzoo.train.run import load_run

    check_image_path(args.output)
    if args.truncation is not None and not -1 < args.truncation <= 1:
        raise GenzooError(f"--truncation {args.truncation}: ψ lies in (−1, 1]")
    if args.frames < 2:
        raise GenzooError("--frames must be at least 2 (the original and the edit)")
    run = load_run(args.run)
    joint = load_joint(args.joint, tuple(run.model.data.shape), args.clip_vocab, args.clip_act)
    check_pair(run, joint)
    if run.model.stage() != (run.model.n_stages - 1, 1.0):
        print(f"note: {run.path} stopped before growing to full size; its images are "
              "upsampled")  # fmt: skip
    text = joint.model.check_prompt(args.text)
    z = torch.randn(
        1, run.model.config.latent_dim, generator=torch.Generator().manual_seed(args.seed)
    )
    edit = styleclip(run.model, joint.model, text, z, args.steps, args.lr, args.l2,
                     args.truncation, args.frames)  # fmt: skip
    path = save_grid(to_unit_range(edit.frames, None, "symmetric"), args.output,
                     nrow=len(edit.frames))  # fmt: skip
    L, w_dim = edit.ws.shape[1:]
    print(f"wrote the edit of seed {args.seed} toward {text!r} to {path}: G(w) at steps "
          f"{', '.join(map(str, edit.frame_steps))}")  # fmt: skip
    print(f"latent: W+ ({L} layers x {w_dim}), Adam lr {args.lr}, {args.steps} steps, "
          f"λ_L2 {args.l2}, no identity term; ‖w − w_s‖₂ {edit.l2[0]:.3f} -> "
          f"{edit.l2[-1]:.3f}")  # fmt: skip
    note = f"; {joint.note}" if joint.note else ""
    print(f"D_joint = 1 − cos (the joint model {joint.name}{note}): {edit.distance[0]:.3f} -> "
          f"{edit.distance[-1]:.3f}")  # fmt: skip
    o = oracle(edit.frames[[0, -1]], run.data_name, args.data_root)
    (c0, c1), p = o["class"], o["p"]
    kept = "kept" if c0 == c1 else "changed"
    print(f"oracle, genzoo's classifier {o['classifier']} (test accuracy {o['accuracy']:.3f}; "
          f"not the joint model): class {c0} (p {p[0, c0]:.2f}) -> {c1} (p {p[1, c1]:.2f}), "
          f"{kept}; p(class {c0}) after: {p[1, c0]:.2f}")  # fmt: skip
    if "thickness" in o:
        t, s = o["thickness"], o["slant"]
        print(f"oracle, Morpho-MNIST measures (genzoo.data.morpho): thickness {t[0]:.2f} -> "
              f"{t[1]:.2f} px, slant {s[0]:+.1f} -> {s[1]:+.1f} degrees")  # fmt: skip
    if "brightness" in o:
        (b0, b1), (h0, h1) = o["brightness"], o["colour"]
        print(f"oracle, pixel measures (genzoo.data.captions): mean luma {b0:.3f} -> {b1:.3f}, "
              f"dominant colour {h0} -> {h1}")  # fmt: skip
    return 0


def add_match(sub, common) -> None:
    p = add(sub, common, "match",
            help="how well captions fit an image in a joint image–text model's space: "
            "cosines, and the zero-shot choice among them")  # fmt: skip
    p.add_argument("image", help="an image file: of the joint model's size, or any size for "
                   "an open_clip ViT-CLIP (it resizes)")  # fmt: skip
    p.add_argument("--joint", required=True, metavar="RUN|FILE",
                   help="a `genzoo train contrastive` run, or a .safetensors file of a joint "
                   "model's weights (as for genzoo edit)")  # fmt: skip
    add_clip_options(p)
    p.add_argument("--text", action="append", metavar="CAPTION",
                   help="a caption; repeat for more (at most 32). Default: the zero-shot "
                   "class prompts of the run's task, e.g. 'a handwritten seven'")  # fmt: skip
    p.set_defaults(func=cmd_match)


def cmd_match(args) -> int:
    from genzoo.apps.edit import load_joint
    from genzoo.apps.match import match_captions, read_image
    from genzoo.core.errors import GenzooError
    from genzoo.data.captions import class_prompts
    from genzoo.io.images import read_pixels

    pixels = read_pixels(args.image, 3)  # its size, for a weights file that does not say
    grey = bool((pixels == pixels[..., :1]).all())
    shape = (1 if grey else 3, *pixels.shape[:2])
    joint = load_joint(args.joint, shape, args.clip_vocab, args.clip_act, f"{args.image} is")
    captions = args.text or class_prompts(joint.data_name or "")
    if not captions:
        raise GenzooError(f"--text: {joint.name} has no class prompts of its own: give the "
                          "captions, e.g. --text 'a red car' --text 'a white horse'")  # fmt: skip
    x = read_image(args.image, joint.shape)
    match = match_captions(joint.model, x, captions)
    note = f"; {joint.note}" if joint.note else ""
    print(f"{args.image} against {len(match.captions)} captions in the space of "
          f"{joint.name}{note}; best first, cosine and the softmax over these captions at "
          f"the model's scale {match.scale:.1f}:")  # fmt: skip
    width = max(len(c) for c in match.captions)
    for c, cos, p in zip(match.captions, match.cosine, match.probability, strict=True):
        print(f"  {c:{width}s}  {cos:+.3f}  {100 * p:5.1f} %")
    return 0


VERBS = (add_edit, add_match)
