"""GANs: the losses, the WGAN-GP penalty and clipping, update isolation, a 2-D toy that
must actually train, conditional sampling and the CLI."""

import math

import pytest
import torch
from conftest import train_step
from torch import nn

from genzoo.cli import main
from genzoo.core import DataInfo, GenzooError
from genzoo.models import create_model
from genzoo.models.adversarial import losses
from genzoo.train import fit

QUIET = {"progress": False, "tensorboard": False}
IMAGES = DataInfo((1, 8, 8), None)


def test_generator_losses_have_the_papers_gradients():
    """Where D confidently rejects a sample (D(G(z)) ≈ 0), log(1 − D) saturates and
    −log D does not (Goodfellow et al., Sec. 3)."""
    for logit, d in ((-6.0, torch.sigmoid(torch.tensor(-6.0))), (0.0, torch.tensor(0.5))):
        ell = torch.tensor([logit], requires_grad=True)
        (grad_ns,) = torch.autograd.grad(losses.generator_loss(ell, "non-saturating"), ell)
        (grad_mm,) = torch.autograd.grad(losses.generator_loss(ell, "minimax"), ell)
        # both losses fall as the logit rises: G pushes D(G(z)) up
        assert grad_ns.item() == pytest.approx(-(1 - d).item(), rel=1e-5)
        assert grad_mm.item() == pytest.approx(-d.item(), rel=1e-5)
    assert abs(grad_ns) > 0.4  # at D = 0.5 both are −0.5; at D ≈ 0 only −log D is strong


def test_discriminator_loss_is_the_negated_value_function():
    d_real, d_fake = torch.tensor([0.3, -1.0]), torch.tensor([2.0, -0.5])
    value = torch.log(torch.sigmoid(d_real)).mean() + torch.log(1 - torch.sigmoid(d_fake)).mean()
    assert losses.discriminator_loss(d_real, d_fake).item() == pytest.approx(-value.item())


class Linear(nn.Module):
    """f(x) = w · x: its gradient norm is ‖w‖ everywhere."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float32))

    def forward(self, x):
        return x.flatten(1) @ self.w


def test_gradient_penalty_of_a_critic_with_known_gradient_norm():
    x_hat = torch.randn(16, 4)
    assert losses.gradient_penalty(Linear([3.0, 0, 0, 0]), x_hat).item() == pytest.approx(4.0)
    assert losses.gradient_penalty(Linear([0.6, 0.8, 0, 0]), x_hat).item() == pytest.approx(0.0)
    critic = Linear([2.0, 0, 0, 0])  # the penalty's gradient reaches the critic: 2 (‖w‖ − 1) w/‖w‖
    losses.gradient_penalty(critic, x_hat).backward()
    assert torch.allclose(critic.w.grad, torch.tensor([2.0, 0, 0, 0]))


def test_wgan_gp_takes_its_penalty_at_interpolates(monkeypatch):
    torch.manual_seed(0)
    model = create_model("wgan-gp", IMAGES, channels=(4, 8), latent_dim=4)
    seen = []
    penalty = losses.gradient_penalty

    def spy(critic, x_hat):
        seen.append(x_hat.detach().clone())
        return penalty(critic, x_hat)

    monkeypatch.setattr("genzoo.models.adversarial.wgan_gp.gradient_penalty", spy)
    fakes = []  # the first generator output of a step is the critic's fake batch
    model.generator.register_forward_hook(lambda m, i, out: fakes.append(out.detach()))
    real = torch.rand(32, 1, 8, 8) * 2 - 1
    train_step(model, real)
    (x_hat,), fake = seen, fakes[0]
    # x̂ − x̃ = ε (x − x̃) with one ε in [0, 1] per example: on the segment, not at the data
    eps = ((x_hat - fake).flatten(1) / (real - fake).flatten(1)).median(1).values
    assert torch.allclose(
        x_hat, eps[:, None, None, None] * real + (1 - eps[:, None, None, None]) * fake, atol=1e-5
    )
    assert ((eps >= 0) & (eps <= 1)).all() and eps.std() > 0.1
    assert not torch.allclose(x_hat, real)


def test_weight_clipping_keeps_every_critic_weight_in_range():
    torch.manual_seed(0)
    model = create_model("wgan", IMAGES, channels=(4, 8), latent_dim=4, lr_d=0.5, clip=0.01)
    optimizers = model.configure_optimizers(0.0)
    assert all(isinstance(o, torch.optim.RMSprop) for o in optimizers.values())
    train_step(model, torch.rand(16, 1, 8, 8) * 2 - 1, optimizers)
    for p in model.discriminator.parameters():
        assert p.abs().max() <= 0.01 + 1e-9
    largest = max(p.abs().max().item() for p in model.discriminator.parameters())
    assert largest == pytest.approx(0.01)  # the step was big enough for clipping to act


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def moved(module, before):
    return any(not torch.equal(p, q) for p, q in zip(module.parameters(), before, strict=True))


@pytest.mark.parametrize("name, every", [("gan", "k"), ("dcgan", "k"), ("wgan-gp", "n_critic")])
def test_discriminator_steps_move_only_d_and_generator_steps_only_g(name, every):
    torch.manual_seed(0)
    model = create_model(name, IMAGES, channels=(4, 8), hidden_dims=(16,), latent_dim=4,
                         **{every: 2})  # fmt: skip
    optimizers = model.configure_optimizers(1e-3)
    assert list(optimizers) == ["discriminator", "generator"]
    x = torch.rand(16, 1, 8, 8) * 2 - 1
    d, g = snapshot(model.discriminator), snapshot(model.generator)
    train_step(model, x, optimizers)  # k = 2: the first batch takes a discriminator step only
    assert moved(model.discriminator, d) and not moved(model.generator, g)
    # freeze D's own step: what moves now is the G step
    optimizers["discriminator"].param_groups[0]["lr"] = 0.0
    d, g = snapshot(model.discriminator), snapshot(model.generator)
    train_step(model, x, optimizers)  # a D step (at rate 0), then a G step
    assert moved(model.generator, g) and not moved(model.discriminator, d)
    assert int(model.d_steps) == 2


def test_wgan_warmup_schedule_is_the_authors_loop():
    from genzoo.models.adversarial.wgan import critic_steps_end_here

    expected = []  # the authors' loop: critic steps, then one generator step, repeated
    for g in range(1600):
        n_critic = 100 if g < 25 or g % 500 == 0 else 5
        expected += [False] * (n_critic - 1) + [True]
    got = [critic_steps_end_here(d, 5) for d in range(1, len(expected) + 1)]
    assert got == expected


def test_wgan_with_warmup_moves_the_generator_only_after_100_critic_steps():
    torch.manual_seed(0)
    model = create_model("wgan", IMAGES, network="mlp", hidden_dims=(8,), latent_dim=2,
                         critic_warmup=True)  # fmt: skip
    optimizers = model.configure_optimizers(1e-3)
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    g = snapshot(model.generator)
    for _ in range(99):
        assert "g_loss" not in train_step(model, x, optimizers)
    assert not moved(model.generator, g)
    assert "g_loss" in train_step(model, x, optimizers) and moved(model.generator, g)


def test_gradient_step_moves_only_the_named_parameters():
    from genzoo.core.model import gradient_step, plain_backward

    a, b = nn.Linear(2, 2), nn.Linear(2, 1)
    optimizer = torch.optim.Adam([*a.parameters(), *b.parameters()], lr=0.1)
    before_a, before_b = snapshot(a), snapshot(b)
    # a and b in one optimizer (as the AAE's): only b moves, and a's gradient is not computed
    gradient_step(optimizer, b(a(torch.randn(4, 2))).sum(), b.parameters(), plain_backward)
    assert not moved(a, before_a) and moved(b, before_b)
    assert all(p.grad is None for p in a.parameters())


def eight_gaussians(n, generator):
    angles = torch.randint(8, (n,), generator=generator) * (2 * math.pi / 8)
    centres = 0.8 * torch.stack([angles.cos(), angles.sin()], 1)
    return centres + 0.03 * torch.randn(n, 2, generator=generator)


def covered_modes(x, min_share=0.02):
    centres = 0.8 * torch.tensor(
        [[math.cos(a), math.sin(a)] for a in torch.arange(8) * math.pi / 4]
    )
    d = torch.cdist(x, centres)
    near = d.min(1).values < 0.15
    counts = torch.bincount(d.argmin(1)[near], minlength=8)
    return int((counts >= min_share * len(x)).sum())


def test_gan_covers_the_modes_of_eight_gaussians():
    torch.manual_seed(0)
    data = eight_gaussians(8192, torch.Generator().manual_seed(0))
    model = create_model("gan", DataInfo((2,), None), hidden_dims=(128, 128), latent_dim=8,
                         lr_d=5e-4, lr_g=5e-4)  # fmt: skip
    untrained = covered_modes(model.sample(2000, generator=torch.Generator().manual_seed(1)))
    fit(model, data, max_steps=3000, batch_size=128, **QUIET)
    model.eval()
    assert covered_modes(model.sample(2000, generator=torch.Generator().manual_seed(1))) >= 6
    assert untrained < 6  # the check can fail


def test_cgan_samples_the_requested_class():
    """Two classes at x = −0.5 and x = +0.5: the label must decide the side."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    y = torch.randint(2, (2048,), generator=g)
    x = torch.stack([y.float() - 0.5, torch.zeros(2048)], 1) + 0.05 * torch.randn(
        2048, 2, generator=g
    )
    model = create_model("cgan", DataInfo((2,), None), hidden_dims=(32, 32), latent_dim=2,
                         n_classes=2, lr_d=1e-3, lr_g=1e-3)  # fmt: skip
    fit(model, x, max_steps=600, batch_size=128, labels=y, **QUIET)
    model.eval()
    assert model.sample(500, condition=0)[:, 0].mean() < -0.3
    assert model.sample(500, condition=1)[:, 0].mean() > 0.3
    with pytest.raises(GenzooError, match="labels are 0..1"):
        model.sample(2, condition=2)
    with pytest.raises(GenzooError, match="learns from labels"):
        fit(model, x, max_steps=1, **QUIET)


def test_infogan_codes_and_traversals():
    torch.manual_seed(0)
    model = create_model("infogan", IMAGES, channels=(4, 8), latent_dim=4, feature_dim=8)
    model.eval()
    assert model.traversal("cont0", steps=5).shape == (50, 1, 8, 8)
    assert model.traversal("cat").shape == (100, 1, 8, 8)
    assert model.sample(3, condition={"cat": 3, "cont1": 0.5}).shape == (3, 1, 8, 8)
    with pytest.raises(GenzooError, match="unknown code 'cont2'"):
        model.sample(1, condition={"cont2": 1})
    with pytest.raises(GenzooError, match="cat is 0..9"):
        model.sample(1, condition={"cat": 10})
    model.train()
    logs = train_step(model, torch.rand(16, 1, 8, 8) * 2 - 1)
    assert logs["mi_lower_bound_cat"] <= math.log(10) + 1e-6


def test_gan_commands_on_digits(tmp_path, capsys):
    settings = ["--set", "max_steps=24", "--set", "progress=false", "--set", "tensorboard=false"]
    for name in ("cgan", "infogan", "dcgan"):
        assert main(["train", name, "--run-dir", str(tmp_path / name), *settings]) == 0
    run = tmp_path / "dcgan"
    assert (run / "progress" / "epoch-0001.png").exists() and (run / "progress.gif").exists()
    assert "NLL" not in (run / "report.md").read_text()
    out = tmp_path / "x.png"
    assert main(["sample", str(tmp_path / "cgan"), "--label", "7", "-n", "8", "-o", str(out)]) == 0
    assert main(["sample", str(tmp_path / "infogan"), "--code", "cat=3", "-o", str(out)]) == 0
    assert main(["sample", str(tmp_path / "infogan"), "--traverse", "cont0", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["sample", str(run), "--label", "3", "-o", str(out)]) == 2
    assert main(["sample", str(tmp_path / "infogan"), "--code", "colour=1", "-o", str(out)]) == 2
    assert main(["sample", str(tmp_path / "cgan"), "--label", "12", "-o", str(out)]) == 2
    # sample quality: the digits feature network is trained once into this data root
    metrics = ["--data-root", str(tmp_path), "eval", str(run), "--n", "100"]
    assert main(metrics) == 0  # an implicit model: eval measures its samples by default
    out = capsys.readouterr().out
    assert "implicit model" in out and "--metrics fid,kid,is,pr" in out and "KID:" in out
    assert main([*metrics, "--k", "5"]) == 2
    assert "implicit model" in capsys.readouterr().err
    assert main([*metrics, "--metrics", "fid,is,pr"]) == 0
    out = capsys.readouterr().out
    assert "digits-featnet-" in out and "FID:" in out and "precision:" in out
    counts = out.split("(classifier's argmax): ")[1].splitlines()[0].split()
    assert len(counts) == 10 and sum(map(int, counts)) == 100
    assert main([*metrics, "--metrics", "fid,bleu"]) == 2
    # the samples' sampling options: truncated z is another sample set, so another FID
    fid = float(out.split("FID: ")[1].split()[0])
    assert main([*metrics, "--metrics", "fid", "--option", "truncation=0.1"]) == 0
    out = capsys.readouterr().out
    assert "sampling options: truncation=0.1" in out
    assert float(out.split("FID: ")[1].split()[0]) != fid
    assert main([*metrics, "--metrics", "fid", "--option", "temperature=1"]) == 2
    assert "no sampling option 'temperature'" in capsys.readouterr().err


def test_the_monitor_warns_of_a_winning_discriminator_and_of_collapse(tmp_path, capsys):
    from genzoo.data import Transform
    from genzoo.train.monitor import SampleMonitor

    torch.manual_seed(0)
    model = create_model("dcgan", IMAGES, channels=(4, 8), latent_dim=4)
    transform = Transform(n_levels=17, scale="symmetric")

    def one_class(x):  # a classifier that sees class 3 in everything
        return torch.nn.functional.one_hot(torch.full((len(x),), 3), 10).float()

    def any_class(x):
        return torch.nn.functional.one_hot(torch.arange(len(x)) % 10, 10).float()

    healthy = SampleMonitor(model, tmp_path / "a", transform, 2, any_class)
    for step in (1, 2):
        healthy(step, {"d_loss": 0.7})
    assert (tmp_path / "a/progress/epoch-0001.png").exists()
    assert not (tmp_path / "a/progress/warnings.txt").exists()

    collapsed = SampleMonitor(model, tmp_path / "b", transform, 2, one_class)
    for step in (1, 2):
        collapsed(step, {"d_loss": 0.01})
    warnings = (tmp_path / "b/progress/warnings.txt").read_text().splitlines()
    assert len(warnings) == 2
    assert "discriminator's loss collapsed" in warnings[0] and "class 3" in warnings[1]
    assert (tmp_path / "b/progress/diversity.csv").read_text().splitlines()[1] == "1,0.0000,1.0000"
    assert capsys.readouterr().err.count("genzoo: warning:") == 2
    # the maximum entropy counts every class the classifier knows, not the classes seen
    assert "of at most 2.30 nats" in warnings[1]

    # many epochs of the same failure: one console line when it starts, one summary line
    # with the count when training ends; every one in warnings.txt
    for step in range(3, 21):
        collapsed(step, {"d_loss": 0.01})
    assert capsys.readouterr().err == ""
    collapsed.finish()
    summary = capsys.readouterr().err.splitlines()
    assert len(summary) == 2 and all("warned 10 times" in line for line in summary)
    assert len((tmp_path / "b/progress/warnings.txt").read_text().splitlines()) == 20


@pytest.mark.parametrize("seen", [[3], [0, 1], list(range(10))])
def test_class_entropy_maximum_is_log_of_the_number_of_classes(seen):
    from genzoo.train.monitor import class_entropy

    classes = torch.tensor(seen * 10)
    entropy, most, top = class_entropy(classes, 10)
    assert most == pytest.approx(math.log(10))
    assert entropy == pytest.approx(math.log(len(seen))) and top == pytest.approx(1 / len(seen))


def test_an_ema_generator_averages_g_and_is_what_samples(tmp_path):
    torch.manual_seed(0)
    model = create_model("gan", IMAGES, hidden_dims=(16,), latent_dim=4, ema_decay=0.5)
    x = torch.rand(32, 1, 8, 8) * 2 - 1
    optimizers = model.configure_optimizers(0.0)
    for opt in optimizers.values():
        opt.param_groups[0]["lr"] = 1e-2
    expected = None
    for step in range(4):  # θ̄ starts at θ, then θ̄ ← 0.5 θ̄ + 0.5 θ after every step
        train_step(model, x, optimizers)
        model.on_train_step_end(step + 1)
        weights = [p.detach().clone() for p in model.generator.net.parameters()]
        expected = weights if expected is None else [
            0.5 * e + 0.5 * w for e, w in zip(expected, weights, strict=True)]  # fmt: skip
    for i, e in enumerate(expected):
        torch.testing.assert_close(getattr(model.generator.ema, f"average_{i}"), e)
    z = torch.randn(3, 4)
    with torch.no_grad():
        model.eval()
        averaged = model.generator(z)  # sampling (eval mode) uses the average
        model.train()
        latest = model.generator(z)
    assert not torch.allclose(averaged, latest)
    # the averages are buffers: saved with the weights, resumed exactly, never optimised
    assert not any("average" in name for name, _ in model.named_parameters())
    settings = dict(batch_size=16, progress=False, tensorboard=False)
    torch.manual_seed(1)
    whole = create_model("gan", IMAGES, hidden_dims=(16,), latent_dim=4, ema_decay=0.9)
    fit(whole, x, max_steps=6, **settings)
    torch.manual_seed(1)
    part = create_model("gan", IMAGES, hidden_dims=(16,), latent_dim=4, ema_decay=0.9)
    fit(part, x, max_steps=3, run_dir=tmp_path, **settings)
    torch.manual_seed(1)
    resumed = create_model("gan", IMAGES, hidden_dims=(16,), latent_dim=4, ema_decay=0.9)
    fit(resumed, x, max_steps=6, run_dir=tmp_path, resume=True, **settings)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
