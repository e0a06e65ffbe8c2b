"""Time helpers shared across the package."""

from __future__ import annotations

from datetime import UTC, datetime


def aware(moment: datetime) -> datetime:
    """The same instant, UTC-aware: naive datetimes from the database or callers are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
