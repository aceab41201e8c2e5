"""Properties every explicit autoregressive model must have, checked exactly on small n."""

import math

import pytest
import torch
from conftest import all_inputs, randomize

from genzoo.core import AutoregressiveModel, DataInfo
from genzoo.models import create_model, list_models

AUTOREGRESSIVE = [s.name for s in list_models() if issubclass(s.cls, AutoregressiveModel)]

# model name -> list of config overrides worth checking separately
VARIANTS = {
    "independent": [{}],
    "markov": [{"k": 1}, {"k": 2, "order": "snake"}, {"k": 3, "order": "random"}],
    "fvsbn": [{}, {"order": "snake"}, {"order": "random", "order_seed": 3}],
}
SMALL = {
    "nade": {"hidden_dim": 7},
    "made": {"hidden_dims": (32,)},
    "pixelcnn": {"hidden_channels": 4, "n_blocks": 1, "first_kernel": 3, "out_channels": 8},
    "row-lstm": {"hidden_channels": 4, "n_layers": 2, "out_channels": 8},
    "diagonal-bilstm": {"hidden_channels": 4, "n_layers": 2, "out_channels": 8},
}


def variants(name):
    return [dict(SMALL.get(name, {}), **v) for v in VARIANTS.get(name, [{}])]


CASES = [(name, v) for name in AUTOREGRESSIVE for v in variants(name)]


def build(name, overrides, shape=(1, 2, 4), n_values=2):
    model = create_model(name, DataInfo(shape, n_values), **overrides).double()
    return randomize(model)


@pytest.mark.parametrize(("name", "overrides"), CASES)
def test_sums_to_one_over_all_binary_inputs(name, overrides):
    model = build(name, overrides)
    x = all_inputs(8).reshape(-1, 1, 2, 4)
    total = model.log_prob(x).exp().sum().item()
    assert total == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", ["independent", "markov"])
@pytest.mark.parametrize("k", [1, 2])
def test_categorical_sums_to_one(name, k):
    overrides = {"k": k} if name == "markov" else {}
    model = build(name, overrides, shape=(1, 1, 5), n_values=3)
    total = model.log_prob(all_inputs(5, 3).reshape(-1, 1, 1, 5)).exp().sum().item()
    assert total == pytest.approx(1.0, abs=1e-5)


TABULAR = {"markov"}  # lookups by integer context: no gradient with respect to x exists


@pytest.mark.parametrize(("name", "overrides"), [c for c in CASES if c[0] not in TABULAR])
def test_conditional_gets_no_gradient_from_current_or_later_pixels(name, overrides):
    model = build(name, overrides)
    D = model.data.n_dims
    order = model.order.tolist()
    # real-valued inputs of both signs: with 0/1 inputs a ReLU unit can be dead for every
    # input, which would hide a dependency from the sanity check below
    x = torch.randn(64, D, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x.requires_grad_()
    logits = model.conditionals(x)
    for t, d in enumerate(order):
        (grad,) = torch.autograd.grad(logits[:, d].sum(), x, retain_graph=True, allow_unused=True)
        grad = torch.zeros_like(x) if grad is None else grad
        later = order[t:]
        assert grad[:, later].abs().max().item() == 0.0, f"logit {d} depends on {later}"
        if t > 0 and name != "independent":  # the test must be able to see a dependency
            assert grad[:, order[:t]].abs().max().item() > 0.0, f"logit {d} sees no past"


@pytest.mark.parametrize(("name", "overrides"), CASES)
def test_conditional_unchanged_when_current_or_later_pixels_flip(name, overrides):
    model = build(name, overrides)
    D = model.data.n_dims
    order = model.order.tolist()
    x = torch.bernoulli(
        torch.full((16, D), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(0)
    )
    logits = model.conditionals(x)
    for t, d in enumerate(order):
        flipped = x.clone()
        flipped[:, order[t:]] = 1 - flipped[:, order[t:]]
        assert torch.equal(model.conditionals(flipped)[:, d], logits[:, d]), (d, order[t:])


def test_markov_k1_has_2n_minus_1_parameters():
    for n in (1, 5, 784):
        model = create_model("markov", DataInfo((1, n), 2), k=1)
        assert model.n_parameters() == 2 * n - 1


def test_fvsbn_has_triangular_parameter_count():
    n = 20
    model = create_model("fvsbn", DataInfo((1, n), 2))
    assert model.n_parameters() == n + n * (n - 1) // 2


def test_independent_sample_means_match_parameters():
    model = build("independent", {}, shape=(1, 1, 6))
    n = 40_000
    x = model.sample(n, generator=torch.Generator().manual_seed(0)).reshape(n, -1)
    p = torch.sigmoid(model.logits()).float()
    tolerance = 5 * torch.sqrt(p * (1 - p) / n)  # 5 standard errors of a mean of n Bernoullis
    assert ((x.mean(0) - p).abs() < tolerance).all()


def test_markov_transition_frequencies_match_table():
    model = build("markov", {"k": 1}, shape=(1, 1, 5), n_values=2).float()
    n = 40_000
    x = model.sample(n, generator=torch.Generator().manual_seed(1)).reshape(n, -1)
    for t in range(1, 5):
        for prev in (0, 1):
            rows = x[x[:, t - 1] == prev]
            logit = model.table_logits(torch.tensor(t), torch.tensor(prev))
            p = torch.sigmoid(logit).item()
            se = math.sqrt(p * (1 - p) / rows.shape[0])
            assert abs(rows[:, t].mean().item() - p) < 5 * se + 1e-3


def test_sampling_is_reproducible_with_a_generator():
    for name in AUTOREGRESSIVE:
        model = build(name, SMALL.get(name, {})).float()
        a = model.sample(4, generator=torch.Generator().manual_seed(5))
        b = model.sample(4, generator=torch.Generator().manual_seed(5))
        assert torch.equal(a, b), name
