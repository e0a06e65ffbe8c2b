"""Channel subscriptions: the topics a Slack channel follows and how its digest is posted.

Keyword-only functions taking a Session; the caller commits. Used by the CLI (`paperboy follow`)
and by the Slack commands (`/papers follow`), so both behave the same.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import schedule
from app.db.models import Channel, ChannelTopic, Topic
from app.db.topics import get_topic
from app.errors import UserInputError

MAX_PAPERS_LIMIT = 25
STYLES = ("messages", "thread")


def get_channel(session: Session, *, channel_id: str) -> Channel | None:
    return session.get(Channel, channel_id)


def ensure_channel(session: Session, *, channel_id: str, timezone: str | None = None) -> Channel:
    """The channel's row, created with the defaults (weekdays 09:00 in `timezone`) if new."""
    channel_id = channel_id.strip()
    if not channel_id:
        raise UserInputError("a channel id is needed (like C0123456789)")
    zone = timezone or "UTC"
    schedule.check_timezone(zone)
    session.execute(
        insert(Channel)
        .values(channel_id=channel_id, cron=schedule.DEFAULT_CRON, timezone=zone)
        .on_conflict_do_nothing(index_elements=["channel_id"])
    )
    channel = session.get(Channel, channel_id, populate_existing=True)
    assert channel is not None
    return channel


def channel_topics(session: Session, *, channel_id: str) -> list[Topic]:
    return list(
        session.scalars(
            select(Topic)
            .join(ChannelTopic, ChannelTopic.topic_id == Topic.id)
            .where(ChannelTopic.channel_id == channel_id)
            .order_by(Topic.name)
        )
    )


def topics_by_channel(session: Session) -> dict[str, list[Topic]]:
    rows = session.execute(
        select(ChannelTopic.channel_id, Topic)
        .join(Topic, Topic.id == ChannelTopic.topic_id)
        .order_by(Topic.name)
    )
    out: dict[str, list[Topic]] = {}
    for channel_id, topic in rows:
        out.setdefault(channel_id, []).append(topic)
    return out


def add_topic(
    session: Session, *, channel_id: str, topic: Topic, timezone: str | None = None
) -> Channel:
    """Make the channel (created when new) follow a stored topic; following twice is harmless.
    app.topics.follow is the whole use case, creating the topic too."""
    channel = ensure_channel(session, channel_id=channel_id, timezone=timezone)
    session.execute(
        insert(ChannelTopic)
        .values(channel_id=channel.channel_id, topic_id=topic.id)
        .on_conflict_do_nothing()
    )
    if not channel.active:
        channel.active = True
    session.flush()
    return channel


def unfollow(session: Session, *, channel_id: str, topic_name: str) -> bool:
    """Stop following; True when the channel was following the topic."""
    topic = get_topic(session, name=" ".join(topic_name.split()))
    if topic is None:
        return False
    result = session.execute(
        delete(ChannelTopic).where(
            ChannelTopic.channel_id == channel_id, ChannelTopic.topic_id == topic.id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_channels(session: Session) -> list[Channel]:
    return list(session.scalars(select(Channel).order_by(Channel.channel_id)))


def set_schedule(
    session: Session,
    *,
    channel_id: str,
    cron: str,
    timezone: str | None,
    default_timezone: str = "UTC",
) -> Channel:
    """Validate (app.schedule: crontab syntax, at most hourly, IANA zone) and store a channel's
    schedule. Every surface that sets one (CLI, `/papers schedule`, the settings modal) ends here.

    `timezone` None keeps the channel's zone (`default_timezone` for a channel seen first here).
    """
    current = get_channel(session, channel_id=channel_id.strip())
    zone = timezone or (current.timezone if current else default_timezone)
    normalized = schedule.validate(cron, zone)
    channel = ensure_channel(session, channel_id=channel_id, timezone=zone)
    channel.cron, channel.timezone = normalized, zone
    session.flush()
    return channel


def update_channel(session: Session, *, channel_id: str, **fields: Any) -> Channel:
    """Change digest settings: max_papers, min_relevance, include_trending, quiet_day_notice,
    style, active, team_id, recommendations, or cron/timezone (validated as in set_schedule)."""
    channel = ensure_channel(session, channel_id=channel_id)
    cron = fields.pop("cron", None)
    timezone = fields.pop("timezone", None)
    if cron is not None or timezone is not None:
        set_schedule(
            session,
            channel_id=channel_id,
            cron=cron if cron is not None else channel.cron,
            timezone=timezone if timezone is not None else channel.timezone,
        )
    for name, value in fields.items():
        if name == "max_papers":
            value = int(value)
            if not 1 <= value <= MAX_PAPERS_LIMIT:
                raise UserInputError(f"max papers must be between 1 and {MAX_PAPERS_LIMIT}")
        elif name == "min_relevance":
            value = float(value)
            if not 0.0 <= value <= 1.0:
                raise UserInputError("minimum relevance must be between 0 and 1")
        elif name == "style":
            if value not in STYLES:
                raise UserInputError(f"style must be one of: {', '.join(STYLES)}")
        elif name in ("include_trending", "quiet_day_notice", "active", "recommendations"):
            value = bool(value)
        elif name != "team_id":
            raise UserInputError(f"unknown channel setting {name!r}")
        setattr(channel, name, value)
    session.flush()
    return channel
