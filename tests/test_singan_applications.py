"""SinGAN's applications (Sec. 4: generation from a start scale, injection, super-resolution,
animation) and measures (Sec. 5: SIFID, diversity, reconstruction PSNR), in the model and
through `genzoo sample` / `genzoo eval`."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.apps.single_image import measure
from genzoo.cli import main
from genzoo.core import DataInfo, GenzooError
from genzoo.core.model import plain_backward
from genzoo.metrics.features import FeatureNet, FeatureNetConfig
from genzoo.metrics.inception import load_inception, write_stand_in
from genzoo.metrics.quality import fid
from genzoo.metrics.single_image import diversity, frechet_distance, psnr, sifid
from genzoo.models import create_model
from genzoo.models.adversarial.singan import resize
from genzoo.train.run import load_run

TINY = {"width": 4, "n_blocks": 3, "min_size": 8, "d_steps": 1, "g_steps": 1}
QUIET = ["--set", "progress=false", "--set", "tensorboard=false"]


def trained(shape=(3, 16, 24)):
    """A tiny model with every scale marked trained and non-zero noise amplitudes."""
    torch.manual_seed(0)
    model = create_model("singan", DataInfo(shape, None), **TINY)
    model.scale.fill_(model.n_scales - 1)
    model.sigma[1:] = 0.1
    return model


def seeded(seed):
    return torch.Generator().manual_seed(seed)


def record_inputs(model):
    seen = []
    for k, g in enumerate(model.generators):
        g.register_forward_hook(lambda m, inputs, out, k=k: seen.append((k, *inputs)))
    return seen


def test_generating_from_scale_k_reconstructs_below_k_and_draws_fresh_noise_from_k():
    model = trained()
    k = 2
    with torch.no_grad():
        rec = resize(model.reconstruct(k - 1), model.sizes[k])
    seen = record_inputs(model)
    a = model.sample(3, seeded(0), start_scale=k)
    b = model.sample(3, seeded(1), start_scale=k)
    runs = [seen[: model.n_scales], seen[model.n_scales :]]
    for calls in runs:
        assert [c[0] for c in calls] == list(range(model.n_scales))
        assert torch.equal(calls[0][1], model.z_star)  # σ_0 = 1: z* at the coarsest
        assert all(float(torch.as_tensor(z).abs().max()) == 0 for _, z, _ in calls[1:k])
        x_up = calls[k][2]  # (x̃^rec_{k−1})↑ for every sample, whatever the seed
        assert torch.allclose(x_up, rec.expand_as(x_up), atol=1e-6)
    assert not torch.equal(runs[0][k][1], runs[1][k][1])  # fresh noise from k on
    assert not torch.equal(a, b)
    assert torch.equal(a, model.sample(3, seeded(0), start_scale=k))
    with pytest.raises(GenzooError, match=r"give 0\.\.3"):
        model.sample(1, start_scale=4)


def zeroed(model):
    with torch.no_grad():
        for p in model.generators.parameters():
            p.zero_()
    return model


def test_an_injected_image_enters_at_scale_k_from_scale_k_minus_1s_size():
    model = zeroed(trained())
    x = torch.rand(1, 3, 30, 50) * 2 - 1
    seen = record_inputs(model)
    out = model.inject(x, 2, n=2, generator=seeded(0))
    assert [c[0] for c in seen] == [2, 3]  # the scales below are not run
    expected = resize(resize(x, model.sizes[1]), model.sizes[2])
    assert torch.allclose(seen[0][2], expected.expand(2, -1, -1, -1), atol=1e-6)
    # residual-free generators pass the input up the remaining scales
    assert torch.allclose(out, resize(expected, model.sizes[3]).clamp(-1, 1), atol=1e-6)
    for k in (0, 4):
        with pytest.raises(GenzooError, match=r"give 1\.\.3"):
            model.inject(x, k)


def test_super_resolution_applies_the_finest_generator_with_its_noise_amplitude():
    model = trained((3, 32, 32))
    model.sigma[-1] = 0.25
    m, s = model.upsampling_steps(4.0)
    r = min(model.sizes[-2]) / min(model.sizes[-1])
    assert s**m == pytest.approx(4.0) and abs(math.log(s) - math.log(1 / r)) < math.log(4.0) / m
    seen = record_inputs(model)
    out = model.super_resolve(torch.rand(2, 3, 32, 32) * 2 - 1, 4.0, seeded(0))
    assert out.shape == (2, 3, 128, 128) and out.abs().max() <= 1
    assert [c[0] for c in seen] == [model.n_scales - 1] * m
    z = seen[-1][1]
    assert z.shape[-1] == 128 and 0.2 < float(z.std()) < 0.3  # σ_fine · N(0, I)
    for bad in (1.0, 0.5, 20.0):
        with pytest.raises(GenzooError, match="super-resolution factor"):
            model.upsampling_steps(bad)
    model.scale.fill_(0)
    with pytest.raises(GenzooError, match="train every scale"):
        model.upsampling_steps(2.0)


def test_the_animation_walks_around_the_reconstruction_noise():
    model = trained()
    frames = model.animate(6, generator=seeded(0))
    assert frames.shape == (6, 3, 16, 24) and not torch.equal(frames[0], frames[1])
    assert torch.equal(frames, model.animate(6, generator=seeded(0)))
    # α = 1 pins every z_t to z*_k: every frame is the reconstruction
    still = model.animate(4, alpha=1.0, generator=seeded(0))
    with torch.no_grad():
        rec = model.reconstruct(model.n_scales - 1).clamp(-1, 1)
    assert torch.allclose(still, rec.expand_as(still), atol=1e-5)
    with pytest.raises(GenzooError, match="at least 2"):
        model.animate(1)


def test_cpu_seconds_per_scale_are_kept_and_old_runs_load_without_them():
    torch.manual_seed(0)
    model = create_model("singan", DataInfo((3, 16, 16), None), **TINY, steps_per_scale=2)
    opt = model.configure_optimizers(0.0)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    for step in range(1, 4):
        model.training_step({"x": x}, step, opt, plain_backward)
        model.on_train_step_end(step)
    assert model.cpu_seconds[0] > 0 and model.cpu_seconds[1] > 0
    assert float(model.cpu_seconds[2:].sum()) == 0
    state = {k: v for k, v in model.state_dict().items() if k != "cpu_seconds"}
    fresh = create_model("singan", DataInfo((3, 16, 16), None), **TINY, steps_per_scale=2)
    fresh.load_state_dict(state)
    assert float(fresh.cpu_seconds.sum()) == 0


# --- measures --------------------------------------------------------------------------


def pattern(h=32, w=48):
    """A textured colour image in [0, 1], (1, 3, h, w)."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    x = torch.stack([torch.sin(17 * xx), torch.cos(13 * yy), torch.sin(11 * (xx + yy))])
    return (x[None] + 1) / 2


def feature_net():
    torch.manual_seed(0)
    return FeatureNet(3, 32, 10, FeatureNetConfig()).eval()


def test_frechet_distance_agrees_with_torchmetrics_fid():
    g = seeded(0)
    a, b = torch.randn(400, 6, generator=g), 0.5 + 1.3 * torch.randn(300, 6, generator=g)
    assert frechet_distance(a, b) == pytest.approx(fid(a, b), rel=1e-4)
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-8)


def test_sifid_is_zero_for_the_image_itself_and_grows_with_shifts_and_noise():
    net, x = feature_net(), pattern()
    assert sifid(x, x, net)[0] == pytest.approx(0, abs=1e-6)
    g = seeded(0)
    slightly = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    heavily = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    shifted = torch.roll(x, shifts=(7, 11), dims=(2, 3))
    d_small, d_large = sifid(x, slightly, net)[0], sifid(x, heavily, net)[0]
    assert 0 < d_small < d_large
    assert sifid(x, shifted, net)[0] > 0
    mean, each = sifid(x, torch.cat([x, heavily]), net)
    assert each[0] == pytest.approx(0, abs=1e-6) and mean == pytest.approx(each[1] / 2)


def test_sifid_in_inceptions_first_block(tmp_path):
    net = load_inception(write_stand_in(tmp_path / "stand-in.safetensors"))
    x = pattern(40, 60)
    assert net.early_features(x).shape[:2] == (1, 64)
    assert sifid(x, x, net)[0] == pytest.approx(0, abs=1e-5)
    assert sifid(x, torch.flip(x, dims=(3,)), net)[0] > 0


def test_diversity_and_psnr_of_identical_images():
    x = pattern()
    assert diversity(x.expand(4, -1, -1, -1), x) == 0
    assert diversity(torch.cat([x, 1 - x]), x) > 0
    assert psnr(x, x) == math.inf
    assert psnr(x, (x + 0.1).clamp(0, 1)) == pytest.approx(20.0, abs=1.5)


# --- through the command line ----------------------------------------------------------


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("singan") / "run"
    sets = [f"{k}={v}" for k, v in TINY.items()] + ["steps_per_scale=3"]
    argv = ["train", "singan", "--data", "image:flower@40", "--run-dir", str(run), *QUIET]
    assert main(argv + [a for s in sets for a in ("--set", s)]) == 0
    return run


def test_a_tiny_runs_measures_are_finite(run_dir):
    run = load_run(run_dir)
    assert run.model.n_scales == 6
    r = measure(run, ["sifid", "diversity", "reconstruction"], n=3, start_scales=(0, 1),
                net=feature_net())  # fmt: skip
    assert [row["start_scale"] for row in r["rows"]] == [0, 1]
    assert all(math.isfinite(row["sifid"]) and row["diversity"] >= 0 for row in r["rows"])
    assert math.isfinite(r["reconstruction_psnr"]) and r["reconstruction_psnr"] > 0
    assert float(run.model.cpu_seconds.min()) > 0  # every scale trained and timed


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def png(path, mode, size=(50, 30)):
    rng = np.random.default_rng(0)
    channels = {"RGBA": 4, "RGB": 3, "L": 1}[mode]
    a = (rng.random((size[1], size[0], channels)) * 255).astype(np.uint8)
    Image.fromarray(a[..., 0] if channels == 1 else a, mode).save(path)
    return path


def test_genzoo_eval_measures_a_singan_run(run_dir, tmp_path, capsys):
    assert main(["eval", str(run_dir), "--metrics", "diversity,reconstruction", "--n", "3"]) == 0
    out = capsys.readouterr().out
    assert "start scale" in out and "PSNR" in out
    weights = write_stand_in(tmp_path / "stand-in.safetensors")
    argv = ["eval", str(run_dir), "--metrics", "sifid", "--n", "2", "--start-scale", "1"]
    assert main(argv + ["--inception", str(weights)]) == 0
    out = capsys.readouterr().out
    assert "Inception-v3 block 0" in out and "STAND-IN" in out
    assert main(["eval", str(run_dir), "--metrics", "fid,sifid"]) == 2
    assert "do not mix" in error_line(capsys)
    assert main(["eval", str(run_dir), "--metrics", "diversity", "--start-scale", "9"]) == 2
    assert "give 0..5" in error_line(capsys)


def test_genzoo_sample_from_a_start_scale_and_with_an_injected_image(run_dir, tmp_path, capsys):
    out = tmp_path / "s.png"

    def drawn(*flags):
        assert main(["sample", str(run_dir), "-o", str(out), *flags]) == 0
        return np.asarray(Image.open(out))

    one = drawn("--start-scale", "2", "-n", "1", "--seed", "3")
    assert one.shape == (27, 40, 3)  # one image at its own size
    assert np.array_equal(one, drawn("--start-scale", "2", "-n", "1", "--seed", "3"))
    assert not np.array_equal(one, drawn("--start-scale", "2", "-n", "1", "--seed", "4"))
    grid = drawn("--start-scale", "1", "-n", "4")
    assert grid.shape[0] > 27 and grid.shape[1] > 40
    rgba = png(tmp_path / "paint.png", "RGBA")
    capsys.readouterr()
    painted = drawn("--start-scale", "3", "--from", str(rgba), "-n", "1")
    assert painted.shape == (27, 40, 3) and "alpha channel dropped" in capsys.readouterr().out
    assert np.array_equal(painted, drawn("--start-scale", "3", "--from", str(rgba), "-n", "1"))
    grey = png(tmp_path / "grey.png", "L")
    assert drawn("--start-scale", "1", "--from", str(grey), "-n", "1").shape == (27, 40, 3)
    assert "repeated to RGB" in capsys.readouterr().out


def test_genzoo_sample_super_resolution_and_animation(run_dir, tmp_path):
    out, gif = tmp_path / "sr.png", tmp_path / "walk.gif"
    argv = ["sample", str(run_dir), "--super-resolution", "2", "-o", str(out)]
    assert main(argv) == 0
    first = np.asarray(Image.open(out))
    assert first.shape == (54, 80, 3)
    assert main(argv) == 0 and np.array_equal(first, np.asarray(Image.open(out)))
    assert main(argv + ["--from", str(png(tmp_path / "small.png", "RGB", (20, 10)))]) == 0
    assert Image.open(out).size == (40, 20)
    assert main(["sample", str(run_dir), "--animate", "5", "-o", str(gif)]) == 0
    image = Image.open(gif)
    assert image.n_frames == 5 and image.size == (40, 27)


def test_bad_application_options_are_one_line_and_exit_2(run_dir, tmp_path, capsys):
    (tmp_path / "notes.png").write_text("not an image")
    gif, png_out = str(tmp_path / "a.gif"), str(tmp_path / "a.png")
    cases = [
        (["--start-scale", "6", "-o", png_out], "give 0..5"),
        (["--start-scale", "0", "--from", str(tmp_path / "notes.png"), "-o", png_out],
         "cannot read notes.png as an image"),
        (["--start-scale", "0", "--from", str(png(tmp_path / "p.png", "RGB")), "-o", png_out],
         "give 1..5"),
        (["--from", str(tmp_path / "missing.png"), "--start-scale", "1", "-o", png_out],
         "is not a file"),
        (["--from", str(tmp_path / "p.png"), "-o", png_out], "needs --start-scale"),
        (["--animate", "5", "-o", png_out], "ending .gif"),
        (["--animate", "1", "-o", gif], "2..1000 frames"),
        (["--animate", "5", "--from", str(tmp_path / "p.png"), "-o", gif],
         "--animate does not combine with --from"),
        (["--animate", "5", "-n", "2", "-o", gif], "does not combine with -n"),
        (["--super-resolution", "2", "--start-scale", "1", "-o", png_out],
         "--super-resolution does not combine with --start-scale"),
        (["--super-resolution", "0.5", "-o", png_out], "expected one in (1, 16]"),
        (["--start-scale", "2", "--scale-x", "2", "-o", png_out], "keeps the image's size"),
        (["--start-scale", "1", "--label", "3", "-o", png_out], "does not combine with --label"),
    ]  # fmt: skip
    capsys.readouterr()
    for flags, message in cases:
        assert main(["sample", str(run_dir), *flags]) == 2, flags
        assert message in error_line(capsys), flags


def test_pyramid_options_are_refused_for_other_models(tmp_path, capsys):
    run = tmp_path / "fvsbn"
    assert main(["train", "fvsbn", "--data", "digits", "--run-dir", str(run),
                 "--set", "max_steps=1", *QUIET]) == 0  # fmt: skip
    capsys.readouterr()
    for flags in (["--start-scale", "1"], ["--super-resolution", "2"], ["--animate", "4"]):
        assert main(["sample", str(run), "-o", str(tmp_path / "x.gif"), *flags]) == 2
        assert "single-image pyramid model (singan); fvsbn has none" in error_line(capsys)
    assert main(["eval", str(run), "--metrics", "diversity"]) == 2
    assert "fvsbn has none" in error_line(capsys)
