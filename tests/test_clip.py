"""CLIP from an open_clip weights file (genzoo.models.joint.clip): a stand-in file genzoo
writes is read back with its architecture inferred; the towers and the tokenizer equal
transformers' independent implementation (random weights, a tiny vocabulary); `genzoo edit`
runs with such a file, and refuses bad inputs in one line."""

import dataclasses
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from genzoo.models.joint import clip as C

# a tiny vocabulary: the 512 byte tokens, these merges, <|startoftext|>, <|endoftext|>
MERGES = [("t", "h"), ("th", "i"), ("c", "k</w>"), ("thi", "ck</w>"), ("a", "t</w>"),
          ("c", "at</w>"), ("o", "f</w>"), ("p", "h"), ("ph", "o"), ("t", "o</w>"),
          ("pho", "to</w>"), ("s", "e"), ("se", "v"), ("e", "n</w>"), ("sev", "en</w>"),
          ("i", "n"), ("t", "o")]  # fmt: skip
VOCAB = 512 + len(MERGES) + 2
TINY = C.ClipConfig(embed_dim=32, image_size=32, patch_size=8, vision_width=64,
                    vision_layers=2, vision_heads=2, vision_mlp=128, context_length=16,
                    vocab_size=VOCAB, text_width=64, text_layers=2, text_heads=2,
                    text_mlp=128)  # fmt: skip
TEXTS = ["a photo of a cat", "A thick  seven!", "seven, into 12 cats' photos", "thin"]


def tiny_clip(config=TINY, seed=0):
    torch.manual_seed(seed)
    return C.CLIP(config, C.Tokenizer(MERGES)).eval()


def test_a_standin_file_is_read_back_with_its_architecture(tmp_path):
    model = tiny_clip()
    path = C.save_clip_file(model, tmp_path / "standin.safetensors")
    vocab = C.write_merges(MERGES, tmp_path / "vocab.txt.gz")
    from genzoo.apps.edit import load_joint

    joint = load_joint(path, (1, 8, 8), vocab)
    again = joint.model
    assert again.config == TINY and joint.shape is None
    assert "sha256" in joint.name and "standin.safetensors" in joint.name
    x = torch.rand(3, 1, 8, 8) * 2 - 1  # a GAN's grey images, resized inside
    assert torch.allclose(again.embed_images(x), model.embed_images(x), atol=1e-6)
    u = again.embed_images(x)
    assert u.shape == (3, 32) and torch.allclose(u.norm(dim=1), torch.ones(3))
    assert torch.equal(again.tokenize(TEXTS), model.tokenize(TEXTS))
    assert torch.allclose(again.embed_prompts(TEXTS), model.embed_prompts(TEXTS), atol=1e-6)
    # heads are width / 64 unless the metadata names them; GELU from the metadata
    sd = dict(model.state_dict())
    config = C.architecture(sd, {}, "gelu")
    assert (config.vision_heads, config.text_heads, config.act) == (1, 1, "gelu")
    assert C.architecture(sd, {"heads": "4", "vision_heads": "2"}, "quickgelu").text_heads == 4


def test_the_text_tower_is_causal_and_pools_at_the_end_token():
    model = tiny_clip()
    t = model.tokenize(["a photo of a cat"])
    end = int(t.argmax())
    assert t[0, end] == VOCAB - 1 and (t[0, end + 1 :] == 0).all()
    changed = t.clone()
    changed[0, end + 1 :] = 7  # after the end token: unseen by a causal tower
    assert torch.allclose(model.encode_text(t), model.encode_text(changed), atol=1e-6)
    changed[0, 1] = 9  # before it: seen
    assert not torch.allclose(model.encode_text(t), model.encode_text(changed), atol=1e-3)


def hf_clip(hidden_act="quick_gelu", seed=0):
    """transformers' CLIPModel of TINY's shape, all parameters random (biases and norms
    too); EOT is the largest id, so its pooling (the first eos token) is CLIP's argmax."""
    from transformers import CLIPConfig, CLIPModel

    common = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
              "num_attention_heads": 2, "hidden_act": hidden_act}  # fmt: skip
    config = CLIPConfig(
        text_config=common
        | {
            "vocab_size": VOCAB,
            "max_position_embeddings": 16,
            "eos_token_id": VOCAB - 1,
            "bos_token_id": VOCAB - 2,
            "pad_token_id": 0,
        },  # fmt: skip
        vision_config=common | {"image_size": 32, "patch_size": 8, "num_channels": 3},
        projection_dim=32,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model


BLOCK_NAMES = {"self_attn.out_proj": "attn.out_proj", "layer_norm1": "ln_1",
               "layer_norm2": "ln_2", "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj"}  # fmt: skip


def open_clip_names(hf: dict) -> dict:
    """transformers' CLIP state dict in open_clip's names and layouts."""
    sd = {}
    towers = {"vision_model.": "visual.", "text_model.": ""}
    for hf_prefix, prefix in towers.items():
        n = len({k.split(".")[3] for k in hf if k.startswith(f"{hf_prefix}encoder.layers.")})
        for i in range(n):
            a, b = f"{hf_prefix}encoder.layers.{i}.", f"{prefix}transformer.resblocks.{i}."
            for kind in ("weight", "bias"):
                sd[f"{b}attn.in_proj_{kind}"] = torch.cat(
                    [hf[f"{a}self_attn.{q}_proj.{kind}"] for q in "qkv"]
                )
                for old, new in BLOCK_NAMES.items():
                    sd[f"{b}{new}.{kind}"] = hf[f"{a}{old}.{kind}"]
    v, t = "vision_model.", "text_model."
    sd["visual.conv1.weight"] = hf[f"{v}embeddings.patch_embedding.weight"]
    sd["visual.class_embedding"] = hf[f"{v}embeddings.class_embedding"]
    sd["visual.positional_embedding"] = hf[f"{v}embeddings.position_embedding.weight"]
    sd["token_embedding.weight"] = hf[f"{t}embeddings.token_embedding.weight"]
    sd["positional_embedding"] = hf[f"{t}embeddings.position_embedding.weight"]
    for kind in ("weight", "bias"):
        sd[f"visual.ln_pre.{kind}"] = hf[f"{v}pre_layrnorm.{kind}"]
        sd[f"visual.ln_post.{kind}"] = hf[f"{v}post_layernorm.{kind}"]
        sd[f"ln_final.{kind}"] = hf[f"{t}final_layer_norm.{kind}"]
    sd["visual.proj"] = hf["visual_projection.weight"].T  # Linear (d, width) -> (width, d)
    sd["text_projection"] = hf["text_projection.weight"].T
    sd["logit_scale"] = hf["logit_scale"]
    return {k: x.detach().clone().contiguous() for k, x in sd.items()}


def features(out):
    return out if isinstance(out, torch.Tensor) else out.pooler_output


@pytest.mark.parametrize(("hidden_act", "act"), [("quick_gelu", "quickgelu"), ("gelu", "gelu")])
def test_the_towers_equal_transformers_clip(tmp_path, hidden_act, act):
    pytest.importorskip("transformers")
    hf = hf_clip(hidden_act)
    path = tmp_path / "hf.safetensors"
    save_file(open_clip_names(hf.state_dict()), str(path),
              metadata={"heads": "2", "vision_heads": "2", "act": act})  # fmt: skip
    vocab = C.write_merges(MERGES, tmp_path / "vocab.txt")
    from genzoo.apps.edit import load_joint

    model = load_joint(path, (3, 32, 32), vocab).model
    assert model.config == dataclasses.replace(TINY, act=act)
    g = torch.Generator().manual_seed(1)
    pixels = torch.randn(4, 3, 32, 32, generator=g)  # already CLIP-normalised pixels
    t = model.tokenize(TEXTS)
    with torch.no_grad():
        u_hf = features(hf.get_image_features(pixel_values=pixels))
        v_hf = features(hf.get_text_features(input_ids=t))
        u, v = model.encode_image(pixels), model.encode_text(t)
    image_error = (u - u_hf).abs().max().item()
    text_error = (v - v_hf).abs().max().item()
    print(f"max |genzoo − transformers|: image {image_error:.1e}, text {text_error:.1e}")
    assert image_error < 1e-5 and text_error < 1e-5
    assert u.abs().max() > 0.1 and v.abs().max() > 0.1  # not equal by being all zero
    # embed_images preprocesses a GAN's [−1, 1] images to those pixels first
    x = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    mean, std = torch.tensor(C.MEAN).view(3, 1, 1), torch.tensor(C.STD).view(3, 1, 1)
    with torch.no_grad():
        u_hf = features(hf.get_image_features(pixel_values=((x + 1) / 2 - mean) / std))
        assert torch.allclose(model.embed_images(x), u_hf / u_hf.norm(dim=1, keepdim=True),
                              atol=1e-5)  # fmt: skip


def test_the_tokenizer_equals_transformers_cliptokenizer():
    pytest.importorskip("transformers")
    from transformers import CLIPTokenizer

    ours = C.Tokenizer(MERGES)
    hf = CLIPTokenizer(vocab=dict(ours.ids), merges=list(MERGES))
    for text in TEXTS:
        ids = ours.tokenize([text], 16)[0]
        expected = hf(text)["input_ids"]
        assert ids[: len(expected)].tolist() == expected, text
        assert (ids[len(expected) :] == 0).all()
    assert ours.encode("thick") == [ours.ids["thick</w>"]]  # merged all the way
    assert len(ours) == VOCAB


def test_read_merges_takes_clips_format(tmp_path):
    path = C.write_merges(MERGES, tmp_path / "v.txt.gz")
    assert C.read_merges(path) == MERGES
    (tmp_path / "bad.txt").write_text("#version\na b c\n")
    with pytest.raises(C.GenzooError, match="line 2"):
        C.read_merges(tmp_path / "bad.txt")


# ---- `genzoo edit` with a CLIP file ----

STYLEGAN = {"latent_dim": 4, "w_dim": 4, "n_mapping": 2, "max_channels": 8,
            "channel_base": 32, "images_per_phase": 64}  # fmt: skip


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture(scope="module")
def edit_args(tmp_path_factory):
    """`genzoo edit` arguments for a tiny StyleGAN run on digits (4 steps) and a stand-in
    CLIP file with its vocabulary; the data root holds the digits classifier where
    $GENZOO_DATA has it cached."""
    from genzoo.cli import main

    tmp = tmp_path_factory.mktemp("edit")
    features = Path(os.environ.get("GENZOO_DATA", tmp / "none")) / "genzoo-features"
    for f in features.glob("digits-featnet-*.safetensors") if features.is_dir() else ():
        (tmp / "data" / "genzoo-features").mkdir(parents=True, exist_ok=True)
        shutil.copy(f, tmp / "data" / "genzoo-features" / f.name)
    quiet = ["--set", "progress=false", "--set", "tensorboard=false", "--set", "n_samples=0"]
    sets = [a for k, v in STYLEGAN.items() for a in ("--set", f"{k}={v}")]
    style = tmp / "style"
    assert main(["train", "stylegan", "--data", "digits", "--run-dir", str(style), *sets,
                 "--set", "max_steps=4", *quiet]) == 0  # fmt: skip
    weights = C.save_clip_file(tiny_clip(), tmp / "standin.safetensors")
    vocab = C.write_merges(MERGES, tmp / "vocab.txt.gz")
    return ["--data-root", str(tmp / "data"), "edit", str(style), "--joint", str(weights),
            "--clip-vocab", str(vocab), "--text", "a thick seven", "--steps", "3", "-o",
            str(tmp / "edit.png")]  # fmt: skip


def test_edit_with_a_clip_file(edit_args, capsys):
    from genzoo.cli import main

    capsys.readouterr()
    assert main(edit_args) == 0
    text = capsys.readouterr().out
    print(text)
    assert Path(edit_args[-1]).exists()
    assert "CLIP ViT/8 weights file standin.safetensors (sha256 " in text
    assert "quickgelu, vocabulary vocab.txt.gz" in text and "D_joint" in text


def test_edit_refuses_bad_clip_inputs_in_one_line(edit_args, tmp_path, capsys):
    from genzoo.cli import main

    edit = edit_args
    capsys.readouterr()
    assert main([a for a in edit if a not in edit[6:8]]) == 2  # no --clip-vocab
    assert "--clip-vocab" in error_line(capsys)
    long = [*edit[:9], "a photo of a cat " * 4, *edit[10:]]
    assert main(long) == 2 and "tokens long" in error_line(capsys)
    resnet = tmp_path / "rn50.safetensors"
    save_file({"visual.layer1.0.conv1.weight": torch.zeros(2, 2, 1, 1),
               "token_embedding.weight": torch.zeros(4, 2)}, str(resnet))  # fmt: skip
    assert main([*edit[:5], str(resnet), *edit[6:]]) == 2
    assert "ModifiedResNet" in error_line(capsys)
    assert main([*edit, "--clip-act", "gelu"]) == 2  # the file's metadata says quickgelu
    assert "disagrees" in error_line(capsys)
    assert main([*edit[:7], edit[3], *edit[8:]]) == 2  # a directory as the vocabulary
    assert "--clip-vocab" in error_line(capsys)


def test_eval_takes_the_clip_options_only_with_joint(edit_args, capsys):
    """`genzoo eval` reads --clip-vocab/--clip-act for a CLIP file given as --joint (a
    text2image run's R-precision); without --joint they are a one-line error."""
    from genzoo.cli import main

    root, style, vocab = edit_args[:2], edit_args[3], edit_args[7]
    capsys.readouterr()
    assert main([*root, "eval", style, "--clip-vocab", vocab]) == 2
    assert "go with --joint" in error_line(capsys)
    # a StyleGAN takes no text: the CLIP file is loaded, then refused for the run
    assert main([*root, "eval", style, "--joint", edit_args[5], "--clip-vocab", vocab]) == 2
    assert "takes no text" in error_line(capsys)


def test_match_with_a_clip_file(edit_args, tmp_path, capsys):
    """`genzoo match` with a ViT-CLIP file: an RGB image of any size (CLIP resizes it), the
    captions' cosines and softmax as the model's own embeddings give them."""
    import numpy as np
    from PIL import Image

    from genzoo.apps.edit import load_joint
    from genzoo.apps.match import read_image
    from genzoo.cli import main

    weights, vocab = edit_args[5], edit_args[7]
    rgb = np.random.default_rng(0).integers(0, 256, (13, 20, 3), dtype=np.uint8)
    Image.fromarray(rgb, "RGB").save(tmp_path / "photo.png")
    captions = ["a thick seven", "a thin one"]
    argv = ["match", str(tmp_path / "photo.png"), "--joint", weights, "--clip-vocab", vocab]
    capsys.readouterr()
    assert main([*argv, *(a for c in captions for a in ("--text", c))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "CLIP ViT/8 weights file standin.safetensors" in lines[0] and len(lines) == 3
    joint = load_joint(weights, (3, 13, 20), vocab)
    with torch.no_grad():
        u = joint.model.embed_images(read_image(tmp_path / "photo.png", None))
        cos = (u @ joint.model.embed_prompts(captions).T)[0]
    shown = {" ".join(line.split()[:-3]): float(line.split()[-3]) for line in lines[1:]}
    assert shown.keys() == set(captions)
    assert all(abs(shown[c] - float(v)) < 6e-4 for c, v in zip(captions, cos, strict=True))
    assert main(argv) == 2  # a weights file has no class prompts of its own
    assert "no class prompts of its own" in error_line(capsys)
