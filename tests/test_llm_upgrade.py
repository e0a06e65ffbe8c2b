"""When a stored summary is replaced: extractive fallbacks are upgraded once the LLM can write
them (no key, budget, refusals), and a new prompt version or arXiv version regenerates it."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from llm_helpers import add_paper, jobs, llm_settings, summaries
from paper_helpers import paper_of, pid
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Summary, Topic
from app.db.summaries import FALLBACK_MAX_TRIES, FALLBACK_RETRY_AFTER
from app.llm.cards import card_for
from app.llm.prompts import CARD_PROMPT_VERSION
from app.relevance import enqueue_cards_for_new_papers, refresh_relevance
from app.worker import drain
from tests.deps import llm_deps

PAPERBOY = str(Path(sys.executable).parent / "paperboy")
ID = "2611.00001"
# What the fake model writes as the TL;DR: the abstract's first sentence (cut to 30 words).
LLM_TLDR_START = "Retrieval-augmented generation grounds language models"


def _topic_and_paper(session: Session) -> None:
    session.add(Topic(name="retrieval", query="retrieval", categories=[], exclude=[]))
    add_paper(session, ID)


def _card(session: Session, cfg: Settings):  # type: ignore[no-untyped-def]
    session.expire_all()
    return card_for(session, paper=paper_of(session, ID), settings=cfg)


def _age_summary(session: Session, by: timedelta) -> None:
    session.execute(update(Summary).values(created_at=Summary.created_at - by))
    session.commit()


class TestUpgradeOnceTheLlmIsBack:
    def test_no_key_shows_extractive_then_a_key_and_summarize_bring_the_llm_card(
        self, settings: Settings, session: Session, anthropic_fake
    ) -> None:
        from conftest import cli_env

        _topic_and_paper(session)
        offline = llm_settings(settings, anthropic_fake, anthropic_api_key=None)

        out = subprocess.run(
            [PAPERBOY, "summarize"], env=cli_env(offline), capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert out.returncode == 0 and "No ANTHROPIC_API_KEY" in out.stdout
        before = _card(session, offline)
        assert before.extractive and not before.tldr.startswith(LLM_TLDR_START)
        assert anthropic_fake.requests == []

        online = llm_settings(settings, anthropic_fake)
        out = subprocess.run(
            [PAPERBOY, "summarize"], env=cli_env(online), capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip

        assert out.returncode == 0, out.stderr
        assert "1 new card jobs queued; 1 summarized" in out.stdout
        after = _card(session, online)
        assert not after.extractive and after.tldr.startswith(LLM_TLDR_START)

    def test_a_refused_paper_is_tried_again_a_day_later(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake)
        _topic_and_paper(session)
        anthropic_fake.refuse()
        assert enqueue_cards_for_new_papers(cfg, engine) == 1
        assert drain(cfg, engine, **llm_deps(cfg)).fallbacks == 1
        assert _card(session, cfg).extractive

        # Straight away: the refusal is remembered, nothing is sent again.
        assert enqueue_cards_for_new_papers(cfg, engine) == 0
        assert len(anthropic_fake.message_requests) == 1

        _age_summary(session, FALLBACK_RETRY_AFTER + timedelta(minutes=1))
        assert enqueue_cards_for_new_papers(cfg, engine) == 1
        assert drain(cfg, engine, **llm_deps(cfg)).summarized == 1

        card = _card(session, cfg)
        assert not card.extractive and card.tldr.startswith(LLM_TLDR_START)
        assert len(anthropic_fake.message_requests) == 2

    def test_a_paper_the_model_always_refuses_stops_costing_after_a_few_tries(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake)
        _topic_and_paper(session)
        anthropic_fake.refuse(times=FALLBACK_MAX_TRIES + 5)

        for _ in range(FALLBACK_MAX_TRIES + 2):
            enqueue_cards_for_new_papers(cfg, engine)
            drain(cfg, engine, **llm_deps(cfg))
            _age_summary(session, FALLBACK_RETRY_AFTER + timedelta(minutes=1))

        assert len(anthropic_fake.message_requests) == FALLBACK_MAX_TRIES
        assert enqueue_cards_for_new_papers(cfg, engine) == 0
        assert _card(session, cfg).extractive
        assert summaries(session)[ID].llm_failures == FALLBACK_MAX_TRIES

    def test_a_deep_summary_after_a_refusal_is_tried_again_when_asked_a_day_later(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        from app.llm.service import deep_summary

        cfg = llm_settings(settings, anthropic_fake)  # no PDF host: the abstract is used
        add_paper(session, ID)
        anthropic_fake.refuse()

        assert deep_summary(cfg, engine, **llm_deps(cfg), arxiv_id=ID).extractive
        assert deep_summary(cfg, engine, **llm_deps(cfg), arxiv_id=ID).extractive
        assert len(anthropic_fake.message_requests) == 1

        _age_summary(session, FALLBACK_RETRY_AFTER + timedelta(minutes=1))
        again = deep_summary(cfg, engine, **llm_deps(cfg), arxiv_id=ID)

        assert not again.extractive and len(anthropic_fake.message_requests) == 2


class TestRegeneration:
    def test_a_new_prompt_version_regenerates_the_card(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake)
        _topic_and_paper(session)
        old = {"tldr": "Written with the old prompt.", "key_points": ["a", "b", "c"], "tags": []}
        session.add(
            Summary(paper_id=pid(session, ID), kind="card", model=cfg.paperboy_llm_model,
                    prompt_version="card-0", paper_version=1, content=old)
        )  # fmt: skip
        session.commit()
        assert _card(session, cfg).tldr != old["tldr"]  # not shown under the new prompt

        assert enqueue_cards_for_new_papers(cfg, engine) == 1
        assert drain(cfg, engine, **llm_deps(cfg)).summarized == 1

        card = _card(session, cfg)
        assert not card.extractive and card.tldr.startswith(LLM_TLDR_START)
        assert summaries(session)[ID].prompt_version == CARD_PROMPT_VERSION
        assert len(anthropic_fake.message_requests) == 1

    def test_a_new_arxiv_version_is_queued_again_by_the_ingest_pass(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake)
        _topic_and_paper(session)
        refresh_relevance(cfg, engine)
        drain(cfg, engine, **llm_deps(cfg))
        assert refresh_relevance(cfg, engine).cards_queued == 0

        paper = paper_of(session, ID)
        paper.version = 2
        paper.abstract = "We propose LazyRAG v2, which also retrieves tables. " + paper.abstract
        session.commit()

        assert refresh_relevance(cfg, engine).cards_queued == 1
        drain(cfg, engine, **llm_deps(cfg))

        card = _card(session, cfg)
        assert card.tldr.startswith("We propose LazyRAG v2")
        assert summaries(session)[ID].paper_version == 2
        assert [j.state for j in jobs(session) if j.kind == "card"] == ["done", "done"]
