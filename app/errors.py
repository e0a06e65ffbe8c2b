"""The few exceptions Paperboy raises on purpose (each prints as one line for the user), and the
one way to report everything else: a log line with an error id the user is shown too."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

# What Slack users see when something unexpected failed; the id matches the log line.
APOLOGY = "Sorry, something went wrong on my side (error id {error_id})."


class PaperboyError(Exception):
    """An expected failure: shown to the user as one line, never a traceback."""


class ConfigError(PaperboyError):
    """A setting, the database or the data folder is unusable; the message says how to fix it."""


class SourceError(PaperboyError):
    """An outside source (arXiv, Hugging Face) failed or sent something unreadable."""


class LLMError(PaperboyError):
    """The LLM could not give a usable answer (after retries)."""


class BudgetExceeded(LLMError):
    """Today's LLM budget is spent; the extractive fallback is used instead.

    `retry_at`: when the call may fit again (the next budget day, or soon when only other
    workers' in-flight calls are in the way); None means the next budget day."""

    def __init__(self, message: str, *, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class UserInputError(PaperboyError):
    """Text a user typed (CLI or Slack) that we cannot act on."""


class UnsafeLinkError(UserInputError):
    """A link to a host Paperboy will not fetch (only arXiv and Hugging Face are allowed)."""


def log_unexpected(
    logger: logging.Logger,
    message: str,
    *args: object,
    exc_info: BaseException | bool = True,
) -> str:
    """Log an unexpected failure (with its traceback) under a fresh error id; return the id.

    `message` is a %-format for `args`; ", error id <id>" is appended, and the id is also the
    record's `error_id` attribute, so a structured log can carry it as a field.
    """
    error_id = uuid.uuid4().hex[:8]
    logger.error(
        message + ", error id %s",
        *args,
        error_id,
        exc_info=exc_info,
        extra={"error_id": error_id},
    )
    return error_id


def apology(error_id: str) -> str:
    """The user-facing line for an unexpected failure logged under `error_id`."""
    return APOLOGY.format(error_id=error_id)
