"""Relevance: lexical scores for every candidate, LLM grades for each topic's top K only, cards
only for papers that match a topic."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from llm_helpers import add_paper, is_safe, jobs, llm_settings
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import LlmJob, Paper, Relevance, Topic
from app.relevance import refresh_relevance
from app.worker import drain
from tests.deps import llm_deps


def _topic(session: Session, name: str = "retrieval augmented generation") -> Topic:
    topic = Topic(name=name, query=name, categories=[], exclude=[])
    session.add(topic)
    session.commit()
    return topic


def _papers(session: Session, matching: int = 15) -> list[str]:
    ids = []
    for n in range(1, matching + 1):
        arxiv_id = f"2611.{n:05d}"
        extra = " Retrieval augmented generation again." * (n % 4)
        add_paper(
            session,
            arxiv_id,
            title=f"Retrieval augmented generation study {n}",
            abstract=f"We propose method {n} for retrieval augmented generation.{extra} "
            "It improves answer accuracy by 3 points.",
        )
        ids.append(arxiv_id)
    add_paper(
        session,
        "2611.09001",
        title="Protein folding with diffusion",
        abstract="We fold proteins with a diffusion model and beat AlphaFold on CASP.",
    )
    return ids


def _rows(session: Session, topic: Topic) -> dict[str, Relevance]:
    session.expire_all()
    rows = session.execute(
        select(Paper.arxiv_id, Relevance)
        .join(Relevance, Relevance.paper_id == Paper.id)
        .where(Relevance.topic_id == topic.id)
    )
    return {arxiv_id: r for arxiv_id, r in rows}


class TestWithTheLlm:
    def test_only_the_top_k_are_graded_ten_to_a_call_and_cards_only_for_matches(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, relevance_top_k=12, llm_batch_min=1000)
        topic = _topic(session)
        ids = _papers(session)

        report = refresh_relevance(cfg, engine)

        assert report.grades_queued == 12 and report.cards_queued == 15
        rows = _rows(session, topic)
        assert set(rows) == set(ids)  # the protein paper matches no topic
        assert all(r.lexical_score > 0 and r.llm_score is None for r in rows.values())
        card_jobs = [j for j in jobs(session) if j.kind == "card"]
        arxiv_of = dict(session.execute(select(Paper.id, Paper.arxiv_id)).all())
        assert "2611.09001" not in {arxiv_of[j.paper_id] for j in card_jobs}
        # Most relevant first: the queue order follows the lexical ranking.
        by_priority = [
            arxiv_of[j.paper_id] for j in sorted(card_jobs, key=lambda j: (j.priority, j.id))
        ]
        scores = [rows[a].lexical_score for a in by_priority]
        assert scores == sorted(scores, reverse=True)

        drain(cfg, engine, **llm_deps(cfg))

        grading = [b for b in anthropic_fake.message_requests if "<topic>" in _text(b)]
        assert [len(re.findall(r"<paper id=", _text(b))) for b in grading] == [10, 2]
        graded = {a: r for a, r in _rows(session, topic).items() if r.llm_score is not None}
        assert len(graded) == 12
        top = sorted(rows, key=lambda a: -rows[a].lexical_score)[:12]
        assert set(graded) == set(top)
        for row in graded.values():
            assert 0 <= row.llm_score <= 10 and row.reason and is_safe(row.reason)
        assert all(j.state == "done" for j in jobs(session))

    def test_a_second_pass_grades_only_new_candidates(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, relevance_top_k=5, llm_batch_min=1000)
        _topic(session)
        _papers(session, matching=5)
        refresh_relevance(cfg, engine)
        drain(cfg, engine, **llm_deps(cfg))

        assert refresh_relevance(cfg, engine).grades_queued == 0
        add_paper(
            session,
            "2611.00100",
            title="Retrieval augmented generation, retrieval augmented generation",
            abstract="Retrieval augmented generation for retrieval augmented generation.",
        )
        again = refresh_relevance(cfg, engine)
        assert again.grades_queued == 1 and again.cards_queued == 1

    def test_grades_missing_papers_are_retried_once_then_the_lexical_score_stands(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, relevance_top_k=3, llm_batch_min=1000)
        topic = _topic(session)
        _papers(session, matching=3)
        refresh_relevance(cfg, engine, topic_ids=[topic.id])  # grades only, no cards
        partial = {"grades": [{"arxiv_id": "2611.00001", "score": 9, "reason": "On topic."}]}
        anthropic_fake.reply_json(partial, times=2)

        report = drain(cfg, engine, **llm_deps(cfg))

        assert report.fallbacks == 3 and len(anthropic_fake.message_requests) == 2
        assert all(r.llm_score is None for r in _rows(session, topic).values())
        assert {j.state for j in jobs(session)} == {"done"}
        # The failure is remembered: the next pass does not pay for the same grading again.
        assert refresh_relevance(cfg, engine, topic_ids=[topic.id]).grades_queued == 0
        session.execute(update(Relevance).values(graded_at=Relevance.graded_at - timedelta(days=1)))
        session.commit()
        assert refresh_relevance(cfg, engine, topic_ids=[topic.id]).grades_queued == 3


class TestWithoutTheLlm:
    def test_lexical_scores_alone_and_nothing_queued_or_sent(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, anthropic_api_key=None)
        topic = _topic(session)
        ids = _papers(session, matching=4)

        report = refresh_relevance(cfg, engine)

        assert not report.llm and report.grades_queued == 0 and report.cards_queued == 0
        assert set(_rows(session, topic)) == set(ids)
        assert session.scalars(select(LlmJob)).all() == [] and anthropic_fake.requests == []


def _text(body: dict) -> str:
    return json.dumps(body["messages"])
