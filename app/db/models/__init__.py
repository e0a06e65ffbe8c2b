"""Typed SQLAlchemy models: the whole schema, one module per area. Alembic migrations are
generated from and checked against these (tests/test_migrations.py)."""

from app.db.models.backfill import BackfillRun
from app.db.models.base import NAMING_CONVENTION, TSVECTOR_EXPR, Base
from app.db.models.llm import (
    LlmCall,
    LlmJob,
    LlmReservation,
    Notice,
    PaperText,
    Relevance,
    Summary,
)
from app.db.models.papers import (
    IngestRun,
    Paper,
    PaperEmbedding,
    PaperExternalId,
    PaperSignal,
    PaperSource,
    Topic,
)
from app.db.models.slack import (
    Channel,
    ChannelAuthor,
    ChannelTopic,
    DigestRun,
    Feedback,
    JobRun,
    PostedMessage,
    SavedPaper,
    SlackEvent,
    TasteNudge,
)
from app.db.models.states import (
    DIGEST_SETTLED,
    DIGEST_UNFINISHED,
    BackfillStatus,
    DigestStatus,
    IngestStatus,
    JobRunStatus,
    JobState,
)

__all__ = [
    "BackfillRun",
    "BackfillStatus",
    "Base",
    "Channel",
    "ChannelAuthor",
    "ChannelTopic",
    "DIGEST_SETTLED",
    "DIGEST_UNFINISHED",
    "DigestRun",
    "DigestStatus",
    "Feedback",
    "IngestRun",
    "IngestStatus",
    "JobRun",
    "JobRunStatus",
    "JobState",
    "LlmCall",
    "LlmJob",
    "LlmReservation",
    "NAMING_CONVENTION",
    "Notice",
    "Paper",
    "PaperEmbedding",
    "PaperExternalId",
    "PaperSignal",
    "PaperSource",
    "PaperText",
    "PostedMessage",
    "Relevance",
    "SavedPaper",
    "SlackEvent",
    "TasteNudge",
    "Summary",
    "TSVECTOR_EXPR",
    "Topic",
]
