"""Summaries, full texts, the LLM job queue, usage, relevance grades and notices."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models.base import Base, now_column, status_check, status_in, status_type
from app.db.models.states import JOB_LIVE, JobState

# --- LLM: summaries, jobs, usage, relevance -----------------------------------------------------


class Summary(Base):
    """A summary, stored once per (paper, kind, model, prompt version, arXiv version) and reused
    everywhere; readers take the newest version's, older ones stay as history."""

    __tablename__ = "summaries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # card | deep
    model: Mapped[str] = mapped_column(String(64))  # "extractive" for the fallback
    prompt_version: Mapped[str] = mapped_column(String(32))
    paper_version: Mapped[int] = mapped_column(Integer, default=1)
    extractive: Mapped[bool] = mapped_column(Boolean, default=False)
    # Extractive rows: how many LLM tries ended in the fallback (refused, invalid twice); caps
    # the later upgrade attempts (app/db/summaries.py is_current).
    llm_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    source_text: Mapped[str] = mapped_column(String(16), default="abstract")  # abstract|fulltext
    created_at: Mapped[datetime] = now_column()

    __table_args__ = (
        UniqueConstraint(
            "paper_id", "kind", "model", "prompt_version", "paper_version", name="uq_summaries_key"
        ),
    )


class PaperText(Base):
    """Cached full text (from the arXiv PDF) for deep summaries and follow-up questions."""

    __tablename__ = "paper_texts"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    text: Mapped[str] = mapped_column(Text)
    source_url: Mapped[str] = mapped_column(Text)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    fetched_at: Mapped[datetime] = now_column()


class LlmJob(Base):
    """A unit of LLM work, claimed with FOR UPDATE SKIP LOCKED under a lease."""

    __tablename__ = "llm_jobs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # card | deep | grade | answer
    paper_id: Mapped[int | None] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Lower runs first; urgent (Slack) jobs use a negative priority.
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[JobState] = mapped_column(status_type(JobState), default=JobState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_after: Mapped[datetime] = now_column()
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    leased_by: Mapped[str | None] = mapped_column(String(128))
    batch_id: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    # One live job per (kind, paper, topic): enqueueing twice is a no-op.
    dedupe_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = now_column()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_llm_jobs_claim", "state", "urgent", "priority", "run_after"),
        Index(
            "uq_llm_jobs_live_dedupe",
            "dedupe_key",
            unique=True,
            postgresql_where=text(status_in("state", JOB_LIVE)),
        ),
        status_check("state", JobState),
    )


class LlmCall(Base):
    """Usage and cost of every LLM call, for the daily budget and `paperboy status`."""

    __tablename__ = "llm_calls"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = now_column()
    model: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(32))  # card | deep | grade | answer | expand
    batch: Mapped[bool] = mapped_column(Boolean, default=False)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=Decimal(0))
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_llm_calls_at", "at"),)


class Relevance(Base):
    """How relevant a paper is to a topic: lexical score always, LLM grade when we have one."""

    __tablename__ = "relevance"

    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    lexical_score: Mapped[float] = mapped_column(Float, default=0.0)
    llm_score: Mapped[int | None] = mapped_column(Integer)  # 0-10
    reason: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(64))
    prompt_version: Mapped[str | None] = mapped_column(String(32))
    graded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    matched_at: Mapped[datetime] = now_column()


class Notice(Base):
    """Operational notices worth showing (budget spent, source down)."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = now_column()
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    day: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (UniqueConstraint("kind", "day", name="uq_notices_kind_day"),)


class LlmReservation(Base):
    """A call's (or a batch's) worst-case cost, held against the daily budget while it is in
    flight, so that workers sharing the budget never overshoot it (app/llm/budget.py). Settled
    (deleted, its real cost recorded in `llm_calls`) when the reply arrives; a crashed
    worker's reservation stops counting at `expires_at`."""

    __tablename__ = "llm_reservations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(12, 6))
    purpose: Mapped[str] = mapped_column(String(32))
    holder: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = now_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_llm_reservations_expires_at", "expires_at"),)
