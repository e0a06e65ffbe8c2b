"""Full-text search over the papers: PostgreSQL's weighted tsvector (title A, abstract B) behind a
GIN index, ranked by `ts_rank_cd` blended with recency (text_score; the formula is in
docs/ranking.md).

Ranking is the expensive part (it reads every candidate's tsvector), so only the newest
CANDIDATES matches are ranked, found in two bounded stages:
1. matches among the newest RECENT_WINDOW papers. Whichever plan PostgreSQL picks (the GIN bitmap
   ANDed with the `published` range, or `published` read newest first with the match as a
   filter), it touches at most that many rows — this is what keeps a term found in 40% of the
   archive ("language model") as fast as a rare one;
2. only when stage one found fewer than ENOUGH_RECENT (a rare term): the newest older matches,
   which for a rare term come straight from the GIN index.
The scores of the candidates are computed, the top `limit` are joined back to their papers.
Papers without a `published` date are only found while the store is smaller than the window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
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

from app.db.models import Paper, Topic
from app.db.papers import signal_join
from app.errors import UserInputError
from app.paperids import abs_url
from app.search_query import Node, Not, all_of, any_of, parse, render, to_tsquery
from app.timeutil import aware

# At most this many of the newest matches are ranked (per stage), whatever the term.
CANDIDATES = 500
# Stage one: the newest papers searched first. Stage two runs when it found fewer than
# ENOUGH_RECENT matches (a term in under 2% of recent papers).
RECENT_WINDOW = 10_000
ENOUGH_RECENT = 200
MAX_LIMIT = 200
# The text score's recency factor (text_score; docs/ranking.md states the formula and why).
HALF_LIFE_DAYS = 21.0
RECENCY_FLOOR = 0.4
# ts_rank_cd normalisation 32 maps scores into [0, 1) (rank / (rank + 1)).
_RANK_NORMALIZATION = 32


@dataclass(frozen=True, slots=True)
class SearchHit:
    arxiv_id: str
    title: str
    authors: list[str]
    published: datetime | None
    score: float
    url: str
    hf_upvotes: int | None
    abstract: str

    def as_json(self) -> dict[str, Any]:
        """The `paperboy search --json` shape (the abstract is left out: it is long)."""
        data = asdict(self)
        data.pop("abstract")
        data["published"] = self.published.isoformat() if self.published else None
        return data


def normalize_query(text: str) -> str:
    """The query as Paperboy understands it: `+` is AND, acronyms are OR groups with their long
    forms, e.g. `LLM+search` -> `(llm OR "large language model") AND search`."""
    return render(parse(text))


def search_papers(
    session: Session, *, text: str, limit: int = 10, since: datetime | None = None
) -> list[SearchHit]:
    """Papers matching `text`, best first. Raises UserInputError for text with nothing to find."""
    return _run(session, node=parse(text), text=text, limit=limit, since=since)


def topic_candidates(
    session: Session, *, topic: Topic, limit: int = 50, since: datetime | None = None
) -> list[SearchHit]:
    """Papers for a topic, best first: what topic_query finds, scored by text_score."""
    node, extra = topic_query(topic)
    return _run(session, node=node, text=topic.query, limit=limit, since=since, extra=extra)


def score_papers(session: Session, *, topic: Topic, arxiv_ids: Iterable[str]) -> dict[str, float]:
    """{arxiv_id: score} for those of the given papers that match the topic, on the scale of
    topic_candidates' hits (a trending paper and a search hit compare fairly)."""
    ids = list(dict.fromkeys(arxiv_ids))
    if not ids:
        return {}
    node, extra = topic_query(topic)
    query = to_tsquery(node)
    score = text_score(Paper.search_vector, query, Paper.published)
    stmt = select(Paper.arxiv_id, score).where(
        Paper.arxiv_id.in_(ids),
        Paper.search_vector.bool_op("@@")(query),
        *([extra] if extra is not None else []),
    )
    return {
        arxiv_id: round(float(value or 0.0), 6)
        for arxiv_id, value in session.execute(stmt)
        if arxiv_id is not None
    }


def topic_query(topic: Topic) -> tuple[Node, ColumnElement[bool] | None]:
    """The one definition of a topic's search: its query OR its LLM expansion (when it has a
    usable one), without papers that mention its excluded words; plus, when it names arXiv
    categories, a filter keeping papers in any of them. Raises UserInputError when the topic's
    own query has nothing to search for."""
    # An unusable expansion or exclude must not break the topic's own query.
    expansion = _parse_or_none(topic.expanded_query or "")
    node = any_of([parse(topic.query), *([expansion] if expansion is not None else [])])
    excluded = [_parse_or_none(word) for word in topic.exclude or ()]
    excluded_nodes = [n for n in excluded if n is not None]
    if excluded_nodes:
        node = all_of([node, Not(any_of(excluded_nodes))])
    categories = [c for c in topic.categories or () if c]
    return node, (Paper.categories.overlap(categories) if categories else None)


def text_score(
    vector: SQLColumnExpression[Any], query: ColumnElement[Any], published: SQLColumnExpression[Any]
) -> ColumnElement[float]:
    """The one text score (docs/ranking.md): ts_rank_cd in [0, 1) scaled by recency, so a fresh
    paper wins a close call and a much better old match still wins."""
    age_days = func.extract("epoch", func.now() - published) / 86400.0
    decay = func.coalesce(
        func.exp(literal(-math.log(2) / HALF_LIFE_DAYS) * func.greatest(age_days, 0.0)), 0.0
    )
    relevance = func.ts_rank_cd(vector, query, _RANK_NORMALIZATION)
    return (relevance * (RECENCY_FLOOR + (1 - RECENCY_FLOOR) * decay)).cast(Float)


def check_query(session: Session, *, text: str) -> str:
    """Validate text as a search (including stopword-only text); returns its normal form."""
    node = parse(text)
    _prepare(session, node, text)
    return render(node)


# --- internals -----------------------------------------------------------------------------


def _parse_or_none(text: str) -> Node | None:
    try:
        return parse(text)
    except UserInputError:
        return None


def _prepare(session: Session, node: Node, text: str) -> datetime | None:
    """Validate the query against PostgreSQL's parser and find the recent window's start, in one
    round trip. Returns the `published` of the RECENT_WINDOW-th newest paper (None when the store
    is smaller than that)."""
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


def _run(
    session: Session,
    *,
    node: Node,
    text: str,
    limit: int,
    since: datetime | None,
    extra: ColumnElement[bool] | None = None,
) -> list[SearchHit]:
    if not 1 <= limit <= MAX_LIMIT:
        raise UserInputError(f"limit must be between 1 and {MAX_LIMIT} (got {limit})")
    cutoff = _prepare(session, node, text)
    query = to_tsquery(node)
    match = [
        Paper.search_vector.bool_op("@@")(query),
        # Hits are addressed by arXiv id (Slack buttons, digests): papers without one, known
        # only by another id, are stored but not offered yet.
        Paper.arxiv_id.is_not(None),
        *([extra] if extra is not None else []),
    ]
    candidates = _candidates(match, cutoff=cutoff, since=aware(since) if since else None)

    score = text_score(candidates.c.search_vector, query, candidates.c.published).label("score")
    order = (score.desc(), candidates.c.published.desc().nulls_last(), candidates.c.id)
    top = select(candidates.c.id, score).order_by(*order).limit(limit).subquery("top")
    hf, on_hf = signal_join("hf")
    rows = session.execute(
        select(
            Paper.arxiv_id,
            Paper.title,
            Paper.authors,
            Paper.published,
            hf.data["upvotes"].as_integer().label("hf_upvotes"),
            Paper.abstract,
            top.c.score,
        )
        .join(top, top.c.id == Paper.id)
        .outerjoin(hf, on_hf)
        .order_by(top.c.score.desc(), Paper.published.desc().nulls_last(), Paper.id)
    ).all()
    return [
        SearchHit(
            arxiv_id=row.arxiv_id,
            title=row.title,
            authors=[a.get("name", "") for a in row.authors or () if isinstance(a, dict)],
            published=row.published,
            score=round(float(row.score), 6),
            url=abs_url(row.arxiv_id),
            hf_upvotes=row.hf_upvotes,
            abstract=row.abstract or "",
        )
        for row in rows
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
