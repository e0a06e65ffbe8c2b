"""The LLM worker: claims jobs from `llm_jobs` and runs them, direct or as Message Batches.

Runs as `paperboy worker` (continuously, `run_worker`), inside `paperboy serve`, or once as
`paperboy summarize` (`drain`). Each step:
1. an urgent job (a Slack request) goes direct, first;
2. submitted batches are polled when due, and their results stored by custom_id (the job id);
3. with at least LLM_BATCH_MIN non-urgent jobs due, they go out as one Message Batch (half
   price); otherwise the next job goes direct (same-topic grade jobs ten to a call).
Any number of workers may share the queue: claims use SKIP LOCKED and leases, so a job (and so
a paper) is worked on by one worker at a time, and a crashed worker's jobs return when their
lease expires (a batch it submitted is picked up and polled, not sent again).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from app.config import Settings
from app.db import jobs as queue
from app.db.engine import session_scope
from app.db.jobs import enqueue
from app.db.models import LlmJob
from app.llm.batching import BatchRunner
from app.llm.client import LLM
from app.llm.fulltext import PdfFetcher
from app.llm.prompts import GROUP_SIZES
from app.llm.runner import JobRunner, WorkerReport

__all__ = ["Worker", "WorkerReport", "drain", "enqueue", "run_worker"]

log = logging.getLogger(__name__)
BATCH_MAX_REQUESTS = 2000


@dataclass
class Worker(JobRunner):
    claimed: int = 0
    batches: BatchRunner = field(init=False)

    def __post_init__(self) -> None:
        self.batches = BatchRunner(self)

    def step(self, *, limit: int | None = None) -> bool:
        """Do one unit of work; False when there was nothing to do right now."""
        room = None if limit is None else limit - self.claimed
        if self.budget_blocked():
            room = 0
        if room is None or room > 0:
            urgent = self._claim_direct(urgent=True, room=room)
            if urgent:
                self.run_jobs(urgent)
                return True
        if self.batches.poll_due():
            return True
        if room is not None and room <= 0:
            return False
        with session_scope(self.engine) as session:
            due = queue.count_due(session, urgent=False)
        if due >= self.settings.llm_batch_min:
            cap = BATCH_MAX_REQUESTS if room is None else min(room, BATCH_MAX_REQUESTS)
            return self.batches.submit(self._claim(limit=cap, urgent=False))
        group = self._claim_direct(urgent=False, room=room)
        if group:
            self.run_jobs(group)
            return True
        return False

    def next_poll_in(self) -> float | None:
        return self.batches.next_poll_in()

    def _claim(self, *, limit: int, urgent: bool | None, **filters: Any) -> list[LlmJob]:
        with session_scope(self.engine) as session:
            claimed = queue.claim(
                session,
                worker_id=self.worker_id,
                limit=limit,
                lease_seconds=self.lease(),
                urgent=urgent,
                **filters,
            )
        self.claimed += len(claimed)
        for job in claimed:
            if job.batch_id:
                self.batches.resume(job.batch_id)
        return [j for j in claimed if not j.batch_id]

    def _claim_direct(self, *, urgent: bool, room: int | None) -> list[LlmJob]:
        first = self._claim(limit=1, urgent=urgent)
        size = GROUP_SIZES.get(first[0].kind, 1) if first else 1
        if room is not None:
            size = min(size, room)
        if size > 1 and (first[0].kind != "grade" or first[0].topic_id is not None):
            # Grades group per topic; cards carry no topic, so any due card joins. An urgent
            # job (a Slack request) only waits for other urgent ones, never for the backlog.
            first += self._claim(
                limit=size - 1, urgent=urgent, kind=first[0].kind, topic_id=first[0].topic_id
            )
        return first


def drain(
    settings: Settings,
    engine: Engine,
    *,
    llm: LLM | None,
    pdfs: PdfFetcher,
    limit: int | None = None,
) -> WorkerReport:
    """Work the queue until it is empty (or `limit` jobs were claimed) and batches are in.

    Without an API key nothing is claimed: jobs wait, and readers show extractive fallbacks.
    """
    if llm is None:
        return WorkerReport(llm_disabled=True)
    worker = Worker(settings, engine, llm, pdfs)
    while True:
        if worker.step(limit=limit):
            continue
        wait = worker.next_poll_in()
        if wait is None:
            return worker.report
        time.sleep(min(wait, 1.0))


def run_worker(
    settings: Settings,
    engine: Engine,
    *,
    llm: LLM | None,
    pdfs: PdfFetcher,
    stop_event: threading.Event,
) -> WorkerReport:
    """Work the queue until `stop_event` is set; the current job finishes first."""
    if llm is None:
        log.warning("no ANTHROPIC_API_KEY: the worker idles; extractive summaries are shown")
        stop_event.wait()
        return WorkerReport(llm_disabled=True)
    worker = Worker(settings, engine, llm, pdfs)
    while not stop_event.is_set():
        try:
            progressed = worker.step()
        except Exception:  # a database hiccup must not kill a long-running worker
            log.exception("worker step failed; retrying shortly")
            progressed = False
        if not progressed:
            wait = worker.next_poll_in()
            idle = settings.llm_worker_idle_seconds
            stop_event.wait(idle if wait is None else min(idle, max(wait, 0.05)))
    return worker.report
