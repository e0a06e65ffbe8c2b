"""The digest's own Block Kit: the header, the quiet-day and failed-ingest notices. Paper
messages come from app/paper_blocks.py; primitives and Slack's limits from app/blockkit.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from app.blockkit import Message, context, esc, fit, header, section
from app.safety import truncate


def _topic_list(topics: Sequence[str], limit: int = 600) -> str:
    return truncate(", ".join(f"*{esc(t, 100)}*" for t in topics), limit)


def digest_header(
    *,
    day: date,
    topics: Sequence[str],
    count: int,
    style: str = "messages",
    trending: int = 0,
    recommended: int = 0,
) -> Message:
    when = day.strftime("%a %d %b %Y")
    noun = "paper" if count == 1 else "papers"
    lines = f"{count} new {noun} for {_topic_list(topics)}" if topics else f"{count} new {noun}"
    if trending:
        lines += f" (incl. {trending} trending on Hugging Face)"
    if recommended:
        # Not "the last N": a recommendation owed from an undelivered digest comes first.
        lines += f"\n:sparkles: {recommended} of them *recommended for you*, from your taste"
    if style == "thread":
        lines += "\nThe papers are in this thread :thread:"
    blocks = [header(f"📰 Paperboy digest — {when}"), section(lines)]
    text = f"Paperboy digest for {when}: {count} new {noun}"
    if topics:
        text += " (" + ", ".join(esc(t, 60) for t in topics) + ")"
    return fit(text, blocks)


def quiet_day_notice(*, day: date, topics: Sequence[str]) -> Message:
    text = f"No new papers for {_topic_list(topics)} today." if topics else "No new papers today."
    return fit(text.replace("*", ""), [context(f":zzz: {text}")])


def ingest_failure_notice(*, day: date, error: str | None = None) -> Message:
    text = (
        "Paperboy could not fetch new papers today (arXiv or Hugging Face did not answer); "
        "the next digest will catch up."
    )
    parts = [f":warning: {text}"]
    if error:
        parts.append(f"_{esc(error, 200)}_")
    return fit(text, [context(*parts)])


# How a recommendation's reason names the channel's signal (app/digest/taste.py Signal).
_VERBS = {
    "up": "you 👍'd",
    "more": "you asked more like",
    "save": "you saved",
    "thread": "you discussed",
}


def author_note(text: str) -> str:
    """The line heading a followed author's paper ("by an author you follow: Name"); `text` is
    plain (author names come from paper metadata) and escaped here."""
    return f":writing_hand: _{esc(text, 300)}_"


def recommendation_note(reason: Mapping[str, Any]) -> str:
    """The line above a recommended paper: "Recommended for you: like *Title* you 👍'd"."""
    # Asterisks would end the bold early: a title never formats.
    title = esc(str(reason.get("title") or "").replace("*", ""), 150)
    title = title or f"arXiv:{esc(reason.get('like'), 64)}"
    verb = _VERBS.get(str(reason.get("signal")), "you liked")
    via = " (via Semantic Scholar)" if reason.get("source") == "semantic_scholar" else ""
    return f":sparkles: *Recommended for you*{via}: like *{title}* {verb}"
