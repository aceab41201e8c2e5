"""PixelCNN and what all pixel models share: masks, heads, ordering, sampling, completion."""

import itertools

import numpy as np
import pytest
import torch
from conftest import all_inputs, randomize
from PIL import Image

from genzoo.cli import main
from genzoo.core import DataInfo
from genzoo.models import create_model
from genzoo.nn.masked import MaskedConv2d
from genzoo.nn.pixel_heads import make_head

TINY = {"hidden_channels": 6, "n_blocks": 2, "first_kernel": 3, "out_channels": 18}


def pixelcnn(shape, n_values, seed=0, **overrides) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = create_model("pixelcnn", DataInfo(shape, n_values), **{**TINY, **overrides})
    return randomize(model.double(), std=0.5, seed=seed).eval()


# --- heads ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "K"), [("bernoulli", 2), ("categorical", 5), ("logistic-mixture", 4),
                    ("logistic-mixture", 256)],
)  # fmt: skip
def test_head_probabilities_sum_to_one(head, K):
    h = make_head(head, K, n_mixtures=3)
    params = torch.randn(7, h.n_params, dtype=torch.float64) * 2
    x = torch.arange(K, dtype=torch.float64)
    log_p = h.log_prob(params[:, None, :].expand(7, K, -1), x.expand(7, K))
    assert torch.allclose(log_p.exp().sum(1), torch.ones(7, dtype=torch.float64), atol=1e-9)


@pytest.mark.parametrize(("head", "K"), [("categorical", 5), ("logistic-mixture", 6)])
def test_head_draws_follow_its_probabilities(head, K):
    h = make_head(head, K, n_mixtures=2)
    g = torch.Generator().manual_seed(2)
    params = torch.randn(h.n_params, dtype=torch.float64, generator=g)
    n = 40_000
    draws = h.sample(params.expand(n, -1), torch.Generator().manual_seed(0))
    freq = torch.bincount(draws.long(), minlength=K).double() / n
    p = h.log_prob(params.expand(K, -1), torch.arange(K, dtype=torch.float64)).exp()
    assert ((freq - p).abs() <= 5 * (p * (1 - p) / n).sqrt() + 1e-3).all(), (freq, p)


def test_logistic_mixture_is_stable_for_sharp_components():
    """float32, s = e^-7 (PixelCNN++'s floor): finite everywhere, and equal to the naive
    float64 log(σ(a) − σ(b)) wherever that is itself accurate."""
    h = make_head("logistic-mixture", 256, n_mixtures=1)
    x = torch.arange(1, 255, dtype=torch.float32)
    params = torch.tensor([0.0, 0.3, -7.0]).expand(len(x), 3)
    log_p = h.log_prob(params, x)
    y, delta, s = x.double() / 127.5 - 1, 1 / 255, torch.exp(torch.tensor(-7.0)).double()
    naive = torch.log(torch.sigmoid((y + delta - 0.3) / s) - torch.sigmoid((y - delta - 0.3) / s))
    assert torch.isfinite(log_p).all()
    accurate = naive > -30
    assert accurate.sum() >= 3
    assert torch.allclose(log_p[accurate].double(), naive[accurate], rtol=1e-4, atol=1e-5)
    assert (log_p[~accurate] < -30).all()


# --- masked convolutions -------------------------------------------------------------------


@pytest.mark.parametrize(("k", "mask_type"), [(3, "A"), ((1, 5), "B"), (7, "A"), (1, "B")])
def test_masked_conv_at_one_pixel_matches_the_full_convolution(k, mask_type):
    conv = MaskedConv2d(6, 9, k, mask_type, n_colours=3).double()
    x = torch.randn(2, 6, 5, 7, dtype=torch.float64)
    y, x_pad = conv(x), conv.pad(x)
    for i, j in itertools.product(range(5), range(7)):
        assert torch.allclose(conv.forward_at(x_pad, i, j), y[:, :, i, j])


@pytest.mark.parametrize(("k", "mask_type"), [(3, "B"), ((5, 3), "A"), (1, "B")])
def test_masked_conv_by_rows_matches_the_full_convolution(k, mask_type):
    """split_rows, as incremental sampling uses it: the rows above by convolution, plus the
    centre row's taps up to (i, j) as one matrix on the row stored pixel by pixel."""
    conv = MaskedConv2d(6, 9, k, mask_type, n_colours=3).double()
    x = torch.randn(2, 6, 5, 7, dtype=torch.float64)
    above, current = conv.split_rows()
    if conv.r_h:
        y_above = torch.nn.functional.conv2d(conv.pad(x)[:, :, :-1], above, conv.bias)
    else:  # a 1 x k kernel has no row above
        y_above = conv.bias[None, :, None, None].expand(2, 9, 5, 7)
    row = torch.nn.functional.pad(x, (conv.r_w, 0)).permute(0, 2, 3, 1)  # (B, H, r_w + W, in)
    for i, j in itertools.product(range(5), range(7)):
        taps = row[:, i, j : j + conv.r_w + 1].flatten(1) @ current
        assert torch.allclose(y_above[:, :, i, j] + taps, conv(x)[:, :, i, j])
    if conv.kernel_size == (1, 1):
        v = torch.randn(4, 6, dtype=torch.float64)
        y = torch.cat([v, torch.ones(4, 1, dtype=torch.float64)], 1) @ conv.affine_matrix()
        assert torch.allclose(y, conv.pointwise(v))


def test_masked_weights_get_no_gradient_and_are_never_edited():
    conv = MaskedConv2d(3, 6, 3, "A", n_colours=3)
    before = conv.weight.detach().clone()
    conv(torch.randn(2, 3, 4, 4)).sum().backward()
    assert (conv.weight.grad[conv.mask == 0] == 0).all()
    assert torch.equal(conv.weight.detach(), before)


# --- the autoregressive property -----------------------------------------------------------


def later_in_order(c, i, j, shape):
    """Boolean (C, H, W): (c, i, j) itself, its later channels, and every later pixel."""
    C, H, W = shape
    later = torch.zeros(shape, dtype=torch.bool)
    later[:, i, j + 1 :] = True
    later[:, i + 1 :] = True
    later[c:, i, j] = True
    return later


def assert_autoregressive(model, shape, full_past: bool = False):
    """Exhaustive: every output (c, i, j) gets no gradient from itself or anything later."""
    x = torch.randn(32, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x.requires_grad_()
    theta = model.params(x)
    C, H, W = shape
    for c, i, j in itertools.product(range(C), range(H), range(W)):
        (grad,) = torch.autograd.grad(theta[:, c, i, j].sum(), x, retain_graph=True)
        seen = grad.abs().sum(0) > 0  # (C, H, W)
        later = later_in_order(c, i, j, shape)
        assert not seen[later].any(), f"output {(c, i, j)} sees {seen & later}"
        if (c, i, j) != (0, 0, 0):
            assert seen.any(), f"output {(c, i, j)} sees nothing"
        if full_past:
            assert seen[~later].all(), f"output {(c, i, j)} misses {~seen & ~later}"


@pytest.mark.parametrize(("shape", "K"), [((3, 5, 5), 4), ((1, 5, 5), 2)])
def test_pixelcnn_outputs_never_see_the_current_or_later_pixels(shape, K):
    assert_autoregressive(pixelcnn(shape, K), shape)


def test_pixelcnn_colour_g_sees_the_earlier_colours_of_its_own_pixel():
    model = pixelcnn((3, 3, 3), 4)
    x = torch.randn(16, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    theta = model.params(x)
    for c in range(3):
        (grad,) = torch.autograd.grad(theta[:, c, 1, 1].sum(), x, retain_graph=True)
        seen = grad[:, :, 1, 1].abs().sum(0) > 0
        assert seen.tolist() == [k < c for k in range(3)]


def test_pixelcnn_blind_spot_is_real():
    """Documented, not removed: with 3x3 kernels, (i-1, j+2) is in the past but unseen."""
    model = pixelcnn((1, 5, 5), 2, n_blocks=1)
    x = torch.randn(2, 1, 5, 5, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(model.params(x)[:, 0, 2, 2].sum(), x)
    assert grad[:, 0, 1, 4].abs().sum() == 0  # the blind spot
    assert grad[:, 0, 1, 3].abs().sum() > 0 and grad[:, 0, 0, 4].abs().sum() > 0


# --- exact normalisation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "K", "head"),
    [((1, 2, 2), 2, "auto"), ((1, 2, 1), 4, "categorical"), ((1, 2, 1), 4, "logistic-mixture"),
     ((3, 1, 1), 3, "categorical"), ((3, 1, 2), 2, "auto")],
)  # fmt: skip
def test_pixelcnn_sums_to_one_over_all_images(shape, K, head):
    model = pixelcnn(shape, K, head=head)
    n = int(np.prod(shape))
    x = all_inputs(n, K).reshape(-1, *shape)
    assert model.log_prob(x).exp().sum().item() == pytest.approx(1.0, abs=1e-9)


# --- sampling and completion ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "K", "head", "sizes"),
    [((1, 6, 5), 2, "auto", {}), ((3, 5, 4), 4, "categorical", {}),
     ((3, 4, 4), 8, "logistic-mixture", {}),
     # r_w = 2, two rows above; with seed 0 this net draws only ones
     ((1, 5, 6), 2, "auto", {"first_kernel": 5, "kernel": 5, "seed": 2}),
     ((2, 4, 5), 3, "categorical", {"kernel": 1})],  # blocks with no row above
)  # fmt: skip
def test_cached_sampling_equals_full_recompute(shape, K, head, sizes):
    model = pixelcnn(shape, K, head=head, **sizes).float()
    zeros = torch.zeros(12, *shape)
    for seed in (0, 1):
        fast = model.generate(zeros, generator=torch.Generator().manual_seed(seed))
        slow = model.generate(zeros, generator=torch.Generator().manual_seed(seed), cached=False)
        assert torch.equal(fast, slow)
    assert set(fast.unique().tolist()) <= set(range(K)) and len(fast.unique()) > 1


@pytest.mark.parametrize(("shape", "K"), [((1, 6, 5), 2), ((3, 5, 4), 4)])
def test_cached_completion_equals_full_recompute(shape, K):
    """Known pixels, later channels of the current pixel included, must not leak in."""
    model = pixelcnn(shape, K).float()
    g = torch.Generator().manual_seed(3)
    x = torch.randint(0, K, (12, *shape), generator=g).float()
    known = torch.rand(shape, generator=g) < 0.5
    fast = model.complete(x, known, torch.Generator().manual_seed(0))
    slow = model.generate(x, known, torch.Generator().manual_seed(0), cached=False)
    assert torch.equal(fast, slow)
    assert torch.equal(fast[:, known], x[:, known])


@pytest.mark.parametrize("name", ["pixelcnn", "nade", "made"])
def test_completion_keeps_the_known_pixels(name):
    torch.manual_seed(0)
    small = {"pixelcnn": TINY, "nade": {"hidden_dim": 8}, "made": {"hidden_dims": (16,)}}[name]
    model = create_model(name, DataInfo((1, 4, 5), 2), **small)
    x = torch.bernoulli(torch.full((6, 1, 4, 5), 0.5))
    known = torch.zeros(1, 4, 5, dtype=torch.bool)
    known[:, :2] = True
    out = model.complete(x, known, torch.Generator().manual_seed(0))
    assert torch.equal(out[:, :, :2], x[:, :, :2])
    assert not torch.equal(out[:, :, 2:], x[:, :, 2:])  # the rest was sampled


# --- the colour dataset and the command line -----------------------------------------------


def test_photo_patches_need_no_download_and_splits_do_not_overlap():
    from genzoo.data import load

    s = load("photo-patches")
    assert s.train.shape[1:] == (3, 32, 32) and s.n_levels == 256
    assert len(s.train) > 1000 and len(s.valid) > 100 and len(s.test) > 100
    train = {bytes(p.numpy()) for p in s.train}
    assert not any(bytes(p.numpy()) in train for p in s.test)
    assert "not CIFAR" in s.protocol


@pytest.fixture(scope="module")
def pixel_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "pixelcnn-digits"
    code = main(["train", "pixelcnn", "--data", "digits", "--run-dir", str(run),
                 "--set", "hidden_channels=4", "--set", "n_blocks=1", "--set", "max_steps=3",
                 "--set", "progress=false", "--set", "tensorboard=false"])  # fmt: skip
    assert code == 0
    return run


def test_sample_complete_writes_a_grid(pixel_run, tmp_path):
    image = tmp_path / "digit.png"
    Image.fromarray((np.random.default_rng(0).random((8, 8)) * 255).astype(np.uint8)).save(image)
    out = tmp_path / "completions.png"
    code = main(["sample", str(pixel_run), "--complete", str(image), "--known", "left-half",
                 "-n", "3", "-o", str(out)])  # fmt: skip
    assert code == 0
    assert Image.open(out).size[0] > Image.open(out).size[1]  # one row: observed + 3


def test_sample_complete_rejects_a_wrong_size(pixel_run, tmp_path, capsys):
    image = tmp_path / "big.png"
    Image.new("L", (28, 28)).save(image)
    assert main(["sample", str(pixel_run), "--complete", str(image)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "28x28" in err and "8x8" in err
    assert main(["sample", str(pixel_run), "--complete", str(image), "--known", "middle"]) == 2
