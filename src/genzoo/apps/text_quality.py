"""How well a text-to-image run draws its captions (Reed et al. 2016, arXiv:1605.05396;
R-precision after Xu et al. 2018, AttnGAN, arXiv:1711.10485, Sec. 4.1).

For each of the first n captions t_i of a split (the test split's are written from
held-out templates: genzoo.data.captions), one image x̂_i = G(z_i, φ(t_i)), the z_i drawn
in order from one generator seeded by `seed`. Then:

    R-precision   in a joint image–text space (u = image, v = text, unit vectors; a
                  `contrastive` run, never the model that trained G): image i's
                  candidates are its own caption and 99 others drawn, without
                  replacement, from the distinct sentences of the whole split other than
                  t_i's (one seeded generator, image by image), so that no sentence is a
                  candidate twice and t_i's sentence only as the own caption. A hit when
                  u(x̂_i) · v(t_i) is the highest of the 100 cosines; a tie with k other
                  candidates counts 1 / (k + 1), the expected hit of a random tie-break.
                  R-precision = the mean hit (chance: 1/100). The same candidates for the
                  real images x_i: the ceiling the joint model allows. Distinct sentences
                  may still say the same thing (another template or synonym for the same
                  class and properties), so a judge that reads every caption's content
                  perfectly and nothing else, scoring 1 for a candidate of the own
                  caption's class and property values and 0 otherwise, stays below 1: its
                  R-precision ("r_precision_content") is reported beside.
    match shares  the caption's class against genzoo's classifier for the images
                  (genzoo.metrics.features), and each of its properties against the same
                  measurement that wrote the caption (captions.py's mnist_properties:
                  Morpho-MNIST thickness and slant bins; cifar_properties: dominant
                  colour and brightness bins), on the image quantised to uint8; "all" when
                  the class and every property match. The caption's own values are
                  measured again from its real image (the captions were written from
                  them; checked by rewriting the captions). The same shares for the real
                  images, through the run's transform and back as the generated ones go:
                  1.0 for the properties where that path keeps the pixels, the
                  classifier's accuracy for the class.
    FID           of the n generated images against the n real ones of the split, in
                  genzoo's feature network for the dataset (not Inception).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from genzoo.core.errors import GenzooError

N_CANDIDATES = 100  # the own caption and 99 others (AttnGAN's R-precision)
BATCH = 500  # images generated or embedded at once


def draw_candidates(texts, n: int, seed: int = 0, n_candidates: int = N_CANDIDATES):
    """(first (S,), own (n,), others (n, n_candidates − 1)): for each distinct sentence of
    `texts`, in order of first appearance, the index of that first caption; the index of
    each of the first n captions' sentence among them; and those of the other candidates
    (module docstring), never the own sentence and none twice."""
    first: dict[str, int] = {}
    for i, t in enumerate(texts):
        first.setdefault(t, i)
    if len(first) < n_candidates:
        raise GenzooError(f"{len(first)} distinct captions: R-precision needs at least "
                          f"{n_candidates}")  # fmt: skip
    sentence = {t: k for k, t in enumerate(first)}
    own = torch.tensor([sentence[t] for t in texts[:n]])
    g = torch.Generator().manual_seed(seed)
    others = torch.stack([torch.randperm(len(first) - 1, generator=g)[: n_candidates - 1]
                          for _ in range(len(own))])  # fmt: skip
    return torch.tensor(list(first.values())), own, others + (others >= own[:, None]).long()


def rank_first(scores: Tensor) -> Tensor:
    """(N,) hits of scores (N, K) whose column 0 is the own caption's: 1 where it is the
    highest, 1 / (k + 1) where k others tie with it at the top, else 0."""
    own, others = scores[:, :1], scores[:, 1:]
    top = (others <= own).all(dim=1)
    ties = (others == own).sum(dim=1)
    return torch.where(top, 1.0 / (1 + ties), 0.0)


@torch.no_grad()
def embed_images(joint_model, x: Tensor) -> Tensor:
    """u of images x (N, C, H, W) in [0, 1], (N, d): the joint model takes [−1, 1]."""
    return torch.cat([joint_model.embed_images(2 * x[i : i + BATCH] - 1).float().cpu()
                      for i in range(0, len(x), BATCH)])  # fmt: skip


@torch.no_grad()
def embed_sentences(joint_model, sentences: list[str], phi: Tensor, encoder: str) -> Tensor:
    """v of each sentence (S, d): from its sentence embedding φ (S, D) where the joint
    model's text tower reads that encoder's, else from the text (CLIP's own tokens)."""
    if getattr(joint_model, "text_encoder", None) == encoder:
        return joint_model.embed_texts(phi).float().cpu()
    return joint_model.embed_prompts(sentences).float().cpu()


def r_precision(u: Tensor, v: Tensor, own: Tensor, others: Tensor) -> float:
    """The mean hit (rank_first) of images u (N, d) among sentences v (S, d)."""
    candidates = torch.cat([own[:, None], others], dim=1)  # (N, K), the own one first
    scores = torch.einsum("nd,nkd->nk", u, v[candidates])
    return rank_first(scores).mean().item()


def content_r_precision(keys: list, first: Tensor, own: Tensor, others: Tensor) -> float:
    """The R-precision of a judge that scores 1 for a candidate whose content (keys[i]:
    caption i's class and property values) is the own caption's, else 0."""
    ids: dict = {}
    key = torch.tensor([ids.setdefault(keys[i], len(ids)) for i in first.tolist()])  # (S,)
    candidates = torch.cat([own[:, None], others], dim=1)
    return rank_first((key[candidates] == key[own][:, None]).float()).mean().item()


def to_uint8(x: Tensor):
    """Images in [0, 1] as the uint8 arrays the caption measurements read."""
    return (x * 255).round().clamp(0, 255).to(torch.uint8).numpy()


@torch.no_grad()
def classify(net, x: Tensor) -> Tensor:
    """The classifier's class of images x (N, C, H, W) in [0, 1], (N,)."""
    return torch.cat([net(x[i : i + BATCH]).argmax(1) for i in range(0, len(x), BATCH)])


def match_shares(values: list[dict], intended: list[dict], predicted: Tensor, labels: Tensor,
                 attributes: tuple[str, ...]) -> dict[str, float]:  # fmt: skip
    """ "class": share of predicted == labels; each attribute: share of measured values
    equal to the intended; "all": every one of them."""
    hit = {"class": (predicted == labels).tolist()}
    for a in attributes:
        hit[a] = [m[a] == c[a] for m, c in zip(values, intended, strict=True)]
    hit["all"] = [all(h) for h in zip(*hit.values(), strict=True)]
    return {k: sum(v) / len(v) for k, v in hit.items()}


@dataclass
class Captioned:
    """The first n examples of a captioned split."""

    x: Tensor  # (n, C, H, W) in [0, 1]
    labels: Tensor  # (n,)
    phi: Tensor  # (n, D) sentence embeddings
    texts: tuple[str, ...]  # all of the split's captions (the candidate pool)


def captioned(run, splits, split: str, n: int | None) -> Captioned:
    from genzoo.apps.latent import run_inputs
    from genzoo.io.images import to_unit_range

    if splits.captions is None or getattr(splits, f"{split}_labels") is None:
        raise GenzooError(f"{run.data_name} has no captions and labels: a text-to-image run "
                          "is evaluated on a captioned task, e.g. mnist-captions")  # fmt: skip
    texts = splits.captions.text(split)
    if n is not None and not 1 <= n <= len(texts):
        raise GenzooError(f"--n {n}: the {split} split has {len(texts):,} captions")
    n = len(texts) if n is None else n
    x = run_inputs(run, splits, split)[:n]
    x = to_unit_range(x, run.model.data.n_values, run.transform.scale)
    labels = getattr(splits, f"{split}_labels")[:n]
    return Captioned(x, labels, splits.captions.split(split)[:n], texts)


@torch.no_grad()
def generate(run, phi: Tensor, seed: int) -> Tensor:
    """One image per caption embedding φ (n, D), in [0, 1], z from one seeded generator."""
    from genzoo.io.images import to_unit_range

    model = run.model.eval()
    g = torch.Generator().manual_seed(seed)
    x = torch.cat([model.sample(len(h), generator=g, condition=h).cpu()
                   for h in phi.split(BATCH)])  # fmt: skip
    return to_unit_range(x, model.data.n_values, run.transform.scale)


def caption_values(run, splits, split: str, n: int) -> tuple[tuple[str, ...], list[dict]]:
    """(the caption's attribute slots, each of the first n captions' values): measured
    again from the split's stored uint8 images, as genzoo.data.captions wrote them, and
    checked by rewriting the captions; ((), n empty dicts) for a task without such
    measurements (its class is still checked)."""
    from genzoo.data.captions import CAPTION_TASKS, write_captions

    task = CAPTION_TASKS.get(run.data_name)
    if task is None:
        return (), [{}] * n
    x, labels = splits.split(split)[:n], getattr(splits, f"{split}_labels")[:n]
    if task.pad:
        x = x[..., task.pad : -task.pad, task.pad : -task.pad]
    values = task.properties(x.numpy(), labels.numpy())
    if write_captions(values, task.scheme, split) != list(splits.captions.text(split)[:n]):
        raise GenzooError(f"the {split} captions of {run.data_name} do not follow from its "
                          "images' measurements: its cached captions are stale; delete them "
                          "and load the task again")  # fmt: skip
    return tuple(task.scheme.synonyms)[1:], values  # the first slot is the class


def measured(run, x: Tensor, labels: Tensor, attributes) -> list[dict]:
    """The attribute values of images x (N, C, H, W) in [0, 1], quantised to uint8 and
    measured as the captions were (inside the task's padding)."""
    from genzoo.data.captions import CAPTION_TASKS

    if not attributes:
        return [{}] * len(x)
    task = CAPTION_TASKS[run.data_name]
    if task.pad:
        x = x[..., task.pad : -task.pad, task.pad : -task.pad]
    return task.properties(to_uint8(x), labels.numpy())


def evaluate_text2image(run, joint, split: str = "test", n: int | None = None, seed: int = 0,
                        data_root=None, splits=None) -> tuple[dict, dict]:  # fmt: skip
    """(metrics, the feature network's info) of a text-to-image run on the first n (all by
    default) captions of a split, with `joint` (genzoo.apps.edit.Joint) as the space of
    R-precision (module docstring). metrics: "n_examples", "n_candidates", "r_precision",
    "r_precision_real", "r_precision_content", "chance"; "attributes"; "match" and
    "match_real", the shares by "class", each attribute and "all"; "fid"."""
    from genzoo.apps.edit import check_joint_images
    from genzoo.apps.sampling import require_condition
    from genzoo.metrics.features import LABELLED_TWIN, feature_network
    from genzoo.metrics.quality import sample_metrics
    from genzoo.train.run import load_splits

    require_condition(run, "text", "--joint")
    check_joint_images(run, joint, f"the {run.model_name} run")
    if splits is None:
        splits = load_splits(run.data_name, data_root, run.train_config)
    data = captioned(run, splits, split, n)
    fake = generate(run, data.phi, seed)

    first, own, others = draw_candidates(data.texts, len(fake), seed)
    joint_model = joint.model.eval()
    v = embed_sentences(joint_model, [data.texts[i] for i in first],
                        splits.captions.split(split)[first], splits.captions.encoder)  # fmt: skip
    result: dict = {"n_examples": len(fake), "n_candidates": N_CANDIDATES,
                    "chance": 1 / N_CANDIDATES}  # fmt: skip
    for key, x in (("r_precision", fake), ("r_precision_real", data.x)):
        result[key] = r_precision(embed_images(joint_model, x), v, own, others)
    attributes, intended = caption_values(run, splits, split, len(data.texts))
    labels = getattr(splits, f"{split}_labels").tolist()
    keys = [(y, *(c.get(a) for a in attributes)) for y, c in zip(labels, intended, strict=True)]
    result["r_precision_content"] = content_r_precision(keys, first, own, others)

    intended = intended[: len(fake)]
    net, info = feature_network(LABELLED_TWIN.get(run.data_name, run.data_name), data_root)
    result["attributes"] = attributes
    for key, x in (("match", fake), ("match_real", data.x)):
        values = measured(run, x, data.labels, attributes)
        result[key] = match_shares(values, intended, classify(net, x), data.labels, attributes)
    result["fid"] = sample_metrics(fake, data.x, net, ["fid"])["fid"]
    return result, info
