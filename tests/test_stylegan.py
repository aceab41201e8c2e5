"""StyleGAN: AdaIN by hand, style mixing seen through hooks on every layer's affine map,
truncation (ψ = 0, ψ = 1, only the coarse layers), the mapping network's ×0.01 learning
rate through one Adam step, the noise inputs, w̄ as a saved buffer, the layer groups, and
runs through the trainer that grow, save the stage and resume mid-fade exactly."""

import math

import pytest
import torch
import torch.nn.functional as F

from genzoo.core import DataInfo, GenzooError
from genzoo.models import create_model
from genzoo.models.adversarial.stylegan import AdaIN, adain
from genzoo.nn.progressive import EqualizedLinear
from genzoo.train import fit
from genzoo.train.checkpoint import load_model_weights, save_model

QUIET = {"progress": False, "tensorboard": False}
TINY = {"latent_dim": 4, "w_dim": 6, "n_mapping": 2, "max_channels": 8, "channel_base": 32,
        "ema_decay": 0.0}  # fmt: skip


def tiny(side=16, **settings):
    torch.manual_seed(0)
    return create_model("stylegan", DataInfo((1, side, side), None), **(TINY | settings))


def grown(model):
    """The model at its last stage, α = 1."""
    model.images_seen.fill_(10**9)
    return model


def test_adain_normalises_each_channel_then_applies_the_style():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[5.0, 5.0], [5.0, 5.0]]]])  # (1, 2, 2, 2)
    y_s, y_b = torch.tensor([[2.0, 3.0]]), torch.tensor([[1.0, -1.0]])
    # channel 0: μ = 2.5, σ = sqrt(1.25); channel 1 is constant: σ = sqrt(ε), x − μ = 0
    d = 1 / math.sqrt(1.25)
    expected = torch.tensor([[[[1 - 3 * d, 1 - d], [1 + d, 1 + 3 * d]],
                              [[-1.0, -1.0], [-1.0, -1.0]]]])  # fmt: skip
    torch.testing.assert_close(adain(x, y_s, y_b), expected)
    # the module: y = A(w); with A's weights at 0, y_s = 1 (its bias) and y_b = 0
    layer = AdaIN(w_dim=3, channels=2)
    torch.testing.assert_close(layer.affine(torch.zeros(1, 3)), torch.tensor([[1.0, 1, 0, 0]]))
    with torch.no_grad():
        layer.affine.weight.zero_()
        layer.affine.bias.copy_(torch.tensor([2.0, 3.0, 1.0, -1.0]))
    torch.testing.assert_close(layer(x, torch.randn(1, 3)), expected)


def affine_inputs(model):
    """Hooks that record the w each layer's A sees, and the outputs of the mapping network."""
    seen, mapped = {}, []
    for i, layer in enumerate(model.generator.synthesis.layers):
        layer.style.affine.register_forward_pre_hook(
            lambda module, args, i=i: seen.__setitem__(i, args[0].detach().clone())
        )
    model.generator.mapping.register_forward_hook(
        lambda module, args, out: mapped.append(out.detach().clone()))  # fmt: skip
    return seen, mapped


def test_style_mixing_gives_layers_before_the_crossover_w1_and_the_rest_w2():
    model = grown(tiny(mixing_prob=1.0))
    model.train()
    seen, mapped = affine_inputs(model)
    L, crossovers = model.n_layers, set()
    for seed in range(12):
        torch.manual_seed(seed)
        seen.clear(), mapped.clear()
        model.generator(torch.randn(5, 4), 2, 1.0)
        w1, w2 = mapped
        assert sorted(seen) == list(range(L)) and not torch.allclose(w1, w2)
        k = next(i for i in range(L) if torch.equal(seen[i], w2))
        assert 1 <= k < L
        assert all(torch.equal(seen[i], w1) for i in range(k))
        assert all(torch.equal(seen[i], w2) for i in range(k, L))
        crossovers.add(k)
    assert len(crossovers) >= 3  # k is drawn, not fixed
    # at 4×4 only the two active layers mix: k = 1
    seen.clear(), mapped.clear()
    model.generator(torch.randn(5, 4), 0, 1.0)
    assert torch.equal(seen[0], mapped[0]) and torch.equal(seen[1], mapped[1])
    # without mixing, one w for every layer
    model = grown(tiny(mixing_prob=0.0))
    model.train()
    seen, mapped = affine_inputs(model)
    model.generator(torch.randn(5, 4), 2, 1.0)
    assert len(mapped) == 1 and all(torch.equal(seen[i], mapped[0]) for i in range(L))
    # outside training neither mixing nor w̄'s update
    model = grown(tiny(mixing_prob=1.0))
    model.eval()
    seen, mapped = affine_inputs(model)
    model.generator(torch.randn(5, 4), 2, 1.0)
    assert len(mapped) == 1 and not model.generator.w_avg.any()


def test_truncation_at_psi_0_gives_one_image_and_at_psi_1_changes_nothing():
    model = grown(tiny())  # 6 layers, truncation_cutoff = 8: every layer
    with torch.no_grad():
        model.generator.w_avg.copy_(torch.randn(6))
        for layer in model.generator.synthesis.layers:  # noise that matters
            layer.noise.weight.fill_(0.3)
    model.eval()
    z = torch.randn(4, 4)
    x = model.decode_noise(z)
    assert not torch.allclose(x[0], x[1])
    x0 = model.decode_noise(z, truncation=0.0)  # the fixed noise: one image for all z
    for i in range(1, 4):
        torch.testing.assert_close(x0[i], x0[0])
    assert torch.equal(model.decode_noise(z, truncation=1.0), x)
    g = torch.Generator
    plain = model.sample(4, generator=g().manual_seed(1))
    assert torch.equal(model.sample(4, generator=g().manual_seed(1), truncation=1.0), plain)
    assert not torch.equal(model.sample(4, generator=g().manual_seed(1), truncation=0.5), plain)


def test_truncation_moves_only_the_layers_below_the_cutoff():
    model = grown(tiny(truncation_cutoff=2))
    w_avg = torch.randn(6)
    model.generator.w_avg.copy_(w_avg)
    ws = torch.randn(3, 6, 6)
    out = model.truncate(ws, 0.3)
    torch.testing.assert_close(out[:, :2], w_avg + 0.3 * (ws[:, :2] - w_avg))
    assert torch.equal(out[:, 2:], ws[:, 2:])
    # through the network: the layers' A see exactly these styles
    model.eval()
    seen, _ = affine_inputs(model)
    z = torch.randn(3, 4)
    model.decode_noise(z, truncation=0.0)
    w = model.mapping(z)
    assert all(torch.equal(seen[i], w_avg.expand(3, 6)) for i in (0, 1))
    assert all(torch.equal(seen[i], w) for i in range(2, 6))
    # cutoff 0: truncation does nothing
    model.config.truncation_cutoff = 0
    assert torch.equal(model.truncate(ws, 0.0), ws)


def test_the_mapping_networks_learning_rate_multiplier_scales_its_steps():
    torch.manual_seed(0)
    lrmul, n_in = 0.01, 16
    # float64: stored weights of ~100 take steps of 1e-3
    slow = EqualizedLinear(n_in, 8, lr_multiplier=lrmul).double()
    plain = EqualizedLinear(n_in, 8).double()
    c = math.sqrt(2 / n_in)
    assert slow.weight.std().item() == pytest.approx(1 / lrmul, rel=0.1)  # stored: N(0, 1/λ²)
    with torch.no_grad():
        slow.bias.fill_(0.5)
        plain.weight.copy_(slow.weight * lrmul)  # the same effective weights
        plain.bias.fill_(0.5 * lrmul)
    x = torch.randn(32, n_in, dtype=torch.float64)
    torch.testing.assert_close(slow(x), F.linear(x, slow.weight * c * lrmul, slow.bias * lrmul))
    torch.testing.assert_close(slow(x), plain(x))

    def effective(layer, m):
        return layer.weight.detach() * c * m, layer.bias.detach() * m

    before = effective(slow, lrmul), effective(plain, 1.0)
    for layer in (slow, plain):
        # ε ≈ 0: Adam's ε would weigh more against the slow layer's smaller gradients
        optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3, betas=(0.0, 0.99), eps=1e-20)
        layer(x).sin().sum().backward()
        optimizer.step()
    after = effective(slow, lrmul), effective(plain, 1.0)
    for j in (0, 1):  # weight, bias: the slow layer moves λ times as far
        step_slow, step_plain = after[0][j] - before[0][j], after[1][j] - before[1][j]
        torch.testing.assert_close(step_slow, lrmul * step_plain, rtol=1e-6, atol=0.0)
    # the model's mapping layers carry the config's multiplier, the rest of G none
    model = tiny()
    optimizers = model.configure_optimizers(0.0)
    first = model.generator.mapping.layers[0]
    w_before = first.weight.detach() * first.scale
    model.generator(torch.randn(8, 4), 0, 1.0).square().sum().backward()
    optimizers["generator"].step()
    step = (first.weight.detach() * first.scale - w_before).abs()
    lr = model.config.lr_g
    expected = lr * math.sqrt(2 / 4) * 0.01  # Adam's first step: lr per stored weight
    # float32 rounds stored weights of ~100 to ~1e-5: 1% of a step of 1e-3
    assert step.max().item() == pytest.approx(expected, rel=0.03)
    affine = model.generator.synthesis.layers[0].style.affine
    assert affine.lr_multiplier == 1.0


def test_noise_starts_without_effect_has_a_gradient_and_then_varies_the_image():
    model = grown(tiny())
    model.eval()
    ws = model.broadcast(model.mapping(torch.randn(3, 4)))
    g = torch.Generator
    a = model.synthesize(ws, g().manual_seed(1))
    assert torch.equal(a, model.synthesize(ws, g().manual_seed(2)))  # B = 0 at start
    weights = [layer.noise.weight for layer in model.generator.synthesis.layers]
    assert all(torch.equal(b, torch.zeros_like(b)) for b in weights)
    model.train()
    noise = model.noise_inputs(3, g().manual_seed(1))
    model.generator.synthesis(ws, 2, 1.0, noise).square().sum().backward()
    assert all(b.grad is not None and b.grad.abs().sum() > 0 for b in weights)
    model.eval()
    with torch.no_grad():
        for b in weights:
            b.fill_(0.5)
    a, b = model.synthesize(ws, g().manual_seed(1)), model.synthesize(ws, g().manual_seed(2))
    assert not torch.allclose(a, b)  # the same w, other noise: another image
    assert torch.equal(model.synthesize(ws, g().manual_seed(1)), a)  # the same noise
    assert torch.equal(model.synthesize(ws, noise), a)  # given as a list
    with pytest.raises(GenzooError, match="give 6 tensors"):
        model.synthesize(ws, noise[:-1])


def test_w_avg_tracks_the_mean_w_and_is_saved_and_restored(tmp_path):
    model = tiny(mixing_prob=0.0)
    model.train()
    z = torch.randn(8, 4)
    w = model.generator.mapping(z).detach()
    before = model.generator.w_avg.clone()
    model.generator.styles(z, 0)
    torch.testing.assert_close(model.generator.w_avg, 0.995 * before + 0.005 * w.mean(0))
    fit(model, torch.rand(32, 1, 16, 16) * 2 - 1, max_steps=3, batch_size=8, **QUIET)
    assert "generator.w_avg" in dict(model.named_buffers())
    assert model.generator.w_avg.abs().sum() > 0
    save_model(tmp_path / "m.safetensors", model, {})
    clone = tiny(mixing_prob=0.0)
    load_model_weights(tmp_path / "m.safetensors", clone)
    assert torch.equal(clone.generator.w_avg, model.generator.w_avg)
    model.eval(), clone.eval()
    z = torch.randn(2, 4)
    assert torch.equal(model.decode_noise(z, 0.5), clone.decode_noise(z, 0.5))


def test_layer_groups_follow_the_paper_and_cover_small_models():
    assert tiny(64).layer_groups() == {
        "coarse": slice(0, 4),
        "middle": slice(4, 8),
        "fine": slice(8, 10),
    }  # 4²–8², 16²–32², 64²
    assert tiny(32).layer_groups() == {
        "coarse": slice(0, 4),
        "middle": slice(4, 6),
        "fine": slice(6, 8),
    }  # 4²–8², 16², 32²
    assert tiny(16).layer_groups() == {"coarse": slice(0, 2), "middle": slice(2, 4),
                                       "fine": slice(4, 6)}  # fmt: skip
    assert tiny(8).layer_groups() == {"coarse": slice(0, 2), "fine": slice(2, 4)}
    model = tiny(32)
    assert model.style_layers("fine") == slice(6, 8)
    assert model.style_layers("2:5") == slice(2, 5)
    assert model.style_layers(":3") == slice(0, 3) and model.style_layers("5:") == slice(5, 8)
    for bad in ("texture", "5:2", "0:9", "a:b", "3"):
        with pytest.raises(GenzooError, match="coarse, middle, fine or A:B"):
            model.style_layers(bad)
    with pytest.raises(GenzooError, match="middle"):
        tiny(8).style_layers("middle")


def test_mix_takes_the_sources_styles_in_the_chosen_layers_only():
    model = grown(tiny())
    model.eval()
    z_dst, z_src = torch.randn(3, 4), torch.randn(1, 4)
    seen, _ = affine_inputs(model)
    model.mix(z_dst, z_src, "middle")
    w_dst, w_src = model.mapping(z_dst), model.mapping(z_src).expand(3, -1)
    for i in range(6):
        assert torch.equal(seen[i], w_src if i in (2, 3) else w_dst), i
    assert torch.equal(model.mix(z_dst, z_dst, "0:6"), model.decode_noise(z_dst))


def test_sampling_uses_the_averaged_generator():
    model = grown(tiny(ema_decay=0.9))
    model.on_train_step_end(1)  # the average starts at the weights
    ws = model.broadcast(model.mapping(torch.randn(2, 4)))
    model.eval()
    before = model.synthesize(ws, model.fixed_noise())
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(0.1)
    assert torch.equal(model.synthesize(ws, model.fixed_noise()), before)
    model.train()
    assert not torch.equal(model.synthesize(ws, model.fixed_noise()), before)


def test_stylegan_refuses_images_it_cannot_grow_to_and_bad_settings():
    for shape in ((1, 28, 28), (1, 16, 8)):
        with pytest.raises(GenzooError, match="^stylegan grows 4×4 .* power of 2"):
            create_model("stylegan", DataInfo(shape, None), **TINY)
    with pytest.raises(GenzooError, match="mixing_prob"):
        tiny(mixing_prob=1.5)


def test_a_run_resumed_mid_fade_reaches_the_uninterrupted_weights(tmp_path):
    x = torch.rand(64, 1, 8, 8) * 2 - 1
    settings = dict(batch_size=16, **QUIET)
    growing = {"images_per_phase": 64, "ema_decay": 0.9}  # 4 steps at 4×4, 4 fading in

    whole = tiny(8, **growing)
    fit(whole, x, max_steps=10, **settings)
    assert whole.stage() == (1, 1.0)
    part = tiny(8, **growing)
    fit(part, x, max_steps=6, run_dir=tmp_path, **settings)
    assert part.stage() == (1, 0.5)  # stopped half-way through the fade
    saved = tiny(8, **growing)
    load_model_weights(tmp_path / "model.safetensors", saved)
    assert saved.stage() == (1, 0.5) and saved.resolution == 8  # the saved state's stage
    resumed = tiny(8, **growing)
    torch.manual_seed(123)  # another RNG state, which the checkpoint must override
    steps = []
    fit(resumed, x, max_steps=10, run_dir=tmp_path, resume=True,
        callbacks=[lambda step, logs: steps.append((step, float(logs["alpha"])))],
        **settings)  # fmt: skip
    assert steps[0] == (7, 0.5)  # it continues from the checkpoint, at the same α
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(),
                            strict=True):  # fmt: skip
        assert torch.equal(a, b), name


def test_a_short_run_on_digits_grows_from_4x4_to_8x8(shared_data_root, tmp_path):
    from genzoo.train.run import train_run

    settings = {"max_steps": "30", "batch_size": "32", "progress": "false", "seed": "0",
                "tensorboard": "false", "n_samples": "0", "latent_dim": "16", "w_dim": "16",
                "n_mapping": "2", "max_channels": "16", "channel_base": "64",
                "images_per_phase": "256"}  # fmt: skip
    run = train_run("stylegan", "digits", settings, run_dir=tmp_path / "run",
                    data_root=shared_data_root)  # fmt: skip
    assert run.result.stopped == "completed" and run.result.step == 30
    assert run.model.stage() == (1, 1.0) and int(run.model.images_seen) == 960
    x = run.model.sample(8, truncation=0.7)
    assert x.shape == (8, 1, 8, 8) and torch.isfinite(x).all()


# ------------------------------------------------------------------ the controls, from the CLI


def test_sample_controls_truncation_mixing_noise_and_interpolation(tmp_path, capsys):
    """`genzoo sample` on a stylegan run: --truncation 1 is the plain grid, --mix-from with
    every layer gives the source's image everywhere, the Fig. 3 grid and Fig. 4 noise
    images come out at their sizes, Z and W interpolations share their ends; bad uses of
    the controls get one line and exit 2."""
    import numpy as np
    from PIL import Image

    from genzoo.apps.sampling import interpolate_seeds, mix_styles
    from genzoo.cli import main
    from genzoo.train.run import load_run

    run = tmp_path / "run"
    sets = [f"{k}={v}" for k, v in (TINY | {"images_per_phase": 64, "max_steps": 6,
            "batch_size": 16, "progress": "false", "tensorboard": "false"}).items()]  # fmt: skip
    assert main(["train", "stylegan", "--data", "digits", "--run-dir", str(run),
                 *(a for s in sets for a in ("--set", s))]) == 0  # fmt: skip
    capsys.readouterr()

    def sample(*argv) -> np.ndarray:
        out = tmp_path / "out.png"
        assert main(["sample", str(run), "-o", str(out), *argv]) == 0, capsys.readouterr().err
        return np.asarray(Image.open(out))

    assert np.array_equal(sample("-n", "8", "--truncation", "1"), sample("-n", "8"))
    assert not np.array_equal(sample("-n", "8", "--truncation", "0"), sample("-n", "8"))
    sample("--mix-grid")
    said = capsys.readouterr().out
    assert "wrote 42 images" in said and "row 2: coarse (layers 0-1)" in said  # 1 + 2 × 3 rows
    assert "row 5: fine (layers 2-3)" in said
    sample("--noise-only", "-n", "8")
    assert "wrote 9 images" in capsys.readouterr().out
    sample("--interpolate", "1,2", "--space", "w", "--steps", "5")
    assert "wrote 5 images" in capsys.readouterr().out

    loaded = load_run(run)
    everything = mix_styles(loaded, 4, 0, 3, "0:4")  # every layer from seed 3
    assert all(torch.equal(everything[0], x) for x in everything[1:])
    assert not torch.equal(mix_styles(loaded, 4, 0, 3, "coarse"), everything)
    in_z, in_w = (interpolate_seeds(loaded, 1, 2, 5, space=s) for s in ("z", "w"))
    assert torch.allclose(in_z[[0, -1]], in_w[[0, -1]], atol=1e-6)

    dcgan = tmp_path / "dcgan"
    assert (
        main(
            [
                "train",
                "dcgan",
                "--data",
                "digits",
                "--run-dir",
                str(dcgan),
                "--set",
                "max_steps=2",
                "--set",
                "progress=false",
                "--set",
                "tensorboard=false",
            ]
        )
        == 0
    )
    capsys.readouterr()
    for target, argv, message in (
        (run, ["--mix-from", "1", "--mix-layers", "middle"], "layers 'middle': give coarse, fine"),
        (run, ["--mix-grid", "--noise-only"], "--mix-grid does not combine with --noise-only"),
        (run, ["--interpolate", "1"], "expected two seeds"),
        (run, ["--noise-only", "--label", "2"], "does not combine with --label"),
        (dcgan, ["--mix-from", "1"], "dcgan has no per-layer styles"),
        (dcgan, ["--interpolate", "1,2", "--space", "w"], "dcgan has no per-layer styles"),
    ):
        assert main(["sample", str(target), "-o", str(tmp_path / "x.png"), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
    line = tmp_path / "line.png"  # a plain GAN interpolates in z
    assert main(["sample", str(dcgan), "--interpolate", "1,2", "-o", str(line)]) == 0
    assert Image.open(line).size[0] > Image.open(line).size[1]


def test_table_1_ablations_without_mapping_and_without_noise():
    from genzoo.nn.progressive import PixelNorm

    bare = grown(tiny(n_mapping=0, w_dim=TINY["latent_dim"])).eval()
    z = torch.randn(5, TINY["latent_dim"])
    assert torch.equal(bare.mapping(z), PixelNorm()(z))  # w = z, pixel-normalised
    with pytest.raises(GenzooError, match="n_mapping=0 feeds z to the styles as w"):
        tiny(n_mapping=0, w_dim=TINY["latent_dim"] + 1)
    quiet = grown(tiny(noise_inputs=False)).eval()
    assert not any("noise" in name for name, _ in quiet.generator.named_parameters())
    ws = quiet.broadcast(quiet.mapping(z))
    a, b = (quiet.synthesize(ws, torch.Generator().manual_seed(s)) for s in (0, 1))
    assert torch.equal(a, b)  # the noise has nowhere to go
    from genzoo.models.adversarial.stylegan import NoiseInjection

    noisy = grown(tiny()).eval()
    for m in noisy.generator.modules():  # the noise scales start at 0: turn them up
        if isinstance(m, NoiseInjection):
            m.weight.data.fill_(1.0)
    ws = noisy.broadcast(noisy.mapping(z))
    a, b = (noisy.synthesize(ws, torch.Generator().manual_seed(s)) for s in (0, 1))
    assert not torch.equal(a, b)
