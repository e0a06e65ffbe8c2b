"""Typed SQLAlchemy models: the whole schema, one module per area. Alembic migrations are
generated from and checked against these (tests/test_migrations.py)."""

from app.db.models.base import NAMING_CONVENTION, TSVECTOR_EXPR, Base
from app.db.models.llm import LlmCall, LlmJob, Notice, PaperText, Relevance, Summary
from app.db.models.papers import (
    IngestRun,
    Paper,
    PaperExternalId,
    PaperSignal,
    PaperSource,
    Topic,
)
from app.db.models.slack import (
    Channel,
    ChannelTopic,
    DigestRun,
    Feedback,
    JobRun,
    PostedMessage,
    SavedPaper,
    SlackEvent,
)

__all__ = [
    "Base",
    "Channel",
    "ChannelTopic",
    "DigestRun",
    "Feedback",
    "IngestRun",
    "JobRun",
    "LlmCall",
    "LlmJob",
    "NAMING_CONVENTION",
    "Notice",
    "Paper",
    "PaperExternalId",
    "PaperSignal",
    "PaperSource",
    "PaperText",
    "PostedMessage",
    "Relevance",
    "SavedPaper",
    "SlackEvent",
    "Summary",
    "TSVECTOR_EXPR",
    "Topic",
]
