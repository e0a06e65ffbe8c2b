"""Shared pieces of the /papers, thread and button tests: papers in the store, paper posts in
the fake Slack, and waiting for background work by polling what the fakes recorded."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.db import interactions
from app.db.engine import session_scope
from app.db.papers import upsert_papers
from app.sources.records import Author, PaperRecord

T = TypeVar("T")
NOW = datetime.now(UTC).replace(microsecond=0)
CHANNEL = "C0PAPERS01"  # tests/slack_helpers.CHANNEL_ID
USER = "UALICE"


def wait_for(probe: Callable[[], T], *, timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy (and return that); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def record(
    arxiv_id: str,
    title: str,
    abstract: str = "",
    *,
    age_days: float = 0.5,
    authors: tuple[str, ...] = ("Ada Lovelace", "Alan Turing"),
    **fields: Any,
) -> PaperRecord:
    published = NOW - timedelta(days=age_days)
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=abstract or f"We study {title.lower()}. Our method improves results by 12%.",
        version=1,
        authors=[Author(name) for name in authors],
        categories=fields.pop("categories", ["cs.CL"]),
        primary_category="cs.CL",
        published=published,
        updated=published,
        **fields,
    )


def add_papers(engine: Engine, *records: PaperRecord) -> None:
    with session_scope(engine) as session:
        upsert_papers(session, records=list(records))


def add_search_papers(engine: Engine) -> None:
    """Four papers for `/papers` searches: two on retrieval / LLM search, two decoys."""
    add_papers(
        engine,
        record(
            "2401.00001",
            "Retrieval augmented generation for code search",
            "We combine retrieval with large language models for code search. "
            "Our retriever improves recall by 12% on CodeSearchNet.",
        ),
        record(
            "2401.00002",
            "Large language model agents that search the web",
            "We build agents on a large language model that search the web and cite sources.",
        ),
        record(
            "2401.00003",
            "Protein folding with diffusion",
            "A diffusion model for protein structures.",
            categories=["q-bio.BM"],
        ),
        record(
            "2401.00004",
            "Beam search for speech decoding",
            "A faster beam search for speech recognition decoders.",
        ),
    )


def command_replies(sent: Any, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
    """What the app sent to the command's response_url, once there are `count` bodies."""
    return wait_for(
        lambda: (r := sent.replies()) and len(r) >= count and r,
        timeout=timeout,
        what=f"{count} response(s) to the slash command",
    )


def ack_text(sent: Any) -> str:
    """The text of a slash command's ack (the HTTP response)."""
    assert sent.status_code == 200
    if "json" in sent.response.headers.get("content-type", ""):
        return str(sent.response.json().get("text", ""))
    return str(sent.response.text)  # Bolt answers a text-only ack as plain text


PINGS = ("<!channel>", "<!here", "<!everyone>", "<@U123>", "@here", "@channel", "@everyone")


def assert_inert(*messages: dict[str, Any] | str) -> None:
    """No text a person sees (fallback text, blocks; button values are never shown) can ping:
    `@here` and friends must arrive defused, `<!channel>` and `<@U...>` escaped."""
    shown = "\n".join(m if isinstance(m, str) else all_text(m) for m in messages)
    for ping in PINGS:
        assert ping not in shown, (ping, shown)


def post_paper(
    slack: Any,
    engine: Engine,
    arxiv_id: str,
    *,
    channel: str = CHANNEL,
    thread_ts: str | None = None,
    kind: str = "paper",
) -> str:
    """A Paperboy paper post, as a digest leaves it: in the fake Slack and in posted_messages."""
    message = slack.add_message(
        channel,
        f"Paper {arxiv_id}",
        user=slack.bot_user_id,
        bot_id=slack.bot_id,
        thread_ts=thread_ts,
    )
    with session_scope(engine) as session:
        interactions.record_post(
            session,
            channel_id=channel,
            ts=message["ts"],
            kind=kind,
            arxiv_id=arxiv_id if kind == "paper" else None,
            thread_ts=thread_ts,
        )
    return str(message["ts"])


def message_event(
    text: str,
    *,
    ts: str,
    thread_ts: str | None = None,
    channel: str = CHANNEL,
    user: str = USER,
    **extra: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "channel_type": "channel",
        **extra,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def thread_posts(slack: Any, thread_ts: str, channel: str = CHANNEL) -> list[dict[str, Any]]:
    """What Paperboy posted (chat.postMessage) into one thread, in order."""
    return [m for m in slack.posted(channel) if m.get("thread_ts") == thread_ts]


def all_text(message: dict[str, Any]) -> str:
    """A message's fallback text and every text in its blocks, joined (for assertions)."""
    parts = [str(message.get("text") or "")]
    stack: list[Any] = list(message.get("blocks") or [])
    while stack:
        item = stack.pop(0)
        if isinstance(item, dict):
            if isinstance(item.get("text"), str):
                parts.append(item["text"])
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(item)
    return "\n".join(parts)


def feedback_rows(engine: Engine) -> list[tuple[str, str, str, int]]:
    from sqlalchemy import select

    from app.db.models import Feedback, Paper

    with Session(engine) as session:
        rows = session.execute(
            select(Feedback.channel_id, Paper.arxiv_id, Feedback.user_id, Feedback.value).join(
                Paper, Paper.id == Feedback.paper_id
            )
        )
        return sorted(tuple(r) for r in rows)  # type: ignore[misc]
