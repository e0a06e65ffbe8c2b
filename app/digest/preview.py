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

from sqlalchemy import Engine

from app.config import Settings
from app.db.engine import session_scope
from app.digest.ports import Poster
from app.digest.run import DigestOutcome, DigestResult, run_digest
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
    settings: Settings, engine: Engine, poster: Poster, *, topics: Sequence[str]
) -> tuple[DigestResult, Path]:
    """Render the demo channel's digest of `topics`, write its Block Kit JSON to
    PAPERBOY_DATA_DIR, and post it for real when SLACK_BOT_TOKEN and PAPERBOY_DEMO_CHANNEL are
    set (a repeated demo posts only what is new; the preview then shows the latest papers)."""
    channel_id = settings.paperboy_demo_channel or DEMO_CHANNEL
    live = bool(settings.slack_bot_token and settings.paperboy_demo_channel)
    with session_scope(engine) as session:
        for name in topics:
            follow(
                session, channel_id=channel_id, topic_name=name,
                timezone=settings.paperboy_timezone,
            )  # fmt: skip
    result = run_digest(settings, engine, poster, channel_id=channel_id, dry_run=not live)
    if live and result.status in (DigestOutcome.EMPTY, DigestOutcome.DONE_BEFORE):
        # Everything new was posted already: show the latest papers again (not posted).
        result = run_digest(settings, engine, poster, channel_id=channel_id, dry_run=True,
                            force=True)  # fmt: skip
    path = Path(settings.paperboy_data_dir) / DEMO_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.payloads, indent=2, ensure_ascii=False) + "\n")
    return result, path
