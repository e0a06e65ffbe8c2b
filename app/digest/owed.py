"""A digest is never lost: papers chosen for a channel stay owed to it until Slack has them.

The model, in terms of `digest_runs` (whose exactly-once machinery is unchanged: a run's papers
are fixed when it is planned, each message is recorded in posted_messages, a resumed run first
reconciles with Slack's history):

- A run ends `done`, `failed` (Slack refused a message itself, e.g. invalid_blocks: carrying it
  over would fail every later digest the same way) or `undelivered` (Slack refused the channel or
  the token, or transient failures outlasted RESUME_WINDOW).
- A new digest looks for papers new since the channel's latest *settled* run (`done` or
  `failed`), not its latest run of any status, so a run that never reached Slack does not
  advance the window.
- Its paper list starts with the channel's *owed* papers: those of its `undelivered` runs that
  are neither in posted_messages for the channel nor waiting in an unfinished run, oldest run
  first, in their original order. Then come up to `max_papers` fresh ones. Each paper is still
  posted once: owed papers are left out of the fresh choice, and once posted they are no longer
  owed. No table of its own: what is owed follows from the runs and the posted messages, so it
  cannot drift from them.
- Transient failures (5xx, network errors, `ratelimited`) leave the run `posting` with
  `retry_at` set by `retry_delay`: scheduler ticks retry it with backoff while it is younger than
  RESUME_WINDOW (`expire_runs` then makes it `undelivered`). A manual digest retries at once.
- A refusal that pauses the channel (app/digest/pause.py) makes the run `undelivered`. Resuming
  the channel puts its undelivered runs still inside RESUME_WINDOW back to `posting`, so the
  next tick (or the manual digest doing the resuming) finishes them as any interrupted run,
  under their own header; older ones are carried by the next new run.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.db.models import (
    DIGEST_UNFINISHED,
    DigestRun,
    DigestStatus,
    Paper,
    PostedMessage,
)
from app.timeutil import aware

# Unfinished runs younger than this are retried (app/digest/plan.py uses the same window).
RESUME_WINDOW = timedelta(hours=12)
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(minutes=60)


def retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th transient failure a run is tried again: 1, 2, 4 ...
    minutes, at most an hour (Slack's own retries already covered the first seconds)."""
    return min(FIRST_RETRY * 2 ** max(0, attempts - 1), MAX_RETRY)


def owed_papers(session: Session, *, channel_ids: Collection[str]) -> dict[str, list[str]]:
    """{channel: arXiv ids owed to it, oldest run first}; channels owed nothing are left out."""
    ids = list(channel_ids)
    if not ids:
        return {}
    runs = session.execute(
        select(DigestRun.channel_id, DigestRun.paper_ids)
        .where(DigestRun.channel_id.in_(ids), DigestRun.status == DigestStatus.UNDELIVERED)
        .order_by(DigestRun.scheduled_for, DigestRun.id)
    ).all()
    if not runs:
        return {}
    wanted = {p for _, papers in runs for p in papers or []}
    posted = session.execute(
        select(PostedMessage.channel_id, Paper.arxiv_id)
        .join(Paper, Paper.id == PostedMessage.paper_id)
        .where(
            PostedMessage.channel_id.in_(ids),
            PostedMessage.kind == "paper",
            Paper.arxiv_id.in_(wanted),
        )
    )
    waiting = session.execute(
        select(DigestRun.channel_id, func.unnest(DigestRun.paper_ids)).where(
            DigestRun.channel_id.in_(ids), DigestRun.status.in_(DIGEST_UNFINISHED)
        )
    )
    settled = {(c, a) for c, a in posted} | {(c, a) for c, a in waiting}
    owed: dict[str, list[str]] = {}
    for channel_id, papers in runs:
        for arxiv_id in papers or []:
            if (channel_id, arxiv_id) not in settled:
                settled.add((channel_id, arxiv_id))  # once, however many runs owe it
                owed.setdefault(channel_id, []).append(arxiv_id)
    return owed


def expire_runs(session: Session, *, now: datetime, channel_id: str | None = None) -> int:
    """Unfinished runs older than RESUME_WINDOW become `undelivered` (their papers owed to the
    next run); those another process is posting right now are left alone. How many."""
    stale = (
        select(DigestRun.id)
        .where(
            DigestRun.status.in_(DIGEST_UNFINISHED),
            DigestRun.scheduled_for < aware(now) - RESUME_WINDOW,
        )
        .with_for_update(skip_locked=True)
    )
    if channel_id is not None:
        stale = stale.where(DigestRun.channel_id == channel_id)
    ids = list(session.scalars(stale))
    if not ids:
        return 0
    session.execute(
        update(DigestRun)
        .where(DigestRun.id.in_(ids))
        .values(
            status=DigestStatus.UNDELIVERED,
            error=func.coalesce(DigestRun.error + "; ", "") + "not delivered within 12 hours",
            retry_at=None,
        )
    )
    return len(ids)


def requeue_undelivered(session: Session, *, channel_id: str, now: datetime) -> int:
    """On resume: the channel's undelivered runs still inside RESUME_WINDOW go back to
    `posting`, due now. How many."""
    result = session.execute(
        update(DigestRun)
        .where(
            DigestRun.channel_id == channel_id,
            DigestRun.status == DigestStatus.UNDELIVERED,
            DigestRun.scheduled_for >= aware(now) - RESUME_WINDOW,
        )
        .values(status=DigestStatus.POSTING, retry_at=None, attempts=0)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
