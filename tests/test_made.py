"""Property tests for MADE and its masked layer."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from genzoo.core import DataInfo, GenzooError
from genzoo.models import create_model
from genzoo.models.autoregressive.made import MADE, draw_degrees, made_masks
from genzoo.nn import staircase
from genzoo.nn.masked import MaskedLinear
from genzoo.nn.staircase import find_staircase, staircase_linear

N_BITS = 6


@pytest.fixture(autouse=True)
def gather_even_small_staircases(monkeypatch):
    """The tiny layers here would take the dense path wherever a staircase needs
    reordering (staircase.MIN_PERMUTED_WEIGHTS); test the gathering path instead."""
    monkeypatch.setattr(staircase, "MIN_PERMUTED_WEIGHTS", 0)


ARCHITECTURES = [((16,), False), ((16,), True), ((16, 12), False), ((16, 12), True)]


def all_binary(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def random_made(hidden_dims=(16,), direct=False, n_masks=4, seed=0, std=1.0, **overrides):
    """A float64 MADE with every parameter drawn N(0, std²)."""
    torch.manual_seed(seed)
    model = create_model(
        "made",
        DataInfo((N_BITS,), 2),
        hidden_dims=hidden_dims,
        direct=direct,
        n_masks=n_masks,
        **overrides,
    ).double()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, std)
    return model


@pytest.mark.parametrize(("hidden_dims", "direct"), ARCHITECTURES)
@pytest.mark.parametrize("order", ["raster", "random"])
def test_made_every_mask_normalises(hidden_dims, direct, order):
    model = random_made(hidden_dims, direct, order=order)
    x = all_binary(N_BITS)
    with torch.no_grad():
        for m in range(model.config.n_masks):
            total = model.log_prob_mask(x, m).exp().sum()
            assert abs(total.item() - 1.0) < 1e-5, f"mask {m}"
        assert abs(model.log_prob(x).exp().sum().item() - 1.0) < 1e-5


def connectivity(model) -> torch.Tensor:
    """Number of paths from input d' to output d under the active masks, (D, D), in data
    dimensions (the network's unit t is dimension model.inputs[t])."""
    paths = model.V.mask
    for layer in reversed(model.W):
        paths = paths @ layer.mask
    paths = paths if model.A is None else paths + model.A.mask
    back = model.inputs_back
    return paths[back][:, back]


def assert_autoregressive(model, m: int) -> None:
    """Backpropagate from each output d: no input at d's position or later gets gradient."""
    # Real-valued inputs of both signs, so that no ReLU unit is dead on the whole batch.
    x = (2 * torch.randn(64, N_BITS, dtype=torch.float64)).requires_grad_(True)
    logits = model.conditionals(x)
    o = model.order.tolist()
    connected = connectivity(model) > 0  # (D, D): a path from input d' to output d
    for t, d in enumerate(o):
        (grad,) = torch.autograd.grad(logits[:, d].sum(), x, retain_graph=True)
        assert torch.all(grad[:, o[t:]] == 0), f"mask {m}: x_{d}'s logit sees x_{d} or later"
        # Sanity: where the masks leave a path from an earlier input, gradient flows.
        # (A random mask may leave a conditional with no path at all; that is MADE.)
        if connected[d, o[:t]].any():
            assert grad[:, o[:t]].abs().sum() > 0, f"mask {m}: x_{d}'s logit sees nothing"
    assert connected.any()


@pytest.mark.parametrize(("hidden_dims", "direct"), ARCHITECTURES)
def test_made_gradient_dependency_for_every_mask(hidden_dims, direct):
    model = random_made(hidden_dims, direct, seed=1)
    for m in range(model.config.n_masks):
        model.use_mask(m)
        assert_autoregressive(model, m)


def test_made_masks_follow_the_degree_rules():
    torch.manual_seed(0)
    order = torch.randperm(7)
    degrees = draw_degrees(order, (30, 20), None)
    hidden, M_V, M_A = made_masks(degrees)
    # Hidden degrees lie in {min of the layer below, ..., D - 1}, so every unit has inputs.
    for m_prev, m, M in zip(degrees, degrees[1:], hidden, strict=False):
        assert m.min() >= m_prev.min() and m.max() <= 6
        assert (M.sum(1) > 0).all()
    # Paths from input d' to output d exist only when d' comes strictly before d.
    paths = M_V
    for M in reversed(hidden):
        paths = paths @ M
    position = degrees[0]
    before = position[None, :] < position[:, None]
    assert torch.all(paths[~before] == 0)
    assert torch.equal(M_A.bool(), before)


@pytest.mark.parametrize("direct", [False, True])
def test_made_ensemble_is_the_log_mean_of_probabilities(direct):
    model = random_made(direct=direct, n_masks=5, seed=2, std=0.7)
    x = all_binary(N_BITS)
    with torch.no_grad():
        ensemble = model.log_prob(x)
        explicit = torch.log(
            torch.stack([model.log_prob_mask(x, m).exp() for m in range(5)]).mean(0)
        )
        assert torch.allclose(ensemble, explicit, atol=1e-10)
        # eval_masks: fewer masks, capped by what exists
        model.config.eval_masks = 2
        two = torch.log((model.log_prob_mask(x, 0).exp() + model.log_prob_mask(x, 1).exp()) / 2)
        assert torch.allclose(model.log_prob(x), two, atol=1e-10)
        model.config.eval_masks = 99
        assert torch.allclose(model.log_prob(x), ensemble, atol=1e-10)


def test_made_single_mask_log_prob_is_the_product_of_conditionals():
    model = random_made(n_masks=1, seed=3)
    x = all_binary(N_BITS)
    with torch.no_grad():
        logits = model.conditionals(x)
        expected = (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(1)
        assert torch.allclose(model.log_prob(x), expected)


def test_made_fixed_set_cycles_and_resumes_from_the_state_dict():
    model = random_made(n_masks=3, seed=4, order="random", order_seed=5)
    x = all_binary(N_BITS)[:8]
    orders = []
    for _ in range(4):
        model.objective(x)
        orders.append(model.order.tolist())
    assert orders[0] != orders[1] and orders[0] == orders[3]
    assert int(model.step) == 4

    # A model built with another seed takes the stored masks and the step from the state dict.
    other = random_made(n_masks=3, seed=9, order="random", order_seed=123)
    other.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(other.log_prob(x), model.log_prob(x))
    model.objective(x)
    other.objective(x)
    assert other.order.tolist() == model.order.tolist()


def test_made_every_step_masks_come_from_the_global_seed():
    model = random_made(n_masks=2, resample="every_step")
    x = all_binary(N_BITS)[:8]

    def masks_after_steps(seed):
        torch.manual_seed(seed)
        out = []
        for _ in range(3):
            model.objective(x)
            out.append((model.order.clone(), model.W[0].mask.clone()))
        return out

    a, b, c = masks_after_steps(0), masks_after_steps(0), masks_after_steps(1)
    assert all(
        torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(a, b, strict=True)
    )
    assert not all(torch.equal(p[1], q[1]) for p, q in zip(a, c, strict=True))
    assert not torch.equal(a[0][1], a[1][1])  # a fresh mask each step


def test_made_orthogonal_init_is_semi_orthogonal_and_still_normalises():
    torch.manual_seed(0)
    model = create_model(
        "made", DataInfo((N_BITS,), 2), hidden_dims=(16, 12), direct=True, init="orthogonal"
    ).double()
    for layer in [*model.W, model.V, model.A]:
        w = layer.weight.detach()
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w  # the shorter side
        assert torch.allclose(gram, torch.eye(gram.shape[0], dtype=w.dtype), atol=1e-5)
        assert layer.bias is None or torch.all(layer.bias == 0)
    x = all_binary(N_BITS)
    with torch.no_grad():
        assert abs(model.log_prob(x).exp().sum().item() - 1.0) < 1e-5


def test_made_optimizer_option_and_exact_resume_with_adagrad(tmp_path):
    from genzoo.train import fit

    info = DataInfo((N_BITS,), 2)
    default = create_model("made", info, hidden_dims=(16,))
    assert type(default.configure_optimizers(1e-3)["model"]) is torch.optim.Adam

    def fresh():
        torch.manual_seed(0)
        return create_model("made", info, hidden_dims=(16,), direct=True, optimizer="adagrad")

    opt = fresh().configure_optimizers(0.01, weight_decay=1e-4)["model"]
    assert type(opt) is torch.optim.Adagrad
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["weight_decay"] == 1e-4

    # Adagrad's accumulated squares travel through the checkpoint: a run cut at step 6 and
    # resumed ends where an uncut run ends.
    x = torch.bernoulli(torch.full((200, N_BITS), 0.3), generator=torch.Generator().manual_seed(0))
    settings = dict(batch_size=50, lr=0.01, progress=False, tensorboard=False)
    straight = fresh()
    fit(straight, x, max_steps=12, **settings)
    resumed = fresh()
    fit(resumed, x, max_steps=6, run_dir=tmp_path, checkpoint_every=6, **settings)
    resumed = fresh()
    fit(resumed, x, max_steps=12, run_dir=tmp_path, resume=True, **settings)
    for (name, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_masked_weights_get_no_gradient_and_are_never_edited():
    model = create_model("made", DataInfo((N_BITS,), 2), hidden_dims=(16,), direct=True)
    layers = [*model.W, model.V, model.A]
    before = [layer.weight.detach().clone() for layer in layers]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    loss = model.objective(all_binary(N_BITS).float())["loss"]
    loss.backward()
    for layer in layers:
        assert torch.all(layer.weight.grad[layer.mask == 0] == 0)
    optimizer.step()
    for layer, w0 in zip(layers, before, strict=True):
        off = layer.mask == 0
        assert torch.equal(layer.weight[off], w0[off])  # masked entries keep their values
        assert not torch.equal(layer.weight[~off], w0[~off])


def test_masked_linear_is_linear_with_masked_weight():
    layer = MaskedLinear(5, 3)
    mask = (torch.rand(3, 5) < 0.5).float()
    layer.set_mask(mask)
    x = torch.randn(4, 5)
    assert torch.allclose(layer(x), x @ (layer.weight * mask).t() + layer.bias)
    with pytest.raises(ValueError):
        layer.set_mask(torch.ones(5, 3))


def chi2_quantile(k: int, z: float) -> float:
    """Wilson-Hilferty approximation to the chi-square quantile with k degrees of freedom."""
    return k * (1 - 2 / (9 * k) + z * math.sqrt(2 / (9 * k))) ** 3


@pytest.mark.parametrize("n_masks", [1, 3])
def test_made_samples_reproduce_its_distribution(n_masks):
    """Known distribution: MADE with fixed random weights (a 3-mask ensemble for n_masks=3),
    enumerated exactly over all 2^6 inputs."""
    model = random_made(n_masks=n_masks, seed=5, std=1.5, order="random")
    x = all_binary(N_BITS)
    with torch.no_grad():
        log_p = model.log_prob(x)
    assert log_p.exp().max() > 0.1
    N = 20_000
    samples = model.sample(N, generator=torch.Generator().manual_seed(0))
    index = (samples.long() * (2 ** torch.arange(N_BITS - 1, -1, -1))).sum(1)
    p_emp = torch.bincount(index, minlength=2**N_BITS).double() / N
    seen = p_emp > 0
    kl = (p_emp[seen] * (p_emp[seen].log() - log_p[seen])).sum().item()
    # If the samples come from p_model, 2N KL(p_emp || p_model) is the G-statistic:
    # asymptotically chi-square with K - 1 = 63 degrees of freedom. Allow its 99.9% quantile
    # (z = 3.09); the seeded generator makes the test deterministic.
    assert kl < chi2_quantile(2**N_BITS - 1, 3.09) / (2 * N)


def test_made_samples_are_binary_shaped_and_reproducible():
    model = create_model("made", DataInfo((1, 3, 4), 2), hidden_dims=(20,), n_masks=2)
    a = model.sample(5, generator=torch.Generator().manual_seed(3))
    b = model.sample(5, generator=torch.Generator().manual_seed(3))
    assert a.shape == (5, 1, 3, 4)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a, b)


def test_made_rejects_a_missing_mask():
    model = random_made(n_masks=2)
    with pytest.raises(GenzooError):
        model.use_mask(2)


def active_masks(model) -> list[torch.Tensor]:
    return [b.clone() for name, b in model.named_buffers() if name.endswith("mask")]


def test_made_use_mask_rebuilds_only_when_the_buffers_may_differ():
    model = random_made(n_masks=3, seed=6, order="random")
    expected = []
    for m in range(3):
        model.set_degrees(model.stored_degrees(m))
        expected.append(active_masks(model))

    def holds(m):
        return all(torch.equal(a, b) for a, b in zip(active_masks(model), expected[m], strict=True))

    model.use_mask(1)
    model.W[0].mask.zero_()  # a stale buffer is not rebuilt while set 1 is the active one...
    model.use_mask(1)
    assert not holds(1)
    model.use_mask(0)  # ...but is when another set is asked for
    model.use_mask(1)
    assert holds(1)

    model.set_degrees(draw_degrees(torch.randperm(N_BITS), (16,), None))  # arbitrary degrees
    model.use_mask(1)
    assert holds(1)

    # log_prob_mask and sample keep the active set, and what the model knows about it
    x = all_binary(N_BITS)
    model.log_prob_mask(x, 2)
    model.sample(4)
    assert holds(1) and model._active_set == 1

    # A state dict brings another model's buffers (its active set 2 here): set 1 is rebuilt.
    other = random_made(n_masks=3, seed=6, order="random")
    other.use_mask(2)
    model.load_state_dict(other.state_dict())
    assert holds(2)
    model.use_mask(1)
    assert holds(1)


@pytest.mark.parametrize("order", ["raster", "random", "random, units in data order"])
def test_made_outputs_never_depend_on_masked_weights_after_adam_with_weight_decay(
    order, monkeypatch
):
    """The training path (the optimizer from configure_optimizers, training_step, the masks
    kept between steps) after many steps with weight decay: the autoregressive property
    holds, and overwriting every masked weight changes no output.

    Every layer takes the staircase fast path, here cut into as many row groups as it has
    rows. A single mask set takes the data in its ordering (`MADE.inputs`), so every block
    is computed in place; with the units in data order (checkpoints written before
    `inputs`), a random order's input and output layers gather their blocks by permutation.
    """
    monkeypatch.setattr(staircase, "CALL_COST", 0)  # many small blocks: every edge is tested
    if order == "random, units in data order":
        monkeypatch.setattr(MADE, "_sort_inputs", lambda self, degrees: None)
    model = random_made(
        n_masks=1, seed=7, std=0.5, hidden_dims=(16, 12), direct=True, order=order.split(",")[0]
    )
    layers = [*model.W, model.V, model.A]
    stairs = [layer.staircase() for layer in layers]
    assert all(s is not None and len(s.groups) > 2 for s in stairs)
    permuted = [(s.rows is not None, s.cols is not None) for s in stairs]
    if order != "random, units in data order":
        assert not any(any(p) for p in permuted)
    else:  # W^1 sees inputs, V feeds outputs, A both; W^2's degrees are sorted on both sides
        assert permuted == [(False, True), (False, False), (True, False), (True, True)]
    optimizers = model.configure_optimizers(lr=0.05, weight_decay=0.1)
    x = torch.bernoulli(torch.full((32, N_BITS), 0.4, dtype=torch.float64))
    for step in range(200):
        model.training_step({"x": x}, step, optimizers, lambda loss: loss.backward())
    assert all(layer.staircase() is s for layer, s in zip(layers, stairs, strict=True))
    assert_autoregressive(model, 0)  # on the fast path, as trained
    x_real = 2 * torch.randn(64, N_BITS, dtype=torch.float64)
    with torch.no_grad():
        before = model.conditionals(x_real)
        for layer in [*model.W, model.V, model.A]:
            off = layer.mask == 0
            layer.weight[off] = 1e3 * torch.randn(int(off.sum()), dtype=torch.float64)
        assert torch.equal(model.conditionals(x_real), before)


def random_staircase(out: int, inn: int, generator: torch.Generator) -> torch.Tensor:
    """A staircase mask with empty and full rows: row r is a prefix of n_r ones, n sorted."""
    n = torch.randint(0, inn + 1, (out,), generator=generator)
    n[0], n[-1] = 0, inn
    n = n.sort().values
    return (torch.arange(inn)[None, :] < n[:, None]).double()


@pytest.mark.parametrize(("out", "inn", "bias"), [(23, 9, True), (9, 23, False)])
@pytest.mark.parametrize("call_cost", [0, 10**9])  # a group per row; one group
@pytest.mark.parametrize("permute", ["none", "rows", "cols", "both"])
def test_staircase_linear_is_the_masked_linear_and_masked_weights_get_zero_gradient(
    out, inn, bias, call_cost, permute
):
    generator = torch.Generator().manual_seed(out * inn)
    M = random_staircase(out, inn, generator)
    if permute in ("rows", "both"):
        M = M[torch.randperm(out, generator=generator)]
    if permute in ("cols", "both"):
        M = M[:, torch.randperm(inn, generator=generator)]
    stairs = find_staircase(M, call_cost)
    assert stairs is not None and (len(stairs.groups) == 1) == (call_cost > 0)
    assert (stairs.rows is not None) == (permute in ("rows", "both"))
    assert (stairs.cols is not None) == (permute in ("cols", "both"))
    x = torch.randn(7, inn, dtype=torch.float64, requires_grad=True)
    W = torch.randn(out, inn, dtype=torch.float64, requires_grad=True)
    b = torch.randn(out, dtype=torch.float64, requires_grad=True) if bias else None
    y = staircase_linear(x, W, b, stairs)
    y_dense = F.linear(x, W * M, b)
    assert torch.allclose(y, y_dense, atol=1e-12)
    g_y = torch.randn_like(y)
    inputs = (x, W) if b is None else (x, W, b)
    grads = torch.autograd.grad(y, inputs, g_y)
    dense = torch.autograd.grad(y_dense, inputs, g_y)
    for g, g_dense in zip(grads, dense, strict=True):
        assert torch.allclose(g, g_dense, atol=1e-12)
    assert torch.all(grads[1][M == 0] == 0)  # exactly zero, as F.linear(x, W ⊙ M) gives
    torch.autograd.gradcheck(lambda x, W, b: staircase_linear(x, W, b, stairs), (x, W, b))

    # masked weights are never read: filling them with NaN changes nothing
    with torch.no_grad():
        W_nan = W.masked_fill(M == 0, float("nan"))
        assert torch.equal(staircase_linear(x, W_nan, b, stairs), y)


def test_find_staircase_refuses_masks_that_are_not_staircases():
    M = random_staircase(10, 8, torch.Generator().manual_seed(0))
    assert find_staircase(M) is not None
    assert find_staircase(M.flip(0)) is not None  # rows and columns may come in any order
    holes = M.clone()
    holes[-1, 2] = 0  # the last row sees columns 0, 1, 3, ... but not 2
    assert find_staircase(holes) is None
    assert (
        find_staircase(
            (torch.rand(10, 8, generator=torch.Generator().manual_seed(0)) < 0.5).float()
        )
        is None
    )


def test_masked_linear_follows_every_change_of_its_mask():
    """The staircase belongs to one mask: a new mask, a loaded state dict or a dtype
    change is followed on the next forward."""
    layer = MaskedLinear(8, 10)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(4, 8)
    staircase_mask = random_staircase(10, 8, generator).float()
    other = (torch.rand(10, 8, generator=generator) < 0.5).float()

    def dense() -> torch.Tensor:
        return F.linear(x.to(layer.weight.dtype), layer.weight * layer.mask, layer.bias)

    layer.set_mask(staircase_mask)
    assert layer.staircase() is not None
    assert torch.allclose(layer(x), dense(), atol=1e-6)
    layer.set_mask(other)
    assert layer.staircase() is None
    assert torch.equal(layer(x), dense())
    state = {k: v.clone() for k, v in layer.state_dict().items()}
    layer.set_mask(staircase_mask)
    assert layer.staircase() is not None
    layer.load_state_dict(state)  # the dense mask comes back through the state dict
    assert layer.staircase() is None
    assert torch.equal(layer(x), dense())
    layer.set_mask(staircase_mask)
    layer.double()
    assert layer.staircase() is not None
    assert torch.allclose(layer(x.double()), dense(), atol=1e-12)


def test_staircase_gradients_reuse_memory_only_when_no_one_holds_it(monkeypatch):
    """The weight gradient's memory is reused between steps, but never under a gradient
    someone still holds, and gradients of micro-batches still add up."""
    monkeypatch.setattr(staircase, "CALL_COST", 0)  # groups with zeros right of them
    layer = MaskedLinear(12, 15)
    layer.set_mask(random_staircase(15, 12, torch.Generator().manual_seed(2)).float())
    assert layer.staircase() is not None
    x1, x2 = torch.randn(2, 4, 12).unbind()

    def grad_of(x):
        layer.weight.grad = None
        layer(x).square().sum().backward()
        return layer.weight.grad

    first = grad_of(x1)
    kept = first.clone()
    second = grad_of(x2)  # `first` is still held here: its values must survive
    assert torch.equal(first, kept)
    assert second.data_ptr() != first.data_ptr()
    del first
    expected = F.linear(x2, layer.weight * layer.mask, layer.bias)
    (dense,) = torch.autograd.grad(expected.square().sum(), layer.weight)
    assert torch.allclose(second, dense, atol=1e-5)

    layer(x1).square().sum().backward()  # accumulates into the held gradient
    (dense_1,) = torch.autograd.grad(
        F.linear(x1, layer.weight * layer.mask, layer.bias).square().sum(), layer.weight
    )
    assert torch.allclose(layer.weight.grad, dense + dense_1, atol=1e-5)

    # Zeros left in the reused memory are trusted only while nothing has written to it.
    off = layer.mask == 0
    for _ in range(2):
        assert torch.all(grad_of(x1)[off] == 0)
    layer.weight.grad.fill_(7.0)  # say, a hook or an optimizer editing the gradient in place
    assert torch.all(grad_of(x2)[off] == 0)


@pytest.mark.parametrize("order", ["raster", "random"])
@pytest.mark.parametrize("hidden_sorted", [True, False])
def test_made_masks_and_staircases_from_degrees_match_the_masks(order, hidden_sorted):
    """set_degrees writes made_masks' masks, and the staircases it reads off the degrees
    compute the same function as the dense masked product (and as find_staircase's).
    Unsorted hidden degrees are those of checkpoints written before they were drawn sorted."""
    model = random_made((16, 12), direct=True, n_masks=1, order=order)
    order = torch.arange(N_BITS) if order == "raster" else torch.randperm(N_BITS)
    degrees = draw_degrees(order, (16, 12), None)
    degrees[1][:5] = degrees[1][5]  # ties in degree
    if not hidden_sorted:
        degrees[1:] = [m[torch.randperm(m.numel())] for m in degrees[1:]]
    model.set_degrees(degrees)
    hidden, M_V, M_A = made_masks(degrees)
    layers = [*model.W, model.V, model.A]
    for layer, M in zip(layers, [*hidden, M_V, M_A], strict=True):
        assert torch.equal(layer.mask, M.double())
        x = torch.randn(5, layer.in_features, dtype=torch.float64)
        dense = F.linear(x, layer.weight * layer.mask, layer.bias)
        for stairs in (layer.staircase(), find_staircase(layer.mask)):
            assert torch.allclose(staircase_linear(x, layer.weight, layer.bias, stairs), dense)


@pytest.mark.parametrize("permute", [False, True])
def test_staircase_layer_used_twice_before_backward(permute, monkeypatch):
    """Two forward passes under two masks (two mask sets of an ensemble) before one
    backward: the first pass's gathered blocks are not overwritten by the second's."""
    monkeypatch.setattr(staircase, "CALL_COST", 0)
    generator = torch.Generator().manual_seed(3)
    if permute:  # one staircase, two orders: blocks of the same sizes, other weights
        M = random_staircase(14, 10, generator)
        masks = [
            M[torch.randperm(14, generator=generator)][:, torch.randperm(10, generator=generator)]
            for _ in range(2)
        ]
    else:
        masks = [random_staircase(14, 10, generator) for _ in range(2)]
    layer = MaskedLinear(10, 14).double()
    x1, x2 = torch.randn(2, 5, 10, dtype=torch.float64).unbind()
    x1.requires_grad_(True)
    for _ in range(2):  # the second time on memory kept from the first
        layer.set_mask(masks[0])
        assert layer.staircase().permuted == permute
        y1 = layer(x1).square().sum()
        layer.set_mask(masks[1])
        y2 = layer(x2).sin().sum()
        grads = torch.autograd.grad(y1 + y2, (x1, layer.weight))
        dense = F.linear(x1, layer.weight * masks[0], layer.bias).square().sum()
        dense = dense + F.linear(x2, layer.weight * masks[1], layer.bias).sin().sum()
        expected = torch.autograd.grad(dense, (x1, layer.weight))
        for g, e in zip(grads, expected, strict=True):
            assert torch.allclose(g, e, atol=1e-12)


def test_small_reordered_staircases_take_the_dense_path(monkeypatch):
    monkeypatch.setattr(staircase, "MIN_PERMUTED_WEIGHTS", 1000)
    generator = torch.Generator().manual_seed(4)
    small, large = random_staircase(20, 30, generator), random_staircase(40, 30, generator)
    assert find_staircase(small) is not None  # in place: always worth it
    assert find_staircase(small.flip(0)) is None  # 600 weights to reorder
    assert find_staircase(large.flip(0)) is not None  # 1200


@pytest.mark.parametrize("renumbering", ["_sort_hidden_units", "_sort_inputs"])
def test_renumbering_the_units_keeps_the_network_the_seeds_draw(renumbering, monkeypatch):
    """A single mask set's hidden units are renumbered by degree, and its data dimensions
    taken in the ordering (x[:, inputs]), each with their weights: the same log p and the
    same samples as the draw from the same seeds without it (as the documented runs had)."""
    data = DataInfo((1, 4, 4), 2)
    x = (torch.rand(32, 1, 4, 4, generator=torch.Generator().manual_seed(3)) < 0.5).float()
    torch.manual_seed(0)
    ordered = create_model("made", data, hidden_dims=(40, 30), order="random", direct=True)
    monkeypatch.setattr(MADE, renumbering, lambda self, degrees: None)
    torch.manual_seed(0)
    drawn = create_model("made", data, hidden_dims=(40, 30), order="random", direct=True)
    if renumbering == "_sort_hidden_units":
        assert all((d[:-1] <= d[1:]).all() for d in ordered.stored_degrees(0)[1:])
        assert any((d[:-1] > d[1:]).any() for d in drawn.stored_degrees(0)[1:])
    else:
        assert not torch.equal(ordered.inputs, torch.arange(16))
        assert torch.equal(drawn.inputs, torch.arange(16))
    assert torch.equal(ordered.order, drawn.order)  # the same ordering of the data
    torch.testing.assert_close(ordered.log_prob(x), drawn.log_prob(x))
    samples = [m.sample(8, torch.Generator().manual_seed(1)) for m in (ordered, drawn)]
    assert torch.equal(*samples)


def test_a_state_dict_without_inputs_loads_as_stored_at_the_data_dimensions(monkeypatch):
    """Checkpoints written before `inputs` existed hold the units at their data dimensions:
    a model built today (whose units are in order) loads them and computes what they did."""
    data = DataInfo((1, 4, 4), 2)
    x = (torch.rand(32, 1, 4, 4, generator=torch.Generator().manual_seed(3)) < 0.5).float()
    with monkeypatch.context() as m:
        m.setattr(MADE, "_sort_inputs", lambda self, degrees: None)
        torch.manual_seed(5)
        old = create_model("made", data, hidden_dims=(20,), order="random", direct=True)
    state = {k: v for k, v in old.state_dict().items() if k != "inputs"}
    torch.manual_seed(6)
    today = create_model("made", data, hidden_dims=(20,), order="random", direct=True)
    assert not torch.equal(today.inputs, torch.arange(16))
    today.load_state_dict(state)
    assert torch.equal(today.inputs, torch.arange(16))
    assert torch.equal(today.order, old.order)
    torch.testing.assert_close(today.log_prob(x), old.log_prob(x))
    # and a state dict of today's round-trips with its own layout
    torch.manual_seed(7)
    again = create_model("made", data, hidden_dims=(20,), order="random", direct=True)
    fresh = create_model("made", data, hidden_dims=(20,), order="random", direct=True)
    fresh.load_state_dict(again.state_dict())
    torch.testing.assert_close(fresh.log_prob(x), again.log_prob(x))
