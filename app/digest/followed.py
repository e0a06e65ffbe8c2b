"""Papers by the authors a channel follows: they join its digest even when they match no topic,
marked "by an author you follow" (followed with `/papers follow author`, app/authors.py).

A paper is by a followed author when one of its stored authors matches the followed name
(app/author_names.py `matches`), or when it came from that author's Semantic Scholar list
(provenance `s2_author`, app/sources/s2_authors.py). It is new when it was submitted in the
last few days and first seen (or submitted) since the channel's last digest: an author's old
papers, read on the first ingest after the follow, stay out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.author_names import any_match, surname_hint
from app.db.authors import S2_AUTHOR_SOURCE, channel_authors, papers_maybe_by
from app.db.models import ChannelAuthor, Paper, PaperSource
from app.timeutil import aware

NOTE = "by an author you follow"


def followed_papers(
    session: Session,
    *,
    channel_id: str,
    since: datetime,
    published_after: datetime,
    skip: Collection[str] = (),
) -> list[tuple[str, list[str]]]:
    """(arxiv_id, the followed names it is by), newest submission first."""
    follows = channel_authors(session, channel_id=channel_id)
    if not follows:
        return []
    rows = papers_maybe_by(
        session,
        hints=[surname_hint(f.name) for f in follows],
        s2_author_ids=[f.s2_author_id for f in follows if f.s2_author_id],
        since=aware(published_after),
    )
    found = []
    for row in rows:
        published = aware(row.published) if row.published else None
        if row.arxiv_id in skip or published is None or published < aware(published_after):
            continue
        if aware(row.first_seen_at) < aware(since) and published < aware(since):
            continue
        names = _by(follows, authors=row.authors, s2_ids=row.s2_author_ids)
        if names:
            found.append((published, row.arxiv_id, names))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [(arxiv_id, names) for _, arxiv_id, names in found]


def marks(session: Session, *, channel_id: str, papers: Mapping[str, Paper]) -> dict[str, str]:
    """{arxiv_id: the line shown on the paper} for the papers by an author the channel follows."""
    follows = channel_authors(session, channel_id=channel_id)
    if not follows or not papers:
        return {}
    s2_of: dict[int, set[str]] = {}
    if any(f.s2_author_id for f in follows):
        rows = session.execute(
            select(PaperSource.paper_id, PaperSource.source_key).where(
                PaperSource.source == S2_AUTHOR_SOURCE,
                PaperSource.paper_id.in_([p.id for p in papers.values()]),
            )
        )
        for paper_id, key in rows:
            s2_of.setdefault(paper_id, set()).add(key)
    out = {}
    for arxiv_id, paper in papers.items():
        authors = [str(a.get("name") or "") for a in paper.authors or [] if isinstance(a, dict)]
        names = _by(follows, authors=authors, s2_ids=s2_of.get(paper.id, set()))
        if names:
            out[arxiv_id] = note(names)
    return out


def note(names: list[str]) -> str:
    """The mark on a paper: "by an author you follow: Yann LeCun" (plain text, escaped later)."""
    return f"{NOTE}: {', '.join(names[:3])}"


def _by(follows: list[ChannelAuthor], *, authors: list[str], s2_ids: Collection[str]) -> list[str]:
    return [
        f.name
        for f in follows
        if (f.s2_author_id and f.s2_author_id in s2_ids) or any_match(f.name, authors)
    ]
