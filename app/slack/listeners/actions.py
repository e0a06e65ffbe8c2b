"""Buttons: on paper posts (Summarize, Save, PDF, 👍/👎, Related), on `/papers` search results
(Post to channel, Follow this topic here) and on a topic's expansion (Edit query).

Every handler acks first. Paper buttons carry the arXiv id as their value; search buttons the
query.
"""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app import blockkit, paper_blocks
from app.db import interactions
from app.db.engine import session_scope
from app.db.papers import get_paper
from app.db.topics import get_topic
from app.errors import UserInputError
from app.llm.service import deep_summary
from app.paperids import split_version
from app.slack import author_ops, blocks, modals, operations
from app.slack.listeners.events import EventHandler
from app.slack.related_blocks import related_message
from app.slack.services import Lane, Services
from app.slack.threads import NOT_FOUND, ensure_paper

if TYPE_CHECKING:
    from slack_bolt import App


log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    events = EventHandler(services)
    settings, engine = services.settings, services.engine

    replier = operations.replier
    now = operations.run_now
    background = partial(operations.run_later, services)

    @app.action(paper_blocks.ACTION_PDF)
    def pdf(ack: Any) -> None:
        ack()  # a link button: Slack opens the URL, we only acknowledge

    @app.action(paper_blocks.ACTION_SUMMARIZE)
    def summarize(
        ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, client: Any
    ) -> None:
        ack()
        reply = replier(respond)
        arxiv_id = _paper_id(action)
        if arxiv_id is None:
            return
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        if container.get("is_ephemeral") or not message.get("ts") or not channel:
            # An ephemeral card (search results, /papers paper) has no thread: answer privately.
            background(reply, "summarize button", _summary_for, services, arxiv_id)
            return
        thread = message.get("thread_ts") or message["ts"]
        background(
            reply,
            "summarize button",
            events.summarize,
            client,
            channel=channel,
            reply_ts=thread,
            arxiv_id=arxiv_id,
        )

    @app.action(paper_blocks.ACTION_SAVE)
    def save(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        ack()
        arxiv_id = _paper_id(action)
        if arxiv_id is None:
            return
        now(
            replier(respond),
            "save button",
            operations.save,
            engine,
            user_id=_user(body),
            arxiv_id=arxiv_id,
            channel_id=_channel(body),
        )

    def vote(
        ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, value: int
    ) -> None:
        ack()
        arxiv_id, channel = _paper_id(action), _channel(body)
        if arxiv_id is None or channel is None:
            return
        now(
            replier(respond),
            "vote button",
            operations.vote,
            engine,
            channel_id=channel,
            user_id=_user(body),
            arxiv_id=arxiv_id,
            value=value,
        )

    @app.action(paper_blocks.ACTION_VOTE_UP)
    def vote_up(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        vote(ack, body, action, respond, 1)

    @app.action(paper_blocks.ACTION_VOTE_DOWN)
    def vote_down(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        vote(ack, body, action, respond, -1)

    @app.action(paper_blocks.ACTION_RELATED)
    def related(ack: Any, action: dict[str, Any], respond: Any) -> None:
        ack()
        arxiv_id = _paper_id(action)
        if arxiv_id is None:
            return
        # Answered privately to whoever clicked, wherever the post is: one person's browsing
        # should not notify everyone in the paper's thread (nor repeat there on every click).
        background(
            replier(respond),
            "related button",
            related_message,
            settings,
            engine,
            s2=services.s2,
            sources=services.sources,
            embedder=services.embedder,
            ref=arxiv_id,
            lane=Lane.FETCH,  # Semantic Scholar, and arXiv for a paper not stored yet
        )

    @app.action(paper_blocks.ACTION_MORE_LIKE_THIS)
    def more_like_this(
        ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        ack()
        arxiv_id, channel = _paper_id(action), _channel(body)
        if arxiv_id is None or channel is None:
            return
        now(replier(respond), "more like this button", _more_like_this, engine,
            channel_id=channel, user_id=_user(body), arxiv_id=arxiv_id)  # fmt: skip

    @app.action(operations.ACTION_SEARCH_POST)
    def search_post(
        ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, client: Any
    ) -> None:
        ack()
        query, channel = str(action.get("value") or ""), _channel(body)
        if not query or channel is None:
            return
        background(
            replier(respond),
            "post search to channel",
            _post_search,
            services,
            client,
            respond,
            channel=channel,
            user_id=_user(body),
            query=query,
            lane=Lane.QUICK,
        )

    @app.action(operations.ACTION_SEARCH_FOLLOW)
    def search_follow(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        ack()
        query, channel = str(action.get("value") or ""), _channel(body)
        if not query or channel is None:
            return
        reply = replier(respond)
        background(
            reply,
            "follow search",
            operations.follow_topic,
            settings,
            engine,
            llm=services.llm,
            channel_id=channel,
            topic=" ".join(query.split())[:200],
            reply=reply,
        )

    @app.action(author_ops.ACTION_AUTHOR_PICK)
    def author_pick(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        ack()
        channel = _channel(body)
        if channel is None:
            return
        value = str(action.get("value") or "")
        now(replier(respond), "author pick button", author_ops.picked, settings, engine,
            channel_id=channel, value=value, user_id=_user(body))  # fmt: skip

    @app.action(operations.ACTION_EDIT_QUERY)
    def edit_query(
        ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, client: Any
    ) -> None:
        ack()
        name = str(action.get("value") or "")
        reply = replier(respond)

        def open_modal() -> None:
            with Session(engine) as session:
                topic = get_topic(session, name=name)
            if topic is None:
                reply({"text": "That topic no longer exists."})
                return
            view = modals.edit_query_view(
                topic=topic.name,
                query=topic.expanded_query or topic.query,
                channel_id=_channel(body),
            )
            client.views_open(trigger_id=body.get("trigger_id"), view=view)

        operations.guarded(reply, "edit query button", open_modal)


def _paper_id(action: dict[str, Any]) -> str | None:
    """The button's arXiv id, checked: a value that isn't one is ignored, never fetched."""
    try:
        return split_version(str(action.get("value") or ""))[0]
    except ValueError:
        log.warning("paper button with a bad value %r", action.get("value"))
        return None


def _channel(body: dict[str, Any]) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


def _more_like_this(
    engine: Engine, *, channel_id: str, user_id: str, arxiv_id: str
) -> dict[str, Any]:
    """Record a positive taste signal for the channel (docs/ranking.md, "Channel taste")."""
    with session_scope(engine) as session:
        if get_paper(session, arxiv_id=arxiv_id) is None:
            return {"text": "I don't know that paper any more."}
        interactions.nudge_taste(session, channel_id=channel_id, arxiv_id=arxiv_id, user_id=user_id)
    # A mention only of a well-formed channel id (the id comes from Slack, checked all the same).
    known = re.fullmatch(r"[CGD][A-Z0-9]{8,11}", channel_id)
    where = f"<#{channel_id}>" if known else "this channel"
    return {"text": f"Noted — more like this in {where}'s digests."}


def _summary_for(services: Services, arxiv_id: str) -> dict[str, Any]:
    paper = ensure_paper(
        services.settings,
        services.engine,
        sources=services.sources,
        embedder=services.embedder,
        arxiv_id=arxiv_id,
    )
    if paper is None:
        raise UserInputError(NOT_FOUND.format(arxiv_id=arxiv_id))
    deep = deep_summary(
        services.settings,
        services.engine,
        llm=services.llm,
        pdfs=services.pdfs,
        arxiv_id=arxiv_id,
    )
    return blocks.deep_summary_blocks(paper, deep)


def _post_search(
    services: Services, client: Any, respond: Any, *, channel: str, user_id: str, query: str
) -> dict[str, Any] | None:
    """Share search results in the channel (as one message, without the share buttons)."""
    message = operations.search_message(
        services.settings, services.engine, query=query, shareable=False,
        embedder=services.embedder,
    )  # fmt: skip
    if re.fullmatch(r"[UW][A-Z0-9]{2,20}", user_id):
        message["blocks"].append(blockkit.context(f"Shared by <@{user_id}> with `/papers topic`"))
    try:
        client.chat_postMessage(channel=channel, unfurl_links=False, unfurl_media=False, **message)
    except SlackApiError as exc:
        if exc.response.get("error") in ("not_in_channel", "channel_not_found"):
            return {"text": operations.NOT_IN_CHANNEL}
        raise
    respond(delete_original=True)
    return None
