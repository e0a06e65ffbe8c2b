"""The start-up ingest: a process starting on a stale archive ingests at once, in the background,
and only once across replicas; a recent successful ingest means no extra one."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fakes.arxiv_api import FakeArxiv, arxiv_paper
from fakes.hf_api import FakeHF, hf_item
from slack_helpers import app_settings
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import jobruns
from app.db.engine import session_scope
from app.db.models import IngestRun, IngestStatus, Paper
from app.runtime import Runtime, run_scheduler, serve
from app.scheduler import Outcome, catch_up_ingest
from app.sources import build_sources
from tests.deps import embedder

NOW = datetime.now(UTC)


@pytest.fixture
def cfg(settings: Settings, arxiv_fake: FakeArxiv, hf_fake: FakeHF) -> Settings:
    """Both sources at their fakes, with two cs.CL papers and one featured on Hugging Face."""
    arxiv_fake.add(
        arxiv_paper("2611.00001", published=NOW - timedelta(hours=1)),
        arxiv_paper("2611.00002", published=NOW - timedelta(hours=2)),
    )
    hf_fake.daily[NOW.date().isoformat()] = [hf_item("2611.00001", upvotes=7)]
    return settings.model_copy(
        update={
            "arxiv_api_url": arxiv_fake.url,
            "hf_api_url": hf_fake.url,
            "arxiv_categories": ["cs.CL"],
            "arxiv_num_retries": 1,
            "hf_num_retries": 1,
            "hf_days": 1,
            "source_retry_base_seconds": 0.01,
        }
    )


def paper_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Paper)) or 0


def ingested_ok(engine: Engine, *, ago: timedelta) -> None:
    """Both sources ingested successfully `ago`."""
    with session_scope(engine) as session:
        for source in ("arxiv", "hf"):
            at = datetime.now(UTC) - ago
            session.add(
                IngestRun(source=source, status=IngestStatus.OK, started_at=at, finished_at=at)
            )


def wait_until(check: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def serving(cfg: Settings, slack_fake: Any) -> Iterator[tuple[Runtime, str]]:
    """`paperboy serve` (Slack app, scheduler; no worker) in a thread, on a free port."""
    port = free_port()
    rt = Runtime(app_settings(cfg, slack_fake, port=port))
    stop = threading.Event()
    thread = threading.Thread(
        target=serve, args=(rt,), kwargs={"stop": stop, "worker": False, "host": "127.0.0.1"}
    )
    thread.start()
    try:
        yield rt, f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive()


class TestServeOnAnEmptyArchive:
    def test_papers_arrive_within_seconds_while_healthz_answers(
        self, serving: tuple[Runtime, str], arxiv_fake: FakeArxiv, engine: Engine
    ) -> None:
        arxiv_fake.delay_next(2.0)  # a slow arXiv: the ingest is still running below
        rt, base = serving

        def healthz() -> httpx.Response | None:
            try:
                return httpx.get(base + "/healthz", timeout=2)
            except httpx.TransportError:
                return None  # not listening yet

        assert wait_until(lambda: healthz() is not None, timeout=30)
        started = time.monotonic()
        health = healthz()
        assert health is not None and time.monotonic() - started < 1.0
        assert wait_until(lambda: "ingest" in healthz().json()["jobs"], timeout=10)  # type: ignore[union-attr]

        assert wait_until(lambda: paper_count(engine) == 2, timeout=30)
        assert wait_until(lambda: healthz().json()["jobs"]["ingest"]["status"] == "ok")  # type: ignore[union-attr]
        with session_scope(engine) as session:
            [run] = jobruns.runs_for(session, job_id="ingest")
        assert run.status == "ok"


class TestNoExtraIngest:
    def test_a_recent_successful_ingest_means_none_at_start_up(
        self, cfg: Settings, engine: Engine, arxiv_fake: FakeArxiv, hf_fake: FakeHF
    ) -> None:
        ingested_ok(engine, ago=timedelta(minutes=20))
        outcome = catch_up_ingest(cfg, engine, build_sources(cfg), embedder())
        assert outcome == Outcome.NOT_NEEDED
        assert arxiv_fake.requests == [] and hf_fake.requests == []
        with session_scope(engine) as session:
            assert jobruns.runs_for(session, job_id="ingest") == []

    def test_an_ingest_older_than_the_hourly_poll_is_caught_up(
        self, cfg: Settings, engine: Engine
    ) -> None:
        ingested_ok(engine, ago=timedelta(hours=2))
        assert catch_up_ingest(cfg, engine, build_sources(cfg), embedder()) == Outcome.RAN
        assert paper_count(engine) == 2

    def test_one_source_never_succeeding_makes_the_archive_stale(
        self, cfg: Settings, engine: Engine
    ) -> None:
        with session_scope(engine) as session:
            session.add(IngestRun(source="arxiv", status=IngestStatus.OK, finished_at=NOW))
            session.add(IngestRun(source="hf", status=IngestStatus.FAILED, finished_at=NOW))
        assert catch_up_ingest(cfg, engine, build_sources(cfg), embedder()) == Outcome.RAN

    def test_two_replicas_starting_together_ingest_once(
        self, cfg: Settings, engine: Engine, db_url: str, arxiv_fake: FakeArxiv
    ) -> None:
        other = create_engine(db_url)  # another process's pool
        arxiv_fake.delay_next(0.5)  # the first ingest is still running when the second starts
        outcomes: list[Outcome] = []
        start = threading.Barrier(2)

        def replica(eng: Engine, owner: str) -> None:
            start.wait()
            outcomes.append(catch_up_ingest(cfg, eng, build_sources(cfg), embedder(), owner=owner))

        threads = [
            threading.Thread(target=replica, args=(engine, "a")),
            threading.Thread(target=replica, args=(other, "b")),
        ]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)
        finally:
            other.dispose()
        assert sorted(outcomes) in (
            sorted([Outcome.RAN, Outcome.BUSY]),
            sorted([Outcome.RAN, Outcome.NOT_NEEDED]),
            sorted([Outcome.RAN, Outcome.DUPLICATE]),
        )
        assert len(arxiv_fake.queries()) == 1  # one category, one page: one ingest


class TestSchedulerProcess:
    def test_scheduler_starting_on_an_empty_archive_ingests_at_once(
        self, cfg: Settings, engine: Engine
    ) -> None:
        rt = Runtime(cfg)
        stop = threading.Event()
        thread = threading.Thread(target=run_scheduler, args=(rt,), kwargs={"stop": stop})
        thread.start()
        try:
            assert wait_until(lambda: paper_count(engine) == 2, timeout=30)
        finally:
            stop.set()
            thread.join(timeout=30)
        assert not thread.is_alive()
