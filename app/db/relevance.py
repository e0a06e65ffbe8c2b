"""Relevance of papers to topics: the lexical score always, the LLM grade when there is one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db.models import Paper, Relevance, Topic
from app.db.papers import paper_key, paper_keys
from app.db.summaries import FALLBACK_RETRY_AFTER


def store_lexical(session: Session, *, topic_id: int, scores: Sequence[tuple[str, float]]) -> None:
    """Upsert lexical scores; an existing LLM grade is left as it is."""
    if not scores:
        return
    keys: dict[str, int] = {
        arxiv_id: paper_id
        for arxiv_id, paper_id in session.execute(
            select(Paper.arxiv_id, Paper.id).where(Paper.arxiv_id.in_([a for a, _ in scores]))
        )
        if arxiv_id is not None
    }
    rows = [
        {"topic_id": topic_id, "paper_id": keys[a], "lexical_score": float(s)}
        for a, s in scores
        if a in keys
    ]
    if not rows:
        return
    stmt = insert(Relevance).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["topic_id", "paper_id"],
        set_={"lexical_score": stmt.excluded.lexical_score},
    )
    session.execute(stmt)


def ungraded(
    session: Session, *, topic_id: int, arxiv_ids: Iterable[str], model: str, prompt_version: str
) -> list[str]:
    """Of these papers (order kept), those not yet graded by this model and prompt, nor tried
    and failed (refused, unusable twice) within FALLBACK_RETRY_AFTER."""
    ids = list(dict.fromkeys(arxiv_ids))
    if not ids:
        return []
    graded = set(
        session.scalars(
            select(Paper.arxiv_id)
            .join(Relevance, Relevance.paper_id == Paper.id)
            .where(
                Relevance.topic_id == topic_id,
                Paper.arxiv_id.in_(ids),
                Relevance.model == model,
                Relevance.prompt_version == prompt_version,
                or_(
                    Relevance.llm_score.is_not(None),
                    Relevance.graded_at > func.now() - FALLBACK_RETRY_AFTER,
                ),
            )
        )
    )
    return [i for i in ids if i not in graded]


def mark_grade_failed(
    session: Session, *, topic_id: int, arxiv_ids: Iterable[str], model: str, prompt_version: str
) -> None:
    """The model refused or failed to grade these papers: remember when (no score), so the next
    passes leave them to the lexical score instead of paying again at once. A grade from an
    earlier prompt is kept as it is."""
    session.execute(
        update(Relevance)
        .where(
            Relevance.topic_id == topic_id,
            Relevance.paper_id.in_(paper_keys(arxiv_ids)),
            Relevance.llm_score.is_(None),
        )
        .values(model=model, prompt_version=prompt_version, reason=None, graded_at=func.now())
    )


def store_grade(
    session: Session,
    *,
    topic_id: int,
    arxiv_id: str,
    score: int,
    reason: str,
    model: str,
    prompt_version: str,
) -> None:
    values = {
        "topic_id": topic_id,
        "paper_id": paper_key(arxiv_id),
        "llm_score": score,
        "reason": reason,
        "model": model,
        "prompt_version": prompt_version,
        "graded_at": func.now(),
    }
    stmt = insert(Relevance).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["topic_id", "paper_id"],
        set_={k: stmt.excluded[k] for k in ("llm_score", "reason", "model", "prompt_version")}
        | {"graded_at": func.now()},
    )
    session.execute(stmt)


def topics(session: Session, *, topic_ids: Iterable[int] | None = None) -> list[Topic]:
    query = select(Topic).order_by(Topic.id)
    if topic_ids is not None:
        query = query.where(Topic.id.in_(list(topic_ids)))
    return list(session.scalars(query))
