"""Papers, their external ids and per-source signals, where they came from, ingest runs and
topics.

A paper's key is the surrogate `papers.id`; every table that points at a paper points there.
`paper_external_ids` is the identity map (arXiv, DOI, OpenReview, Semantic Scholar ids ...);
`papers.arxiv_id` is a convenience copy of its arXiv id (the display and URL id), written by the
same upsert (app/db/papers.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.models.base import TSVECTOR_EXPR, Base, now_column, status_check, status_type
from app.db.models.states import IngestStatus
from app.embeddings import DIM as EMBEDDING_DIM

# --- papers and ingestion -----------------------------------------------------------------------


class Paper(Base):
    """One row per paper whatever its sources; metadata owned by the highest-priority source."""

    __tablename__ = "papers"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # The arXiv id without version, once any source has told us it; also in paper_external_ids.
    arxiv_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    # [{"name": ..., "affiliation": [...]}]
    authors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    categories: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    primary_category: Mapped[str | None] = mapped_column(String(64))
    published: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    comment: Mapped[str | None] = mapped_column(Text)
    journal_ref: Mapped[str | None] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(String(255))
    # [{"href": ..., "rel": ..., "title": ...}]
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # Which source owns the metadata above, and its merge priority (app/db/papers.py).
    metadata_source: Mapped[str] = mapped_column(String(32), default="arxiv")
    metadata_priority: Mapped[int] = mapped_column(SmallInteger, default=0)
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR, Computed(TSVECTOR_EXPR, persisted=True), nullable=True
    )
    first_seen_at: Mapped[datetime] = now_column()
    last_changed_at: Mapped[datetime] = now_column()

    __table_args__ = (
        Index("ix_papers_search_vector", "search_vector", postgresql_using="gin"),
        Index("ix_papers_published", "published"),
        Index("ix_papers_first_seen_at", "first_seen_at"),
        # Keep rows of up to a page uncompressed and inline, search_vector included: search
        # filters check it on thousands of rows per query, and fetching it from TOAST cost more
        # than the match itself (app/search.py; bench/ingest_search.py measures it).
        {"postgresql_with": {"toast_tuple_target": 8160}},
    )

    signals: Mapped[list[PaperSignal]] = relationship(lazy="selectin", viewonly=True)

    def signal(self, source: str, key: str) -> Any:
        """One source-specific value (None when that source has not told us)."""
        for row in self.signals:
            if row.source == source:
                return row.data.get(key)
        return None

    # Hugging Face's signals under their former column names, for readers (Block Kit, cards).
    @property
    def hf_upvotes(self) -> int | None:
        return self.signal("hf", "upvotes")

    @property
    def hf_num_comments(self) -> int | None:
        return self.signal("hf", "num_comments")

    @property
    def hf_github_repo(self) -> str | None:
        return self.signal("hf", "github_repo")

    @property
    def hf_github_stars(self) -> int | None:
        return self.signal("hf", "github_stars")

    @property
    def hf_ai_keywords(self) -> list[str] | None:
        return self.signal("hf", "ai_keywords")

    # Semantic Scholar's (app/sources/s2_enrichment.py).
    @property
    def s2_citations(self) -> int | None:
        return self.signal("s2", "citation_count")

    @property
    def s2_influential_citations(self) -> int | None:
        return self.signal("s2", "influential_citation_count")

    @property
    def s2_venue(self) -> str | None:
        return self.signal("s2", "venue") or self.signal("s2", "publication_venue")

    @property
    def hf_ai_summary(self) -> str | None:
        return self.signal("hf", "ai_summary")

    @property
    def hf_organization(self) -> str | None:
        return self.signal("hf", "organization")

    @property
    def hf_featured_on(self) -> date | None:
        value = self.signal("hf", "first_featured_on")
        return date.fromisoformat(value) if value else None

    @property
    def hf_trending_at(self) -> datetime | None:
        value = self.signal("hf", "first_trending_at")
        return datetime.fromisoformat(value) if value else None


class PaperExternalId(Base):
    """The identity map: each external id (scheme, value) names exactly one paper."""

    __tablename__ = "paper_external_ids"

    scheme: Mapped[str] = mapped_column(String(32), primary_key=True)  # arxiv | doi | openreview
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = now_column()


class PaperEmbedding(Base):
    """A paper's title + abstract vector (app/embeddings.py), with the model that made it.

    `text_hash` is md5(app.embeddings.paper_text(...)): a new version's abstract is re-embedded,
    an unchanged one is not. Search compares only vectors of the current `model`, so a changed
    model degrades to lexical results until `paperboy embed` has caught up, never to nonsense.

    `indexed`: whether the row is in the HNSW index, which is partial (`WHERE indexed`). A vector
    is written unindexed, so ingest never waits for HNSW's one-row-at-a-time graph inserts
    (1.3 ms a vector, three times the rest of storing a paper); the scheduler's `index` job
    flips the flag later (app/db/embeddings.py `index_backlog`). Until then the row is found by
    an exact scan of the small backlog (`ix_paper_embeddings_backlog`), so a stored paper is
    searchable at once either way."""

    __tablename__ = "paper_embeddings"
    __table_args__ = (
        Index(
            "ix_paper_embeddings_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
            postgresql_where=text("indexed"),
        ),
        Index("ix_paper_embeddings_backlog", "paper_id", postgresql_where=text("NOT indexed")),
    )

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(200))
    text_hash: Mapped[str] = mapped_column(String(32))
    embedding: Mapped[Any] = mapped_column(Vector(EMBEDDING_DIM))
    embedded_at: Mapped[datetime] = now_column()
    indexed: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class PaperSignal(Base):
    """What one source says about a paper beyond its metadata (Hugging Face upvotes, stars ...).

    A new source adds its own row per paper instead of columns on `papers`. Merge rules: a null
    never wipes a stored value; keys starting with `first_` keep their first value."""

    __tablename__ = "paper_signals"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    updated_at: Mapped[datetime] = now_column()


class PaperSource(Base):
    """Provenance: where and when each source saw each paper."""

    __tablename__ = "paper_sources"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    # arxiv | hf_daily | hf_trending | on_demand | openreview ...
    source: Mapped[str] = mapped_column(String(32))
    source_key: Mapped[str] = mapped_column(String(255), default="")  # category, day, query
    first_seen_at: Mapped[datetime] = now_column()
    last_seen_at: Mapped[datetime] = now_column()
    last_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("ingest_runs.id", ondelete="SET NULL")
    )

    __table_args__ = (
        UniqueConstraint("paper_id", "source", "source_key", name="uq_paper_sources_key"),
    )


class IngestRun(Base):
    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # arxiv | hf
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    started_at: Mapped[datetime] = now_column()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[IngestStatus] = mapped_column(
        status_type(IngestStatus), default=IngestStatus.RUNNING
    )
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_ingest_runs_source_started", "source", "started_at"),
        status_check("status", IngestStatus),
    )


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    query: Mapped[str] = mapped_column(Text)  # websearch_to_tsquery text; defaults to the name
    arxiv_query: Mapped[str | None] = mapped_column(Text)  # raw arXiv search_query, optional
    categories: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    exclude: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    # LLM expansion of the name (synonyms, categories), shown back to the user; editable.
    expanded_query: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = now_column()
