"""Related papers: the archive's nearest papers merged with Semantic Scholar's recommendations.

Used by `paperboy related`, `/papers related` and the Related button on paper posts. For one
arXiv paper (fetched first when it is not stored):
- the archive half: the stored papers whose title + abstract vectors are nearest to its
  (cosine, through the HNSW index: app/db/embeddings.py `nearest`); while the archive has no
  vectors of the current model yet (a model change before `paperboy embed`), the papers whose
  text best matches its title instead;
- the Semantic Scholar half: `forpaper` recommendations. A recommended paper the archive lacks
  is stored (app/sources/s2_enrichment.py `s2_record`; without an arXiv id it is kept by its S2
  id and DOI), so it can be searched and related later.
The two lists are merged by reciprocal rank (k = RRF_K): they interleave, and a paper both
found ranks first and is marked `archive` (the archive had it). When S2 is unreachable the
archive half is the answer, with a one-line note.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Float, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.embeddings import nearest
from app.db.engine import session_scope
from app.db.models import Paper, PaperEmbedding, PaperExternalId
from app.db.papers import find_paper, get_paper, signal_join
from app.embeddings import Embedder, paper_text
from app.errors import UserInputError
from app.ingest import fetch_paper_on_demand, store_records
from app.paperids import abs_url
from app.sources import Source
from app.sources.s2_enrichment import FIELDS, s2_record
from app.sources.semantic_scholar import S2Unavailable, SemanticScholar

log = logging.getLogger(__name__)

ARCHIVE = "archive"
SEMANTIC_SCHOLAR = "semantic_scholar"
MAX_LIMIT = 50
RRF_K = 60
S2_DOWN_NOTE = "Semantic Scholar is unreachable right now: these come from the archive only."
NOT_FOUND = "arXiv:{arxiv_id} is not in the archive, and arXiv does not know it."
_S2_ID = re.compile(r"^[0-9a-f]{40}$")
# What a ref other than an arXiv id starts with (app/slack/commands_parse.py `related_ref`).
REF_SCHEMES = ("DOI", "S2")
_WORD = re.compile(r"[^\W_]{2,}", re.UNICODE)


@dataclass(frozen=True, slots=True)
class RelatedPaper:
    """One related paper: the `search --json` fields plus where it came from."""

    arxiv_id: str | None
    title: str
    authors: list[str]
    published: datetime | None
    score: float
    url: str
    hf_upvotes: int | None
    source: str  # ARCHIVE | SEMANTIC_SCHOLAR
    citations: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "arxiv_id": self.arxiv_id or "",
            "title": self.title,
            "authors": self.authors,
            "published": self.published.isoformat() if self.published else None,
            "score": self.score,
            "url": self.url,
            "hf_upvotes": self.hf_upvotes,
            "source": self.source,
        }


@dataclass
class Related:
    arxiv_id: str | None  # the seed paper's; None for a paper known only by DOI / S2 id
    title: str
    label: str  # how to name the seed: "arXiv:2210.03629", "DOI:10.1145/…", "S2:…"
    url: str  # its page (arXiv, else Semantic Scholar), or "" when it has neither
    papers: list[RelatedPaper] = field(default_factory=list)
    note: str | None = None  # one line for the user (S2 unreachable)


def related_papers(
    settings: Settings,
    engine: Engine,
    *,
    s2: SemanticScholar | None,
    sources: Sequence[Source],
    embedder: Embedder,
    ref: str,
    limit: int = 10,
) -> Related:
    """Papers related to `ref` (an arXiv id, "DOI:…" or "S2:…": app/slack/commands_parse.py
    `related_ref`), best first, at most `limit`. Raises UserInputError when the paper is unknown
    everywhere or the limit is out of range."""
    if not 1 <= limit <= MAX_LIMIT:
        raise UserInputError(f"limit must be between 1 and {MAX_LIMIT} (got {limit})")
    seed = _seed(settings, engine, s2=s2, sources=sources, embedder=embedder, ref=ref)
    with Session(engine) as session:
        seed_s2 = _s2_id(session, seed.id)
    result = Related(
        arxiv_id=seed.arxiv_id,
        title=seed.title,
        label=ref_label(seed.arxiv_id or ref),
        url=paper_url(arxiv_id=seed.arxiv_id, s2_id=seed_s2),
    )
    # The archive half first: S2's papers stored below are not the archive's finds.
    with Session(engine) as session:
        near = _archive_nearest(session, embedder=embedder, seed=seed, limit=limit)
    recommended: list[int] = []
    if s2 is not None:
        try:
            recommended = _recommended(engine, s2=s2, embedder=embedder, seed=seed, limit=limit)
        except S2Unavailable as exc:
            log.info("related papers for %s without Semantic Scholar: %s", ref, exc)
            result.note = S2_DOWN_NOTE
    with Session(engine) as session:
        ranked = _fuse(near, [r for r in recommended if r != seed.id])[:limit]
        rows = _rows(session, [paper_id for paper_id, _, _ in ranked])
    result.papers = [_related(rows[paper_id], score, source) for paper_id, score, source in ranked]
    return result


def ref_label(ref: str) -> str:
    """How a ref is named to people: "arXiv:2210.03629", "DOI:10.1145/…", "S2:…"."""
    return ref if ref.partition(":")[0] in REF_SCHEMES else f"arXiv:{ref}"


def _seed(
    settings: Settings,
    engine: Engine,
    *,
    s2: SemanticScholar | None,
    sources: Sequence[Source],
    embedder: Embedder,
    ref: str,
) -> Paper:
    """The paper `ref` names: stored, or fetched (arXiv ids from arXiv / Hugging Face, DOIs and
    S2 ids from Semantic Scholar) and stored first."""
    scheme, _, value = ref.partition(":")
    if scheme not in REF_SCHEMES:
        with Session(engine) as session:
            seed = get_paper(session, arxiv_id=ref)
        if seed is None:
            seed = fetch_paper_on_demand(
                settings, engine, arxiv_id=ref, sources=sources, embedder=embedder
            )
        if seed is None:
            raise UserInputError(NOT_FOUND.format(arxiv_id=ref))
        return seed
    with Session(engine) as session:
        seed = find_paper(session, scheme=scheme.lower(), value=value)
    if seed is not None:
        return seed
    if s2 is None:
        raise UserInputError(f"{ref} is not in the archive, and Semantic Scholar is turned off.")
    try:
        [answer] = s2.papers([value if scheme == "S2" else ref], fields=FIELDS)
    except S2Unavailable as exc:
        raise UserInputError(
            f"{ref} is not in the archive, and Semantic Scholar is unreachable right now ({exc})."
        ) from None
    record = s2_record(answer, source_key="related") if answer else None
    if record is None:
        raise UserInputError(f"{ref} is not in the archive, and Semantic Scholar does not know it.")
    with session_scope(engine) as session:
        store_records(session, records=[record], embedder=embedder)
    with Session(engine) as session:
        seed = find_paper(session, scheme="s2", value=record.ids["s2"])
    if seed is None:  # stored under its arXiv id or DOI, which the map then names
        raise UserInputError(f"{ref} could not be stored; try again.")
    return seed


def _s2_id(session: Session, paper_id: int) -> str | None:
    return session.scalar(
        select(PaperExternalId.value).where(
            PaperExternalId.paper_id == paper_id, PaperExternalId.scheme == "s2"
        )
    )


# --- the two halves ----------------------------------------------------------------------------


def _archive_nearest(session: Session, *, embedder: Embedder, seed: Paper, limit: int) -> list[int]:
    """Stored papers nearest to `seed`, best first (see the module docstring)."""
    vector = session.scalar(
        select(PaperEmbedding.embedding).where(
            PaperEmbedding.paper_id == seed.id, PaperEmbedding.model == embedder.name
        )
    )
    if vector is None:  # stored before vectors, or by another model: embed it now
        vector = embedder.embed([paper_text(seed.title, seed.abstract)])[0]
    found = nearest(session, vector=vector, model=embedder.name, limit=limit, exclude=[seed.id])
    return [n.paper_id for n in found] or _title_matches(session, seed=seed, limit=limit)


def _title_matches(session: Session, *, seed: Paper, limit: int) -> list[int]:
    """Stored papers matching any word of `seed`'s title, best full-text rank first."""
    words = sorted({w.lower() for w in _WORD.findall(seed.title or "")})
    if not words:
        return []
    # Any word: the title's words are all "or"ed; to_tsvector drops stopwords and stems.
    query = func.to_tsquery(
        "english", " | ".join(f"'{w}'" for w in words[:40] if "'" not in w and "\\" not in w)
    )
    rank = func.ts_rank_cd(Paper.search_vector, query, 32).cast(Float)
    stmt = (
        select(Paper.id)
        .where(Paper.search_vector.bool_op("@@")(query), Paper.id != seed.id)
        .order_by(rank.desc(), Paper.published.desc().nulls_last(), Paper.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _recommended(
    engine: Engine, *, s2: SemanticScholar, embedder: Embedder, seed: Paper, limit: int
) -> list[int]:
    """S2's recommendations for `seed`, stored (new ones added), as paper ids in S2's order."""
    with Session(engine) as session:
        known = _s2_id(session, seed.id)
    if known:
        asked = known
    elif seed.arxiv_id:
        asked = f"ARXIV:{seed.arxiv_id}"
    elif seed.doi:
        asked = f"DOI:{seed.doi}"
    else:
        return []  # nothing S2 could look it up by
    answers = s2.recommend_for_paper(asked, limit=limit, fields=FIELDS)
    # S2 ids are 40 hex digits; anything else is not linked, so not stored either.
    records = [
        r
        for a in answers
        if (r := s2_record(a, source_key="related")) and _S2_ID.match(r.ids["s2"])
    ]
    order = [r.ids["s2"] for r in records]
    if not order:
        return []
    with session_scope(engine) as session:
        store_records(session, records=records, embedder=embedder)
        by_s2 = dict(
            session.execute(
                select(PaperExternalId.value, PaperExternalId.paper_id).where(
                    PaperExternalId.scheme == "s2", PaperExternalId.value.in_(order)
                )
            ).all()
        )
    return list(dict.fromkeys(by_s2[s] for s in order if s in by_s2))


def _fuse(nearest: list[int], recommended: list[int]) -> list[tuple[int, float, str]]:
    """(paper id, reciprocal-rank score, source), best first; archive wins ties."""
    scores: dict[int, float] = {}
    source: dict[int, str] = {}
    for paper_id_list, name in ((nearest, ARCHIVE), (recommended, SEMANTIC_SCHOLAR)):
        for rank, paper_id in enumerate(paper_id_list):
            scores[paper_id] = scores.get(paper_id, 0.0) + 1.0 / (RRF_K + rank + 1)
            source.setdefault(paper_id, name)
    order = sorted(scores, key=lambda p: (-scores[p], source[p] != ARCHIVE))
    return [(p, round(scores[p], 6), source[p]) for p in order]


# --- rows ----------------------------------------------------------------------------------------


def _rows(session: Session, paper_ids: list[int]) -> dict[int, Any]:
    if not paper_ids:
        return {}
    hf, on_hf = signal_join("hf")
    s2, on_s2 = signal_join("s2")
    s2_id = (
        select(PaperExternalId.value)
        .where(PaperExternalId.paper_id == Paper.id, PaperExternalId.scheme == "s2")
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            Paper.id,
            Paper.arxiv_id,
            Paper.doi,
            Paper.title,
            Paper.authors,
            Paper.published,
            hf.data["upvotes"].as_integer().label("hf_upvotes"),
            s2.data["citation_count"].as_integer().label("citations"),
            s2_id.label("s2_id"),
        )
        .outerjoin(hf, on_hf)
        .outerjoin(s2, on_s2)
        .where(Paper.id.in_(paper_ids))
    )
    return {row.id: row for row in rows}


def _related(row: Any, score: float, source: str) -> RelatedPaper:
    return RelatedPaper(
        arxiv_id=row.arxiv_id,
        title=row.title,
        authors=[a.get("name", "") for a in row.authors or () if isinstance(a, dict)],
        published=row.published,
        score=score,
        url=paper_url(arxiv_id=row.arxiv_id, s2_id=row.s2_id),
        hf_upvotes=row.hf_upvotes,
        source=source,
        citations=row.citations,
    )


def paper_url(*, arxiv_id: str | None, s2_id: str | None) -> str:
    """arXiv's page, else Semantic Scholar's (only these hosts are linked)."""
    if arxiv_id:
        return abs_url(arxiv_id)
    if s2_id and _S2_ID.match(s2_id):
        return f"https://www.semanticscholar.org/paper/{s2_id}"
    return ""
