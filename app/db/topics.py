"""Stored topics: lookup by name, the list, and the bare insert.

Creating a topic (which validates its query as a search) is app.topics.create_topic: the
database layer sits below search and does not know what a valid query is.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.db.models import ChannelTopic, Topic


def get_topic(session: Session, *, name: str) -> Topic | None:
    """The topic with this name, ignoring case and extra spaces."""
    name = " ".join((name or "").split())
    if not name:
        return None
    exact = session.scalar(select(Topic).where(Topic.name == name))
    if exact is not None:
        return exact
    return session.scalars(
        select(Topic).where(func.lower(Topic.name) == name.lower()).order_by(Topic.id).limit(1)
    ).first()


def list_topics(session: Session) -> list[Topic]:
    return list(session.scalars(select(Topic).order_by(func.lower(Topic.name), Topic.id)))


def insert_topic(
    session: Session,
    *,
    name: str,
    query: str,
    arxiv_query: str | None,
    categories: Sequence[str],
    exclude: Sequence[str],
) -> Topic | None:
    """Store a new topic as given (already validated); None when one of that name exists."""
    new_id = session.scalar(
        pg_insert(Topic)
        .values(
            name=name,
            query=query,
            arxiv_query=arxiv_query,
            categories=list(categories),
            exclude=list(exclude),
        )
        .on_conflict_do_nothing(index_elements=[Topic.name])
        .returning(Topic.id)
    )
    return session.get(Topic, new_id) if new_id is not None else None


def following_channels(session: Session, *, topic_id: int) -> list[str]:
    """Ids of the channels that follow the topic, in order."""
    return list(
        session.scalars(
            select(ChannelTopic.channel_id)
            .where(ChannelTopic.topic_id == topic_id)
            .order_by(ChannelTopic.channel_id)
        )
    )


def delete_topic(session: Session, *, topic_id: int) -> None:
    """Delete a topic; its follows and relevance grades go with it (ON DELETE CASCADE)."""
    session.execute(delete(Topic).where(Topic.id == topic_id))
