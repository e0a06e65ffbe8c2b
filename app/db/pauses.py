"""Paused channels and each channel's latest digest: the rows behind app/digest/pause.py and the
views of them (`paperboy channels`, `paperboy status`, /healthz, `/papers topics`).

Keyword-only functions taking a Session; the caller commits.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from app.db.models import Channel, DigestRun


def pause_channel(
    session: Session, *, channel_id: str, code: str, token: str | None, at: datetime
) -> bool:
    """Pause the channel's digests for Slack's `code`; True when it was not paused before.
    `token`: the fingerprint of the token that was refused (auth codes), None otherwise."""
    channel = session.get(Channel, channel_id, with_for_update=True, populate_existing=True)
    if channel is None:
        return False
    new = channel.paused_at is None
    if new:
        channel.paused_at = at  # "since when": the first refusal, not the latest
    channel.pause_code, channel.pause_token = code, token
    session.flush()
    return new


def resume_channel(session: Session, *, channel_id: str) -> bool:
    """Lift the channel's pause; True when it was paused."""
    result = session.execute(
        update(Channel)
        .where(Channel.channel_id == channel_id, Channel.paused_at.is_not(None))
        .values(paused_at=None, pause_code=None, pause_token=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def resume_other_tokens(
    session: Session, *, codes: Collection[str], token: str | None
) -> list[str]:
    """Resume channels paused for one of `codes` under a token other than `token` (a hash);
    the ids resumed."""
    if token is None:
        return []
    rows = session.scalars(
        update(Channel)
        .where(
            Channel.paused_at.is_not(None),
            Channel.pause_code.in_(list(codes)),
            Channel.pause_token.is_distinct_from(token),
        )
        .values(paused_at=None, pause_code=None, pause_token=None)
        .returning(Channel.channel_id)
    )
    return sorted(rows)


def paused_channels(session: Session) -> list[Channel]:
    return list(
        session.scalars(
            select(Channel).where(Channel.paused_at.is_not(None)).order_by(Channel.channel_id)
        )
    )


def set_up_by(session: Session, *, channel_id: str) -> str | None:
    """Who set the channel up from Slack, if anyone did."""
    return session.scalar(select(Channel.set_up_by).where(Channel.channel_id == channel_id))


def record_set_up_by(session: Session, *, channel_id: str, user_id: str) -> None:
    """Remember who set the channel up (the first to do so from Slack)."""
    if not user_id:
        return
    session.execute(
        update(Channel)
        .where(Channel.channel_id == channel_id, Channel.set_up_by.is_(None))
        .values(set_up_by=user_id)
    )


def last_digests(session: Session) -> dict[str, DigestRun]:
    """Each channel's latest digest run (by scheduled time)."""
    rows = session.scalars(
        select(DigestRun)
        .ext(distinct_on(DigestRun.channel_id))
        .order_by(DigestRun.channel_id, DigestRun.scheduled_for.desc(), DigestRun.id.desc())
    )
    return {run.channel_id: run for run in rows}
