"""The daily budget shared by several workers, and the budget day in PAPERBOY_TIMEZONE."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from llm_helpers import add_paper, jobs, llm_settings
from paper_helpers import paper_of
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.jobs import enqueue
from app.db.models import LlmCall, LlmReservation
from app.llm import budget
from app.llm.cost import estimate_usd
from app.llm.prompts import CARD_GROUP_SIZE, card_request, cards_request
from app.llm.runner import WorkerReport
from app.llm.tasks import paper_data
from app.worker import drain
from tests.deps import llm_deps

MODEL = "claude-haiku-5-5"


def card_estimate(session: Session, settings: Settings, arxiv_id: str) -> Decimal:
    request = card_request(paper_data(paper_of(session, arxiv_id)))
    return estimate_usd(settings, model=MODEL, request=request)


def ledger(session: Session) -> Decimal:
    session.expire_all()
    return Decimal(session.scalar(select(func.coalesce(func.sum(LlmCall.cost_usd), 0))))


def live_reservations(session: Session) -> int:
    return session.scalar(select(func.count(LlmReservation.id))) or 0


class TestWorkersRacing:
    def test_two_workers_at_the_budget_edge_make_one_call_and_the_other_job_waits(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        for n in (1, 2):
            add_paper(session, f"2611.0000{n}")
            enqueue(session, kind="card", arxiv_id=f"2611.0000{n}")
        session.commit()
        # Room for one card's worst case, not two; once the first is billed, not another.
        limit = card_estimate(session, settings, "2611.00001") * Decimal("1.05")
        cfg = llm_settings(
            settings, anthropic_fake, llm_daily_budget_usd=limit, llm_retry_base_seconds=1.0
        )
        # Both calls would be in flight at once; the loser retries (after 1 s) while the
        # winner's is still out, then again once it is billed.
        anthropic_fake.latency = 2.0
        start = threading.Barrier(2)
        reports: list[WorkerReport] = []

        def worker() -> None:
            deps = llm_deps(cfg)
            start.wait()
            reports.append(drain(cfg, engine, **deps))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert len(anthropic_fake.message_requests) == 1
        assert sum(r.summarized for r in reports) == 1
        # The loser was turned away: by the winner's call in flight, then by its bill (twice),
        # or once, when one worker claimed both cards as a group and the second, tried alone,
        # found the first one's reservation. Either way one call, and the budget holds.
        assert sum(r.deferred for r in reports) in (1, 2)
        assert ledger(session) <= limit
        done, waiting = sorted(jobs(session), key=lambda j: j.state)
        assert done.state == "done"
        assert waiting.state == "pending" and waiting.attempts == 0
        assert "budget" in (waiting.last_error or "")
        assert waiting.run_after == budget.next_day_start(cfg)  # the day's spend leaves no room
        assert budget.usage_today(session, cfg)["waiting_for_budget"] == 1  # `paperboy status`
        assert live_reservations(session) == 0  # settled, nothing held for a lease

    def test_a_crashed_workers_reservation_stops_counting_after_its_lease(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        add_paper(session, "2611.00001")
        enqueue(session, kind="card", arxiv_id="2611.00001")
        limit = card_estimate(session, settings, "2611.00001") * Decimal("1.5")
        cfg = llm_settings(
            settings, anthropic_fake, llm_daily_budget_usd=limit, llm_retry_base_seconds=1.0
        )
        held = LlmReservation(
            cost_usd=limit, purpose="card", expires_at=datetime.now(UTC) + timedelta(hours=1)
        )
        session.add(held)
        session.commit()

        blocked = drain(cfg, engine, **llm_deps(cfg))
        (job,) = jobs(session)
        assert blocked.deferred == 1 and anthropic_fake.message_requests == []
        assert job.state == "pending" and "in flight" in (job.last_error or "")
        assert job.run_after < datetime.now(UTC) + timedelta(minutes=5)  # soon, not tomorrow

        held.expires_at = datetime.now(UTC) - timedelta(seconds=1)  # its worker died
        job.run_after = datetime.now(UTC)
        session.commit()
        assert drain(cfg, engine, **llm_deps(cfg)).summarized == 1

    def test_a_failed_call_releases_its_reservation(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        add_paper(session, "2611.00001")
        enqueue(session, kind="card", arxiv_id="2611.00001")
        session.commit()
        cfg = llm_settings(settings, anthropic_fake, llm_max_retries=0)
        anthropic_fake.overloaded()

        report = drain(cfg, engine, **llm_deps(cfg))

        assert report.retried == 1 and live_reservations(session) == 0
        status = budget.usage_today(session, cfg)
        assert status["failed_calls"] == 1 and status["reserved_usd"] == 0

    def test_a_batch_reserves_what_fits_and_settles_at_its_results(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        ids = [f"2611.{n:05d}" for n in range(1, 5 * CARD_GROUP_SIZE + 1)]  # five card groups
        for arxiv_id in ids:
            add_paper(session, arxiv_id)
            enqueue(session, kind="card", arxiv_id=arxiv_id)
        session.commit()
        group = [paper_data(paper_of(session, a)) for a in ids[:CARD_GROUP_SIZE]]
        per_group = estimate_usd(settings, model=MODEL, request=cards_request(group), batch=True)
        limit = per_group * Decimal("3.5")
        cfg = llm_settings(settings, anthropic_fake, llm_batch_min=5, llm_daily_budget_usd=limit)

        report = drain(cfg, engine, **llm_deps(cfg))

        (batch,) = anthropic_fake.batch_requests
        assert len(batch["requests"]) == 3  # the whole batch reserved at once: three groups fit
        assert ledger(session) <= limit and live_reservations(session) == 0
        assert report.summarized >= 3 * CARD_GROUP_SIZE and report.deferred >= 2 * CARD_GROUP_SIZE
        waiting = [j for j in jobs(session) if j.state != "done"]
        assert len(waiting) == len(ids) - report.summarized
        assert all(j.state == "pending" and "budget" in (j.last_error or "") for j in waiting)


def local_zone_past_one_am() -> str:
    """A zone far from UTC where it is already past 01:00 today, so 00:30 is in the past."""
    for name in ("Asia/Tokyo", "America/New_York", "Pacific/Honolulu", "Asia/Kolkata"):
        if datetime.now(ZoneInfo(name)).hour >= 1:
            return name
    raise AssertionError("unreachable: these zones span more than a day")


class TestBudgetDay:
    @pytest.fixture
    def zone(self) -> str:
        return local_zone_past_one_am()

    def test_the_budget_day_starts_at_local_midnight(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake, zone: str
    ) -> None:
        tz = ZoneInfo(zone)
        midnight = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        cfg = llm_settings(
            settings, anthropic_fake, paperboy_timezone=zone, llm_daily_budget_usd=Decimal("1")
        )
        session.add_all(
            [
                LlmCall(
                    model=MODEL,
                    purpose="card",
                    cost_usd=Decimal("0.90"),
                    at=midnight - timedelta(minutes=30),
                ),  # 23:30 yesterday  # fmt: skip
                LlmCall(
                    model=MODEL,
                    purpose="card",
                    cost_usd=Decimal("0.25"),
                    at=midnight + timedelta(minutes=30),
                ),  # 00:30 today  # fmt: skip
            ]
        )
        add_paper(session, "2611.00001")
        enqueue(session, kind="card", arxiv_id="2611.00001")
        session.commit()

        status = budget.usage_today(session, cfg)
        assert status["day"] == midnight.date().isoformat() and status["timezone"] == zone
        assert status["cost_usd"] == 0.25 and status["calls"] == 1
        # Yesterday's 0.90 (UTC may call part of it today) does not block today's card.
        assert drain(cfg, engine, **llm_deps(cfg)).summarized == 1

    def test_a_spent_day_waits_for_local_midnight(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake, zone: str
    ) -> None:
        tz = ZoneInfo(zone)
        midnight = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        cfg = llm_settings(
            settings, anthropic_fake, paperboy_timezone=zone, llm_daily_budget_usd=Decimal("1")
        )
        session.add(
            LlmCall(
                model=MODEL,
                purpose="card",
                cost_usd=Decimal("1"),
                at=midnight + timedelta(minutes=30),
            )  # fmt: skip
        )
        add_paper(session, "2611.00001")
        enqueue(session, kind="card", arxiv_id="2611.00001")
        session.commit()

        report = drain(cfg, engine, **llm_deps(cfg))

        (job,) = jobs(session)
        assert report.deferred == 1 and anthropic_fake.message_requests == []
        assert job.state == "pending"
        assert job.run_after == midnight + timedelta(days=1)
        assert job.run_after.astimezone(tz).hour == 0
        notice = budget.usage_today(session, cfg)["budget_notice"]
        assert notice and zone in notice
