"""`backfill_runs` rows, the one-harvester lock, and which papers only a backfill has seen.

Keyword-only functions taking a Session; the caller (app/backfill.py) commits, once per page,
together with the page's papers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import ColumnElement, Engine, func, select, text, update
from sqlalchemy.orm import Session

from app.db.models import BackfillRun, BackfillStatus, Paper, PaperSource
from app.sources.oai import BACKFILL_SOURCE

# Session-level advisory lock key of "a backfill is harvesting": one per database, whatever its
# range, because arXiv's terms allow one connection at a time across all our machines.
BACKFILL_LOCK = 7140285312


@dataclass(frozen=True)
class BackfillRange:
    """What one backfill run harvests: an OAI set, the categories kept from it (sorted), the
    creation dates kept."""

    set_spec: str
    categories: tuple[str, ...]
    since: date
    until: date | None


@contextlib.contextmanager
def backfill_lock(engine: Engine) -> Iterator[bool]:
    """Try to take the backfill lock for the duration; yields whether this process got it.

    A session-level lock on a connection of its own, held for hours without a transaction open;
    released explicitly (a pooled connection would otherwise keep it), or by the server when the
    process dies and its connection drops."""
    with engine.connect() as conn:
        got = bool(
            conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": BACKFILL_LOCK}).scalar()
        )
        conn.commit()  # no transaction left open while the harvest runs
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": BACKFILL_LOCK})
                conn.commit()


def _same_range(key: BackfillRange) -> list[ColumnElement[bool]]:
    return [
        BackfillRun.set_spec == key.set_spec,
        BackfillRun.categories == sorted(key.categories),
        BackfillRun.since == key.since,
        BackfillRun.until.is_(None) if key.until is None else BackfillRun.until == key.until,
    ]


def covering_run(session: Session, *, key: BackfillRange) -> BackfillRun | None:
    """A finished run whose range holds this one: its set, at least these categories, from no
    later than `since`, to no earlier than `until` (an open end covers up to when it finished)."""
    until = key.until
    runs = session.scalars(
        select(BackfillRun).where(
            BackfillRun.set_spec == key.set_spec,
            BackfillRun.status == BackfillStatus.DONE,
            BackfillRun.since <= key.since,
            BackfillRun.categories.contains(sorted(key.categories)),
        )
    ).all()
    for run in runs:
        if until is None:  # open-ended: only another open-ended run covers it
            if run.until is None:
                return run
            continue
        end = run.until or (run.finished_at or datetime.now(UTC)).date()
        if end >= until:
            return run
    return None


def resumable_run(session: Session, *, key: BackfillRange) -> BackfillRun | None:
    """The latest unfinished run of exactly this range (interrupted, failed or crashed)."""
    return session.scalars(
        select(BackfillRun)
        .where(
            *_same_range(key),
            BackfillRun.status != BackfillStatus.DONE,
        )
        .order_by(BackfillRun.id.desc())
        .limit(1)
    ).first()


def start_run(session: Session, *, key: BackfillRange) -> BackfillRun:
    run = BackfillRun(
        set_spec=key.set_spec,
        categories=sorted(key.categories),
        since=key.since,
        until=key.until,
        harvest_from=key.since,
        status=BackfillStatus.RUNNING,
        pages=0,
        seen=0,
        stored=0,
        skipped=0,
        other=0,
    )
    session.add(run)
    session.flush()
    return run


def save_page(
    session: Session,
    *,
    run_id: int,
    token: str | None,
    cursor: int | None,
    complete_list_size: int | None,
    last_datestamp: date | None,
    seen: int,
    stored: int,
    skipped: int,
    other: int,
) -> None:
    """Move the run past one page (in the transaction that stored the page's papers)."""
    run = BackfillRun
    session.execute(
        update(run)
        .where(run.id == run_id)
        .values(
            resumption_token=token,
            cursor=cursor,
            complete_list_size=complete_list_size,
            last_datestamp=func.greatest(run.last_datestamp, last_datestamp)
            if last_datestamp
            else run.last_datestamp,
            pages=run.pages + 1,
            seen=run.seen + seen,
            stored=run.stored + stored,
            skipped=run.skipped + skipped,
            other=run.other + other,
            status=BackfillStatus.RUNNING,
            error=None,
            updated_at=func.now(),
        )
    )


def restart_list(session: Session, *, run_id: int) -> date:
    """Forget an expired token: the next page is the list from the last stored datestamp (records
    come in datestamp order, so nothing before that day is missed). Returns the new `from`."""
    run = session.get_one(BackfillRun, run_id)
    run.harvest_from = run.last_datestamp or run.since
    run.resumption_token = None
    run.cursor = None
    run.complete_list_size = None
    session.flush()
    return run.harvest_from


def set_status(
    session: Session, *, run_id: int, status: BackfillStatus, error: str | None = None
) -> None:
    values: dict[str, object] = {"status": status, "error": error, "updated_at": func.now()}
    if status == BackfillStatus.DONE:
        values.update(finished_at=func.now(), resumption_token=None)
    session.execute(update(BackfillRun).where(BackfillRun.id == run_id).values(**values))


def backfill_only(session: Session, *, arxiv_ids: Iterable[str]) -> set[str]:
    """Those of the papers that only a backfill has seen: no digest posts them and no card job is
    queued for them (they are old news; a user can still find, open and summarize them)."""
    ids = list(dict.fromkeys(arxiv_ids))
    if not ids:
        return set()
    query = (
        select(Paper.arxiv_id)
        .join(PaperSource, PaperSource.paper_id == Paper.id)
        .where(Paper.arxiv_id.in_(ids))
        .group_by(Paper.arxiv_id)
        .having(func.bool_and(PaperSource.source == BACKFILL_SOURCE))
    )
    return {arxiv_id for arxiv_id in session.scalars(query) if arxiv_id}


def recent_runs(session: Session, *, limit: int = 5) -> list[BackfillRun]:
    """The latest backfill runs, newest first (for `paperboy status`)."""
    return list(session.scalars(select(BackfillRun).order_by(BackfillRun.id.desc()).limit(limit)))
