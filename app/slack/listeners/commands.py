"""`/papers`: ack at once (Slack allows 3 seconds), then do the work and answer via `respond`.

Parsing is pure and instant, so bad input is answered in the ack itself. Quick database work
runs on Bolt's listener thread after the ack; search, LLM and paper fetches run on
`services.background` so the listener threads stay free to ack the next request.
"""

from __future__ import annotations

import logging
import threading
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from app import channel_ids, schedule
from app.db import channels as channels_db
from app.db.authors import channel_authors
from app.digest import DigestOutcome, pause, run_digest
from app.digest.taste import TasteDeps
from app.errors import UserInputError, apology, log_unexpected
from app.related import ref_label
from app.safety import escape_mrkdwn, truncate
from app.slack import author_ops, modals, operations
from app.slack import commands_parse as cp
from app.slack.poster import SlackPoster
from app.slack.related_blocks import related_message
from app.slack.services import RESPONSE_SENT, Lane, Services

if TYPE_CHECKING:
    from slack_bolt import App


log = logging.getLogger(__name__)

COMMAND = "/papers"


def register(app: App, services: Services) -> None:
    @app.command(COMMAND)
    def papers(
        ack: Any, command: dict[str, Any], respond: Any, client: Any, context: dict[str, Any]
    ) -> None:
        try:
            parsed = cp.parse(command.get("text"))
            # Slack sends the id; checked anyway, since it becomes a key in the database.
            channel_ids.channel_id(command.get("channel_id"))
        except UserInputError as exc:
            ack(text=str(exc))
            return
        handle(
            services,
            parsed,
            ack=ack,
            command=command,
            respond=respond,
            client=client,
            after=context.get(RESPONSE_SENT),
        )


def handle(
    services: Services,
    parsed: cp.Command,
    *,
    ack: Any,
    command: dict[str, Any],
    respond: Any,
    client: Any,
    after: threading.Event | None = None,
) -> None:
    """Ack `parsed`, then do it. `after`: the event set once the ack is on the wire; slow work
    waits for it so it doesn't compete with sending the ack."""
    settings, engine = services.settings, services.engine
    channel_id = str(command.get("channel_id") or "")
    user_id = str(command.get("user_id") or "")

    reply = operations.replier(respond)
    # Quick database work runs right after the ack; search, LLM and fetches go to the pool.
    now = partial(operations.run_now, reply)
    later = partial(operations.run_later, services, reply, after=after)

    match parsed:
        case cp.Help():
            ack(text=cp.help_text())
        case cp.Search(text=text):
            ack(text=f"Searching the archive for “{_plain(text)}”…")
            later(
                "/papers search",
                operations.search_message,
                settings,
                engine,
                query=text,
                embedder=services.embedder,
                lane=Lane.QUICK,
            )
        case cp.Follow(topic=topic):
            ack()
            later(
                "/papers follow",
                operations.follow_topic,
                settings,
                engine,
                llm=services.llm,
                channel_id=channel_id,
                topic=topic,
                reply=reply,
                user_id=user_id,
                lane=Lane.SLOW,  # a new topic is expanded by the LLM
            )
        case cp.Unfollow(topic=topic):
            ack()
            now(
                "/papers unfollow",
                operations.unfollow_topic,
                engine,
                channel_id=channel_id,
                topic=topic,
            )
        case cp.Topics():
            ack()
            now("/papers topics", _topics_and_authors, engine, channel_id=channel_id)
        case cp.FollowAuthor(name=name):
            ack(text=f"Looking up the author “{_plain(name)}”…")
            later(
                "/papers follow author",
                author_ops.follow_author,
                settings,
                engine,
                directory=services.s2,
                channel_id=channel_id,
                name=name,
                user_id=user_id,
                lane=Lane.FETCH,  # a Semantic Scholar author search
            )
        case cp.UnfollowAuthor(name=name):
            ack()
            now(
                "/papers unfollow author",
                author_ops.unfollow_author,
                engine,
                channel_id=channel_id,
                name=name,
            )
        case cp.Schedule(cron=cron, timezone=timezone):
            ack()
            now(
                "/papers schedule",
                operations.schedule_message,
                settings,
                engine,
                channel_id=channel_id,
                cron=cron,
                timezone=timezone,
                user_id=user_id,
            )
        case cp.DigestNow():
            ack(text="Putting a digest together for this channel…")
            later(
                "/papers digest now",
                digest_now,
                services,
                client,
                channel_id=channel_id,
                lane=Lane.SLOW,
            )
        case cp.OpenSettings():
            ack()
            now(
                "/papers settings",
                open_settings,
                services,
                client,
                channel_id=channel_id,
                trigger_id=str(command.get("trigger_id") or ""),
            )
        case cp.PaperLookup(arxiv_id=arxiv_id):
            ack(text=f"Looking up arXiv:{arxiv_id}…")
            later(
                "/papers paper",
                operations.paper_message,
                settings,
                engine,
                sources=services.sources,
                embedder=services.embedder,
                arxiv_id=arxiv_id,
                lane=Lane.FETCH,  # a paper not stored yet is fetched from arXiv / HF
            )
        case cp.Related(ref=ref):
            ack(text=f"Looking for papers related to {escape_mrkdwn(ref_label(ref))}…")
            later(
                "/papers related",
                related_message,
                settings,
                engine,
                s2=services.s2,
                sources=services.sources,
                embedder=services.embedder,
                ref=ref,
                lane=Lane.FETCH,  # Semantic Scholar, and arXiv for a paper not stored yet
            )
        case cp.Saved(bibtex=False):
            ack()
            now("/papers saved", operations.saved_message, engine, user_id=user_id)
        case cp.Saved(bibtex=True):
            ack()
            now("/papers saved bibtex", operations.bibtex_message, engine, user_id=user_id)
        case _:  # pragma: no cover - parse() returns one of the above
            ack(text=cp.help_text())


def digest_now(services: Services, client: Any, *, channel_id: str) -> dict[str, Any]:
    """Run this channel's digest now (forced: papers posted before may appear again)."""
    with Session(services.engine) as session:
        topics = channels_db.channel_topics(session, channel_id=channel_id)
        authors = channel_authors(session, channel_id=channel_id)
    if not topics and not authors:
        return {"text": operations.NO_TOPICS}
    result = run_digest(
        services.settings, services.engine, SlackPoster(client), channel_id=channel_id,
        force=True, embedder=services.embedder,
        taste=TasteDeps(services.embedder, services.s2),
    )  # fmt: skip
    if result.status == DigestOutcome.POSTED and (result.posted or not result.resumed):
        count = len(result.paper_ids)
        noun = "paper" if count == 1 else "papers"
        return {"text": f"Posted a digest with {count} {noun}."}
    if result.status in (DigestOutcome.POSTED, DigestOutcome.EMPTY) and result.resumed:
        return {"text": "Posted the digest that was waiting for this channel."}
    if result.status in (DigestOutcome.SKIPPED, DigestOutcome.DONE_BEFORE):
        return {"text": "A digest for this channel is being posted right now."}
    if result.status == DigestOutcome.FAILED and result.code == "not_in_channel":
        return {"text": operations.NOT_IN_CHANNEL}
    if result.status == DigestOutcome.FAILED and pause.is_pausing(result.code):
        assert result.code is not None
        return {
            "text": f"Slack refused this digest (`{result.code}`): {pause.hint(result.code)}. "
            "Digests here are paused until `/papers digest now` works; the papers wait."
        }
    if result.status == DigestOutcome.FAILED:
        error_id = log_unexpected(
            log, "/papers digest now failed for %s: %s", channel_id, result.error, exc_info=False
        )
        return {"text": apology(error_id)}
    return {"text": "No new papers matched this channel's topics, so there was nothing to post."}


def open_settings(services: Services, client: Any, *, channel_id: str, trigger_id: str) -> None:
    """Open the settings modal (the trigger_id is valid for 3 seconds: done right after ack)."""
    settings = services.settings
    with Session(services.engine) as session:
        channel = channels_db.get_channel(session, channel_id=channel_id)
        topics = [t.name for t in channels_db.channel_topics(session, channel_id=channel_id)]
        authors = [a.name for a in channel_authors(session, channel_id=channel_id)]
    view = modals.settings_view(
        channel_id=channel_id,
        topics=topics,
        cron=channel.cron if channel else schedule.DEFAULT_CRON,
        timezone=channel.timezone if channel else settings.paperboy_timezone,
        max_papers=channel.max_papers if channel else 8,
        quiet_day_notice=bool(channel and channel.quiet_day_notice),
        style=channel.style if channel else "messages",
        recommendations=channel.recommendations if channel else True,
        authors=authors,
    )
    client.views_open(trigger_id=trigger_id, view=view)


def _topics_and_authors(engine: Any, *, channel_id: str) -> dict[str, Any]:
    """`/papers topics`: the topics (app/slack/operations.py), then the followed authors."""
    message = operations.topics_message(engine, channel_id=channel_id)
    authors = author_ops.authors_lines(engine, channel_id=channel_id)
    if not authors:
        return message
    if message["text"] == operations.NO_TOPICS:
        return {"text": "\n".join(["This channel follows no topics.", *authors])}
    return {"text": truncate(message["text"] + "\n" + "\n".join(authors), 2900)}


def _plain(text: str, limit: int = 80) -> str:
    return truncate(escape_mrkdwn(" ".join(text.split())), limit)
