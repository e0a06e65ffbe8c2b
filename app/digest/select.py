"""Which papers go into a channel's digest, in which order.

Candidates are the papers new since the channel's last digest that match any topic it follows
(app.search.topic_candidates), plus, when the channel includes them, papers trending on Hugging
Face since then that match a topic. A paper matching several topics appears once. Papers already
posted to the channel (or waiting in one of its unfinished digests) are left out unless forced.

Ranking is app.digest.rank, a pure function of the facts gathered here; the formula is stated
once, in docs/ranking.md. `min_relevance` applies to a paper's relevance term.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, func, select, union
from sqlalchemy.orm import Session, defer

from app.db.backfill import backfill_only
from app.db.channels import channel_topics
from app.db.models import (
    DIGEST_UNFINISHED,
    Channel,
    DigestRun,
    Feedback,
    Paper,
    PostedMessage,
    Relevance,
    Topic,
)
from app.db.papers import arxiv_id_of, signal_join
from app.digest.batch import Batch
from app.digest.followed import followed_papers
from app.digest.rank import PaperFacts, rank
from app.digest.taste import Profile, similarities
from app.embeddings import Embedder
from app.errors import UserInputError
from app.search import score_papers, topic_candidates
from app.timeutil import aware

log = logging.getLogger(__name__)

# Per topic, how many search hits are considered before ranking.
PER_TOPIC = 100
# arXiv `published` is the submission time, often a day or more before we first see a paper:
# search a little further back, then keep papers first seen (or published) since the last digest.
PUBLISHED_SLACK = timedelta(days=4)


@dataclass
class Candidate:
    paper: Paper
    score: float
    relevance: float
    topics: list[str] = field(default_factory=list)
    graded: bool = False
    trending: bool = False
    # A recommendation's reason (app/digest/recommend.py Recommendation.reason), else None.
    reason: dict[str, Any] | None = None
    # Followed authors it is by (app/digest/followed.py): such papers lead the digest.
    by_authors: list[str] = field(default_factory=list)

    @property
    def arxiv_id(self) -> str:
        return arxiv_id_of(self.paper)


def topic_scores(
    session: Session,
    *,
    topics: Sequence[Topic],
    arxiv_ids: Iterable[str],
    since: datetime | None = None,
    embedder: Embedder | None = None,
) -> dict[str, dict[int, float]]:
    """For a small set of papers: {arxiv_id: {topic_id: score}} for the topics they match (hybrid
    with an embedder, on the scale of topic_candidates' hits with the same `since`)."""
    ids = list(dict.fromkeys(arxiv_ids))
    out: dict[str, dict[int, float]] = {}
    if not ids:
        return out
    for topic in topics:
        try:
            scores = score_papers(
                session, topic=topic, arxiv_ids=ids, since=since, embedder=embedder
            )
        except UserInputError:  # a topic that cannot search matches nothing (as in search)
            continue
        for arxiv_id, value in scores.items():
            out.setdefault(arxiv_id, {})[topic.id] = value
    return out


def excluded_ids(session: Session, *, channel_id: str) -> set[str]:
    """Papers already posted to the channel, or planned in one of its unfinished digests."""
    posted = (
        select(Paper.arxiv_id.label("arxiv_id"))
        .join(PostedMessage, PostedMessage.paper_id == Paper.id)
        .where(PostedMessage.channel_id == channel_id, PostedMessage.kind == "paper")
    )
    planned = select(func.unnest(DigestRun.paper_ids).label("arxiv_id")).where(
        DigestRun.channel_id == channel_id, DigestRun.status.in_(DIGEST_UNFINISHED)
    )
    return {i for i in session.scalars(union(posted, planned)) if i}


def topic_feedback(
    session: Session,
    *,
    channel_id: str,
    topics: Sequence[Topic],
    votes: dict[str, int] | None = None,
    embedder: Embedder | None = None,
) -> dict[int, int]:
    """Net votes (👍 - 👎) of the channel on papers matching each topic (`votes`: the channel's
    net votes per paper, when the caller has them)."""
    if votes is None:
        votes = {
            arxiv_id: int(net or 0)
            for arxiv_id, net in session.execute(
                select(Paper.arxiv_id, func.sum(Feedback.value))
                .join(Feedback, Feedback.paper_id == Paper.id)
                .where(Feedback.channel_id == channel_id)
                .group_by(Paper.arxiv_id)
            )
            if arxiv_id is not None
        }
    net: dict[int, int] = {}
    if not votes:
        return net
    matching = topic_scores(session, topics=topics, arxiv_ids=votes, embedder=embedder)
    for arxiv_id, matched in matching.items():
        for topic_id in matched:
            net[topic_id] = net.get(topic_id, 0) + votes[arxiv_id]
    return net


def select_papers(
    session: Session,
    *,
    channel: Channel,
    since: datetime,
    force: bool = False,
    now: datetime | None = None,
    limit: int | None = None,
    batch: Batch | None = None,
    embedder: Embedder | None = None,
    profile: Profile | None = None,
) -> list[Candidate]:
    """The channel's digest papers, best first, at most `limit` (default: its max_papers).

    `batch` carries what a fan-out knows already about many channels (app/digest/batch.py).
    With `embedder`, topics match by meaning too (hybrid search); without, by words only.
    `profile`: the channel's taste (app/digest/taste.py), a ranking term when given.
    """
    now, since, batch = aware(now or datetime.now(UTC)), aware(since), batch or Batch()
    cid = channel.channel_id
    topics = batch.topics.get(cid) if batch.topics is not None else None
    topics = topics if topics is not None else channel_topics(session, channel_id=cid)
    limit = limit if limit is not None else channel.max_papers
    if not topics:
        return _with_authors(session, [], channel_id=cid, since=since, force=force, batch=batch,
                             limit=limit)  # fmt: skip
    matched = _topic_hits(session, topics=topics, since=since, batch=batch, embedder=embedder)
    trending: set[str] = set()
    if channel.include_trending:
        trending = _trending_hits(
            session, topics=topics, since=since, batch=batch, into=matched, embedder=embedder
        )
    skip = set() if force else _excluded(session, channel_id=cid, batch=batch)
    matched = {a: by_topic for a, by_topic in matched.items() if a not in skip}
    facts = _facts(session, channel_id=cid, topics=topics, matched=matched, trending=trending,
                   since=since, batch=batch, embedder=embedder, profile=profile)  # fmt: skip
    ranked = rank(facts, now=now, min_relevance=channel.min_relevance, limit=limit)
    papers = load_papers(session, [r.arxiv_id for r in ranked])
    names = {t.id: t.name for t in topics}
    chosen = [
        Candidate(papers[r.arxiv_id], r.score, r.relevance,
                  sorted(names[t] for t in matched[r.arxiv_id]), r.graded, r.arxiv_id in trending)
        for r in ranked
        if r.arxiv_id in papers
    ]  # fmt: skip
    return _with_authors(session, chosen, channel_id=cid, since=since, force=force, batch=batch,
                         limit=limit)  # fmt: skip


def _with_authors(
    session: Session,
    chosen: list[Candidate],
    *,
    channel_id: str,
    since: datetime,
    force: bool,
    batch: Batch,
    limit: int,
) -> list[Candidate]:
    """Papers by followed authors first (the channel asked for them by name), then `chosen`."""
    skip = set() if force else _excluded(session, channel_id=channel_id, batch=batch)
    authored = followed_papers(session, channel_id=channel_id, since=since,
                               published_after=since - PUBLISHED_SLACK, skip=skip)  # fmt: skip
    if not authored:
        return chosen[:limit]
    by_id = {c.arxiv_id: c for c in chosen}
    papers = load_papers(session, [a for a, _ in authored if a not in by_id])
    lead = []
    for arxiv_id, names in authored[:limit]:
        candidate = by_id.pop(arxiv_id, None) or (
            Candidate(papers[arxiv_id], 0.0, 0.0) if arxiv_id in papers else None
        )
        if candidate is not None:
            candidate.by_authors = names
            lead.append(candidate)
    return (lead + [c for c in chosen if c.arxiv_id in by_id])[:limit]


def _excluded(session: Session, *, channel_id: str, batch: Batch) -> set[str]:
    if batch.excluded is not None and channel_id in batch.excluded:
        return batch.excluded[channel_id]
    return excluded_ids(session, channel_id=channel_id)


def _facts(
    session: Session,
    *,
    channel_id: str,
    topics: Sequence[Topic],
    matched: dict[str, dict[int, float]],
    trending: set[str],
    since: datetime,
    batch: Batch,
    embedder: Embedder | None,
    profile: Profile | None = None,
) -> list[PaperFacts]:
    """What ranking needs of each matched paper that is new since the last digest: first seen by
    us (or published) since then; trending papers count as new."""
    signals = paper_signals(session, arxiv_ids=list(matched))
    fresh = [s for s in signals if s.arxiv_id in trending or _new_since(s, since)]
    # A backfilled paper is "first seen" today but is old news: never posted (app/backfill.py).
    old = backfill_only(session, arxiv_ids=[s.arxiv_id for s in fresh])
    fresh = [s for s in fresh if s.arxiv_id not in old]
    if not fresh:
        return []
    grades = _grades(session, [t.id for t in topics], [s.arxiv_id for s in fresh])
    votes = batch.votes.get(channel_id) if batch.votes is not None else None
    feedback = topic_feedback(
        session, channel_id=channel_id, topics=topics, votes=votes, embedder=embedder
    )
    taste: dict[str, float] = {}
    if profile is not None:
        taste = similarities(session, profile=profile, arxiv_ids=[s.arxiv_id for s in fresh])
    return [
        PaperFacts(
            arxiv_id=s.arxiv_id,
            lexical=max(matched[s.arxiv_id].values()),
            grade=grades.get(s.arxiv_id),
            upvotes=s.upvotes,
            published=s.published,
            first_seen=s.first_seen_at,
            topic_votes=tuple(feedback.get(t, 0) for t in matched[s.arxiv_id]),
            citations=s.citations,
            taste=taste.get(s.arxiv_id),
        )
        for s in fresh
    ]


def _topic_hits(
    session: Session,
    *,
    topics: Sequence[Topic],
    since: datetime,
    batch: Batch,
    embedder: Embedder | None,
) -> dict[str, dict[int, float]]:
    """{arxiv_id: {topic_id: score}} of each topic's search hits (shared through the batch)."""
    out: dict[str, dict[int, float]] = {}
    for topic in topics:
        key = (topic.id, since)
        hits = batch.searches.get(key)
        if hits is None:
            try:
                hits = topic_candidates(
                    session,
                    topic=topic,
                    limit=PER_TOPIC,
                    since=since - PUBLISHED_SLACK,
                    embedder=embedder,
                )
            except UserInputError as exc:  # a topic that cannot search must not stop the rest
                log.warning("topic %r skipped: %s", topic.name, exc)
                continue
            batch.searches[key] = hits
        for hit in hits:
            out.setdefault(hit.arxiv_id, {})[topic.id] = hit.score
    return out


def _trending_hits(
    session: Session,
    *,
    topics: Sequence[Topic],
    since: datetime,
    batch: Batch,
    into: dict[str, dict[int, float]],
    embedder: Embedder | None,
) -> set[str]:
    """Papers trending since `since` that match a topic, their scores added to `into` (a search
    hit's own score stands: both are on one scale)."""
    key = ("trending", since)
    trending_ids = batch.searches.get(key)
    if trending_ids is None:
        trending_ids = batch.searches[key] = trending_since(session, since=since)
    # Scored against the same lists as the topic's search hits (the same `since`).
    found = topic_scores(
        session,
        topics=topics,
        arxiv_ids=trending_ids,
        since=since - PUBLISHED_SLACK,
        embedder=embedder,
    )
    for arxiv_id, scores in found.items():
        for topic_id, value in scores.items():
            into.setdefault(arxiv_id, {}).setdefault(topic_id, value)
    return set(found)


def _new_since(signals: PaperSignals, since: datetime) -> bool:
    published = signals.published
    return aware(signals.first_seen_at) >= since or (
        published is not None and aware(published) >= since
    )


def _grades(session: Session, topic_ids: list[int], arxiv_ids: list[str]) -> dict[str, int]:
    """Best LLM grade (0-10) per paper over the given topics, where graded."""
    rows = session.execute(
        select(Paper.arxiv_id, func.max(Relevance.llm_score))
        .join(Relevance, Relevance.paper_id == Paper.id)
        .where(
            Relevance.topic_id.in_(topic_ids),
            Paper.arxiv_id.in_(arxiv_ids),
            Relevance.llm_score.is_not(None),
        )
        .group_by(Paper.arxiv_id)
    )
    return {
        arxiv_id: int(grade)
        for arxiv_id, grade in rows
        if arxiv_id is not None and grade is not None
    }


# --- paper signals: the only queries here that read source-specific columns --------------------


def trending_since(session: Session, *, since: datetime) -> list[str]:
    """Papers first trending on Hugging Face since `since`."""
    hf, on_hf = signal_join("hf")
    first_trending = hf.data["first_trending_at"].astext.cast(DateTime(timezone=True))
    query = select(Paper.arxiv_id).join(hf, on_hf).where(first_trending >= since)
    return [arxiv_id for arxiv_id in session.scalars(query) if arxiv_id]


@dataclass(frozen=True, slots=True)
class PaperSignals:
    arxiv_id: str
    first_seen_at: datetime
    published: datetime | None
    upvotes: int | None
    citations: int | None = None  # Semantic Scholar's count (app/sources/s2_enrichment.py)


def paper_signals(session: Session, *, arxiv_ids: Sequence[str]) -> list[PaperSignals]:
    """What ranking needs of each paper besides its text match: a few columns, so whole rows load
    only for the papers chosen."""
    if not arxiv_ids:
        return []
    hf, on_hf = signal_join("hf")
    s2, on_s2 = signal_join("s2")
    stmt = (
        select(
            Paper.arxiv_id,
            Paper.first_seen_at,
            Paper.published,
            hf.data["upvotes"].as_integer(),
            s2.data["citation_count"].as_integer(),
        )
        .outerjoin(hf, on_hf)
        .outerjoin(s2, on_s2)
        .where(Paper.arxiv_id.in_(list(arxiv_ids)))
    )
    return [PaperSignals(*row) for row in session.execute(stmt)]


def load_papers(session: Session, arxiv_ids: Sequence[str]) -> dict[str, Paper]:
    """Whole paper rows, without the (large, unused here) search vector."""
    if not arxiv_ids:
        return {}
    rows = session.scalars(
        select(Paper).where(Paper.arxiv_id.in_(list(arxiv_ids))).options(defer(Paper.search_vector))
    )
    return {arxiv_id_of(p): p for p in rows}
