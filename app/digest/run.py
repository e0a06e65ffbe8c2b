"""Running digests: one channel now (`paperboy digest`), or every channel that is due (the
scheduler's minute tick calls `run_due_digests`).

Each channel is a job on the ChannelPacer: plan (or find) the run, lock it, render, post. Jobs of
different channels run in parallel; an error in one channel is logged and reported in its
DigestResult and never stops the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, exists, select
from sqlalchemy.orm import Session

from app import metrics, schedule
from app.config import Settings
from app.db.channels import get_channel
from app.db.engine import session_scope
from app.db.models import Channel, ChannelAuthor, ChannelTopic, DigestRun, DigestStatus
from app.digest import pause
from app.digest.batch import Batch
from app.digest.owed import expire_runs
from app.digest.pacer import ChannelPacer
from app.digest.plan import OutMessage, aware, choose, plan_run, render, unfinished_runs
from app.digest.ports import Poster
from app.digest.post import DigestPoster, RunState
from app.digest.recommend import fetch_s2
from app.digest.taste import TasteDeps
from app.embeddings import Embedder
from app.errors import PaperboyError, UserInputError

log = logging.getLogger(__name__)

# A digest whose time passed while no scheduler was running still posts within this window:
# a late digest beats a silent day (users' top complaint about other digest bots).
DUE_GRACE = timedelta(hours=12)


@dataclass(frozen=True)
class DueDigest:
    channel_id: str
    scheduled_for: datetime


class DigestOutcome(StrEnum):
    """What one `run_digest` call did (the run's stored state is `DigestStatus`)."""

    POSTED = "posted"
    EMPTY = "empty"  # nothing to post, by choice
    DRY_RUN = "dry_run"
    SKIPPED = "skipped"  # another process is posting it
    DONE_BEFORE = "done_before"  # already posted
    FAILED = "failed"  # see `error`; a later attempt resumes
    POSTING = "posting"  # only while the call runs: `_Job.conclude` settles it


@dataclass
class DigestResult:
    """What one `run_digest` did."""

    channel_id: str
    scheduled_for: datetime | None
    status: DigestOutcome = DigestOutcome.FAILED
    run_id: int | None = None
    paper_ids: list[str] = field(default_factory=list)
    posted: int = 0  # messages this call posted for the run
    resumed: int = 0  # messages of earlier unfinished runs this call finished
    payloads: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    code: str | None = None  # Slack's error code when posting failed


@dataclass
class _Job:
    result: DigestResult
    force: bool = False
    dry_run: bool = False
    earlier_ids: list[int] | None = None  # unfinished runs to finish first (None: look them up)
    main: RunState | None = None
    earlier: list[RunState] = field(default_factory=list)
    main_interrupted: bool = False  # the run for this very time was started before and broke off

    def conclude(self) -> DigestResult:
        result = self.result
        result.resumed = sum(s.posted for s in self.earlier)
        state = self.main
        failing = [s for s in (*self.earlier, state) if s is not None and s.error is not None]
        if failing:
            result.code = failing[-1].code  # this run's own failure first, else an earlier one's
        if state is None:
            if failing:  # only earlier runs were finished, and one of them failed
                result.status, result.error = DigestOutcome.FAILED, failing[0].error
            return result
        result.posted, result.payloads = state.posted, state.payloads
        if self.main_interrupted:
            # Re-running the same scheduled time finishes what a crashed attempt left: say so.
            result.resumed, result.posted = result.resumed + state.posted, 0
        if state.error is not None:
            result.status, result.error = DigestOutcome.FAILED, state.error
        elif result.status == DigestOutcome.POSTING:
            result.status = DigestOutcome.POSTED if state.total else DigestOutcome.EMPTY
        return result


def due_channels(
    session: Session, *, now: datetime, grace: timedelta = DUE_GRACE
) -> list[DueDigest]:
    """Active, unpaused channels following a topic or an author whose cron (in their time zone)
    fired in the last `grace` and whose digest for that time has not been started."""
    now = aware(now)
    channels = session.scalars(
        select(Channel)
        .where(
            Channel.active,
            Channel.paused_at.is_(None),
            exists().where(ChannelTopic.channel_id == Channel.channel_id)
            | exists().where(ChannelAuthor.channel_id == Channel.channel_id),
        )
        .order_by(Channel.channel_id)
    )
    started = {
        (channel_id, aware(when))
        for channel_id, when in session.execute(
            select(DigestRun.channel_id, DigestRun.scheduled_for).where(
                DigestRun.scheduled_for > now - grace
            )
        )
    }
    due: list[DueDigest] = []
    for channel in channels:
        try:
            trigger = schedule.trigger(channel.cron, channel.timezone)
        except UserInputError as exc:
            log.warning("channel %s has a bad schedule: %s", channel.channel_id, exc)
            continue
        fire = schedule.latest_fire_time(trigger, now=now, within=grace)
        if fire is not None and (channel.channel_id, fire) not in started:
            due.append(DueDigest(channel.channel_id, fire))
    return due


class _Runner:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        poster: DigestPoster,
        now: datetime,
        batch: Batch,
        embedder: Embedder | None,
        taste: TasteDeps | None = None,
    ):
        self.settings, self.engine, self.poster = settings, engine, poster
        self.now = now  # unfinished runs within RESUME_WINDOW of this are finished too
        self.batch = batch
        self.embedder = embedder  # topics match by meaning too (None: by words only)
        self.taste = taste  # None: no taste term, no recommendations

    def submit(self, job: _Job) -> None:
        channel_id = job.result.channel_id
        self.poster.pacer.submit(channel_id, lambda: self._run(job), paced=False)

    def _run(self, job: _Job) -> None:
        result = job.result
        try:
            if job.dry_run:
                self._dry_run(job)
            else:
                self._plan_and_post(job)
        except PaperboyError as exc:
            result.status, result.error = DigestOutcome.FAILED, str(exc)
        except Exception as exc:  # one channel's failure must not stop the others
            log.exception("digest for channel %s failed", result.channel_id)
            result.status, result.error = DigestOutcome.FAILED, f"{type(exc).__name__}: {exc}"

    def _channel(self, session: Session, channel_id: str) -> Channel:
        known = self.batch.channels.get(channel_id) if self.batch.channels is not None else None
        channel = known or get_channel(session, channel_id=channel_id)
        if channel is None:
            raise UserInputError(
                f"channel {channel_id} follows no topic: `paperboy follow --channel {channel_id} "
                "TOPIC` first"
            )
        return channel

    def _dry_run(self, job: _Job) -> None:
        result = job.result
        when = aware(result.scheduled_for or self.now)
        s2_records = fetch_s2(self.engine, channel_id=result.channel_id, now=when, taste=self.taste)
        # A plain session, rolled back on close: a dry run leaves no trace.
        with Session(self.engine) as session:
            channel = self._channel(session, result.channel_id)
            candidates, _ = choose(
                session, channel=channel, scheduled_for=when, force=job.force,
                embedder=self.embedder, taste=self.taste, s2_records=s2_records,
            )  # fmt: skip
            result.paper_ids = [c.arxiv_id for c in candidates]
            messages = render(
                session, self.settings, channel=channel, paper_ids=result.paper_ids,
                scheduled_for=when,
                recommended={c.arxiv_id: c.reason for c in candidates if c.reason},
            )  # fmt: skip
        result.payloads = [
            m.payload | ({"thread_ts": "<header ts>"} if m.in_thread else {}) for m in messages
        ]
        result.status = DigestOutcome.DRY_RUN

    def _plan_and_post(self, job: _Job) -> None:
        result = job.result
        # Asked before the planning transaction opens (app/digest/recommend.py).
        s2_records = fetch_s2(
            self.engine, channel_id=result.channel_id, now=result.scheduled_for,
            taste=self.taste, planned=True,
        )  # fmt: skip
        with session_scope(self.engine) as session:
            channel = self._channel(session, result.channel_id)
            earlier = job.earlier_ids
            if earlier is None:
                earlier = [
                    r.id
                    for r in unfinished_runs(session, now=self.now, channel_id=channel.channel_id)
                    if result.scheduled_for is None
                    or aware(r.scheduled_for) != result.scheduled_for
                ]
            run: DigestRun | None = None
            created = False
            messages: list[OutMessage] | None = None
            if result.scheduled_for is not None:
                run, created = plan_run(
                    session, channel=channel, scheduled_for=result.scheduled_for,
                    force=job.force, batch=self.batch,
                    probably_new=job.earlier_ids is not None, embedder=self.embedder,
                    taste=self.taste, s2_records=s2_records,
                )  # fmt: skip
                if created and run.status != DigestStatus.DONE:
                    # Rendered in the planning transaction (one session, not two); posted only
                    # once the run is committed and locked below.
                    messages = render(
                        session, self.settings, channel=channel, paper_ids=list(run.paper_ids),
                        scheduled_for=run.scheduled_for, run_id=run.id, batch=self.batch,
                        recommended=run.recommended,
                    )  # fmt: skip
        for run_id in earlier:
            state = self._start(run_id, result.channel_id)
            if state is not None:
                job.earlier.append(state)
        if run is None:
            result.status = DigestOutcome.EMPTY
            return
        result.run_id, result.paper_ids = run.id, list(run.paper_ids or [])
        if run.status == DigestStatus.DONE:
            result.status = DigestOutcome.EMPTY if created else DigestOutcome.DONE_BEFORE
            return
        job.main_interrupted = not created
        job.main = self._start(run.id, result.channel_id, messages=messages)
        result.status = DigestOutcome.POSTING if job.main is not None else DigestOutcome.SKIPPED

    def _start(
        self, run_id: int, channel_id: str, *, messages: list[OutMessage] | None = None
    ) -> RunState | None:
        """Lock the run and queue its remaining messages. `messages` given: the run was planned
        by this call just now, so nothing of it can have been posted yet."""
        if not self.poster.claim(run_id):
            return None
        state = RunState(run_id=run_id, channel_id=channel_id)
        if messages is not None:
            self.poster.post_run(run_id, channel_id, None, messages, state, fresh=True)
            return state
        with session_scope(self.engine) as session:
            run = session.get(DigestRun, run_id)
            channel = session.get(Channel, channel_id)
            assert run is not None and channel is not None
            messages = render(
                session, self.settings, channel=channel, paper_ids=list(run.paper_ids or []),
                scheduled_for=run.scheduled_for, run_id=run.id, recommended=run.recommended,
            )  # fmt: skip
        self.poster.post_run(
            run_id, channel_id, run.header_ts, messages, state, since=aware(run.created_at)
        )
        return state


def _execute(
    settings: Settings,
    engine: Engine,
    poster: Poster,
    jobs: list[_Job],
    pacer: ChannelPacer | None,
    now: datetime,
    batch: Batch | None = None,
    embedder: Embedder | None = None,
    taste: TasteDeps | None = None,
) -> list[DigestResult]:
    with DigestPoster(settings, engine, poster, pacer=pacer, now=now) as batch_poster:
        runner = _Runner(settings, engine, batch_poster, now, batch or Batch(), embedder, taste)
        for job in jobs:
            runner.submit(job)
        batch_poster.pacer.wait_idle()
    results = [job.conclude() for job in jobs]
    for result in results:
        metrics.count_digest(result.status)
    return results


def run_digest(
    settings: Settings,
    engine: Engine,
    poster: Poster,
    *,
    channel_id: str,
    scheduled_for: datetime | None = None,
    force: bool = False,
    dry_run: bool = False,
    pacer: ChannelPacer | None = None,
    embedder: Embedder | None = None,
    taste: TasteDeps | None = None,
) -> DigestResult:
    """Build and (unless dry_run) post one channel's digest now, keyed by `scheduled_for`
    (default: now). Unfinished earlier runs of the channel are finished first. `taste`: rank by
    the channel's taste and recommend (app/digest/taste.py); None leaves both out."""
    when = aware(scheduled_for) if scheduled_for else datetime.now(UTC).replace(microsecond=0)
    if not dry_run:
        with session_scope(engine) as session:
            # Asking for a digest is how a paused channel is resumed (after the fix).
            pause.resume(session, channel_id=channel_id, now=when)
            expire_runs(session, now=when, channel_id=channel_id)
    job = _Job(DigestResult(channel_id=channel_id, scheduled_for=when), force, dry_run)
    results = _execute(settings, engine, poster, [job], pacer, when, embedder=embedder, taste=taste)
    _pause_refused(engine, poster, results)
    return results[0]


def _pause_refused(engine: Engine, poster: Poster, results: list[DigestResult]) -> None:
    for result in results:
        if result.status == DigestOutcome.FAILED and pause.is_pausing(result.code):
            assert result.code is not None
            result.error = pause.pause_channel(
                engine, poster, channel_id=result.channel_id, code=result.code
            )


def run_due_digests(
    settings: Settings,
    engine: Engine,
    poster: Poster,
    now: datetime | None = None,
    *,
    pacer: ChannelPacer | None = None,
    embedder: Embedder | None = None,
    taste: TasteDeps | None = None,
) -> list[DigestResult]:
    """Post every due digest, channels in parallel; also finish runs a crash left unfinished."""
    now = aware(now or datetime.now(UTC))
    with session_scope(engine) as session:
        pause.resume_for_token(session, token=poster.fingerprint, now=now)
        expire_runs(session, now=now)
    with session_scope(engine) as session:
        due = due_channels(session, now=now)
        unfinished: dict[str, list[int]] = {}
        for run in unfinished_runs(session, now=now, due_only=True):
            unfinished.setdefault(run.channel_id, []).append(run.id)
        ids = {d.channel_id for d in due} | set(unfinished)
        batch = Batch.prefetch(session, channel_ids=ids, before=now) if due else Batch()
    jobs = [
        _Job(
            DigestResult(channel_id=d.channel_id, scheduled_for=d.scheduled_for),
            earlier_ids=unfinished.pop(d.channel_id, []),
        )
        for d in due
    ]
    jobs += [
        _Job(DigestResult(channel_id=c, scheduled_for=None), earlier_ids=ids)
        for c, ids in sorted(unfinished.items())
    ]
    if not jobs:
        return []
    results = _execute(settings, engine, poster, jobs, pacer, now, batch, embedder, taste)
    _pause_refused(engine, poster, results)
    for result in results:
        if result.status == DigestOutcome.FAILED:
            log.warning("digest %s: %s", result.channel_id, result.error)
    return results
