"""Messages, mentions and reactions: "summarize this" in threads, follow-up questions, 👍/👎.

Bolt acks events itself; anything slow (fetching a paper, the LLM) runs on
`services.background`. Each event is acted on once: its event_id, and for messages the message
itself (a mention arrives as both `message` and `app_mention`, with different event ids), are
claimed in `slack_events` first.

During a database outage an event is not acked, so Slack delivers it again; on Slack's last try
(or when the database fails after the ack) the asker is told to try again. Why Slack's retries
rather than an in-process queue: app/slack/listeners/outage.py and docs/operations.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.db import interactions
from app.db.engine import session_scope
from app.errors import PaperboyError
from app.llm.service import answer_question, deep_summary
from app.paperids import find_paper_ids
from app.slack import threads
from app.slack.blocks import answer_blocks, deep_summary_blocks
from app.slack.listeners.outage import TRY_AGAIN, OutageGuard
from app.slack.services import Busy, Services
from app.slack.thread_posts import (
    WORKING_NOTE,
    WORKING_NOTE_AFTER_S,
    WorkingNote,
    post_apology,
    post_in_thread,
    thread_history,
)

if TYPE_CHECKING:
    from slack_bolt import App


log = logging.getLogger(__name__)

# Message subtypes that are people talking (everything else is edits, joins, deletions...).
_HUMAN_SUBTYPES = (None, "thread_broadcast", "file_share")
_UP = {"+1", "thumbsup", "thumbs_up"}
_DOWN = {"-1", "thumbsdown", "thumbs_down"}


def register(app: App, services: Services) -> None:
    handler = EventHandler(services)

    app.use(handler.outage.middleware())

    @app.event("message")
    def on_message(event: dict[str, Any], body: dict[str, Any], client: Any, context: Any) -> None:
        handler.message(event, body, client, context.get("bot_user_id"), mentioned=False)

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], body: dict[str, Any], client: Any, context: Any) -> None:
        handler.message(event, body, client, context.get("bot_user_id"), mentioned=True)

    @app.event("reaction_added")
    def on_reaction_added(event: dict[str, Any], body: dict[str, Any]) -> None:
        handler.reaction(event, body, added=True)

    @app.event("reaction_removed")
    def on_reaction_removed(event: dict[str, Any], body: dict[str, Any]) -> None:
        handler.reaction(event, body, added=False)


@dataclass(frozen=True)
class Asked:
    """A message Paperboy acts on: where it was said and where the reply goes."""

    channel: str
    ts: str
    thread_ts: str | None
    reply_ts: str  # the thread to answer in (the message itself when it is top-level)
    request: threads.ThreadRequest
    joined_only: bool  # an un-addressed reply: answered only in a thread about a paper


def vote_value(reaction: str) -> int:
    """+1 / -1 for thumbs reactions (any skin tone), 0 for anything else."""
    name = reaction.split("::", 1)[0]
    return 1 if name in _UP else -1 if name in _DOWN else 0


class EventHandler:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.engine = services.engine
        self.outage = OutageGuard(self.engine, self._wanted)

    # --- messages --------------------------------------------------------------------------------

    def _wanted(
        self, event: dict[str, Any], bot_user_id: str | None, *, mentioned: bool
    ) -> tuple[threads.ThreadRequest, bool] | None:
        """(the request, addressed to us) for a person's message that may be for Paperboy,
        decided without the database; None for anything else."""
        if event.get("subtype") not in _HUMAN_SUBTYPES or event.get("bot_id"):
            return None
        user = event.get("user")
        if not user or user == bot_user_id or not event.get("channel") or not event.get("ts"):
            return None
        request = threads.parse_request(event.get("text"), bot_user_id=bot_user_id)
        if request is None:
            return None
        thread_ts = event.get("thread_ts")
        in_thread = bool(thread_ts) and thread_ts != event.get("ts")
        mentioned = mentioned or request.mentioned
        if request.kind == "summarize" and not (
            in_thread or mentioned or find_paper_ids(request.text)
        ):
            return None  # a top-level "tl;dr" with nothing to summarize is just chat
        # Un-addressed replies are answered only under a paper Paperboy posted or discussed.
        if (request.kind != "summarize" and not mentioned) and not (
            in_thread and threads.looks_like_question(request.text)
        ):
            return None
        return request, mentioned

    def message(
        self,
        event: dict[str, Any],
        body: dict[str, Any],
        client: Any,
        bot_user_id: str | None,
        *,
        mentioned: bool,
    ) -> None:
        wanted = self._wanted(event, bot_user_id, mentioned=mentioned)
        if wanted is None:
            return
        request, mentioned = wanted
        channel, ts = str(event["channel"]), str(event["ts"])
        thread_ts = event.get("thread_ts")
        joined_only = request.kind != "summarize" and not mentioned
        try:
            if joined_only:
                if not thread_ts:  # _wanted lets un-addressed replies through only in threads
                    return
                with Session(self.engine) as session:
                    if not interactions.thread_paper(
                        session, channel_id=channel, thread_ts=thread_ts
                    ):
                        return
            if not self._claim(body.get("event_id"), f"msg:{channel}:{ts}"):
                return
        except SQLAlchemyError:
            # Acked already (the database went down after the middleware's ping): say so.
            log.warning("database unavailable after the ack of event %s", body.get("event_id"))
            if not joined_only:
                self.outage.tell_to_try_again(client, event)
            return
        asked = Asked(channel, ts, thread_ts, thread_ts or ts, request, joined_only)
        try:
            self.services.background(
                self._summarize if request.kind == "summarize" else self._answer,
                client,
                asked,
                on_error=lambda error_id: post_apology(client, channel, asked.reply_ts, error_id),
            )
        except Busy as exc:
            post_in_thread(client, channel, asked.reply_ts, {"text": str(exc)})

    def _claim(self, *keys: str | None) -> bool:
        with session_scope(self.engine) as session:
            return all(interactions.claim_event(session, event_id=key) for key in keys if key)

    def summarize(self, client: Any, *, channel: str, reply_ts: str, arxiv_id: str) -> None:
        """Post the deep summary of a paper in a thread (also used by the Summarize button)."""
        note = WorkingNote(client, channel=channel, thread_ts=reply_ts)
        with note:
            paper = threads.ensure_paper(
                self.settings,
                self.engine,
                sources=self.services.sources,
                embedder=self.services.embedder,
                arxiv_id=arxiv_id,
            )
            if paper is None:
                note.finish({"text": threads.NOT_FOUND.format(arxiv_id=arxiv_id)})
                return
            deep = deep_summary(
                self.settings,
                self.engine,
                llm=self.services.llm,
                pdfs=self.services.pdfs,
                arxiv_id=arxiv_id,
            )
            posted_ts = note.finish(deep_summary_blocks(paper, deep))
        self._joined(channel, posted_ts, "summary", arxiv_id, reply_ts)

    def _joined(
        self, channel: str, posted_ts: str | None, kind: str, arxiv_id: str, thread_ts: str
    ) -> None:
        """Remember a summary or answer posted in a thread: Paperboy has joined it, so later
        questions there are about this paper."""
        if posted_ts:
            with session_scope(self.engine) as session:
                interactions.record_post(
                    session,
                    channel_id=channel,
                    ts=posted_ts,
                    kind=kind,
                    arxiv_id=arxiv_id,
                    thread_ts=thread_ts,
                )

    def _resolve(self, client: Any, asked: Asked, **options: Any) -> threads.Resolution:
        return threads.resolve(
            self.engine,
            client,
            channel_id=asked.channel,
            ts=asked.ts,
            thread_ts=asked.thread_ts,
            text=asked.request.text,
            **options,
        )

    def _summarize(self, client: Any, asked: Asked) -> None:
        channel, reply_ts = asked.channel, asked.reply_ts
        try:
            resolution = self._resolve(client, asked, number=asked.request.number)
            if resolution.arxiv_id is None:
                text = resolution.message or threads.candidates_text(resolution)
                post_in_thread(client, channel, reply_ts, {"text": text})
                return
            self.summarize(client, channel=channel, reply_ts=reply_ts, arxiv_id=resolution.arxiv_id)
        except PaperboyError as exc:
            post_in_thread(client, channel, reply_ts, {"text": str(exc)})

    def _answer(self, client: Any, asked: Asked) -> None:
        channel, reply_ts = asked.channel, asked.reply_ts
        try:
            resolution = self._resolve(
                client, asked, joined_only=asked.joined_only, prefer_joined=True
            )
            if resolution.arxiv_id is None:
                if resolution.candidates:
                    text = threads.candidates_text(resolution, verb="summarize").replace(
                        "Reply `summarize N`",
                        "Mention me with the paper's link, or reply `summarize N` first",
                    )
                else:
                    text = resolution.message or threads.HINT
                post_in_thread(client, channel, reply_ts, {"text": text})
                return
            arxiv_id = resolution.arxiv_id
            if (
                threads.ensure_paper(
                    self.settings,
                    self.engine,
                    sources=self.services.sources,
                    embedder=self.services.embedder,
                    arxiv_id=arxiv_id,
                )
                is None
            ):
                text = threads.NOT_FOUND.format(arxiv_id=arxiv_id)
                post_in_thread(client, channel, reply_ts, {"text": text})
                return
            history = thread_history(
                client, channel=channel, thread_ts=asked.thread_ts, before=asked.ts
            )
            answer = answer_question(
                self.settings,
                self.engine,
                llm=self.services.llm,
                pdfs=self.services.pdfs,
                arxiv_id=arxiv_id,
                question=asked.request.text,
                history=history,
            )
            posted_ts = post_in_thread(client, channel, reply_ts, answer_blocks(answer))
        except PaperboyError as exc:
            post_in_thread(client, channel, reply_ts, {"text": str(exc)})
            return
        self._joined(channel, posted_ts, "answer", arxiv_id, reply_ts)

    # --- reactions -------------------------------------------------------------------------------

    def reaction(self, event: dict[str, Any], body: dict[str, Any], *, added: bool) -> None:
        value = vote_value(str(event.get("reaction") or ""))
        item = event.get("item") or {}
        user = event.get("user")
        if not value or item.get("type") != "message" or not user:
            return
        channel, ts = item.get("channel"), item.get("ts")
        if not channel or not ts:  # no message to vote on (a paper is found by both)
            return
        with session_scope(self.engine) as session:
            arxiv_id = interactions.paper_for_message(session, channel_id=channel, ts=ts)
            if arxiv_id is None:
                return
            if body.get("event_id") and not interactions.claim_event(
                session, event_id=body["event_id"]
            ):
                return
            if added:
                interactions.set_feedback(
                    session, channel_id=channel, arxiv_id=arxiv_id, user_id=user, value=value
                )
            else:
                interactions.clear_feedback(
                    session, channel_id=channel, arxiv_id=arxiv_id, user_id=user, value=value
                )


__all__ = [
    "TRY_AGAIN",
    "WORKING_NOTE",
    "WORKING_NOTE_AFTER_S",
    "EventHandler",
    "register",
    "vote_value",
]
