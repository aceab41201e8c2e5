"""docs/models/<name>.md: one page per registered model, generated, never edited by hand.

Each page is built from the registry (family, density, capabilities, description, default
settings), from the entry below (the lecture's idea in two sentences, the paper, the data
to start on), and from docs/results.md: every table row there that names the model,
with its table's header and section, is copied onto the page, so that our number and the
paper's number sit where the model is described. Regenerate with

    .venv/bin/python docs/make_model_pages.py

(tests/test_model_pages.py fails when a page is out of date, or a registered model has no
entry here).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from genzoo.core.capabilities import Capability


@dataclass(frozen=True)
class Entry:
    idea: str  # the lecture's point, two sentences
    paper: str
    data: str  # the dataset to start on
    names: tuple[str, ...]  # how docs/results.md's tables name the model
    train_args: str = ""  # settings the first run needs beside the defaults


# what `genzoo score` scores inputs with (genzoo.apps.anomaly)
SCORES = Capability.LOG_PROB | Capability.ELBO | Capability.ENCODE | Capability.DISCRIMINATE

ENTRIES = {
    "independent": Entry(
        "Every pixel is its own Bernoulli (or categorical) variable: p(x) = Π_i p(x_i), "
        "with n parameters for n binary pixels. It is the lecture's lower bound: exact and "
        "cheap, but blind to every dependency between pixels.",
        "The baseline of every density-estimation table; e.g. Larochelle & Murray 2011, Sec. 4.",
        "binarized-mnist",
        ("independent",),
    ),
    "markov": Entry(
        "Each pixel depends only on the k before it in a fixed order, p(x_i | x_{i-k..i-1}), "
        "with tabular conditionals: 2n − 1 parameters for AR-1 on n binary pixels. It sits "
        "between independence (n) and the fully dependent table (2^n − 1).",
        "The lecture's Markov assumption; no single paper.",
        "binarized-mnist",
        ("Markov", "AR-1", "AR-k"),
    ),
    "fvsbn": Entry(
        "Each conditional p(x_i | x_<i) is a logistic regression on all previous pixels: "
        "the chain rule with no independence assumption, and O(n²) parameters. It is the "
        "simplest fully visible autoregressive model.",
        "Neal, 'Connectionist learning of belief networks', Artificial Intelligence 1992 "
        "(sigmoid belief networks); the number we compare with: Larochelle & Murray 2011, "
        "Table 2.",
        "binarized-mnist",
        ("FVSBN",),
    ),
    "nade": Entry(
        "Each conditional comes from a hidden layer over the previous pixels, and all "
        "conditionals share one weight matrix, so that a_{i+1} = a_i + W_{·,i} x_i computes "
        "them all in O(HD). It is the FVSBN made neural and cheap.",
        "Larochelle & Murray, 'The Neural Autoregressive Distribution Estimator', AISTATS 2011.",
        "binarized-mnist",
        ("NADE",),
    ),
    "rnade": Entry(
        "NADE for real-valued data: each conditional is a mixture of Gaussians whose "
        "weights, means and scales come from NADE's shared hidden layer. The lecture: 'for "
        "continuous variables, use a Gaussian mixture at the last layer'.",
        "Uria, Murray & Larochelle, 'RNADE: The real-valued neural autoregressive "
        "density-estimator', NIPS 2013.",
        "digits",
        ("RNADE",),
    ),
    "made": Entry(
        "An autoencoder whose weights are masked so that output d sees only the inputs "
        "before d in an ordering: one forward pass gives every conditional. Training over "
        "many orderings and connectivities gives an ensemble of models in one network.",
        "Germain, Gregor, Murray & Larochelle, 'MADE: Masked Autoencoder for Distribution "
        "Estimation', ICML 2015.",
        "binarized-mnist",
        ("MADE",),
    ),
    "pixelcnn": Entry(
        "Convolutions masked so that each pixel sees only the pixels above and to its left "
        "(and, in colour, the channels before it: R, then G, then B). Training is parallel "
        "over pixels; sampling still goes one pixel at a time.",
        "van den Oord, Kalchbrenner & Kavukcuoglu, 'Pixel Recurrent Neural Networks', ICML 2016.",
        "binarized-mnist",
        ("PixelCNN",),
    ),
    "row-lstm": Entry(
        "An LSTM that runs down the image one row at a time, each row's state computed by a "
        "1-D convolution over the row above: a triangular receptive field. It is the faster "
        "of the two PixelRNN layers.",
        "van den Oord, Kalchbrenner & Kavukcuoglu, 'Pixel Recurrent Neural Networks', ICML 2016.",
        "binarized-mnist",
        ("Row LSTM",),
    ),
    "diagonal-bilstm": Entry(
        "An LSTM that sweeps the image along diagonals, in both directions, so that every "
        "pixel sees the whole context above and to its left. It is the slower, more "
        "expressive PixelRNN layer.",
        "van den Oord, Kalchbrenner & Kavukcuoglu, 'Pixel Recurrent Neural Networks', ICML 2016.",
        "binarized-mnist",
        ("Diagonal BiLSTM",),
    ),
    "ae": Entry(
        "An encoder compresses x into a code z and a decoder reconstructs x from it. It is "
        "not a generative model: nothing says which z to decode, so it cannot sample.",
        "The baseline of the lecture's latent-variable part; e.g. Hinton & Salakhutdinov, "
        "Science 2006.",
        "mnist",
        ("autoencoder", "AE"),
    ),
    "vae": Entry(
        "A decoder p(x | z) with a prior p(z), trained through an encoder q(z | x) on the "
        "ELBO = reconstruction + prior fitting, a lower bound on log p(x). Importance "
        "weighting k samples (IWAE) tightens the bound towards log p(x).",
        "Kingma & Welling, 'Auto-Encoding Variational Bayes', ICLR 2014; Burda, Grosse & "
        "Salakhutdinov, 'Importance Weighted Autoencoders', ICLR 2016.",
        "binarized-mnist",
        ("VAE", "IWAE"),
    ),
    "aae": Entry(
        "An autoencoder whose codes are pushed towards a chosen prior by a discriminator "
        "instead of a KL term, so the prior only has to be sampleable. Decoding prior "
        "samples then generates; there is no likelihood.",
        "Makhzani, Shlens, Jaitly, Goodfellow & Frey, 'Adversarial Autoencoders', ICLR 2016 "
        "workshop (arXiv:1511.05644).",
        "mnist",
        ("AAE",),
    ),
    "gan": Entry(
        "A generator maps noise to images and a discriminator learns to tell them from real "
        "ones; each trains against the other. It is implicit: it samples, but gives no p(x).",
        "Goodfellow et al., 'Generative Adversarial Nets', NIPS 2014.",
        "mnist",
        ("GAN",),
    ),
    "dcgan": Entry(
        "The GAN with convolutional generator and discriminator, batch normalisation and "
        "the architecture rules that made GAN training stable. Its discriminator's features "
        "are good for downstream tasks.",
        "Radford, Metz & Chintala, 'Unsupervised Representation Learning with Deep "
        "Convolutional GANs', ICLR 2016.",
        "mnist",
        ("DCGAN",),
    ),
    "cgan": Entry(
        "Generator and discriminator both receive a label y, so that the generator learns "
        "p(x | y) and one can ask for a chosen class.",
        "Mirza & Osindero, 'Conditional Generative Adversarial Nets', arXiv:1411.1784, 2014.",
        "mnist",
        ("CGAN",),
    ),
    "infogan": Entry(
        "Part of the generator's noise is a code c, and an extra head Q must recover c from "
        "the image: maximising this mutual information makes the codes meaningful "
        "(digit class, slant, width) without labels.",
        "Chen et al., 'InfoGAN: Interpretable Representation Learning by Information "
        "Maximizing GANs', NIPS 2016.",
        "mnist",
        ("InfoGAN",),
    ),
    "wgan": Entry(
        "The critic estimates the Wasserstein-1 distance between data and samples, which "
        "gives useful gradients even when the two do not overlap. Its Lipschitz constraint "
        "is enforced by clipping the weights.",
        "Arjovsky, Chintala & Bottou, 'Wasserstein GAN', ICML 2017.",
        "mnist",
        ("WGAN",),
    ),
    "wgan-gp": Entry(
        "The WGAN with the weight clipping replaced by a penalty on the critic's gradient "
        "norm at points between real and generated images.",
        "Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville, 'Improved Training of "
        "Wasserstein GANs', NIPS 2017.",
        "mnist",
        ("WGAN-GP",),
    ),
    "progan": Entry(
        "Grow the GAN instead of training it at full size: G and D start at 4x4 and gain "
        "a block per resolution, each faded in while alpha rises from 0 to 1, so coarse "
        "structure is learnt before detail. Equalized learning rate, pixelwise feature "
        "normalization and a minibatch-stddev feature keep the WGAN-GP game stable.",
        "Karras, Aila, Laine & Lehtinen, 'Progressive Growing of GANs for Improved Quality, "
        "Stability, and Variation', ICLR 2018 (arXiv:1710.10196).",
        "cifar10",
        ("ProGAN",),
    ),
    "stylegan": Entry(
        "ProGAN's growing GAN with a style-based generator: z is mapped to w by an MLP, and "
        "w steers every layer of a network that starts from a learned constant, through "
        "AdaIN, with per-pixel noise for stochastic detail. Coarse layers set pose and shape, "
        "fine ones colour and texture, so styles of two images can be mixed layer by layer.",
        "Karras, Laine & Aila, 'A Style-Based Generator Architecture for Generative "
        "Adversarial Networks', CVPR 2019 (arXiv:1812.04948).",
        "cifar10",
        ("StyleGAN",),
    ),
    "pix2pix": Entry(
        "A conditional GAN whose condition is an image: a U-Net G maps an input x to its "
        "target y, and a PatchGAN D judges each patch of the pair (x, y), while an L1 term "
        "keeps G near the target. One recipe for many paired tasks: edges to photos, labels "
        "to scenes, day to night.",
        "Isola, Zhu, Zhou & Efros, 'Image-to-Image Translation with Conditional Adversarial "
        "Networks', CVPR 2017 (arXiv:1611.07004).",
        "edges2fashion",
        ("Pix2Pix", "pix2pix"),
    ),
    "cyclegan": Entry(
        "Translation without pairs: two generators G: A -> B and F: B -> A, each with a "
        "least-squares PatchGAN judging its outputs, tied together by cycle consistency "
        "(F(G(a)) should give a back, and G(F(b)) b). Trained here on edges2fashion with "
        "the pairs shuffled apart, and judged against the true pairs.",
        "Zhu, Park, Isola & Efros, 'Unpaired Image-to-Image Translation using "
        "Cycle-Consistent Adversarial Networks', ICCV 2017 (arXiv:1703.10593).",
        "edges2fashion-unpaired",
        ("CycleGAN", "cyclegan"),
    ),
    "stargan": Entry(
        "One generator for many domains: G(x, c) takes the target attribute vector c as "
        "extra input channels; one WGAN-GP critic also classifies the attributes of real "
        "images, G is pulled to be classified as c, and G(G(x, c), c') must give x back "
        "with x's own attributes c'. Trained here on morpho-mnist (thick, slanted), and "
        "judged by measuring the outputs' stroke thickness and slant.",
        "Choi, Choi, Kim, Ha, Kim & Choo, 'StarGAN: Unified Generative Adversarial Networks "
        "for Multi-Domain Image-to-Image Translation', CVPR 2018 (arXiv:1711.09020).",
        "morpho-mnist",
        ("StarGAN", "stargan"),
    ),
    "puzzle-gan": Entry(
        "A whole image from a few key local patches with no place given: a shared encoder "
        "reads each patch, one decoder draws the image from the features and noise, another "
        "a mask per patch of where it belongs. Masks are pulled to where the patches were "
        "cut, the image through them to the patches, and D keeps the whole image real. "
        "Judged by the masks' IoU with the true places; mask_branch=false is the baseline "
        "without masks.",
        "Lee, Yun, Choi, Yoo, Yang & Oh, 'Unsupervised Holistic Image Generation from Key "
        "Local Patches', ECCV 2018 (arXiv:1703.10730).",
        "fashion-patches",
        ("Puzzle-GAN", "puzzle-gan"),
    ),
    "singan": Entry(
        "A pyramid of small patch GANs learnt from one image, coarse to fine, each scale "
        "frozen once trained: the coarsest places objects at random, each finer one adds "
        "the detail that its upsampled input lacks, x̃_n = x̃_{n+1}↑ + ψ_n(z_n + x̃_{n+1}↑). "
        "Samples are new images with the same patches, at any stage of training.",
        "Shaham, Dekel & Michaeli, 'SinGAN: Learning a Generative Model from a Single "
        "Natural Image', ICCV 2019 (arXiv:1905.01164).",
        "image:china",
        ("SinGAN", "singan"),
        # 6 scales of 200 iterations: about 20 min on one CPU thread (the paper: 2000)
        " --set steps_per_scale=200 --set max_steps=1200",
    ),
    "text2image": Entry(
        "G(z, φ(t)) and D(x, φ(t)) both see a caption's sentence embedding φ(t). The "
        "matching-aware D (GAN-CLS) also calls real images with another image's caption "
        "fake, and G also learns from embeddings halfway between two captions (GAN-INT). "
        "Trained here on captions genzoo writes from each digit's class, stroke thickness "
        "and slant; sampled with `genzoo sample RUN --text 'a thin two leaning left'`.",
        "Reed, Akata, Yan, Logeswaran, Schiele & Lee, 'Generative Adversarial Text to Image "
        "Synthesis', ICML 2016 (arXiv:1605.05396).",
        "mnist-captions",
        ("Text2Image", "text2image", "GAN-INT-CLS"),
    ),
    "contrastive": Entry(
        "An image tower and a text tower map pictures and captions into one space, trained "
        "with CLIP's symmetric contrastive loss so that each image lies nearest its own "
        "caption. Here the text tower is the frozen sentence encoder plus a linear map; the "
        "report gives zero-shot accuracy from class prompts, and `genzoo edit` uses the space "
        "to steer a StyleGAN toward a prompt (StyleCLIP).",
        "Radford, Kim, Hallacy, Ramesh, Goh, Agarwal, Sastry, Askell, Mishkin, Clark, Krueger "
        "& Sutskever, 'Learning Transferable Visual Models From Natural Language Supervision', "
        "ICML 2021 (arXiv:2103.00020).",
        "mnist32-captions",
        ("contrastive",),
    ),
}


def _mentions(cell: str, names: tuple[str, ...]) -> bool:
    """Whether a table's first cell names the model (NADE, but not RNADE or WGAN-GP)."""
    return any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", cell) for n in names)


def result_rows(results_md: str, names: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(section, header line, row line) for every table row of results.md naming the model.

    A table's rows are matched on their first cell; the header is the table's first line.
    """
    found, section, header = [], "", None
    for line in results_md.splitlines():
        if line.startswith("#"):
            section, header = line.lstrip("#").strip(), None
        elif not line.startswith("|"):
            header = None
        elif header is None:
            header = line
        elif not set(line) <= set("|-: "):
            first = line.strip("|").split("|")[0]
            if _mentions(first, names):
                found.append((section, header, line))
    return found


def _anchor(section: str) -> str:
    """GitHub's anchor for a heading."""
    slug = re.sub(r"[^\w\- ]", "", section.lower()).replace(" ", "-")
    return slug


def render(spec, entry: Entry, results_md: str) -> str:
    caps = [c.name.lower() for c in Capability if c in spec.capabilities and c.name]
    lines = [
        f"# {spec.name}",
        "",
        f"*{spec.family} · {spec.density} · can: {', '.join(caps)}* — {spec.description}",
        "",
        f"**The idea.** {entry.idea}",
        "",
        f"**Paper.** {entry.paper}",
        "",
        "**Try it.**",
        "",
        f"    genzoo train {spec.name} --data {entry.data}{entry.train_args}",
    ]
    if Capability.SAMPLE in spec.capabilities:
        lines.append("    genzoo sample RUN_DIR -n 64 -o samples.png")
    if spec.capabilities & (Capability.LOG_PROB | Capability.ELBO):
        lines.append("    genzoo eval RUN_DIR --split test")
    if Capability.ASSEMBLE in spec.capabilities:
        lines += ["    genzoo sample RUN_DIR --patches a.png,b.png,c.png -o whole.png",
                  "    genzoo eval RUN_DIR --split test", ""]  # fmt: skip
    elif Capability.TRANSLATE in spec.capabilities:
        lines += ["    genzoo translate RUN_DIR --split test -n 16 -o translations.png",
                  "    genzoo translate RUN_DIR --input edges.png -o out.png"]  # fmt: skip
        if "b2a" in getattr(spec.cls, "directions", ()):  # a model of two directions
            lines.append("    genzoo translate RUN_DIR --split test --direction b2a -o back.png")
        lines.append("")
    elif spec.capabilities & SCORES:
        lines += ["    genzoo score RUN_DIR --ood corrupt:flip", ""]
    elif Capability.JOINT in spec.capabilities:
        lines += ["    genzoo match digit.png --joint RUN_DIR", ""]
    else:
        lines.append("")
    lines += ["**Settings** (defaults; change any with `--set key=value`):", ""]
    lines += ["| setting | default |", "|---|---|"]
    for f in dataclasses.fields(spec.cls.Config):
        value = getattr(spec.default_config(), f.name)
        lines.append(f"| `{f.name}` | `{value}` |")
    lines += ["", "**Our numbers beside the paper's** (rows of [docs/results.md](../results.md), "
              "where each has its command and protocol):", ""]  # fmt: skip
    rows = result_rows(results_md, entry.names)
    if not rows:
        lines.append("No measured result yet.")
    last = None
    for section, header, row in rows:
        if (section, header) != last:
            if last is not None:
                lines.append("")
            ncols = header.count("|") - 1
            lines += [f"From [{section}](../results.md#{_anchor(section)}):", "", header,
                      "|" + "---|" * ncols]  # fmt: skip
            last = (section, header)
        lines.append(row)
    lines.append("")
    return "\n".join(lines)


def index(specs) -> str:
    lines = ["# Models", "", "Generated by `docs/make_model_pages.py` from the registry and "
             "docs/results.md.", "", "| model | family | density | description |",
             "|---|---|---|---|"]  # fmt: skip
    for spec in specs:
        lines.append(f"| [{spec.name}]({spec.name}.md) | {spec.family} | {spec.density} "
                     f"| {spec.description} |")  # fmt: skip
    return "\n".join([*lines, ""])


def pages(results_md: str) -> dict[str, str]:
    """File name -> content, for every registered model and the index."""
    from genzoo.apps.bench import bench_models
    from genzoo.models import get_model

    specs = [get_model(name) for name in bench_models()]  # in family order
    missing = [s.name for s in specs if s.name not in ENTRIES]
    if missing:
        raise KeyError(f"no docs entry for {', '.join(missing)} in genzoo.apps.model_pages")
    out = {f"{s.name}.md": render(s, ENTRIES[s.name], results_md) for s in specs}
    out["README.md"] = index(specs)
    return out


def write_pages(results: Path, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in pages(results.read_text()).items():
        (out_dir / name).write_text(text)
        written.append(out_dir / name)
    return written
