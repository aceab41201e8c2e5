"""CLIP's ViT image tower and text transformer, built from an open_clip weights file.

A. Radford, J. W. Kim, C. Hallacy, A. Ramesh, G. Goh, S. Agarwal, G. Sastry, A. Askell,
P. Mishkin, J. Clark, G. Krueger and I. Sutskever, "Learning Transferable Visual Models
From Natural Language Supervision", ICML 2021 (arXiv:2103.00020), Sec. 2.4 and 2.5; the
weights in open_clip's naming (Ilharco et al. 2021, github.com/mlfoundations/open_clip).

Image tower, a Vision Transformer (Dosovitskiy et al. 2021; CLIP adds ln_pre):

    z_0 = [x_class ; x_p¹ E ; … ; x_pᴺ E] + E_pos      patches of P×P by conv1, N = grid²
    z_l = z'_l + MLP(LN(z'_l)),  z'_l = z_{l−1} + MSA(LN(z_{l−1}))     l = 1 … L
    u   = normalise(LN_post(z_L⁰) W_i)                 W_i = visual.proj (width, d)

Text tower, a causal transformer of the same blocks over byte-level BPE tokens:

    h_0 = token_embedding(t) + E_pos                   t = [SOT] BPE(text) [EOT] 0 … 0
    v   = normalise(LN_final(h_L)[EOT] W_t)            the EOT position: argmax of t,
                                                       as EOT has the largest id
MLP(h) = c_proj(act(c_fc(h))), act = QuickGELU, x·σ(1.702x) (OpenAI's weights), or GELU
(most of LAION's open_clip weights); the weights do not say which, so the file's metadata
"act" or the caller does. Heads: width / 64 (as open_clip's configs for ViT-B and ViT-L),
or the metadata "heads" and "vision_heads" (a small stand-in file's; also ViT-g/14 and
ViT-bigG/14, whose image heads are 88 and 104 wide: their width / 64 divides evenly, so
without the metadata they would load with the wrong number of heads, unnoticed).

The architecture is read from the tensors' shapes, as open_clip builds a model from a
state dict: patch P = conv1's kernel, grid = √(rows of E_pos − 1), image size = P·grid,
layers = the number of resblocks, MLP width = c_fc's rows, context length = the text E_pos'
rows, d = text_projection's columns. The file is read by safetensors without unpickling.

Images: x (B, C, H, W) in [−1, 1] (a GAN's) -> [0, 1] -> grey repeated to RGB -> the
shorter side resized (bicubic, antialiased) to the image size and centre-cropped (CLIP's
preprocessing) -> (x − mean) / std with CLIP's per-channel statistics -> the ViT.

Tokens (the tokenizer of CLIP's code): the text is whitespace-cleaned and lower-cased,
split by CLIP's pattern (contractions, runs of letters, single digits, runs of other
non-space characters), each piece's UTF-8 bytes mapped to printable characters, then BPE
merges applied by rank with "</w>" marking a word's end. The vocabulary is not in the
weights: it is open_clip's bpe_simple_vocab_16e6.txt.gz (a header line, then one merge
"a b" a line; the first 49152 − 256 − 2 merges are used): the 256 byte characters, the
same with "</w>", each merge joined, then <|startoftext|> and <|endoftext|>.

Deviations from CLIP's code:
- Only the ViT image tower; the ModifiedResNet tower (RN50 …) is not implemented.
- Text is not fixed by ftfy (not installed here) before tokenising; HTML entities are
  unescaped as there. Mojibake that ftfy would repair tokenises differently.
- A prompt longer than the context length is refused (as CLIP's `tokenize`), not cut off
  (open_clip's default).
- Images are resized in floating point from a GAN's output; CLIP's pipeline rounds to
  8-bit pixels (PIL) first.
"""

from __future__ import annotations

import gzip
import html
import math
from collections import OrderedDict
from dataclasses import asdict, dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core.capabilities import Capability
from genzoo.core.errors import GenzooError
from genzoo.data.text import INSTALL, nonempty_prompt

SOT, EOT = "<|startoftext|>", "<|endoftext|>"
N_MERGES = 49152 - 256 - 2  # the merges CLIP's tokenizer uses from its vocabulary file
MEAN = (0.48145466, 0.4578275, 0.40821073)  # CLIP's image statistics (its preprocessing)
STD = (0.26862954, 0.26130258, 0.27577711)
PATTERN = (r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|"""
           r"""[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""")  # fmt: skip
ACTS = ("quickgelu", "gelu")


@dataclass
class ClipConfig:
    embed_dim: int = 512  # d; Table 20 (ViT-B/32)
    image_size: int = 224  # Sec. 2.5
    patch_size: int = 32  # ViT-B/32
    vision_width: int = 768  # Table 20
    vision_layers: int = 12  # Table 20
    vision_heads: int = 12  # Table 20: width / 64
    vision_mlp: int = 3072  # 4 · width (ViT)
    context_length: int = 77  # Sec. 2.4: 76 tokens and EOT
    vocab_size: int = 49408  # Sec. 2.4: a 49,152-token BPE vocabulary and 256 bytes
    text_width: int = 512  # Sec. 2.4 / Table 20
    text_layers: int = 12  # Sec. 2.4
    text_heads: int = 8  # Sec. 2.4
    text_mlp: int = 2048  # 4 · width
    act: Literal["quickgelu", "gelu"] = "quickgelu"  # OpenAI's weights; not in the file


# ---- blocks ----


class QuickGELU(nn.Module):
    """x · σ(1.702 x): the GELU approximation OpenAI's CLIP was trained with."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """x + MSA(LN(x)), then x + MLP(LN(x)); open_clip's names (ln_1, attn, ln_2, mlp)."""

    def __init__(self, width: int, heads: int, hidden: int, act: str):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict(
            c_fc=nn.Linear(width, hidden),
            gelu=QuickGELU() if act == "quickgelu" else nn.GELU(),
            c_proj=nn.Linear(hidden, width),
        ))  # fmt: skip

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:  # x (B, T, width)
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, hidden: int, act: str):
        super().__init__()
        self.resblocks = nn.ModuleList(
            ResidualAttentionBlock(width, heads, hidden, act) for _ in range(layers)
        )

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        for block in self.resblocks:
            x = block(x, mask)
        return x


class VisionTransformer(nn.Module):
    """Normalised-pixel images (B, 3, S, S) -> LN_post(z_L⁰) W_i (B, d)."""

    def __init__(self, c: ClipConfig):
        super().__init__()
        w, grid = c.vision_width, c.image_size // c.patch_size
        self.conv1 = nn.Conv2d(3, w, c.patch_size, stride=c.patch_size, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(w) * w**-0.5)
        self.positional_embedding = nn.Parameter(torch.randn(grid * grid + 1, w) * w**-0.5)
        self.ln_pre = nn.LayerNorm(w)
        self.transformer = Transformer(w, c.vision_layers, c.vision_heads, c.vision_mlp, c.act)
        self.ln_post = nn.LayerNorm(w)
        self.proj = nn.Parameter(torch.randn(w, c.embed_dim) * w**-0.5)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x).flatten(2).transpose(1, 2)  # (B, grid², width): x_p E
        cls = self.class_embedding.expand(len(x), 1, -1)
        z = torch.cat([cls, x], dim=1) + self.positional_embedding  # z_0 (B, N + 1, width)
        z = self.transformer(self.ln_pre(z))
        return self.ln_post(z[:, 0]) @ self.proj


# ---- the model ----


class CLIP(nn.Module):
    """u = embed_images(x) and v = embed_texts(t), unit vectors in one d-dimensional space;
    the text tower's parameters sit at the top level, as in open_clip's state dict."""

    capabilities = Capability.JOINT

    def __init__(self, config: ClipConfig, tokenizer: Tokenizer | None = None):
        super().__init__()
        c = self.config = config
        self.tokenizer = tokenizer
        self.visual = VisionTransformer(c)
        self.token_embedding = nn.Embedding(c.vocab_size, c.text_width)
        self.positional_embedding = nn.Parameter(torch.randn(c.context_length, c.text_width)
                                                 * 0.01)  # fmt: skip
        self.transformer = Transformer(c.text_width, c.text_layers, c.text_heads, c.text_mlp,
                                       c.act)  # fmt: skip
        self.ln_final = nn.LayerNorm(c.text_width)
        self.text_projection = nn.Parameter(torch.randn(c.text_width, c.embed_dim)
                                            * c.text_width**-0.5)  # fmt: skip
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))  # Sec. 2.5
        causal = torch.full((c.context_length, c.context_length), float("-inf")).triu(1)
        self.register_buffer("causal_mask", causal, persistent=False)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, x: Tensor) -> Tensor:
        """x (B, C, H, W) in [−1, 1], C = 1 or 3 -> normalised pixels (B, 3, S, S)."""
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise GenzooError(f"images of shape {tuple(x.shape)}; CLIP embeds (B, 1 or 3, H, "
                              "W) (grey is repeated to RGB)")  # fmt: skip
        x = ((x.to(self.mean) + 1) / 2).expand(-1, 3, -1, -1)  # [0, 1], RGB
        S, (H, W) = self.config.image_size, x.shape[-2:]
        if (H, W) != (S, S):
            scale = S / min(H, W)  # the shorter side to S, then the centre S×S
            size = (max(S, round(H * scale)), max(S, round(W * scale)))
            x = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)
            top, left = (size[0] - S) // 2, (size[1] - S) // 2
            x = x[:, :, top : top + S, left : left + S]
        return (x - self.mean) / self.std

    def encode_image(self, pixels: Tensor) -> Tensor:
        """The image tower on normalised pixels (B, 3, S, S): LN_post(z_L⁰) W_i (B, d)."""
        return self.visual(pixels.to(self.mean))

    def encode_text(self, t: Tensor) -> Tensor:
        """The text tower on token ids (B, context_length): LN_final(h_L)[EOT] W_t (B, d)."""
        t = t.to(self.mean.device)
        h = self.token_embedding(t) + self.positional_embedding  # h_0 (B, T, width)
        h = self.ln_final(self.transformer(h, self.causal_mask))
        end = t.argmax(dim=1)  # EOT: the largest id
        return h[torch.arange(len(t), device=t.device), end] @ self.text_projection

    def embed_images(self, x: Tensor) -> Tensor:
        """u = normalise(image tower(preprocess(x))), (B, d), for x in [−1, 1]."""
        return F.normalize(self.encode_image(self.preprocess(x)), dim=1)

    def embed_texts(self, t: Tensor) -> Tensor:
        """v = normalise(text tower(t)), (B, d), for token ids t (B, context_length)."""
        return F.normalize(self.encode_text(t), dim=1)

    def check_prompt(self, text: str) -> str:
        """`text` stripped, or a one-line GenzooError if it is empty or too long."""
        self.tokenize([text])
        return text.strip()

    def embed_prompts(self, texts: list[str]) -> Tensor:
        """v of each prompt, (B, d): tokenised (module docstring), then embed_texts."""
        return self.embed_texts(self.tokenize(texts))

    def tokenize(self, texts: list[str]) -> Tensor:
        if self.tokenizer is None:
            raise GenzooError("this CLIP has no vocabulary: give open_clip's "
                              "bpe_simple_vocab_16e6.txt.gz")  # fmt: skip
        return self.tokenizer.tokenize(texts, self.config.context_length)


# ---- the tokenizer ----


@cache
def byte_characters() -> list[str]:
    """A printable character for each byte 0 … 255: the printable Latin-1 bytes stand for
    themselves, the rest are shifted past 255 in order (GPT-2's and CLIP's mapping)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]  # fmt: skip
    shifted = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(shifted)) for b in range(256)]


class Tokenizer:
    """CLIP's byte-level BPE (module docstring) from its list of merges."""

    def __init__(self, merges: list[tuple[str, str]]):
        try:
            import regex  # \p{L} and \p{N}
        except ImportError:
            raise GenzooError(f"CLIP's tokenizer needs the regex package: {INSTALL}") from None

        byte_chars = byte_characters()
        vocab = [*byte_chars, *(b + "</w>" for b in byte_chars), *("".join(m) for m in merges),
                 SOT, EOT]  # fmt: skip
        self.ids = {token: i for i, token in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.byte_chars = byte_chars
        self.pattern = regex.compile(PATTERN, regex.IGNORECASE)
        self.words: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def bpe(self, word: str) -> list[str]:
        """The word's byte characters merged pair by pair, the lowest-ranked pair first."""
        parts = [*word[:-1], word[-1] + "</w>"]
        while len(parts) > 1:
            pair = min(pairwise(parts), key=lambda p: self.ranks.get(p, math.inf))
            if pair not in self.ranks:
                break
            merged, i = [], 0
            while i < len(parts):  # every occurrence, left to right
                if tuple(parts[i : i + 2]) == pair:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return parts

    def encode(self, text: str) -> list[int]:
        """BPE ids of `text`, without SOT and EOT."""
        text = " ".join(html.unescape(html.unescape(text)).split()).lower()
        ids = []
        for piece in self.pattern.findall(text):
            if piece not in self.words:
                word = "".join(self.byte_chars[b] for b in piece.encode("utf-8"))
                self.words[piece] = [self.ids[p] for p in self.bpe(word)]
            ids += self.words[piece]
        return ids

    def tokenize(self, texts: list[str], context_length: int) -> Tensor:
        """(len(texts), context_length) int64: [SOT] ids [EOT], then 0s; a one-line
        GenzooError for an empty text or one over the context length."""
        t = torch.zeros(len(texts), context_length, dtype=torch.long)
        for row, text in enumerate(texts):
            nonempty_prompt(text)
            ids = [self.ids[SOT], *self.encode(text), self.ids[EOT]]
            if len(ids) > context_length:
                raise GenzooError(f"the text prompt is {len(ids)} tokens long with "
                                  f"{SOT} and {EOT}; this CLIP reads at most "
                                  f"{context_length}: shorten it")  # fmt: skip
            t[row, : len(ids)] = torch.tensor(ids)
        return t


# ---- from open_clip's state dict ----


def architecture(sd: dict[str, Tensor], meta: dict[str, str], act: str) -> ClipConfig:
    """The ViT-CLIP that open_clip's state dict `sd` is the weights of, read from its shapes
    (module docstring); the heads from `meta` where it names them, else width / 64."""

    def shape(key: str, dims: int) -> tuple[int, ...]:
        if key not in sd or sd[key].dim() != dims:
            raise GenzooError(f"no {key} of {dims} dimensions: not the weights of an "
                              "open_clip ViT-CLIP")  # fmt: skip
        return tuple(sd[key].shape)

    def depth(prefix: str) -> tuple[int, int]:
        layers = len({k.split(".")[prefix.count(".")] for k in sd
                      if k.startswith(prefix) and k.endswith(".attn.in_proj_weight")})  # fmt: skip
        return layers, shape(f"{prefix}0.mlp.c_fc.weight", 2)[0]

    def heads(key: str, width: int) -> int:
        h = int(meta.get(key, width // 64))
        if h < 1 or width % h:
            raise GenzooError(f"width {width} does not split into {h} attention heads of "
                              f"64: give the heads in the file's metadata {key!r}")  # fmt: skip
        return h

    width, channels, P, P_w = shape("visual.conv1.weight", 4)
    n_pos = shape("visual.positional_embedding", 2)[0]
    grid = math.isqrt(n_pos - 1)
    if channels != 3 or P_w != P or grid * grid != n_pos - 1:
        raise GenzooError(f"visual.conv1.weight {width}x{channels}x{P}x{P_w} and {n_pos} "
                          "positions: not square RGB patches on a square grid")  # fmt: skip
    vocab_size, text_width = shape("token_embedding.weight", 2)
    context_length = shape("positional_embedding", 2)[0]
    embed_dim = shape("text_projection", 2)[1]
    shape("logit_scale", 0)
    vision_layers, vision_mlp = depth("visual.transformer.resblocks.")
    text_layers, text_mlp = depth("transformer.resblocks.")
    return ClipConfig(embed_dim, P * grid, P, width, vision_layers,
                      heads("vision_heads", width), vision_mlp, context_length, vocab_size,
                      text_width, text_layers, heads("heads", text_width), text_mlp,
                      act)  # fmt: skip


def from_open_clip(sd: dict[str, Tensor], meta: dict[str, str], merges: list[tuple[str, str]],
                   act: str | None = None) -> CLIP:  # fmt: skip
    """A CLIP with open_clip's state dict `sd` loaded (float32), its architecture read from
    the shapes, its activation from meta["act"] else `act` else QuickGELU, and the tokenizer
    of `merges`; one-line GenzooErrors for what does not fit."""
    if any(k.startswith("visual.layer1.") for k in sd):
        raise GenzooError("it holds open_clip's ModifiedResNet image tower (RN50 …), which "
                          "genzoo does not implement: give a ViT-CLIP's weights")  # fmt: skip
    if "act" in meta and act is not None and meta["act"] != act:
        raise GenzooError(f"its metadata says act={meta['act']}; --clip-act {act} disagrees")
    act = meta.get("act") or act or "quickgelu"
    if act not in ACTS:
        raise GenzooError(f"activation {act!r}: CLIP's is one of {', '.join(ACTS)}")
    tokenizer = Tokenizer(merges)
    model = CLIP(architecture(sd, meta, act), tokenizer)
    if len(tokenizer) != model.config.vocab_size:
        raise GenzooError(f"the vocabulary has {len(tokenizer)} tokens and token_embedding "
                          f"{model.config.vocab_size} rows: give the vocabulary these "
                          "weights were trained with")  # fmt: skip
    leftovers = {"input_resolution", "context_length", "vocab_size"}  # OpenAI's JIT files
    sd = {k: v.float() for k, v in sd.items() if k not in leftovers}
    expected = model.state_dict()
    wrong = sorted(set(expected) ^ set(sd)) or [
        k for k in expected if sd[k].shape != expected[k].shape
    ]
    if wrong:
        raise GenzooError(f"{wrong[0]} is missing, extra or of the wrong shape for CLIP's "
                          "ViT and text transformer (open_clip variants with other blocks "
                          "are not implemented)")  # fmt: skip
    model.load_state_dict(sd)
    return model.eval()


# ---- files: the vocabulary, and a stand-in weights file ----


def read_merges(path: str | Path) -> list[tuple[str, str]]:
    """The first N_MERGES merges of a vocabulary file in the format of open_clip's
    bpe_simple_vocab_16e6.txt.gz (gzipped or not): a header line, then "a b" a line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise GenzooError(f"--clip-vocab {path}: not readable ({e})") from None
    lines = [line for line in text.split("\n")[1:] if line][:N_MERGES]
    merges = [tuple(line.split()) for line in lines]
    bad = next((n for n, m in enumerate(merges) if len(m) != 2), None)
    if bad is not None or not merges:
        where = f"line {bad + 2} is {lines[bad]!r}" if bad is not None else "no merges"
        raise GenzooError(f"--clip-vocab {path}: {where}; expected open_clip's "
                          "bpe_simple_vocab_16e6.txt.gz (a header, then 'a b' a line)")  # fmt: skip
    return merges


def write_merges(merges: list[tuple[str, str]], path: str | Path) -> Path:
    """A vocabulary file as read_merges reads it (gzipped when the name ends .gz)."""
    path = Path(path)
    text = "\n".join(["#version: 0.2", *(f"{a} {b}" for a, b in merges)]) + "\n"
    path.write_bytes(gzip.compress(text.encode()) if path.suffix == ".gz" else text.encode())
    return path


def save_clip_file(model: CLIP, path: str | Path) -> Path:
    """`model`'s weights as a safetensors file in open_clip's naming, its activation and
    heads in the metadata: the stand-in for a user's CLIP weights."""
    from safetensors.torch import save_file

    c = asdict(model.config)
    meta = {"act": c["act"], "heads": str(c["text_heads"]), "vision_heads": str(c["vision_heads"])}
    path = Path(path)
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()},
              str(path), metadata=meta)  # fmt: skip
    return path
