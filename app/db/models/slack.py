"""Channels, digests, posted messages, Slack events, saved papers, feedback, job runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models.base import Base, now_column, status_check, status_type
from app.db.models.states import DigestStatus, JobRunStatus

# --- Slack: channels, digests, posts, interactions ----------------------------------------------


class Channel(Base):
    """A Slack channel's subscription settings."""

    __tablename__ = "channels"

    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[str | None] = mapped_column(String(32))
    cron: Mapped[str] = mapped_column(String(120), default="0 9 * * mon-fri")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    max_papers: Mapped[int] = mapped_column(Integer, default=8)
    min_relevance: Mapped[float] = mapped_column(Float, default=0.0)
    include_trending: Mapped[bool] = mapped_column(Boolean, default=True)
    quiet_day_notice: Mapped[bool] = mapped_column(Boolean, default=False)
    style: Mapped[str] = mapped_column(String(16), default="messages")  # messages | thread
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = now_column()
    # Who first followed or scheduled from Slack: told by DM when the channel's digests pause.
    set_up_by: Mapped[str | None] = mapped_column(String(32))
    # Set while Slack refuses this channel or the token for good (app/digest/pause.py): the
    # scheduler skips the channel until a manual digest, or a new token, resumes it.
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pause_code: Mapped[str | None] = mapped_column(String(64))  # Slack's error code
    # A hash of the bot token that failed (auth codes only): another token resumes the channel.
    pause_token: Mapped[str | None] = mapped_column(String(64))
    # The "Recommended for you" section (app/digest/recommend.py); it still waits for the
    # channel's first few positive taste signals.
    recommendations: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")


class ChannelTopic(Base):
    __tablename__ = "channel_topics"

    channel_id: Mapped[str] = mapped_column(
        ForeignKey("channels.channel_id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = now_column()


class DigestRun(Base):
    """One digest for one channel at one scheduled time: recorded before anything is posted."""

    __tablename__ = "digest_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.channel_id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[DigestStatus] = mapped_column(
        status_type(DigestStatus), default=DigestStatus.PLANNED
    )
    # The papers chosen, in order, fixed when the run is recorded so a restart posts the same.
    paper_ids: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    header_ts: Mapped[str | None] = mapped_column(String(32))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = now_column()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Transient failures so far, and when the scheduler may try again (backoff, owed.py).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Which of paper_ids are recommendations, with their reason, fixed with the list:
    # {arxiv_id: {"like": arxiv_id, "title": liked paper's title, "signal": up|save|thread|more}}.
    recommended: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")

    __table_args__ = (
        UniqueConstraint("channel_id", "scheduled_for", name="uq_digest_runs_channel_time"),
        status_check("status", DigestStatus),
    )


class PostedMessage(Base):
    """Every message Paperboy posted, so a reply in its thread resolves to its paper."""

    __tablename__ = "posted_messages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    paper_id: Mapped[int | None] = mapped_column(ForeignKey("papers.id", ondelete="SET NULL"))
    digest_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("digest_runs.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16))  # header | paper | notice | summary | answer
    position: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = now_column()

    __table_args__ = (
        UniqueConstraint("channel_id", "ts", name="uq_posted_messages_channel_ts"),
        UniqueConstraint("digest_run_id", "position", name="uq_posted_messages_run_position"),
        Index("ix_posted_messages_channel_paper", "channel_id", "paper_id"),
    )


class SlackEvent(Base):
    """Event ids already handled: Slack retries deliveries, each is acted on once."""

    __tablename__ = "slack_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = now_column()


class SavedPaper(Base):
    __tablename__ = "saved_papers"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[str | None] = mapped_column(String(32))
    saved_at: Mapped[datetime] = now_column()


class Feedback(Base):
    """A user's thumbs up (+1) or down (-1) on a paper in a channel; feeds digest ranking."""

    __tablename__ = "feedback"

    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = now_column()


class TasteNudge(Base):
    """A "More like this" click: a positive taste signal of the channel (app/digest/taste.py).
    Not a 👍: it leaves topic votes alone and only steers the channel's taste profile."""

    __tablename__ = "taste_nudges"

    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = now_column()


class JobRun(Base):
    """A scheduled job's run: unique per (job, scheduled time), so replicas never run it twice."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(128))
    scheduled_for: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime] = now_column()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[JobRunStatus] = mapped_column(
        status_type(JobRunStatus), default=JobRunStatus.RUNNING
    )
    error: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        UniqueConstraint("job_id", "scheduled_for", name="uq_job_runs_job_time"),
        status_check("status", JobRunStatus),
    )


class ChannelAuthor(Base):
    """An author a channel follows: their new papers join its digest (app/authors.py).

    `name` is how digests match the stored author lists (app/author_names.py); `arxiv_query` is
    the `au:` query the arXiv ingest runs; `s2_author_id`, when resolved, is Semantic Scholar's
    id, whose papers the ingest also fetches."""

    __tablename__ = "channel_authors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.channel_id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    s2_author_id: Mapped[str | None] = mapped_column(String(64))
    arxiv_query: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = now_column()

    __table_args__ = (
        UniqueConstraint("channel_id", "name", name="uq_channel_authors_channel_name"),
    )
