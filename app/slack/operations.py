"""What `/papers`, its buttons and its modals do, shared by commands.py, actions.py and views.py.

Each operation talks back through `reply(message)`: `respond` for a slash command or a button
(its response_url), `chat.postEphemeral` for a modal. Nothing here acks: callers do that first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app import blockkit, paper_blocks, schedule
from app import topics as topic_service
from app.bibtex import export
from app.config import Settings
from app.db import channels as channels_db
from app.db import interactions, pauses
from app.db.engine import session_scope
from app.db.jobs import enqueue
from app.db.models import Paper
from app.db.papers import arxiv_id_of, get_paper
from app.db.topics import get_topic
from app.digest.pause import pause_info
from app.embeddings import Embedder
from app.errors import PaperboyError, apology, log_unexpected
from app.llm.cards import card_for, cards_for
from app.llm.client import LLM, llm_configured
from app.llm.service import expand_topic
from app.safety import escape_mrkdwn, escape_untrusted, truncate
from app.search import check_query, search_papers
from app.slack import blocks
from app.slack.services import Busy, Lane, Services
from app.slack.threads import NOT_FOUND, ensure_paper
from app.sources import Source

log = logging.getLogger(__name__)

Message = dict[str, Any]
Reply = Callable[[Message], Any]

SEARCH_LIMIT = 5
ACTION_SEARCH_POST = "search_post"
ACTION_SEARCH_FOLLOW = "search_follow"
ACTION_EDIT_QUERY = "topic_edit_query"
NO_TOPICS = "This channel follows no topics yet. Try `/papers follow LLM agents`."
NOT_IN_CHANNEL = "I'm not in this channel: invite me with `/invite @Paperboy` first."
# A BibTeX export message stays well inside Slack's message size.
BIBTEX_CHARS = 9000


def guarded(reply: Reply, what: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run an operation: expected failures become their one line, anything else an apology with
    an error id that matches the logged line (never a stack trace in Slack)."""
    try:
        return fn(*args, **kwargs)
    except PaperboyError as exc:
        reply({"text": str(exc)})
    except Exception:  # noqa: BLE001 - a handler's last line of defence: logged, the user gets the id
        reply({"text": apology(log_unexpected(log, "%s failed", what))})
    return None


def replier(respond: Any) -> Reply:
    """`reply` for a slash command or a button: a private message through its response_url. A
    message may say otherwise (`replace_original=True`: a button's answer takes its place)."""

    def reply(message: Message) -> None:
        respond(**{"response_type": "ephemeral", "replace_original": False, **message})

    return reply


def run_now(reply: Reply, what: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Run an operation where we are (quick database work, right after the ack); a message it
    returns is the reply."""
    result = guarded(reply, what, fn, *args, **kwargs)
    if isinstance(result, dict):
        reply(result)


def run_later(
    services: Services,
    reply: Reply,
    what: str,
    fn: Callable[..., Any],
    /,
    *args: Any,
    after: threading.Event | None = None,
    lane: Lane = Lane.SLOW,
    **kwargs: Any,
) -> None:
    """`run_now` in a background lane (search, LLM, fetching); when it is full, say so.
    `after`: start once this event is set (a slash command's ack sent, see Services)."""
    try:
        services.background(run_now, reply, what, fn, *args, after=after, lane=lane, **kwargs)
    except Busy as exc:
        reply({"text": str(exc)})


def text_message(text: str) -> Message:
    return {"text": text}


# --- search --------------------------------------------------------------------------------------


def search_message(
    settings: Settings,
    engine: Engine,
    *,
    query: str,
    shareable: bool = True,
    embedder: Embedder | None = None,
) -> Message:
    """The top papers for `query` (hybrid: words and meaning) with their TL;DRs; with buttons to
    share and follow it."""
    with Session(engine) as session:
        hits = search_papers(session, text=query, limit=SEARCH_LIMIT, embedder=embedder)
        ids = [hit.arxiv_id for hit in hits]
        papers = list(session.scalars(select(Paper).where(Paper.arxiv_id.in_(ids))))
        cards = cards_for(session, papers=papers, settings=settings)
    queue_card_upgrades(settings, engine, arxiv_ids=[a for a, c in cards.items() if c.extractive])
    message = blocks.search_results_blocks(hits, cards, query)
    if shareable and hits:
        value = query[: blockkit.BUTTON_VALUE]
        message["blocks"].append(
            {
                "type": "actions",
                "block_id": "search_actions",
                "elements": [
                    blockkit.button("Post to channel", ACTION_SEARCH_POST, value, style="primary"),
                    blockkit.button("Follow this topic here", ACTION_SEARCH_FOLLOW, value),
                ],
            }
        )
    return message


# --- topics --------------------------------------------------------------------------------------


def follow_topic(
    settings: Settings,
    engine: Engine,
    *,
    llm: LLM | None,
    channel_id: str,
    topic: str,
    reply: Reply,
    user_id: str = "",
) -> None:
    """Follow a topic here; a new topic is expanded once by the LLM and shown back, editable."""
    with session_scope(engine) as session:
        _, row, created = topic_service.follow(
            session, channel_id=channel_id, topic_name=topic, timezone=settings.paperboy_timezone
        )
        pauses.record_set_up_by(session, channel_id=channel_id, user_id=user_id)
        name, expanded = row.name, row.expanded_query
    reply(
        text_message(
            f"This channel now follows *{escape_untrusted(name)}*. "
            "New papers on it come with the next digest."
        )
    )
    if expanded:
        reply(expansion_message(name, expanded))
        return
    if not created or llm is None:
        return
    expanded = expand_topic(settings, engine, llm=llm, name=name)
    if expanded:
        reply(expansion_message(name, expanded))


def expansion_message(name: str, expanded: str) -> Message:
    text = (
        f"I search *{escape_untrusted(name)}* as:\n"
        f"```{escape_untrusted(truncate(expanded, 2500)).replace('```', '` ``')}```"
    )
    return {
        # The fallback text shows in notifications: escaped like the blocks (a topic is typed by
        # a user, so it may hold <!channel>).
        "text": f"I search {escape_untrusted(truncate(name, 100))} as: "
        f"{escape_untrusted(truncate(expanded, 200))}",
        "blocks": [
            blockkit.section(text),
            {
                "type": "actions",
                "block_id": "topic_query",
                "elements": [blockkit.button("Edit query", ACTION_EDIT_QUERY, name[:200])],
            },
        ],
    }


def unfollow_topic(engine: Engine, *, channel_id: str, topic: str) -> Message:
    with session_scope(engine) as session:
        was = channels_db.unfollow(session, channel_id=channel_id, topic_name=topic)
    if was:
        return text_message(f"This channel no longer follows *{escape_untrusted(topic)}*.")
    return text_message(
        f"This channel doesn't follow *{escape_untrusted(topic)}*. "
        "`/papers topics` lists what it does."
    )


def topics_message(engine: Engine, *, channel_id: str) -> Message:
    with Session(engine) as session:
        topics = channels_db.channel_topics(session, channel_id=channel_id)
        channel = channels_db.get_channel(session, channel_id=channel_id)
    if not topics:
        return text_message(NO_TOPICS)
    lines = [f"This channel follows {len(topics)} topic{'s' if len(topics) != 1 else ''}:"]
    for topic in topics[:40]:
        line = f"• *{escape_untrusted(topic.name)}*"
        if topic.expanded_query:
            line += f" — searched as `{escape_untrusted(truncate(topic.expanded_query, 150))}`"
        lines.append(line)
    if channel is not None:
        lines.append(f"Digest schedule: `{channel.cron}` ({channel.timezone}).")
        paused = pause_info(channel)
        if paused:
            since = paused["since"][:16].replace("T", " ")
            lines.append(
                f":warning: Digests here are paused since {since} UTC (Slack said "
                f"`{paused['code']}`): {paused['hint']}. Then {paused['resume']}; "
                "the papers it missed come with it."
            )
    return text_message(truncate("\n".join(lines), 2900))


def set_expanded_query(engine: Engine, *, topic: str, query: str) -> None:
    """Store the user's edit of a topic's expanded query (validated as a search first)."""
    with session_scope(engine) as session:
        check_query(session, text=query)
        row = get_topic(session, name=topic)
        if row is None:
            raise PaperboyError(f"The topic {topic!r} no longer exists.")
        row.expanded_query = query


# --- schedule ------------------------------------------------------------------------------------


def schedule_message(
    settings: Settings,
    engine: Engine,
    *,
    channel_id: str,
    cron: str,
    timezone: str | None,
    user_id: str = "",
) -> Message:
    with session_scope(engine) as session:
        channel = channels_db.set_schedule(
            session, channel_id=channel_id, cron=cron, timezone=timezone,
            default_timezone=settings.paperboy_timezone,
        )  # fmt: skip
        pauses.record_set_up_by(session, channel_id=channel_id, user_id=user_id)
        stored_cron, stored_zone = channel.cron, channel.timezone
    upcoming = schedule.next_fire_time(stored_cron, stored_zone, after=datetime.now(UTC))
    when = f" Next: {upcoming.strftime('%a %d %b %H:%M %Z')}." if upcoming else ""
    return text_message(f"Digests here now post on `{stored_cron}` ({stored_zone}).{when}")


# --- papers --------------------------------------------------------------------------------------


def paper_message(
    settings: Settings,
    engine: Engine,
    *,
    sources: Sequence[Source],
    embedder: Embedder,
    arxiv_id: str,
) -> Message:
    """One paper's card, fetching the paper from arXiv / Hugging Face when it is not stored."""
    paper = ensure_paper(settings, engine, sources=sources, embedder=embedder, arxiv_id=arxiv_id)
    if paper is None:
        return text_message(NOT_FOUND.format(arxiv_id=arxiv_id))
    with Session(engine) as session:
        paper = session.get(Paper, paper.id) or paper
        card = card_for(session, paper=paper, settings=settings)
    if card.extractive:
        queue_card_upgrades(settings, engine, arxiv_ids=[arxiv_id_of(paper)])
    return paper_blocks.paper_message(paper, card)


def queue_card_upgrades(settings: Settings, engine: Engine, *, arxiv_ids: list[str]) -> None:
    """Someone is looking at these extractive cards now: queue Claude's versions as urgent jobs
    (they jump the queue), so the next time the papers are shown they carry a real summary."""
    if not arxiv_ids or not llm_configured(settings):
        return
    with session_scope(engine) as session:
        for arxiv_id in arxiv_ids:
            enqueue(
                session,
                kind="card",
                arxiv_id=arxiv_id,
                urgent=True,
                max_attempts=settings.llm_max_attempts,
            )


def saved_message(engine: Engine, *, user_id: str) -> Message:
    with Session(engine) as session:
        papers = interactions.saved_papers(session, user_id=user_id)
    if not papers:
        return text_message("You haven't saved any papers yet: press *Save* on a paper post.")
    lines = [f"You saved {len(papers)} paper{'s' if len(papers) != 1 else ''}:"]
    for i, paper in enumerate(papers[:30], start=1):
        lines.append(f"{i}. {paper_blocks.title_link(paper, limit=150).strip('*')}")
    if len(papers) > 30:
        lines.append(f"…and {len(papers) - 30} more.")
    lines.append("`/papers saved bibtex` exports them as BibTeX.")
    return {"text": lines[0], "blocks": blockkit.split_sections("\n".join(lines))}


def bibtex_message(engine: Engine, *, user_id: str) -> Message:
    with Session(engine) as session:
        papers = interactions.saved_papers(session, user_id=user_id)
    if not papers:
        return text_message("You haven't saved any papers yet, so there is nothing to export.")
    entries = export(papers).strip().split("\n\n")
    shown: list[str] = []
    used = 0
    for entry in entries:
        if used + len(entry) > BIBTEX_CHARS:
            break
        shown.append(entry)
        used += len(entry) + 2
    message_blocks: list[dict[str, Any]] = []
    chunk = ""
    for entry in shown:  # each section a code block of whole entries, under 3,000 characters
        safe = escape_mrkdwn(entry).replace("```", "` ``")
        if chunk and len(chunk) + len(safe) + 8 > blockkit.SECTION_TEXT - 10:
            message_blocks.append(blockkit.section(f"```{chunk}```"))
            chunk = ""
        chunk = f"{chunk}\n\n{safe}" if chunk else safe
    if chunk:
        message_blocks.append(
            blockkit.section(f"```{truncate(chunk, blockkit.SECTION_TEXT - 8)}```")
        )
    if len(shown) < len(entries):
        message_blocks.append(blockkit.context(f"_{len(entries) - len(shown)} more not shown._"))
    return {"text": f"BibTeX for your {len(shown)} saved papers", "blocks": message_blocks}


def save(engine: Engine, *, user_id: str, arxiv_id: str, channel_id: str | None) -> Message:
    with session_scope(engine) as session:
        if get_paper(session, arxiv_id=arxiv_id) is None:
            return text_message(f"I don't have arXiv:{arxiv_id} stored, so I can't save it.")
        new = interactions.save_paper(
            session, user_id=user_id, arxiv_id=arxiv_id, channel_id=channel_id
        )
    if new:
        return text_message(f"Saved arXiv:{arxiv_id}. `/papers saved` lists your saved papers.")
    return text_message(f"arXiv:{arxiv_id} is already in your saved papers.")


def vote(engine: Engine, *, channel_id: str, user_id: str, arxiv_id: str, value: int) -> Message:
    with session_scope(engine) as session:
        if get_paper(session, arxiv_id=arxiv_id) is None:
            return text_message("I don't know that paper any more.")
        interactions.set_feedback(
            session, channel_id=channel_id, arxiv_id=arxiv_id, user_id=user_id, value=value
        )
    more = "more" if value > 0 else "fewer"
    return text_message(f"Thanks! This channel's digests will show {more} papers like this one.")
