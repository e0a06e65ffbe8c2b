"""Scheduled jobs: APScheduler 3.x in UTC, each job a thin wrapper around a service function.

Runs inside `paperboy serve` (a BackgroundScheduler) or alone as `paperboy scheduler` (a
BlockingScheduler). Several processes may run it against one database: APScheduler's own job
store is per process (never shared, see its FAQ), so replicas coordinate through PostgreSQL.
Every run of a job belongs to a slot, the trigger's latest fire time, which every replica
computes the same way; a run needs

- `pg_try_advisory_xact_lock` on the job, held for the whole run, so two slots of one job never
  overlap (a long ingest on one replica and the next hour's on another), and
- a new unique `job_runs(job_id, scheduled_for)` row, so a replica that fires late cannot rerun
  a slot another one already finished.

Status, end time and error of each run land in `job_runs`, which /healthz reports.

When `paperboy serve` or `paperboy scheduler` starts on a stale archive (no successful ingest of
every source within the last hour, e.g. a fresh install), `catch_up_ingest` runs the ingest at
once, in the background, under the same lock and a `job_runs` row of its own.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine, text

from app import schedule
from app.config import Settings
from app.db import jobruns, tallies
from app.db.engine import session_scope
from app.db.models import IngestStatus, JobRunStatus
from app.digest import DigestOutcome, run_due_digests
from app.digest.ports import Poster
from app.digest.taste import Recommender, TasteDeps
from app.embeddings import Embedder
from app.errors import PaperboyError, log_unexpected
from app.ingest import embed_backlog, index_vectors, run_ingest
from app.relevance import refresh_relevance
from app.sources import Source
from app.sources.base import reads_followed_authors

log = logging.getLogger(__name__)

# First key of the two-key advisory locks taken by scheduled jobs (the second is hashtext(job)),
# so they cannot collide with the schema-migration lock or anyone else's.
LOCK_NAMESPACE = 7210
# Jobs run in UTC: arXiv announces around 00:00-01:00 UTC; channels' own schedules (with their own
# time zones) are handled inside the digest tick.
SCHEDULER_TZ = ZoneInfo("UTC")
# Slack event ids are only needed while Slack may still retry a delivery (minutes), job_runs
# rows while a late replica may still fire their slot; keep both a while for operators.
EVENTS_KEEP = timedelta(days=7)
RUNS_KEEP = timedelta(days=14)
STALE_RUN = timedelta(hours=6)
# How far back a job's slot is looked for: far beyond its longest interval (a day).
SLOT_LOOKBACK = timedelta(days=64)
INGEST_JOB = "ingest"
# Papers without a current vector (stored before embeddings existed, or by a model change)
# embedded per ingest run, about 3 s of work: `paperboy embed` does the rest at once.
EMBED_PER_RUN = 5_000
# Vectors the `index` job adds to the HNSW index per run (about 800 a second): a day of papers
# in seconds, a backfill in a few runs. Until then they are found by exact scan.
INDEX_PER_RUN = 100_000
# How often the ingest job runs (its trigger below): an archive whose sources have not all
# ingested successfully within this long is stale, and a starting process catches up at once.
INGEST_EVERY = timedelta(hours=1)


class JobFailed(PaperboyError):
    """A job finished but part of its work failed (recorded on the run, shown by /healthz)."""


class Outcome(StrEnum):
    RAN = "ran"
    FAILED = "failed"
    DUPLICATE = "duplicate"  # another replica (or an earlier attempt) owns this slot
    BUSY = "busy"  # an earlier slot of the same job is still running somewhere
    NOT_NEEDED = "not_needed"  # its `needed` check said no (another process just did the work)


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: a fixed id, a trigger, and a body taking the slot's time."""

    id: str
    trigger: BaseTrigger
    body: Callable[[datetime], object]
    misfire_grace_time: int = 60


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_guarded(
    engine: Engine,
    *,
    job_id: str,
    scheduled_for: datetime,
    body: Callable[[], object],
    owner: str | None = None,
    needed: Callable[[], bool] | None = None,
) -> Outcome:
    """Run `body` once for (job_id, scheduled_for) across every process sharing the database.

    Errors never escape: they are logged (with an error id when unexpected) and recorded on the
    run, so the scheduler keeps going and the next slot runs as usual. `needed`, if given, is
    asked while the lock is held (so it sees what another process finished just before) and a
    "no" records nothing.
    """
    owner = owner or owner_name()
    with engine.connect() as lock_conn, lock_conn.begin():
        # A transaction-level lock on a connection of its own: released by the commit below even
        # if this process dies, and never left behind on a pooled connection.
        locked = lock_conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:ns, hashtext(:job))"),
            {"ns": LOCK_NAMESPACE, "job": job_id},
        ).scalar_one()
        if not locked:
            log.info("job %s (%s): another run is in progress, skipped", job_id, scheduled_for)
            return Outcome.BUSY
        if needed is not None and not needed():
            log.info("job %s (%s): not needed any more, skipped", job_id, scheduled_for)
            return Outcome.NOT_NEEDED
        with session_scope(engine) as session:
            run_id = jobruns.claim_run(
                session, job_id=job_id, scheduled_for=scheduled_for, owner=owner
            )
        if run_id is None:
            log.debug("job %s (%s): already run by another process", job_id, scheduled_for)
            return Outcome.DUPLICATE
        status, error = JobRunStatus.OK, None
        try:
            body()
        except PaperboyError as exc:  # expected (a source down, a budget spent): one line
            status, error = JobRunStatus.FAILED, str(exc)
            log.warning("job %s (%s) failed: %s", job_id, scheduled_for, exc)
        except Exception as exc:  # noqa: BLE001 - the scheduler's thread must survive any job
            error_id = log_unexpected(log, "job %s (%s) failed", job_id, scheduled_for)
            status, error = (
                JobRunStatus.FAILED,
                f"{type(exc).__name__}: {exc} (error id {error_id})",
            )
        with session_scope(engine) as session:
            jobruns.finish_run(session, run_id=run_id, status=status, error=error)
    return Outcome.RAN if status == JobRunStatus.OK else Outcome.FAILED


def fire(
    engine: Engine, spec: JobSpec, *, now: datetime | None = None, owner: str | None = None
) -> Outcome:
    """What the scheduler calls: work out the slot, then run the job's body guarded."""
    now = now or datetime.now(UTC)
    slot = schedule.latest_fire_time(spec.trigger, now=now, within=SLOT_LOOKBACK)
    if slot is None:
        raise ValueError(f"job {spec.id}: its trigger has not fired in {SLOT_LOOKBACK.days} days")
    return run_guarded(
        engine, job_id=spec.id, scheduled_for=slot, body=lambda: spec.body(slot), owner=owner
    )


# --- the jobs: thin wrappers around service functions ---------------------------------------


def ingest_job(
    settings: Settings, engine: Engine, sources: Sequence[Source], embedder: Embedder
) -> None:
    """New papers from arXiv and Hugging Face, then relevance scores (and LLM grading queued)."""
    report = run_ingest(settings, engine, sources=sources, embedder=embedder)
    embed_backlog(engine, embedder=embedder, limit=EMBED_PER_RUN)
    # Score whatever did arrive even when one source failed; then report the failure.
    refresh_relevance(settings, engine, embedder=embedder)
    failed = [
        f"{s.source}: {s.error or 'failed'}"
        for s in report.sources
        if s.status == IngestStatus.FAILED
    ]
    if failed:
        raise JobFailed("ingest failed for " + "; ".join(failed))


def index_job(engine: Engine) -> None:
    """Add the vectors ingest wrote since the last run to the HNSW index."""
    added = index_vectors(engine, limit=INDEX_PER_RUN)
    if added:
        log.info("index: %d vectors added to the HNSW index", added)


def ingest_is_stale(engine: Engine, sources: Sequence[Source], *, now: datetime) -> bool:
    """True unless every source's last successful ingest finished within INGEST_EVERY."""
    with session_scope(engine) as session:
        last_ok = tallies.last_ingest_ok(session)
    return any(
        last_ok.get(source.name) is None or last_ok[source.name] < now - INGEST_EVERY
        for source in sources
        if not reads_followed_authors(source)  # runs only while authors are followed
    )


def catch_up_ingest(
    settings: Settings,
    engine: Engine,
    sources: Sequence[Source],
    embedder: Embedder,
    *,
    now: datetime | None = None,
    owner: str | None = None,
) -> Outcome:
    """Ingest now if the archive is stale, so a fresh install has papers within a minute instead
    of at the next :35. Replicas starting together ingest once: the ingest job's lock serializes
    them and the staleness check, made under it, sees what the first one stored. The run is
    recorded under the ingest job's id (its slot is the start time), so /healthz shows it."""
    now = now or datetime.now(UTC)
    try:
        return run_guarded(
            engine,
            job_id=INGEST_JOB,
            scheduled_for=now.replace(second=0, microsecond=0),
            body=lambda: ingest_job(settings, engine, sources, embedder),
            owner=owner,
            needed=lambda: ingest_is_stale(engine, sources, now=datetime.now(UTC)),
        )
    except Exception:  # noqa: BLE001 - runs on its own thread at start-up: report, never crash
        log_unexpected(log, "start-up ingest failed")
        return Outcome.FAILED


def digest_tick(
    settings: Settings,
    engine: Engine,
    poster: Poster,
    now: datetime,
    embedder: Embedder | None = None,
    taste: TasteDeps | None = None,
) -> None:
    """Post every channel digest that is due at `now` (each channel's own cron and time zone).

    One channel failing does not stop the others; the run is still recorded as failed, so
    /healthz shows it (the digest resumes on a later tick).
    """
    results = run_due_digests(settings, engine, poster, now, embedder=embedder, taste=taste)
    failed = [r for r in results if r.status == DigestOutcome.FAILED]
    if failed:
        detail = "; ".join(f"{r.channel_id}: {r.error}" for r in failed[:5])
        raise JobFailed(f"{len(failed)} of {len(results)} digests failed ({detail})")


def housekeeping(engine: Engine, now: datetime) -> None:
    """Forget old Slack event ids and job runs; mark runs of dead processes as abandoned."""
    with session_scope(engine) as session:
        events = jobruns.prune_slack_events(session, before=now - EVENTS_KEEP)
        stale = jobruns.abandon_stale_runs(session, now=now, older_than=STALE_RUN)
        pruned = jobruns.prune_runs(session, now=now, keep=RUNS_KEEP)
    log.info("housekeeping: %d event ids, %d job runs removed, %d abandoned", events, pruned, stale)


def job_specs(
    settings: Settings,
    engine: Engine,
    poster: Poster,
    sources: Sequence[Source],
    embedder: Embedder,
    s2: Recommender | None = None,
) -> list[JobSpec]:
    """Paperboy's scheduled jobs, with their fixed ids. `s2`: Semantic Scholar, for digests'
    recommendations (app/digest/recommend.py)."""
    return [
        # Hourly; the :35 run after 00:00/01:00 UTC (summer/winter) picks up arXiv's announcement.
        JobSpec(
            id=INGEST_JOB,
            trigger=CronTrigger(minute=35, timezone=SCHEDULER_TZ),
            body=lambda _slot: ingest_job(settings, engine, sources, embedder),
            misfire_grace_time=15 * 60,
        ),
        JobSpec(
            id="digest",
            trigger=CronTrigger(minute="*", second=0, timezone=SCHEDULER_TZ),
            body=lambda slot: digest_tick(
                settings, engine, poster, slot, embedder, TasteDeps(embedder, s2)
            ),
            misfire_grace_time=50,
        ),
        # Every 5 minutes, so the exact scan of not-yet-indexed vectors stays short.
        JobSpec(
            id="index",
            trigger=CronTrigger(minute="*/5", second=30, timezone=SCHEDULER_TZ),
            body=lambda _slot: index_job(engine),
            misfire_grace_time=4 * 60,
        ),
        JobSpec(
            id="housekeeping",
            trigger=CronTrigger(hour=3, minute=17, timezone=SCHEDULER_TZ),
            body=lambda slot: housekeeping(engine, slot),
            misfire_grace_time=60 * 60,
        ),
    ]


def build_scheduler(
    engine: Engine, specs: list[JobSpec], *, blocking: bool = False, owner: str | None = None
) -> BaseScheduler:
    """A scheduler (not started) holding `specs` under their fixed ids."""
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(
        timezone=SCHEDULER_TZ,
        # Enough threads that a long ingest never holds up the minute digest tick.
        executors={"default": ThreadPoolExecutor(max_workers=4)},
        job_defaults={"coalesce": True, "max_instances": 1},
    )
    owner = owner or owner_name()
    for spec in specs:
        scheduler.add_job(
            fire,
            trigger=spec.trigger,
            args=(engine, spec),
            kwargs={"owner": owner},
            id=spec.id,
            name=spec.id,
            replace_existing=True,
            misfire_grace_time=spec.misfire_grace_time,
        )
    return scheduler


def start_scheduler(
    settings: Settings,
    engine: Engine,
    poster: Poster,
    sources: Sequence[Source],
    embedder: Embedder,
    s2: Recommender | None = None,
) -> BaseScheduler:
    """Start Paperboy's jobs in background threads (for `paperboy serve`)."""
    specs = job_specs(settings, engine, poster, sources, embedder, s2)
    scheduler = build_scheduler(engine, specs)
    scheduler.start()
    log.info("scheduler started: %s", ", ".join(job.id for job in scheduler.get_jobs()))
    return scheduler
