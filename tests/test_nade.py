"""Property tests for NADE (binary) and RNADE (real-valued)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from genzoo.core import DataInfo, discrete_log_prob
from genzoo.models import create_model
from genzoo.nn.nade_kernel import Conditionals, MeanNLL

ACTIVATIONS = ["sigmoid", "relu"]
ORDERS = ["raster", "snake", "random"]


def all_binary(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def random_nade(shape, hidden_dim=7, activation="sigmoid", order="random", seed=0, std=1.0):
    """A float64 NADE with every parameter drawn N(0, std²): no zeros, no symmetry."""
    torch.manual_seed(seed)
    model = create_model(
        "nade", DataInfo(shape, 2), hidden_dim=hidden_dim, activation=activation, order=order
    ).double()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, std)
    return model


def direct_log_prob(model, x: torch.Tensor) -> torch.Tensor:
    """NADE written out one conditional at a time, independently of the library's sweep."""
    x = x.reshape(x.shape[0], -1)
    act = torch.sigmoid if model.config.activation == "sigmoid" else torch.relu
    total = torch.zeros(x.shape[0], dtype=x.dtype)
    seen = torch.zeros_like(x)  # x with the not-yet-generated dimensions zeroed
    for d in model.order.tolist():
        h = act(model.c + seen @ model.W.t())  # h_d = act(c + W x_<d)
        logit = model.b[d] + h @ model.V[d]  # log p(x_d) = x_d log σ(l) + (1 − x_d) log σ(−l)
        total = total + x[:, d] * F.logsigmoid(logit) + (1 - x[:, d]) * F.logsigmoid(-logit)
        seen = seen + F.one_hot(torch.tensor(d), x.shape[1]).to(x.dtype) * x
    return total


# ---------------------------------------------------------------- NADE


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("order", ORDERS)
def test_nade_normalises(activation, order):
    model = random_nade((2, 4), activation=activation, order=order)
    with torch.no_grad():
        total = model.log_prob(all_binary(8).reshape(-1, 2, 4)).exp().sum()
    assert abs(total.item() - 1.0) < 1e-5


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("order", ORDERS)
def test_nade_gradient_dependency(activation, order):
    model = random_nade((2, 4), activation=activation, order=order, seed=1)
    x = all_binary(8)[torch.randperm(256)[:16]].clone().requires_grad_(True)
    logits = model.conditionals(x)
    o = model.order.tolist()
    for t, d in enumerate(o):
        (grad,) = torch.autograd.grad(logits[:, d].sum(), x, retain_graph=True)
        assert torch.all(grad[:, o[t:]] == 0), f"logit of x_{d} depends on x_{d} or a later input"
        if t > 0:
            assert grad[:, o[:t]].abs().sum() > 0, f"logit of x_{d} ignores its inputs"


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("order", ORDERS)
def test_nade_fast_path_matches_direct(activation, order):
    model = random_nade((3, 5), hidden_dim=9, activation=activation, order=order, seed=2)
    x = (torch.rand(40, 3, 5, dtype=torch.float64) < 0.4).double().requires_grad_(True)
    params = [x, *model.parameters()]
    u = torch.randn(40, dtype=torch.float64)  # arbitrary per-example weights

    fast = model.log_prob(x)
    ref = direct_log_prob(model, x)
    assert torch.allclose(fast, ref, atol=1e-5, rtol=0)
    for g_fast, g_ref in zip(
        torch.autograd.grad((u * fast).sum(), params),
        torch.autograd.grad((u * ref).sum(), params),
        strict=True,
    ):
        assert torch.allclose(g_fast, g_ref, atol=1e-5, rtol=0)

    loss = model.objective(x)["loss"]  # the fused sweep
    ref_loss = -direct_log_prob(model, x).mean()
    assert abs(loss.item() - ref_loss.item()) < 1e-5
    for g_fast, g_ref in zip(
        torch.autograd.grad(loss, params), torch.autograd.grad(ref_loss, params), strict=True
    ):
        assert torch.allclose(g_fast, g_ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_nade_kernel_matches_the_papers_recurrence(activation):
    """The fused kernel (log_prob through `Conditionals`, the loss through `MeanNLL`)
    against `conditionals_reference`, the loop of Alg. 1: values and every gradient."""
    model = random_nade((3, 4), hidden_dim=6, activation=activation, order="random", seed=5)
    x = (torch.rand(25, 3, 4, dtype=torch.float64) < 0.5).double().requires_grad_(True)
    params = [x, *model.parameters()]
    ref_logits = model.conditionals_reference(x)
    torch.testing.assert_close(model.conditionals(x), ref_logits)

    u = torch.randn(25, dtype=torch.float64)  # arbitrary per-example weights
    fast = model.log_prob(x)
    ref = discrete_log_prob(ref_logits, x.reshape(25, -1), 2).sum(1)
    torch.testing.assert_close(fast, ref)
    for g_fast, g_ref in zip(
        torch.autograd.grad((u * fast).sum(), params),
        torch.autograd.grad((u * ref).sum(), params, retain_graph=True),
        strict=True,
    ):
        torch.testing.assert_close(g_fast, g_ref)

    loss, ref_loss = model.objective(x)["loss"], -ref.mean()
    torch.testing.assert_close(loss, ref_loss)
    for g_fast, g_ref in zip(
        torch.autograd.grad(loss, params), torch.autograd.grad(ref_loss, params), strict=True
    ):
        torch.testing.assert_close(g_fast, g_ref)


def test_nade_float32_and_batches_larger_than_one_sweep():
    """600 rows: the sweep splits the batch into blocks of 512 and sums the gradients."""
    model = random_nade((6,), hidden_dim=5, std=0.5).float()
    x = (torch.rand(600, 6) < 0.5).float()
    loss = model.objective(x)["loss"]
    grads = torch.autograd.grad(loss, list(model.parameters()))
    model64 = model.double()
    ref = -direct_log_prob(model64, x.double()).mean()
    ref_grads = torch.autograd.grad(ref, list(model64.parameters()))
    assert abs(loss.item() - ref.item()) < 1e-5
    for g, r in zip(grads, ref_grads, strict=True):
        assert torch.allclose(g.double(), r, atol=1e-5, rtol=0)
    x64 = x.double().requires_grad_(True)
    params = [x64, *model64.parameters()]
    fast, ref = model64.log_prob(x64), direct_log_prob(model64, x64)
    assert torch.allclose(fast, ref)
    for g, r in zip(
        torch.autograd.grad(fast.sum(), params), torch.autograd.grad(ref.sum(), params), strict=True
    ):
        assert torch.allclose(g, r)


@pytest.mark.parametrize("relu", [False, True])
def test_nade_hand_written_backward_gradcheck(relu):
    model = random_nade((4,), hidden_dim=3, std=0.7)
    x = torch.tensor([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]], dtype=torch.float64)
    x_o, W, V, b = model._in_order(x)
    inputs = (x_o.requires_grad_(True), W, V, b, model.c)
    assert torch.autograd.gradcheck(lambda *a: Conditionals.apply(*a, relu), inputs)
    assert torch.autograd.gradcheck(lambda *a: MeanNLL.apply(*a, relu, True), inputs)


def chi2_quantile(k: int, z: float) -> float:
    """Wilson-Hilferty approximation to the chi-square quantile with k degrees of freedom."""
    return k * (1 - 2 / (9 * k) + z * math.sqrt(2 / (9 * k))) ** 3


def empirical_kl(samples: torch.Tensor, log_p: torch.Tensor) -> float:
    """KL(p_emp || p_model) over all 2^n outcomes, log_p indexed like `all_binary(n)`."""
    n = samples.shape[1]
    index = (samples.long() * (2 ** torch.arange(n - 1, -1, -1))).sum(1)
    p_emp = torch.bincount(index, minlength=2**n).double() / samples.shape[0]
    seen = p_emp > 0
    return (p_emp[seen] * (p_emp[seen].log() - log_p[seen])).sum().item()


def kl_bound(n_outcomes: int, n_samples: int) -> float:
    # If the samples come from p_model, 2N KL(p_emp || p_model) is the G-statistic, which
    # is asymptotically chi-square with K - 1 degrees of freedom (K outcomes). We allow its
    # 99.9% quantile (z = 3.09): a correct sampler exceeds it one time in a thousand, and the
    # seeded generator makes the test deterministic anyway.
    return chi2_quantile(n_outcomes - 1, 3.09) / (2 * n_samples)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_nade_samples_reproduce_its_distribution(activation):
    """The known distribution: a NADE with fixed random weights, enumerated exactly."""
    model = random_nade((5,), hidden_dim=6, activation=activation, std=1.5, seed=3)
    with torch.no_grad():
        log_p = model.log_prob(all_binary(5))
    assert log_p.exp().max() > 0.1  # far from uniform, so the test has teeth
    N = 20_000
    samples = model.sample(N, generator=torch.Generator().manual_seed(0))
    assert empirical_kl(samples, log_p) < kl_bound(32, N)


def test_nade_samples_are_binary_shaped_and_reproducible():
    model = create_model("nade", DataInfo((1, 4, 5), 2), hidden_dim=8, order="snake")
    a = model.sample(6, generator=torch.Generator().manual_seed(7))
    b = model.sample(6, generator=torch.Generator().manual_seed(7))
    c = model.sample(6, generator=torch.Generator().manual_seed(8))
    assert a.shape == (6, 1, 4, 5)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_nade_default_config_is_the_paper_model():
    model = create_model("nade", DataInfo((1, 28, 28), 2))
    assert model.W.shape == (500, 784) and model.V.shape == (784, 500)
    assert torch.equal(model.order, torch.arange(784))


# ---------------------------------------------------------------- RNADE


def random_rnade(D: int, seed=0, **overrides):
    torch.manual_seed(seed)
    model = create_model("rnade", DataInfo((D,), None), hidden_dim=8, n_components=3, **overrides)
    with torch.no_grad():
        model.c.normal_(0.0, 1.0)
        model.W.normal_(0.0, 0.5)
    return model.double()


def rnade_direct_log_prob(model, x: torch.Tensor) -> torch.Tensor:
    """RNADE one conditional at a time, through the recurrence a_{d+1} = a_d + W[:, o_d] x_o_d."""
    a = model.c.expand(x.shape[0], -1)
    total = torch.zeros(x.shape[0], dtype=x.dtype)
    for d in model.order.tolist():
        h = model.psi(model.rho[d] * a)
        pi = torch.softmax(h @ model.V_alpha[d].t() + model.b_alpha[d], dim=-1)
        mu = h @ model.V_mu[d].t() + model.b_mu[d]
        sigma = torch.exp(h @ model.V_sigma[d].t() + model.b_sigma[d])
        normal = torch.distributions.Normal(mu, sigma)
        total = total + torch.log((pi * normal.log_prob(x[:, d : d + 1]).exp()).sum(-1))
        a = a + x[:, d : d + 1] * model.W[:, d]
    return total


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_rnade_integrates_to_one_in_1d(activation):
    model = random_rnade(1, activation=activation)
    grid = torch.linspace(-40, 40, 40_001, dtype=torch.float64)
    with torch.no_grad():
        p = model.log_prob(grid[:, None]).exp()
    assert abs(torch.trapezoid(p, grid).item() - 1.0) < 1e-3


@pytest.mark.parametrize("order", ["raster", "random"])
def test_rnade_integrates_to_one_in_2d(order):
    model = random_rnade(2, order=order, order_seed=1)
    grid = torch.linspace(-25, 25, 1001, dtype=torch.float64)
    x = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), dim=-1).reshape(-1, 2)
    with torch.no_grad():
        p = model.log_prob(x).exp().reshape(1001, 1001)
    total = torch.trapezoid(torch.trapezoid(p, grid, dim=1), grid)
    assert abs(total.item() - 1.0) < 1e-3


@pytest.mark.parametrize("order", ["raster", "random"])
def test_rnade_matches_the_recurrence(order):
    model = random_rnade(5, seed=3, order=order, order_seed=2)
    x = torch.randn(30, 5, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(model.log_prob(x), rnade_direct_log_prob(model, x), atol=1e-8)


@pytest.mark.parametrize("order", ["raster", "random"])
def test_rnade_gradient_dependency(order):
    model = random_rnade(5, seed=4, order=order, order_seed=3)
    x = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
    params = model.mixture_params(x)
    o = model.order.tolist()
    for t, d in enumerate(o):
        out = sum(p[:, d].sum() for p in params)
        (grad,) = torch.autograd.grad(out, x, retain_graph=True)
        assert torch.all(grad[:, o[t:]] == 0)
        if t > 0:
            assert grad[:, o[:t]].abs().sum() > 0


def test_rnade_samples_match_the_density():
    """1-D: the sample mean and variance agree with those integrated from exp(log_prob)."""
    model = random_rnade(1, seed=5)
    grid = torch.linspace(-40, 40, 40_001, dtype=torch.float64)
    with torch.no_grad():
        p = model.log_prob(grid[:, None]).exp()
    mean = torch.trapezoid(p * grid, grid).item()
    var = torch.trapezoid(p * (grid - mean) ** 2, grid).item()
    N = 40_000
    x = model.sample(N, generator=torch.Generator().manual_seed(0))[:, 0]
    assert abs(x.mean().item() - mean) < 4 * math.sqrt(var / N)  # 4 standard errors
    assert abs(x.var().item() / var - 1) < 4 * math.sqrt(2 / N) * 3  # heavy-tail allowance


def test_rnade_samples_shape_and_reproducible():
    model = random_rnade(3, seed=6)
    a = model.sample(5, generator=torch.Generator().manual_seed(1))
    b = model.sample(5, generator=torch.Generator().manual_seed(1))
    assert a.shape == (5, 3) and torch.isfinite(a).all()
    assert torch.equal(a, b)
