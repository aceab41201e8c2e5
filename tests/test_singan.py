"""SinGAN (Shaham et al. 2019): the scale pyramid, the residual generators, scale-by-scale
training with frozen earlier scales, the reconstruction path and its noise amplitudes, and
the one-image data with its errors."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.cli import main
from genzoo.core import DataInfo, GenzooError
from genzoo.core.model import plain_backward
from genzoo.data import load
from genzoo.models import create_model
from genzoo.models.adversarial.singan import pyramid_sizes, resize
from genzoo.train import fit
from genzoo.train.run import load_run

TINY = {"width": 4, "n_blocks": 3, "min_size": 8, "d_steps": 1, "g_steps": 1}
QUIET = {"progress": False, "tensorboard": False}


def synthetic(h=32, w=32) -> torch.Tensor:
    """A smooth colour pattern in [−1, 1], (1, 3, h, w)."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([torch.sin(6 * xx), torch.cos(5 * yy), torch.sin(4 * (xx + yy))])[None]


def tiny(shape=(3, 16, 16), **settings):
    torch.manual_seed(0)
    return create_model("singan", DataInfo(shape, None), **(TINY | settings))


@pytest.mark.parametrize("size", [(32, 32), (85, 128), (167, 250), (250, 100), (25, 40)])
def test_pyramid_follows_the_factor_r_from_the_minimum_size_to_the_image(size):
    h, w = size
    sizes = pyramid_sizes(h, w, 25, 0.75)
    assert sizes[-1] == (h, w) and min(sizes[0]) == 25
    # K derived, not fixed: the fewest scales whose factor is no stronger than r = 0.75
    k = len(sizes)
    assert k == (1 if min(h, w) == 25 else math.ceil(math.log(25 / min(h, w)) / math.log(0.75)) + 1)
    for (h0, w0), (h1, w1) in zip(sizes, sizes[1:], strict=False):
        assert 0.75 - 0.02 <= min(h0, w0) / min(h1, w1) < 1.0
        assert abs(h0 / h1 - w0 / w1) < 0.05  # the aspect ratio kept
    if k > 2:  # one scale fewer would need a factor stronger than r
        assert (25 / min(h, w)) ** (1 / (k - 2)) < 0.75


def test_number_of_scales_grows_with_the_image():
    counts = [len(pyramid_sizes(s, s, 25, 0.75)) for s in (25, 32, 64, 128, 250)]
    assert counts == sorted(counts) and counts[0] == 1 and counts[-1] > counts[1]
    model = tiny((3, 32, 32), min_size=25)
    assert model.n_scales == 2 and len(model.generators) == len(model.discriminators) == 2


def test_a_zeroed_generator_returns_the_upsampled_input_exactly():
    model = tiny()
    g = model.generators[1]
    with torch.no_grad():
        for p in g.parameters():
            p.zero_()
    x_up = resize(torch.rand(2, 3, *model.sizes[0]) * 2 - 1, model.sizes[1])
    z = torch.randn_like(x_up)
    assert torch.equal(g(z, x_up), x_up)


def snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def changed(snap, module) -> bool:
    return any(not torch.equal(snap[k], v) for k, v in module.state_dict().items())


def test_earlier_scales_do_not_change_while_a_later_one_trains():
    model = tiny(steps_per_scale=3)
    x = synthetic(16, 16)
    opt = model.configure_optimizers(0.0)
    before = [snapshot(g) for g in model.generators]
    for step in range(1, 4):
        model.training_step({"x": x}, step, opt, plain_backward)
        model.on_train_step_end(step)
    assert int(model.scale) == 1 and int(model.scale_step) == 0
    assert any(
        not torch.equal(before[0][k], v) for k, v in model.generators[0].state_dict().items()
    )
    frozen = [snapshot(model.generators[0]), snapshot(model.discriminators[0])]
    started = snapshot(model.generators[1])
    for step in range(4, 7):
        model.training_step({"x": x}, step, opt, plain_backward)
        model.on_train_step_end(step)
    assert int(model.scale) == 2
    for module, snap in zip((model.generators[0], model.discriminators[0]), frozen, strict=True):
        assert not changed(snap, module)
    assert changed(started, model.generators[1])


def test_reconstruction_uses_z_star_at_the_coarsest_scale_and_zero_noise_above():
    model = tiny()
    seen = []
    for k, g in enumerate(model.generators):
        g.register_forward_hook(lambda m, inputs, out, k=k: seen.append((k, inputs[0])))
    with torch.no_grad():
        model.sigma[0] = 0.7
        torch.manual_seed(5)
        a = model.reconstruct(model.n_scales - 1)
        torch.manual_seed(6)
        b = model.reconstruct(model.n_scales - 1)
    assert torch.equal(a, b)  # no fresh noise anywhere
    first = seen[: model.n_scales]
    assert torch.equal(first[0][1], 0.7 * model.z_star)
    assert all(float(torch.as_tensor(z).abs().max()) == 0.0 for _, z in first[1:])


def test_noise_amplitude_is_proportional_to_the_rmse_of_the_upsampled_reconstruction():
    model = tiny(steps_per_scale=1, noise_weight=0.1)
    x = synthetic(16, 16)
    opt = model.configure_optimizers(0.0)
    for step in range(1, model.n_scales + 1):
        k = int(model.scale)
        if k > 0:
            with torch.no_grad():
                up = resize(model.reconstruct(k - 1), model.sizes[k])
                rmse = (up - model.real(x, k)).pow(2).mean().sqrt()
        model.training_step({"x": x}, step, opt, plain_backward)
        if k > 0:
            assert torch.allclose(model.sigma[k], 0.1 * rmse)
        model.on_train_step_end(step)
    assert float(model.sigma[0]) == 1.0 and (model.sigma[1:] > 0).all()


def test_a_tiny_seeded_run_with_two_scales_lowers_the_reconstruction_error():
    torch.manual_seed(0)
    model = create_model("singan", DataInfo((3, 32, 32), None), width=8, min_size=25,
                         steps_per_scale=40, d_steps=1, g_steps=2)  # fmt: skip
    assert model.n_scales == 2
    x = synthetic()

    def error():
        with torch.no_grad():
            return (model.reconstruct(1) - x).pow(2).mean().item()

    before = error()
    fit(model, x, max_steps=80, batch_size=1, seed=0, **QUIET)
    assert int(model.scale) == 1
    assert error() < 0.5 * before, (before, error())
    assert model.sample(3).shape == (3, 3, 32, 32)


def test_resume_continues_inside_the_scale_with_earlier_scales_frozen(tmp_path):
    x = synthetic(16, 16)
    model = tiny(steps_per_scale=4)
    fit(model, x, max_steps=6, batch_size=1, run_dir=tmp_path, checkpoint_every=1, **QUIET)
    assert (int(model.scale), int(model.scale_step)) == (1, 2)
    frozen = snapshot(model.generators[0])
    sigma = model.sigma.clone()
    resumed = tiny(steps_per_scale=4)
    fit(resumed, x, max_steps=7, batch_size=1, run_dir=tmp_path, resume=True, **QUIET)
    assert (int(resumed.scale), int(resumed.scale_step)) == (1, 3)
    assert torch.equal(resumed.sigma[:2], sigma[:2])
    assert not changed(frozen, resumed.generators[0])


def test_sampling_mid_training_gives_images_of_the_full_size():
    model = tiny()
    assert int(model.scale) == 0
    x = model.sample(2, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2, 3, 16, 16) and x.abs().max() <= 1


def test_samples_of_another_size_stretch_every_scale():
    model = tiny(steps_per_scale=1)
    model.scale.fill_(model.n_scales - 1)
    g = torch.Generator().manual_seed(0)
    wide = model.sample(2, generator=g, size=(16, 32))
    assert wide.shape == (2, 3, 16, 32) and wide.abs().max() <= 1
    same = model.sample(2, generator=torch.Generator().manual_seed(1), size=(16, 16))
    assert torch.equal(same, model.sample(2, generator=torch.Generator().manual_seed(1)))


def test_genzoo_sample_draws_any_size(tmp_path, capsys):
    run = tmp_path / "run"
    quiet = ["--set", "progress=false", "--set", "tensorboard=false"]
    argv = ["train", "singan", "--data", "image:flower@40", "--run-dir", str(run), "--set",
            "width=4", "--set", "steps_per_scale=2", "--set", "max_steps=4", *quiet]  # fmt: skip
    assert main(argv) == 0
    out = tmp_path / "s.png"
    for flags, (h, w) in ((["--scale-x", "2"], (27, 80)), (["--size", "30x50"], (30, 50)),
                          ([], (27, 40))):  # fmt: skip
        assert main(["sample", str(run), "-n", "1", "-o", str(out), *flags]) == 0
        # one image in a 1-pixel frame, the grid upscaled k times when small
        width, height = Image.open(out).size
        k = width // (w + 2)
        assert (width, height) == (k * (w + 2), k * (h + 2)), (width, height)
    capsys.readouterr()
    assert main(["sample", str(run), "-o", str(out), "--size", "30"]) == 2
    assert "expected HxW" in error_line(capsys)
    assert main(["sample", str(run), "-o", str(out), "--size", "9x9", "--scale-x", "2"]) == 2
    assert "not both" in error_line(capsys)


def test_bundled_images_are_one_image_in_every_split():
    s = load("image:flower@40")
    assert s.train.shape == (1, 3, 27, 40) and torch.equal(s.train, s.test)
    assert "flower.jpg" in s.protocol and "train = valid = test" in s.protocol


def write_png(path, array, mode=None):
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode).save(path)
    return path


def test_a_four_channel_png_becomes_rgb_and_says_so(tmp_path):
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 128
    s = load(f"image:{write_png(tmp_path / 'a.png', rgba)}")
    assert s.train.shape == (1, 3, 20, 30) and "alpha channel dropped" in s.protocol
    grey = load(f"image:{write_png(tmp_path / 'g.png', np.full((12, 12), 9))}")
    assert grey.train.shape == (1, 1, 12, 12)


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_bad_images_are_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "notes.png").write_text("not an image")
    tiny_png = write_png(tmp_path / "dot.png", np.zeros((1, 1, 3)))
    small = write_png(tmp_path / "small.png", np.zeros((20, 30, 3)))
    cases = {
        f"image:{tmp_path / 'notes.png'}": "cannot read notes.png as an image",
        f"image:{tmp_path / 'missing.png'}": "is not a file",
        f"image:{tiny_png}": "the image is 1x1",
        f"image:{small}": "smaller than the coarsest scale (min_size=25 px)",
    }
    for data, message in cases.items():
        argv = ["train", "singan", "--data", data, "--run-dir", str(tmp_path / "run"),
                "--set", "progress=false", "--set", "tensorboard=false"]  # fmt: skip
        assert main(argv) == 2, data
        assert message in error_line(capsys)
    with pytest.raises(GenzooError, match="min_size"):
        create_model("singan", DataInfo((3, 20, 30), None))
    # too small for D's default 5 blocks: the hint names settings that work
    with pytest.raises(GenzooError, match="--set n_blocks=3 --set min_size=8") as e:
        create_model("singan", DataInfo((1, 8, 8), None))
    hint = dict(part.split("=") for part in str(e.value).split("--set ")[1:])
    create_model("singan", DataInfo((1, 8, 8), None), **{k: int(v) for k, v in hint.items()})


def test_a_run_lasts_every_scale_unless_told_otherwise(tmp_path):
    # the trainer's default (10 epochs of one image: 10 steps) would stop in the first scale
    run = tmp_path / "run"
    argv = ["train", "singan", "--data", "image:flower@40", "--run-dir", str(run), "--set",
            "width=4", "--set", "steps_per_scale=2", "--set", "progress=false", "--set",
            "tensorboard=false"]  # fmt: skip
    assert main(argv) == 0
    model = load_run(run).model
    max_steps = json.loads((run / "config.json").read_text())["train"]["max_steps"]
    assert max_steps == model.n_scales * 2 == model.planned_steps()
