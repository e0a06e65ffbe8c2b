"""Which papers go into a channel's digest, in which order.

Candidates are the papers new since the channel's last digest that match any topic it follows
(app.search.topic_candidates), plus, when the channel includes them, papers trending on Hugging
Face since then that match a topic. A paper matching several topics appears once. Papers already
posted to the channel (or waiting in one of its unfinished digests) are left out unless forced.

Ranking, kept simple on purpose (every term is 0-1 before its weight):

    relevance = LLM grade / 10, when the worker has graded the paper for a matching topic;
                else 0.6 * lexical score / best lexical score among today's candidates
                (an ungraded paper never outranks a well-graded one on text alone)
    score     = relevance
              + 0.15 * min(1, log(1 + HF upvotes) / log(101))       community interest
              + 0.10 * 0.5 ** (age in days / 2)                       freshness
              + 0.30 * mean over its topics of tanh(net votes / 3)    this channel's feedback

"Net votes" of a topic are the channel's 👍 minus 👎 on papers that match the topic, so a channel
that downvotes a topic's papers sees fewer like them. `min_relevance` applies to `relevance`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, Float, func, select, union
from sqlalchemy.orm import Session, defer

from app.db.channels import channel_topics
from app.db.models import Channel, DigestRun, Feedback, Paper, PostedMessage, Relevance, Topic
from app.db.papers import signal_join
from app.digest.batch import Batch
from app.errors import UserInputError
from app.search import topic_candidates
from app.search_query import Node, Not, all_of, any_of, parse, to_tsquery
from app.timeutil import aware

log = logging.getLogger(__name__)

LEXICAL_CAP = 0.6
UPVOTE_WEIGHT = 0.15
RECENCY_WEIGHT = 0.10
RECENCY_HALF_LIFE_DAYS = 2.0
FEEDBACK_WEIGHT = 0.30
FEEDBACK_SCALE = 3.0
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

    @property
    def arxiv_id(self) -> str:
        return self.paper.arxiv_id


def topic_node(topic: Topic) -> Node | None:
    """The same query topic_candidates runs: the topic's query OR its expansion, minus excludes."""
    nodes: list[Node] = []
    for text in (topic.query, topic.expanded_query):
        if text and text.strip():
            try:
                nodes.append(parse(text))
            except UserInputError:
                continue
    if not nodes:
        return None
    node = any_of(nodes)
    excluded: list[Node] = []
    for word in topic.exclude or ():
        try:
            excluded.append(parse(word))
        except UserInputError:
            continue
    return all_of([node, Not(any_of(excluded))]) if excluded else node


def topic_scores(
    session: Session, *, topics: Sequence[Topic], arxiv_ids: Iterable[str]
) -> dict[str, dict[int, float]]:
    """For a small set of papers: {arxiv_id: {topic_id: text rank}} for the topics they match."""
    ids = list(dict.fromkeys(arxiv_ids))
    out: dict[str, dict[int, float]] = {}
    if not ids:
        return out
    for topic in topics:
        node = topic_node(topic)
        if node is None:
            continue
        query = to_tsquery(node)
        stmt = select(Paper.arxiv_id, func.ts_rank_cd(Paper.search_vector, query, 32).cast(Float))
        stmt = stmt.where(Paper.arxiv_id.in_(ids), Paper.search_vector.bool_op("@@")(query))
        if topic.categories:
            stmt = stmt.where(Paper.categories.overlap(list(topic.categories)))
        for arxiv_id, rank in session.execute(stmt):
            out.setdefault(arxiv_id, {})[topic.id] = float(rank or 0.0)
    return out


def excluded_ids(session: Session, *, channel_id: str) -> set[str]:
    """Papers already posted to the channel, or planned in one of its unfinished digests."""
    posted = (
        select(Paper.arxiv_id.label("arxiv_id"))
        .join(PostedMessage, PostedMessage.paper_id == Paper.id)
        .where(PostedMessage.channel_id == channel_id, PostedMessage.kind == "paper")
    )
    planned = select(func.unnest(DigestRun.paper_ids).label("arxiv_id")).where(
        DigestRun.channel_id == channel_id, DigestRun.status.in_(("planned", "posting"))
    )
    return {i for i in session.scalars(union(posted, planned)) if i}


def topic_feedback(
    session: Session,
    *,
    channel_id: str,
    topics: Sequence[Topic],
    votes: dict[str, int] | None = None,
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
        }
    net: dict[int, int] = {}
    if not votes:
        return net
    for arxiv_id, matched in topic_scores(session, topics=topics, arxiv_ids=votes).items():
        for topic_id in matched:
            net[topic_id] = net.get(topic_id, 0) + votes[arxiv_id]
    return net


def _grades(session: Session, topic_ids: list[int], arxiv_ids: list[str]) -> dict[str, float]:
    """Best LLM grade (0-1) per paper over the given topics, where graded."""
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
    return {arxiv_id: max(0, min(10, int(score))) / 10.0 for arxiv_id, score in rows}


def _recency(moment: datetime | None, now: datetime) -> float:
    if moment is None:
        return 0.0
    age_days = max(0.0, (now - aware(moment)).total_seconds() / 86400.0)
    return float(0.5 ** (age_days / RECENCY_HALF_LIFE_DAYS))


def _upvotes(upvotes: int | None) -> float:
    return min(1.0, math.log1p(max(0, upvotes or 0)) / math.log(101))


def select_papers(
    session: Session,
    *,
    channel: Channel,
    since: datetime,
    force: bool = False,
    now: datetime | None = None,
    limit: int | None = None,
    batch: Batch | None = None,
) -> list[Candidate]:
    """The channel's digest papers, best first, at most `limit` (default: its max_papers).

    `batch` carries what a fan-out knows already about many channels (app/digest/batch.py).
    """
    now = aware(now or datetime.now(UTC))
    since = aware(since)
    batch = batch or Batch()
    cid = channel.channel_id
    search_cache = batch.searches
    topics = (
        batch.topics[cid]
        if batch.topics is not None and cid in batch.topics
        else channel_topics(session, channel_id=cid)
    )
    if not topics:
        return []
    # lexical[arxiv_id][topic_id] = score
    lexical: dict[str, dict[int, float]] = {}
    for topic in topics:
        key = (topic.id, since)
        hits = search_cache.get(key)
        if hits is None:
            try:
                hits = topic_candidates(
                    session, topic=topic, limit=PER_TOPIC, since=since - PUBLISHED_SLACK
                )
            except UserInputError as exc:  # a topic that cannot search must not stop the rest
                log.warning("topic %r skipped: %s", topic.name, exc)
                continue
            search_cache[key] = hits
        for hit in hits:
            lexical.setdefault(hit.arxiv_id, {})[topic.id] = hit.score
    trending: set[str] = set()
    if channel.include_trending:
        trending_key = ("trending", since)
        trending_ids = search_cache.get(trending_key)
        if trending_ids is None:
            hf, on_hf = signal_join("hf")
            first_trending = hf.data["first_trending_at"].astext.cast(DateTime(timezone=True))
            trending_ids = [
                i
                for i in session.scalars(
                    select(Paper.arxiv_id).join(hf, on_hf).where(first_trending >= since)
                )
                if i
            ]
            search_cache[trending_key] = trending_ids
        for arxiv_id, matched in topic_scores(
            session, topics=topics, arxiv_ids=trending_ids
        ).items():
            trending.add(arxiv_id)
            for topic_id, rank in matched.items():
                lexical.setdefault(arxiv_id, {}).setdefault(topic_id, rank)
    if force:
        skip: set[str] = set()
    elif batch.excluded is not None and cid in batch.excluded:
        skip = batch.excluded[cid]
    else:
        skip = excluded_ids(session, channel_id=cid)
    ids = [i for i in lexical if i not in skip]
    if not ids:
        return []
    # Rank on a few columns; load whole rows only for the papers chosen.
    hf, on_hf = signal_join("hf")
    facts = {
        row.arxiv_id: row
        for row in session.execute(
            select(
                Paper.arxiv_id,
                Paper.first_seen_at,
                Paper.published,
                hf.data["upvotes"].as_integer().label("hf_upvotes"),
            )
            .outerjoin(hf, on_hf)
            .where(Paper.arxiv_id.in_(ids))
        )
    }
    # "New since the last digest": first seen by us (or published) since then; trending counts.
    fresh = [
        i
        for i in ids
        if i in facts
        and (
            i in trending
            or aware(facts[i].first_seen_at) >= since
            or (facts[i].published is not None and aware(facts[i].published) >= since)
        )
    ]
    if not fresh:
        return []
    grades = _grades(session, [t.id for t in topics], fresh)
    votes = batch.votes.get(cid) if batch.votes is not None else None
    feedback = topic_feedback(session, channel_id=cid, topics=topics, votes=votes)
    best = max((max(lexical[i].values()) for i in fresh), default=0.0) or 1.0
    names = {t.id: t.name for t in topics}
    ranked: list[tuple[float, str, float, list[str]]] = []
    for arxiv_id in fresh:
        row, matched = facts[arxiv_id], lexical[arxiv_id]
        graded = arxiv_id in grades
        relevance = grades[arxiv_id] if graded else LEXICAL_CAP * max(matched.values()) / best
        if relevance < channel.min_relevance:
            continue
        votes = [math.tanh(feedback.get(t, 0) / FEEDBACK_SCALE) for t in matched]
        score = (
            relevance
            + UPVOTE_WEIGHT * _upvotes(row.hf_upvotes)
            + RECENCY_WEIGHT * _recency(row.published or row.first_seen_at, now)
            + FEEDBACK_WEIGHT * (sum(votes) / len(votes))
        )
        ranked.append((score, arxiv_id, relevance, sorted(names[t] for t in matched)))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    ranked = ranked[: limit if limit is not None else channel.max_papers]
    papers = load_papers(session, [r[1] for r in ranked])
    return [
        Candidate(papers[a], score, rel, topic_names, a in grades, a in trending)
        for score, a, rel, topic_names in ranked
        if a in papers
    ]


def load_papers(session: Session, arxiv_ids: Sequence[str]) -> dict[str, Paper]:
    """Whole paper rows, without the (large, unused here) search vector."""
    if not arxiv_ids:
        return {}
    rows = session.scalars(
        select(Paper).where(Paper.arxiv_id.in_(list(arxiv_ids))).options(defer(Paper.search_vector))
    )
    return {p.arxiv_id: p for p in rows}
