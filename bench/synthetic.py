"""Synthetic arXiv-like papers for the benchmarks: realistic enough vocabulary that full-text
search sees the same shape as the real archive.

"language model" lands in about 40% of papers and "reinforcement learning" in about 15% (the
common terms that make naive ranking slow); a Zipf-shaped tail of made-up words keeps the
tsvectors as varied as real abstracts; a handful of rare terms appear in about 0.05% of papers
each (the queries a GIN index answers instantly).

The tail words are real English words: the whole-word entries of the embedding model's own
tokenizer vocabulary (app/embeddings.py), most frequent first. Made-up words would each split
into several tokens and make the embedder's throughput (tokens per paper) unrealistically poor;
abstracts run to about 100-190 words, as real ones do.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import accumulate

from app.embeddings import _wordllama_dir
from app.sources.records import Author, PaperRecord

TOKENIZER = "l2_supercat_tokenizer_config.json"
# Words of bench/ingest_search.py's queries: the tail must not make them more common.
QUERY_WORDS = [
    "language", "model", "models", "reinforcement", "learning", "agents", "agent", "retrieval",
    "augmented", "generation", "graph", "neural", "network", "quantization", "speculative",
    "decoding", "flaky", "tests",
]  # fmt: skip

# (weight, categories, title phrases, abstract phrases): one research area per paper.
AREAS: list[tuple[float, list[str], list[str], list[str]]] = [
    (
        0.30,
        ["cs.CL", "cs.AI"],
        ["large language models", "language model", "LLM agents", "instruction tuning", "LLMs"],
        [
            "large language models",
            "language model",
            "prompting",
            "instruction tuning",
            "in-context learning",
            "chain-of-thought reasoning",
            "tool use",
            "LLM agents",
            "hallucination",
            "alignment",
        ],
    ),
    (
        0.12,
        ["cs.LG", "cs.AI"],
        ["reinforcement learning", "policy optimization", "RLHF", "offline RL"],
        [
            "reinforcement learning",
            "reward model",
            "policy gradient",
            "exploration",
            "Markov decision process",
            "human feedback",
            "value function",
        ],
    ),
    (
        0.10,
        ["cs.IR", "cs.CL"],
        ["retrieval-augmented generation", "dense retrieval", "RAG", "reranking"],
        [
            "retrieval-augmented generation",
            "dense retrieval",
            "vector search",
            "knowledge base",
            "question answering",
            "passage ranking",
        ],
    ),
    (
        0.12,
        ["cs.CV"],
        ["vision transformer", "diffusion models", "image segmentation", "vision-language models"],
        [
            "vision transformer",
            "diffusion model",
            "image generation",
            "object detection",
            "segmentation",
            "vision-language model",
            "video understanding",
        ],
    ),
    (
        0.12,
        ["cs.LG", "stat.ML"],
        ["graph neural networks", "optimization", "generalization"],
        [
            "graph neural network",
            "stochastic gradient descent",
            "generalization bound",
            "convex optimization",
            "neural network",
            "kernel methods",
        ],
    ),
    (
        0.08,
        ["cs.CL"],
        ["machine translation", "speech recognition", "multilingual NLP"],
        [
            "machine translation",
            "low-resource languages",
            "speech recognition",
            "tokenization",
            "multilingual",
            "named entity recognition",
        ],
    ),
    (
        0.08,
        ["cs.LG", "cs.DC"],
        ["efficient inference", "quantization", "mixture of experts"],
        [
            "quantization",
            "pruning",
            "knowledge distillation",
            "mixture of experts",
            "speculative decoding",
            "GPU kernels",
            "memory footprint",
        ],
    ),
    (
        0.06,
        ["cs.RO", "cs.AI"],
        ["robot learning", "embodied agents", "motion planning"],
        [
            "robot manipulation",
            "embodied agent",
            "sim-to-real transfer",
            "motion planning",
            "imitation learning",
        ],
    ),
]
COMMON = [
    "we",
    "propose",
    "a",
    "novel",
    "method",
    "that",
    "improves",
    "performance",
    "on",
    "several",
    "benchmarks",
    "while",
    "reducing",
    "cost",
    "our",
    "approach",
    "outperforms",
    "strong",
    "baselines",
    "experiments",
    "show",
    "results",
    "demonstrate",
    "framework",
    "model",
    "models",
    "data",
    "training",
    "evaluation",
    "analysis",
    "task",
    "tasks",
    "dataset",
    "learning",
    "method",
    "approach",
    "robust",
    "efficient",
    "scalable",
    "accuracy",
    "state-of-the-art",
    "empirical",
    "theoretical",
    "study",
    "propose",
    "introduce",
    "present",
    "significantly",
    "furthermore",
    "moreover",
]
RARE = [
    "zebrafish",
    "tokamak",
    "hyperbolic embeddings",
    "protein folding",
    "sea ice",
    "cuneiform",
    "origami",
    "exoplanet",
    "glacier",
    "beekeeping",
    "volcanic",
    "sonar",
]
FIRST = ["Ana", "Wei", "Priya", "John", "Fatima", "Luca", "Mei", "Omar", "Sofia", "Kenji"]
LAST = ["Chen", "Garcia", "Smith", "Kumar", "Rossi", "Tanaka", "Okafor", "Novak", "Kim", "Silva"]


def _tail_words(rng: random.Random, size: int = 5000) -> tuple[list[str], list[float]]:
    """Real words with Zipf weights (cumulative, so each draw is a bisect): the long tail of
    real abstracts' vocabulary. Words of the benchmark's queries and rare terms are left out, so
    their frequencies stay the ones the module docstring states."""
    vocab = json.loads((_wordllama_dir() / "tokenizers" / TOKENIZER).read_text())["model"]["vocab"]
    reserved = {w for phrase in RARE + QUERY_WORDS for w in phrase.lower().split()}
    words = [
        token[1:]
        for token, _ in sorted(vocab.items(), key=lambda item: item[1])
        if token.startswith("\u2581")
        and token[1:].isascii()
        and token[1:].isalpha()
        and token[1:].islower()
        and len(token) > 4
        and token[1:] not in reserved
    ][:size]
    return words, list(accumulate(1.0 / (rank + 1) for rank in range(len(words))))


def generate(n: int, *, seed: int = 7, now: datetime | None = None) -> Iterator[PaperRecord]:
    """`n` papers published over the last two years, newest ids last."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    tail, tail_cum = _tail_words(rng)
    area_cum = list(accumulate(a[0] for a in AREAS))
    for i in range(n):
        _, cats, title_pool, pool = rng.choices(AREAS, cum_weights=area_cum)[0]
        published = now - timedelta(days=730 * (n - i) / n, minutes=rng.randint(0, 600))
        sentences = []
        for _ in range(rng.randint(7, 11)):
            words = rng.choices(COMMON, k=rng.randint(6, 10))
            words += rng.choices(tail, cum_weights=tail_cum, k=rng.randint(4, 8))
            words.append(rng.choice(pool))
            rng.shuffle(words)
            sentences.append(" ".join(words).capitalize() + ".")
        # Cross-area mentions keep "language model" common outside the LLM area too.
        if rng.random() < 0.07:
            sentences.append("We also evaluate with a pretrained language model.")
        if rng.random() < 0.05:
            sentences.append("The policy is trained with reinforcement learning.")
        if rng.random() < 0.006:
            sentences.append(f"Applications to {rng.choice(RARE)} are discussed.")
        title_words = rng.choices(tail, cum_weights=tail_cum, k=2)
        title = (
            f"{title_words[0].capitalize()}: {rng.choice(COMMON)} {rng.choice(title_pool)} "
            f"for {rng.choice(pool)} via {title_words[1]}"
        )
        yymm = published.strftime("%y%m")
        yield PaperRecord(
            arxiv_id=f"{yymm}.{i % 100000:05d}",
            version=1,
            title=title,
            abstract=" ".join(sentences),
            authors=[
                Author(f"{rng.choice(FIRST)} {rng.choice(LAST)}") for _ in range(rng.randint(2, 6))
            ],
            categories=list(cats),
            primary_category=cats[0],
            published=published,
            updated=published,
            source="arxiv",
            source_key=cats[0],
        )
