"""Block Kit primitives: Slack's limits, safe text, and blocks that can never break them.

app/paper_blocks.py, app/digest/blocks.py and app/slack/blocks.py build Paperboy's messages from
these. Untrusted text goes through `esc`/`esc_block` (app.safety.escape_untrusted: invisible
format characters dropped, links outside the allowlist removed, only &, <, > escaped, mentions
defused; cut with app.safety.truncate, which never splits an escape). Limits:
../shared/REFERENCE.md (Block Kit).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from app.safety import (
    defuse_mentions,
    escape_untrusted,
    strip_foreign_links,
    strip_invisible,
    truncate,
)

Message = dict[str, Any]
Block = dict[str, Any]

MAX_BLOCKS = 50
SECTION_TEXT = 3000
FIELD_TEXT = 2000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
# Slack answers msg_blocks_too_long above roughly 13k characters; stay clear of it.
MAX_MESSAGE_CHARS = 11_000
FALLBACK_TEXT = 300

_SPACE = re.compile(r"\s+")
_INLINE_SPACE = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def one_line(text: str | None) -> str:
    return _SPACE.sub(" ", text or "").strip()


def _cut(text: str, limit: int) -> str:
    # Cutting can end a word right after a mention ("@heresy" -> "@here…"): defuse again, and
    # if that made it longer, cut once more (the mark stays; nothing new can appear).
    cut = defuse_mentions(truncate(text, limit))
    return cut if len(cut) <= limit else truncate(cut, limit)


def esc(text: str | None, limit: int, *, links: Iterable[str] = ()) -> str:
    """Untrusted text -> safe mrkdwn on one line, at most `limit` characters. `links` are the
    paper's own links, which may stay."""
    return _cut(escape_untrusted(one_line(strip_invisible(text or "")), links), limit)


def esc_block(text: str | None, limit: int, *, links: Iterable[str] = ()) -> str:
    """Like esc() but keeps line and paragraph breaks (for summaries and answers)."""
    text = strip_invisible(text or "")
    lines = [_INLINE_SPACE.sub(" ", line).strip() for line in text.splitlines()]
    joined = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return _cut(escape_untrusted(joined, links), limit)


def plain(text: str | None, limit: int) -> str:
    """Text for plain_text objects (header, buttons): never mentions, never empty."""
    text = strip_foreign_links(one_line(strip_invisible(text or "")))
    return _cut(defuse_mentions(text), limit) or " "


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(truncate(text, SECTION_TEXT) or " ")}


def context(*parts: str) -> Block:
    elements = [_mrkdwn(truncate(p, SECTION_TEXT)) for p in parts if p][:CONTEXT_ELEMENTS]
    return {"type": "context", "elements": elements or [_mrkdwn(" ")]}


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": plain(text, HEADER_TEXT)}}


def button(text: str, action_id: str, value: str, *, url: str | None = None,
           style: str | None = None) -> Block:  # fmt: skip
    el: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": plain(text, BUTTON_TEXT), "emoji": True},
        "action_id": action_id[:255],
        "value": value[:BUTTON_VALUE],
    }
    if url:
        el["url"] = url[:3000]
    if style:
        el["style"] = style
    return el


def _block_chars(block: Block) -> int:
    total = 0
    stack: list[Any] = [block]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("text"), str):
                total += len(item["text"])
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(item)
    return total


def fit(text: str, blocks: list[Block], *, max_blocks: int = MAX_BLOCKS) -> Message:
    """Cap a message at Slack's block count and total size, saying what was left out."""
    kept: list[Block] = []
    used = 0
    for i, block in enumerate(blocks):
        size = _block_chars(block)
        too_many = len(kept) >= max_blocks - 1 and i < len(blocks) - 1
        if too_many or used + size > MAX_MESSAGE_CHARS:
            left = len(blocks) - i
            kept.append(context(f"_…{left} more block{'s' if left != 1 else ''} not shown_"))
            break
        kept.append(block)
        used += size
    return {"text": truncate(text, FALLBACK_TEXT) or " ", "blocks": kept}


def _split_at(para: str, limit: int) -> tuple[str, str]:
    """Cut safe mrkdwn before `limit` at a space, never inside an escape like `&amp;`."""
    cut = para.rfind(" ", 0, limit)
    if cut < limit // 2:
        cut = limit
    amp = para.rfind("&", max(0, cut - 5), cut)
    if amp != -1 and ";" not in para[amp:cut]:
        cut = amp
    return para[:cut], para[cut:].lstrip()


def split_sections(text: str, limit: int = SECTION_TEXT) -> list[Block]:
    """Long safe mrkdwn split on line boundaries (else spaces) into several sections."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            head, line = _split_at(line, limit)
            if current:
                chunks.append(current)
                current = ""
            chunks.append(head)
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current.strip():
        chunks.append(current)
    return [section(c) for c in chunks if c.strip()]
