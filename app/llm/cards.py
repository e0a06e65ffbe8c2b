"""Digest cards: the stored LLM card when there is one, else the extractive fallback. Never waits.

A digest must post on time whatever the worker is doing, so this only reads: a paper whose card
is not written yet (queued, budget spent, no API key) gets the deterministic extractive card,
marked as such, and the LLM card replaces it in later digests once the worker has made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Paper, Summary
from app.db.papers import arxiv_id_of
from app.db.summaries import get_summaries, get_summary
from app.llm.fallback import extractive_card
from app.llm.prompts import CARD_PROMPT_VERSION


@dataclass(frozen=True)
class Card:
    tldr: str
    key_points: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    # True: sentences picked from the abstract, not written by the model. Show it as such.
    extractive: bool = False
    model: str | None = None


def fallback_card(paper: Paper) -> Card:
    content = extractive_card(
        title=paper.title,
        abstract=paper.abstract,
        categories=list(paper.categories or []),
        keywords=list(paper.hf_ai_keywords or []),
    )
    return Card(**content, extractive=True)


def _from_row(row: Summary, paper: Paper) -> Card:
    if row.extractive:
        # Stored after the model refused or kept failing: recompute, it is deterministic.
        return fallback_card(paper)
    content = row.content
    return Card(
        tldr=content.get("tldr", ""),
        key_points=list(content.get("key_points", [])),
        tags=list(content.get("tags", [])),
        extractive=False,
        model=row.model,
    )


def card_for(session: Session, *, paper: Paper, settings: Settings) -> Card:
    """The card for this paper under the current model and card prompt, else the fallback."""
    row = get_summary(
        session,
        arxiv_id=arxiv_id_of(paper),
        kind="card",
        model=settings.paperboy_llm_model,
        prompt_version=CARD_PROMPT_VERSION,
    )
    return _from_row(row, paper) if row is not None else fallback_card(paper)


def cards_for(session: Session, *, papers: Sequence[Paper], settings: Settings) -> dict[str, Card]:
    """`card_for` for many papers in one query (a digest's worth)."""
    rows = get_summaries(
        session,
        arxiv_ids=[arxiv_id_of(p) for p in papers],
        kind="card",
        model=settings.paperboy_llm_model,
        prompt_version=CARD_PROMPT_VERSION,
    )
    return {
        arxiv_id_of(p): _from_row(rows[p.arxiv_id], p) if p.arxiv_id in rows else fallback_card(p)
        for p in papers
    }
