"""StarGAN: update isolation of its two classification losses, reconstruction with the
original attributes, WGAN-GP at interpolates, and the --to parser."""

import pytest
import torch

from genzoo.core import DataInfo, GenzooError
from genzoo.core.model import gradient_step
from genzoo.models import create_model


def tiny(**settings):
    torch.manual_seed(0)
    info = DataInfo((1, 8, 8), None, attributes=("thick", "slanted"))
    return create_model("stargan", info, width=4, n_blocks=1, **settings)


def batch(n=6):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, 8, 8, generator=g) * 2 - 1
    c = torch.randint(0, 2, (n, 2), generator=g).float()
    return x, c


def grads(loss, params):
    return [
        g
        for g in torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True)
        if g is not None
    ]


def test_classification_on_reals_reaches_only_D_and_on_fakes_G_steps_only_G():
    model = tiny()
    x, c = batch()
    c_trg = c.flip(0)
    d = model.discriminator_losses(x, c, c_trg)
    assert not grads(d["d_cls"], list(model.G.parameters()))  # L_cls^r: nothing reaches G
    assert any(g.abs().sum() > 0 for g in grads(d["d_cls"], list(model.D.parameters())))
    g = model.generator_losses(x, c, c_trg)
    assert any(t.abs().sum() > 0 for t in grads(g["g_cls"], list(model.G.parameters())))
    # G's step moves G only, though L_cls^f has gradients in D too
    optimizers = model.configure_optimizers(0.0)
    d_before = [p.clone() for p in model.D.parameters()]
    g_before = [p.clone() for p in model.G.parameters()]
    gradient_step(optimizers["generator"], g["g_loss"], model.G.parameters(),
                  lambda loss, inputs: loss.backward(inputs=list(inputs)))  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(d_before, model.D.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(g_before, model.G.parameters(), strict=True))


def test_training_step_moves_D_every_step_and_G_every_n_critic():
    model = tiny(n_critic=2)
    x, c = batch()
    optimizers = model.configure_optimizers(0.0)
    backward = lambda loss, inputs: loss.backward(inputs=list(inputs))  # noqa: E731
    g_before = [p.clone() for p in model.G.parameters()]
    logs = model.training_step({"x": x, "attributes": c}, 0, optimizers, backward)
    assert "g_loss" not in logs
    assert all(torch.equal(a, b) for a, b in zip(g_before, model.G.parameters(), strict=True))
    logs = model.training_step({"x": x, "attributes": c}, 1, optimizers, backward)
    assert {"g_loss", "g_cls", "rec", "d_cls", "gradient_penalty"} <= set(logs)
    assert any(not torch.equal(a, b) for a, b in zip(g_before, model.G.parameters(), strict=True))


def test_reconstruction_translates_back_with_the_original_attributes():
    model = tiny()
    x, c = batch()
    c_trg = 1 - c
    seen = []
    hook = model.G.register_forward_hook(lambda m, args, out: seen.append(args[1].clone()))
    model.generator_losses(x, c, c_trg)
    hook.remove()
    assert len(seen) == 2
    assert torch.equal(seen[0], c_trg) and torch.equal(seen[1], c)  # G(G(x, c), c')


def test_gradient_penalty_is_taken_at_interpolates(monkeypatch):
    import genzoo.models.translation.stargan as stargan

    model = tiny()
    x, c = batch()
    at = []
    real = stargan.gradient_penalty
    monkeypatch.setattr(
        stargan, "gradient_penalty", lambda f, x_hat: at.append(x_hat) or real(f, x_hat)
    )
    model.discriminator_losses(x, c, c)
    (x_hat,) = at
    assert not torch.allclose(x_hat, x)  # not at the real data


def test_translate_needs_a_target_of_the_model_s_attributes():
    model = tiny()
    x, _ = batch(3)
    assert model.translate(x, target=torch.tensor([1.0, 0.0])).shape == x.shape
    with pytest.raises(GenzooError, match="target attributes"):
        model.translate(x)
    with pytest.raises(GenzooError, match="2 attributes"):
        model.translate(x, target=torch.ones(3, 3))


def test_data_without_attributes_is_refused_in_one_line():
    with pytest.raises(GenzooError, match="morpho-mnist"):
        create_model("stargan", DataInfo((1, 8, 8), None), width=4)


def test_to_parser():
    from genzoo.apps.translation import parse_targets

    model = tiny()
    own = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert parse_targets(model, "stargan", ["thick=1"], own).tolist() == [[1, 1], [1, 0]]
    assert parse_targets(model, "stargan", ["thick=1", "slanted=0"]).tolist() == [[1, 0]]
    for specs, message in ((None, "give --to"), (["thin=1"], "unknown attribute 'thin'"),
                           (["thick"], "NAME=VALUE"), (["thick=1"], "slanted=VALUE")):  # fmt: skip
        with pytest.raises(GenzooError, match=message):
            parse_targets(model, "stargan", specs)


def test_a_training_step_equals_making_the_fakes_afresh_for_each_loss():
    """The step makes G(x, c) once and shares it between D's step and G's (D's update does
    not change G): the same parameters as the plain form, which makes it for each."""
    import copy

    from genzoo.core.model import plain_backward

    shared = tiny(n_critic=1)  # a G step after every D step
    plain = copy.deepcopy(shared)
    x, c = batch()
    optimizers = [m.configure_optimizers(1e-2) for m in (shared, plain)]
    for step in range(3):
        torch.manual_seed(step)
        shared.training_step({"x": x, "attributes": c}, step, optimizers[0], plain_backward)
        torch.manual_seed(step)
        c_trg = c[torch.randperm(len(c))]
        d = plain.discriminator_losses(x, c, c_trg)
        gradient_step(optimizers[1]["discriminator"], d["d_loss"], plain.D.parameters(),
                      plain_backward)  # fmt: skip
        g = plain.generator_losses(x, c, c_trg)
        gradient_step(optimizers[1]["generator"], g["g_loss"], plain.G.parameters(),
                      plain_backward)  # fmt: skip
    for a, b in zip(shared.parameters(), plain.parameters(), strict=True):
        assert torch.equal(a, b)
