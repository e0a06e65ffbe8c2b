"""Stored summaries (one per paper, kind, model, prompt version) and cached full texts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db.models import Paper, PaperText, Summary


def get_summary(
    session: Session, *, arxiv_id: str, kind: str, model: str, prompt_version: str
) -> Summary | None:
    return session.scalar(
        select(Summary).where(
            Summary.arxiv_id == arxiv_id,
            Summary.kind == kind,
            Summary.model == model,
            Summary.prompt_version == prompt_version,
        )
    )


def get_summaries(
    session: Session, *, arxiv_ids: Iterable[str], kind: str, model: str, prompt_version: str
) -> dict[str, Summary]:
    rows = session.scalars(
        select(Summary).where(
            Summary.arxiv_id.in_(list(arxiv_ids)),
            Summary.kind == kind,
            Summary.model == model,
            Summary.prompt_version == prompt_version,
        )
    )
    return {row.arxiv_id: row for row in rows}


def is_current(summary: Summary | None, paper: Paper) -> bool:
    """A summary is current until a newer arXiv version of its paper arrives."""
    return summary is not None and summary.paper_version >= (paper.version or 1)


def store_summary(
    session: Session,
    *,
    arxiv_id: str,
    kind: str,
    model: str,
    prompt_version: str,
    paper_version: int,
    content: dict[str, Any],
    extractive: bool = False,
    source_text: str = "abstract",
) -> None:
    """Insert or replace: an LLM summary always replaces an extractive one or an older version."""
    values = {
        "arxiv_id": arxiv_id,
        "kind": kind,
        "model": model,
        "prompt_version": prompt_version,
        "paper_version": paper_version,
        "content": content,
        "extractive": extractive,
        "source_text": source_text,
    }
    stmt = insert(Summary).values(**values)
    stmt = stmt.on_conflict_do_update(
        constraint="uq_summaries_key",
        set_={
            "paper_version": stmt.excluded.paper_version,
            "content": stmt.excluded.content,
            "extractive": stmt.excluded.extractive,
            "source_text": stmt.excluded.source_text,
            "created_at": func.now(),
        },
    )
    session.execute(stmt)


def papers_without_current(
    session: Session, *, arxiv_ids: Iterable[str], kind: str, model: str, prompt_version: str
) -> list[str]:
    """Of these papers, those with no summary of this kind, or one older than the paper."""
    ids = list(dict.fromkeys(arxiv_ids))
    if not ids:
        return []
    current = set(
        session.scalars(
            select(Summary.arxiv_id)
            .join(Paper, Paper.arxiv_id == Summary.arxiv_id)
            .where(
                Summary.arxiv_id.in_(ids),
                Summary.kind == kind,
                Summary.model == model,
                Summary.prompt_version == prompt_version,
                Summary.paper_version >= Paper.version,
            )
        )
    )
    return [i for i in ids if i not in current]


def get_text(session: Session, *, arxiv_id: str, min_version: int = 1) -> PaperText | None:
    text = session.get(PaperText, arxiv_id)
    return text if text is not None and text.version >= min_version else None


def store_text(
    session: Session, *, arxiv_id: str, version: int, text: str, source_url: str, truncated: bool
) -> None:
    stmt = insert(PaperText).values(
        arxiv_id=arxiv_id, version=version, text=text, source_url=source_url, truncated=truncated
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["arxiv_id"],
        set_={
            "version": stmt.excluded.version,
            "text": stmt.excluded.text,
            "source_url": stmt.excluded.source_url,
            "truncated": stmt.excluded.truncated,
            "fetched_at": func.now(),
        },
    )
    session.execute(stmt)
