"""How well a joint image–text model (Capability.JOINT) matches images and captions.

zero-shot accuracy   each image assigned the class whose prompt embeds closest,
                     argmax_c u(x) · v(p_c) (Radford et al. 2021, Sec. 3.1.2), against
                     its label; chance is 1 / n_classes
retrieval top-1      image -> text: the share of images whose nearest caption (among
                     the split's captions) is their own caption's text; text -> image:
                     the share of captions whose nearest image is captioned with that
                     same text. Chance is about (copies of a caption) / N.
"""

from __future__ import annotations

import torch
from torch import Tensor


@torch.no_grad()
def embed_in_batches(embed, x: Tensor, batch_size: int = 500) -> Tensor:
    return torch.cat([embed(x[i : i + batch_size]).cpu() for i in range(0, len(x), batch_size)])


@torch.no_grad()
def zero_shot_accuracy(model, x: Tensor, labels: Tensor, prompt_phi: Tensor) -> float:
    """Share of images x (N, C, H, W) in the model's range classified as `labels` (N,) among
    the classes whose prompts embed to prompt_phi (n_classes, D)."""
    u = embed_in_batches(model.embed_images, x)
    v = model.embed_texts(prompt_phi).cpu()
    return (u @ v.T).argmax(dim=1).eq(labels.cpu()).float().mean().item()


@torch.no_grad()
def retrieval_top1(model, x: Tensor, phi: Tensor, texts: list[str]) -> dict[str, float]:
    """Image -> text and text -> image top-1 among N pairs (x_i, φ_i) with captions texts."""
    u = embed_in_batches(model.embed_images, x)
    v = embed_in_batches(model.embed_texts, phi)
    s = u @ v.T  # (N, N)
    ids = {t: i for i, t in enumerate(sorted(set(texts)))}
    t = torch.tensor([ids[text] for text in texts])
    return {"image_to_text": (t[s.argmax(dim=1)] == t).float().mean().item(),
            "text_to_image": (t[s.argmax(dim=0)] == t).float().mean().item()}  # fmt: skip


def joint_report(model, x: Tensor, labels: Tensor | None, phi: Tensor, texts: list[str],
                 prompts: list[str] | None, embed) -> dict:  # fmt: skip
    """Zero-shot accuracy (with `prompts`, embedded by `embed`) and retrieval top-1 of a
    split; x in the model's range."""
    model.eval()
    out = {"n_examples": len(x)} | retrieval_top1(model, x, phi, texts)
    if prompts is not None and labels is not None:
        out["zero_shot_accuracy"] = zero_shot_accuracy(model, x, labels, embed(prompts))
        out["prompts"] = prompts
    return out
