"""The LLM job queue in PostgreSQL (`llm_jobs`).

Claiming is one short transaction: `SELECT ... FOR UPDATE SKIP LOCKED` picks claimable jobs
(pending and due, or running with an expired lease: a crashed worker's), marks them running with
a lease and one more attempt, and commits before any LLM call. Finishing a job checks that the
lease is still ours, so a worker that was presumed dead cannot overwrite its successor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Float,
    Integer,
    and_,
    case,
    column,
    func,
    or_,
    select,
    text,
    update,
    values,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db.models import JobState, LlmCall, LlmJob, Paper
from app.db.models.base import status_in
from app.db.models.states import JOB_LIVE
from app.db.papers import paper_key

LIVE = text(status_in("state", JOB_LIVE))
MAX_BACKOFF_SECONDS = 3600.0


def dedupe_key(kind: str, arxiv_id: str | None = None, topic_id: int | None = None) -> str:
    return f"{kind}:{arxiv_id or '-'}:{topic_id if topic_id is not None else '-'}"


def _row(
    kind: str,
    arxiv_id: str | None,
    topic_id: int | None,
    urgent: bool,
    priority: float,
    payload: dict[str, Any] | None,
    max_attempts: int,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "paper_id": paper_key(arxiv_id) if arxiv_id else None,
        "topic_id": topic_id,
        "payload": payload or {},
        # Urgent (Slack) jobs sort before everything else at equal urgency too.
        "priority": min(priority, -1.0) if urgent else priority,
        "urgent": urgent,
        "state": JobState.PENDING,
        "attempts": 0,
        "max_attempts": max_attempts,
        "dedupe_key": dedupe_key(kind, arxiv_id, topic_id),
    }


def enqueue(
    session: Session,
    *,
    kind: str,
    arxiv_id: str | None = None,
    topic_id: int | None = None,
    urgent: bool = False,
    priority: float = 0.0,
    payload: dict[str, Any] | None = None,
    max_attempts: int = 5,
) -> bool:
    """Queue a job unless the same one is already live; True if a new job was created.

    An urgent request for a job already queued makes that job urgent and due now, so a Slack
    request jumps the queue even when ingest queued the same paper first.
    """
    stmt = insert(LlmJob).values(
        _row(kind, arxiv_id, topic_id, urgent, priority, payload, max_attempts)
    )
    if not urgent:
        stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=LIVE)
        return session.execute(stmt.returning(LlmJob.id)).scalar() is not None
    upsert = stmt.on_conflict_do_update(
        index_elements=["dedupe_key"],
        index_where=LIVE,
        set_={
            "urgent": True,
            "priority": func.least(LlmJob.priority, stmt.excluded.priority),
            "run_after": func.least(LlmJob.run_after, func.now()),
        },
    ).returning(text("(xmax = 0) AS inserted"))
    return bool(session.execute(upsert).scalar())


def enqueue_many(
    session: Session,
    *,
    kind: str,
    items: Sequence[tuple[str | None, int | None, float]],
    max_attempts: int = 5,
) -> int:
    """Queue many non-urgent jobs at once: (arxiv_id, topic_id, priority) each. Returns new."""
    if not items:
        return 0
    rows = [_row(kind, a, t, False, p, None, max_attempts) for a, t, p in items]
    stmt = (
        insert(LlmJob)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=LIVE)
    )
    return len(session.execute(stmt.returning(LlmJob.id)).all())


def _claimable() -> Any:
    return or_(
        and_(LlmJob.state == JobState.PENDING, LlmJob.run_after <= func.now()),
        and_(LlmJob.state == JobState.RUNNING, LlmJob.lease_until < func.now()),
    )


def claim(
    session: Session,
    *,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    urgent: bool | None = None,
    kind: str | None = None,
    topic_id: int | None = None,
    arxiv_id: str | None = None,
) -> list[LlmJob]:
    """Lease up to `limit` due jobs, most urgent and most relevant first, in one statement
    (a 1,000-card drain claims in a few round trips, not thousands). The caller commits."""
    filters = {"urgent": urgent, "kind": kind, "topic_id": topic_id}
    picked = select(LlmJob.id).where(
        _claimable(), *(getattr(LlmJob, k) == v for k, v in filters.items() if v is not None)
    )
    if arxiv_id is not None:
        picked = picked.where(LlmJob.paper_id == paper_key(arxiv_id))
    ids = (
        picked.order_by(LlmJob.urgent.desc(), LlmJob.priority, LlmJob.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("picked")
    )
    # Its worker died on the last allowed attempt: give up, keeping what we knew.
    spent = and_(LlmJob.state == JobState.RUNNING, LlmJob.attempts >= LlmJob.max_attempts)

    def unless_spent(then: Any, spent_value: Any) -> Any:
        return case((spent, spent_value), else_=then)

    lease = func.now() + timedelta(seconds=lease_seconds)
    expired = func.coalesce(LlmJob.last_error, "") + " (lease expired on the last attempt)"
    stmt = (
        update(LlmJob)
        .where(LlmJob.id == ids.c.id)
        .values(
            state=unless_spent(JobState.RUNNING.value, JobState.DEAD.value),
            attempts=unless_spent(LlmJob.attempts + 1, LlmJob.attempts),
            leased_by=unless_spent(worker_id, LlmJob.leased_by),
            lease_until=unless_spent(lease, LlmJob.lease_until),
            last_error=unless_spent(LlmJob.last_error, expired),
            finished_at=unless_spent(LlmJob.finished_at, func.now()),
        )
        .returning(LlmJob)
    )
    rows = session.scalars(
        stmt, execution_options={"synchronize_session": False, "populate_existing": True}
    ).all()
    claimed = [j for j in rows if j.state == JobState.RUNNING]
    return sorted(claimed, key=lambda j: (not j.urgent, j.priority, j.id))


def _mine(job_ids: Iterable[int], worker_id: str) -> Any:
    return and_(
        LlmJob.id.in_(list(job_ids)),
        LlmJob.state == JobState.RUNNING,
        LlmJob.leased_by == worker_id,
    )


def complete(session: Session, *, job_id: int, worker_id: str, note: str | None = None) -> bool:
    """Mark done (with an optional note, e.g. "fallback: refused"). False if no longer ours."""
    return complete_many(session, job_ids=[job_id], worker_id=worker_id, note=note) == 1


def complete_many(
    session: Session, *, job_ids: Sequence[int], worker_id: str, note: str | None = None
) -> int:
    """Mark done in one statement; returns how many were still ours."""
    if not job_ids:
        return 0
    result = session.execute(
        update(LlmJob)
        .where(_mine(job_ids, worker_id))
        .values(state=JobState.DONE, finished_at=func.now(), lease_until=None, last_error=note)
    )
    return int(cast(CursorResult[Any], result).rowcount)  # an UPDATE's result is a CursorResult


def fail(
    session: Session,
    *,
    job_id: int,
    worker_id: str,
    error: str,
    retry_base_seconds: float,
    max_attempts: int,
    retryable: bool = True,
    direct: bool = False,
) -> JobState | None:
    """Back off (base * 2^(attempts-1), capped) or, after the last attempt, mark dead keeping
    the error. `direct` marks the job to be run on its own next time, not in a batch. Returns
    the new state, or None if the job is no longer ours."""
    job = session.scalar(select(LlmJob).where(_mine([job_id], worker_id)).with_for_update())
    if job is None:
        return None
    if direct:
        job.payload = {**(job.payload or {}), "direct": True}
    job.last_error = error[:2000]
    job.lease_until = None
    job.batch_id = None
    if not retryable or job.attempts >= min(job.max_attempts, max_attempts):
        job.state = JobState.DEAD
        job.finished_at = func.now()
    else:
        delay = min(retry_base_seconds * 2 ** max(job.attempts - 1, 0), MAX_BACKOFF_SECONDS)
        job.state = JobState.PENDING
        job.leased_by = None
        job.run_after = func.now() + timedelta(seconds=delay)
    session.flush()
    return job.state


def defer(
    session: Session, *, job_ids: Iterable[int], worker_id: str, until: Any, reason: str
) -> None:
    """Put jobs back until `until` without counting the attempt (e.g. budget spent today)."""
    session.execute(
        update(LlmJob)
        .where(_mine(job_ids, worker_id))
        .values(
            state=JobState.PENDING,
            attempts=case((LlmJob.attempts > 0, LlmJob.attempts - 1), else_=0),
            run_after=until,
            lease_until=None,
            leased_by=None,
            batch_id=None,
            last_error=reason,
        )
    )


def set_batch(
    session: Session,
    *,
    groups: dict[int, list[int]],
    batch_id: str,
    worker_id: str,
    lease_seconds: float,
    reserve_usd: dict[int, Decimal] | None = None,
) -> None:
    """Remember which batch (and which request in it: the lead job's id) each job went into,
    and on the lead job what its request may cost (counted as spent until it is done). One
    statement for the whole batch."""
    reserve_usd = reserve_usd or {}
    rows = [
        (member, lead, float(reserve_usd.get(lead, 0)) if member == lead else 0.0)
        for lead, members in groups.items()
        for member in members
    ]
    if not rows:
        return
    plan = values(
        column("job_id", Integer), column("lead", Integer), column("reserve", Float), name="plan"
    ).data(rows)
    session.execute(
        update(LlmJob)
        .where(LlmJob.id == plan.c.job_id, _mine([r[0] for r in rows], worker_id))
        .values(
            batch_id=batch_id,
            payload=LlmJob.payload.op("||")(
                func.jsonb_build_object("group", plan.c.lead, "reserve_usd", plan.c.reserve)
            ),
            lease_until=func.now() + timedelta(seconds=lease_seconds),
        )
        .execution_options(synchronize_session=False)
    )


def batch_reserved_usd(session: Session) -> Decimal:
    """The upper-bound cost of batch requests submitted and not yet stored or failed."""
    total = session.scalar(
        select(func.coalesce(func.sum(LlmJob.payload["reserve_usd"].as_float()), 0.0)).where(
            LlmJob.state == JobState.RUNNING, LlmJob.batch_id.is_not(None)
        )
    )
    return Decimal(str(total or 0)).quantize(Decimal("0.000001"))


def extend_lease(
    session: Session, *, job_ids: Iterable[int], worker_id: str, lease_seconds: float
) -> None:
    session.execute(
        update(LlmJob)
        .where(_mine(job_ids, worker_id))
        .values(lease_until=func.now() + timedelta(seconds=lease_seconds))
    )


def count_failure(
    session: Session, *, job_ids: Iterable[int], worker_id: str, error: str
) -> list[LlmJob]:
    """Count a failure that did not end the jobs' lease (a failed batch poll) as an attempt;
    returns the jobs that have now used all of theirs."""
    session.execute(
        update(LlmJob)
        .where(_mine(job_ids, worker_id))
        .values(attempts=LlmJob.attempts + 1, last_error=error[:2000])
    )
    return list(
        session.scalars(
            select(LlmJob).where(_mine(job_ids, worker_id), LlmJob.attempts >= LlmJob.max_attempts)
        )
    )


def held_in_batch(session: Session, *, batch_id: str, worker_id: str) -> list[LlmJob]:
    return list(
        session.scalars(
            select(LlmJob).where(
                LlmJob.batch_id == batch_id,
                LlmJob.state == JobState.RUNNING,
                LlmJob.leased_by == worker_id,
            )
        )
    )


def count_due(session: Session, *, urgent: bool) -> int:
    return int(
        session.scalar(
            select(func.count(LlmJob.id)).where(
                LlmJob.state == JobState.PENDING,
                LlmJob.run_after <= func.now(),
                LlmJob.urgent.is_(urgent),
            )
        )
        or 0
    )


def queue_depth(session: Session) -> dict[JobState, int]:
    rows = session.execute(select(LlmJob.state, func.count(LlmJob.id)).group_by(LlmJob.state))
    depth = dict.fromkeys(JobState, 0)
    depth.update({state: int(n) for state, n in rows})
    return depth


def recent_failures(session: Session, *, limit: int = 5) -> list[dict[str, Any]]:
    """Latest dead jobs and failed calls, newest first."""
    jobs = session.execute(
        select(LlmJob.kind, Paper.arxiv_id, LlmJob.attempts, LlmJob.last_error, LlmJob.finished_at)
        .outerjoin(Paper, Paper.id == LlmJob.paper_id)
        .where(LlmJob.state == JobState.DEAD)
        .order_by(LlmJob.finished_at.desc().nulls_last())
        .limit(limit)
    )
    calls = session.execute(
        select(LlmCall.at, LlmCall.purpose, LlmCall.error)
        .where(LlmCall.ok.is_(False))
        .order_by(LlmCall.at.desc())
        .limit(limit)
    )
    return [
        {
            "what": "dead job",
            "kind": k,
            "arxiv_id": a,
            "attempts": n,
            "error": e,
            "at": t.isoformat() if t else None,
        }
        for k, a, n, e, t in jobs
    ] + [{"what": "failed call", "kind": p, "error": e, "at": t.isoformat()} for t, p, e in calls]


def queue_status(session: Session) -> dict[str, Any]:
    """Queue depth by state and recent failures, for `paperboy status`."""
    return {"queue": queue_depth(session), "recent_failures": recent_failures(session)}
