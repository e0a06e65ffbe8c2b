"""Followed authors: which channel follows whom, and the stored papers that may be theirs.

Keyword-only functions taking a Session; the caller commits. The use case (resolving a name on
Semantic Scholar, the arXiv query) is app/authors.py; the name rule is app/author_names.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, delete, func, or_, select
from sqlalchemy.orm import Session

from app.db.channels import ensure_channel
from app.db.models import ChannelAuthor, Paper, PaperSource
from app.sources.base import FollowedAuthor

# Provenance of papers fetched from an S2 author's list: source "s2_author", key the S2 id.
S2_AUTHOR_SOURCE = "s2_author"


def channel_authors(session: Session, *, channel_id: str) -> list[ChannelAuthor]:
    return list(
        session.scalars(
            select(ChannelAuthor)
            .where(ChannelAuthor.channel_id == channel_id)
            .order_by(func.lower(ChannelAuthor.name))
        )
    )


def authors_by_channel(session: Session) -> dict[str, list[ChannelAuthor]]:
    out: dict[str, list[ChannelAuthor]] = {}
    for row in session.scalars(select(ChannelAuthor).order_by(func.lower(ChannelAuthor.name))):
        out.setdefault(row.channel_id, []).append(row)
    return out


def get_follow(session: Session, *, channel_id: str, name: str) -> ChannelAuthor | None:
    """The channel's follow of `name`, ignoring case and extra spaces."""
    name = " ".join(name.split())
    return session.scalars(
        select(ChannelAuthor).where(
            ChannelAuthor.channel_id == channel_id,
            func.lower(ChannelAuthor.name) == name.lower(),
        )
    ).first()


def add_follow(
    session: Session,
    *,
    channel_id: str,
    name: str,
    arxiv_query: str,
    s2_author_id: str | None,
    created_by: str | None = None,
    timezone: str | None = None,
) -> tuple[ChannelAuthor, bool]:
    """(follow, created). Following again keeps the row; a newly known S2 id is filled in."""
    ensure_channel(session, channel_id=channel_id, timezone=timezone)
    row = get_follow(session, channel_id=channel_id, name=name)
    if row is not None:
        if s2_author_id and row.s2_author_id != s2_author_id:
            row.s2_author_id = s2_author_id
            session.flush()
        return row, False
    row = ChannelAuthor(
        channel_id=channel_id,
        name=name,
        arxiv_query=arxiv_query,
        s2_author_id=s2_author_id,
        created_by=created_by or None,
    )
    session.add(row)
    session.flush()
    return row, True


def remove_follow(session: Session, *, channel_id: str, name: str) -> str | None:
    """Stop following; the stored name when the channel was following that author."""
    row = get_follow(session, channel_id=channel_id, name=name)
    if row is None:
        return None
    removed = row.name
    session.execute(delete(ChannelAuthor).where(ChannelAuthor.id == row.id))
    return removed


def followed_authors(session: Session) -> list[FollowedAuthor]:
    """Every followed author once: one arXiv query each, one S2 list per resolved id."""
    rows = session.execute(
        select(ChannelAuthor.name, ChannelAuthor.arxiv_query, ChannelAuthor.s2_author_id).order_by(
            ChannelAuthor.id
        )
    ).all()
    seen: dict[tuple[str, str | None], FollowedAuthor] = {}
    for name, query, s2_id in rows:
        seen.setdefault((query, s2_id), FollowedAuthor(name, query, s2_id))
    return list(seen.values())


@dataclass(frozen=True, slots=True)
class AuthorPaper:
    arxiv_id: str
    authors: list[str]
    s2_author_ids: frozenset[str]
    first_seen_at: datetime
    published: datetime | None


def papers_maybe_by(
    session: Session,
    *,
    hints: Sequence[str],
    s2_author_ids: Sequence[str],
    since: datetime,
    limit: int = 500,
) -> list[AuthorPaper]:
    """Papers with an arXiv id, seen or published since `since`, whose author list contains one
    of `hints` (a surname, app/author_names.py `surname_hint`) or that were fetched from one of
    the S2 authors' lists. A prefilter: the caller applies the name rule."""
    if not hints and not s2_author_ids:
        return []
    authors_text = Paper.authors.cast(String)
    by_s2 = select(PaperSource.paper_id).where(
        PaperSource.source == S2_AUTHOR_SOURCE, PaperSource.source_key.in_(list(s2_author_ids))
    )
    conditions = [authors_text.ilike(f"%{_like(h)}%") for h in hints]
    if s2_author_ids:
        conditions.append(Paper.id.in_(by_s2))
    rows = session.execute(
        select(Paper.id, Paper.arxiv_id, Paper.authors, Paper.first_seen_at, Paper.published)
        .where(
            Paper.arxiv_id.is_not(None),
            or_(Paper.first_seen_at >= since, Paper.published >= since),
            or_(*conditions),
        )
        .order_by(Paper.first_seen_at.desc())
        .limit(limit)
    ).all()
    s2_of: dict[int, set[str]] = {}
    if s2_author_ids and rows:
        for paper_id, key in session.execute(
            select(PaperSource.paper_id, PaperSource.source_key).where(
                PaperSource.source == S2_AUTHOR_SOURCE,
                PaperSource.paper_id.in_([r[0] for r in rows]),
            )
        ):
            s2_of.setdefault(paper_id, set()).add(key)
    return [
        AuthorPaper(
            arxiv_id=arxiv_id,
            authors=[str(a.get("name") or "") for a in authors or [] if isinstance(a, dict)],
            s2_author_ids=frozenset(s2_of.get(pid, ())),
            first_seen_at=first_seen,
            published=published,
        )
        for pid, arxiv_id, authors, first_seen, published in rows
    ]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
