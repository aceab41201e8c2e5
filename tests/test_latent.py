"""Latent-variable models: the KL, the bounds, the reparameterisation, the AAE's updates."""

import math

import pytest
import torch
from conftest import train_step

from genzoo.apps.latent import encode_all, share_on_own_component
from genzoo.cli import main
from genzoo.core import DataInfo, GenzooError, UnknownNameError
from genzoo.core.capabilities import Capability
from genzoo.core.model import plain_backward
from genzoo.metrics.mmd import mmd2
from genzoo.models import create_model
from genzoo.models.latent.priors import PRIORS, get_prior, mixture_means, register_prior
from genzoo.models.latent.vae import (
    gaussian_kl,
    gaussian_log_density,
    log_mean_exp,
    reparameterize,
)
from genzoo.nn.coders import ConvDecoder, ConvEncoder
from genzoo.nn.pixel_heads import GaussianHead
from genzoo.train import fit

BINARY = DataInfo((1, 4, 4), 2)


def binary_batch(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(16, generator=g)
    return torch.bernoulli(p.expand(n, 16), generator=g).reshape(n, 1, 4, 4)


def test_closed_form_kl_equals_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu, log_var = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    z = reparameterize(mu, log_var, 200_000, torch.Generator().manual_seed(1)).double()
    log_ratio = gaussian_log_density(z, mu.double(), log_var.double()) - gaussian_log_density(z)
    estimate, se = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(len(z))
    exact = gaussian_kl(mu, log_var).double()
    assert (estimate - exact).abs().max() < 4 * se.max()
    assert (exact > 0).all()


def test_reparameterised_samples_have_the_right_moments_and_gradient():
    mu = torch.tensor([1.5, -2.0], requires_grad=True)
    log_var = torch.tensor([0.0, math.log(0.25)], requires_grad=True)
    z = reparameterize(mu, log_var, 100_000, torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), mu.detach(), atol=0.01)
    assert torch.allclose(z.var(0), torch.tensor([1.0, 0.25]), rtol=0.02)
    z.mean(0).sum().backward()  # dz/dmu = 1: the draw is a differentiable function of mu
    assert torch.allclose(mu.grad, torch.ones(2))


def linear_gaussian_vae(w=1.5, b=0.3, sigma=0.7):
    """p(z) = N(0, 1), p(x | z) = N(w z + b, σ²), so p(x) = N(b, w² + σ²)."""
    vae = create_model("vae", DataInfo((1,), None), hidden_dims=(), latent_dim=1,
                       decoder_std=sigma)  # fmt: skip
    with torch.no_grad():
        decoder = vae.decoder.net[0]
        decoder.weight.fill_(w), decoder.bias.fill_(b)
    return vae, w, b, sigma


def set_encoder(vae, mean_slope, mean_shift, log_var):
    with torch.no_grad():
        encoder = vae.encoder.net[0]  # outputs (mean, log-variance) of q(z | x)
        encoder.weight.copy_(torch.tensor([[mean_slope], [0.0]]))
        encoder.bias.copy_(torch.tensor([mean_shift, log_var]))


def exact_log_px(x, w, b, sigma):
    return gaussian_log_density(x, b, math.log(w * w + sigma * sigma))


def test_with_the_exact_posterior_every_importance_weight_is_p_of_x():
    vae, w, b, sigma = linear_gaussian_vae()
    v = w * w + sigma * sigma  # the posterior is N(w (x − b) / v, σ² / v)
    set_encoder(vae, w / v, -w * b / v, math.log(sigma * sigma / v))
    x = torch.tensor([[-1.0], [0.2], [2.5]])
    log_w = vae.log_weights(x, 7)
    assert torch.allclose(log_w, exact_log_px(x, w, b, sigma).expand(7, 3), atol=1e-5)
    # the ELBO = E_q log p(x | z) − KL (closed form) is tight too, in expectation
    t = vae.terms(x, 100_000, torch.Generator().manual_seed(0))
    elbo = t["log_px_z"].mean(0) - gaussian_kl(t["mu"], t["log_var"])
    assert torch.allclose(elbo, exact_log_px(x, w, b, sigma), atol=0.01)


def test_iwae_with_large_k_recovers_the_exact_log_likelihood():
    vae, w, b, sigma = linear_gaussian_vae()
    set_encoder(vae, 0.4, 0.0, math.log(0.5))  # a poor q: the ELBO is well below log p(x)
    x = torch.tensor([[-1.0], [0.2], [2.5]])
    exact = exact_log_px(x, w, b, sigma)
    g = torch.Generator().manual_seed(0)
    elbo = vae.log_weights(x, 20_000, g).mean(0)
    iwae = vae.iwae_bound(x, 20_000, g)
    assert (exact - elbo > 0.1).all()  # the test has a gap to close
    assert torch.allclose(iwae, exact, atol=0.02)


def test_elbo_below_iwae_k_below_iwae_2k_on_average():
    torch.manual_seed(0)
    vae = create_model("vae", BINARY, hidden_dims=(16,), latent_dim=3)
    x = binary_batch(32)
    k, repeats = 4, 400
    log_w = vae.log_weights(x, 2 * k * repeats, torch.Generator().manual_seed(1)).double()
    elbo = log_w.reshape(2 * repeats, k, -1).mean(1)  # (2R, B): paired with iwae_k below
    iwae_k = log_mean_exp(log_w.reshape(2 * repeats, k, -1), 1)
    iwae_2k = log_mean_exp(log_w.reshape(repeats, 2 * k, -1), 1)
    for low, high in ((elbo, iwae_k), (iwae_k.reshape(repeats, 2, -1).mean(1), iwae_2k)):
        gap = (high - low).mean(1)  # per repeat, averaged over the batch
        assert gap.mean() > 4 * gap.std() / math.sqrt(len(gap))


def test_training_objectives_are_the_bounds_of_the_same_draws():
    torch.manual_seed(0)
    elbo_vae = create_model("vae", BINARY, hidden_dims=(16,), latent_dim=3)
    iwae_vae = create_model("vae", BINARY, elbo_vae.config, objective="iwae", k=5)
    iwae_vae.load_state_dict(elbo_vae.state_dict())
    x = binary_batch()
    a = elbo_vae.objective(x)
    assert torch.allclose(a["loss"], a["reconstruction"] + a["prior_fitting"], atol=1e-5)
    torch.manual_seed(5)
    loss = iwae_vae.objective(x)["loss"]
    torch.manual_seed(5)
    log_w = iwae_vae.log_weights(x, 5)
    assert torch.allclose(loss, -(torch.logsumexp(log_w, 0) - math.log(5)).mean())


def test_gaussian_head_integrates_to_one():
    head = GaussianHead()
    params = torch.tensor([[0.3, math.log(0.2)]])
    y = torch.linspace(-3, 3, 20_001)
    density = head.log_prob(params.expand(len(y), 2), y).exp()
    assert torch.trapezoid(density, y).item() == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(GenzooError):
        GaussianHead(std=0.0)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (1, 7, 5)])
def test_conv_coders_fit_any_image_size(shape):
    encoder, decoder = (
        ConvEncoder(shape, 6, (4, 8), "relu"),
        ConvDecoder(3, shape, 2, (4, 8), "relu"),
    )
    assert encoder(torch.zeros(2, *shape)).shape == (2, 6)
    assert decoder(torch.zeros(5, 2, 3)).shape == (5, 2, *shape, 2)


def test_conv_vae_on_8_bit_images_uses_the_logistic_decoder():
    torch.manual_seed(0)
    vae = create_model("vae", DataInfo((3, 8, 8), 256), network="conv", channels=(4, 8))
    assert vae.head.name == "logistic-mixture"
    x = torch.randint(0, 256, (4, 3, 8, 8)).float()
    assert torch.isfinite(vae.validation_nll(x)).all()
    assert vae.sample(2).shape == (2, 3, 8, 8)
    with pytest.raises(GenzooError, match="does not model categorical"):
        create_model("vae", DataInfo((3, 8, 8), 256), decoder="bernoulli")


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(module, before):
    return any(not torch.equal(p, q) for p, q in zip(module.parameters(), before, strict=True))


@pytest.mark.parametrize("supervised", [False, True])
def test_aae_steps_move_only_their_own_parameters(supervised):
    torch.manual_seed(0)
    aae = create_model("aae", BINARY, hidden_dims=(16,), latent_dim=2, discriminator_dims=(8,),
                       prior="mixture", supervised=supervised)  # fmt: skip
    optimizer = torch.optim.Adam(aae.parameters(), lr=1e-2)
    x = binary_batch()
    y = torch.arange(len(x)) % 10 if supervised else None
    parts = (aae.encoder, aae.decoder, aae.discriminator)
    for step, moves in ((aae.discriminator_step, {2}), (aae.generator_step, {0})):
        before = [snapshot(m) for m in parts]
        step(x, optimizer, plain_backward, y)
        assert {i for i, m in enumerate(parts) if changed(m, before[i])} == moves, step.__name__
    before = [snapshot(m) for m in parts]
    logs = train_step(aae, x, {"model": optimizer}, y)
    assert all(changed(m, b) for m, b in zip(parts, before, strict=True))
    assert {"loss", "d_loss", "g_loss", "d_real", "d_fake"} <= logs.keys()


def test_aae_refuses_what_it_cannot_train_with():
    aae = create_model("aae", BINARY, hidden_dims=(16,), latent_dim=2)
    # its own steps go through the trainer's gradient clipping like any model's
    fit(aae, binary_batch(), max_steps=1, grad_clip=1.0, progress=False, tensorboard=False)
    with pytest.raises(GenzooError, match="latent_dim=2"):
        create_model("aae", BINARY, latent_dim=3, prior="swiss-roll")
    with pytest.raises(UnknownNameError, match="known priors"):
        create_model("aae", BINARY, prior="nope")


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_priors_give_n_by_dim_samples(name):
    z = get_prior(name)(500, 2, torch.Generator().manual_seed(0))
    assert z.shape == (500, 2) and torch.isfinite(z).all()


def test_a_registered_prior_is_used_by_the_aae():
    register_prior("test-corner", lambda n, dim, g=None: torch.full((n, dim), 3.0))
    try:
        aae = create_model("aae", BINARY, hidden_dims=(16,), latent_dim=2, prior="test-corner")
        assert torch.equal(aae.sample_prior(4), torch.full((4, 2), 3.0))
    finally:
        del PRIORS["test-corner"]


def test_mixture_prior_has_ten_separated_modes():
    z = get_prior("mixture")(20_000, 2, torch.Generator().manual_seed(0))
    nearest = torch.cdist(z, mixture_means(2)).argmin(1)
    counts = torch.bincount(nearest, minlength=10)
    assert counts.min() > 1_700 and counts.max() < 2_300


def test_mmd_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(0)
    reference = torch.randn(1000, 2, generator=g)
    same = mmd2(torch.randn(1000, 2, generator=g), reference)
    shifted = [mmd2(torch.randn(1000, 2, generator=g) + s, reference) for s in (0.25, 0.5, 1.0)]
    assert abs(same) < 0.01
    assert 0.01 < shifted[0] < shifted[1] < shifted[2]


def test_latent_commands_on_a_trained_vae(tmp_path, capsys):
    import numpy as np

    run = tmp_path / "vae"
    settings = ["--set", "latent_dim=2", "--set", "max_steps=30", "--set", "eval_k=5",
                "--set", "progress=false", "--set", "tensorboard=false"]  # fmt: skip
    assert main(["train", "vae", "--run-dir", str(run), *settings]) == 0
    report = (run / "report.md").read_text()
    assert "prior fitting" in report and "IWAE, k=5" in report
    assert (run / "reconstructions.png").exists()

    assert main(["eval", str(run), "--k", "10"]) == 0
    out = capsys.readouterr().out
    assert "reconstruction" in out and "IWAE, k=10" in out

    assert main(["encode", str(run), "-o", str(tmp_path / "codes.npy")]) == 0
    codes, labels = np.load(tmp_path / "codes.npy"), np.load(tmp_path / "codes.labels.npy")
    assert codes.shape == (300, 2) and labels.shape == (300,)

    strip = tmp_path / "strip.png"
    assert main(["interpolate", str(run), "--pair", "0,1", "--pair", "2,3", "-o", str(strip)]) == 0
    assert strip.exists()
    assert main(["interpolate", str(run), "--pair", "0,999"]) == 2

    assert main(["latent", str(run), "-o", str(tmp_path / "latent.png")]) == 0
    assert "MMD^2(codes, gaussian prior)" in capsys.readouterr().out
    assert (tmp_path / "latent.png").exists()


def test_sampling_an_autoencoder_explains_why_it_cannot(tmp_path, capsys):
    run = tmp_path / "ae"
    settings = ["--set", "max_steps=5", "--set", "progress=false", "--set", "tensorboard=false"]
    assert main(["train", "ae", "--run-dir", str(run), *settings]) == 0
    assert not (run / "samples.png").exists()
    capsys.readouterr()
    assert main(["sample", str(run), "-o", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert "not a generative model" in err and len(err.strip().splitlines()) == 1
    assert main(["eval", str(run)]) == 2
    assert not (tmp_path / "s.png").exists()


def test_an_iwae_trained_model_validates_on_its_own_bound():
    torch.manual_seed(0)
    elbo_vae = create_model("vae", BINARY, hidden_dims=(16,), latent_dim=3)
    iwae_vae = create_model("vae", BINARY, elbo_vae.config, objective="iwae", k=20)
    iwae_vae.load_state_dict(elbo_vae.state_dict())
    x = binary_batch()
    assert iwae_vae.validation_metric == "neg_iwae" and elbo_vae.validation_metric == "neg_elbo"
    assert iwae_vae.validation_nll(x).mean() < elbo_vae.validation_nll(x).mean()  # tighter


def test_a_supervised_aae_draws_each_real_code_from_its_labels_component():
    aae = create_model("aae", BINARY, hidden_dims=(16,), latent_dim=2, prior="mixture",
                       discriminator_dims=(8,), supervised=True)  # fmt: skip
    assert aae.uses_labels and Capability.CONDITIONAL in aae.capabilities
    y = torch.arange(4_000) % 10
    z = aae.sample_prior(len(y), torch.Generator().manual_seed(0), y=y)
    per_label = torch.stack([z[y == c] for c in range(10)])  # (10, 400, 2)
    assert (per_label.mean(1) - mixture_means(2)).abs().max() < 4 * 0.5 / 400**0.5
    assert (per_label.std(1) - 0.5).abs().max() < 0.1
    x = binary_batch()
    # D sees the label: the same codes score differently under different labels
    codes, labels = aae.encode(x), y[: len(x)]
    assert not torch.allclose(aae.critic(codes, labels), aae.critic(codes, (labels + 1) % 10))
    logs = train_step(aae, x, label=labels)
    assert {"d_loss", "g_loss"} <= logs.keys()
    with pytest.raises(GenzooError, match="labels 0..9"):
        train_step(aae, x, label=torch.full((len(x),), 10))
    with pytest.raises(GenzooError, match="learns from labels"):
        fit(aae, x, max_steps=1, progress=False, tensorboard=False)
    with pytest.raises(GenzooError, match="needs prior=mixture"):
        create_model("aae", BINARY, latent_dim=2, supervised=True)
    # unconditional samples cycle through the components, as the cgan's cycle its labels
    g = torch.Generator().manual_seed(1)
    expected = aae.decode_sample(aae.sample_prior(20, g, y=torch.arange(20) % 10), g)
    assert torch.equal(aae.sample(20, torch.Generator().manual_seed(1)), expected)
    unsupervised = create_model("aae", BINARY, hidden_dims=(16,), latent_dim=2, prior="mixture")
    with pytest.raises(GenzooError, match="supervised=true AAE"):
        unsupervised.sample(4, condition=3)


def test_a_supervised_aae_puts_each_digit_on_its_own_component():
    """On the embedded digits, 3,000 steps send about half of the held-out codes to their
    label's component (seeds 0-2 gave 55, 44 and 61 %; chance is 10 %)."""
    from sklearn.datasets import load_digits

    torch.manual_seed(0)
    digits = load_digits()
    x = torch.from_numpy(digits.images > 7).float()[:, None]
    y = torch.from_numpy(digits.target).long()
    aae = create_model("aae", DataInfo((1, 8, 8), 2), hidden_dims=(64, 64), latent_dim=2,
                       discriminator_dims=(64, 64), prior="mixture", supervised=True)  # fmt: skip
    fit(aae, x[:1500], labels=y[:1500], max_steps=3000, batch_size=100, progress=False,
        tensorboard=False)  # fmt: skip
    on_own = share_on_own_component(encode_all(aae, x[1500:]), y[1500:])
    assert on_own > 0.35, f"only {on_own:.0%} of the codes sit on their label's component"


def test_a_supervised_aae_samples_the_label_asked_for(tmp_path, capsys):
    run = tmp_path / "aae"
    settings = ["--set", "latent_dim=2", "--set", "prior=mixture", "--set", "supervised=true",
                "--set", "max_steps=10", "--set", "progress=false",
                "--set", "tensorboard=false"]  # fmt: skip
    assert main(["train", "aae", "--run-dir", str(run), *settings]) == 0
    assert main(["latent", str(run), "-o", str(tmp_path / "latent.png")]) == 0
    assert "nearest their label's mixture component" in capsys.readouterr().out
    assert main(["sample", str(run), "--label", "3", "-o", str(tmp_path / "threes.png")]) == 0
    assert (tmp_path / "threes.png").exists()
    assert main(["sample", str(run), "--label", "10", "-o", str(tmp_path / "x.png")]) == 2
    assert "labels are 0..9" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
