"""Papers, where they came from, ingest runs and topics."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models.base import TSVECTOR_EXPR, Base, now_column, status_check, status_type
from app.db.models.states import IngestStatus

# --- papers and ingestion -----------------------------------------------------------------------


class Paper(Base):
    """One row per paper whatever its sources, keyed by the arXiv id without version."""

    __tablename__ = "papers"

    arxiv_id: Mapped[str] = mapped_column(String(64), primary_key=True)
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
    hf_upvotes: Mapped[int | None] = mapped_column(Integer)
    hf_num_comments: Mapped[int | None] = mapped_column(Integer)
    hf_github_repo: Mapped[str | None] = mapped_column(Text)
    hf_github_stars: Mapped[int | None] = mapped_column(Integer)
    hf_ai_keywords: Mapped[list[str] | None] = mapped_column(ARRAY(String))
    hf_ai_summary: Mapped[str | None] = mapped_column(Text)
    hf_organization: Mapped[str | None] = mapped_column(Text)
    hf_featured_on: Mapped[date | None] = mapped_column(Date)
    hf_trending_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
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


class PaperSource(Base):
    """Provenance: where and when each source saw each paper."""

    __tablename__ = "paper_sources"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    arxiv_id: Mapped[str] = mapped_column(ForeignKey("papers.arxiv_id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))  # arxiv | hf_daily | hf_trending | on_demand
    source_key: Mapped[str] = mapped_column(String(255), default="")  # category, day, query
    first_seen_at: Mapped[datetime] = now_column()
    last_seen_at: Mapped[datetime] = now_column()
    last_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("ingest_runs.id", ondelete="SET NULL")
    )

    __table_args__ = (
        UniqueConstraint("arxiv_id", "source", "source_key", name="uq_paper_sources_key"),
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
