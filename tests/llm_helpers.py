"""Helpers for the LLM tests: papers in the store, settings pointed at the fake Anthropic API."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from paper_helpers import stored_paper
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import LlmCall, LlmJob, Paper, Summary
from app.safety import is_allowed_url

ABSTRACT = (
    "Retrieval-augmented generation grounds language models in external documents, but "
    "retrieving for every token is slow. We propose LazyRAG, a method that retrieves only when "
    "the model's uncertainty about the next span is high. On Natural Questions and TriviaQA, "
    "LazyRAG matches always-retrieve baselines within 0.4 points of exact match while issuing "
    "62% fewer retrieval calls. It also reduces end-to-end latency by 1.8x on a single GPU. We "
    "release code and checkpoints."
)


def add_paper(
    session: Session,
    arxiv_id: str,
    *,
    title: str | None = None,
    abstract: str = ABSTRACT,
    version: int = 1,
    published: datetime | None = None,
    links: list[dict[str, Any]] | None = None,
    categories: list[str] | None = None,
) -> Paper:
    paper = stored_paper(
        session,
        arxiv_id=arxiv_id,
        version=version,
        title=title or f"LazyRAG: Retrieval on Demand ({arxiv_id})",
        abstract=abstract,
        authors=[{"name": "Ada Lovelace", "affiliation": []}],
        categories=categories or ["cs.CL", "cs.IR"],
        primary_category=(categories or ["cs.CL"])[0],
        published=published or datetime.now(UTC) - timedelta(hours=6),
        updated=published or datetime.now(UTC) - timedelta(hours=6),
        links=links or [],
    )
    session.commit()
    return paper


def llm_settings(settings: Settings, fake: Any, **update: Any) -> Settings:
    """Settings with an API key, pointed at the fake, with fast retries and polls."""
    values: dict[str, Any] = {
        "anthropic_api_key": SecretStr("sk-ant-test"),
        "anthropic_base_url": fake.url,
        "llm_max_retries": 1,
        "llm_retry_base_seconds": 0.0,
        "llm_batch_poll_seconds": 0.05,
        "llm_timeout_seconds": 5.0,
        "llm_daily_budget_usd": Decimal("1.00"),
    }
    values.update(update)
    return settings.model_copy(update=values)


def jobs(session: Session) -> list[LlmJob]:
    session.expire_all()
    return list(session.scalars(select(LlmJob).order_by(LlmJob.id)))


def summaries(session: Session, kind: str = "card") -> dict[str, Summary]:
    session.expire_all()
    rows = session.execute(
        select(Paper.arxiv_id, Summary)
        .join(Summary, Summary.paper_id == Paper.id)
        .where(Summary.kind == kind)
        .order_by(Summary.paper_version)  # the newest arXiv version's row wins
    )
    return {arxiv_id: row for arxiv_id, row in rows}


def calls(session: Session) -> list[LlmCall]:
    session.expire_all()
    return list(session.scalars(select(LlmCall).order_by(LlmCall.id)))


MASS_MENTIONS = ("<!channel>", "<!here>", "<!everyone>", "@channel", "@here", "@everyone", "<@U")


def is_safe(text: str) -> bool:
    """No mention Slack would act on, and no link but arXiv/Hugging Face."""
    lowered = text.lower()
    if any(m.lower() in lowered for m in MASS_MENTIONS):
        return False
    return all(is_allowed_url(url) for url in re.findall(r"https?://\S+", text))
