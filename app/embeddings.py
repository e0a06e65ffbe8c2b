"""Text embeddings for semantic search, related papers and channel taste: the `Embedder` seam.

The default model is WordLlama's `l2_supercat_256`: a static token-embedding table (32,000
Llama-2 tokens x 256 dimensions, 16 MB) that ships inside the `wordllama` wheel with its
tokenizer, so nothing is downloaded at run time. A text's vector is the mean of its tokens'
rows, scaled to unit length: cosine similarity is then a dot product.

We read the bundled files ourselves instead of calling `WordLlama.load()`: that looks for the
tokenizer under `wordllama/tokenizer/` (singular), misses the bundled one and tries to download
it (../shared/REFERENCE.md), and importing `wordllama` configures the root logger at INFO. The
pooling below is WordLlama's own (`WordLlamaInference.embed`: average pooling, then L2 norm),
computed without padding: each text's token rows are summed on their own. (Gathering a whole
batch's rows into one matrix for `np.add.reduceat` was 15x slower: a batch of 256 abstracts is
50,000 rows, 50 MB, read out of cache twice; one text's rows stay in cache.)

`EMBEDDING_MODEL` picks the model: the bundled name below, or `file:DIR` for any static model
saved the same way (`DIR/weights.safetensors` holding `embedding.weight`, `DIR/tokenizer.json`).
Wider models are cut to their first DIM columns (WordLlama's are Matryoshka-trained, so a prefix
is a smaller model of its own). Each vector is stored with the model's `name` (which includes a
hash of its weights), so a changed model is noticed and re-embedded (`paperboy embed`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from app.errors import ConfigError

# The stored vectors' width: `vector(256)` in migrations/versions/0005_embeddings.py.
DIM = 256
DEFAULT_MODEL = "wordllama-l2-supercat-256"
# Texts per tokenizer call: large enough for the Rust tokenizer to use every core, small enough
# that a batch's token matrix (tokens x 256 float32) stays a few MB.
BATCH = 256
# Characters of a paper's text that are embedded. A static model's mean over 2,000 characters
# (title plus the start of the abstract, about 450 tokens) is as good as over the whole abstract.
MAX_CHARS = 2_000

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into unit vectors of DIM float32s; `name` says which model made them."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit row per text, in order (an empty text gets a zero row)."""
        ...


def paper_text(title: str | None, abstract: str | None) -> str:
    """What a paper's vector is made of: its title, then its abstract (cut to MAX_CHARS)."""
    return f"{title or ''}\n{abstract or ''}"[:MAX_CHARS]


@dataclass
class StaticEmbedder:
    """A static token-embedding model: mean of the token rows, unit length."""

    name: str
    table: Vectors  # (vocabulary, DIM), float32, C-contiguous
    tokenizer: object  # tokenizers.Tokenizer (typed loosely: the package ships no stubs)
    dim: int = DIM

    def __post_init__(self) -> None:
        # tokenizers.Tokenizer is not safe to use from several threads at once (its padding
        # and truncation settings are shared state); Slack lanes and the worker may embed
        # queries concurrently.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            chunk = [t[:MAX_CHARS] for t in texts[start : start + BATCH]]
            with self._lock:
                encodings = self.tokenizer.encode_batch(chunk, add_special_tokens=False)  # type: ignore[attr-defined]
            for row, encoding in enumerate(encodings, start):
                ids = np.asarray(encoding.ids, dtype=np.int64)
                if not len(ids):
                    continue  # an empty text keeps its zero row
                np.clip(ids, 0, self.table.shape[0] - 1, out=ids)
                total = self.table[ids].sum(axis=0)
                out[row] = total / max(float(np.linalg.norm(total)), 1e-12)
        return out


def build_embedder(model: str = DEFAULT_MODEL) -> StaticEmbedder:
    """The embedder `EMBEDDING_MODEL` names. ConfigError, one line, when it can't be loaded."""
    if model == DEFAULT_MODEL:
        root = _wordllama_dir()
        return _load(
            DEFAULT_MODEL,
            root / "weights" / "l2_supercat_256.safetensors",
            root / "tokenizers" / "l2_supercat_tokenizer_config.json",
        )
    if model.startswith("file:"):
        folder = Path(model.removeprefix("file:")).expanduser()
        return _load(
            f"file:{folder.name}", folder / "weights.safetensors", folder / "tokenizer.json"
        )
    raise ConfigError(
        f"EMBEDDING_MODEL={model!r} is not a model Paperboy knows "
        f"(use {DEFAULT_MODEL} or file:DIR with weights.safetensors and tokenizer.json)"
    )


def _wordllama_dir() -> Path:
    # find_spec locates the package without importing it (importing wordllama configures
    # logging and loads its compiled helpers, none of which we use).
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the wordllama package is not installed (run `make install`)")
    return Path(next(iter(spec.submodule_search_locations)))


def _load(label: str, weights: Path, tokenizer_file: Path) -> StaticEmbedder:
    from safetensors import safe_open  # lazy: only processes that embed pay for the import
    from tokenizers import Tokenizer

    for path in (weights, tokenizer_file):
        if not path.is_file():
            raise ConfigError(f"embedding model file missing: {path}")
    try:
        with safe_open(str(weights), framework="np") as f:
            table = f.get_tensor("embedding.weight")
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
    except Exception as exc:  # noqa: BLE001 - any unreadable model file is a setup error: one line
        raise ConfigError(f"cannot load embedding model {label}: {exc}") from None
    if table.ndim != 2 or table.shape[1] < DIM:
        raise ConfigError(f"embedding model {label} has shape {table.shape}; {DIM} columns needed")
    tokenizer.no_padding()
    tokenizer.no_truncation()
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    table = np.ascontiguousarray(table[:, :DIM], dtype=np.float32)
    return StaticEmbedder(name=f"{label}@{digest}", table=table, tokenizer=tokenizer)
