"""Paper vectors in `paper_embeddings`: write them for changed papers, find the ones missing,
add them to the HNSW index, and look up nearest neighbours.

Whether a paper needs a (new) vector is decided in SQL from the paper's own text, so ingest,
backfill, on-demand fetches and `paperboy embed` agree: no row, another model, or a text whose
md5 differs from the one embedded. PAPER_TEXT_SQL is app.embeddings.paper_text in SQL: `left`
counts characters as Python slicing does, and `md5` hashes the UTF-8 bytes as hashlib does.

Vectors are written unindexed (`indexed` false: outside the partial HNSW index) and added to the
index later by `index_backlog` (the scheduler's `index` job, `paperboy embed`, `paperboy
backfill`), so storing a paper never waits for HNSW's graph inserts. `nearest_first` is how every
nearest-neighbour query reads both: the index for the indexed rows, an exact scan for the backlog,
merged by distance. They are sent as binary `vector` values (`_register`), not the 3 KB of text
per vector that pgvector's SQLAlchemy type writes: formatting that text cost as much as
computing the vector.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from psycopg import Connection, ProgrammingError
from psycopg.adapt import Dumper, PyFormat
from psycopg.pq import Format
from psycopg.types import TypeInfo
from sqlalchemy import ColumnElement, Row, Select, func, literal_column, or_, select, union_all
from sqlalchemy.orm import Session

from app.db.models import Paper, PaperEmbedding
from app.db.paper_sql import execute
from app.embeddings import MAX_CHARS, Embedder, paper_text

PAPER_TEXT_SQL = func.left(
    func.coalesce(Paper.title, "") + literal_column("E'\\n'") + func.coalesce(Paper.abstract, ""),
    MAX_CHARS,
)


VECTORS_SQL = (
    "INSERT INTO paper_embeddings (paper_id, model, text_hash, embedding) "
    "SELECT * FROM unnest(CAST(%(paper_id)b AS bigint[]), CAST(%(model)b AS text[]), "
    "CAST(%(text_hash)b AS text[]), CAST(%(embedding)b AS vector[])) "
    "ON CONFLICT (paper_id) DO UPDATE SET model = EXCLUDED.model, "
    "text_hash = EXCLUDED.text_hash, embedding = EXCLUDED.embedding, embedded_at = now(), "
    "indexed = false"  # the new vector is not in the index until index_backlog adds it
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


def nearest_first(query: Select[Any], *, distance: ColumnElement[Any], depth: int) -> Select[Any]:
    """`query` (rows of paper_embeddings with their joins and filters, `distance` among its
    columns, labelled "distance") cut to the `depth` nearest: the indexed rows through the HNSW
    index, the backlog exactly (its partial b-tree), merged by distance. Nearest first."""
    indexed = query.where(PaperEmbedding.indexed).order_by(distance).limit(depth)
    backlog = query.where(~PaperEmbedding.indexed).order_by(distance).limit(depth)
    both = union_all(indexed, backlog).subquery("nearest")
    return select(*both.c).order_by(both.c.distance).limit(depth)


def nearest(
    session: Session,
    *,
    vector: np.ndarray,
    model: str,
    limit: int,
    exclude: Sequence[int] = (),
) -> list[Neighbour]:
    """The papers whose vectors are closest to `vector` (cosine), best first, through the HNSW
    index and the backlog. Vectors of another model are not comparable and are left out."""
    distance = PaperEmbedding.embedding.cosine_distance(vector)
    query = select(PaperEmbedding.paper_id, distance.label("distance")).where(
        PaperEmbedding.model == model
    )
    rows = session.execute(nearest_first(query, distance=distance, depth=limit + len(exclude)))
    skip = set(exclude)
    hits = [Neighbour(pid, 1.0 - float(d)) for pid, d in rows if pid not in skip]
    return hits[:limit]


def index_backlog(session: Session, *, limit: int) -> int:
    """Add up to `limit` unindexed vectors to the HNSW index (lowest paper ids first); returns
    how many. Rows another transaction is adding are skipped (SKIP LOCKED), so replicas and
    `paperboy embed` can drain the backlog side by side. The caller commits."""
    rows = execute(
        session,
        "UPDATE paper_embeddings SET indexed = true WHERE paper_id IN ("
        "SELECT paper_id FROM paper_embeddings WHERE NOT indexed ORDER BY paper_id "
        "LIMIT %(limit)s FOR UPDATE SKIP LOCKED) RETURNING paper_id",
        {"limit": limit},
    )
    return len(rows)


def count_backlog(session: Session) -> int:
    """Vectors not in the HNSW index yet (found by exact scan until they are)."""
    return int(
        session.scalar(
            select(func.count()).select_from(PaperEmbedding).where(~PaperEmbedding.indexed)
        )
        or 0
    )


def _write(session: Session, *, embedder: Embedder, rows: Sequence[Row[int, str, str]]) -> int:
    if not rows:
        return 0
    texts = [paper_text(title, abstract) for _, title, abstract in rows]
    vectors = embedder.embed(texts)
    _register(session)
    execute(
        session,
        VECTORS_SQL,
        {
            "paper_id": [pid for pid, _, _ in rows],
            "model": [embedder.name] * len(rows),
            "text_hash": [
                hashlib.md5(text.encode(), usedforsecurity=False).hexdigest() for text in texts
            ],
            "embedding": [_Packed(v) for v in vectors],
        },
    )
    return len(rows)


class _Packed:
    """A vector to send in pgvector's binary format (`vector_recv`): the dimension and a
    reserved word (uint16 each), then big-endian float32s."""

    __slots__ = ("data",)

    def __init__(self, vector: np.ndarray) -> None:
        header = np.array([len(vector), 0], dtype=">u2").tobytes()
        self.data = header + np.asarray(vector, dtype=">f4").tobytes()


class _PackedDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: _Packed) -> bytes:
        return obj.data


def _register(session: Session) -> None:
    """Teach this connection to send `_Packed` as binary `vector` (arrays of them as `vector[]`).
    Only `_Packed` is affected: nothing else on the connection changes how it is sent or read."""
    driver: Connection[Any] | None = session.connection().connection.driver_connection
    assert driver is not None
    try:
        driver.adapters.get_dumper(_Packed, PyFormat.BINARY)
        return  # done on this connection before
    except ProgrammingError:
        pass
    info = driver.adapters.types.get("vector") or TypeInfo.fetch(driver, "vector")
    if info is None:
        raise RuntimeError("the pgvector extension is not installed in this database")
    info.register(driver)  # for `vector[]`: arrays are looked up by their element type
    dumper = type("VectorDumper", (_PackedDumper,), {"oid": info.oid})
    driver.adapters.register_dumper(_Packed, dumper)
