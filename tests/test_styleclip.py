"""StyleCLIP with genzoo's contrastive image–text model: the contrastive loss is symmetric
and learns to rank matching pairs; the edit moves only the W+ code, its L2 term measured
from the starting code; `genzoo edit` end to end on tiny runs, and its one-line errors."""

import dataclasses
import os
import shutil
from pathlib import Path

import torch
import torch.nn.functional as F

from genzoo.core.model import DataInfo, plain_backward
from genzoo.models import create_model
from genzoo.models.joint.contrastive import contrastive_loss, same_text

STYLEGAN = {"latent_dim": 4, "w_dim": 4, "n_mapping": 2, "max_channels": 8,
            "channel_base": 32, "images_per_phase": 64}  # fmt: skip


def joint(shape=(1, 8, 8), D=6, seed=0):
    torch.manual_seed(seed)
    return create_model("contrastive", DataInfo(shape, None), embedding_dim=D, joint_dim=8,
                        width=4, feature_dim=16)  # fmt: skip


def test_contrastive_loss_is_symmetric_in_images_and_texts():
    g = torch.Generator().manual_seed(0)
    u = F.normalize(torch.randn(7, 5, generator=g), dim=1)
    v = F.normalize(torch.randn(7, 5, generator=g), dim=1)
    scale = torch.tensor(2.5)
    assert torch.allclose(contrastive_loss(u, v, scale), contrastive_loss(v, u, scale))
    phi = torch.eye(3)[torch.arange(7) % 3]  # repeated captions: several positives a row
    match = same_text(phi)
    assert torch.allclose(
        contrastive_loss(u, v, scale, match), contrastive_loss(v, u, scale, match)
    )
    # with one positive a row, it is CLIP's: the mean of the two cross-entropies
    s = scale.exp() * u @ v.T
    labels = torch.arange(7)
    clip = (F.cross_entropy(s, labels) + F.cross_entropy(s.T, labels)) / 2
    assert torch.allclose(contrastive_loss(u, v, scale), clip)


def test_a_tiny_training_ranks_matching_pairs_above_chance():
    g = torch.Generator().manual_seed(0)
    K, D = 4, 6
    patterns = torch.rand(K, 1, 8, 8, generator=g) * 2 - 1
    texts = F.normalize(torch.randn(K, D, generator=g), dim=1)

    def pairs(n):
        y = torch.randint(0, K, (n,), generator=g)
        return (patterns[y] + 0.3 * torch.randn(n, 1, 8, 8, generator=g)).clamp(-1, 1), y

    m = joint(D=D)
    optimizers = m.configure_optimizers(3e-3)
    for step in range(150):
        x, y = pairs(32)
        m.training_step({"x": x, "caption": texts[y]}, step, optimizers, plain_backward)
        m.on_train_step_end(step + 1)
    x, y = pairs(200)
    top1 = (m.similarity(x, texts).argmax(dim=1) == y).float().mean().item()
    assert top1 > 0.8, top1  # chance: 1 / K = 0.25


def tiny_stylegan():
    torch.manual_seed(0)
    return create_model("stylegan", DataInfo((1, 8, 8), None), **STYLEGAN)


def test_the_edit_moves_only_w_and_measures_l2_from_the_start(monkeypatch):
    from genzoo.apps import edit as E

    G, J = tiny_stylegan(), joint()
    before = {k: v.clone() for k, v in [*G.state_dict().items(), *J.state_dict().items()]}
    flags = [p.requires_grad for p in [*G.parameters(), *J.parameters()]]
    optimized, seen = [], []

    class Adam(torch.optim.Adam):
        def __init__(self, params, **kwargs):
            params = list(params)
            optimized.extend(params)
            super().__init__(params, **kwargs)

    monkeypatch.setattr(E.torch.optim, "Adam", Adam)
    synthesize = G.synthesize

    def watched(ws, noise=None, clip=True):
        seen.append(any(p.requires_grad for p in [*G.parameters(), *J.parameters()]))
        return synthesize(ws, noise, clip)

    monkeypatch.setattr(G, "synthesize", watched)
    phi = F.normalize(torch.randn(1, 6), dim=1)
    edit = E.styleclip(G, J, phi, torch.randn(1, 4), steps=8, lr=0.1, l2_weight=0.008)
    # only the W+ code was optimised: one (1, L, w_dim) tensor, the generator untouched
    assert len(optimized) == 1 and optimized[0].shape == (1, G.n_layers, 4)
    assert not any(seen)  # no parameter of G or the joint model required a gradient
    for k, v in [*G.state_dict().items(), *J.state_dict().items()]:
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in [*G.parameters(), *J.parameters()])
    assert [p.requires_grad for p in [*G.parameters(), *J.parameters()]] == flags
    # the L2 term is ‖w − w_s‖₂ from the starting W+ code: 0 at step 0, then it grows
    assert edit.l2[0] == 0.0 and len(edit.l2) == 9
    assert edit.l2[-1] > edit.l2[1] > 0
    assert torch.allclose(torch.linalg.vector_norm(edit.ws - edit.ws_start),
                          torch.tensor(edit.l2[-1]))  # fmt: skip
    assert not edit.ws_start.requires_grad and not edit.ws.requires_grad
    assert edit.frames.shape == (6, 1, 8, 8) and edit.frame_steps[0] == 0
    assert edit.frame_steps[-1] == 8 and edit.distance[-1] < edit.distance[0]


def need_text_extra():
    from test_text2image import need_text_extra as need

    need()


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_edit_through_the_command_line(tmp_path, monkeypatch, capsys):
    need_text_extra()
    from test_text2image import digits_captions

    from genzoo.apps.edit import save_joint_file
    from genzoo.cli import main
    from genzoo.data.tasks import TASKS, Task
    from genzoo.train.run import load_run

    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(TASKS, "digits-captions",
                        Task("digits-captions", "digits", digits_captions, ""))  # fmt: skip
    root = tmp_path / "data"
    # the digits classifier, if the shared data root has it cached
    shared = Path(os.environ.get("GENZOO_DATA") or root) / "genzoo-features"
    for f in shared.glob("digits-featnet-*.safetensors") if shared.is_dir() else ():
        (root / "genzoo-features").mkdir(parents=True, exist_ok=True)
        shutil.copy(f, root / "genzoo-features" / f.name)
    quiet = ["--set", "progress=false", "--set", "tensorboard=false", "--set", "n_samples=0"]
    sets = [a for k, v in STYLEGAN.items() for a in ("--set", f"{k}={v}")]
    style, clip = tmp_path / "style", tmp_path / "clip"
    assert main(["train", "stylegan", "--data", "digits", "--run-dir", str(style), *sets,
                 "--set", "max_steps=4", *quiet]) == 0  # fmt: skip
    assert main(["train", "contrastive", "--data", "digits-captions", "--run-dir", str(clip),
                 "--set", "width=4", "--set", "feature_dim=16", "--set", "max_steps=30",
                 *quiet]) == 0  # fmt: skip
    report = (clip / "report.md").read_text()
    assert "zero-shot accuracy" not in report  # digits-captions has no class prompts
    assert "retrieval top-1" in report and (clip / "joint.json").exists()
    capsys.readouterr()
    out = tmp_path / "edit.png"
    edit = ["--data-root", str(root), "edit", str(style), "--joint", str(clip), "--text",
            "a handwritten seven", "--seed", "3", "--steps", "5", "-o", str(out)]  # fmt: skip
    assert main(edit) == 0
    text = capsys.readouterr().out
    print(text)
    assert out.exists() and "W+" in text and f"contrastive run {clip.name}" in text
    assert "digits-featnet-" in text and "thickness" in text and "slant" in text
    # the stand-in for user-brought weights: a safetensors file genzoo writes, read back
    weights = save_joint_file(load_run(clip).model, tmp_path / "joint.safetensors", "digits")
    assert main([*edit[:5], str(weights), *edit[6:]]) == 0
    assert "weights file joint.safetensors (sha256 " in capsys.readouterr().out
    # bad inputs: one line each, exit 2
    bad_text = [*edit[:7], "   ", *edit[8:]]
    assert main(bad_text) == 2 and "empty" in error_line(capsys)
    assert main([*edit[:3], str(clip), *edit[4:]]) == 2
    assert "give a stylegan run" in error_line(capsys)
    assert main([*edit[:5], str(style), *edit[6:]]) == 2
    assert "joint image–text model" in error_line(capsys)
    other = save_joint_file(joint(shape=(1, 16, 16), D=384), tmp_path / "j16.safetensors")
    assert main([*edit[:5], str(other), *edit[6:]]) == 2
    assert "embeds 1x16x16 images" in error_line(capsys)
    # open_clip ViT-CLIP files: tests/test_clip.py
    matches(tmp_path, clip, weights, capsys)
    mnist = dataclasses.replace(TASKS["digits-captions"], base="mnist")
    monkeypatch.setitem(TASKS, "digits-captions", mnist)  # as if trained on other images
    assert main(edit) == 2 and "other images" in error_line(capsys)


def matches(root: Path, clip: Path, weights: Path, capsys) -> None:
    """`genzoo match` and `genzoo serve`'s Match page of a joint model's run: each caption's
    cosine with the image and the softmax over the captions at the model's scale, from the
    model's own embeddings, best first; the same from its weights file; one-line errors."""
    import io
    import re

    import numpy as np
    from fastapi.testclient import TestClient
    from PIL import Image

    from genzoo.apps import studio
    from genzoo.cli import main
    from genzoo.serve.app import Settings, create_app
    from genzoo.train.run import load_run

    def png_of(a: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(a, "L").save(buffer, "PNG")
        return buffer.getvalue()

    image = png_of(np.tile(np.arange(0, 256, 32, dtype=np.uint8), (8, 1)))
    captions = ["a handwritten seven", "a thin one", "a handwritten zero, upright"]

    def post(c, text: str):
        files = {"image": ("x.png", image, "image/png")}
        return c.post(f"/run/{clip.name}/match", files=files, data={"captions": text})

    with TestClient(create_app(Settings(root)), raise_server_exceptions=False) as c:
        assert f'href="/run/{clip.name}/match"' in c.get(f"/run/{clip.name}").text
        assert 'id="captions"' in c.get(f"/run/{clip.name}/match").text
        r = post(c, "\n".join(captions) + "\n\n")
        assert r.status_code == 200, r.text
        shown = re.findall(r"<tr><td>([^<]+)</td><td>([-0-9.]+)</td>", r.text)
        run = load_run(clip)
        match = studio.match_upload(run, studio.Upload(image, "x.png"), captions)
        assert [t for t, _ in shown] == match.captions
        assert sorted(match.captions) == sorted(captions)
        assert [float(v) for _, v in shown] == [round(v, 3) for v in match.cosine]
        assert match.cosine == sorted(match.cosine, reverse=True)
        assert abs(sum(match.probability) - 1) < 1e-6
        pixels = studio.read_upload(studio.Upload(image, "x"), (1, 8, 8))  # 0..255
        levels = torch.round(pixels.double() * 16 / 255).to(torch.uint8)  # the digits' 17
        x = run.transform.fixed(levels, "test")
        with torch.no_grad():
            u, v = run.model.embed_images(x), run.model.embed_prompts(match.captions)
        assert torch.allclose((u @ v.T)[0], torch.tensor(match.cosine), atol=1e-6)
        assert "a thin one" in r.text.split('id="captions"')[1]  # the captions stay in the form
        for text, message in (("  \n", "at least one caption"),
                              ("\n".join(["a seven"] * 33), "at most 32")):  # fmt: skip
            r = post(c, text)
            assert r.status_code == 422 and message in r.text, r.text

    # the command line, from the run and from its weights file: the same table
    (root / "x.png").write_bytes(image)
    texts = [a for t in captions for a in ("--text", t)]
    for joint in (clip, weights):
        capsys.readouterr()
        assert main(["match", str(root / "x.png"), "--joint", str(joint), *texts]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert f"scale {match.scale:.1f}" in lines[0]
        for line, t, cos, p in zip(lines[1:], match.captions, match.cosine, match.probability,
                                   strict=True):  # fmt: skip
            *words, shown_cos, shown_p, _ = line.split()
            assert words == t.split()  # printed to 3 and 1 decimals
            assert abs(float(shown_cos) - cos) < 6e-4 and abs(float(shown_p) - 100 * p) < 0.06
    (root / "big.png").write_bytes(png_of(np.zeros((10, 10), np.uint8)))
    for argv, message in (
        ([str(root / "x.png"), "--joint", str(clip)], "no class prompts of its own"),
        ([str(root / "big.png"), "--joint", str(clip), *texts], "embeds 8x8 images"),
        (
            [str(root / "big.png"), "--joint", str(weights), *texts],
            f"embeds 1x8x8 images; {root / 'big.png'} is 1x10x10",
        ),
        ([str(root / "x.png"), "--joint", str(clip), "--text", " "], "at least one caption"),
        ([str(root / "none.png"), "--joint", str(clip), *texts], "no such file"),
    ):
        assert main(["match", *argv]) == 2
        assert message in error_line(capsys)


def test_the_oracle_measures_brightness_and_colour_of_colour_images(monkeypatch):
    """For colour images the oracle adds cifar10-captions' own measures: mean luma on
    [0, 1] and the dominant colour, of frames in [−1, 1]."""
    import genzoo.metrics.features as features
    from genzoo.apps.edit import oracle

    class Net(torch.nn.Module):
        def forward(self, x):
            return torch.zeros(len(x), 10)

    monkeypatch.setattr(features, "feature_network",
                        lambda name, root=None: (Net(), {"identifier": "stand-in",
                                                         "test_accuracy": 1.0}))  # fmt: skip
    red = torch.tensor([1.0, 0.0, 0.0])[:, None, None].expand(3, 8, 8)
    frames = torch.stack([red * 0.5, red]) * 2 - 1  # a dark red and a full red, in [−1, 1]
    o = oracle(frames, "cifar10")
    assert o["colour"] == ["red", "red"] and "thickness" not in o
    assert o["brightness"][0] < o["brightness"][1]
    assert abs(o["brightness"][1] - 0.299) < 1e-6  # Y = 0.299 R for pure red
