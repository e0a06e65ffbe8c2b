"""Counts over the whole store: what GET /metrics reports at scrape time, and when each source
last ingested successfully (which also decides the start-up ingest, app/scheduler.py).

Keyword-only functions taking a Session; read-only, cheap enough for every scrape (a group-by
over `ingest_runs`, a few dozen rows a day).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Channel, IngestRun, IngestStatus

# MERGE HOOK (branch `neverlost`): the column a paused channel has set. Until that branch's
# migration is here the column does not exist and no channel counts as paused.
PAUSE_COLUMN = "paused_at"


def ingest_runs_by_status(session: Session) -> dict[tuple[str, str], int]:
    """(source, status) -> finished runs. A run still `running` is not counted yet."""
    rows = session.execute(
        select(IngestRun.source, IngestRun.status, func.count())
        .where(IngestRun.status != IngestStatus.RUNNING)
        .group_by(IngestRun.source, IngestRun.status)
    )
    return {(source, str(status)): int(n) for source, status, n in rows}


def ingest_papers_by_source(session: Session) -> dict[tuple[str, str], int]:
    """(source, "inserted" | "updated") -> papers written by ingest runs, all time."""
    rows = session.execute(
        select(
            IngestRun.source,
            func.coalesce(func.sum(IngestRun.inserted), 0),
            func.coalesce(func.sum(IngestRun.updated), 0),
        ).group_by(IngestRun.source)
    )
    tallies: dict[tuple[str, str], int] = {}
    for source, inserted, updated in rows:
        tallies[(source, "inserted")] = int(inserted)
        tallies[(source, "updated")] = int(updated)
    return tallies


def last_ingest_ok(session: Session) -> dict[str, datetime]:
    """Source -> when its latest successful (`ok`) ingest run finished."""
    rows = session.execute(
        select(IngestRun.source, func.max(IngestRun.finished_at))
        .where(IngestRun.status == IngestStatus.OK, IngestRun.finished_at.is_not(None))
        .group_by(IngestRun.source)
    )
    return {source: at for source, at in rows if at is not None}


def paused_channels(session: Session) -> int:
    """How many channels have their digests paused."""
    column = Channel.__table__.columns.get(PAUSE_COLUMN)
    if column is None:
        return 0
    paused = select(func.count()).select_from(Channel).where(column.is_not(None))
    return int(session.scalar(paused) or 0)
