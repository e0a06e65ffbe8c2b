"""Shared pieces of the digest tests: papers in the store, settings pointed at the fake Slack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from paper_helpers import stored_paper
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import DigestRun, Paper, PostedMessage

BOT_TOKEN = "xoxb-digest-test"
NOW = datetime.now(UTC).replace(microsecond=0)


def slack_settings(settings: Settings, fake: Any, **extra: Any) -> Settings:
    """Settings whose Slack Web API is the fake; no pacing unless asked (tests stay fast)."""
    update: dict[str, Any] = {
        "slack_api_url": fake.url,
        "slack_bot_token": SecretStr(BOT_TOKEN),
        "slack_channel_interval_seconds": 0.0,
    }
    update.update(extra)
    return settings.model_copy(update=update)


def add_paper(
    session: Session,
    arxiv_id: str,
    title: str,
    abstract: str = "",
    *,
    age_days: float = 0.5,
    authors: list[str] | None = None,
    **fields: Any,
) -> Paper:
    """A paper published `age_days` ago and first seen now."""
    paper = stored_paper(
        session,
        arxiv_id=arxiv_id,
        version=1,
        title=title,
        abstract=abstract or f"We study {title.lower()} in depth and report results.",
        authors=[{"name": n, "affiliations": []} for n in (authors or ["Ada Lovelace"])],
        categories=fields.pop("categories", ["cs.CL"]),
        primary_category="cs.CL",
        published=NOW - timedelta(days=age_days),
        updated=NOW - timedelta(days=age_days),
        links=[],
        **fields,
    )
    return paper


def posted_papers(fake: Any, channel: str) -> list[str]:
    """arXiv ids of the paper messages the fake accepted in a channel, in order."""
    ids = []
    for message in fake.posted(channel):
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("kind") == "paper":
            ids.append(payload["arxiv_id"])
    return ids


def recorded(engine: Engine, channel: str) -> list[Any]:
    """The channel's posted_messages rows, each with its paper's arxiv_id."""
    with Session(engine) as session:
        return list(
            session.execute(
                select(PostedMessage.__table__, Paper.arxiv_id)
                .outerjoin(Paper, Paper.id == PostedMessage.paper_id)
                .where(PostedMessage.channel_id == channel)
                .order_by(PostedMessage.digest_run_id, PostedMessage.position)
            )
        )


def runs(engine: Engine, channel: str) -> list[DigestRun]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(DigestRun).where(DigestRun.channel_id == channel).order_by(DigestRun.id)
            )
        )
