"""Which stored papers an enriching source (Semantic Scholar) is asked about next.

"Last reported" is the newest `paper_sources.last_seen_at` of the source for a paper: every
answer, even "unknown to us", is recorded there (app/sources/s2_enrichment.py), so a paper the
source does not know goes to the back of the queue instead of being asked about every run.
The policy itself is stated on `StoredQuery` (app/sources/base.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.db.models import Paper, PaperExternalId, PaperSource
from app.sources.base import StoredQuery

# The external ids an enriching source can name a paper by.
SCHEMES = ("arxiv", "doi", "s2")


def enrichment_candidates(
    session: Session, *, source: str, query: StoredQuery, now: datetime | None = None
) -> list[dict[str, str]]:
    """Up to `query.limit` papers as {scheme: value} for the schemes in SCHEMES, most in need
    first; papers with none of those ids are never candidates."""
    now = now or datetime.now(UTC)
    last = (
        select(PaperSource.paper_id, func.max(PaperSource.last_seen_at).label("seen"))
        .where(PaperSource.source == source)
        .group_by(PaperSource.paper_id)
        .subquery()
    )
    nameable = select(PaperExternalId.paper_id).where(
        PaperExternalId.paper_id == Paper.id, PaperExternalId.scheme.in_(SCHEMES)
    )
    dated = func.coalesce(Paper.published, Paper.first_seen_at)
    rows = session.execute(
        select(Paper.id, Paper.arxiv_id, Paper.doi)
        .outerjoin(last, last.c.paper_id == Paper.id)
        .where(
            or_(Paper.arxiv_id.is_not(None), Paper.doi.is_not(None), nameable.exists()),
            or_(
                last.c.seen.is_(None),
                and_(
                    dated >= now - timedelta(days=query.recent_days),
                    last.c.seen < now - query.refresh_after,
                ),
            ),
        )
        .order_by(last.c.seen.asc().nulls_first(), dated.desc(), Paper.id.desc())
        .limit(max(0, query.limit))
    ).all()
    found: dict[int, dict[str, str]] = {}
    for paper_id, arxiv_id, doi in rows:
        ids = found[paper_id] = {}
        if arxiv_id:
            ids["arxiv"] = arxiv_id
        if doi:
            ids["doi"] = doi
    mapped = session.execute(
        select(PaperExternalId.paper_id, PaperExternalId.scheme, PaperExternalId.value).where(
            PaperExternalId.paper_id.in_(list(found)), PaperExternalId.scheme.in_(SCHEMES)
        )
    )
    for paper_id, scheme, value in mapped:
        found[paper_id].setdefault(scheme, value)
    return [ids for ids in found.values() if ids]
