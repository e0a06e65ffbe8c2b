"""Relevance of papers to topics, and the cost guard on what gets summarized.

Runs after every ingest (app/scheduler.py `ingest_job`). For each topic, hybrid search
(app.search.topic_candidates: words and, with an embedder, meaning) gives ranked candidates;
their scores go into `relevance` (its `lexical_score` column).
With an LLM, only the topic's top RELEVANCE_TOP_K candidates not graded yet are queued for
grading (ten papers to a call), and only papers that match some topic get card jobs, most
relevant first. Nothing else is ever sent to the model. Without an LLM the lexical score stands
alone and digests use extractive cards.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from app.config import Settings
from app.db import jobs as queue
from app.db.backfill import backfill_only
from app.db.engine import session_scope
from app.db.models import Topic
from app.db.relevance import store_lexical, topics, ungraded
from app.db.summaries import papers_without_current
from app.embeddings import Embedder
from app.errors import UserInputError
from app.llm.client import llm_configured
from app.llm.prompts import CARD_PROMPT_VERSION, GRADE_PROMPT_VERSION
from app.search import SearchHit, topic_candidates

log = logging.getLogger(__name__)

# Candidates scored per topic and pass (lexical scores are cheap; grading is capped by top K).
CANDIDATES_PER_TOPIC = 200
# Card jobs go to each topic's best this-many recent candidates: what digests can show.
CARDS_PER_TOPIC = 60
CARD_WINDOW = timedelta(days=7)


@dataclass
class RelevanceReport:
    topics: int = 0
    scored: int = 0
    grades_queued: int = 0
    cards_queued: int = 0
    llm: bool = False


def _candidates(
    session_engine: Engine,
    topic: Topic,
    *,
    limit: int,
    since: datetime | None,
    embedder: Embedder | None,
) -> list[SearchHit]:
    with session_scope(session_engine) as session:
        try:
            return topic_candidates(
                session, topic=topic, limit=limit, since=since, embedder=embedder
            )
        except UserInputError as exc:  # a topic whose query finds nothing searchable
            log.warning("topic %r has no usable query: %s", topic.name, exc)
            return []


def refresh_relevance(
    settings: Settings,
    engine: Engine,
    *,
    topic_ids: Iterable[int] | None = None,
    since: datetime | None = None,
    embedder: Embedder | None = None,
) -> RelevanceReport:
    """Store lexical scores, queue LLM grading of each topic's new top candidates, and queue
    cards for the papers that match a topic (when no topic filter is given)."""
    report = RelevanceReport(llm=llm_configured(settings))
    with session_scope(engine) as session:
        chosen = topics(session, topic_ids=topic_ids)
    for topic in chosen:
        hits = _candidates(
            engine, topic, limit=CANDIDATES_PER_TOPIC, since=since, embedder=embedder
        )
        report.topics += 1
        report.scored += len(hits)
        with session_scope(engine) as session:
            store_lexical(session, topic_id=topic.id, scores=[(h.arxiv_id, h.score) for h in hits])
            if not report.llm:
                continue
            # Backfilled papers never reach a digest: grading them would be money for nothing.
            old = backfill_only(session, arxiv_ids=[h.arxiv_id for h in hits])
            top = [h.arxiv_id for h in hits if h.arxiv_id not in old][: settings.relevance_top_k]
            todo = ungraded(
                session,
                topic_id=topic.id,
                arxiv_ids=top,
                model=settings.paperboy_llm_model,
                prompt_version=GRADE_PROMPT_VERSION,
            )
            rank = {a: i for i, a in enumerate(top)}
            report.grades_queued += queue.enqueue_many(
                session,
                kind="grade",
                items=[(a, topic.id, float(rank[a])) for a in todo],
                max_attempts=settings.llm_max_attempts,
            )
    if topic_ids is None:
        report.cards_queued = enqueue_cards_for_new_papers(settings, engine, embedder=embedder)
    log.info("relevance: %s", report)
    return report


def enqueue_cards_for_new_papers(
    settings: Settings,
    engine: Engine,
    *,
    since: datetime | None = None,
    per_topic: int = CARDS_PER_TOPIC,
    embedder: Embedder | None = None,
) -> int:
    """Queue card jobs for recent papers that match at least one topic and have no current card,
    the most relevant first (best rank in any topic). Returns how many jobs were new."""
    if not llm_configured(settings):
        return 0
    since = since or datetime.now(UTC) - CARD_WINDOW
    with session_scope(engine) as session:
        chosen = topics(session)
    best: dict[str, int] = {}
    for topic in chosen:
        hits = _candidates(engine, topic, limit=per_topic, since=since, embedder=embedder)
        for rank, hit in enumerate(hits):
            best[hit.arxiv_id] = min(rank, best.get(hit.arxiv_id, rank))
    with session_scope(engine) as session:
        # Papers only a backfill has seen are summarized when someone asks, never in advance.
        old = backfill_only(session, arxiv_ids=best)
        ordered = sorted((a for a in best if a not in old), key=lambda a: (best[a], a))
        todo = papers_without_current(
            session,
            arxiv_ids=ordered,
            kind="card",
            model=settings.paperboy_llm_model,
            prompt_version=CARD_PROMPT_VERSION,
        )
        return queue.enqueue_many(
            session,
            kind="card",
            items=[(a, None, float(best[a])) for a in todo],
            max_attempts=settings.llm_max_attempts,
        )
