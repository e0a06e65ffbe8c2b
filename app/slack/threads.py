"""Which paper is a thread about? Resolves "summarize this" and follow-up questions.

Order (first match wins):
1. the reply itself names exactly one arXiv / Hugging Face paper (link or bare id);
2. the thread's parent is a Paperboy paper post;
3. the parent is a `thread`-style digest header: its papers are the candidates;
   else Paperboy already summarized/answered about a paper in this thread ("joined" it);
4. the parent (read with conversations.replies, history as a fallback) names one paper; several
   are candidates;
5. candidates are chosen by number ("summarize 2") or listed back; links to other hosts get a
   polite refusal and are never fetched; otherwise a short hint.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from slack_sdk.errors import SlackClientError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import interactions
from app.db.models import Paper
from app.db.papers import get_paper
from app.embeddings import Embedder
from app.ingest import fetch_paper_on_demand
from app.paperids import abs_url, find_paper_ids, foreign_urls
from app.safety import escape_mrkdwn, truncate
from app.slack.commands_parse import link_host
from app.sources import Source

log = logging.getLogger(__name__)

HINT = (
    "I can summarize a paper in its thread: reply `summarize this` under a Paperboy paper post "
    "or under a message with an arXiv or Hugging Face link."
)
REFUSAL = (
    "Sorry, I only read papers from arXiv and Hugging Face, so I won't open {host}. "
    "Share the paper's arXiv link and I'll take a look."
)
MAX_CANDIDATES = 10
# When ensure_paper() finds nothing (stored, on arXiv or on Hugging Face).
NOT_FOUND = "I couldn't find arXiv:{arxiv_id} on arXiv or Hugging Face."

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_LINK = re.compile(r"<(https?://[^>|]+)(?:\|[^>]*)?>")
_SUMMARIZE = re.compile(r"\b(summari[sz]e|tl;?\s?dr)\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?:^|\s)#?(\d{1,2})(?:\s|[.!?]|$)")
_QUESTION_WORDS = re.compile(
    r"^(what|why|how|which|who|whom|whose|when|where|does|do|did|is|are|was|were|can|could|"
    r"would|should|will|has|have|had|explain|compare|tell me|describe)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ThreadRequest:
    kind: Literal["summarize", "question"]
    text: str  # the message without mentions
    number: int | None = None  # "summarize 2"
    mentioned: bool = False


def parse_request(text: str | None, *, bot_user_id: str | None) -> ThreadRequest | None:
    """Classify a message: a summarize request, a possible question, or nothing (None)."""
    raw = text or ""
    mentioned = bool(bot_user_id) and f"<@{bot_user_id}" in raw
    clean = " ".join(_MENTION.sub(" ", raw).split())
    words = _LINK.sub(" ", clean)
    if _SUMMARIZE.search(words) and len(words.split()) <= 8:
        match = _NUMBER.search(_SUMMARIZE.sub(" ", words))
        number = int(match.group(1)) if match else None
        return ThreadRequest("summarize", clean, number, mentioned)
    if not clean:
        return ThreadRequest("summarize", clean, None, mentioned) if mentioned else None
    return ThreadRequest("question", clean, None, mentioned)


def looks_like_question(text: str) -> bool:
    """A reply under a paper post is answered only when it reads as a question, so people can
    still talk among themselves in the thread."""
    stripped = text.strip()
    return stripped.endswith("?") or bool(_QUESTION_WORDS.match(stripped))


@dataclass(frozen=True)
class Resolution:
    arxiv_id: str | None = None
    candidates: tuple[str, ...] = ()  # several papers and no (valid) number: ask back
    message: str | None = None  # a hint or a refusal, when there is no paper
    titles: dict[str, str] = field(default_factory=dict)


def resolve(
    engine: Engine,
    client: Any,
    *,
    channel_id: str,
    ts: str,
    thread_ts: str | None,
    text: str,
    number: int | None = None,
    joined_only: bool = False,
    prefer_joined: bool = False,
) -> Resolution:
    """Find the paper a message is about (see the module docstring for the order).

    With `joined_only`, only steps 1-3 apply: used for un-addressed replies, which are answered
    only in threads that are clearly about a paper. `prefer_joined` (questions): in a digest
    thread, the paper Paperboy last discussed there wins over asking back.
    """
    in_thread = bool(thread_ts) and thread_ts != ts
    own_ids = find_paper_ids(text)
    if len(own_ids) == 1:
        return Resolution(own_ids[0])
    refused = foreign_urls(text)
    if own_ids:
        return _choose(engine, own_ids, number)
    if refused:
        return Resolution(message=REFUSAL.format(host=link_host(refused[0])))
    if not in_thread:
        return Resolution(message=HINT)
    assert thread_ts is not None
    with Session(engine) as session:
        parent = interactions.paper_for_message(session, channel_id=channel_id, ts=thread_ts)
        listed = interactions.papers_in_thread(session, channel_id=channel_id, thread_ts=thread_ts)
        joined = interactions.joined_paper(session, channel_id=channel_id, thread_ts=thread_ts)
    if parent:
        return Resolution(parent)
    if listed:  # a thread-style digest: a number picks; a question sticks to the paper discussed
        if number is None and prefer_joined and joined in listed:
            return Resolution(joined)
        return _choose(engine, listed, number)
    if joined:
        return Resolution(joined)
    if joined_only:
        return Resolution(message=HINT)
    parent_text = read_parent(client, channel_id=channel_id, thread_ts=thread_ts)
    parent_ids = find_paper_ids(parent_text)
    if len(parent_ids) == 1:
        return Resolution(parent_ids[0])
    if parent_ids:
        return _choose(engine, parent_ids, number)
    refused = foreign_urls(parent_text)
    if refused:
        return Resolution(message=REFUSAL.format(host=link_host(refused[0])))
    return Resolution(message=HINT)


def _choose(engine: Engine, ids: list[str], number: int | None) -> Resolution:
    ids = ids[:MAX_CANDIDATES]
    if number is not None and 1 <= number <= len(ids):
        return Resolution(ids[number - 1])
    with Session(engine) as session:
        rows = session.execute(select(Paper.arxiv_id, Paper.title).where(Paper.arxiv_id.in_(ids)))
        titles = {arxiv_id: title for arxiv_id, title in rows if arxiv_id is not None}
    return Resolution(candidates=tuple(ids), titles=titles)


def candidates_text(resolution: Resolution, *, verb: str = "summarize") -> str:
    """ "Which one?" with a numbered list (mrkdwn, paper titles escaped)."""
    lines = [f"There are {len(resolution.candidates)} papers here. Which one? Reply `{verb} N`:"]
    for i, arxiv_id in enumerate(resolution.candidates, start=1):
        title = resolution.titles.get(arxiv_id)
        label = escape_mrkdwn(truncate(" ".join(title.split()), 120)) if title else arxiv_id
        lines.append(f"{i}. {label} (<{abs_url(arxiv_id)}|{arxiv_id}>)")
    return "\n".join(lines)


def read_parent(client: Any, *, channel_id: str, thread_ts: str) -> str:
    """The text of a thread's parent (and its attachments' links); "" when Slack won't say."""
    message: dict[str, Any] | None = None
    try:
        reply = client.conversations_replies(channel=channel_id, ts=thread_ts, limit=1)
        messages = reply.get("messages") or []
        message = next((m for m in messages if m.get("ts") == thread_ts), None)
    except (SlackClientError, OSError) as exc:  # Slack or the network: "no parent text"
        log.info("conversations.replies failed for %s/%s: %s", channel_id, thread_ts, exc)
    if message is None:
        try:
            reply = client.conversations_history(
                channel=channel_id, latest=thread_ts, oldest=thread_ts, inclusive=True, limit=1
            )
            message = next(iter(reply.get("messages") or []), None)
        except (SlackClientError, OSError) as exc:
            log.info("conversations.history failed for %s/%s: %s", channel_id, thread_ts, exc)
    return message_text(message) if message else ""


def message_text(message: dict[str, Any]) -> str:
    """A message's text plus the links in its attachments and blocks (rich text, buttons)."""
    parts = [str(message.get("text") or "")]
    for attachment in message.get("attachments") or []:
        for key in ("from_url", "title_link", "original_url", "text"):
            if attachment.get(key):
                parts.append(str(attachment[key]))
    stack: list[Any] = list(message.get("blocks") or [])
    while stack:
        item = stack.pop(0)  # breadth first keeps the blocks' (and so the papers') order
        if isinstance(item, dict):
            if isinstance(item.get("url"), str):
                parts.append(item["url"])
            if item.get("type") == "mrkdwn" and isinstance(item.get("text"), str):
                parts.append(item["text"])
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(item)
    return "\n".join(parts)


def ensure_paper(
    settings: Settings,
    engine: Engine,
    *,
    sources: Sequence[Source],
    embedder: Embedder,
    arxiv_id: str,
) -> Paper | None:
    """The stored paper, fetched from arXiv / Hugging Face on demand when we don't have it."""
    with Session(engine, expire_on_commit=False) as session:
        paper = get_paper(session, arxiv_id=arxiv_id)
    if paper is not None:
        return paper
    return fetch_paper_on_demand(
        settings, engine, arxiv_id=arxiv_id, sources=sources, embedder=embedder
    )
