"""`paperboy backfill`: fill the archive with past papers through arXiv's OAI-PMH interface.

Runs once per team, by hand (`paperboy backfill --since 2025-12-01`), for hours at arXiv's pace.
For each OAI set the categories live in ("cs" for cs.CL and cs.LG), pages are fetched one after
another (app/sources/oai.py), filtered to the requested categories and creation dates, and each
page is stored with the run's progress in one transaction (papers through app/ingest.py
`store_records`, progress in `backfill_runs`). So:
- an interruption (Ctrl-C, a crash, an error) loses at most the page in flight, and the same
  command resumes from the stored resumption token;
- a token the server no longer knows (arXiv's expire at midnight UTC) restarts the list from the
  last stored datestamp;
- a finished range is never fetched again;
- two replicas never harvest at once (a session-level advisory lock; app/db/backfill.py).

Backfilled papers are searchable at once, but digests and card jobs leave out papers only a
backfill has seen (provenance "arxiv-oai"; app/db/backfill.py `backfill_only`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from app.arxiv_categories import canonical, suggestion
from app.config import Settings
from app.db import backfill as runs
from app.db.engine import session_scope
from app.db.models import BackfillStatus, Topic
from app.embeddings import Embedder
from app.errors import PaperboyError, UserInputError
from app.ingest import store_records
from app.sources.oai import BadResumptionToken, OaiClient, oai_set

log = logging.getLogger(__name__)

# Expired tokens tolerated per run before giving up (each restarts from the last datestamp).
MAX_RESTARTS = 5


class BackfillBusy(PaperboyError):
    """Another process is harvesting into this database."""


@dataclass(frozen=True)
class BackfillRequest:
    since: date
    until: date | None
    categories: tuple[str, ...]

    def by_set(self) -> dict[str, list[str]]:
        """Categories grouped by the OAI set that holds them, in a stable order."""
        out: dict[str, list[str]] = {}
        for category in sorted(self.categories):
            out.setdefault(oai_set(category), []).append(category)
        return out


@dataclass
class SetReport:
    """One set's harvest so far (this run and the ones it resumed)."""

    set_spec: str
    categories: list[str]
    run_id: int = 0
    pages: int = 0
    seen: int = 0
    stored: int = 0
    new: int = 0  # stored by this process for the first time
    skipped: int = 0
    other: int = 0
    cursor: int | None = None  # records of the current list read so far (when the server says)
    total: int | None = None  # the current list's completeListSize (when the server says)
    resumed: bool = False
    already_done: bool = False
    done: bool = False
    restarts: int = 0

    def line(self) -> str:
        head = f"{self.set_spec} ({', '.join(self.categories)})"
        if self.already_done:
            return f"{head}: already backfilled ({self.stored} papers); nothing fetched"
        state = "done" if self.done else "stopped"
        return (
            f"{head}: {state} - {self.stored} papers stored ({self.new} new), "
            f"{self.seen} records read in {self.pages} pages, {self.skipped} malformed skipped"
        )


@dataclass
class BackfillReport:
    sets: list[SetReport] = field(default_factory=list)


Progress = Callable[[SetReport], None]


def parse_request(
    *, since: str, until: str | None, categories: str | None, default: list[str]
) -> BackfillRequest:
    """Check the command's options; one UserInputError line for the first bad one."""
    start = _day("--since", since)
    end = _day("--until", until) if until else None
    today = datetime.now(UTC).date()
    if start > today:
        raise UserInputError(f"--since {start} is in the future")
    if end is not None and end < start:
        raise UserInputError(f"--until {end} is before --since {start}")
    names = [c.strip() for c in categories.split(",") if c.strip()] if categories else default
    if not names:
        raise UserInputError("no categories: pass --categories cs.CL,cs.LG or set ARXIV_CATEGORIES")
    chosen: list[str] = []
    for name in names:
        code = canonical(name)
        if code is None:
            near = suggestion(name)
            hint = f" (did you mean {near}?)" if near else ""
            raise UserInputError(f"unknown arXiv category {name!r}{hint}")
        chosen.append(code)
    return BackfillRequest(start, end, tuple(sorted(set(chosen))))


def _day(option: str, value: str) -> date:
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise UserInputError(f"{option} must be a date like 2025-12-01, not {value!r}") from None


def default_categories(settings: Settings, engine: Engine) -> list[str]:
    """ARXIV_CATEGORIES and every topic's categories: what ingest and digests look at."""
    with session_scope(engine) as session:
        topic_categories = session.scalars(select(Topic.categories)).all()
    found = list(settings.arxiv_categories)
    for categories in topic_categories:
        found += [c for c in categories or () if c]
    return sorted(set(found))


def run_backfill(
    engine: Engine,
    *,
    client: OaiClient,
    request: BackfillRequest,
    embedder: Embedder,
    progress: Progress | None = None,
) -> BackfillReport:
    """Harvest every set of the request in turn. Raises BackfillBusy when another process holds
    the lock; SourceError when arXiv fails for good (what was stored stays, and the same request
    resumes); KeyboardInterrupt passes through after the run is marked stopped."""
    report = BackfillReport()
    with runs.backfill_lock(engine) as got:
        if not got:
            raise BackfillBusy(
                "another backfill is harvesting into this database; let it finish "
                "(arXiv allows one connection at a time)"
            )
        for set_spec, categories in request.by_set().items():
            one = SetReport(set_spec, categories)
            report.sets.append(one)
            _harvest(
                engine,
                client=client,
                request=request,
                report=one,
                embedder=embedder,
                progress=progress,
            )
    return report


def _harvest(
    engine: Engine,
    *,
    client: OaiClient,
    request: BackfillRequest,
    report: SetReport,
    embedder: Embedder,
    progress: Progress | None,
) -> None:
    key = runs.BackfillRange(
        report.set_spec, tuple(report.categories), request.since, request.until
    )
    with session_scope(engine) as session:
        finished = runs.covering_run(session, key=key)
        if finished is not None:
            report.already_done, report.stored, report.run_id = True, finished.stored, finished.id
            return
        run = runs.resumable_run(session, key=key) or runs.start_run(session, key=key)
        runs.set_status(session, run_id=run.id, status=BackfillStatus.RUNNING)
        report.run_id, report.resumed = run.id, run.pages > 0
        report.pages, report.seen, report.stored = run.pages, run.seen, run.stored
        report.skipped, report.cursor, report.total = (
            run.skipped,
            run.cursor,
            run.complete_list_size,
        )
        # After an expired token the run holds no token and a later `from`: either way the
        # next request continues where the stored pages end.
        token, harvest_from = run.resumption_token, run.harvest_from
    if progress:
        progress(report)
    wanted = frozenset(report.categories)
    try:
        while True:
            try:
                page = client.list_records(
                    set_spec=report.set_spec,
                    since=harvest_from,
                    token=token,
                    categories=wanted,
                    keep_since=request.since,
                    until=request.until,
                )
            except BadResumptionToken:
                report.restarts += 1
                if token is None or report.restarts > MAX_RESTARTS:
                    raise
                log.info("resumption token expired: restarting from the last datestamp")
                with session_scope(engine) as session:
                    harvest_from = runs.restart_list(session, run_id=report.run_id)
                token = None
                continue
            with session_scope(engine) as session:
                counts = store_records(session, records=page.records, embedder=embedder)
                runs.save_page(
                    session,
                    run_id=report.run_id,
                    token=page.token,
                    cursor=page.cursor,
                    complete_list_size=page.complete_list_size,
                    last_datestamp=page.last_datestamp,
                    seen=page.seen,
                    stored=counts.total,
                    skipped=page.skipped,
                    other=page.other,
                )
                if page.token is None:
                    runs.set_status(session, run_id=report.run_id, status=BackfillStatus.DONE)
            _count(report, page.seen, page.skipped, page.other, counts.total, counts.inserted)
            report.cursor = (page.cursor or 0) + page.seen if page.cursor is not None else None
            report.total = page.complete_list_size
            report.done = page.token is None
            if progress:
                progress(report)
            if report.done:
                return
            token = page.token
    except KeyboardInterrupt:
        _stop(engine, report.run_id, "interrupted")
        raise
    except PaperboyError as exc:
        _stop(engine, report.run_id, str(exc))
        raise


def _count(report: SetReport, seen: int, skipped: int, other: int, stored: int, new: int) -> None:
    report.pages += 1
    report.seen += seen
    report.skipped += skipped
    report.other += other
    report.stored += stored
    report.new += new


def _stop(engine: Engine, run_id: int, reason: str) -> None:
    """Mark the run stopped (it resumes either way: this is for `status` and the next reader)."""
    try:
        with session_scope(engine) as session:
            runs.set_status(session, run_id=run_id, status=BackfillStatus.STOPPED, error=reason)
    except SQLAlchemyError:  # the database is what failed: the stored token still resumes it
        log.warning("could not mark backfill run %s stopped", run_id)


__all__ = [
    "BackfillBusy",
    "BackfillReport",
    "BackfillRequest",
    "SetReport",
    "default_categories",
    "parse_request",
    "run_backfill",
]
