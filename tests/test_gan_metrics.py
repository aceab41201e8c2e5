"""SWD, MS-SSIM and PPL: the Laplacian pyramid reconstructs its image, SWD is 0 between a set
and itself and grows with a blur or a shift, MS-SSIM is 1 for identical images, symmetric
and lower under noise, PPL is 0 for a generator that ignores z and matches the closed forms
of linear generators, W-space PPL of a tiny StyleGAN, and `genzoo eval --metrics
swd,msssim,ppl` on a tiny trained run."""

import math

import pytest
import torch

from genzoo.core import DataInfo, GenzooError
from genzoo.core.capabilities import Capability
from genzoo.metrics.path_length import (
    lerp,
    path_distances,
    perceptual_path_length,
    reject_outliers_mean,
    slerp,
)
from genzoo.metrics.pixel_space import (
    laplacian_pyramid,
    ms_ssim,
    ms_ssim_diversity,
    pyramid_down,
    pyramid_up,
    reconstruct_laplacian_pyramid,
    sliced_wasserstein_distance,
    swd_resolutions,
)


def images(n=64, c=3, side=32, seed=0):
    """Smooth random images in [0, 1]: blurred noise, so that structure exists at every scale."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, c, side // 4, side // 4, generator=g)
    x = torch.nn.functional.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
    return (x + 0.05 * torch.rand(n, c, side, side, generator=g)).clamp(0, 1)


# ---- Laplacian pyramid and SWD ----


def test_the_laplacian_pyramid_has_the_papers_levels_and_reconstructs_the_image():
    x = images(4, 3, 64).double()
    levels = laplacian_pyramid(x, len(swd_resolutions(64)))
    assert swd_resolutions(64) == [64, 32, 16] and swd_resolutions(28) == [28]
    assert swd_resolutions(8) == [8]  # below 16: the image itself
    assert [lvl.shape[-1] for lvl in levels] == [64, 32, 16]
    assert torch.allclose(reconstruct_laplacian_pyramid(levels), x, atol=1e-12)
    # the band-pass levels carry no mean: the Gaussian residual holds the image's average
    assert levels[0].mean().abs() < 1e-3 < levels[-1].mean()


def test_pyramid_down_and_up_keep_a_constant_image_away_from_the_borders():
    x = torch.full((1, 1, 16, 16), 0.7, dtype=torch.float64)
    assert torch.allclose(pyramid_down(x), torch.full((1, 1, 8, 8), 0.7, dtype=torch.float64))
    up = pyramid_up(pyramid_down(x), (16, 16))
    assert torch.allclose(up[..., 2:-2, 2:-2], x[..., 2:-2, 2:-2])


def test_swd_of_a_set_with_itself_is_zero_and_grows_with_a_blur_or_a_shift():
    x, y = images(64, seed=0), images(64, seed=1)
    same = sliced_wasserstein_distance(x, x, descriptors_per_image=16)
    assert same["swd"] == 0.0 and same["swd_resolutions"] == [32, 16]
    other = sliced_wasserstein_distance(x, y, descriptors_per_image=16)["swd"]
    blurred = pyramid_up(pyramid_down(pyramid_up(pyramid_down(y), (32, 32))), (32, 32)).float()
    blur = sliced_wasserstein_distance(x, blurred, descriptors_per_image=16)["swd"]
    shifted = sliced_wasserstein_distance(x, (y + 0.3).clamp(0, 1), descriptors_per_image=16)
    assert 0 < other < blur
    assert other < shifted["swd"]  # standardised per set, but clipping changes the shape
    # more blur, further away
    more = pyramid_up(pyramid_down(blurred), (32, 32)).float()
    assert blur < sliced_wasserstein_distance(x, more, descriptors_per_image=16)["swd"]


def test_swd_refuses_sets_of_different_shapes():
    with pytest.raises(GenzooError, match="one shape"):
        sliced_wasserstein_distance(images(8), images(8, side=16))


# ---- MS-SSIM ----


def test_ms_ssim_is_one_for_identical_images_symmetric_and_lower_under_noise():
    x = images(8)
    g = torch.Generator().manual_seed(0)
    noisy = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    noisier = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    assert torch.allclose(ms_ssim(x, x), torch.ones(8, dtype=torch.float64))
    assert torch.allclose(ms_ssim(x, noisy), ms_ssim(noisy, x))
    assert (ms_ssim(x, noisier) < ms_ssim(x, noisy)).all() and (ms_ssim(x, noisy) < 1).all()
    assert ms_ssim(x, images(8, seed=5)).mean() < ms_ssim(x, noisy).mean()
    # a brightness shift leaves every cs at 1: only the coarsest scale's luminance sees it
    shifted = ms_ssim(x, x + 0.2)
    assert (shifted < 0.999).all() and (shifted > 0.95).all()
    small = images(4, 1, 8)  # digits' 8x8: windows 8, 4, 2, 1, 1
    assert torch.allclose(ms_ssim(small, small), torch.ones(4, dtype=torch.float64))


def test_diversity_of_identical_samples_is_one_and_of_distinct_samples_lower():
    x = images(1).expand(10, -1, -1, -1)
    assert ms_ssim_diversity(x) == (pytest.approx(1.0), 5)
    assert ms_ssim_diversity(images(10))[0] < 0.9


# ---- PPL ----


class LinearGenerator:
    """G(z) = A z in Z, and w = z, g(ws) = A w in W; the image is (B, 1, 1, D')."""

    capabilities = Capability.NOISE | Capability.STYLES

    def __init__(self, A: torch.Tensor):
        self.A = A

    def noise(self, n, generator=None):
        return torch.randn(n, self.A.shape[1], generator=generator, dtype=torch.float64)

    def decode_noise(self, z):
        return (z @ self.A.T)[:, None, None]

    def mapping(self, z):
        return z

    def broadcast(self, w):
        return w[:, None]

    def fixed_noise(self):
        return None

    def synthesize(self, ws, noise):
        return (ws[:, 0] @ self.A.T)[:, None, None]


def identity(x):
    return x


def test_a_generator_that_ignores_z_has_zero_path_length():
    class Constant(LinearGenerator):
        def decode_noise(self, z):
            return torch.ones(len(z), 1, 4, 4, dtype=torch.float64)

    model = Constant(torch.eye(3, dtype=torch.float64))
    assert perceptual_path_length(model, identity, n=200)["ppl"] == 0.0


def test_lerp_path_length_of_a_linear_generator_is_its_closed_form():
    A = torch.randn(5, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    model = LinearGenerator(A)
    a, b = model.noise(200), model.noise(200)
    t = torch.rand(200, dtype=torch.float64)
    d = path_distances(model.decode_noise, identity, a, b, t, lerp)
    assert torch.allclose(d, ((b - a) @ A.T).square().sum(1), rtol=1e-6)  # ‖A (w2 − w1)‖²
    # the whole metric: the same draws, outliers rejected, then the mean
    g = torch.Generator().manual_seed(0)
    z1, z2 = model.noise(300, g).split(150)  # as the metric draws: 2n endpoints, then t
    expected = reject_outliers_mean(((z2 - z1) @ A.T).square().sum(1))[0]
    r = perceptual_path_length(model, identity, space="w", n=150, batch_size=150)
    assert r["ppl"] == pytest.approx(expected, rel=1e-6) and r["n_kept"] == 148


def test_slerp_path_length_is_the_squared_arc_speed_and_matches_a_direct_computation():
    A = torch.randn(4, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    a, b = torch.randn(2, 100, 4, dtype=torch.float64)
    t = torch.rand(100, dtype=torch.float64)
    omega = torch.acos((a / a.norm(dim=1, keepdim=True) * b / b.norm(dim=1, keepdim=True)).sum(1))
    # G = identity on the unit sphere: the speed of the great circle is Ω, so d = Ω²
    d = path_distances(identity, identity, a, b, t, slerp, epsilon=1e-6)
    assert torch.allclose(d, omega**2, rtol=1e-4)

    # G = A z: against slerp written the other way, sin((1−t)Ω)/sin Ω â + sin(tΩ)/sin Ω b̂
    def direct(t):
        ah, bh = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
        w = torch.sin(omega)[:, None]
        return (torch.sin((1 - t) * omega)[:, None] * ah + torch.sin(t * omega)[:, None] * bh) / w

    eps = 1e-4
    expected = ((direct(t + eps) - direct(t)) @ A.T).square().sum(1) / eps**2
    d = path_distances(lambda z: z @ A.T, identity, a, b, t, slerp, epsilon=eps)
    assert torch.allclose(d, expected, rtol=1e-6)


def test_z_paths_are_scaled_to_the_radius_where_gaussian_noise_lives():
    model = LinearGenerator(torch.eye(9, dtype=torch.float64))
    r = perceptual_path_length(model, identity, space="z", sampling="end", n=200)
    # d = (3 Ω)²; Ω between two random 9-d directions is near π/2
    assert 9 * (math.pi / 2 - 0.6) ** 2 < r["ppl"] < 9 * (math.pi / 2 + 0.6) ** 2


def test_ppl_refuses_w_without_styles_and_too_few_paths():
    class Plain(LinearGenerator):
        capabilities = Capability.NOISE

    with pytest.raises(GenzooError, match="style-based"):
        perceptual_path_length(Plain(torch.eye(2)), identity, space="w", n=100)
    with pytest.raises(GenzooError, match="100 paths"):
        perceptual_path_length(Plain(torch.eye(2)), identity, n=10)


def test_w_space_path_length_of_a_tiny_stylegan_is_finite_and_positive():
    from genzoo.models import create_model

    torch.manual_seed(0)
    model = create_model("stylegan", DataInfo((1, 8, 8), None), latent_dim=4, w_dim=4,
                         n_mapping=2, max_channels=8, channel_base=32).eval()  # fmt: skip
    model.images_seen.fill_(10**9)  # grown to 8x8

    def phi(x):
        return x.flatten(1)  # pixels as features

    def to_unit(x):
        return (x + 1) / 2

    values = {}
    for space in ("z", "w"):
        for sampling in ("full", "end"):
            r = perceptual_path_length(model, phi, space=space, sampling=sampling, n=100,
                                       to_unit=to_unit)  # fmt: skip
            values[space, sampling] = r["ppl"]
    assert all(math.isfinite(v) and v > 0 for v in values.values()), values


# ---- the CLI ----


def test_eval_prints_swd_msssim_and_ppl_of_a_tiny_stylegan_run(tmp_path, capsys):
    from genzoo.cli import main

    run = tmp_path / "stylegan"
    settings = ["latent_dim=4", "w_dim=4", "n_mapping=2", "max_channels=8", "channel_base=32",
                "images_per_phase=64", "max_steps=4", "batch_size=16", "progress=false",
                "tensorboard=false"]  # fmt: skip
    argv = ["train", "stylegan", "--data", "digits", "--run-dir", str(run)]
    assert main([*argv, *[a for s in settings for a in ("--set", s)]]) == 0
    capsys.readouterr()
    metrics = ["--data-root", str(tmp_path), "eval", str(run), "--n", "100"]
    assert main([*metrics, "--metrics", "swd,msssim,ppl,fid"]) == 0
    out = capsys.readouterr().out
    assert "SWD x1e3:" in out and "(per level 8: " in out and "100 images a side" in out
    assert "MS-SSIM:" in out and "50 disjoint random pairs" in out
    assert "PPL: Z: full" in out and "W: full" in out and "100 paths per value" in out
    assert "FID:" in out and "digits-featnet-" in out and out.count("protocol:") == 3
    # weight-free alone: no feature network line
    assert main([*metrics, "--metrics", "swd,msssim"]) == 0
    out = capsys.readouterr().out
    assert "featnet" not in out and "SWD x1e3:" in out
    assert main([*metrics, "--metrics", "swd,lpips"]) == 2
    assert "--metrics takes a list of" in capsys.readouterr().err
