"""Papers for the search and topic tests, stored through the real upsert path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.db.papers import upsert_papers
from app.sources.huggingface import PRIORITY as HF_PRIORITY
from app.sources.records import Author, PaperRecord

NOW = datetime.now(UTC).replace(microsecond=0)
_counter = iter(range(1, 100_000))


def paper(
    title: str,
    abstract: str = "",
    *,
    days_ago: float = 1.0,
    arxiv_id: str | None = None,
    categories: tuple[str, ...] = ("cs.CL",),
    authors: tuple[str, ...] = ("Ada Lovelace", "Alan Turing"),
) -> PaperRecord:
    published = NOW - timedelta(days=days_ago)
    return PaperRecord(
        arxiv_id=arxiv_id or f"2611.{next(_counter):05d}",
        version=1,
        title=title,
        abstract=abstract or f"{title}. We report experiments on standard benchmarks.",
        authors=[Author(name) for name in authors],
        categories=list(categories),
        primary_category=categories[0],
        published=published,
        updated=published,
        source="arxiv",
        source_key=categories[0],
    )


def hf_sighting(record: PaperRecord, **signals: object) -> PaperRecord:
    """Hugging Face's record of the same paper, carrying `signals` (upvotes=7 ...)."""
    return PaperRecord(
        arxiv_id=record.arxiv_id,
        title=record.title,
        signals=dict(signals),
        provider="hf",
        priority=HF_PRIORITY,
        source="hf_daily",
        source_key=NOW.date().isoformat(),
    )


def store(session: Session, *records: PaperRecord) -> list[str]:
    """Upsert and commit; returns the ids in the order given."""
    upsert_papers(session, records=records)
    session.commit()
    return [r.arxiv_id for r in records if r.arxiv_id]
