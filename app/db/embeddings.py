"""Paper vectors in `paper_embeddings`: write them for changed papers, find the ones missing,
and look up nearest neighbours.

Whether a paper needs a (new) vector is decided in SQL from the paper's own text, so ingest,
backfill, on-demand fetches and `paperboy embed` agree: no row, another model, or a text whose
md5 differs from the one embedded. PAPER_TEXT_SQL is app.embeddings.paper_text in SQL: `left`
counts characters as Python slicing does, and `md5` hashes the UTF-8 bytes as hashlib does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import ColumnElement, Row, Select, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db.models import Paper, PaperEmbedding
from app.embeddings import MAX_CHARS, Embedder, paper_text

PAPER_TEXT_SQL = func.left(
    func.coalesce(Paper.title, "") + literal_column("E'\\n'") + func.coalesce(Paper.abstract, ""),
    MAX_CHARS,
)


@dataclass(frozen=True, slots=True)
class Neighbour:
    paper_id: int
    similarity: float  # cosine similarity, 1 = same direction


def stale(model: str) -> ColumnElement[bool]:
    """True for a paper (outer-joined to its embedding) whose vector is missing or out of date."""
    return or_(
        PaperEmbedding.paper_id.is_(None),
        PaperEmbedding.model != model,
        PaperEmbedding.text_hash != func.md5(PAPER_TEXT_SQL),
    )


def _stale_papers(model: str) -> Select[int, str, str]:  # id, title, abstract
    return (
        select(Paper.id, Paper.title, Paper.abstract)
        .outerjoin(PaperEmbedding, PaperEmbedding.paper_id == Paper.id)
        .where(stale(model))
    )


def embed_papers(session: Session, *, embedder: Embedder, paper_ids: Iterable[int]) -> int:
    """Embed those of `paper_ids` whose vector is missing or stale; returns how many. The caller
    commits (ingest does it in the chunk's own transaction)."""
    ids = sorted(set(paper_ids))
    if not ids:
        return 0
    rows = session.execute(_stale_papers(embedder.name).where(Paper.id.in_(ids))).all()
    return _write(session, embedder=embedder, rows=rows)


def embed_pending(
    session: Session, *, embedder: Embedder, after_id: int, limit: int
) -> tuple[int, int]:
    """Embed the next `limit` stale papers with ids above `after_id` (for `paperboy embed`);
    returns (the last id looked at or -1 when none were left, how many were embedded)."""
    rows = session.execute(
        _stale_papers(embedder.name).where(Paper.id > after_id).order_by(Paper.id).limit(limit)
    ).all()
    if not rows:
        return -1, 0
    return int(rows[-1][0]), _write(session, embedder=embedder, rows=rows)


def count_stale(session: Session, *, model: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Paper)
            .outerjoin(PaperEmbedding, PaperEmbedding.paper_id == Paper.id)
            .where(stale(model))
        )
        or 0
    )


def nearest(
    session: Session,
    *,
    vector: np.ndarray,
    model: str,
    limit: int,
    exclude: Sequence[int] = (),
) -> list[Neighbour]:
    """The papers whose vectors are closest to `vector` (cosine), best first, through the HNSW
    index. Vectors of another model are not comparable and are left out."""
    distance = PaperEmbedding.embedding.cosine_distance(vector)
    query = (
        select(PaperEmbedding.paper_id, distance.label("distance"))
        .where(PaperEmbedding.model == model)
        .order_by(distance)
        .limit(limit + len(exclude))
    )
    rows = session.execute(query).all()
    skip = set(exclude)
    hits = [Neighbour(pid, 1.0 - float(d)) for pid, d in rows if pid not in skip]
    return hits[:limit]


def _write(session: Session, *, embedder: Embedder, rows: Sequence[Row[int, str, str]]) -> int:
    if not rows:
        return 0
    texts = [paper_text(title, abstract) for _, title, abstract in rows]
    vectors = embedder.embed(texts)
    values = [
        {
            "paper_id": pid,
            "model": embedder.name,
            "text_hash": hashlib.md5(text.encode(), usedforsecurity=False).hexdigest(),
            "embedding": vector,
        }
        for (pid, _, _), text, vector in zip(rows, texts, vectors, strict=True)
    ]
    stmt = insert(PaperEmbedding)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[PaperEmbedding.paper_id],
            set_={
                "model": stmt.excluded.model,
                "text_hash": stmt.excluded.text_hash,
                "embedding": stmt.excluded.embedding,
                "embedded_at": func.now(),
            },
        ),
        values,
    )
    return len(values)
