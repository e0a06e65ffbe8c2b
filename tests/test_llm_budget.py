"""Costs and the daily budget: once today's spend would pass it, no more calls, fallbacks shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from llm_helpers import add_paper, jobs, llm_settings
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.jobs import enqueue
from app.db.models import LlmCall, Notice, Paper
from app.llm.budget import usage_today
from app.llm.cards import card_for
from app.llm.client import Usage
from app.llm.cost import cost_usd
from app.worker import drain


class TestCost:
    def test_cache_writes_reads_and_batches_are_priced_as_anthropic_bills_them(
        self, settings: Settings
    ) -> None:
        # Haiku 5.5: $0.10 input, $0.50 output per million tokens.
        usage = Usage(
            input_tokens=1_000_000,
            output_tokens=1_000_000,
            cache_write_tokens=1_000_000,
            cache_read_tokens=1_000_000,
        )
        direct = cost_usd(settings, model="claude-haiku-5-5", usage=usage)
        assert direct == Decimal("0.10") + Decimal("0.50") + Decimal("0.125") + Decimal("0.01")
        assert cost_usd(settings, model="claude-haiku-5-5", usage=usage, batch=True) == direct / 2


class TestBudget:
    def _spend(self, session: Session, usd: str) -> None:
        session.add(LlmCall(model="claude-haiku-5-5", purpose="card", cost_usd=Decimal(usd)))
        session.commit()

    def test_a_spent_budget_stops_calls_defers_jobs_and_notes_it_once(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, llm_daily_budget_usd=Decimal("1.00"))
        self._spend(session, "0.9999")
        for n in (1, 2):
            add_paper(session, f"2611.0000{n}")
            enqueue(session, kind="card", arxiv_id=f"2611.0000{n}")
        session.commit()

        first = drain(cfg, engine)
        second = drain(cfg, engine)

        assert anthropic_fake.requests == []
        assert first.deferred == 1 and second.deferred == 1  # one claim each, then it stops
        tomorrow = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        tomorrow += timedelta(days=1)
        for job in jobs(session):
            assert job.state == "pending" and job.attempts == 0
        assert jobs(session)[0].run_after == tomorrow
        notices = session.scalars(select(Notice).where(Notice.kind == "llm_budget")).all()
        assert len(notices) == 1 and "budget" in notices[0].message
        card = card_for(session, paper=session.get_one(Paper, "2611.00001"), settings=cfg)
        assert card.extractive

    def test_spending_stops_at_the_budget_mid_queue(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, llm_daily_budget_usd=Decimal("0.0008"))
        for n in range(1, 8):
            add_paper(session, f"2611.0000{n}")
            enqueue(session, kind="card", arxiv_id=f"2611.0000{n}")
        session.commit()

        report = drain(cfg, engine)

        assert 2 <= report.summarized < 7 and report.deferred == 1
        spent = sum(c.cost_usd for c in session.scalars(select(LlmCall)))
        assert spent <= Decimal("0.0008")
        status = usage_today(session, cfg)
        assert status["calls"] == report.summarized and status["budget_notice"]
        assert status["input_tokens"] > 0 and status["cache_read_tokens"] > 0


class TestStatus:
    def test_status_shows_spend_tokens_queue_and_recent_failures(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        from rich.console import Console

        from app.cli.llm_cmds import render_llm_status
        from app.status import build_status

        cfg = llm_settings(settings, anthropic_fake, llm_max_attempts=1, llm_max_retries=0)
        for n in (1, 2):
            add_paper(session, f"2611.0000{n}")
            enqueue(session, kind="card", arxiv_id=f"2611.0000{n}")
        session.commit()
        anthropic_fake.overloaded()
        drain(cfg, engine)

        data = build_status(cfg, engine)["llm"]

        assert data["calls"] == 2 and data["failed_calls"] == 1 and data["cost_usd"] > 0
        assert data["input_tokens"] > 0 and data["output_tokens"] > 0
        assert data["queue"] == {"pending": 0, "running": 0, "done": 1, "dead": 1}
        assert any("overloaded" in (f["error"] or "") for f in data["recent_failures"])
        console = Console(record=True, width=120)
        console.print(render_llm_status(data))
        text = console.export_text()
        assert "of $1.00" in text and "1 dead" in text and "Recent LLM failures" in text
