"""Perceptual path length (PPL): how much the image changes along small steps in latent space.

T. Karras, S. Laine and T. Aila, "A Style-Based Generator Architecture for Generative
Adversarial Networks", CVPR 2019 (arXiv:1812.04948), Sec. 4.2. With G the generator, φ a
perceptual embedding, ε = 1e-4 and t ~ U(0, 1):

    l_Z = E[ 1/ε² · d(G(slerp(z1, z2; t)), G(slerp(z1, z2; t + ε))) ],   z1, z2 ~ P(z)
    l_W = E[ 1/ε² · d(g(lerp(f(z1), f(z2); t)), g(lerp(f(z1), f(z2); t + ε))) ]

where f is the mapping and g the synthesis network (styles broadcast to every layer, one
fixed noise realisation), slerp the spherical interpolation (z is normalised in the input
layer) and lerp the linear one (w is not). "full" paths take t ~ U(0, 1); "end" paths only
the paths' ends, t ∈ {0, 1}. Outliers are rejected: distances below the 1st or above the
99th percentile are dropped before the mean.

Protocol, as the authors' code (stylegan, metrics/perceptual_path_length.py): slerp of the
endpoints normalised to unit length, d on images at t and t + ε (t + ε may pass 1); "end"
takes t = 0 (the ends t = 0 and t = 1 have one distribution, the endpoints being exchangeable);
percentiles with "lower" and "higher" interpolation, both bounds kept. The paper uses
100,000 paths.
Deviations:
- d is ‖φ(x1) − φ(x2)‖² with φ genzoo's feature network for the dataset (the penultimate
  layer of a small CNN classifier, `genzoo.metrics.features`) on images in [0, 1], NOT the
  LPIPS distance in VGG16 features that the paper uses: the numbers are comparable only
  between runs that use the same feature network, never with the paper's.
- In Z the slerped unit vector is scaled to the radius √dim(z), where N(0, I) puts its
  mass, so that generators that do not normalise z (DCGAN, a VAE's decoder) see typical
  inputs; ProGAN's and StyleGAN's pixel normalisation makes this a no-op for them. Any
  model with noise(n) and decode_noise(z) gets l_Z; l_W needs the style-based generator's
  mapping, broadcast, synthesize and fixed_noise.
- No cropping to the face region (the paper crops FFHQ/CelebA-HQ images for LPIPS).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from genzoo.core.capabilities import Capability
from genzoo.core.errors import GenzooError

EPSILON = 1e-4  # Sec. 4.2
SPACES = ("z", "w")
SAMPLINGS = ("full", "end")

Interpolation = Callable[[Tensor, Tensor, Tensor], Tensor]


def _normalise(v: Tensor) -> Tensor:
    return v / v.norm(dim=1, keepdim=True)


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """The point at angle t·Ω from â towards b̂ on the unit sphere, Ω = ∠(a, b); a, b (B, D),
    t (B,). As the authors' code: c = b̂ − (â·b̂) â normalised, â cos(tΩ) + ĉ sin(tΩ)."""
    a, b = _normalise(a), _normalise(b)
    d = (a * b).sum(1, keepdim=True)
    p = t[:, None] * torch.acos(d.clamp(-1.0, 1.0))
    c = _normalise(b - d * a)
    return _normalise(a * torch.cos(p) + c * torch.sin(p))


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """a + t (b − a), t (B,) broadcast over the other dimensions."""
    return a + t.view(-1, *[1] * (a.dim() - 1)) * (b - a)


def path_distances(
    generate: Callable[[Tensor], Tensor],
    phi: Callable[[Tensor], Tensor],
    a: Tensor,
    b: Tensor,
    t: Tensor,
    interpolate: Interpolation,
    epsilon: float = EPSILON,
) -> Tensor:
    """1/ε² ‖φ(G(e(t))) − φ(G(e(t + ε)))‖² per path, (B,) in float64; e = interpolate(a, b, ·)."""
    e0, e1 = interpolate(a, b, t), interpolate(a, b, t + epsilon)
    f = phi(generate(torch.cat([e0, e1]))).double().flatten(1)
    return (f[: len(a)] - f[len(a) :]).square().sum(1) / epsilon**2


def reject_outliers_mean(d: Tensor) -> tuple[float, int]:
    """(mean of d within [1st percentile (lower), 99th percentile (higher)], values kept)."""
    d = d.double()
    lo = torch.quantile(d, 0.01, interpolation="lower")
    hi = torch.quantile(d, 0.99, interpolation="higher")
    kept = d[(lo <= d) & (d <= hi)]
    return kept.mean().item(), len(kept)


def latent_space(model, space: str, to_unit: Callable[[Tensor], Tensor]):
    """(draw(n, generator) -> endpoints (a, b), interpolate, generate -> images in [0, 1])
    of a model's Z (noise(n), decode_noise(z)) or W (mapping, broadcast, synthesize with
    the fixed noise realisation)."""
    caps = model.capabilities
    if space not in SPACES:
        raise GenzooError(f"PPL space {space!r}: expected one of {', '.join(SPACES)}")
    if space == "w" and Capability.STYLES not in caps:
        raise GenzooError(f"{type(model).__name__} has no intermediate latent space W: "
                          "PPL in W needs a style-based generator (stylegan)")  # fmt: skip
    if Capability.NOISE not in caps:
        raise GenzooError(f"{type(model).__name__} does not expose its noise z: PPL needs a "
                          "model with noise(n) and decode_noise(z)")  # fmt: skip

    def draw_z(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        z = model.noise(2 * n, generator).cpu().flatten(1)
        return z[:n], z[n:]

    if space == "z":
        radius = math.sqrt(draw_z(1, torch.Generator().manual_seed(0))[0].shape[1])

        def generate_z(z: Tensor) -> Tensor:
            return to_unit(model.decode_noise(radius * z).cpu())

        return draw_z, slerp, generate_z

    noise = model.fixed_noise()

    def draw_w(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        z1, z2 = draw_z(n, generator)
        return model.mapping(z1).cpu(), model.mapping(z2).cpu()

    def generate_w(w: Tensor) -> Tensor:
        return to_unit(model.synthesize(model.broadcast(w), noise).cpu())

    return draw_w, lerp, generate_w


@torch.no_grad()
def perceptual_path_length(
    model,
    phi: Callable[[Tensor], Tensor],
    *,
    space: str = "z",
    sampling: str = "full",
    n: int = 2000,
    epsilon: float = EPSILON,
    seed: int = 0,
    batch_size: int = 250,
    to_unit: Callable[[Tensor], Tensor] = lambda x: x,
) -> dict[str, float | int]:
    """PPL of a model in space "z" or "w", "full" or "end" paths: {"ppl", "n_paths",
    "n_kept"} (n_kept: the paths left after outlier rejection). φ takes images in [0, 1]
    (`to_unit` maps the generator's output there); batch_size paths (2 images each) at once.
    """
    if sampling not in SAMPLINGS:
        raise GenzooError(f"PPL paths {sampling!r}: expected one of {', '.join(SAMPLINGS)}")
    if n < 100:
        raise GenzooError(f"PPL needs at least 100 paths for its 1%/99% outlier rejection, "
                          f"got {n}")  # fmt: skip
    draw, interpolate, generate = latent_space(model, space, to_unit)
    generator = torch.Generator().manual_seed(seed)
    distances = []
    for i in range(0, n, batch_size):
        m = min(batch_size, n - i)
        a, b = draw(m, generator)
        t = torch.rand(m, generator=generator) if sampling == "full" else torch.zeros(m)
        distances.append(path_distances(generate, phi, a, b, t.to(a), interpolate, epsilon))
    ppl, kept = reject_outliers_mean(torch.cat(distances))
    return {"ppl": ppl, "n_paths": n, "n_kept": kept}
