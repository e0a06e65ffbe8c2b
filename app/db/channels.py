"""Channel subscriptions: the topics a Slack channel follows and how its digest is posted.

Keyword-only functions taking a Session; the caller commits. Used by the CLI (`paperboy follow`)
and by the Slack commands (`/papers follow`), so both behave the same.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db.models import Channel, ChannelTopic, Topic
from app.db.topics import get_topic
from app.errors import UserInputError

DEFAULT_CRON = "0 9 * * mon-fri"
MAX_PAPERS_LIMIT = 25
STYLES = ("messages", "thread")

# crontab counts Sunday as 0 (and 7); APScheduler's from_crontab counts Monday as 0. Numeric
# day-of-week fields are rewritten with names so "1-5" means Monday to Friday, as in crontab.
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_WEEK_ORDER = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # APScheduler's order
_NUMERIC_ITEM = re.compile(r"^(\*|\d+)(?:-(\d+))?(?:/(\d+))?$")


def _days_of(item: str) -> set[str] | None:
    """Day names for one numeric crontab item ("1-5", "*/2", "0"), None if not numeric."""
    match = _NUMERIC_ITEM.match(item)
    if not match or item == "*":
        return None
    start_s, end_s, step_s = match.groups()
    if start_s == "*":
        start, end = 0, 6
    else:
        start = int(start_s)
        end = int(end_s) if end_s is not None else (6 if step_s else start)
    step = int(step_s) if step_s else 1
    if not (0 <= start <= 7 and 0 <= end <= 7 and start <= end and step >= 1):
        raise UserInputError(f"bad day of week {item!r}: use 0-7 (0 and 7 are Sunday) or mon-sun")
    return {_CRON_DAYS[d % 7] for d in range(start, end + 1, step)}


def _render_days(days: set[str]) -> str:
    ordered = [d for d in _WEEK_ORDER if d in days]
    if len(ordered) == 7:
        return "*"
    runs: list[list[str]] = []
    for day in ordered:
        if runs and _WEEK_ORDER.index(runs[-1][-1]) + 1 == _WEEK_ORDER.index(day):
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) >= 3 else ",".join(r) for r in runs)


def normalize_cron(cron: str) -> str:
    """A 5-field crontab expression with crontab's day-of-week meaning, ready for APScheduler."""
    fields = cron.strip().strip('"').split()
    if len(fields) != 5:
        raise UserInputError(
            f'bad schedule {cron!r}: expected 5 cron fields like "0 9 * * 1-5" '
            "(minute hour day month weekday)"
        )
    names: set[str] = set()
    kept: list[str] = []
    for item in fields[4].lower().split(","):
        days = _days_of(item)
        if days is None:
            kept.append(item)
        else:
            names |= days
    if names:
        kept.append(_render_days(names))
    fields[4] = "*" if "*" in kept else ",".join(kept)
    return " ".join(fields)


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserInputError(
            f"unknown time zone {name!r}: use an IANA name like Europe/Berlin"
        ) from None
    return name


@functools.lru_cache(maxsize=1024)  # due_channels asks for every channel every minute
def cron_trigger(cron: str, timezone: str) -> CronTrigger:
    """The APScheduler trigger for a stored (normalized) schedule; UserInputError when invalid."""
    tz = ZoneInfo(check_timezone(timezone))
    try:
        return CronTrigger.from_crontab(normalize_cron(cron), timezone=tz)
    except ValueError as exc:
        raise UserInputError(f"bad schedule {cron!r}: {exc}") from None


def get_channel(session: Session, *, channel_id: str) -> Channel | None:
    return session.get(Channel, channel_id)


def ensure_channel(session: Session, *, channel_id: str, timezone: str | None = None) -> Channel:
    """The channel's row, created with the defaults (weekdays 09:00 in `timezone`) if new."""
    channel_id = channel_id.strip()
    if not channel_id:
        raise UserInputError("a channel id is needed (like C0123456789)")
    session.execute(
        insert(Channel)
        .values(
            channel_id=channel_id, cron=DEFAULT_CRON, timezone=check_timezone(timezone or "UTC")
        )
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


def set_schedule(session: Session, *, channel_id: str, cron: str, timezone: str) -> Channel:
    """Validate and store a channel's schedule (crontab syntax, IANA time zone)."""
    normalized = normalize_cron(cron)
    cron_trigger(normalized, timezone)
    channel = ensure_channel(session, channel_id=channel_id, timezone=timezone)
    channel.cron, channel.timezone = normalized, timezone
    session.flush()
    return channel


def update_channel(session: Session, *, channel_id: str, **fields: Any) -> Channel:
    """Change digest settings: max_papers, min_relevance, include_trending, quiet_day_notice,
    style, active, team_id, or cron/timezone (validated as in set_schedule)."""
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
        elif name in ("include_trending", "quiet_day_notice", "active"):
            value = bool(value)
        elif name != "team_id":
            raise UserInputError(f"unknown channel setting {name!r}")
        setattr(channel, name, value)
    session.flush()
    return channel
