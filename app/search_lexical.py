"""The lexical half of search: PostgreSQL's weighted tsvector (title A, abstract B) behind a GIN
index, ranked by `ts_rank_cd` blended with recency (text_score; the formula is in
docs/ranking.md). app/search.py fuses it with the semantic half (app/search_semantic.py).

Ranking is the expensive part (it reads every candidate's tsvector), so only the newest
CANDIDATES matches are ranked, found in two bounded stages:
1. matches among the newest RECENT_WINDOW papers. Whichever plan PostgreSQL picks (the GIN bitmap
   ANDed with the `published` range, or `published` read newest first with the match as a
   filter), it touches at most that many rows — this is what keeps a term found in 40% of the
   archive ("language model") as fast as a rare one;
2. only when stage one found fewer than ENOUGH_RECENT (a rare term): the newest older matches,
   which for a rare term come straight from the GIN index.
The scores of the candidates are computed and the best `depth` returned as paper ids.
Papers without a `published` date are only found while the store is smaller than the window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    SQLColumnExpression,
    Subquery,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from app.db.models import Paper
from app.errors import UserInputError
from app.search_query import Node, to_tsquery

# At most this many of the newest matches are ranked (per stage), whatever the term.
CANDIDATES = 500
# Stage one: the newest papers searched first. Stage two runs when it found fewer than
# ENOUGH_RECENT matches (a term in under 2% of recent papers).
RECENT_WINDOW = 10_000
ENOUGH_RECENT = 200
# The text score's recency factor (text_score; docs/ranking.md states the formula and why).
HALF_LIFE_DAYS = 21.0
RECENCY_FLOOR = 0.4
# ts_rank_cd normalisation 32 maps scores into [0, 1) (rank / (rank + 1)).
_RANK_NORMALIZATION = 32


@dataclass(frozen=True, slots=True)
class Scored:
    """One paper of a half's ranked list."""

    paper_id: int
    score: float


def recency(published: SQLColumnExpression[Any]) -> ColumnElement[float]:
    """RECENCY_FLOOR .. 1, halving the part above the floor every HALF_LIFE_DAYS: the one recency
    factor of both halves (a paper without a date gets the floor)."""
    age_days = func.extract("epoch", func.now() - published) / 86400.0
    decay = func.coalesce(
        func.exp(literal(-math.log(2) / HALF_LIFE_DAYS) * func.greatest(age_days, 0.0)), 0.0
    )
    return RECENCY_FLOOR + (1 - RECENCY_FLOOR) * decay


def text_score(
    vector: SQLColumnExpression[Any], query: ColumnElement[Any], published: SQLColumnExpression[Any]
) -> ColumnElement[float]:
    """The one text score (docs/ranking.md): ts_rank_cd in [0, 1) scaled by recency, so a fresh
    paper wins a close call and a much better old match still wins."""
    relevance = func.ts_rank_cd(vector, query, _RANK_NORMALIZATION)
    return (relevance * recency(published)).cast(Float)


def prepare(
    session: Session, node: Node, text: str, settings: Sequence[ColumnElement[Any]] = ()
) -> datetime | None:
    """Validate the query against PostgreSQL's parser and find the recent window's start, in one
    round trip (with `settings`: more set_config calls for this transaction). Returns the
    `published` of the RECENT_WINDOW-th newest paper (None when the store is smaller)."""
    # Plans must be made with the actual query in hand: psycopg prepares statements it sees
    # often, and a generic plan cannot tell a rare term (use the GIN index) from a common one
    # (read `published` newest first) — a wrong pick costs 100x. For this transaction only.
    newest = (
        select(Paper.published)
        .where(Paper.published.is_not(None))
        .order_by(Paper.published.desc())
        .offset(RECENT_WINDOW)
        .limit(1)
        .scalar_subquery()
    )
    row = session.execute(
        select(
            func.set_config("plan_cache_mode", "force_custom_plan", True),
            func.querytree(to_tsquery(node)),
            newest,
            *settings,
        )
    ).one()
    # `querytree` is '' when every word is a stopword and 'T' when the query only excludes
    # (which no index can answer).
    if row[1] == "":
        raise UserInputError(
            f"{text[:80]!r} has only words too common to search for (like 'the', 'of'): "
            "add a more specific word"
        )
    if row[1] == "T":
        raise UserInputError(f"{text[:80]!r} only excludes: add a word to look for")
    return row[2]


def lexical_ranked(
    session: Session,
    *,
    node: Node,
    extra: Sequence[ColumnElement[bool]],
    cutoff: datetime | None,
    since: datetime | None,
    depth: int,
) -> list[Scored]:
    """The best `depth` text matches, best first (`cutoff` from `prepare`)."""
    query = to_tsquery(node)
    candidates = _candidates(_match(query, extra), cutoff=cutoff, since=since)
    score = text_score(candidates.c.search_vector, query, candidates.c.published).label("score")
    order = (score.desc(), candidates.c.published.desc().nulls_last(), candidates.c.id)
    rows = session.execute(select(candidates.c.id, score).order_by(*order).limit(depth))
    return [Scored(int(pid), float(value or 0.0)) for pid, value in rows]


def lexical_scores(
    session: Session, *, node: Node, extra: Sequence[ColumnElement[bool]], arxiv_ids: list[str]
) -> dict[str, tuple[int, float]]:
    """{arxiv_id: (paper id, text score)} of those of the given papers that match."""
    query = to_tsquery(node)
    score = text_score(Paper.search_vector, query, Paper.published)
    stmt = select(Paper.arxiv_id, Paper.id, score).where(
        Paper.arxiv_id.in_(arxiv_ids), *_match(query, extra)
    )
    return {a: (int(pid), float(value or 0.0)) for a, pid, value in session.execute(stmt) if a}


def _match(query: ColumnElement[Any], extra: Sequence[ColumnElement[bool]]) -> list[Any]:
    return [
        Paper.search_vector.bool_op("@@")(query),
        # Hits are addressed by arXiv id (Slack buttons, digests): papers without one, known
        # only by another id, are stored but not offered yet.
        Paper.arxiv_id.is_not(None),
        *extra,
    ]


def _candidates(
    match: list[ColumnElement[bool]], *, cutoff: datetime | None, since: datetime | None
) -> Subquery:
    """The matches to rank: the two stages of the module docstring."""
    # Only what ranking needs travels through the sorts; the rest is joined to the top rows.
    cols = (Paper.id, Paper.published, Paper.search_vector)
    newest_first = Paper.published.desc()
    after_since = [Paper.published >= since] if since is not None else []
    if cutoff is None or (since is not None and since >= cutoff):
        # A store smaller than the window, or a recent `since`: one stage is enough.
        return (
            select(*cols).where(*match, *after_since).order_by(newest_first).limit(CANDIDATES)
        ).subquery("candidates")
    recent = (
        select(*cols)
        .where(*match, Paper.published >= cutoff)
        .order_by(newest_first)
        .limit(CANDIDATES)
        .cte("recent")
        .prefix_with("MATERIALIZED")
    )
    # A one-time filter: PostgreSQL skips stage two entirely when stage one found enough.
    enough = select(func.count()).select_from(recent).scalar_subquery() >= ENOUGH_RECENT
    older = (
        select(*cols)
        .where(*match, Paper.published < cutoff, *after_since, ~enough)
        .order_by(newest_first)
        .limit(CANDIDATES)
    )
    return union_all(select(recent), older).subquery("candidates")
