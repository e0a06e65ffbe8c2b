"""The digest's own Block Kit: the header, the quiet-day and failed-ingest notices. Paper
messages come from app/paper_blocks.py; primitives and Slack's limits from app/blockkit.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from app.blockkit import Message, context, esc, fit, header, section
from app.safety import truncate


def _topic_list(topics: Sequence[str], limit: int = 600) -> str:
    return truncate(", ".join(f"*{esc(t, 100)}*" for t in topics), limit)


def digest_header(
    *, day: date, topics: Sequence[str], count: int, style: str = "messages", trending: int = 0
) -> Message:
    when = day.strftime("%a %d %b %Y")
    noun = "paper" if count == 1 else "papers"
    lines = f"{count} new {noun} for {_topic_list(topics)}" if topics else f"{count} new {noun}"
    if trending:
        lines += f" (incl. {trending} trending on Hugging Face)"
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
