"""Ingestion: run each paper source, upsert what it finds, and keep a record of every run.

Runs from `paperboy ingest`, `paperboy demo` and the scheduler, over the sources it is handed
(app/sources: `build_sources`). Each source gets its own `ingest_runs` row (status ok | partial |
failed, counts, error text) and its own failures: an HTTP error, a timeout or a malformed feed in
one source is recorded and the others still run.

When papers are written (the "nothing changes on failure" rule): per chunk a source yields
(app/sources/base.py), in one transaction. arXiv yields one chunk per query (a category, a
topic's arXiv query) after all of its pages; Hugging Face one chunk for everything (a handful of
quick requests). A chunk that fails changes nothing; chunks stored before it are kept (the run is
then "partial"). The next run reads each chunk's part from when the last run completed it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.authors import followed_authors
from app.db.embeddings import embed_papers, embed_pending, index_backlog
from app.db.engine import session_scope
from app.db.enrichment import enrichment_candidates
from app.db.models import IngestRun, IngestStatus, Paper, Topic
from app.db.papers import UpsertCounts, get_paper, upsert_papers
from app.db.summaries import queue_new_versions
from app.embeddings import Embedder
from app.errors import SourceError, UserInputError
from app.paperids import split_version
from app.sources import FetchContext, Source
from app.sources.base import FollowedAuthor, StoredQuery, reads_followed_authors
from app.sources.records import PaperRecord

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
# Vectors added to the index in one go after which index_vectors refreshes the statistics.
ANALYZE_AFTER = 10_000


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
    requeued: int = 0  # followed papers with a new arXiv version: new card jobs
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
        if self.requeued:
            counts += f", {self.requeued} new version(s) queued for a new card"
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
    sources: Sequence[Source],
    embedder: Embedder,
) -> IngestReport:
    """Ingest from `source` (a source's name, or "all") of `sources` (built once by the
    composition root, app/runtime.py). `days` widens the window: arXiv papers submitted in the
    last N days (still capped per category), Hugging Face's last N daily lists."""
    if days is not None and days < 1:
        raise UserInputError("--days must be at least 1")
    names = [s.name for s in sources]
    if source != "all" and source not in names:
        raise UserInputError(f"unknown source {source!r} (use {', '.join(names)} or all)")
    chosen = [s for s in sources if source in ("all", s.name)]
    authors = _followed_authors(engine)
    if not any(a.s2_author_id for a in authors):  # a source of authors' lists has nothing to do
        chosen = [s for s in chosen if not reads_followed_authors(s)]
    return IngestReport(
        [
            _run_source(
                s,
                settings,
                engine,
                days=days,
                progress=progress,
                embedder=embedder,
                authors=authors,
            )
            for s in chosen
        ]
    )


def store_records(
    session: Session,
    *,
    records: Sequence[PaperRecord],
    embedder: Embedder,
    run_id: int | None = None,
) -> UpsertCounts:
    """Upsert `records` and embed the papers whose text is new or changed, in the caller's
    transaction: every path that stores papers (ingest, backfill, on-demand fetches, related
    papers) goes through here, so a stored paper is searchable by meaning at once."""
    counts = upsert_papers(session, records=records, run_id=run_id)
    embed_papers(session, embedder=embedder, paper_ids=counts.paper_ids)
    return counts


def fetch_paper_on_demand(
    settings: Settings,
    engine: Engine,
    *,
    arxiv_id: str,
    sources: Sequence[Source],
    embedder: Embedder,
) -> Paper | None:
    """Fetch one paper now from every source that knows arXiv ids, and store it. Returns the
    stored paper, None when no source knows it; SourceError when every source failed and
    nothing is stored."""
    try:
        key, _ = split_version(arxiv_id)
    except ValueError:
        raise UserInputError(f"not an arXiv id: {arxiv_id!r}") from None
    records: list[PaperRecord] = []
    errors: list[str] = []
    for src in sources:
        try:
            records += src.lookup({"arxiv": [key]})
        except SourceError as exc:
            errors.append(str(exc))
    with session_scope(engine) as session:
        if records:
            store_records(session, records=records, embedder=embedder)
            queue_new_versions(session, arxiv_ids=[key], max_attempts=settings.llm_max_attempts)
        paper = get_paper(session, arxiv_id=key)
    if paper is None and errors:
        raise SourceError("; ".join(errors))
    return paper


def embed_backlog(engine: Engine, *, embedder: Embedder, limit: int, batch: int = 1_000) -> int:
    """Embed up to `limit` papers whose vector is missing or stale, one transaction per batch;
    returns how many. The scheduler's ingest calls it so such papers catch up unattended."""
    done, after = 0, 0
    while done < limit:
        with session_scope(engine) as session:
            after, count = embed_pending(
                session, embedder=embedder, after_id=after, limit=min(batch, limit - done)
            )
        if after < 0:
            break
        done += count
    return done


def index_vectors(
    engine: Engine,
    *,
    limit: int,
    batch: int = 1_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Add up to `limit` stored vectors to the HNSW index, one transaction per `batch`; returns
    how many (`progress` gets each batch's count). Vectors are written unindexed so storing
    papers never waits for the index (app/db/embeddings.py); the scheduler's `index` job,
    `paperboy embed` and `paperboy backfill` call this. After a large drain the table's
    statistics are refreshed, so the planner knows the backlog is small again."""
    done = 0
    while done < limit:
        with session_scope(engine) as session:
            count = index_backlog(session, limit=min(batch, limit - done))
        if not count:
            break
        done += count
        if progress is not None:
            progress(count)
    if done >= ANALYZE_AFTER:
        with session_scope(engine) as session:
            session.execute(text("ANALYZE paper_embeddings"))
    return done


# --- one source ----------------------------------------------------------------------------


def _run_source(
    source: Source,
    settings: Settings,
    engine: Engine,
    *,
    days: int | None,
    progress: Progress | None,
    embedder: Embedder,
    authors: Sequence[FollowedAuthor] = (),
) -> SourceReport:
    started = time.monotonic()
    params: dict[str, Any] = {"days": days, "offline": settings.paperboy_offline}
    params.update(source.run_params())
    with session_scope(engine) as session:
        run = IngestRun(source=source.name, params=params, status=IngestStatus.RUNNING)
        session.add(run)
        session.flush()
        report = SourceReport(source=source.name, run_id=run.id)
    context = FetchContext(
        days=days,
        topic_queries=_topic_queries(engine),
        since=lambda key: _last_completed(engine, source=source.name, key=key),
        progress=progress or (lambda _message: None),
        stored=lambda query: _stored(engine, source=source.name, query=query),
        authors=authors,
    )
    try:
        for chunk in source.fetch(context):
            if chunk.error is not None:  # this part failed on its own: the others still run
                report.errors.append(f"{chunk.key}: {chunk.error}")
                continue
            report.skipped += chunk.skipped
            _store(engine, chunk.records, report, embedder, settings.llm_max_attempts)
            report.completed.append(chunk.key)
    except SourceError as exc:
        report.errors.append(str(exc))
    except Exception as exc:  # a bug in one source must not stop the others
        log.exception("%s ingest crashed", source.name)
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


def _store(
    engine: Engine,
    records: list[PaperRecord],
    report: SourceReport,
    embedder: Embedder,
    max_attempts: int,
) -> None:
    """Upsert and embed one batch, queue new cards for followed papers that gained a new arXiv
    version, and move the run's counters, in one transaction."""
    with session_scope(engine) as session:
        counts = store_records(session, records=records, embedder=embedder, run_id=report.run_id)
        if counts.updated:  # a new version updates its row; nothing else can be stale here
            report.requeued += queue_new_versions(
                session,
                arxiv_ids=[r.arxiv_id for r in records if r.arxiv_id and r.version],
                max_attempts=max_attempts,
            )
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


def _topic_queries(engine: Engine) -> list[tuple[str, str]]:
    """(topic name, its own search query) for sources that search."""
    with Session(engine) as session:
        topics = session.execute(
            select(Topic.name, Topic.arxiv_query).where(Topic.arxiv_query.is_not(None))
        ).all()
    return [(name, query) for name, query in topics if query and query.strip()]


def _last_completed(engine: Engine, *, source: str, key: str) -> datetime | None:
    """When the last run of `source` that completed part `key` started; None if none did."""
    with Session(engine) as session:
        runs = session.execute(
            select(IngestRun.started_at, IngestRun.params)
            .where(
                IngestRun.source == source,
                IngestRun.status.in_((IngestStatus.OK, IngestStatus.PARTIAL)),
            )
            .order_by(IngestRun.started_at.desc())
            .limit(50)
        ).all()
    for started_at, params in runs:
        if key in (params or {}).get("completed", []):
            return started_at
    return None


def _stored(engine: Engine, *, source: str, query: StoredQuery) -> list[dict[str, str]]:
    """Stored papers an enriching source asks about (app/db/enrichment.py has the policy)."""
    with Session(engine) as session:
        return enrichment_candidates(session, source=source, query=query)


def _followed_authors(engine: Engine) -> list[FollowedAuthor]:
    """The authors channels follow, each once (app/db/authors.py)."""
    with Session(engine) as session:
        return followed_authors(session)
