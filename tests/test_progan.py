"""ProGAN: the equalized-lr layers, PixelNorm, minibatch stddev, the growth schedule, the
fade-in of G, D and the real images, the drift term, update isolation, exact resume
mid-fade, and a short run on digits that grows from 4×4 to 8×8."""

import math

import pytest
import torch
import torch.nn.functional as F
from conftest import train_step

from genzoo.core import DataInfo, GenzooError
from genzoo.models import create_model
from genzoo.nn.progressive import (
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStdDev,
    PixelNorm,
    progressive_stage,
    real_images_at,
    upsample,
)
from genzoo.train import fit

QUIET = {"progress": False, "tensorboard": False}
IMAGES = DataInfo((1, 8, 8), None)
TINY = {"latent_dim": 4, "max_channels": 8, "channel_base": 32, "ema_decay": 0.0}


def tiny(**settings):
    torch.manual_seed(0)
    return create_model("progan", IMAGES, **(TINY | settings))


def test_equalized_layers_scale_unit_weights_by_hes_constant_at_run_time():
    torch.manual_seed(0)
    conv = EqualizedConv2d(16, 32, 3)
    c = math.sqrt(2 / (16 * 3 * 3))
    assert conv.weight.std().item() == pytest.approx(1.0, abs=0.05)  # stored: N(0, 1)
    x = torch.randn(2, 16, 5, 5)
    plain = F.conv2d(x, conv.weight * c, conv.bias, padding=1)
    torch.testing.assert_close(conv(x), plain)
    # the gradient of the stored weight is c times that of the effective weight c·w
    w_hat = (conv.weight.detach() * c).requires_grad_(True)
    F.conv2d(x, w_hat, conv.bias.detach(), padding=1).square().sum().backward()
    conv(x).square().sum().backward()
    torch.testing.assert_close(conv.weight.grad, c * w_hat.grad)
    linear = EqualizedLinear(64, 8, gain=1.0)
    z = torch.randn(3, 64)
    torch.testing.assert_close(linear(z), z @ (linear.weight / 8.0).T)


def test_pixel_norm_gives_unit_mean_square_at_every_pixel():
    a = torch.randn(4, 6, 5, 5) * 7 + 3
    b = PixelNorm()(a)
    torch.testing.assert_close(b.pow(2).mean(dim=1), torch.ones(4, 5, 5))


def test_minibatch_stddev_appends_the_mean_standard_deviation_over_the_batch():
    x = torch.randn(8, 3, 4, 4)
    y = MinibatchStdDev()(x)
    assert y.shape == (8, 4, 4, 4) and torch.equal(y[:, :3], x)
    expected = x.std(dim=0, unbiased=False).mean()
    torch.testing.assert_close(y[:, 3], expected.expand(8, 4, 4), atol=1e-6, rtol=1e-5)
    constant = MinibatchStdDev()(torch.ones(8, 3, 4, 4))[:, 3]
    assert constant.abs().max() < 1e-3  # sqrt(0 + ε)


def test_schedule_starts_at_4x4_fades_linearly_and_stays_at_the_last_stage():
    P, n = 100, 3  # 4×4, 8×8, 16×16
    assert progressive_stage(0, P, n) == (0, 1.0)
    assert progressive_stage(99, P, n) == (0, 1.0)
    assert progressive_stage(100, P, n) == (1, 0.0)  # 8×8 fades in
    assert progressive_stage(125, P, n) == (1, 0.25)
    assert progressive_stage(150, P, n) == (1, 0.5)
    assert progressive_stage(200, P, n) == (1, 1.0)  # stabilising
    assert progressive_stage(299, P, n) == (1, 1.0)
    assert progressive_stage(300, P, n) == (2, 0.0)
    assert progressive_stage(350, P, n) == (2, 0.5)
    assert progressive_stage(10**6, P, n) == (2, 1.0)
    assert progressive_stage(10**6, P, 1) == (0, 1.0)


def test_fade_in_blends_the_upsampled_old_output_with_the_new_block():
    model = tiny()
    G, D = model.generator, model.discriminator
    z, x = torch.randn(5, 4), torch.randn(5, 1, 8, 8)
    old, new = upsample(G(z, 0, 1.0)), G(z, 1, 1.0)
    torch.testing.assert_close(G(z, 1, 0.0), old)  # α = 0: the 4×4 output, upsampled
    torch.testing.assert_close(G(z, 1, 0.3), 0.7 * old + 0.3 * new)
    assert not torch.allclose(old, new)
    # D at α = 0 sees the 4×4 average-pooled input through the old path
    torch.testing.assert_close(D(x, 1, 0.0), D(F.avg_pool2d(x, 2), 0, 1.0))
    # the real images: at α = 0 the 4×4 images upsampled; at α = 1 the 8×8 ones
    torch.testing.assert_close(real_images_at(x, 8, 0.0), upsample(F.avg_pool2d(x, 2)))
    torch.testing.assert_close(real_images_at(x, 8, 1.0), x)
    torch.testing.assert_close(real_images_at(x, 4, 1.0), F.avg_pool2d(x, 2))


def test_samples_are_full_size_at_every_stage():
    model = tiny(images_per_phase=10)
    for seen, resolution in ((0, 4), (15, 8), (100, 8)):
        model.images_seen.fill_(seen)
        assert model.resolution == resolution
        x = model.sample(3, generator=torch.Generator().manual_seed(0))
        assert x.shape == (3, 1, 8, 8) and x.abs().max() <= 1.0


def test_critic_loss_carries_the_drift_term():
    x = torch.rand(16, 1, 8, 8) * 2 - 1
    logs = {}
    for drift_weight in (0.0, 0.5):
        model = tiny(drift_weight=drift_weight)
        optimizers = model.configure_optimizers(0.0)
        torch.manual_seed(1)
        logs[drift_weight] = train_step(model, x, optimizers)
    a, b = logs[0.0], logs[0.5]
    assert b["drift"] > 0 and torch.equal(a["drift"], b["drift"])
    torch.testing.assert_close(b["loss"] - a["loss"], 0.5 * b["drift"])


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def moved(module, before):
    return any(not torch.equal(p, q) for p, q in zip(module.parameters(), before, strict=True))


def test_discriminator_steps_move_only_d_and_generator_steps_only_g():
    model = tiny(n_critic=2)
    optimizers = model.configure_optimizers(0.0)
    x = torch.rand(16, 1, 8, 8) * 2 - 1
    d, g = snapshot(model.discriminator), snapshot(model.generator)
    train_step(model, x, optimizers)  # n_critic = 2: a critic step only
    assert moved(model.discriminator, d) and not moved(model.generator, g)
    optimizers["discriminator"].param_groups[0]["lr"] = 0.0
    d, g = snapshot(model.discriminator), snapshot(model.generator)
    train_step(model, x, optimizers)  # a critic step at rate 0, then a generator step
    assert moved(model.generator, g) and not moved(model.discriminator, d)
    assert int(model.images_seen) == 32


def test_a_run_resumed_mid_fade_reaches_the_uninterrupted_weights(tmp_path):
    x = torch.rand(64, 1, 8, 8) * 2 - 1
    settings = dict(batch_size=16, **QUIET)
    growing = {"images_per_phase": 64, "ema_decay": 0.9}  # 4 steps at 4×4, 4 fading in
    whole = tiny(**growing)
    fit(whole, x, max_steps=10, **settings)
    assert whole.stage() == (1, 1.0)
    part = tiny(**growing)
    fit(part, x, max_steps=6, run_dir=tmp_path, **settings)
    assert part.stage() == (1, 0.5)  # stopped half-way through the fade
    resumed = tiny(**growing)
    torch.manual_seed(123)  # another RNG state, which the checkpoint must override
    steps = []
    fit(
        resumed,
        x,
        max_steps=10,
        run_dir=tmp_path,
        resume=True,
        callbacks=[lambda step, logs: steps.append((step, float(logs["alpha"])))],
        **settings,
    )
    assert steps[0] == (7, 0.5)  # it continues from the checkpoint, at the same α
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(),
                            strict=True):  # fmt: skip
        assert torch.equal(a, b), name


def test_progan_refuses_images_it_cannot_grow_to():
    with pytest.raises(GenzooError, match="power of 2"):
        create_model("progan", DataInfo((1, 28, 28), None), **TINY)


def test_a_short_run_on_digits_grows_from_4x4_to_8x8(shared_data_root, tmp_path):
    from genzoo.train.run import train_run

    settings = {"max_steps": "30", "batch_size": "32", "progress": "false", "seed": "0",
                "tensorboard": "false", "n_samples": "0", "latent_dim": "16",
                "max_channels": "16", "channel_base": "64", "images_per_phase": "256"}  # fmt: skip
    run = train_run("progan", "digits", settings, run_dir=tmp_path / "run",
                    data_root=shared_data_root)  # fmt: skip
    assert run.result.stopped == "completed" and run.result.step == 30
    assert run.model.stage() == (1, 1.0) and int(run.model.images_seen) == 960
    x = run.model.sample(8)
    assert x.shape == (8, 1, 8, 8) and torch.isfinite(x).all()
