"""Messages, mentions and reactions: "summarize this" in threads, follow-up questions, 👍/👎.

Bolt acks events itself; anything slow (fetching a paper, the LLM) runs on
`services.background`. Each event is acted on once: its event_id, and for messages the message
itself (a mention arrives as both `message` and `app_mention`, with different event ids), are
claimed in `slack_events` first.

During a database outage an event is not acked, because it could not be recorded: the
`hold_while_database_is_down` middleware pings PostgreSQL before Bolt acks, and answers 503 (in
Socket Mode: no envelope ack) when it is down, so Slack redelivers the event with
X-Slack-Retry-Num (after about 0 s, 1 min and 5 min). On Slack's last retry, or when the
database fails between the ping and the claim, the person who asked is told to try again.
Slack's own retries were chosen over an in-process queue: they survive a restart of this
process, need no memory bound, and a redelivery is claimed by its event id like any event, so
it is handled once. See docs/operations.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt import BoltResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.db import interactions
from app.db.engine import session_scope
from app.errors import PaperboyError
from app.llm.service import answer_question, deep_summary
from app.paperids import find_paper_ids
from app.slack import threads
from app.slack.blocks import answer_blocks, deep_summary_blocks
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
# Slack redelivers an unacked event three times (X-Slack-Retry-Num 1, 2, 3), then gives up.
LAST_SLACK_RETRY = 3
TRY_AGAIN = (
    "I couldn't take that on just now: my database is unavailable. "
    "Please ask again in a few minutes."
)
_RECORDED_EVENTS = ("message", "app_mention", "reaction_added", "reaction_removed")


def register(app: App, services: Services) -> None:
    handler = EventHandler(services)

    # Bolt injects middleware arguments by name, hence `next`.
    def hold_while_database_is_down(
        body: dict[str, Any], request: Any, context: Any, client: Any, next: Any
    ) -> Any:
        return handler.hold_while_database_is_down(body, request, context, client, next)

    app.use(hold_while_database_is_down)

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

    # --- database outages -------------------------------------------------------------------

    def hold_while_database_is_down(
        self, body: dict[str, Any], request: Any, context: Any, client: Any, next: Any
    ) -> Any:
        """Global middleware, before Bolt's ack: an event that cannot be recorded is not acked,
        so Slack delivers it again; on Slack's last try, the asker is told to try again."""
        event = body.get("event") if body.get("type") == "event_callback" else None
        if not isinstance(event, dict) or event.get("type") not in _RECORDED_EVENTS:
            return next()
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            retry = (request.headers.get("x-slack-retry-num") or ["0"])[0]
            retry_num = int(retry) if str(retry).isdigit() else 0
            log.warning(
                "database unavailable; event %s (delivery %d) %s: %s",
                body.get("event_id"),
                retry_num + 1,
                "left to Slack's retry" if retry_num < LAST_SLACK_RETRY else "not recorded",
                type(exc).__name__,
            )
            if retry_num < LAST_SLACK_RETRY:
                return BoltResponse(status=503, body="database unavailable; please retry")
            self._tell_to_try_again(event, client, context.get("bot_user_id"))
            return BoltResponse(status=200, body="")
        return next()

    def _tell_to_try_again(self, event: dict[str, Any], client: Any, bot_user_id: Any) -> None:
        wanted = self._wanted(event, bot_user_id, mentioned=event.get("type") == "app_mention")
        if wanted is None or (wanted[0].kind != "summarize" and not wanted[1]):
            return  # an un-addressed reply: without the database we cannot tell it was for us
        channel, ts = str(event["channel"]), str(event["ts"])
        try:
            post_in_thread(client, channel, str(event.get("thread_ts") or ts), {"text": TRY_AGAIN})
        except Exception:  # Slack down too: nothing left to tell anyone with; the log says it
            log.exception("could not tell %s to try again", channel)

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
                post_in_thread(client, channel, thread_ts or ts, {"text": TRY_AGAIN})
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
                self.settings, self.engine, sources=self.services.sources, arxiv_id=arxiv_id
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
                    self.settings, self.engine, sources=self.services.sources, arxiv_id=arxiv_id
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


__all__ = ["WORKING_NOTE", "WORKING_NOTE_AFTER_S", "EventHandler", "register", "vote_value"]
