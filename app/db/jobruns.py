"""Scheduled job runs (`job_runs`): one row per (job, scheduled time), so replicas never run a
job twice, and /healthz can say when each job last ran and how it went.

Keyword-only functions taking a Session; the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db.models import JobRun, JobRunStatus, SlackEvent

# Longest an error text is kept: enough for one line plus an error id, never a whole traceback.
_MAX_ERROR = 500


@dataclass(frozen=True)
class JobRunView:
    """A job run as reported by /healthz."""

    job_id: str
    scheduled_for: datetime
    status: JobRunStatus
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    owner: str | None

    def as_json(self) -> dict[str, str | None]:
        return {
            "scheduled_for": self.scheduled_for.isoformat(),
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
            "owner": self.owner,
        }


def _view(row: JobRun) -> JobRunView:
    return JobRunView(
        job_id=row.job_id,
        scheduled_for=row.scheduled_for,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=row.error,
        owner=row.owner,
    )


def claim_run(
    session: Session, *, job_id: str, scheduled_for: datetime, owner: str | None = None
) -> int | None:
    """Record that this process runs `job_id` for `scheduled_for`.

    Returns the new row's id, or None when a row already exists: another replica (or an earlier
    attempt of this one) owns that run and it must not run again.
    """
    stmt = (
        insert(JobRun)
        .values(
            job_id=job_id,
            scheduled_for=scheduled_for,
            status=JobRunStatus.RUNNING,
            owner=owner,
        )
        .on_conflict_do_nothing(constraint="uq_job_runs_job_time")
        .returning(JobRun.id)
    )
    return session.execute(stmt).scalar_one_or_none()


def finish_run(
    session: Session, *, run_id: int, status: JobRunStatus, error: str | None = None
) -> None:
    """Close a claimed run (`ok` or `failed`), with a one-line error if any."""
    if error is not None and len(error) > _MAX_ERROR:
        error = error[: _MAX_ERROR - 1] + "…"
    session.execute(
        update(JobRun)
        .where(JobRun.id == run_id)
        .values(status=status, error=error, finished_at=func.now())
    )


def last_runs(session: Session) -> list[JobRunView]:
    """The latest run of each job (by scheduled time), sorted by job id."""
    # row_number() rather than DISTINCT ON: portable across SQLAlchemy 2.0 and 2.1.
    rank = (
        func.row_number()
        .over(partition_by=JobRun.job_id, order_by=(JobRun.scheduled_for.desc(), JobRun.id.desc()))
        .label("rank")
    )
    ranked = select(JobRun.id, rank).subquery()
    stmt = (
        select(JobRun)
        .join(ranked, ranked.c.id == JobRun.id)
        .where(ranked.c.rank == 1)
        .order_by(JobRun.job_id)
    )
    return [_view(row) for row in session.scalars(stmt)]


def runs_for(session: Session, *, job_id: str) -> list[JobRunView]:
    """Every recorded run of one job, oldest first (tests and operators)."""
    stmt = select(JobRun).where(JobRun.job_id == job_id).order_by(JobRun.scheduled_for, JobRun.id)
    return [_view(row) for row in session.scalars(stmt)]


def abandon_stale_runs(session: Session, *, now: datetime, older_than: timedelta) -> int:
    """Mark runs still `running` long after they started as `abandoned` (their process died)."""
    result = session.execute(
        update(JobRun)
        .where(JobRun.status == JobRunStatus.RUNNING, JobRun.started_at < now - older_than)
        .values(status=JobRunStatus.ABANDONED, error="process stopped before the run finished")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def prune_runs(session: Session, *, now: datetime, keep: timedelta) -> int:
    """Delete finished runs older than `keep`; the unique rows only matter for recent slots."""
    result = session.execute(
        delete(JobRun).where(
            JobRun.scheduled_for < now - keep, JobRun.status != JobRunStatus.RUNNING
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def prune_slack_events(session: Session, *, before: datetime) -> int:
    """Forget handled Slack event ids received before `before` (housekeeping job).

    Slack only retries a delivery for minutes; the dedupe itself lives in app/db/interactions.py.
    """
    result = session.execute(delete(SlackEvent).where(SlackEvent.received_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
