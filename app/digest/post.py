"""Posting digest runs exactly once.

- A run is posted only by the process that holds its row lock (`FOR NO KEY UPDATE SKIP LOCKED`,
  taken on one connection for the whole batch): a second process racing for the same run skips
  it. NO KEY UPDATE, not UPDATE, because inserting posted_messages (which reference the run)
  takes a KEY SHARE lock on it, and UPDATE would block our own inserts.
- Each message is recorded in posted_messages (unique per run and position) in its own short
  transaction as soon as Slack returns its ts. Positions already recorded are never posted again,
  so a crash (or a Slack outage) mid-run is finished by the next attempt without repeats.
- Run statuses are written in the lock's transaction, in one statement when the batch ends;
  until then the lock itself keeps other processes off the runs.

- A crash after Slack accepted a message but before its row was committed: a resumed run first
  looks for its own messages in the channel's history (app/digest/reconcile.py, by the run id
  and position each message carries in `metadata`) and records those instead of re-posting
  them. When Slack will not show the history (the bot is not in the channel), that one message
  may repeat.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import Engine, Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert

from app.config import Settings
from app.db.models import DigestRun, DigestStatus, PostedMessage
from app.db.papers import paper_key
from app.digest.pacer import ChannelPacer
from app.digest.plan import OutMessage
from app.digest.ports import Poster, PostError
from app.digest.reconcile import find_posted

log = logging.getLogger(__name__)


@dataclass
class RunState:
    """What happened to one run in this batch; read by DigestResult."""

    run_id: int
    channel_id: str
    total: int = 0  # messages the run has
    posted: int = 0  # posted by this process now
    already: int = 0  # posted earlier (a previous attempt)
    header_ts: str | None = None
    error: str | None = None
    permanent: bool = False  # Slack refused (channel_not_found, invalid_blocks...): don't retry
    payloads: list[dict[str, Any]] = field(default_factory=list)  # what was actually sent

    @property
    def complete(self) -> bool:
        return self.error is None and self.posted + self.already >= self.total


class DigestPoster:
    """Claims runs and posts their remaining messages through a ChannelPacer.

    Use as a context manager; `post_run` queues work and returns at once, leaving the batch (the
    lock transaction) open until `close()`, which waits for every post and records statuses.
    """

    def __init__(
        self, settings: Settings, engine: Engine, poster: Poster, *, pacer: ChannelPacer | None
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.poster = poster
        self._own_pacer = pacer is None
        self.pacer = pacer or ChannelPacer(settings.slack_channel_interval_seconds)
        self._conn = engine.connect()
        self._tx = self._conn.begin()
        self._mutex = threading.Lock()  # the lock connection is shared by the pacer's threads
        self._finished: list[RunState] = []

    def claim(self, run_id: int) -> bool:
        """Lock the run for this batch; False when it is done or another process has it."""
        with self._mutex:
            got = self._conn.execute(
                select(DigestRun.id)
                .where(DigestRun.id == run_id, DigestRun.status != DigestStatus.DONE)
                .with_for_update(skip_locked=True, key_share=True)
            ).scalar()
        return got is not None

    def post_run(
        self,
        run_id: int,
        channel_id: str,
        header_ts: str | None,
        messages: list[OutMessage],
        state: RunState,
        *,
        fresh: bool = False,
        since: datetime | None = None,
    ) -> None:
        """Queue the run's messages that are not posted yet, in order, on its channel.
        `fresh`: the run was planned just now, so nothing of it can have been posted.
        `since`: when the run was recorded (where to look for messages Slack has unrecorded)."""
        done: dict[int, str] = {}
        if not fresh:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(PostedMessage.position, PostedMessage.ts).where(
                        PostedMessage.digest_run_id == run_id
                    )
                )
                done = {position: ts for position, ts in rows if position is not None}
            missing = [m for m in messages if m.position not in done]
            if missing and since is not None:
                known_header = header_ts or done.get(0)
                done |= self._recover(run_id, channel_id, known_header, missing, since)
        state.total = len(messages)
        state.header_ts = header_ts or done.get(0)
        state.already = sum(1 for m in messages if m.position in done)
        for message in messages:
            if message.position not in done:
                self.pacer.submit(channel_id, partial(self._post, run_id, message, state))
        self.pacer.submit(channel_id, lambda: self._finish(state), paced=False)

    def _recover(
        self,
        run_id: int,
        channel_id: str,
        header_ts: str | None,
        missing: list[OutMessage],
        since: datetime,
    ) -> dict[int, str]:
        """Record the missing messages Slack has after all; {position: ts} of those."""
        found = find_posted(
            self.poster, channel_id=channel_id, run_id=run_id, since=since, header_ts=header_ts,
            in_thread=any(m.in_thread for m in missing),
        )  # fmt: skip
        recovered = {m.position: found[m.position] for m in missing if m.position in found}
        for message in missing:
            if message.position in recovered:
                where = recovered[message.position]
                self._record(run_id, message, channel_id, where.ts, where.thread_ts)
        if recovered:
            log.info("digest run %s: %d messages were in Slack already, not posted again",
                     run_id, len(recovered))  # fmt: skip
        return {position: where.ts for position, where in recovered.items()}

    def _record(
        self, run_id: int, message: OutMessage, channel_id: str, ts: str, thread_ts: str | None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(PostedMessage)
                .values(
                    channel_id=channel_id,
                    ts=ts,
                    thread_ts=thread_ts,
                    paper_id=paper_key(message.arxiv_id) if message.arxiv_id else None,
                    digest_run_id=run_id,
                    kind=message.kind,
                    position=message.position,
                )
                .on_conflict_do_nothing()
            )

    def _post(self, run_id: int, message: OutMessage, state: RunState) -> None:
        if state.error is not None:
            return  # an earlier message of this run failed: keep the order, stop here
        payload = dict(message.payload)
        if message.in_thread:
            if state.header_ts is None:
                state.error = "the header message is missing: cannot post into its thread"
                return
            payload["thread_ts"] = state.header_ts
        try:
            posted = self.poster.post(payload)
        except PostError as exc:
            state.error = str(exc)
            state.permanent = exc.permanent
            log.warning("digest run %s position %s: %s", run_id, message.position, state.error)
            return
        ts = posted.ts
        if message.kind == "header":
            state.header_ts = ts
        state.payloads.append(payload)
        self._record(run_id, message, posted.channel, ts, payload.get("thread_ts"))
        state.posted += 1

    def _finish(self, state: RunState) -> None:
        # Statuses are only visible at commit anyway: write them all in one statement then.
        with self._mutex:
            self._finished.append(state)

    def _write_statuses(self) -> None:
        if not self._finished:
            return
        now = datetime.now(UTC)
        rows = [
            {
                "rid": s.run_id,
                "b_status": (
                    DigestStatus.DONE
                    if s.complete
                    else (DigestStatus.FAILED if s.permanent else DigestStatus.POSTING)
                ),
                "b_header_ts": s.header_ts,
                "b_error": None if s.complete else s.error,
                "b_finished_at": now if s.complete else None,
            }
            for s in self._finished
        ]
        table = DigestRun.__table__
        assert isinstance(table, Table)  # declared as a FromClause; a mapped class's is a Table
        self._conn.execute(
            table.update()
            .where(table.c.id == bindparam("rid"))
            .values(
                status=bindparam("b_status"),
                header_ts=bindparam("b_header_ts"),
                error=bindparam("b_error"),
                finished_at=bindparam("b_finished_at"),
            ),
            rows,
        )

    def close(self) -> None:
        """Wait for every queued post, then commit the statuses (and release the run locks)."""
        try:
            self.pacer.wait_idle()
            self._write_statuses()
            self._tx.commit()
        finally:
            self._conn.close()
            if self._own_pacer:
                self.pacer.close()

    def __enter__(self) -> DigestPoster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
