"""Paired image-to-image translation: the edges2fashion task and its filter, paired image
streams through the data layer and the trainer, Pix2Pix against its paper (U-Net skips,
the PatchGAN's receptive field, dropout and normalisation at test time, the halved D
objective, update isolation), a short run that must beat the identity map, and the CLI."""

import functools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import train_step
from PIL import Image

from genzoo.cli import main
from genzoo.core import DataInfo, GenzooError
from genzoo.data import Transform, load
from genzoo.data.splits import ImageStream, Splits, without_classes
from genzoo.data.streams import DataSpec, Stream, StreamData, TensorDataset
from genzoo.data.tasks import TASKS, Task, pad, sobel_edges
from genzoo.metrics import features
from genzoo.metrics.features import TrainSettings
from genzoo.metrics.translation import l1_and_psnr, translation_metrics
from genzoo.models import create_model
from genzoo.models.adversarial.losses import discriminator_loss
from genzoo.models.translation.pix2pix import (
    Pix2Pix,
    Pix2PixConfig,
    patchgan_layers,
    receptive_field,
)
from genzoo.train import fit

QUIET = {"progress": False, "tensorboard": False}
IMAGES = DataInfo((1, 32, 32), None)


def sobel_reference(x: torch.Tensor, threshold: float) -> torch.Tensor:
    """The stated filter, written again with conv2d: |∇I|² >= threshold² -> 255."""
    k = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    kernels = torch.stack([k, k.T])[:, None]  # (2, 1, 3, 3): G_x, G_y
    g = F.conv2d(x.double(), kernels.double(), padding=1)
    return ((g**2).sum(1, keepdim=True) >= threshold**2).to(torch.uint8) * 255


# ------------------------------------------------------------------ the task and its data


def test_sobel_edges_are_the_stated_filter():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (6, 1, 12, 12), generator=g, dtype=torch.uint8)
    assert torch.equal(sobel_edges(x), sobel_reference(x, 255))
    step = torch.zeros(1, 1, 6, 6, dtype=torch.uint8)
    step[..., 3:] = 64  # a vertical step of 64: |G_x| = 4 * 64 = 256 on both sides of it
    edges = sobel_edges(step)[0, 0]
    assert edges[1:5, 2:4].eq(255).all() and edges[1:5, [0, 1, 4]].eq(0).all()
    assert edges[1:5, 5].eq(255).all()  # zeros outside the image: the border is an edge
    assert sobel_edges(torch.full((1, 1, 5, 5), 63, dtype=torch.uint8))[0, 0, 2, 2] == 0
    dot = torch.zeros(1, 1, 3, 3, dtype=torch.uint8)
    dot[0, 0, 0, 2] = 255  # at the centre G_x = 255, G_y = −255: |∇I| = 255 √2 = 360.6
    assert sobel_edges(dot, threshold=360)[0, 0, 1, 1] == 255
    assert sobel_edges(dot, threshold=361)[0, 0, 1, 1] == 0
    dot[0, 0, 0, 2] = 0
    dot[0, 0, 1, 2] = 255  # G_x = 2 * 255 = 510, G_y = 0: on the threshold 510, an edge
    assert sobel_edges(dot, threshold=510)[0, 0, 1, 1] == 255


def test_edges2fashion_is_the_padded_image_and_its_edge_map(shared_data_root):
    task = load("edges2fashion", shared_data_root, splits=("test",))
    base = load("fashion-mnist", shared_data_root, splits=("test",))
    x, source = task.test, task.images["source"].test
    assert x.shape == source.shape == (10_000, 1, 32, 32) and x.dtype == source.dtype == torch.uint8
    assert torch.equal(x[..., 2:30, 2:30], base.test) and x[..., :2, :].eq(0).all()
    assert torch.equal(source, sobel_reference(x, 255))  # the README's recipe, measured
    assert set(source.unique().tolist()) == {0, 255}
    assert 0.15 < source.float().mean().item() / 255 < 0.3  # outlines, not everything
    assert torch.equal(task.test_labels, base.test_labels)
    again = load("edges2fashion", shared_data_root, splits=("test",))
    assert torch.equal(again.images["source"].test, source)  # deterministic
    assert "Sobel" in task.protocol and "28x28 -> 32x32" in task.protocol


def tiny_splits(n=(12, 4, 4), side=8) -> Splits:
    """A paired dataset in memory: 4-level images and, as "source", their mirror images."""
    g = torch.Generator().manual_seed(0)
    xs = [torch.randint(0, 4, (k, 1, side, side), generator=g, dtype=torch.uint8) for k in n]
    labels = [torch.arange(k) % 3 for k in n]
    source = ImageStream(*(x.flip(-1) for x in xs))
    return Splits("tiny", *xs, *labels, n_levels=4, protocol="", images={"source": source})


def test_paired_image_streams_stay_paired_through_the_data_layer():
    splits = tiny_splits()
    kept = without_classes(splits, (1,))
    for name in ("train", "valid", "test"):
        assert torch.equal(kept.images["source"].split(name), kept.split(name).flip(-1))
    with pytest.raises(GenzooError, match="paired streams have one row per example"):
        short = ImageStream(splits.train[:3], splits.valid, splits.test)
        Splits("bad", splits.train, splits.valid, splits.test, None, None, None, 4, "",
               images={"source": short})  # fmt: skip
    t = Transform(4, binarize="static", seed=0)  # each stream its own draw
    x, source = t.fixed_stream(splits, "x", "train"), t.fixed_stream(splits, "source", "train")
    assert torch.equal(x, t.fixed(splits.train, "train"))
    assert not torch.equal(source, x.flip(-1))
    with pytest.raises(GenzooError, match="no image stream 'edges'"):
        t.fixed_stream(splits, "edges", "train")


def test_a_model_names_the_kind_of_batch_it_needs_and_the_kind_the_data_is():
    x = torch.rand(8, 1, 8, 8)
    model = create_model("pix2pix", DataInfo((1, 8, 8), None), width=2)
    with pytest.raises(GenzooError) as err:
        fit(model, StreamData.from_tensors(x, torch.arange(8) % 2), max_steps=1, **QUIET)
    line = str(err.value)
    assert "\n" not in line
    assert "Pix2Pix learns from paired images" in line
    assert "this data is labelled images (its streams: x, label)" in line
    assert "edges2fashion" in line
    two = (Stream("x", "image", (1,)), Stream("x_b", "image", (1,), "b"))
    assert DataSpec(two).kind == "unpaired images"
    assert DataSpec((Stream("x", "image", (1,)), Stream("source", "image", (1,)))).kind == (
        "paired images"
    )


# ------------------------------------------------------------------ the networks


def shapes_through(unet, x):
    """The outputs of the encoder layers and of the decoder blocks, in order."""
    down, up = [], []
    hooks = [m.register_forward_hook(lambda m, i, o: down.append(o.shape)) for m in unet.down]
    hooks += [m.register_forward_hook(lambda m, i, o: up.append(o.shape)) for m in unet.up]
    y = unet(x)
    for h in hooks:
        h.remove()
    return down, up, y


def test_the_unet_joins_mirrored_resolutions():
    model = create_model("pix2pix", IMAGES, width=4)
    down, up, y = shapes_through(model.generator, torch.rand(2, 1, 32, 32))
    assert [s[-1] for s in down] == [16, 8, 4, 2, 1]  # 5 halvings: 32x32 down to 1x1
    assert y.shape == (2, 1, 32, 32)
    for j, s in enumerate(up):  # decoder block j meets encoder layer n_down - 2 - j
        assert s[1:] == down[len(down) - 2 - j][1:]  # the same channels and resolution
    # the paper's generator at 256x256 (Sec. 6.1.1): C64-C128-C256-C512-C512-C512-C512-C512,
    # decoder inputs CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128 (with the skips)
    paper = create_model("pix2pix", DataInfo((3, 256, 256), None), width=64, d_layers=3).generator
    assert [d.conv.out_channels for d in paper.down] == [64, 128, 256] + [512] * 5
    assert [u.conv.in_channels for u in paper.up] + [paper.out.in_channels] == [
        512, 1024, 1024, 1024, 1024, 512, 256, 128]  # fmt: skip
    assert [u.conv.out_channels for u in paper.up] == [512] * 4 + [256, 128, 64]
    assert [u.p for u in paper.up] == [0.5] * 3 + [0.0] * 4  # CD512-CD512-CD512
    assert paper.out.out_channels == 3
    # no norm in the first layer (Sec. 6.1.1) and in the 1x1 bottleneck
    norms = [type(d.norm).__name__ for d in paper.down]
    assert norms == ["Identity"] + ["InstanceNorm2d"] * 6 + ["Identity"]


def test_the_patchgan_receptive_field_is_the_papers():
    # Sec. 4.4: 1 layer gives the 16x16 patch, 3 the 70x70 of C64-C128-C256-C512, 5 the 286x286
    assert [receptive_field(patchgan_layers(n)) for n in (1, 3, 5)] == [16, 70, 286]
    paper = create_model("pix2pix", DataInfo((3, 256, 256), None), width=64, d_layers=3)
    assert paper.discriminator.layers == patchgan_layers(3)  # read from the built modules
    convs = [m for m in paper.discriminator.net if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert [c.in_channels for c in convs][0] == 6  # the pair (x, y): D is conditional
    # the configured default at 32x32: one stride-2 layer, a 16x16 patch, measured by the
    # gradient of one output (norms left out: they couple all positions)
    model = create_model("pix2pix", IMAGES, width=2)
    d = model.discriminator
    assert receptive_field(d.layers) == 16
    convs = torch.nn.Sequential(*(m for m in d.net if not isinstance(m, torch.nn.InstanceNorm2d)))
    torch.manual_seed(0)
    for p in convs.parameters():
        torch.nn.init.normal_(p)
    pair = torch.rand(1, 2, 32, 32, requires_grad=True)
    out = convs(pair)
    assert out.shape[-2:] == (14, 14) and d(pair[:, :1], pair[:, 1:]).shape == (1, 14, 14)
    (grad,) = torch.autograd.grad(out[0, 0, 7, 7], pair)
    rows, cols = grad.abs().sum((0, 1)).nonzero().unbind(1)
    assert rows.max() - rows.min() + 1 == 16 and cols.max() - cols.min() + 1 == 16


# ------------------------------------------------------------------ test-time behaviour


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_eval_runs_the_generator_as_in_training_with_dropout_on(norm):
    """Sec. 3.3: at test time dropout stays on and normalisation uses the statistics of
    the images at hand: eval() changes nothing, and nothing keeps running averages."""
    torch.manual_seed(0)
    model = create_model("pix2pix", IMAGES, width=4, norm=norm)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    assert not list(model.generator.buffers())  # no running statistics to switch to
    model.train()
    trained = model.generator(x, torch.Generator().manual_seed(5))
    model.eval()
    assert torch.equal(model.translate(x, torch.Generator().manual_seed(5)), trained)
    # dropout is on: another draw, another translation; the same draw, the same one
    other = model.translate(x, torch.Generator().manual_seed(6))
    assert (other - trained).abs().max() > 1e-3
    assert torch.equal(model.translate(x, torch.Generator().manual_seed(6)), other)
    # dropout masks: 3 decoder blocks, half of their units zeroed
    masks = []
    hook = lambda m, i, o: masks.append((o == 0).float().mean().item())  # noqa: E731
    handles = [u.register_forward_hook(hook) for u in model.generator.up[:3]]
    model.translate(x)
    for h in handles:
        h.remove()
    assert all(z > 0.4 for z in masks)  # ReLU zeros too; at least the dropped half


def test_instance_norm_translates_each_image_alone_and_batch_norm_uses_the_batch():
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    for norm, alone in (("instance", True), ("batch", False)):
        torch.manual_seed(0)
        model = create_model("pix2pix", IMAGES, width=4, norm=norm, dropout=0.0).eval()
        same = torch.allclose(model.translate(x[:2]), model.translate(x)[:2], atol=1e-5)
        assert same == alone, norm


# ------------------------------------------------------------------ the objective


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def moved(module, before):
    return any(not torch.equal(p, q) for p, q in zip(module.parameters(), before, strict=True))


def test_d_steps_move_only_d_and_g_steps_only_g():
    torch.manual_seed(0)
    model = create_model("pix2pix", IMAGES, width=4)
    optimizers = model.configure_optimizers(1e-3)
    assert list(optimizers) == ["discriminator", "generator"]
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    optimizers["generator"].param_groups[0]["lr"] = 0.0  # what moves is the D step
    d, g = snapshot(model.discriminator), snapshot(model.generator)
    train_step(model, x, optimizers)
    assert moved(model.discriminator, d) and not moved(model.generator, g)
    optimizers["generator"].param_groups[0]["lr"] = 2e-4
    optimizers["discriminator"].param_groups[0]["lr"] = 0.0  # what moves is the G step
    d, g = snapshot(model.discriminator), snapshot(model.generator)
    train_step(model, x, optimizers)
    assert moved(model.generator, g) and not moved(model.discriminator, d)


def test_the_objective_is_the_papers():
    """D: half of −log D(x, y) − log(1 − D(x, G(x))) (Sec. 3.3); G: −log D(x, G(x)) +
    λ‖y − G(x)‖₁ (Eq. 4), λ = 100."""
    torch.manual_seed(0)
    model = create_model("pix2pix", IMAGES, width=4)
    x, y = torch.rand(4, 1, 32, 32) * 2 - 1, torch.rand(4, 1, 32, 32) * 2 - 1
    torch.manual_seed(1)  # the dropout draw of the step below
    y_fake = model.generator(x)
    d = model.discriminator
    expected = 0.5 * discriminator_loss(d(x, y), d(x, y_fake))
    torch.manual_seed(1)
    logs = model.training_step({"x": y, "source": x}, 0, model.configure_optimizers(0),
                               lambda loss, inputs: loss.backward(inputs=inputs))  # fmt: skip
    assert logs["d_loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert logs["l1"].item() == pytest.approx((y - y_fake).abs().mean().item(), rel=1e-6)
    g_loss = logs["g_gan"] + 100 * logs["l1"]
    assert logs["g_loss"].item() == pytest.approx(g_loss.item(), rel=1e-6)
    assert model.config.lambda_l1 == 100 and tuple(model.config.betas) == (0.5, 0.999)


def test_the_ablations_l1_alone_and_cgan_alone():
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    l1_alone = create_model("pix2pix", IMAGES, width=4, use_gan=False)
    assert l1_alone.discriminator is None
    assert list(l1_alone.configure_optimizers(1e-3)) == ["generator"]
    logs = train_step(l1_alone, x)
    assert "d_loss" not in logs and logs["g_gan"] == 0
    gan_alone = create_model("pix2pix", IMAGES, width=4, lambda_l1=0.0)
    logs = train_step(gan_alone, x)
    assert logs["g_loss"] == logs["g_gan"]
    with pytest.raises(GenzooError, match="no objective"):
        create_model("pix2pix", IMAGES, use_gan=False, lambda_l1=0.0)
    with pytest.raises(GenzooError, match="powers of two"):
        create_model("pix2pix", DataInfo((1, 28, 28), None))
    with pytest.raises(GenzooError, match="d_layers <= 3"):
        create_model("pix2pix", IMAGES, d_layers=4)
    with pytest.raises(GenzooError, match="3-channel 32x32 images; got 1x32x32"):
        create_model("pix2pix", IMAGES, width=2, in_channels=3).translate(x)


def test_l1_and_psnr():
    y = torch.rand(3, 1, 4, 4)
    l1, psnr = l1_and_psnr(y, y)
    assert l1.eq(0).all() and psnr.eq(100).all()
    l1, psnr = l1_and_psnr((y + 0.5).clamp(max=2), y)  # off by 0.5 everywhere
    assert l1 == pytest.approx(torch.full((3,), 0.5)) and psnr == pytest.approx(
        torch.full((3,), 10 * math.log10(4)))  # fmt: skip


# ------------------------------------------------------------------ training


def rectangles(n: int, side: int, seed: int):
    """A tiny paired task: white rectangles (x) and their Sobel edge maps (source)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.zeros(n, 1, side, side, dtype=torch.uint8)
    for i in range(n):
        top, left = torch.randint(1, side // 2, (2,), generator=g).tolist()
        h, w = torch.randint(3, side // 2, (2,), generator=g).tolist()
        y[i, 0, top : top + h, left : left + w] = 255
    return sobel_edges(y), y


def paired(source, target) -> StreamData:
    t = Transform(256, scale="symmetric")
    spec = DataSpec((Stream("x", "image", tuple(target.shape[1:])),
                     Stream("source", "image", tuple(source.shape[1:]))))  # fmt: skip
    return StreamData(spec, {"x": TensorDataset(t.fixed(target, "train")),
                             "source": TensorDataset(t.fixed(source, "train"))})  # fmt: skip


def test_a_short_run_lowers_the_l1_well_below_the_identity_maps():
    """Filling outlines: 300 seeded steps on 256 pairs; judged on 64 held-out pairs against
    their ground truth (an oracle the model does not train against)."""
    torch.manual_seed(0)
    model = create_model("pix2pix", DataInfo((1, 16, 16), None), width=8, lr_g=1e-3, lr_d=1e-3)
    fit(model, paired(*rectangles(256, 16, 0)), max_steps=300, batch_size=16, **QUIET)
    t = Transform(256, scale="symmetric")
    source, target = rectangles(64, 16, 1)
    r = translation_metrics(model, t.fixed(source, "test"), t.fixed(target, "test"), "symmetric",
                            batch_size=64)  # fmt: skip
    assert r["l1"] < 0.4 * r["identity_l1"], r
    assert r["psnr_db"] > r["identity_psnr_db"] + 5, r


def test_training_resumes_exactly_with_its_dropout_draws(tmp_path):
    data = paired(*rectangles(32, 8, 0))
    info, settings = DataInfo((1, 8, 8), None), {"batch_size": 8, **QUIET}
    torch.manual_seed(0)
    whole = create_model("pix2pix", info, width=2)
    fit(whole, data, max_steps=6, **settings)
    torch.manual_seed(0)
    first = create_model("pix2pix", info, width=2)
    fit(first, data, max_steps=3, run_dir=tmp_path, **settings)
    resumed = create_model("pix2pix", info, width=2)
    fit(resumed, data, max_steps=6, run_dir=tmp_path, resume=True, **settings)
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)


class Recording(Pix2Pix):
    """Pix2Pix that records whether each batch's source is still −x, pixel by pixel."""

    def training_step(self, batch, step, optimizers, backward):
        self.pairs_agree.append(torch.allclose(batch["source"], -batch["x"], atol=1e-6))
        return super().training_step(batch, step, optimizers, backward)


def test_augmentation_moves_both_images_of_a_pair_alike():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (16, 1, 8, 8), generator=g, dtype=torch.uint8)
    model = Recording(Pix2PixConfig(width=2), DataInfo((1, 8, 8), None))
    model.pairs_agree = []
    fit(model, paired(255 - x, x), max_steps=4, batch_size=8, augment="flip,crop=2", **QUIET)
    assert model.pairs_agree == [True] * 4  # source = −x pixel by pixel, after any flip/crop


# ------------------------------------------------------------------ the CLI


def tiny_task(base: Splits) -> Splits:
    """8x8 digits padded to 16x16 and their edges (threshold 16 on 0..16 levels)."""
    x = {s: pad(base.split(s), 4) for s in ("train", "valid", "test")}
    edges = [sobel_edges(x[s], threshold=16) // 255 * 16 for s in ("train", "valid", "test")]
    source = ImageStream(*edges)  # in the digits' levels 0..16
    return Splits("edges2digits", *x.values(), base.train_labels, base.valid_labels,
                  base.test_labels, n_levels=17, protocol="digits edges",
                  images={"source": source})  # fmt: skip


@pytest.fixture
def edges2digits(monkeypatch):
    monkeypatch.setitem(TASKS, "edges2digits", Task("edges2digits", "digits", tiny_task, ""))
    return "edges2digits"


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


def test_train_resume_and_translate_from_the_command_line(
    edges2digits, tmp_path, capsys, monkeypatch
):
    run = tmp_path / "run"
    quiet = ["--set", "progress=false", "--set", "tensorboard=false"]
    argv = ["train", "pix2pix", "--data", edges2digits, "--run-dir", str(run), "--set",
            "width=4", "--set", "max_steps=12", *quiet]  # fmt: skip
    assert main(argv) == 0  # 1,197 pairs in batches of 100: an epoch is 12 steps
    assert (run / "progress" / "epoch-0001.png").exists() and (run / "progress.gif").exists()
    grid = np.asarray(Image.open(run / "progress" / "epoch-0001.png"))
    assert grid.shape[1] < grid.shape[0]  # 3 columns (input | output | target), 8 rows
    report = (run / "report.md").read_text()
    assert "| test | " in report and "PSNR" in report and "identity L1" in report
    assert (run / "translations.png").exists()
    assert main(["train", "--resume", str(run), "--set", "max_steps=14", *quiet]) == 0
    assert "stopped: completed at step 14" in (run / "report.md").read_text()
    capsys.readouterr()

    out = tmp_path / "grid.png"
    assert main(["translate", str(run), "--split", "test", "-n", "5", "-o", str(out)]) == 0
    assert "rows: input | output | target" in capsys.readouterr().out
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for i in range(2):
        Image.fromarray(np.full((16, 16), 255 * i, np.uint8)).save(inputs / f"e{i}.png")
    assert main(["translate", str(run), "--input", str(inputs / "e1.png"), "-o", str(out)]) == 0
    assert main(["translate", str(run), "--input", str(inputs), "-o", str(out)]) == 0
    assert "2 image(s)" in capsys.readouterr().out

    # bad inputs: one line each, exit 2
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "small.png")
    assert main(["translate", str(run), "--input", str(tmp_path / "small.png"), "-o",
                 str(out)]) == 2  # fmt: skip
    assert "is 28x28; the model translates 16x16 greyscale" in error_line(capsys)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "rgb.png")
    assert main(["translate", str(run), "--input", str(tmp_path / "rgb.png"), "-o",
                 str(out)]) == 2  # fmt: skip
    assert "mode-RGB image" in error_line(capsys)
    # eval: L1/PSNR against the pairs, then FID and the classifier's accuracy of the outputs
    # in the task's feature network (trained briefly here, into this data root)
    quick = functools.partial(features.feature_network, training=TrainSettings(steps=60))
    monkeypatch.setattr(features, "feature_network", quick)
    assert main(["--data-root", str(tmp_path), "eval", str(run)]) == 0
    said = capsys.readouterr().out
    assert "a2b: L1 " in said and "identity map" in said and "edges2digits-featnet-" in said
    assert "FID against the test targets (300)" in said and "on the real targets" in said
    # outputs that are the targets themselves: FID ≈ 0, and the targets' accuracy
    from genzoo.apps.quality import evaluate_translations
    from genzoo.train.run import load_run, load_splits, translation_pairs

    loaded = load_run(run)
    splits = load_splits("edges2digits", None, loaded.train_config)
    batches = iter(translation_pairs(splits, loaded.transform, "test")[1].split(100))
    monkeypatch.setattr(loaded.model, "translate", lambda x, generator=None: next(batches))
    r, _ = evaluate_translations(loaded, data_root=tmp_path, splits=splits)
    assert r["fid"] == pytest.approx(0.0, abs=1e-3) and r["accuracy"] == r["target_accuracy"]
    assert r["identity_fid"] > 1.0

    nade = tmp_path / "nade"
    assert main(["train", "nade", "--run-dir", str(nade), "--set", "max_steps=2", *quiet]) == 0
    capsys.readouterr()
    assert main(["translate", str(nade), "--split", "test", "-o", str(out)]) == 2
    assert "nade does not translate images" in error_line(capsys)
    assert main(["train", "pix2pix", "--data", "digits", "--run-dir", str(tmp_path / "p"),
                 *quiet]) == 2  # fmt: skip
    assert "paired images" in error_line(capsys) and not (tmp_path / "p").exists()


def test_edges2fashion_from_the_command_line(shared_data_root, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["--data-root", str(shared_data_root), "train", "pix2pix", "--data", "edges2fashion",
            "--run-dir", str(run), "--set", "width=2", "--set", "max_steps=2", "--set",
            "progress=false", "--set", "tensorboard=false"]  # fmt: skip
    assert main(argv) == 0
    report = (run / "report.md").read_text()
    assert "10,000 test inputs" in report and "Sobel" in report
    assert main(["data", "list", "edges2fashion", "--data-root", str(shared_data_root)]) == 0
    assert "edges2fashion" in capsys.readouterr().out
