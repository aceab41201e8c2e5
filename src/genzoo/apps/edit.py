"""Text-driven editing of a StyleGAN image: StyleCLIP's latent optimisation.

O. Patashnik, Z. Wu, E. Shechtman, D. Cohen-Or and D. Lischinski, "StyleCLIP: Text-Driven
Manipulation of StyleGAN Imagery", ICCV 2021 (arXiv:2103.17249), Sec. 4, Eq. 1:

    w* = argmin_{w ∈ W+}  D_joint(G(w), t) + λ_L2 ‖w − w_s‖₂ (+ λ_ID L_ID(w))

    D_joint(x, t) = 1 − u(x) · v(t)     the cosine distance in a joint image–text space
                                        (the paper's CLIP; here a joint model: genzoo's
                                        `contrastive` run, or a weights file: such a
                                        model's, or open_clip's ViT-CLIP, models.joint.clip)

w_s = f(z_seed) broadcast to the L layers (W+: one w per synthesis layer, (1, L, w_dim)),
truncated by ψ when given; only that W+ code is optimised, by Adam, from w_s; G and the
joint model are frozen (their parameters get no gradient and no optimizer). The noise
inputs are the generator's fixed realisation, so the image is a function of w alone.

Success is judged by oracles the optimisation never saw: genzoo's per-dataset classifier
(genzoo.metrics.features) for whether the class is kept, and the Morpho-MNIST thickness
and slant (genzoo.data.morpho) for handwritten digits; never by the joint model.

Deviations from the paper:
- No identity term (λ_ID = 0): the paper's L_ID is a face-recognition network (ArcFace);
  here no such network exists, and genzoo's classifier must stay an independent oracle.
- A constant learning rate (the authors' code ramps it down by a cosine over the run).
- The L2 term is the norm ‖w − w_s‖₂ over all of W+, as Eq. 1 writes it (the authors'
  code sums squares).
"""

from __future__ import annotations

import hashlib
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from genzoo.core import Capability, GenzooError
from genzoo.core.model import DataInfo

DEFAULTS = {"steps": 200, "lr": 0.1, "l2": 0.008}  # Sec. 4 and the authors' code
OPEN_CLIP_TOWERS = ("visual.conv1.weight", "visual.layer1.0.conv1.weight",
                    "token_embedding.weight", "transformer.resblocks.0.ln_1.weight")  # fmt: skip
HANDWRITTEN = ("mnist", "digits")  # datasets of digits, which Morpho-MNIST measures


# ---- the joint model: a contrastive run, or a weights file ----


@dataclass
class Joint:
    model: object  # a model with Capability.JOINT
    name: str  # how every number made with it names it
    data_name: str | None  # what it was trained on, where known
    note: str = ""  # its own test numbers, where known
    shape: tuple[int, ...] | None = None  # the images it embeds; None: any, resized (CLIP)


def load_joint(path: str | Path, shape: tuple[int, ...], vocab: str | Path | None = None,
               act: str | None = None, source: str = "the StyleGAN makes") -> Joint:  # fmt: skip
    """A run directory of a joint model (`genzoo train contrastive`), or a safetensors file
    of a joint model's weights in open_clip's naming (load_joint_file); `shape` is the shape
    of the images it will embed, which a file without an image size is built for, and
    `source` says where they come from in an error ("the StyleGAN makes" 1x32x32); `vocab`
    and `act`, an open_clip ViT-CLIP file's BPE vocabulary and activation."""
    from genzoo.io.files import read_json
    from genzoo.train.run import load_run

    path = Path(path)
    if path.is_file():
        return load_joint_file(path, shape, vocab, act, source)
    if vocab is not None or act is not None:
        raise GenzooError(f"--clip-vocab and --clip-act are for open_clip ViT-CLIP weights "
                          f"files; --joint {path} is not a file")  # fmt: skip
    run = load_run(path)
    if Capability.JOINT not in run.model.capabilities:
        raise GenzooError(f"--joint {path} is a {run.model_name} run: give a joint image–text "
                          "model, e.g. a run of `genzoo train contrastive --data "
                          "mnist32-captions`")  # fmt: skip
    if run.transform.scale != "symmetric":
        raise GenzooError(f"--joint {path} embeds images scaled {run.transform.scale}; genzoo "
                          "gives joint models images in [−1, 1], a GAN's range: retrain it "
                          "with scale=auto")  # fmt: skip
    note = ""
    if (path / "joint.json").is_file():
        r = read_json(path / "joint.json")
        if "zero_shot_accuracy" in r:
            note = (f"zero-shot test accuracy {r['zero_shot_accuracy']:.3f} on "
                    f"{r.get('data', run.data_name)}")  # fmt: skip
    model = run.model.eval()
    return Joint(model, f"{run.model_name} run {path.name}", run.data_name, note,
                 tuple(model.data.shape))  # fmt: skip


def load_joint_file(path: Path, shape: tuple[int, ...], vocab: str | Path | None = None,
                    act: str | None = None,
                    source: str = "the StyleGAN makes") -> Joint:  # fmt: skip
    """A joint model from a safetensors file, read without unpickling: the keys and shapes
    of open_clip's projections (logit_scale (), text_projection (D, d), visual.proj (F, d))
    and genzoo's image tower (visual.body.*), checked before anything is built; or an
    open_clip ViT-CLIP (load_clip_file). A ModifiedResNet tower is refused."""
    from safetensors import SafetensorError
    from safetensors.torch import safe_open

    from genzoo.data.text import DIM, ENCODER
    from genzoo.models import create_model

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise GenzooError(f"--joint {path}: not a readable safetensors file ({reason})") from None
    if any(k in tensors for k in OPEN_CLIP_TOWERS):
        return load_clip_file(path, tensors, meta, vocab, act)
    if vocab is not None or act is not None:
        raise GenzooError(f"--clip-vocab and --clip-act are for open_clip ViT-CLIP weights; "
                          f"--joint {path} holds genzoo's image tower")  # fmt: skip
    need = {"logit_scale": 0, "text_projection": 2, "visual.proj": 2, "visual.body.0.weight": 4}
    for key, dims in need.items():
        if key not in tensors or tensors[key].dim() != dims:
            raise GenzooError(f"--joint {path}: no {key} of {dims} dimensions; expected a "
                              "joint model's weights in open_clip's naming (visual.proj, "
                              "text_projection, logit_scale) with visual.body.*")  # fmt: skip
    D, d = tensors["text_projection"].shape
    F_dim, d_image = tensors["visual.proj"].shape
    if D != DIM or d_image != d:
        raise GenzooError(f"--joint {path}: text_projection {D}x{d} and visual.proj "
                          f"{F_dim}x{d_image}: the text side must take {ENCODER}'s {DIM} "
                          "dimensions, and both must project to the same d")  # fmt: skip
    width, channels = tensors["visual.body.0.weight"].shape[:2]
    size = int(meta.get("image_size", shape[-1]))
    if (channels, size, size) != tuple(shape):
        raise GenzooError(f"--joint {path} embeds {channels}x{size}x{size} images; {source} "
                          f"{'x'.join(map(str, shape))}")  # fmt: skip
    model = create_model("contrastive", DataInfo(tuple(shape), None), embedding_dim=D,
                         joint_dim=d, width=width, feature_dim=F_dim)  # fmt: skip
    expected = model.state_dict()
    wrong = sorted(set(expected) ^ set(tensors)) or [
        k for k in expected if tensors[k].shape != expected[k].shape
    ]
    if wrong:
        raise GenzooError(f"--joint {path}: {wrong[0]} is missing, extra or of the wrong "
                          "shape for genzoo's image tower")  # fmt: skip
    model.load_state_dict(tensors)
    note = meta.get("note", "")
    return Joint(model.eval(), f"weights file {path.name} (sha256 {sha256(path)})",
                 meta.get("data"), note, tuple(shape))  # fmt: skip


def load_clip_file(path: Path, tensors: dict, meta: dict, vocab: str | Path | None,
                   act: str | None) -> Joint:  # fmt: skip
    """open_clip's ViT-CLIP from its state dict `tensors` (models.joint.clip), with the BPE
    vocabulary file `vocab` (not in the weights: required) and the activation `act`."""
    from genzoo.models.joint import clip

    if not any(k.startswith("visual.layer1.") for k in tensors) and vocab is None:
        raise GenzooError(f"--joint {path} holds open_clip's ViT-CLIP: give its BPE "
                          "vocabulary with --clip-vocab bpe_simple_vocab_16e6.txt.gz (open_clip "
                          "ships it; it is not in the weights)")  # fmt: skip
    try:
        model = clip.from_open_clip(tensors, meta, clip.read_merges(vocab) if vocab else [],
                                    act)  # fmt: skip
    except GenzooError as e:
        raise GenzooError(str(e) if str(e).startswith("--") else f"--joint {path}: {e}") from None
    c = model.config
    name = (f"CLIP ViT/{c.patch_size} weights file {path.name} (sha256 {sha256(path)}; "
            f"{c.act}, vocabulary {Path(vocab).name})")  # fmt: skip
    return Joint(model, name, meta.get("data"), meta.get("note", ""))


def sha256(path: Path) -> str:
    """The first 12 hex digits of the file's sha256, read in chunks."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:12]


def save_joint_file(model, path: str | Path, data_name: str | None = None) -> Path:
    """A joint model's weights as the safetensors file load_joint_file reads (open_clip's
    names for the projections): the stand-in for user-brought weights."""
    from safetensors.torch import save_file

    meta = {"image_size": str(model.data.shape[-1])} | ({"data": data_name} if data_name else {})
    path = Path(path)
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()},
              str(path), metadata=meta)  # fmt: skip
    return path


def images_of(data_name: str) -> str:
    """The dataset whose images a dataset or task shows: tasks followed to their base
    (mnist32 and mnist32-captions -> mnist)."""
    from genzoo.data.tasks import TASKS

    seen = set()
    while data_name in TASKS and data_name not in seen:
        seen.add(data_name)
        data_name = TASKS[data_name].base
    return data_name


def check_pair(style_run, joint: Joint) -> None:
    """One-line errors for a run that is not a StyleGAN, or a joint model of other images."""
    model = style_run.model
    if Capability.STYLES not in model.capabilities:
        raise GenzooError(f"{style_run.path} is a {style_run.model_name} run: `genzoo edit` "
                          "optimises a style-based generator's W+ code: "
                          "give a stylegan run")  # fmt: skip
    if style_run.transform.scale != "symmetric":
        raise GenzooError(f"{style_run.path} makes images scaled {style_run.transform.scale}, "
                          "not [−1, 1]")  # fmt: skip
    check_joint_images(style_run, joint, "the StyleGAN")


def check_joint_images(run, joint: Joint, maker: str) -> None:
    """One-line errors for a joint model that embeds images of another shape than the
    run's model makes, or was trained on other images; `maker` names the run's model."""
    js, ss = joint.shape, tuple(run.model.data.shape)
    if js is not None and js != ss:
        raise GenzooError(f"the joint model ({joint.name}) embeds {'x'.join(map(str, js))} "
                          f"images and {maker} makes {'x'.join(map(str, ss))}: train the "
                          f"joint model on {maker}'s images (e.g. mnist32-captions for "
                          f"mnist32)")  # fmt: skip
    if joint.data_name and images_of(joint.data_name) != images_of(run.data_name):
        raise GenzooError(f"the joint model ({joint.name}) was trained on {joint.data_name} "
                          f"and {maker} on {run.data_name}: other images; train it "
                          f"on captions of {images_of(run.data_name)}")  # fmt: skip


# ---- the optimisation (Eq. 1) ----


@contextmanager
def frozen(*modules):
    """Every parameter of `modules` with requires_grad off inside, as it was after."""
    saved = [(p, p.requires_grad) for m in modules for p in m.parameters()]
    for p, _ in saved:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)


@dataclass
class Edit:
    frames: Tensor  # (K, C, H, W) in [−1, 1]: G(w) at frame_steps, first w_s, last w*
    frame_steps: list[int]
    ws_start: Tensor  # w_s (1, L, w_dim)
    ws: Tensor  # w* (1, L, w_dim)
    distance: list[float] = field(default_factory=list)  # D_joint before each step, and at the end
    l2: list[float] = field(default_factory=list)  # ‖w − w_s‖₂ likewise


def styleclip(G, joint_model, text: str | Tensor, z: Tensor, steps: int = DEFAULTS["steps"],
              lr: float = DEFAULTS["lr"], l2_weight: float = DEFAULTS["l2"],
              truncation: float | None = None, n_frames: int = 6) -> Edit:  # fmt: skip
    """Eq. 1 by Adam over the W+ code alone, from w_s = f(z) (1, latent_dim), toward the
    prompt `text`, or toward the text input the joint model's embed_texts takes (1, …): a
    contrastive model's sentence embedding φ_t (1, D), CLIP's token ids."""
    if steps < 1 or not lr > 0 or l2_weight < 0 or n_frames < 2:
        raise GenzooError("--steps must be at least 1, --lr positive, --l2 at least 0")
    G.eval(), joint_model.eval()
    noise = G.fixed_noise()
    at = sorted({round(k * steps / (n_frames - 1)) for k in range(n_frames)})
    with frozen(G, joint_model):
        with torch.no_grad():
            w_s = G.broadcast(G.mapping(z))  # (1, L, w_dim): W+
            if truncation is not None:
                w_s = G.truncate(w_s, truncation)
            if isinstance(text, str):
                v = joint_model.embed_prompts([text])  # (1, d)
            else:
                v = joint_model.embed_texts(text)
        ws = w_s.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([ws], lr=lr)
        edit = Edit(torch.empty(0), at, w_s, ws)
        frames = []
        for step in range(steps + 1):
            x = G.synthesize(ws, noise, clip=False)
            distance = 1 - (joint_model.embed_images(x) * v).sum(dim=1).mean()  # D_joint
            l2 = torch.linalg.vector_norm(ws - w_s)  # ‖w − w_s‖₂ over W+
            edit.distance.append(distance.item())
            edit.l2.append(l2.item())
            if step in at:
                frames.append(x.detach().clamp(-1, 1).cpu())
            if step == steps:
                break
            optimizer.zero_grad(set_to_none=True)
            (distance + l2_weight * l2).backward(inputs=[ws])
            optimizer.step()
    edit.frames, edit.ws = torch.cat(frames), ws.detach()
    return edit


# ---- the oracles ----


def oracle(frames: Tensor, data_name: str, data_root=None) -> dict:
    """genzoo's classifier of the StyleGAN's dataset on each frame (N, C, H, W) in [−1, 1]:
    its class and probabilities; for handwritten digits also the Morpho-MNIST thickness
    (pixels) and slant (degrees); for colour images the dominant colour and the mean luma
    on [0, 1] (brightness), as genzoo.data.captions measures them."""
    from genzoo.data import morpho
    from genzoo.data.captions import colour_and_brightness
    from genzoo.metrics.features import feature_network

    net, info = feature_network(data_name, data_root)
    x01 = ((frames + 1) / 2).clamp(0, 1)
    with torch.no_grad():
        p = torch.softmax(net(x01), dim=1)
    out = {"classifier": info["identifier"], "accuracy": info["test_accuracy"], "p": p,
           "class": p.argmax(dim=1).tolist()}  # fmt: skip
    if images_of(data_name) in HANDWRITTEN and frames.shape[1] == 1:
        images = x01[:, 0].numpy()
        out["thickness"] = [morpho.thickness(img) for img in images]
        out["slant"] = [math.degrees(morpho.slant(img)) for img in images]
    if frames.shape[1] == 3:  # the measures cifar10-captions' captions are made from
        colours, luma = colour_and_brightness((x01 * 255).round().to(torch.uint8).numpy())
        out["colour"], out["brightness"] = colours, luma.tolist()
    return out
