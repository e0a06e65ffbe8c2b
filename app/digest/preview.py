"""Digests outside Slack: a terminal rendering of the Block Kit payloads, and the demo's digest.

Used by `paperboy digest --dry-run` and at the end of `paperboy demo`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete

from app.config import Settings
from app.db.channels import channel_topics, get_channel, unfollow, update_channel
from app.db.engine import session_scope
from app.db.models import Channel
from app.digest.ports import Poster
from app.digest.run import DigestOutcome, DigestResult, run_digest
from app.embeddings import Embedder
from app.topics import follow

DEMO_CHANNEL = "CDEMO"
DEMO_FILE = "demo_digest.json"

_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]*)>")


def mrkdwn_to_text(text: str) -> str:
    """Slack mrkdwn as terminal text: links as "text (url)", escapes undone, emphasis kept."""
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    return html.unescape(text)


def _block_lines(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        title = block["text"]["text"]
        return [title, "=" * len(title)]
    if kind == "section":
        return [mrkdwn_to_text(block["text"]["text"])]
    if kind == "context":
        return ["  " + "  ·  ".join(mrkdwn_to_text(e.get("text", "")) for e in block["elements"])]
    if kind == "actions":
        return ["  [" + "] [".join(e["text"]["text"] for e in block["elements"]) + "]"]
    return []


def render_text(payloads: Sequence[dict[str, Any]]) -> str:
    """What the channel would see, message by message."""
    out: list[str] = []
    for payload in payloads:
        prefix = "  ↳ " if payload.get("thread_ts") else ""
        lines = [ln for b in payload.get("blocks") or [] for ln in _block_lines(b)]
        out.append("\n".join(prefix + ln for ln in (lines or [payload.get("text", "")])))
    return "\n\n".join(out)


def demo_digest(
    settings: Settings,
    engine: Engine,
    poster: Poster,
    *,
    topics: Sequence[str],
    channel_id: str | None = None,
    embedder: Embedder | None = None,
) -> tuple[DigestResult, Path]:
    """Render the digest of `topics`, write its Block Kit JSON to PAPERBOY_DATA_DIR, and post it
    once for real when SLACK_BOT_TOKEN and a demo channel (`channel_id`, the checked
    PAPERBOY_DEMO_CHANNEL) are set. A repeated demo posts only what is new; the preview then
    shows the latest papers.

    The demo subscribes nothing: the topics it follows for this one digest are unfollowed again
    (a real channel keeps the topics it followed before), and the placeholder channel is
    removed, so nothing is left scheduled.
    """
    live = bool(settings.slack_bot_token and channel_id)
    target = channel_id if live and channel_id else DEMO_CHANNEL
    with session_scope(engine) as session:
        had = {t.name for t in channel_topics(session, channel_id=target)}
        before = get_channel(session, channel_id=target)
        paused = before is not None and not before.active  # following a topic resumes a channel
        for name in topics:
            follow(session, channel_id=target, topic_name=name, timezone=settings.paperboy_timezone)
    try:
        result = run_digest(
            settings, engine, poster, channel_id=target, dry_run=not live, embedder=embedder
        )
        if live and result.status in (DigestOutcome.EMPTY, DigestOutcome.DONE_BEFORE):
            # Everything new was posted already: show the latest papers again (not posted).
            result = run_digest(settings, engine, poster, channel_id=target, dry_run=True,
                                force=True, embedder=embedder)  # fmt: skip
    finally:
        _leave_nothing_scheduled(engine, channel_id=target, added=set(topics) - had, paused=paused)
    path = Path(settings.paperboy_data_dir) / DEMO_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.payloads, indent=2, ensure_ascii=False) + "\n")
    return result, path


def _leave_nothing_scheduled(
    engine: Engine, *, channel_id: str, added: set[str], paused: bool
) -> None:
    with session_scope(engine) as session:
        if channel_id == DEMO_CHANNEL:
            # Only ever previewed (older versions left it following the topics): remove it.
            session.execute(delete(Channel).where(Channel.channel_id == DEMO_CHANNEL))
            return
        # A real channel keeps its row: its digest runs and posted messages are what keep a
        # repeated demo from posting the same papers and let replies in the demo's threads work.
        for name in added:
            unfollow(session, channel_id=channel_id, topic_name=name)
        if paused:
            update_channel(session, channel_id=channel_id, active=False)
