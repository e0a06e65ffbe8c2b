"""Costs and the daily budget: once today's spend would pass it, no more calls, fallbacks shown."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from llm_helpers import add_paper, jobs, llm_settings
from paper_helpers import paper_of
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.jobs import enqueue
from app.db.models import LlmCall, LlmJob, Notice
from app.llm.budget import usage_today
from app.llm.cards import card_for
from app.llm.client import Usage, build_llm
from app.llm.cost import cost_usd
from app.llm.fulltext import PdfFetcher
from app.worker import drain
from tests.deps import llm_deps

PAPERBOY = str(Path(sys.executable).parent / "paperboy")


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

        first = drain(cfg, engine, **llm_deps(cfg))
        second = drain(cfg, engine, **llm_deps(cfg))

        assert anthropic_fake.requests == []
        # One group claimed, then it stops; nothing else is due before tomorrow.
        assert first.deferred == 2 and second.deferred == 0
        tomorrow = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        tomorrow += timedelta(days=1)
        for job in jobs(session):
            assert job.state == "pending" and job.attempts == 0
        assert jobs(session)[0].run_after == tomorrow
        notices = session.scalars(select(Notice).where(Notice.kind == "llm_budget")).all()
        assert len(notices) == 1 and "budget" in notices[0].message
        card = card_for(session, paper=paper_of(session, "2611.00001"), settings=cfg)
        assert card.extractive

        # The next day: the deferred jobs run and the LLM card replaces the extractive one.
        session.execute(update(LlmCall).values(at=LlmCall.at - timedelta(days=1)))
        session.execute(update(LlmJob).values(run_after=func.now()))
        session.commit()
        assert drain(cfg, engine, **llm_deps(cfg)).summarized == 2
        session.expire_all()
        card = card_for(session, paper=paper_of(session, "2611.00001"), settings=cfg)
        assert not card.extractive and card.model == "claude-haiku-5-5"

    def test_spending_stops_at_the_budget_mid_queue(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(
            settings,
            anthropic_fake,
            llm_daily_budget_usd=Decimal("0.0008"),
            llm_cache_min_tokens=1024,  # the fake's floor: the instructions are cached
        )
        for n in range(1, 8):
            add_paper(session, f"2611.0000{n}")
            enqueue(session, kind="card", arxiv_id=f"2611.0000{n}")
        session.commit()

        report = drain(cfg, engine, **llm_deps(cfg))

        # The group of seven does not fit: cards go one by one until the budget is spent.
        assert 2 <= report.summarized < 7 and report.summarized + report.deferred == 7
        spent = sum(c.cost_usd for c in session.scalars(select(LlmCall)))
        assert spent <= Decimal("0.0008")
        status = usage_today(session, cfg)
        assert status["calls"] == report.summarized and status["budget_notice"]
        assert status["input_tokens"] > 0 and status["cache_read_tokens"] > 0

    def test_a_submitted_batch_counts_against_the_budget_until_its_results_are_in(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        from app.llm.cost import estimate_usd
        from app.llm.prompts import PaperData, card_request
        from app.worker import Worker

        for n in range(1, 7):
            add_paper(session, f"2611.0000{n}")
        per_card = estimate_usd(
            settings,
            model="claude-haiku-5-5",
            request=card_request(
                PaperData("2611.00001", "t", paper_of(session, "2611.00001").abstract)
            ),
        )
        from app.llm.prompts import cards_request

        group_of_five = estimate_usd(
            settings,
            model="claude-haiku-5-5",
            request=cards_request(
                [PaperData(f"2611.0000{n}", "t", paper_of(session, "2611.00001").abstract)
                 for n in range(1, 6)]
            ),
        )  # fmt: skip
        # Room for the batch of five (half price), not for one more direct card on top of it;
        # without counting the batch in flight, that card would fit three times over.
        budget = group_of_five / 2 + per_card / 2
        cfg = llm_settings(settings, anthropic_fake, llm_batch_min=5, llm_daily_budget_usd=budget)
        for n in range(1, 6):
            enqueue(session, kind="card", arxiv_id=f"2611.0000{n}")
        session.commit()
        anthropic_fake.batch_polls = 1000  # the batch stays in progress
        assert Worker(cfg, engine, build_llm(cfg), PdfFetcher(cfg)).step()  # type: ignore[arg-type]
        assert len(anthropic_fake.batch_requests) == 1 and calls_cost(session) == 0

        enqueue(session, kind="card", arxiv_id="2611.00006", urgent=True)
        session.commit()
        report = drain(cfg, engine, **llm_deps(cfg))

        assert report.deferred == 1 and anthropic_fake.message_requests == []
        assert usage_today(session, cfg)["budget_notice"]


def calls_cost(session: Session) -> Decimal:
    session.expire_all()
    return sum((c.cost_usd for c in session.scalars(select(LlmCall))), Decimal(0))


class TestStatus:
    def test_status_shows_spend_tokens_queue_and_recent_failures(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        from rich.console import Console

        from app.status import build_status, render_llm_status

        cfg = llm_settings(settings, anthropic_fake, llm_max_attempts=1, llm_max_retries=0)
        anthropic_fake.overloaded()
        for n in (1, 2):  # one card at a time: the first call fails, the second is fine
            add_paper(session, f"2611.0000{n}")
            enqueue(session, kind="card", arxiv_id=f"2611.0000{n}")
            session.commit()
            drain(cfg, engine, **llm_deps(cfg))

        data = build_status(cfg, engine)["llm"]

        assert data["calls"] == 2 and data["failed_calls"] == 1 and data["cost_usd"] > 0
        assert data["input_tokens"] > 0 and data["output_tokens"] > 0
        assert data["queue"] == {"pending": 0, "running": 0, "done": 1, "dead": 1}
        assert any("overloaded" in (f["error"] or "") for f in data["recent_failures"])
        console = Console(record=True, width=120)
        console.print(render_llm_status(data))
        text = console.export_text()
        assert "of $1.00" in text and "1 dead" in text and "Recent LLM failures" in text

        # What the operator runs: `paperboy status`.
        from conftest import cli_env

        env = {**cli_env(cfg), "COLUMNS": "200"}
        out = subprocess.run(
            [PAPERBOY, "status"], env=env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert f"${data['cost_usd']:.4f} of $1.00, 2 calls" in out.stdout
        assert f"tokens: {data['input_tokens']:,} in" in out.stdout
        assert "queue: 0 pending, 0 running, 1 done, 1 dead" in out.stdout
        assert "Recent LLM failures" in out.stdout and "overloaded" in out.stdout
