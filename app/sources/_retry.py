"""Retry policy shared by the sources: exponential backoff, Retry-After honoured (capped)."""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from app.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


class Retryable(Exception):
    """A transient failure worth another try (429, 5xx, connection error, empty page)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def retrying(*, attempts: int, base_seconds: float, max_wait_seconds: float) -> Retrying:
    """A tenacity loop over `Retryable`; anything else propagates at once."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = base_seconds * 2 ** (state.attempt_number - 1)
        if isinstance(exc, Retryable) and exc.retry_after is not None:
            # The server told us when; never less than our own backoff, never past the cap.
            backoff = max(backoff, exc.retry_after)
        return min(backoff, max_wait_seconds)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.info("retrying after attempt %d: %s", state.attempt_number, exc)

    return Retrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait,
        retry=retry_if_exception_type(Retryable),
        before_sleep=before_sleep,
        reraise=True,
    )


def call_with_retries(fn: Callable[[], T], *, attempts: int, settings: Settings) -> T:
    """`fn()`, tried up to `attempts` times while it raises Retryable, backing off between tries
    (SOURCE_RETRY_* settings); the last Retryable propagates for the caller to word."""
    for attempt in retrying(
        attempts=attempts,
        base_seconds=settings.source_retry_base_seconds,
        max_wait_seconds=settings.source_retry_max_wait_seconds,
    ):
        with attempt:
            return fn()
    raise AssertionError("unreachable")  # pragma: no cover - reraise=True


def raise_if_transient(status: int, retry_after: str | None) -> None:
    """429 and 5xx are worth another try (no sooner than the server's Retry-After)."""
    if status == 429 or status >= 500:
        raise Retryable(f"HTTP {status}", retry_after=parse_retry_after(retry_after))
