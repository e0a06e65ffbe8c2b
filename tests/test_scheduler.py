"""Scheduled jobs: each slot runs once across replicas, failures are recorded and don't stop
the schedule, housekeeping forgets what is no longer needed."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger
from slack_sdk import WebClient
from sqlalchemy import create_engine, insert, select

from app.db import jobruns
from app.db.engine import session_scope
from app.db.models import SlackEvent
from app.schedule import latest_fire_time
from app.scheduler import (
    SLOT_LOOKBACK,
    JobSpec,
    Outcome,
    build_scheduler,
    fire,
    housekeeping,
    job_specs,
    run_guarded,
)
from app.slack.poster import SlackPoster
from app.sources import build_sources
from tests.deps import embedder

SLOT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def second_engine(db_url):  # type: ignore[no-untyped-def]
    """Another process's view of the same database: its own engine and connection pool."""
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


def _runs(engine, job_id: str) -> list[jobruns.JobRunView]:
    with session_scope(engine) as s:
        return jobruns.runs_for(s, job_id=job_id)


class TestOncePerSlot:
    def test_two_replicas_firing_the_same_slot_run_the_body_once(self, engine, second_engine):
        calls: list[str] = []
        start = threading.Barrier(2)
        outcomes: list[Outcome] = []

        def replica(eng, name: str) -> None:
            start.wait()
            outcomes.append(
                run_guarded(
                    eng,
                    job_id="ingest",
                    scheduled_for=SLOT,
                    owner=name,
                    body=lambda: (calls.append(name), time.sleep(0.3)),
                )  # fmt: skip
            )

        threads = [
            threading.Thread(target=replica, args=(engine, "a")),
            threading.Thread(target=replica, args=(second_engine, "b")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert len(calls) == 1
        assert sorted(outcomes) == sorted([Outcome.RAN, Outcome.BUSY]) or sorted(
            outcomes
        ) == sorted([Outcome.RAN, Outcome.DUPLICATE])
        [run] = _runs(engine, "ingest")
        assert run.status == "ok" and run.owner == calls[0] and run.finished_at is not None

    def test_a_replica_firing_late_does_not_rerun_a_finished_slot(self, engine, second_engine):
        calls: list[int] = []
        first = run_guarded(
            engine, job_id="digest", scheduled_for=SLOT, body=lambda: calls.append(1)
        )
        late = run_guarded(
            second_engine, job_id="digest", scheduled_for=SLOT, body=lambda: calls.append(2)
        )
        assert (first, late) == (Outcome.RAN, Outcome.DUPLICATE)
        assert calls == [1]

    def test_next_slot_waits_while_the_previous_one_still_runs_elsewhere(
        self, engine, second_engine
    ):
        running = threading.Event()
        release = threading.Event()

        def long_ingest() -> None:
            running.set()
            release.wait(10)

        worker = threading.Thread(
            target=run_guarded,
            args=(engine,),
            kwargs={"job_id": "ingest", "scheduled_for": SLOT, "body": long_ingest},
        )
        worker.start()
        assert running.wait(10)
        try:
            later = run_guarded(
                second_engine, job_id="ingest", scheduled_for=SLOT + timedelta(hours=1),
                body=lambda: pytest.fail("overlapping ingest"),
            )  # fmt: skip
        finally:
            release.set()
            worker.join()
        assert later == Outcome.BUSY
        assert [r.scheduled_for for r in _runs(engine, "ingest")] == [SLOT]

    def test_two_background_schedulers_run_each_tick_once(self, engine, second_engine):
        ran: list[datetime] = []
        lock = threading.Lock()

        def body(slot: datetime) -> None:
            with lock:
                ran.append(slot)
            time.sleep(0.05)

        spec = JobSpec(id="tick", trigger=CronTrigger(second="*", timezone=UTC), body=body)
        schedulers = [
            build_scheduler(engine, [spec], owner="a"),
            build_scheduler(second_engine, [spec], owner="b"),
        ]
        for s in schedulers:
            s.start()
        time.sleep(3.5)
        for s in schedulers:
            s.shutdown(wait=True)

        counts = Counter(ran)
        assert len(counts) >= 2, "the scheduler should have ticked every second"
        assert set(counts.values()) == {1}, f"a tick ran twice: {counts}"
        assert [r.scheduled_for for r in _runs(engine, "tick")] == sorted(counts)


class TestFailures:
    def test_failing_job_records_its_error_and_the_next_tick_still_runs(self, engine):
        attempts: list[datetime] = []

        def flaky(slot: datetime) -> None:
            attempts.append(slot)
            if len(attempts) == 1:
                raise RuntimeError("arXiv fell over")

        spec = JobSpec(id="flaky", trigger=CronTrigger(second="*", timezone=UTC), body=flaky)
        scheduler = build_scheduler(engine, [spec])
        scheduler.start()
        deadline = time.time() + 6
        while len(attempts) < 2 and time.time() < deadline:
            time.sleep(0.1)
        scheduler.shutdown(wait=True)

        runs = _runs(engine, "flaky")
        assert len(runs) >= 2
        assert runs[0].status == "failed"
        assert "RuntimeError: arXiv fell over (error id " in (runs[0].error or "")
        assert runs[1].status == "ok" and runs[1].error is None

    def test_expected_error_is_recorded_as_one_line(self, engine):
        from app.errors import SourceError

        def body() -> None:
            raise SourceError("arXiv API answered 503 three times")

        outcome = run_guarded(engine, job_id="ingest", scheduled_for=SLOT, body=body)

        assert outcome == Outcome.FAILED
        [run] = _runs(engine, "ingest")
        assert run.error == "arXiv API answered 503 three times"


class TestSlots:
    @pytest.mark.parametrize(
        ("now", "expected"),
        [
            (datetime(2026, 3, 2, 9, 0, 0, 400_000, tzinfo=UTC), SLOT),
            (datetime(2026, 3, 2, 9, 0, 59, tzinfo=UTC), SLOT),
            (datetime(2026, 3, 2, 9, 1, 0, tzinfo=UTC), SLOT + timedelta(minutes=1)),
        ],
    )  # fmt: skip
    def test_every_replica_maps_a_minute_tick_to_the_same_slot(self, now, expected):
        trigger = CronTrigger(minute="*", second=0, timezone=UTC)
        assert latest_fire_time(trigger, now=now, within=SLOT_LOOKBACK) == expected

    def test_a_daily_job_started_hours_late_still_belongs_to_its_slot(self):
        trigger = CronTrigger(hour=3, minute=17, timezone=UTC)
        now = datetime(2026, 3, 2, 20, 5, tzinfo=UTC)
        slot = latest_fire_time(trigger, now=now, within=SLOT_LOOKBACK)
        assert slot == datetime(2026, 3, 2, 3, 17, tzinfo=UTC)


class TestPaperboyJobs:
    def _specs(self, settings, engine):
        return job_specs(
            settings,
            engine,
            SlackPoster(WebClient(token="xoxb-x", base_url=settings.slack_api_url)),
            build_sources(settings),
            embedder(),
        )

    def test_jobs_have_fixed_ids_and_are_not_duplicated_when_added_again(self, settings, engine):
        specs = self._specs(settings, engine)
        scheduler = build_scheduler(engine, specs + specs)
        scheduler.start(paused=True)  # ids are reconciled when the scheduler starts
        assert sorted(job.id for job in scheduler.get_jobs()) == [
            "digest",
            "housekeeping",
            "index",
            "ingest",
        ]
        assert str(scheduler.timezone) == "UTC"
        scheduler.shutdown(wait=False)

    def test_housekeeping_forgets_old_event_ids_and_marks_dead_runs(self, engine):
        now = datetime.now(UTC)
        with session_scope(engine) as s:
            s.execute(insert(SlackEvent), [
                {"event_id": "EvOLD", "received_at": now - timedelta(days=30)},
                {"event_id": "EvNEW", "received_at": now - timedelta(minutes=5)},
            ])  # fmt: skip
            old = jobruns.claim_run(s, job_id="ingest", scheduled_for=now - timedelta(days=60))
            assert old is not None
            jobruns.finish_run(s, run_id=old, status="ok")
            stuck = jobruns.claim_run(s, job_id="ingest", scheduled_for=now - timedelta(hours=1))
            assert stuck is not None
        with engine.begin() as conn:  # the stuck run started long ago and its process died
            conn.exec_driver_sql(
                "UPDATE job_runs SET started_at = now() - interval '1 day' WHERE id = %s", (stuck,)
            )

        housekeeping(engine, now)

        with session_scope(engine) as s:
            assert s.scalars(select(SlackEvent.event_id)).all() == ["EvNEW"]
            runs = jobruns.runs_for(s, job_id="ingest")
        assert [(r.status, r.error is not None) for r in runs] == [("abandoned", True)]

    def test_digest_tick_runs_the_due_digests_and_records_the_run(self, settings, engine):
        digest = next(s for s in self._specs(settings, engine) if s.id == "digest")
        now = datetime(2026, 3, 2, 9, 0, 12, tzinfo=UTC)

        assert fire(engine, digest, now=now) == Outcome.RAN
        assert fire(engine, digest, now=now + timedelta(seconds=20)) == Outcome.DUPLICATE

        [run] = _runs(engine, "digest")
        assert run.scheduled_for == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        assert run.status == "ok", run.error

    def test_ingest_job_with_both_sources_down_records_which_failed(self, settings, engine):
        # Both source URLs point at a closed port; no retries, so the failure comes at once.
        quick = settings.model_copy(update={"arxiv_num_retries": 0, "hf_num_retries": 0})
        ingest = next(s for s in self._specs(quick, engine) if s.id == "ingest")

        outcome = fire(engine, ingest, now=datetime(2026, 3, 2, 0, 40, tzinfo=UTC))

        assert outcome == Outcome.FAILED
        [run] = _runs(engine, "ingest")
        assert run.scheduled_for == datetime(2026, 3, 2, 0, 35, tzinfo=UTC)
        assert run.error is not None and run.error.startswith("ingest failed for arxiv: ")
        assert "hf: " in run.error and "Traceback" not in run.error
