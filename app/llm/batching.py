"""Message Batches: half-price summaries for the bulk of the queue.

The worker hands a batch of claimed jobs to `BatchRunner.submit`: one request per task
(custom_id = the lead job's id; grouped as in direct calls by `group_jobs`: sixteen cards or ten
same-topic grades share a request), as many as today's budget allows, reserved at once before it
is sent (app/llm/budget.py) and carried by the jobs until their results are in. `poll_due`
checks submitted batches every LLM_BATCH_POLL_SECONDS, extending the jobs' leases, and once a
batch has ended stores each result by custom_id. Errored, expired or canceled requests go back
to the queue with backoff; an unusable reply gets its one retry as a direct call (a group's
papers each alone, as do the cards a valid reply left out). A batch whose worker died is resumed
by whoever claims its jobs after their lease.

Polling never strands work: a failed poll counts as an attempt of every job in the batch (a job
out of attempts is released, dead), and a batch that is gone (404), in an unknown state, or
still unfinished after LLM_BATCH_DEADLINE_SECONDS releases its jobs to the queue marked
`direct`, so they are retried one by one rather than in another batch.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from app.db import jobs as queue
from app.db.engine import session_scope
from app.db.models import LlmJob
from app.errors import BudgetExceeded
from app.llm import budget, calls
from app.llm.client import (
    BatchGone,
    InvalidOutput,
    LLMUnavailable,
    Refused,
    Usage,
    parse_message,
)
from app.llm.cost import estimate_usd
from app.llm.runner import JobRunner
from app.llm.tasks import Task, group_jobs

log = logging.getLogger("app.worker")


@dataclass
class _InFlight:
    next_poll: float
    polls: int = 0
    # When this process started following the batch (a resumed batch restarts the clock).
    started: float = field(default_factory=time.monotonic)


@dataclass
class BatchRunner:
    runner: JobRunner
    inflight: dict[str, _InFlight] = field(default_factory=dict)
    # Tasks this process submitted, by custom_id: reused when their results come in rather
    # than rebuilt from the database (a resumed batch's tasks are rebuilt).
    submitted: dict[str, Task] = field(default_factory=dict)

    def resume(self, batch_id: str) -> None:
        """A crashed worker's batch: poll it now, never send it again."""
        self.inflight.setdefault(batch_id, _InFlight(next_poll=time.monotonic()))

    def next_poll_in(self) -> float | None:
        if not self.inflight:
            return None
        return max(0.0, min(f.next_poll for f in self.inflight.values()) - time.monotonic())

    def submit(self, claimed: list[LlmJob]) -> bool:
        if not claimed:
            return False
        for job in [j for j in claimed if (j.payload or {}).get("direct")]:
            claimed.remove(job)  # its batch went wrong once: it runs on its own now
            self.runner.run_jobs([job])
        tasks = self.runner.tasks(group_jobs(claimed))
        if not tasks:
            return True
        settings = self.runner.settings
        estimates = [
            estimate_usd(settings, model=self.runner.llm.model, request=t.request, batch=True)
            for t in tasks
        ]
        # The whole batch is reserved at once before it is sent; what does not fit waits.
        try:
            with session_scope(self.runner.engine) as session:
                held = budget.reserve(
                    session,
                    settings,
                    costs=estimates,
                    purpose="batch",
                    holder=self.runner.worker_id,
                    lease_seconds=self.runner.lease(),
                )
        except BudgetExceeded as exc:
            self.runner.defer([j for t in tasks for j in t.jobs], str(exc), until=exc.retry_at)
            return True
        chosen = tasks[: held.count]
        if held.rest is not None:
            self.runner.defer(
                [j for t in tasks[held.count :] for j in t.jobs],
                str(held.rest),
                until=held.rest.retry_at,
            )
        try:
            batch_id = self.runner.llm.submit_batch(
                [(str(t.jobs[0].id), t.request) for t in chosen]
            )
        except LLMUnavailable as exc:
            self._record("batch", Usage(), error=str(exc), reservation_id=held.id)
            self.runner.fail([j for t in chosen for j in t.jobs], str(exc), retryable=exc.retryable)
            return True
        except BaseException:  # anything else: free the budget now, not after the lease
            calls.release(self.runner.engine, held.id)
            raise
        with session_scope(self.runner.engine) as session:
            # The jobs carry the batch's reservation from here until their results are in.
            queue.set_batch(
                session,
                groups={t.jobs[0].id: [j.id for j in t.jobs] for t in chosen},
                batch_id=batch_id,
                worker_id=self.runner.worker_id,
                lease_seconds=self.runner.lease(),
                reserve_usd={t.jobs[0].id: e for t, e in zip(chosen, estimates, strict=False)},
            )
            budget.release(session, reservation_id=held.id)
        self.submitted.update({str(t.jobs[0].id): t for t in chosen})
        self.inflight[batch_id] = _InFlight(
            time.monotonic() + self.runner.settings.llm_batch_poll_seconds
        )
        self.runner.report.batches += 1
        log.info("submitted batch %s with %d requests", batch_id, len(chosen))
        return True

    def poll_due(self) -> bool:
        now = time.monotonic()
        progressed = False
        for batch_id, flight in list(self.inflight.items()):
            if flight.next_poll <= now:
                progressed = self._poll(batch_id, flight) or progressed
        return progressed

    def _poll(self, batch_id: str, flight: _InFlight) -> bool:
        with session_scope(self.runner.engine) as session:
            held = queue.held_in_batch(session, batch_id=batch_id, worker_id=self.runner.worker_id)
            queue.extend_lease(
                session,
                job_ids=[j.id for j in held],
                worker_id=self.runner.worker_id,
                lease_seconds=self.runner.lease(),
            )
        if not held:  # all results stored, or the lease was lost to another worker
            del self.inflight[batch_id]
            return True
        overdue = (
            time.monotonic() - flight.started > self.runner.settings.llm_batch_deadline_seconds
        )
        try:
            ended = self.runner.llm.batch_ended(batch_id)
        except BatchGone as exc:
            return self._release(batch_id, held, str(exc))
        except LLMUnavailable as exc:
            log.warning("polling batch %s failed: %s", batch_id, exc)
            with session_scope(self.runner.engine) as session:
                spent = queue.count_failure(
                    session,
                    job_ids=[j.id for j in held],
                    worker_id=self.runner.worker_id,
                    error=f"polling batch {batch_id} failed: {exc}",
                )
            if spent:  # out of attempts: stop waiting for a batch we cannot see
                return self._release(batch_id, held, f"polling batch {batch_id} failed: {exc}")
            ended = False
        if not ended and overdue:
            return self._release(batch_id, held, f"batch {batch_id} missed its deadline")
        if not ended:
            flight.polls += 1
            flight.next_poll = time.monotonic() + self.runner.settings.llm_batch_poll_seconds
            return False
        self._collect(batch_id, held)
        del self.inflight[batch_id]
        return True

    def _release(self, batch_id: str, held: list[LlmJob], reason: str) -> bool:
        """Give a batch up: its jobs go back to the queue (dead when out of attempts), to be
        run individually."""
        log.warning("giving up batch %s: %s", batch_id, reason)
        self._forget(held)
        self._record("batch", Usage(), error=reason)
        self.runner.fail(held, reason, direct=True)
        del self.inflight[batch_id]
        return True

    def _collect(self, batch_id: str, held: list[LlmJob]) -> None:
        groups: dict[str, list[LlmJob]] = defaultdict(list)
        for job in held:
            groups[str((job.payload or {}).get("group", job.id))].append(job)
        try:
            outcomes = list(self.runner.llm.batch_results(batch_id))
        except LLMUnavailable as exc:
            self.runner.fail(held, f"batch results unavailable: {exc}", direct=True)
            return
        for outcome in outcomes:
            group = groups.pop(outcome.custom_id, None)
            known = self.submitted.pop(outcome.custom_id, None)
            if not group:
                continue  # another worker holds these jobs now
            same = known is not None and {j.id for j in known.jobs} == {j.id for j in group}
            task = known if same else self.runner.task(group)
            if task is None:
                continue
            if outcome.message is None:
                self._record(task.kind, Usage(), error=outcome.error)
                self.runner.fail(group, outcome.error or "batch request failed", direct=True)
                continue
            self._batch_reply(task, outcome.message)
        for group in groups.values():
            self.runner.fail(group, "missing from the batch results", direct=True)
        self._forget(held)

    def _forget(self, held: list[LlmJob]) -> None:
        for job in held:
            self.submitted.pop(str(job.id), None)

    def _batch_reply(self, task: Task, message: Any) -> None:
        try:
            reply = calls.checked(parse_message(message, task.request.schema), task.check)
        except (Refused, InvalidOutput) as exc:
            self._record(task.kind, exc.usage, error=str(exc))
            if task.grouped:  # the one retry: each paper alone, direct
                self.runner.alone(task.jobs, str(exc))
            elif isinstance(exc, Refused):
                self.runner.fallback(task, str(exc))
            else:
                self.runner.call(task, attempts=1)  # the one retry, direct
            return
        # The ledger row goes in the same transaction as the cards it paid for.
        self.runner.store(task, reply, batch=True)

    def _record(
        self,
        purpose: str,
        usage: Usage,
        *,
        error: str | None = None,
        reservation_id: int | None = None,
    ) -> None:
        calls.record(
            self.runner.settings,
            self.runner.engine,
            model=self.runner.llm.model,
            purpose=purpose,
            usage=usage,
            batch=True,
            error=error,
            reservation_id=reservation_id,
        )
