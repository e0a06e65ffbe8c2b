"""Search over the papers: the lexical half (app/search_lexical.py, full text) and the semantic
half (app/search_semantic.py, vectors), fused by reciprocal rank fusion. One module for every
caller: `paperboy search`, `/papers search`, a topic's candidates for digests and LLM grading,
and whether a trending paper matches a topic.

Modes: `lexical` (words only), `semantic` (vectors only) and `hybrid` (both, fused; the
default). Each half ranks its best FUSION_DEPTH papers (text score, or similarity, times the
same recency factor); a paper's fused score is sum over the halves that found it of
1 / (RRF_K + rank), scaled so that first in both halves is 1.0 (docs/ranking.md). Without an
embedder, or when no vector of the embedder's model passes the filters (a store not embedded
yet), hybrid is lexical: same hits, same scores.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import numpy as np
from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from app.db.models import Paper, PaperEmbedding, Topic
from app.db.papers import signal_join
from app.embeddings import Embedder
from app.errors import UserInputError
from app.paperids import abs_url
from app.search_lexical import (
    HALF_LIFE_DAYS,
    RECENCY_FLOOR,
    Scored,
    lexical_ranked,
    lexical_scores,
    prepare,
    text_score,
)
from app.search_query import Node, Not, all_of, any_of, parse, render
from app.search_semantic import (
    SEARCH_SIMILARITY_FLOOR,
    SIMILARITY_FLOOR,
    index_settings,
    query_text,
    semantic_ranked,
    semantic_scores,
)
from app.timeutil import aware

__all__ = [
    "HALF_LIFE_DAYS",
    "RECENCY_FLOOR",
    "Mode",
    "SearchHit",
    "check_query",
    "has_vectors",
    "normalize_query",
    "score_papers",
    "search_papers",
    "text_score",
    "topic_candidates",
    "topic_query",
    "topic_text",
]

Mode = Literal["lexical", "semantic", "hybrid"]
MODES: tuple[str, ...] = get_args(Mode)
MAX_LIMIT = 200
# Reciprocal rank fusion's constant (Cormack et al. 2009's 60): a paper ranked first by one
# half only counts half as much as one first in both, and ranks deep in a list still count.
RRF_K = 60
# Papers each half ranks before fusion (a larger `limit` ranks that many).
FUSION_DEPTH = 100


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
    # 1-based rank in each half's list; None when that half did not find the paper.
    lexical_rank: int | None = None
    semantic_rank: int | None = None

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
    session: Session,
    *,
    text: str,
    limit: int = 10,
    since: datetime | None = None,
    mode: Mode = "hybrid",
    embedder: Embedder | None = None,
) -> list[SearchHit]:
    """Papers matching `text`, best first. Raises UserInputError for text with nothing to find
    (or semantic mode without an embedder)."""
    node = parse(text)
    return _run(
        session,
        node=node,
        text=text,
        vector_text=query_text(node),
        limit=limit,
        since=since,
        mode=mode,
        embedder=embedder,
        floor=SEARCH_SIMILARITY_FLOOR,
    )


def topic_candidates(
    session: Session,
    *,
    topic: Topic,
    limit: int = 50,
    since: datetime | None = None,
    embedder: Embedder | None = None,
) -> list[SearchHit]:
    """Papers for a topic, best first: hybrid search of topic_query, its vector topic_text's."""
    node, extra = topic_query(topic)
    return _run(
        session,
        node=node,
        text=topic.query,
        vector_text=topic_text(topic),
        limit=limit,
        since=since,
        mode="hybrid",
        embedder=embedder,
        extra=extra,
    )


def score_papers(
    session: Session,
    *,
    topic: Topic,
    arxiv_ids: Iterable[str],
    since: datetime | None = None,
    embedder: Embedder | None = None,
) -> dict[str, float]:
    """{arxiv_id: score} for those of the given papers that match the topic, on the scale of
    topic_candidates' hits with the same `since` (a trending paper and a search hit compare
    fairly): in hybrid, each paper is ranked where its score would sit in each half's list."""
    ids = list(dict.fromkeys(arxiv_ids))
    if not ids:
        return {}
    node, extra = topic_query(topic)
    filters = [extra] if extra is not None else []
    lexical = lexical_scores(session, node=node, extra=filters, arxiv_ids=ids)
    if embedder is not None:
        cutoff = prepare(session, node, topic.query, index_settings(FUSION_DEPTH))
        since = aware(since) if since is not None else None
        lex_list = lexical_ranked(
            session, node=node, extra=filters, cutoff=cutoff, since=since, depth=FUSION_DEPTH
        )
        vector, sem_list, embedded = _semantic_half(
            session, embedder=embedder, text=topic_text(topic), node=node, extra=filters,
            since=since, depth=FUSION_DEPTH, floor=SIMILARITY_FLOOR,
        )  # fmt: skip
        if embedded:
            semantic = semantic_scores(
                session, vector=vector, model=embedder.name, node=node, extra=filters, arxiv_ids=ids
            )
            fused = {}
            for arxiv_id in ids:
                lex, sem = lexical.get(arxiv_id), semantic.get(arxiv_id)
                ranks = (_insert_rank(lex_list, lex), _insert_rank(sem_list, sem))
                if lex is not None or sem is not None:
                    fused[arxiv_id] = round(_fused(*ranks), 6)
            return fused
    return {a: round(score, 6) for a, (_, score) in lexical.items()}


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


def topic_text(topic: Topic) -> str:
    """What a topic's vector is made of: its name, then the words its query and expansion ask
    for (excluded words left out), each word once."""
    node, _ = topic_query(topic)
    words = topic.name.split()
    seen = {w.lower() for w in words}
    for word in query_text(node).split():
        if word not in seen:
            seen.add(word)
            words.append(word)
    return " ".join(words)


def check_query(session: Session, *, text: str) -> str:
    """Validate text as a search (including stopword-only text); returns its normal form."""
    node = parse(text)
    prepare(session, node, text)
    return render(node)


def has_vectors(session: Session, *, model: str) -> bool:
    """Whether any paper has a vector from `model` (else hybrid search is lexical only)."""
    return bool(session.scalar(select(exists().where(PaperEmbedding.model == model))))


# --- internals -----------------------------------------------------------------------------


def _parse_or_none(text: str) -> Node | None:
    try:
        return parse(text)
    except UserInputError:
        return None


def _semantic_half(
    session: Session,
    *,
    embedder: Embedder,
    text: str,
    node: Node,
    extra: Sequence[ColumnElement[bool]],
    since: datetime | None,
    depth: int,
    floor: float,
) -> tuple[np.ndarray, list[Scored], bool]:
    """`text`'s vector, the semantic half's best `depth` hits above `floor`, and whether any
    vector of the embedder's model passed the filters (app/search_semantic.py)."""
    vector = embedder.embed([text])[0]
    hits, embedded = semantic_ranked(
        session, vector=vector, model=embedder.name, node=node, extra=extra, since=since,
        depth=depth, floor=floor,
    )  # fmt: skip
    return vector, hits, embedded


def _fused(lexical_rank: int | None, semantic_rank: int | None) -> float:
    """Reciprocal rank fusion, scaled so that first in both halves is 1.0."""
    total = sum(1.0 / (RRF_K + r) for r in (lexical_rank, semantic_rank) if r is not None)
    return total * (RRF_K + 1) / 2


def _insert_rank(ranked: Sequence[Scored], found: tuple[int, float] | None) -> int | None:
    """A paper's rank in a half's list: its place there, else where its score would sit."""
    if found is None:
        return None
    paper_id, score = found
    for i, entry in enumerate(ranked):
        if entry.paper_id == paper_id or entry.score < score:
            return i + 1
    return len(ranked) + 1


def _run(
    session: Session,
    *,
    node: Node,
    text: str,
    vector_text: str,
    limit: int,
    since: datetime | None,
    mode: Mode,
    embedder: Embedder | None,
    extra: ColumnElement[bool] | None = None,
    floor: float = SIMILARITY_FLOOR,
) -> list[SearchHit]:
    if not 1 <= limit <= MAX_LIMIT:
        raise UserInputError(f"limit must be between 1 and {MAX_LIMIT} (got {limit})")
    if mode not in MODES:
        raise UserInputError(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    if mode == "semantic" and embedder is None:
        raise UserInputError("semantic search needs the embedding model")
    if mode == "hybrid" and embedder is None:
        mode = "lexical"
    depth = max(limit, FUSION_DEPTH) if mode == "hybrid" else limit
    semantic_half = mode != "lexical" and embedder is not None
    cutoff = prepare(session, node, text, index_settings(depth) if semantic_half else ())
    since = aware(since) if since is not None else None
    filters = [extra] if extra is not None else []
    semantic: list[Scored] = []
    if semantic_half and embedder is not None:
        _, semantic, embedded = _semantic_half(
            session, embedder=embedder, text=vector_text, node=node, extra=filters, since=since,
            depth=depth, floor=floor,
        )  # fmt: skip
        if not embedded and mode == "hybrid":
            mode, depth = "lexical", limit  # nothing embedded to compare with: words only
    lexical: list[Scored] = []
    if mode != "semantic":
        lexical = lexical_ranked(
            session, node=node, extra=filters, cutoff=cutoff, since=since, depth=depth
        )
    lex_rank = {s.paper_id: i + 1 for i, s in enumerate(lexical)}
    sem_rank = {s.paper_id: i + 1 for i, s in enumerate(semantic)}
    if mode == "hybrid":
        scores = {pid: _fused(lex_rank.get(pid), sem_rank.get(pid)) for pid in lex_rank | sem_rank}
    else:
        scores = {s.paper_id: s.score for s in (lexical if mode == "lexical" else semantic)}
    # Ties (equal fused ranks) go to the better lexical rank, then semantic, then paper id.
    last = depth + 1
    order = sorted(
        scores, key=lambda p: (-scores[p], lex_rank.get(p, last), sem_rank.get(p, last), p)
    )[:limit]
    return _hits(session, order, scores, lex_rank, sem_rank)


def _hits(
    session: Session,
    order: list[int],
    scores: dict[int, float],
    lex_rank: dict[int, int],
    sem_rank: dict[int, int],
) -> list[SearchHit]:
    if not order:
        return []
    hf, on_hf = signal_join("hf")
    rows = session.execute(
        select(
            Paper.id,
            Paper.arxiv_id,
            Paper.title,
            Paper.authors,
            Paper.published,
            hf.data["upvotes"].as_integer().label("hf_upvotes"),
            Paper.abstract,
        )
        .outerjoin(hf, on_hf)
        .where(Paper.id.in_(order))
    ).all()
    by_id = {row.id: row for row in rows}
    return [
        SearchHit(
            arxiv_id=row.arxiv_id,
            title=row.title,
            authors=[a.get("name", "") for a in row.authors or () if isinstance(a, dict)],
            published=row.published,
            score=round(float(scores[pid]), 6),
            url=abs_url(row.arxiv_id),
            hf_upvotes=row.hf_upvotes,
            abstract=row.abstract or "",
            lexical_rank=lex_rank.get(pid),
            semantic_rank=sem_rank.get(pid),
        )
        for pid in order
        if (row := by_id.get(pid)) is not None
    ]
