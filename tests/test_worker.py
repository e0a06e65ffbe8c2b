"""The job queue and worker: claims, leases, backoff, dead jobs, batches, several workers."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from llm_helpers import add_paper, calls, jobs, llm_settings, summaries
from sqlalchemy import Engine, func, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import jobs as queue
from app.db.engine import session_scope
from app.db.models import LlmJob
from app.llm.client import build_llm
from app.llm.fulltext import PdfFetcher
from app.llm.prompts import CARD_GROUP_SIZE as G
from app.worker import Worker, drain, enqueue
from tests.deps import llm_deps

PAPERBOY = str(Path(sys.executable).parent / "paperboy")


def _queue_cards(session: Session, count: int, **kw: object) -> list[str]:
    ids = [f"2611.{n:05d}" for n in range(1, count + 1)]
    for arxiv_id in ids:
        add_paper(session, arxiv_id)
        enqueue(session, kind="card", arxiv_id=arxiv_id, **kw)  # type: ignore[arg-type]
    session.commit()
    return ids


class TestEnqueue:
    def test_enqueueing_twice_keeps_one_live_job(self, session: Session) -> None:
        add_paper(session, "2611.00001")
        assert enqueue(session, kind="card", arxiv_id="2611.00001")
        assert not enqueue(session, kind="card", arxiv_id="2611.00001")
        session.commit()
        assert len(jobs(session)) == 1

    def test_an_urgent_request_makes_the_queued_job_urgent(self, session: Session) -> None:
        add_paper(session, "2611.00001")
        enqueue(session, kind="card", arxiv_id="2611.00001", priority=5)
        assert not enqueue(session, kind="card", arxiv_id="2611.00001", urgent=True)
        session.commit()
        (job,) = jobs(session)
        assert job.urgent and job.priority < 0

    def test_a_finished_job_can_be_queued_again(self, session: Session) -> None:
        add_paper(session, "2611.00001")
        enqueue(session, kind="card", arxiv_id="2611.00001")
        session.commit()
        jobs(session)[0].state = "done"
        session.commit()
        assert enqueue(session, kind="card", arxiv_id="2611.00001")


class TestLeasesAndFailures:
    def test_a_crashed_workers_job_is_picked_up_when_its_lease_expires(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake)
        _queue_cards(session, 1)
        with session_scope(engine) as s:  # a worker claims the job, then dies
            # Long enough that a loaded machine cannot let it lapse before the first drain.
            queue.claim(s, worker_id="crashed", limit=1, lease_seconds=60)

        assert drain(cfg, engine, **llm_deps(cfg)).processed == 0  # still leased: nobody touches it
        assert anthropic_fake.requests == []
        with session_scope(engine) as s:  # a minute later: the lease has run out
            s.execute(update(LlmJob).values(lease_until=func.now() - timedelta(seconds=1)))
        assert drain(cfg, engine, **llm_deps(cfg)).summarized == 1

        (job,) = jobs(session)
        assert job.state == "done" and job.attempts == 2 and job.leased_by != "crashed"

    def test_dead_after_the_last_attempt_keeping_the_last_error(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, llm_max_attempts=3, llm_max_retries=0)
        _queue_cards(session, 1)
        anthropic_fake.overloaded(times=10)

        report = drain(cfg, engine, **llm_deps(cfg))

        assert report.retried == 2 and report.dead == 1
        (job,) = jobs(session)
        assert job.state == "dead" and job.attempts == 3
        assert "529 overloaded_error" in (job.last_error or "")
        assert len(anthropic_fake.message_requests) == 3
        assert [c.ok for c in calls(session)] == [False] * 3

    def test_failures_back_off_exponentially(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, llm_max_retries=0, llm_retry_base_seconds=30)
        _queue_cards(session, 1)
        anthropic_fake.overloaded(times=10)

        drain(cfg, engine, **llm_deps(cfg))
        (job,) = jobs(session)
        first_wait = (job.run_after - job.created_at).total_seconds()
        assert job.state == "pending" and 29 < first_wait < 40
        with session_scope(engine) as s:  # make it due again; the next failure waits twice as long
            s.get_one(type(job), job.id).run_after = job.created_at
        drain(cfg, engine, **llm_deps(cfg))
        (job,) = jobs(session)
        assert job.attempts == 2 and (job.run_after - job.created_at).total_seconds() > 59


class TestBatches:
    def test_a_full_queue_goes_out_as_one_half_price_batch(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, llm_batch_min=5)
        ids = _queue_cards(session, 6)

        report = drain(cfg, engine, **llm_deps(cfg))

        assert report.batches == 1 and report.summarized == 6
        assert anthropic_fake.message_requests == []
        (batch,) = anthropic_fake.batch_requests
        (request,) = batch["requests"]  # six cards: one group, one request
        assert request["custom_id"] == str(jobs(session)[0].id)
        assert set(summaries(session)) == set(ids)
        assert all(c.batch and c.ok for c in calls(session))

    def test_errored_and_expired_requests_go_back_to_the_queue(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, llm_batch_min=G + 2, llm_retry_base_seconds=60)
        _queue_cards(session, 2 * G + 1)  # three requests: cards 1-G, G+1-2G, the last one
        queued = jobs(session)
        first, second = queued[G], queued[2 * G]
        anthropic_fake.batch_outcomes = {str(first.id): "errored", str(second.id): "expired"}

        report = drain(cfg, engine, **llm_deps(cfg))

        assert report.batches == 1 and report.summarized == G and report.retried == G + 1
        by_id = {j.id: j for j in jobs(session)}
        for job, why in ((by_id[first.id], "errored"), (by_id[second.id], "expired")):
            assert job.state == "pending" and job.attempts == 1 and why in (job.last_error or "")
            assert job.batch_id is None and (job.run_after - job.created_at).total_seconds() > 59
        # Once due, G + 1 left is under LLM_BATCH_MIN: the retry goes direct, grouped again.
        with session_scope(engine) as s:
            for job in queued[G:]:
                s.get_one(type(job), job.id).run_after = job.created_at
        assert drain(cfg, engine, **llm_deps(cfg)).summarized == G + 1
        assert len(anthropic_fake.message_requests) == 2 and len(summaries(session)) == 2 * G + 1

    def test_urgent_jobs_go_direct_even_when_a_batch_is_due(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, llm_batch_min=5)
        _queue_cards(session, 6)
        add_paper(session, "2611.09999")
        enqueue(session, kind="card", arxiv_id="2611.09999", urgent=True)
        session.commit()

        drain(cfg, engine, **llm_deps(cfg))

        (direct,) = anthropic_fake.message_requests
        assert '<paper id="2611.09999">' in direct["messages"][0]["content"]
        (batch,) = anthropic_fake.batch_requests
        (request,) = batch["requests"]  # the six others, one group
        assert str(request["params"]["messages"]).count("<paper id=") == 6

    def test_a_batch_whose_worker_died_is_polled_not_sent_again(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, llm_batch_min=5, llm_lease_seconds=0.3)
        _queue_cards(session, 5)
        anthropic_fake.batch_polls = 1000
        crashed = Worker(cfg, engine, build_llm(cfg), PdfFetcher(cfg))  # type: ignore[arg-type]
        assert crashed.step()  # submits the batch, then "dies"
        assert len(anthropic_fake.batch_requests) == 1

        anthropic_fake.batch_polls = 0
        time.sleep(0.4)
        report = drain(cfg, engine, **llm_deps(cfg))

        assert report.summarized == 5 and report.batches == 0
        assert len(anthropic_fake.batch_requests) == 1 and anthropic_fake.message_requests == []


class TestSeveralWorkers:
    def test_two_worker_processes_summarize_each_paper_exactly_once(
        self, settings: Settings, session: Session, anthropic_fake
    ) -> None:
        from conftest import cli_env

        cfg = llm_settings(settings, anthropic_fake, llm_batch_min=1000)
        ids = _queue_cards(session, 80)  # ten calls of eight cards
        anthropic_fake.latency = 0.3
        env = cli_env(cfg)
        cmd = [PAPERBOY, "summarize", "--no-queue-new"]
        procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in "ab"]
        outputs = [p.communicate(timeout=120)[0] for p in procs]

        assert [p.returncode for p in procs] == [0, 0], outputs
        seen = anthropic_fake.papers_seen()
        assert set(seen) == set(ids) and set(seen.values()) == {1}
        done = jobs(session)
        assert {j.state for j in done} == {"done"} and len(summaries(session)) == 80
        pids = {j.leased_by.split(":")[1] for j in done if j.leased_by}
        assert len(pids) == 2  # both processes did part of the work


class TestCli:
    def test_summarize_limit_works_on_at_most_n_jobs(
        self, settings: Settings, session: Session, anthropic_fake
    ) -> None:
        from conftest import cli_env

        _queue_cards(session, 4)
        env = cli_env(llm_settings(settings, anthropic_fake))
        out = subprocess.run(
            [PAPERBOY, "summarize", "--limit", "2", "--no-queue-new"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

        assert out.returncode == 0, out.stderr
        assert "2 summarized" in out.stdout
        assert sorted(j.state for j in jobs(session)) == ["done", "done", "pending", "pending"]

    def test_worker_runs_until_ctrl_c_and_stops_cleanly(
        self, settings: Settings, session: Session, anthropic_fake
    ) -> None:
        from conftest import cli_env

        _queue_cards(session, 3)
        env = cli_env(llm_settings(settings, anthropic_fake, llm_worker_idle_seconds=0.1))
        proc = subprocess.Popen(
            [PAPERBOY, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(summaries(session)) < 3:
                time.sleep(0.2)
            assert len(summaries(session)) == 3
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)

        assert proc.returncode == 0, err
        assert "worker stopped: 3 summarized" in out
        assert "Traceback" not in err
