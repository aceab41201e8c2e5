"""PixelRNN (Row LSTM, Diagonal BiLSTM): causality, receptive fields, normalisation, sampling."""

import itertools

import numpy as np
import pytest
import torch
from conftest import all_inputs, randomize

from genzoo.core import DataInfo, GenzooError
from genzoo.models import create_model

MODELS = ("row-lstm", "diagonal-bilstm")


def pixelrnn(name, shape, n_values, seed=0, **overrides) -> torch.nn.Module:
    torch.manual_seed(seed)
    sizes = {"hidden_channels": 2 * shape[0], "n_layers": 2, "out_channels": 18}
    model = create_model(name, DataInfo(shape, n_values), **{**sizes, **overrides})
    return randomize(model.double(), std=0.5, seed=seed).eval()


def seen_by(model, x: torch.Tensor, c: int, i: int, j: int) -> torch.Tensor:
    """Boolean (C, H, W): the inputs that output (c, i, j) gets a nonzero gradient from."""
    (grad,) = torch.autograd.grad(model.params(x)[:, c, i, j].sum(), x)
    return grad.abs().sum(0) > 0


def random_input(shape, n_values, n=32) -> torch.Tensor:
    """Real-valued images whose scaled values (the network's input) are standard normal: of
    both signs, so that no ReLU is dead for every image and hides a dependency."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(n, *shape, dtype=torch.float64, generator=g)
    return ((z + 1) * (n_values - 1) / 2).requires_grad_()


def later_in_order(c, i, j, shape):
    """Boolean (C, H, W): (c, i, j) itself, its later channels, and every later pixel."""
    later = torch.zeros(shape, dtype=torch.bool)
    later[:, i, j + 1 :] = True
    later[:, i + 1 :] = True
    later[c:, i, j] = True
    return later


def blind_spots(name, i, j, shape):
    """Boolean (C, H, W): the past inputs that output (i, j) never sees (as pixelrnn.py says).

    Row LSTM: the context is a triangle, row i-d reaching columns up to j+d+2 (the 7x7
    first layer reaches j+3 on row i-1; each row up, the LSTM reaches one column further).
    Diagonal BiLSTM: everything but the last channel of the last pixel of the row above,
    (C-1, i-1, W-1), when j < W-4. Mask A keeps it from every state at (i-1, W-1), so only
    states after it in raster order see it; of those, output (i, j) reads only (i, 0..j),
    whose 7x7 first-layer windows reach column W-1 from j >= W-4 on.
    """
    C, H, W = shape
    blind = torch.zeros(shape, dtype=torch.bool)
    if name == "row-lstm":
        for d in range(1, i + 1):
            blind[:, i - d, j + d + 3 :] = True
    elif i > 0 and j < W - 4:
        blind[-1, i - 1, W - 1] = True
    return blind


# --- the autoregressive property and the receptive fields ----------------------------------


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(("shape", "K"), [((3, 5, 5), 4), ((1, 5, 5), 2)])
def test_every_output_sees_exactly_its_past_minus_the_blind_spots(name, shape, K):
    """Exhaustive over outputs (c, i, j): no gradient from (c, i, j), its later channels or
    any later pixel (for the Diagonal BiLSTM, this catches the right-to-left output added
    without its one-row shift); a gradient from every other earlier input."""
    model = pixelrnn(name, shape, K, head="categorical")
    x = random_input(shape, K)
    for c, i, j in itertools.product(*map(range, shape)):
        seen = seen_by(model, x, c, i, j)
        later = later_in_order(c, i, j, shape)
        assert not seen[later].any(), f"output {(c, i, j)} sees {(seen & later).nonzero()}"
        expected = ~later & ~blind_spots(name, i, j, shape)
        assert torch.equal(seen, expected), f"output {(c, i, j)}: seen {seen}, expected {expected}"


@pytest.mark.parametrize("n_layers", [1, 3])
def test_row_lstm_context_is_a_triangle_however_deep(n_layers):
    """Sec. 3.1, Fig. 4: row i-d is seen up to column j+d+2, never (i-1, j+4)."""
    shape = (1, 4, 9)
    model = pixelrnn("row-lstm", shape, 2, n_layers=n_layers)
    x = random_input(shape, 2)
    for j in (0, 4):
        seen = seen_by(model, x, 0, 3, j)[0]
        assert seen[:3, : j + 1].all()
        for d in (1, 2, 3):
            assert seen[3 - d, j + 1 :].tolist() == [b <= j + d + 2 for b in range(j + 1, 9)]


@pytest.mark.parametrize("n_layers", [1, 3])
def test_diagonal_bilstm_sees_the_whole_past_but_one_pixel(n_layers):
    """Sec. 3.2: the whole context from one layer on, except the last (colour of the last)
    pixel of the row above, seen from j >= W-4 only (blind_spots)."""
    shape = (1, 4, 9)
    model = pixelrnn("diagonal-bilstm", shape, 2, n_layers=n_layers)
    x = random_input(shape, 2)
    for j in (0, 4, 5, 8):
        expected = ~later_in_order(0, 3, j, shape)
        expected[0, 2, 8] = j >= 5
        assert torch.equal(seen_by(model, x, 0, 3, j), expected), j


def test_hidden_channels_must_split_over_the_colours():
    for name in MODELS:
        with pytest.raises(GenzooError, match="multiple of the 3 colour channels"):
            create_model(name, DataInfo((3, 4, 4), 4), hidden_channels=4)
    with pytest.raises(GenzooError, match="must be odd"):
        create_model("row-lstm", DataInfo((1, 4, 4), 2), state_kernel=2)


def test_parameter_count_of_the_mnist_networks():
    """h = 16, 7 layers, binary 28x28 (Sec. 5); counted by hand from the layer sizes."""
    data = DataInfo((1, 28, 28), 2)
    ends = (1 * 4 * 7 + 1) * 32 + (32 + 1) * 32 + (32 + 1) * 1  # 7x7 A (4 rows kept), 2 x 1x1
    expand = (16 + 1) * 32
    row = (32 * 3 + 1) * 64 + 16 * 3 * 64 + expand  # K^is 1x3, K^ss 3 (no bias), 1x1
    diagonal = 2 * ((32 + 1) * 64 + 16 * 2 * 64) + expand  # two directions
    assert create_model("row-lstm", data).n_parameters() == ends + 7 * row == 70785
    assert create_model("diagonal-bilstm", data).n_parameters() == ends + 7 * diagonal == 64065


# --- the Diagonal BiLSTM's scan against the straightforward skew / unskew form ------------


def weighted_sum_grads(forward, s: torch.Tensor, params: list) -> tuple[torch.Tensor, tuple]:
    """forward(s), and the gradients of a random weighting of it by s and by params."""
    y = forward(s)
    w = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(2))
    return y.detach(), torch.autograd.grad((w * y).sum(), [s, *params])


@pytest.mark.parametrize(("shape", "h"), [((1, 5, 7), 2), ((3, 6, 4), 6), ((1, 1, 3), 2)])
def test_diagonal_scan_equals_the_skewed_loop_in_value_and_gradient(shape, h):
    """The training path (one scan over both directions, nn/diagonal_scan.py) against
    `forward_skewed`, the per-column loop over the skewed map: float64, every gradient."""
    model = pixelrnn("diagonal-bilstm", shape, 2, hidden_channels=h)
    layer = model.layers[1]
    s = torch.randn(3, 2 * h, *shape[1:], dtype=torch.float64, requires_grad=True)
    for module in (layer, layer.left):  # both directions at once, and one alone
        params = list(module.parameters())
        y_fast, grads_fast = weighted_sum_grads(module, s, params)
        y_ref, grads_ref = weighted_sum_grads(module.forward_skewed, s, params)
        assert torch.allclose(y_fast, y_ref, rtol=0, atol=1e-12)
        for g_fast, g_ref in zip(grads_fast, grads_ref, strict=True):
            assert torch.allclose(g_fast, g_ref, rtol=0, atol=1e-11)


def test_diagonal_scan_backward_can_run_twice():
    """retain_graph=True (the gradient-dependency tests use it) gives the same gradient again."""
    layer = pixelrnn("diagonal-bilstm", (1, 3, 3), 2).layers[0]
    s = torch.randn(2, 4, 3, 3, dtype=torch.float64, requires_grad=True)  # 2h = 4 channels
    loss = (layer(s) ** 2).sum()
    (first,) = torch.autograd.grad(loss, s, retain_graph=True)
    (second,) = torch.autograd.grad(loss, s)
    assert torch.equal(first, second)


def test_diagonal_bilstm_checkpoint_keys_are_unchanged():
    """Checkpoints saved before the fast scan still load: same modules, same names."""
    model = create_model("diagonal-bilstm", DataInfo((1, 4, 4), 2), n_layers=1)
    per_direction = ["input_to_state.weight", "input_to_state.bias", "input_to_state.mask",
                     "state_to_state.weight"]  # fmt: skip
    layer = [f"layers.0.{d}.{k}" for d in ("left", "right") for k in per_direction]
    layer += ["layers.0.expand.weight", "layers.0.expand.bias", "layers.0.expand.mask"]
    ends = [f"{m}.{k}" for m in ("conv_in", "out1", "out2") for k in ("weight", "bias", "mask")]
    assert sorted(model.state_dict()) == sorted(ends + layer)


# --- exact normalisation -------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(
    ("shape", "K", "head"),
    [((1, 2, 2), 2, "auto"), ((1, 2, 1), 4, "categorical"), ((1, 2, 1), 4, "logistic-mixture"),
     ((3, 1, 2), 2, "auto")],
)  # fmt: skip
def test_sums_to_one_over_all_images(name, shape, K, head):
    model = pixelrnn(name, shape, K, head=head)
    x = all_inputs(int(np.prod(shape)), K).reshape(-1, *shape)
    assert model.log_prob(x).exp().sum().item() == pytest.approx(1.0, abs=1e-9)


# --- sampling and completion ---------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(("shape", "K"), [((1, 5, 5), 2), ((3, 4, 5), 4)])
def test_each_cached_step_equals_the_full_forward_pass(name, shape, K):
    """The stepper fed an image in order, as `generate` feeds it, gives params(image)."""
    model = pixelrnn(name, shape, K)
    image = torch.randint(0, K, (4, *shape), generator=torch.Generator().manual_seed(1))
    image = image.double()
    theta = model.params(image)
    x = torch.zeros_like(image)
    with torch.no_grad():
        step = model.stepper(x)
        C, H, W = shape
        for i, j, c in itertools.product(range(H), range(W), range(C)):
            assert torch.allclose(step(i, j, c), theta[:, c, i, j], atol=1e-12), (i, j, c)
            x[:, c, i, j] = image[:, c, i, j]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(("shape", "K"), [((1, 5, 5), 2), ((3, 5, 5), 4)])
def test_cached_sampling_equals_full_recompute(name, shape, K):
    model = pixelrnn(name, shape, K).float()
    zeros = torch.zeros(8, *shape)
    for seed in (0, 1):
        fast = model.generate(zeros, generator=torch.Generator().manual_seed(seed))
        slow = model.generate(zeros, generator=torch.Generator().manual_seed(seed), cached=False)
        assert torch.equal(fast, slow)
    assert set(fast.unique().tolist()) <= set(range(K)) and len(fast.unique()) > 1


@pytest.mark.parametrize("name", MODELS)
def test_completion_keeps_the_known_pixels(name):
    shape = (3, 4, 5)
    model = pixelrnn(name, shape, 4).float()
    x = torch.randint(0, 4, (6, *shape), generator=torch.Generator().manual_seed(0)).float()
    known = torch.zeros(shape, dtype=torch.bool)
    known[:, :2] = True
    known[:2, 2, 1] = True  # R and G known, B unknown: a pixel completed channel by channel
    out = model.complete(x, known, torch.Generator().manual_seed(0))
    assert torch.equal(out[:, known], x[:, known])
    assert not torch.equal(out[:, ~known], x[:, ~known])  # the rest was sampled
    slow = model.generate(x, known, torch.Generator().manual_seed(0), cached=False)
    assert torch.equal(out, slow)
