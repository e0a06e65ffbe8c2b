"""Facts shared by the channels planned together in one scheduler tick.

Planning a digest asks the same few questions of every channel (its topics, its previous digest,
what it already got, how it voted); at 200 channels, one query each for all of them instead of
one per channel is what lets the last channel start posting about as early as the first. Topic
searches are shared too: channels following one topic at the same time see the same hits.

An empty Batch (one channel now, `paperboy digest`) answers nothing and everything is queried.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from app.db.models import (
    DIGEST_UNFINISHED,
    Channel,
    ChannelTopic,
    DigestRun,
    Feedback,
    Paper,
    PostedMessage,
    Topic,
)


@dataclass
class Batch:
    # (topic_id, since) -> search hits; ("trending", since) -> arXiv ids
    searches: dict[Any, Any] = field(default_factory=dict)
    channels: dict[str, Channel] | None = None
    topics: dict[str, list[Topic]] | None = None
    previous: dict[str, datetime] | None = None  # latest digest before the batch's time
    excluded: dict[str, set[str]] | None = None  # posted, or planned in an unfinished digest
    votes: dict[str, dict[str, int]] | None = None  # net votes per paper

    @classmethod
    def prefetch(cls, session: Session, *, channel_ids: Collection[str], before: datetime) -> Batch:
        ids = list(channel_ids)
        batch = cls(channels={}, topics={c: [] for c in ids}, previous={},
                    excluded={c: set() for c in ids}, votes={c: {} for c in ids})  # fmt: skip
        if not ids:
            return batch
        assert batch.channels is not None and batch.topics is not None
        assert batch.previous is not None and batch.excluded is not None and batch.votes is not None
        for channel in session.scalars(select(Channel).where(Channel.channel_id.in_(ids))):
            batch.channels[channel.channel_id] = channel
        rows = session.execute(
            select(ChannelTopic.channel_id, Topic)
            .join(Topic, Topic.id == ChannelTopic.topic_id)
            .where(ChannelTopic.channel_id.in_(ids))
            .order_by(Topic.name)
        )
        for channel_id, topic in rows:
            batch.topics[channel_id].append(topic)
        latest = session.execute(
            select(DigestRun.channel_id, func.max(DigestRun.scheduled_for))
            .where(DigestRun.channel_id.in_(ids), DigestRun.scheduled_for < before)
            .group_by(DigestRun.channel_id)
        )
        batch.previous.update({c: when for c, when in latest})
        posted = (
            select(PostedMessage.channel_id, Paper.arxiv_id)
            .join(Paper, Paper.id == PostedMessage.paper_id)
            .where(PostedMessage.channel_id.in_(ids), PostedMessage.kind == "paper")
        )
        planned = select(DigestRun.channel_id, func.unnest(DigestRun.paper_ids)).where(
            DigestRun.channel_id.in_(ids), DigestRun.status.in_(DIGEST_UNFINISHED)
        )
        for channel_id, arxiv_id in session.execute(union_all(posted, planned)):
            batch.excluded[channel_id].add(arxiv_id)
        votes = session.execute(
            select(Feedback.channel_id, Paper.arxiv_id, func.sum(Feedback.value))
            .join(Paper, Paper.id == Feedback.paper_id)
            .where(Feedback.channel_id.in_(ids))
            .group_by(Feedback.channel_id, Paper.arxiv_id)
        )
        for channel_id, arxiv_id, net in votes:
            if arxiv_id is not None:  # votes are looked up by arXiv id only
                batch.votes[channel_id][arxiv_id] = int(net or 0)
        return batch
