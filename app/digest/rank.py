"""The digest's ranking rule: plain facts about each candidate paper in, scores out.

The formula and the meaning of each weight are written down once, in docs/ranking.md;
tests/test_docs_ranking.py keeps that page and WEIGHTS in step. This module only computes: no
database, no clock (the caller passes `now`), so the rule can be tested on its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.timeutil import aware


@dataclass(frozen=True, slots=True)
class Weights:
    """Every number of the digest formula (docs/ranking.md names them the same way)."""

    lexical_cap: float = 0.6
    upvotes: float = 0.15
    upvotes_full_at: int = 100
    recency: float = 0.10
    recency_half_life_days: float = 2.0
    feedback: float = 0.30
    feedback_scale: float = 3.0
    citations: float = 0.10
    citations_full_at: int = 50
    taste: float = 0.30


WEIGHTS = Weights()


@dataclass(frozen=True, slots=True)
class TasteWeights:
    """How much each kind of signal moves a channel's taste profile (app/digest/taste.py), and
    when the "Recommended for you" section shows (docs/ranking.md, "Channel taste")."""

    thumbs_up: float = 1.0
    thumbs_down: float = 1.0  # subtracted
    more_like_this: float = 1.0
    save: float = 1.0
    thread: float = 0.5
    recommend_after: int = 5
    recommend_limit: int = 2
    recommend_min_similarity: float = 0.55
    recommend_window_days: float = 14.0


TASTE = TasteWeights()


@dataclass(frozen=True, slots=True)
class PaperFacts:
    """What ranking knows about one candidate paper for one channel."""

    arxiv_id: str
    # Best text score over the topics it matches (app.search.text_score, one scale for search
    # hits and trending papers).
    lexical: float
    # Best LLM grade (0-10) over the topics it matches, when the worker graded it.
    grade: int | None = None
    upvotes: int | None = None
    published: datetime | None = None
    first_seen: datetime | None = None
    # The channel's net votes (👍 - 👎) on papers of each topic this paper matches.
    topic_votes: Sequence[int] = ()
    # Semantic Scholar's citation count, when it has enriched the paper.
    citations: int | None = None
    # Cosine similarity to the channel's taste profile; None when the channel has none yet.
    taste: float | None = None


@dataclass(frozen=True, slots=True)
class Ranked:
    arxiv_id: str
    score: float
    relevance: float
    graded: bool


def relevance(facts: PaperFacts, *, best_lexical: float, weights: Weights = WEIGHTS) -> float:
    """The grade / 10 when graded; else the text score against the best candidate's, capped so
    an ungraded paper never outranks a well-graded one on text alone."""
    if facts.grade is not None:
        return max(0, min(10, facts.grade)) / 10.0
    best = best_lexical if best_lexical > 0 else 1.0
    return weights.lexical_cap * max(0.0, facts.lexical) / best


def upvote_term(upvotes: int | None, *, weights: Weights = WEIGHTS) -> float:
    """0-1, logarithmic, full at `upvotes_full_at`: 10 upvotes already count half."""
    full = math.log1p(weights.upvotes_full_at)
    return min(1.0, math.log1p(max(0, upvotes or 0)) / full)


def recency_term(moment: datetime | None, *, now: datetime, weights: Weights = WEIGHTS) -> float:
    """0-1, halving every `recency_half_life_days`; a paper without a date gets nothing."""
    if moment is None:
        return 0.0
    age_days = max(0.0, (aware(now) - aware(moment)).total_seconds() / 86400.0)
    return float(0.5 ** (age_days / weights.recency_half_life_days))


def citation_term(citations: int | None, *, weights: Weights = WEIGHTS) -> float:
    """0-1, logarithmic, full at `citations_full_at`: a paper cited 7 times already counts half;
    unknown counts as none (most new papers)."""
    full = math.log1p(weights.citations_full_at)
    return min(1.0, math.log1p(max(0, citations or 0)) / full)


def feedback_term(topic_votes: Sequence[int], *, weights: Weights = WEIGHTS) -> float:
    """-1 to 1: the mean over the paper's topics of tanh(net votes / `feedback_scale`)."""
    if not topic_votes:
        return 0.0
    return sum(math.tanh(v / weights.feedback_scale) for v in topic_votes) / len(topic_votes)


def taste_term(similarity: float | None) -> float:
    """-1 to 1: the cosine similarity to the channel's taste profile, 0 without a profile."""
    if similarity is None:
        return 0.0
    return max(-1.0, min(1.0, similarity))


def score(
    facts: PaperFacts, *, best_lexical: float, now: datetime, weights: Weights = WEIGHTS
) -> Ranked:
    rel = relevance(facts, best_lexical=best_lexical, weights=weights)
    total = (
        rel
        + weights.upvotes * upvote_term(facts.upvotes, weights=weights)
        + weights.recency
        * recency_term(facts.published or facts.first_seen, now=now, weights=weights)
        + weights.feedback * feedback_term(facts.topic_votes, weights=weights)
        + weights.citations * citation_term(facts.citations, weights=weights)
    )
    if facts.taste is not None:  # added only with a profile: without one, scores are as before
        total += weights.taste * taste_term(facts.taste)
    return Ranked(facts.arxiv_id, total, rel, facts.grade is not None)


def rank(
    candidates: Iterable[PaperFacts],
    *,
    now: datetime,
    min_relevance: float = 0.0,
    limit: int | None = None,
    weights: Weights = WEIGHTS,
) -> list[Ranked]:
    """Best first, ties by arXiv id; papers whose relevance is below `min_relevance` are left
    out. Text scores are taken relative to the best one among `candidates`."""
    facts = list(candidates)
    best = max((f.lexical for f in facts), default=0.0)
    ranked = [score(f, best_lexical=best, now=now, weights=weights) for f in facts]
    kept = [r for r in ranked if r.relevance >= min_relevance]
    kept.sort(key=lambda r: (-r.score, r.arxiv_id))
    return kept if limit is None else kept[:limit]
