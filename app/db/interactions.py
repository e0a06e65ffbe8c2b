"""What people do with Paperboy in Slack: handled events, saved papers, feedback, posted messages.

Keyword-only functions taking a Session; the caller owns the transaction.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db.models import Feedback, Paper, PostedMessage, SavedPaper, SlackEvent, TasteNudge
from app.db.papers import paper_key


def claim_event(session: Session, *, event_id: str) -> bool:
    """True the first time an event id is seen; False for Slack's retries and duplicates."""
    stmt = (
        insert(SlackEvent)
        .values(event_id=event_id[:64])
        .on_conflict_do_nothing(index_elements=[SlackEvent.event_id])
        .returning(SlackEvent.event_id)
    )
    return session.execute(stmt).scalar_one_or_none() is not None


def save_paper(
    session: Session, *, user_id: str, arxiv_id: str, channel_id: str | None = None
) -> bool:
    """Add a paper to a user's saved list; False when it was already there."""
    stmt = (
        insert(SavedPaper)
        .values(user_id=user_id, paper_id=paper_key(arxiv_id), channel_id=channel_id)
        .on_conflict_do_nothing(index_elements=[SavedPaper.user_id, SavedPaper.paper_id])
        .returning(SavedPaper.paper_id)
    )
    return session.execute(stmt).scalar_one_or_none() is not None


def saved_papers(session: Session, *, user_id: str, limit: int = 200) -> list[Paper]:
    """The user's saved papers, newest save first."""
    stmt = (
        select(Paper)
        .join(SavedPaper, SavedPaper.paper_id == Paper.id)
        .where(SavedPaper.user_id == user_id)
        .order_by(SavedPaper.saved_at.desc(), Paper.arxiv_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def set_feedback(
    session: Session, *, channel_id: str, arxiv_id: str, user_id: str, value: int
) -> None:
    """Record a user's +1 / -1 on a paper in a channel (their latest vote wins); 0 clears it."""
    if value == 0:
        session.execute(
            delete(Feedback).where(
                Feedback.channel_id == channel_id,
                Feedback.paper_id == paper_key(arxiv_id),
                Feedback.user_id == user_id,
            )
        )
        return
    value = 1 if value > 0 else -1
    stmt = insert(Feedback).values(
        channel_id=channel_id, paper_id=paper_key(arxiv_id), user_id=user_id, value=value
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[Feedback.channel_id, Feedback.paper_id, Feedback.user_id],
        set_={"value": value, "at": func.now()},
    )
    session.execute(stmt)


def clear_feedback(
    session: Session, *, channel_id: str, arxiv_id: str, user_id: str, value: int
) -> None:
    """Undo a vote when its reaction is removed, unless the user has since voted the other way."""
    session.execute(
        delete(Feedback).where(
            Feedback.channel_id == channel_id,
            Feedback.paper_id == paper_key(arxiv_id),
            Feedback.user_id == user_id,
            Feedback.value == (1 if value > 0 else -1),
        )
    )


def paper_for_message(session: Session, *, channel_id: str, ts: str) -> str | None:
    """The paper of a Paperboy paper post (posted_messages kind='paper'), else None."""
    return session.scalar(
        select(Paper.arxiv_id)
        .join(PostedMessage, PostedMessage.paper_id == Paper.id)
        .where(
            PostedMessage.channel_id == channel_id,
            PostedMessage.ts == ts,
            PostedMessage.kind == "paper",
        )
    )


def papers_in_thread(session: Session, *, channel_id: str, thread_ts: str) -> list[str]:
    """Papers Paperboy posted as replies in a thread (a `thread`-style digest), in order."""
    rows = session.execute(
        select(Paper.arxiv_id)
        .join(PostedMessage, PostedMessage.paper_id == Paper.id)
        .where(
            PostedMessage.channel_id == channel_id,
            PostedMessage.thread_ts == thread_ts,
            PostedMessage.kind == "paper",
        )
        .order_by(PostedMessage.position.nulls_last(), PostedMessage.ts)
    )
    return list(dict.fromkeys(arxiv_id for (arxiv_id,) in rows if arxiv_id))


def joined_paper(session: Session, *, channel_id: str, thread_ts: str) -> str | None:
    """The paper Paperboy last summarized or answered about in a thread, if any."""
    return session.scalar(
        select(Paper.arxiv_id)
        .join(PostedMessage, PostedMessage.paper_id == Paper.id)
        .where(
            PostedMessage.channel_id == channel_id,
            PostedMessage.thread_ts == thread_ts,
            PostedMessage.kind.in_(("summary", "answer")),
        )
        .order_by(PostedMessage.created_at.desc(), PostedMessage.id.desc())
        .limit(1)
    )


def thread_paper(session: Session, *, channel_id: str, thread_ts: str) -> str | None:
    """The paper a thread is clearly about: its parent is a paper post, or Paperboy already
    summarized or answered about a paper in it (it has "joined" the thread)."""
    return paper_for_message(session, channel_id=channel_id, ts=thread_ts) or joined_paper(
        session, channel_id=channel_id, thread_ts=thread_ts
    )


def record_post(
    session: Session,
    *,
    channel_id: str,
    ts: str,
    kind: str,
    arxiv_id: str | None = None,
    thread_ts: str | None = None,
) -> None:
    """Remember a message Paperboy posted outside a digest (summaries, answers, shared cards)."""
    stmt = (
        insert(PostedMessage)
        .values(
            channel_id=channel_id,
            ts=ts,
            kind=kind,
            paper_id=paper_key(arxiv_id) if arxiv_id else None,
            thread_ts=thread_ts,
        )
        .on_conflict_do_nothing(constraint="uq_posted_messages_channel_ts")
    )
    session.execute(stmt)


def nudge_taste(session: Session, *, channel_id: str, arxiv_id: str, user_id: str) -> bool:
    """Record a "More like this" click (a positive taste signal of the channel); False when the
    user had clicked it on this paper in this channel before."""
    stmt = (
        insert(TasteNudge)
        .values(channel_id=channel_id, paper_id=paper_key(arxiv_id), user_id=user_id)
        .on_conflict_do_nothing()
        .returning(TasteNudge.paper_id)
    )
    return session.execute(stmt).scalar_one_or_none() is not None
