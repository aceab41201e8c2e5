"""How well a model of key patches (Puzzle-GAN) puts each patch back where it came from,
judged against the true places that the task records (fashion-patches' "attributes"),
which the model never sees at test time.

Protocol, on [0, 1] pixels, with one draw of z from a generator seeded by `seed`:
- patch_l1: the mean |x̂ − x| over the pixels of the K true squares, i.e. how far the
  generated image is from each patch at its true place (lower is better);
- image_l1: the mean |x̂ − x| over all pixels, against the image the patches came from
  (there are many whole images with these patches: a loose reference, not a target);
- mask_iou: for each patch, |{M̂_k ≥ 0.5} ∩ M_k| / |{M̂_k ≥ 0.5} ∪ M_k| with M_k its true
  square, averaged over patches and images; a model without masks has none;
- black_patch_l1 (a yardstick, no model): patch_l1 of an all-black image (0, the
  background's value);
- given a feature network (genzoo.metrics.features, not Inception): fid, kid_mean and
  kid_std of the generated images (the same one per image as above) against the real
  images x, through genzoo.metrics.quality.sample_metrics; and, given reference images
  (a yardstick, no model: real images of another split, e.g. as many training images),
  reference_fid, reference_kid_mean and reference_kid_std of those against x: what real
  images of the same distribution score at the same n. The network sees the part of the
  images that network_window gives: all of it where it takes their size, else their
  centred square of its size, where every real image is black outside it (fashion-patches'
  32x32 images without the 2-pixel padding that made them of Fashion-MNIST's 28x28, whose
  network judges them; the generated images' border is then not judged).
"""

from __future__ import annotations

import torch
from torch import Tensor

from genzoo.core.errors import GenzooError
from genzoo.models.adversarial.puzzle_gan import place_masks

IOU_THRESHOLD = 0.5  # a pixel belongs to the predicted mask where M̂_k >= this


def mask_iou(M_hat: Tensor, M: Tensor, threshold: float = IOU_THRESHOLD) -> Tensor:
    """IoU (B, K) of the thresholded masks M̂ (B, K, H, W) with the true ones M (0/1)."""
    predicted, true = M_hat >= threshold, M >= 0.5
    inter = (predicted & true).flatten(2).sum(-1).float()
    union = (predicted | true).flatten(2).sum(-1).float()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))


def network_window(net, real: Tensor) -> tuple[slice, slice]:
    """(rows, columns) of images of real's size (N, C, H, W, in [0, 1]) that the feature
    network judges: all of them where it takes H x W images, else the centred square of
    its size S, where every real image is black (0) outside it; a GenzooError otherwise."""
    S, (H, W) = net.image_size, real.shape[-2:]
    top, left = (H - S) // 2, (W - S) // 2
    rows, cols = slice(top, top + S), slice(left, left + S)
    if (H, W) == (S, S):
        return rows, cols
    outside = torch.ones(H, W, dtype=torch.bool)
    outside[rows, cols] = False
    if top < 0 or left < 0 or (real[..., outside] != 0).any():
        raise GenzooError(f"the feature network takes {S}x{S} images, and these {H}x{W} ones "
                          f"are not {S}x{S} ones with a black border")  # fmt: skip
    return rows, cols


def distances(net, fakes: list[Tensor], real: Tensor, seed: int = 0) -> list[dict[str, float]]:
    """fid, kid_mean and kid_std (genzoo.metrics.quality, as sample_metrics computes them)
    of each set of images in `fakes` against `real`, all (N, C, H, W) in [0, 1], on the part
    that network_window gives; the real images go through the network once."""
    from genzoo.metrics.quality import check_images, embed, fid_kid

    rows, cols = network_window(net, real)
    real = real[..., rows, cols]
    check_images(real, "reference images", net)
    f_real, _ = embed(net, real, net.batch_size)
    out = []
    for fake in fakes:
        fake = fake[..., rows, cols]
        check_images(fake, "samples", net)
        out.append(fid_kid(f_real, embed(net, fake, net.batch_size)[0], seed=seed))
    return out


@torch.no_grad()
def puzzle_metrics(model, x: Tensor, patches: Tensor, places: Tensor, scale: str,
                   batch_size: int, seed: int = 0, net=None,
                   reference: Tensor | None = None) -> dict[str, float]:  # fmt: skip
    """The module's measures for images x (N, C, H, W) and their patches (N, K·C, P, P) in
    the data's range (`scale`) and true places (N, 2K); given a feature network `net`, also
    FID and KID, and given `reference` images (M, C, H, W) in the data's range, theirs."""
    from genzoo.io.images import to_unit_range

    g = torch.Generator().manual_seed(seed)
    generated = []  # in [0, 1], kept for FID
    P, (H, W) = model.config.patch_size, x.shape[-2:]
    totals = {"patch_l1": 0.0, "image_l1": 0.0, "black_patch_l1": 0.0}
    if model.config.mask_branch:
        totals["mask_iou"] = 0.0
    area = 0.0
    for i in range(0, len(x), batch_size):
        xb, pb, lb = x[i : i + batch_size], patches[i : i + batch_size], places[i : i + batch_size]
        x_hat, M_hat = model.assemble(pb, g)
        x_hat, xb = to_unit_range(x_hat.cpu(), None, scale), to_unit_range(xb, None, scale)
        if net is not None:
            generated.append(x_hat)
        M = place_masks(lb, P, (H, W)).amax(1, keepdim=True)  # the K squares, disjoint
        totals["patch_l1"] += (M * (x_hat - xb)).abs().sum().item()
        totals["black_patch_l1"] += (M * xb).abs().sum().item()
        area += M.sum().item() * x.shape[1]
        totals["image_l1"] += (x_hat - xb).abs().flatten(1).mean(1).sum().item()
        if M_hat is not None:
            totals["mask_iou"] += (
                mask_iou(M_hat.cpu(), place_masks(lb, P, (H, W))).mean(1).sum().item()
            )
    n = len(x)
    out = {key: value / max(n, 1) for key, value in totals.items()}
    out["patch_l1"] = totals["patch_l1"] / max(area, 1)
    out["black_patch_l1"] = totals["black_patch_l1"] / max(area, 1)
    if net is not None:
        fakes = [torch.cat(generated)]
        if reference is not None:
            fakes.append(to_unit_range(reference, None, scale))
        found = distances(net, fakes, to_unit_range(x, None, scale), seed)
        out |= found[0]
        if reference is not None:
            out |= {f"reference_{key}": value for key, value in found[1].items()}
    return {"n_examples": n, **out}
