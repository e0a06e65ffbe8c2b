"""`paperboy backfill` as a user runs it: a subprocess against the fake OAI-PMH server, stopped
part-way (a dropped connection, Ctrl-C) and run again."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fakes.oai_pmh import FakeOai, oai_paper
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import BackfillRun, BackfillStatus, Paper, PaperSource
from tests.deps import PAPERBOY, cli_env, run_cli

DAY = date(2026, 1, 5)
IDS = [f"2601.0000{n}" for n in range(1, 7)]
BAD_SINCE = "error: --since must be a date like 2025-12-01"


@pytest.fixture
def oai() -> Iterator[FakeOai]:
    with FakeOai(page_size=2) as fake:
        for n, arxiv_id in enumerate(IDS):
            fake.add(oai_paper(arxiv_id, datestamp=DAY + timedelta(days=n), title=f"Paper {n}"))
        yield fake


@pytest.fixture
def cfg(settings: Settings, oai: FakeOai) -> Settings:
    return settings.model_copy(
        update={
            "arxiv_oai_url": oai.url,
            "arxiv_oai_delay_seconds": 0.0,
            "arxiv_oai_num_retries": 0,
            "source_retry_base_seconds": 0.0,
            "arxiv_categories": ["cs.CL"],
        }
    )


def _papers(session: Session) -> list[str]:
    session.expire_all()
    return sorted(a for a in session.scalars(select(Paper.arxiv_id)) if a)


def _no_page_twice(oai: FakeOai) -> None:
    cursors = [cursor for _, cursor in oai.served]
    assert sorted(cursors) == [0, 2, 4]


def test_a_full_backfill_prints_its_progress_and_one_line_per_set(
    cfg: Settings, oai: FakeOai, session: Session
) -> None:
    result = run_cli(cfg, "backfill", "--since", "2026-01-01")
    assert result.returncode == 0, result.stderr
    assert "cs (cs.CL): done - 6 papers stored (6 new), 6 records read in 3 pages" in result.stdout
    assert "6/6" in result.stdout  # the bar: records read of completeListSize
    assert _papers(session) == IDS


def test_a_dropped_connection_is_one_line_and_the_same_command_resumes(
    cfg: Settings, oai: FakeOai, session: Session
) -> None:
    oai.drop_request(2)
    first = run_cli(cfg, "backfill", "--since", "2026-01-01")
    assert first.returncode == 1
    (line,) = first.stderr.strip().splitlines()
    assert line.startswith("error: arXiv OAI-PMH: connection failed")
    assert line.endswith("progress is saved: run the same command again to resume")
    assert _papers(session) == IDS[:2]
    status = json.loads(run_cli(cfg, "status", "--json").stdout)["backfill"]
    assert list(status) == ["cs cs.CL 2026-01-01.."]
    assert status["cs cs.CL 2026-01-01.."].startswith("stopped - 2 papers stored, 1 pages")
    assert "connection failed" in status["cs cs.CL 2026-01-01.."]

    second = run_cli(cfg, "backfill", "--since", "2026-01-01")
    assert second.returncode == 0, second.stderr
    assert _papers(session) == IDS
    _no_page_twice(oai)
    assert session.scalar(select(func.count()).select_from(PaperSource)) == 6

    third = run_cli(cfg, "backfill", "--since", "2026-01-01")
    assert "already backfilled (6 papers); nothing fetched" in third.stdout
    assert len(oai.served) == 3


def test_ctrl_c_leaves_a_resumable_run(
    cfg: Settings, oai: FakeOai, session: Session, engine: Engine
) -> None:
    oai.delay_request(2, 30)  # page 2 hangs: the user loses patience
    process = subprocess.Popen(
        [PAPERBOY, "backfill", "--since", "2026-01-01"],
        env={**cli_env(cfg), "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait(lambda: len(oai.requests) == 2)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    assert err.strip() == "interrupted: progress is saved: run the same command again to resume"
    session.expire_all()
    run = session.scalars(select(BackfillRun)).one()
    assert run.status == BackfillStatus.STOPPED and run.resumption_token and run.pages == 1

    again = run_cli(cfg, "backfill", "--since", "2026-01-01")
    assert again.returncode == 0, again.stderr
    assert _papers(session) == IDS
    # Page 2 was asked for twice (the first answer never arrived), answered once.
    assert sorted(c for _, c in oai.served) == [0, 2, 4]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2025-13-01"], f"{BAD_SINCE}, not '2025-13-01'"),
        (["--since", "last year"], f"{BAD_SINCE}, not 'last year'"),
        (["--since", "2026-01-09", "--until", "2026-01-01"],
         "error: --until 2026-01-01 is before --since 2026-01-09"),
        (["--since", "2026-01-01", "--categories", "cs.CLL"],
         "error: unknown arXiv category 'cs.CLL' (did you mean cs.CL?)"),
    ],
)  # fmt: skip
def test_bad_options_are_one_line_and_fetch_nothing(
    cfg: Settings, oai: FakeOai, args: list[str], message: str
) -> None:
    result = run_cli(cfg, "backfill", *args)
    assert result.returncode == 1
    assert result.stderr.strip() == message
    assert "Traceback" not in result.stdout + result.stderr
    assert oai.requests == []


def _wait(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)
