"""Ingestion: fetch arXiv and Hugging Face, upsert, and keep a record of every run.

Runs from `paperboy ingest`, `paperboy demo` and the scheduler. Each source gets its own
`ingest_runs` row (status ok | partial | failed, counts, error text) and its own failures: an
HTTP error, a timeout or a malformed feed in one source is recorded and the other still runs.

When papers are written (the "nothing changes on failure" rule):
- arXiv: per query (a category or a topic's arXiv query), after all of that query's pages are
  in, in one transaction. A query that fails changes nothing; queries that completed before it
  are kept (the run is then "partial"). A query is a few polite pages, seconds apart, so
  throwing the earlier ones away on a late failure would only mean fetching them again.
- Hugging Face: everything (the days, trending) in one transaction after every request
  succeeded: it is a handful of quick requests.
Offline (PAPERBOY_OFFLINE=1) both sources read the bundled sample feed instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.engine import session_scope
from app.db.models import IngestRun, IngestStatus, Paper, Topic
from app.db.papers import get_paper, upsert_papers
from app.errors import SourceError, UserInputError
from app.paperids import split_version
from app.sources.arxiv import ArxivQueryError, ArxivSource
from app.sources.huggingface import HuggingFaceSource
from app.sources.records import PaperRecord
from app.sources.sample import SampleFeed

log = logging.getLogger(__name__)

SOURCES = ("arxiv", "hf")
Progress = Callable[[str], None]


@dataclass
class SourceReport:
    source: str
    run_id: int | None = None
    status: IngestStatus = IngestStatus.RUNNING
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)  # queries fully read (arXiv)
    seconds: float = 0.0

    @property
    def error(self) -> str | None:
        return "; ".join(self.errors) or None

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        counts = (
            f"fetched {self.fetched}, inserted {self.inserted}, updated {self.updated}, "
            f"skipped {self.skipped} ({self.seconds:.1f}s)"
        )
        if self.status == IngestStatus.FAILED:
            return f"{self.source}: failed - {self.error}"
        if self.status == IngestStatus.PARTIAL:
            return f"{self.source}: partial - {counts}; {self.error}"
        return f"{self.source}: ok - {counts}"


@dataclass
class IngestReport:
    sources: list[SourceReport]

    @property
    def all_failed(self) -> bool:
        return bool(self.sources) and all(s.status == IngestStatus.FAILED for s in self.sources)


def run_ingest(
    settings: Settings,
    engine: Engine,
    *,
    source: str = "all",
    days: int | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest from `source` ("arxiv", "hf" or "all"). `days` widens the window: arXiv papers
    submitted in the last N days (still capped per category), Hugging Face's last N daily lists."""
    if source not in (*SOURCES, "all"):
        raise UserInputError(f"unknown source {source!r} (use arxiv, hf or all)")
    if days is not None and days < 1:
        raise UserInputError("--days must be at least 1")
    names = SOURCES if source == "all" else (source,)
    return IngestReport(
        [_run_source(name, settings, engine, days=days, progress=progress) for name in names]
    )


def fetch_paper_on_demand(settings: Settings, engine: Engine, *, arxiv_id: str) -> Paper | None:
    """Fetch one paper now (arXiv by id, plus Hugging Face's page) and store it. Returns the
    stored paper, None when neither source knows it; SourceError when both sources failed and
    nothing is stored."""
    try:
        key, _ = split_version(arxiv_id)
    except ValueError:
        raise UserInputError(f"not an arXiv id: {arxiv_id!r}") from None
    records: list[PaperRecord] = []
    errors: list[str] = []
    if settings.paperboy_offline:
        records = SampleFeed().lookup(key)
    else:
        try:
            records += ArxivSource(settings).by_ids([key])
        except SourceError as exc:
            errors.append(str(exc))
        try:
            with HuggingFaceSource(settings) as hf:
                record = hf.paper(key)
            if record is not None:
                records.append(record)
        except SourceError as exc:
            errors.append(str(exc))
    with session_scope(engine) as session:
        if records:
            upsert_papers(session, records=records)
        paper = get_paper(session, arxiv_id=key)
    if paper is None and errors:
        raise SourceError("; ".join(errors))
    return paper


# --- one source ----------------------------------------------------------------------------


def _run_source(
    name: str, settings: Settings, engine: Engine, *, days: int | None, progress: Progress | None
) -> SourceReport:
    started = time.monotonic()
    params: dict[str, Any] = {"days": days, "offline": settings.paperboy_offline}
    if name == "arxiv" and not settings.paperboy_offline:
        params["categories"] = list(settings.arxiv_categories)
    with session_scope(engine) as session:
        run = IngestRun(source=name, params=params, status=IngestStatus.RUNNING)
        session.add(run)
        session.flush()
        report = SourceReport(source=name, run_id=run.id)
    say = progress or (lambda _message: None)
    try:
        if name == "arxiv":
            _ingest_arxiv(settings, engine, report, days=days, say=say)
        else:
            _ingest_hf(settings, engine, report, days=days, say=say)
    except SourceError as exc:
        report.errors.append(str(exc))
    except Exception as exc:  # a bug in one source must not stop the other
        log.exception("%s ingest crashed", name)
        report.errors.append(f"unexpected error ({type(exc).__name__}: {exc})")
    if not report.errors:
        report.status = IngestStatus.OK
    else:
        report.status = IngestStatus.PARTIAL if report.completed else IngestStatus.FAILED
    report.seconds = time.monotonic() - started
    with session_scope(engine) as session:
        session.execute(
            update(IngestRun)
            .where(IngestRun.id == report.run_id)
            .values(
                status=report.status,
                finished_at=datetime.now(UTC),
                error=report.error,
                params={**params, "completed": report.completed},
                **_counts(report),
            )
        )
    return report


def _ingest_arxiv(
    settings: Settings, engine: Engine, report: SourceReport, *, days: int | None, say: Progress
) -> None:
    if settings.paperboy_offline:
        say("arXiv: reading the bundled sample feed")
        records: list[PaperRecord] = []
        for page in SampleFeed().arxiv_pages():
            records += page.records
            report.skipped += page.skipped
        _store(engine, records, report)
        report.completed.append("sample")
        return

    client = ArxivSource(settings)
    for query, key, expect_results in _arxiv_queries(settings, engine):
        since = _arxiv_cutoff(settings, engine, key=key, days=days)
        records = []
        skipped = 0
        say(f"arXiv {key}: fetching")
        try:
            for page in client.newest(
                query,
                since=since,
                limit=settings.arxiv_max_per_category,
                key=key,
                expect_results=expect_results,
            ):
                records += page.records
                skipped += page.skipped
                say(f"arXiv {key}: {len(records)} papers")
        except ArxivQueryError as exc:  # a bad topic query: the other queries still run
            report.errors.append(f"{key}: {exc}")
            continue
        report.skipped += skipped
        _store(engine, records, report)
        report.completed.append(key)


def _ingest_hf(
    settings: Settings, engine: Engine, report: SourceReport, *, days: int | None, say: Progress
) -> None:
    records: list[PaperRecord] = []
    if settings.paperboy_offline:
        say("Hugging Face: reading the bundled sample feed")
        sample = SampleFeed()
        pages = [page for _, page in sample.hf_daily()] + [sample.hf_trending()]
    else:
        today = datetime.now(UTC).date()
        with HuggingFaceSource(settings) as hf:
            pages = []
            for back in range(days or settings.hf_days):
                day = today - timedelta(days=back)
                say(f"Hugging Face: daily papers of {day.isoformat()}")
                pages.append(hf.daily(day))
            say("Hugging Face: trending")
            pages.append(hf.trending())
    for page in pages:
        records += page.records
        report.skipped += page.skipped
    _store(engine, records, report)
    report.completed.append("all")


def _store(engine: Engine, records: list[PaperRecord], report: SourceReport) -> None:
    """Upsert one batch and move the run's counters, in one transaction."""
    with session_scope(engine) as session:
        counts = upsert_papers(session, records=records, run_id=report.run_id)
        report.fetched += len(records)
        report.inserted += counts.inserted
        report.updated += counts.updated
        session.execute(
            update(IngestRun).where(IngestRun.id == report.run_id).values(**_counts(report))
        )


def _counts(report: SourceReport) -> dict[str, int]:
    return {
        "fetched": report.fetched,
        "inserted": report.inserted,
        "updated": report.updated,
        "skipped": report.skipped,
    }


def _arxiv_queries(settings: Settings, engine: Engine) -> list[tuple[str, str, bool]]:
    """(arXiv search_query, provenance key, whether an empty answer is suspicious)."""
    queries = [(f"cat:{c}", c, True) for c in settings.arxiv_categories]
    with Session(engine) as session:
        topics = session.execute(
            select(Topic.name, Topic.arxiv_query).where(Topic.arxiv_query.is_not(None))
        ).all()
    # A topic's own query may rightly find nothing new.
    queries += [(q.strip(), f"topic:{name}", False) for name, q in topics if q and q.strip()]
    return queries


def _arxiv_cutoff(
    settings: Settings, engine: Engine, *, key: str, days: int | None
) -> datetime | None:
    """Oldest submission date still worth reading for one query: the start of the last run that
    completed it, minus the overlap (arXiv back-fills); None on the first run (the per-category
    cap bounds it)."""
    now = datetime.now(UTC)
    if days is not None:
        return now - timedelta(days=days)
    with Session(engine) as session:
        runs = session.execute(
            select(IngestRun.started_at, IngestRun.params)
            .where(
                IngestRun.source == "arxiv",
                IngestRun.status.in_((IngestStatus.OK, IngestStatus.PARTIAL)),
            )
            .order_by(IngestRun.started_at.desc())
            .limit(50)
        ).all()
    for started_at, params in runs:
        if key in (params or {}).get("completed", []):
            return started_at - timedelta(hours=settings.arxiv_overlap_hours)
    return None
