"""Running claimed jobs: build the task, call the model, and record the outcome on the jobs.

Shared by the worker loop (app/worker.py), its batches (app/llm/batching.py) and synchronous
deep summaries (app/llm/service.py). Outcomes: stored (done), fallback stored (done, with a
note: refused, unusable twice, or rejected for good by the API), back to the queue with
backoff (API failures; dead after the last attempt, keeping the error), or deferred to
tomorrow without counting the attempt (budget). A grouped request (cards for several papers)
stores every valid card and completes those jobs in one transaction; a paper whose card is
missing or invalid, or each paper of a group whose whole reply was refused or unusable (or did
not fit in today's budget), is retried alone, once, and only then falls back.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from app.config import Settings
from app.db import jobs as queue
from app.db.engine import session_scope
from app.db.models import JobState, LlmJob
from app.errors import BudgetExceeded
from app.llm import budget, calls
from app.llm.client import LLM, InvalidOutput, LLMUnavailable, Refused
from app.llm.fulltext import PdfFetcher
from app.llm.tasks import Task, build_task, card_tasks

log = logging.getLogger("app.worker")


@dataclass
class WorkerReport:
    summarized: int = 0  # jobs whose LLM output was stored (cards, deep summaries, grades)
    fallbacks: int = 0  # jobs finished with the extractive fallback (refusal, invalid output)
    skipped: int = 0  # nothing left to do (already summarized, paper gone)
    retried: int = 0  # failed, back in the queue with backoff
    dead: int = 0
    deferred: int = 0  # budget spent: back in the queue for tomorrow
    batches: int = 0
    llm_disabled: bool = False

    @property
    def processed(self) -> int:
        return self.summarized + self.fallbacks + self.skipped + self.retried + self.dead

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "processed": self.processed}


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class JobRunner:
    settings: Settings
    engine: Engine
    llm: LLM
    pdfs: PdfFetcher
    worker_id: str = field(default_factory=new_worker_id)
    report: WorkerReport = field(default_factory=WorkerReport)
    blocked_until: datetime | None = None

    def lease(self) -> float:
        # A batch's jobs must outlive several polls; their lease is extended at each one.
        return max(self.settings.llm_lease_seconds, 3 * self.settings.llm_batch_poll_seconds)

    def budget_blocked(self) -> bool:
        if self.blocked_until is None:
            return False
        if datetime.now(self.blocked_until.tzinfo) >= self.blocked_until:
            self.blocked_until = None
            return False
        return True

    def run_jobs(self, group: list[LlmJob], *, attempts: int = 2) -> None:
        task = self.task(group)
        if task is not None:
            self.call(task, attempts=attempts)

    def tasks(self, groups: list[list[LlmJob]]) -> list[Task]:
        """The tasks of many groups; card groups read the database once for all of them."""
        cards = [g for g in groups if g[0].kind == "card"]
        built: dict[int, Task | None] = {}
        if len(cards) > 1:
            try:
                for group, task in zip(
                    cards, card_tasks(self.settings, self.engine, cards), strict=True
                ):
                    built[group[0].id] = task
                    if task is None:
                        self.complete(group, note=None)
                        self.report.skipped += len(group)
            except Exception:  # one by one below: a broken group then fails on its own
                log.exception("cannot prepare %d card groups at once", len(cards))
                built = {}
        return [
            t
            for g in groups
            if (t := built[g[0].id] if g[0].id in built else self.task(g)) is not None
        ]

    def task(self, group: list[LlmJob]) -> Task | None:
        try:
            task = build_task(self.settings, self.engine, self.pdfs, group)
        except Exception as exc:  # one broken job must not stop the worker
            log.exception("cannot prepare %s job %s", group[0].kind, group[0].id)
            self.fail(group, f"{type(exc).__name__}: {exc}", retryable=False)
            return None
        if task is None:
            self.complete(group, note=None)
            self.report.skipped += len(group)
        return task

    def call(self, task: Task, *, attempts: int) -> None:
        try:
            reply = calls.call(
                self.settings,
                self.engine,
                self.llm,
                task.request,
                check=task.check,
                # A group's second try is each paper alone, not the same group again.
                attempts=1 if task.grouped else attempts,
            )
        except BudgetExceeded as exc:
            if task.grouped:  # at the budget's edge a group may not fit where one card does
                self.alone(task.jobs, str(exc))
            else:
                self.defer(task.jobs, str(exc), until=exc.retry_at)
        except (Refused, InvalidOutput) as exc:
            if task.grouped:
                self.alone(task.jobs, str(exc))
            else:
                self.fallback(task, str(exc))
        except LLMUnavailable as exc:
            if exc.retryable:
                self.fail(task.jobs, str(exc))
            else:  # a 4xx that will fail the same way again: keep the extractive result
                self.fallback(task, str(exc))
        except Exception as exc:  # whatever else broke, the jobs go back: never stay running
            log.exception("%s call failed unexpectedly", task.kind)
            self.fail(task.jobs, f"{type(exc).__name__}: {exc}")
        else:
            self.store(task, reply)

    # --- outcomes --------------------------------------------------------------------------

    def store(self, task: Task, reply: Any, *, batch: bool = False) -> None:
        """Store what the reply holds and complete its jobs in one transaction; the papers it
        left out (an invalid or missing card) are retried alone. A batch result is recorded
        in the ledger in that same transaction (a direct call recorded itself already)."""
        left = task.leftover(reply) if task.leftover is not None else []
        done = [j for j in task.jobs if j not in left]
        with session_scope(self.engine) as session:
            if batch:
                budget.record_call(
                    session,
                    self.settings,
                    model=self.llm.model,
                    purpose=task.kind,
                    usage=reply.usage,
                    batch=True,
                )
            task.store(session, reply)
            queue.complete_many(session, job_ids=[j.id for j in done], worker_id=self.worker_id)
        self.report.summarized += len(done)
        log.info("%s done for %s", task.kind, ",".join(str(j.paper_id) for j in done))
        if left:
            self.alone(left, f"{len(left)} of {len(task.jobs)} cards unusable")

    def alone(self, group: list[LlmJob], reason: str) -> None:
        """The one retry of a grouped request's papers: each in its own call (which then
        falls back if it fails too), so one bad card never costs the others."""
        log.warning("%s: retrying %d paper(s) alone: %s", group[0].kind, len(group), reason)
        for n, job in enumerate(group):
            if self.budget_blocked():  # spent: the rest wait for tomorrow, no more calls
                self.defer(group[n:], "today's LLM budget is spent")
                return
            self.run_jobs([job], attempts=1)

    def fallback(self, task: Task, reason: str) -> None:
        """Refused or unusable twice: keep the extractive result so we don't pay again."""
        with session_scope(self.engine) as session:
            if task.store_fallback is not None:
                task.store_fallback(session)
            queue.complete_many(
                session,
                job_ids=[j.id for j in task.jobs],
                worker_id=self.worker_id,
                note=f"fallback: {reason}",
            )
        self.report.fallbacks += len(task.jobs)
        log.warning("%s fallback for %s: %s", task.kind, task.jobs[0].paper_id, reason)

    def complete(self, group: list[LlmJob], *, note: str | None) -> None:
        with session_scope(self.engine) as session:
            queue.complete_many(
                session, job_ids=[j.id for j in group], worker_id=self.worker_id, note=note
            )

    def fail(
        self, group: list[LlmJob], error: str, *, retryable: bool = True, direct: bool = False
    ) -> None:
        """Back to the queue with backoff (dead after the last attempt); `direct` jobs are
        next run one by one, never in a batch again (their batch went wrong)."""
        with session_scope(self.engine) as session:
            for job in group:
                state = queue.fail(
                    session,
                    job_id=job.id,
                    worker_id=self.worker_id,
                    error=error,
                    retry_base_seconds=self.settings.llm_retry_base_seconds,
                    max_attempts=self.settings.llm_max_attempts,
                    retryable=retryable,
                    direct=direct,
                )
                if state == JobState.DEAD:
                    self.report.dead += 1
                elif state == JobState.PENDING:
                    self.report.retried += 1
        log.warning("%s job(s) failed: %s", len(group), error)

    def defer(self, group: list[LlmJob], reason: str, *, until: datetime | None = None) -> None:
        """Back to pending, the attempt not counted, with the reason shown on the job: until
        the next budget day, or `until` (sooner when only calls in flight were in the way)."""
        self.blocked_until = until or budget.next_day_start(self.settings)
        with session_scope(self.engine) as session:
            queue.defer(
                session,
                job_ids=[j.id for j in group],
                worker_id=self.worker_id,
                until=self.blocked_until,
                reason=reason,
            )
        self.report.deferred += len(group)
