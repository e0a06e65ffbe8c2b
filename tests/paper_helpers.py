"""Papers built directly as rows (not through upsert_papers), with Hugging Face's signals given
under their former column names (hf_upvotes=..., hf_trending_at=...)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Paper, PaperExternalId, PaperSignal

HF_KEYS = {
    "hf_upvotes": "upvotes",
    "hf_num_comments": "num_comments",
    "hf_github_repo": "github_repo",
    "hf_github_stars": "github_stars",
    "hf_ai_keywords": "ai_keywords",
    "hf_ai_summary": "ai_summary",
    "hf_organization": "organization",
    "hf_featured_on": "first_featured_on",
    "hf_trending_at": "first_trending_at",
}


def pop_hf(fields: dict[str, Any]) -> dict[str, Any]:
    """Take the hf_* keywords out of `fields`, as the "hf" signals' data."""
    data: dict[str, Any] = {}
    for name, key in HF_KEYS.items():
        value = fields.pop(name, None)
        if isinstance(value, date | datetime):
            value = value.isoformat()
        if value is not None:
            data[key] = value
    return data


def memory_paper(**values: Any) -> Paper:
    """A Paper that is never stored (Block Kit tests), its signals attached in memory."""
    data = pop_hf(values)
    signals = [PaperSignal(source="hf", data=data)] if data else []
    return Paper(**values, signals=signals)


def stored_paper(session: Session, **values: Any) -> Paper:
    """A Paper row plus its map entry and signals, flushed."""
    data = pop_hf(values)
    paper = Paper(**values)
    session.add(paper)
    session.flush()
    if paper.arxiv_id:
        session.add(PaperExternalId(scheme="arxiv", value=paper.arxiv_id, paper_id=paper.id))
    if data:
        session.add(PaperSignal(paper_id=paper.id, source="hf", data=data))
    session.flush()
    session.expire(paper, ["signals"])
    return paper


def pid(session: Session, arxiv_id: str) -> int:
    """The `papers.id` of a stored arXiv id."""
    paper_id = session.scalar(select(Paper.id).where(Paper.arxiv_id == arxiv_id))
    assert paper_id is not None, f"{arxiv_id} is not stored"
    return paper_id


def paper_of(session: Session, arxiv_id: str) -> Paper:
    """The stored paper of an arXiv id (it must be there)."""
    return session.scalars(select(Paper).where(Paper.arxiv_id == arxiv_id)).one()
