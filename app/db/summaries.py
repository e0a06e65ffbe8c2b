"""Stored summaries (one per paper, kind, model, prompt version and arXiv version: readers get
the newest version's, older ones stay) and cached full texts.

An extractive row under a real model and prompt version means the model refused or kept sending
unusable output for that paper. It stops the paper being sent again at once, but not forever:
after FALLBACK_RETRY_AFTER it counts as missing again (so the next ingest pass or Slack request
tries the LLM once more), until FALLBACK_MAX_TRIES tries have ended in the fallback. No key or a
spent budget stores nothing: those jobs just wait, and are upgraded once the LLM is back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, case, exists, func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import Session

from app.db import jobs as queue
from app.db.models import Paper, PaperText, PostedMessage, SavedPaper, Summary
from app.db.papers import paper_key


def get_summary(
    session: Session, *, arxiv_id: str, kind: str, model: str, prompt_version: str
) -> Summary | None:
    """The summary of the paper's newest arXiv version that has one."""
    return session.scalar(
        select(Summary)
        .where(
            Summary.paper_id == paper_key(arxiv_id),
            Summary.kind == kind,
            Summary.model == model,
            Summary.prompt_version == prompt_version,
        )
        .order_by(Summary.paper_version.desc())
        .limit(1)
    )


def get_summaries(
    session: Session, *, arxiv_ids: Iterable[str], kind: str, model: str, prompt_version: str
) -> dict[str, Summary]:
    rows = session.execute(
        select(Paper.arxiv_id, Summary)
        .join(Summary, Summary.paper_id == Paper.id)
        .where(
            Paper.arxiv_id.in_(list(arxiv_ids)),
            Summary.kind == kind,
            Summary.model == model,
            Summary.prompt_version == prompt_version,
        )
        .order_by(Summary.paper_id, Summary.paper_version.desc())
        .ext(distinct_on(Summary.paper_id))  # the newest arXiv version's summary of each
    )
    return {arxiv_id: row for arxiv_id, row in rows if arxiv_id is not None}


# Under a day, so a daily ingest pass always finds the paper due again.
FALLBACK_RETRY_AFTER = timedelta(hours=20)
# LLM tries (each one call if refused, two if invalid) before the extractive card stays.
FALLBACK_MAX_TRIES = 3


def is_current(summary: Summary | None, paper: Paper, *, now: datetime | None = None) -> bool:
    """A summary is current until a newer arXiv version of its paper arrives; an extractive one
    only until it is due for another LLM try (see the module docstring)."""
    if summary is None or summary.paper_version < (paper.version or 1):
        return False
    if not summary.extractive or summary.llm_failures >= FALLBACK_MAX_TRIES:
        return True
    return summary.created_at > (now or datetime.now(UTC)) - FALLBACK_RETRY_AFTER


def _settled() -> ColumnElement[bool]:
    """SQL twin of the extractive half of `is_current`."""
    return or_(
        Summary.extractive.is_(False),
        Summary.llm_failures >= FALLBACK_MAX_TRIES,
        Summary.created_at > func.now() - FALLBACK_RETRY_AFTER,
    )


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
    """Insert or replace: an LLM summary always replaces an extractive one of the same arXiv
    version; another version's summary is a row of its own (older ones are kept as history).

    An extractive one (the model refused or failed) counts the failed tries for this paper
    version, which caps how often the LLM is tried again."""
    store_summaries(
        session,
        kind=kind,
        model=model,
        prompt_version=prompt_version,
        items=[(paper_key(arxiv_id), paper_version, content)],
        extractive=extractive,
        source_text=source_text,
    )


def store_summaries(
    session: Session,
    *,
    kind: str,
    model: str,
    prompt_version: str,
    items: Sequence[tuple[int | ScalarSelect[int], int, dict[str, Any]]],
    extractive: bool = False,
    source_text: str = "abstract",
) -> None:
    """`store_summary` for many papers in one statement: (papers.id, paper_version, content)."""
    if not items:
        return
    rows = [
        {
            "paper_id": paper_id,
            "kind": kind,
            "model": model,
            "prompt_version": prompt_version,
            "paper_version": paper_version,
            "content": content,
            "extractive": extractive,
            "llm_failures": 1 if extractive else 0,
            "source_text": source_text,
        }
        for paper_id, paper_version, content in items
    ]
    stmt = insert(Summary).values(rows)
    failures = case(
        (
            Summary.extractive & (Summary.paper_version == stmt.excluded.paper_version),
            Summary.llm_failures + 1,
        ),
        else_=1,
    )
    stmt = stmt.on_conflict_do_update(
        constraint="uq_summaries_key",
        set_={
            "content": stmt.excluded.content,
            "extractive": stmt.excluded.extractive,
            "llm_failures": failures if extractive else 0,
            "source_text": stmt.excluded.source_text,
            "created_at": func.now(),
        },
    )
    session.execute(stmt)


def papers_without_current(
    session: Session, *, arxiv_ids: Iterable[str], kind: str, model: str, prompt_version: str
) -> list[str]:
    """Of these papers, those with no current summary of this kind (see `is_current`)."""
    ids = list(dict.fromkeys(arxiv_ids))
    if not ids:
        return []
    current = set(
        session.scalars(
            select(Paper.arxiv_id)
            .join(Summary, Summary.paper_id == Paper.id)
            .where(
                Paper.arxiv_id.in_(ids),
                Summary.kind == kind,
                Summary.model == model,
                Summary.prompt_version == prompt_version,
                Summary.paper_version >= Paper.version,
                _settled(),
            )
        )
    )
    return [i for i in ids if i not in current]


def get_text(session: Session, *, arxiv_id: str, min_version: int = 1) -> PaperText | None:
    text = session.scalar(select(PaperText).where(PaperText.paper_id == paper_key(arxiv_id)))
    return text if text is not None and text.version >= min_version else None


def store_text(
    session: Session, *, arxiv_id: str, version: int, text: str, source_url: str, truncated: bool
) -> None:
    stmt = insert(PaperText).values(
        paper_id=paper_key(arxiv_id),
        version=version,
        text=text,
        source_url=source_url,
        truncated=truncated,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["paper_id"],
        set_={
            "version": stmt.excluded.version,
            "text": stmt.excluded.text,
            "source_url": stmt.excluded.source_url,
            "truncated": stmt.excluded.truncated,
            "fetched_at": func.now(),
        },
    )
    session.execute(stmt)


def queue_new_versions(session: Session, *, arxiv_ids: Iterable[str], max_attempts: int) -> int:
    """Queue a new card for each of these papers whose card was written for an older arXiv
    version, whatever the paper's age, when someone follows it: a channel was shown it (a
    digest or shared paper post) or a user saved it. Returns how many jobs were new.

    The new card is stored beside the old one (the arXiv version is part of the key) and
    replaces it in what readers show; until it is written, they keep showing the old one."""
    ids = [i for i in dict.fromkeys(arxiv_ids) if i]
    if not ids:
        return 0
    followed = or_(
        exists().where(PostedMessage.paper_id == Paper.id, PostedMessage.kind == "paper"),
        exists().where(SavedPaper.paper_id == Paper.id),
    )
    stale = session.scalars(
        select(Paper.arxiv_id)
        .join(Summary, Summary.paper_id == Paper.id)
        .where(Paper.arxiv_id.in_(ids), Summary.kind == "card", followed)
        .group_by(Paper.id, Paper.arxiv_id, Paper.version)
        .having(func.max(Summary.paper_version) < Paper.version)
        .order_by(Paper.arxiv_id)
    )
    return queue.enqueue_many(
        session,
        kind="card",
        items=[(a, None, 0.0) for a in stale if a],
        max_attempts=max_attempts,
    )
