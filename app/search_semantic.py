"""The semantic half of search: the papers whose title + abstract vectors (app/embeddings.py,
stored in `paper_embeddings`) are nearest the query's, through the HNSW index (and an exact scan
of the vectors not yet in it: app/db/embeddings.py `nearest_first`).

Only vectors of the embedder's own model are compared (another model's are not comparable).
The query's syntax keeps its meaning here too: its exclusions and quoted phrases filter the
semantic hits in SQL, against the same tsvector the lexical half reads (`filter_node`), so a
paper that mentions an excluded word is dropped however close its vector. A semantic hit must
be at least SIMILARITY_FLOOR similar (docs/ranking.md says why): without a floor, the nearest
papers of a query nothing matches would be unrelated ones.

The HNSW index returns at most `hnsw.ef_search` rows, so it is raised to the depth asked for,
and iterative scans are on: when filters drop index hits, pgvector reads further instead of
returning fewer rows (bounded by `hnsw.max_scan_tuples`). A filter that keeps few papers (a
recent `since`, a rare phrase) is better answered without the index; PostgreSQL picks that plan
itself from its statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Float, func, literal, select
from sqlalchemy.orm import Session

from app.db.embeddings import nearest_first
from app.db.models import Paper, PaperEmbedding
from app.search_lexical import Scored, recency
from app.search_query import AllOf, AnyOf, Node, Not, Term, to_tsquery

# Cosine similarity a semantic-only hit needs (docs/ranking.md, "Hybrid search"): a topic's
# papers are pushed to a channel, so its floor keeps out all but close matches; a search is a
# ranked list someone is reading, where a looser floor finds more paraphrases (bench/relevance.py).
SIMILARITY_FLOOR = 0.35
SEARCH_SIMILARITY_FLOOR = 0.25
# pgvector's default ef_search; deeper lists raise it (it caps the rows an HNSW scan returns).
EF_SEARCH_MIN = 40
# Index tuples an iterative scan may read when filters drop hits (pgvector's default: 20,000):
# past this, a heavily filtered query returns what it found rather than read on for long.
MAX_SCAN_TUPLES = 10_000


def query_text(node: Node) -> str:
    """The words a query asks for, as text to embed: every term outside an exclusion, in order
    (an acronym's long forms included: they say what it means)."""
    words: list[str] = []

    def walk(n: Node) -> None:
        if isinstance(n, Term):
            if n.text not in words:
                words.append(n.text)
        elif isinstance(n, AnyOf | AllOf):
            for part in n.parts:
                walk(part)
        # Not: excluded words say what the user does not want; embedding them would pull
        # the vector toward exactly those papers.

    walk(node)
    return " ".join(words)


def filter_node(node: Node) -> Node | None:
    """What every semantic hit must satisfy: the query's exclusions and quoted terms, where the
    query requires them (an OR needs only one of its branches' requirements, and a branch with
    none makes the whole OR free). None: no requirement."""
    if isinstance(node, Term):
        return node if node.quoted else None
    if isinstance(node, Not):
        return node
    parts = [filter_node(p) for p in node.parts]
    if isinstance(node, AnyOf):
        if any(p is None for p in parts):
            return None
        return AnyOf(tuple(p for p in parts if p is not None))
    kept = tuple(p for p in parts if p is not None)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else AllOf(kept)


def semantic_score(similarity: ColumnElement[Any], published: Any) -> ColumnElement[float]:
    """Cosine similarity scaled by the same recency factor as the text score."""
    return (similarity * recency(published)).cast(Float)


def _filters(
    node: Node, extra: Sequence[ColumnElement[bool]], model: str
) -> list[ColumnElement[bool]]:
    required = filter_node(node)
    return [
        PaperEmbedding.model == model,
        Paper.arxiv_id.is_not(None),  # hits are addressed by arXiv id, as in the lexical half
        *extra,
        *([Paper.search_vector.bool_op("@@")(to_tsquery(required))] if required else []),
    ]


def index_settings(depth: int) -> list[ColumnElement[Any]]:
    """The HNSW scan's settings for this transaction (app.search_lexical.prepare sends them
    along with its own, in one round trip); semantic_ranked needs them first."""
    return [
        func.set_config("hnsw.ef_search", str(max(EF_SEARCH_MIN, depth)), True),
        func.set_config("hnsw.iterative_scan", "relaxed_order", True),
        func.set_config("hnsw.max_scan_tuples", str(MAX_SCAN_TUPLES), True),
    ]


def semantic_ranked(
    session: Session,
    *,
    vector: np.ndarray,
    model: str,
    node: Node,
    extra: Sequence[ColumnElement[bool]],
    since: datetime | None,
    depth: int,
    floor: float = SIMILARITY_FLOOR,
) -> tuple[list[Scored], bool]:
    """The best `depth` semantic hits above the floor, best first (similarity x recency), and
    whether any vector of `model` passed the filters at all (False: the store is not embedded
    yet for this model, or nothing embedded is left by the filters). `index_settings(depth)`
    must have been applied in this transaction."""
    distance = PaperEmbedding.embedding.cosine_distance(vector)
    query = (
        select(PaperEmbedding.paper_id, distance.label("distance"), Paper.published)
        .join(Paper, Paper.id == PaperEmbedding.paper_id)
        .where(
            *_filters(node, extra, model),
            *([Paper.published >= since] if since is not None else []),
        )
    )
    near = (
        nearest_first(query, distance=distance, depth=depth)
        # Materialized: the index scan runs as written, and the relaxed order of an iterative
        # scan is put right by the sort below.
        .cte("near")
        .prefix_with("MATERIALIZED")
    )
    similarity = literal(1.0) - near.c.distance
    score = semantic_score(similarity, near.c.published)
    rows = session.execute(
        select(near.c.paper_id, similarity, score).order_by(
            score.desc(), near.c.published.desc().nulls_last(), near.c.paper_id
        )
    ).all()
    hits = [Scored(int(pid), float(s)) for pid, sim, s in rows if sim >= floor]
    return hits, bool(rows)


def semantic_scores(
    session: Session,
    *,
    vector: np.ndarray,
    model: str,
    node: Node,
    extra: Sequence[ColumnElement[bool]],
    arxiv_ids: list[str],
) -> dict[str, tuple[int, float]]:
    """{arxiv_id: (paper id, semantic score)} of those of the given papers above the floor."""
    similarity = literal(1.0) - PaperEmbedding.embedding.cosine_distance(vector)
    stmt = (
        select(Paper.arxiv_id, Paper.id, similarity, semantic_score(similarity, Paper.published))
        .join(PaperEmbedding, PaperEmbedding.paper_id == Paper.id)
        .where(Paper.arxiv_id.in_(arxiv_ids), *_filters(node, extra, model))
    )
    return {
        a: (int(pid), float(s))
        for a, pid, sim, s in session.execute(stmt)
        if a and sim is not None and sim >= SIMILARITY_FLOOR
    }
