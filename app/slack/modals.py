"""Modal views for `/papers settings` and "Edit query", and reading their submissions. Pure.

Modal text inputs and the authors line are plain text, so untrusted values (topic names,
queries, author names) need no escaping there; the labels are ours.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app import schedule
from app.safety import truncate

SETTINGS_CALLBACK = "papers_settings"
EDIT_QUERY_CALLBACK = "papers_edit_query"
MAX_PAPERS_CHOICES = 25  # app.db.channels.MAX_PAPERS_LIMIT
_INPUT_MAX = 3000
MAX_NOTE = 2000  # a context element's text
STYLES = (
    ("messages", "One message per paper (each with its own thread)"),
    ("thread", "Header message, papers in its thread (quieter)"),
)


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:75] or " ", "emoji": True}


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint[:2000]}
    return block


def _text_input(
    initial: str,
    *,
    multiline: bool = False,
    max_length: int = _INPUT_MAX,
    placeholder: str | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": multiline,
        "max_length": max_length,
    }
    if initial:
        element["initial_value"] = initial[:max_length]
    if placeholder:
        element["placeholder"] = _plain(placeholder)
    return element


def _option(value: str, text: str) -> dict[str, Any]:
    return {"text": _plain(text), "value": value}


def settings_view(
    *,
    channel_id: str,
    topics: Sequence[str],
    cron: str,
    timezone: str,
    max_papers: int,
    quiet_day_notice: bool,
    style: str,
    recommendations: bool = True,
    authors: Sequence[str] = (),
) -> dict[str, Any]:
    """The settings modal of one channel (its id travels in private_metadata). `authors`: the
    followed authors' names, listed under the topics with how to change them (they are
    followed and unfollowed by command: a name may need picking among namesakes)."""
    quiet = _option("quiet", "Post a short note on days with no new papers")
    style_options = [_option(value, text) for value, text in STYLES]
    style_element: dict[str, Any] = {
        "type": "radio_buttons",
        "action_id": "value",
        "options": style_options,
    }
    initial_style = next((o for o in style_options if o["value"] == style), style_options[0])
    style_element["initial_option"] = initial_style
    quiet_element: dict[str, Any] = {"type": "checkboxes", "action_id": "value", "options": [quiet]}
    if quiet_day_notice:
        quiet_element["initial_options"] = [quiet]
    recommend = _option("on", "Recommend a few papers outside the topics, from your 👍 and saves")
    recommend_element: dict[str, Any] = {
        "type": "checkboxes",
        "action_id": "value",
        "options": [recommend],
    }
    if recommendations:
        recommend_element["initial_options"] = [recommend]
    return {
        "type": "modal",
        "callback_id": SETTINGS_CALLBACK,
        "private_metadata": json.dumps({"channel_id": channel_id}),
        "title": _plain("Paperboy settings"),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "blocks": [
            _input(
                "topics",
                "Topics (one per line)",
                _text_input(
                    "\n".join(topics), multiline=True, placeholder="retrieval augmented generation"
                ),
                optional=True,
            ),
            {
                "type": "context",
                "block_id": "authors",
                # Not _plain: that cuts at 75 characters (the limit of labels and titles).
                "elements": [{"type": "plain_text", "text": authors_note(authors), "emoji": True}],
            },
            _input(
                "cron",
                "Schedule (cron)",
                _text_input(cron, max_length=120),
                hint=schedule.CRON_HINT + " (at most hourly)",
            ),
            _input(
                "timezone",
                "Time zone",
                _text_input(timezone, max_length=64),
                hint="An IANA name like Europe/Berlin",
            ),
            _input(
                "max_papers",
                "Papers per digest (at most)",
                {
                    "type": "number_input",
                    "action_id": "value",
                    "is_decimal_allowed": False,
                    "min_value": "1",
                    "max_value": str(MAX_PAPERS_CHOICES),
                    "initial_value": str(max_papers),
                },
            ),
            _input("quiet", "Quiet days", quiet_element, optional=True),
            _input("style", "Style", style_element),
            _input("recommendations", "Recommended for you", recommend_element, optional=True),
        ],
    }


def authors_note(authors: Sequence[str]) -> str:
    """The settings modal's line on followed authors (plain text: names are shown as typed)."""
    if not authors:
        return 'No authors followed. Follow one with /papers follow author "Name".'
    more = len(authors) - 20
    shown = ", ".join(authors[:20]) + (f" and {more} more" if more > 0 else "")
    return truncate(
        f'Authors followed: {shown}. Change them with /papers follow author "Name" '
        'or /papers unfollow author "Name".',
        MAX_NOTE,
    )


@dataclass(frozen=True)
class SettingsForm:
    channel_id: str
    topics: list[str]
    cron: str
    timezone: str
    max_papers: str
    quiet_day_notice: bool
    style: str
    recommendations: bool | None = None  # None: the form had no such field (left unchanged)


def read_settings(view: dict[str, Any]) -> SettingsForm:
    """The submitted values of a settings modal."""
    values = (view.get("state") or {}).get("values") or {}

    def value(block: str) -> Any:
        return (values.get(block) or {}).get("value") or {}

    topics_text = value("topics").get("value") or ""
    topics = list(dict.fromkeys(" ".join(t.split()) for t in topics_text.splitlines() if t.strip()))
    return SettingsForm(
        channel_id=json.loads(view.get("private_metadata") or "{}").get("channel_id", ""),
        topics=topics,
        cron=(value("cron").get("value") or "").strip().strip("\"'“”"),
        timezone=(value("timezone").get("value") or "").strip(),
        max_papers=str(value("max_papers").get("value") or "").strip(),
        quiet_day_notice=bool(value("quiet").get("selected_options")),
        style=((value("style").get("selected_option") or {}).get("value") or "messages"),
        recommendations=(
            bool(value("recommendations").get("selected_options"))
            if "recommendations" in values
            else None
        ),
    )


def edit_query_view(*, topic: str, query: str, channel_id: str | None) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": EDIT_QUERY_CALLBACK,
        "private_metadata": json.dumps({"topic": topic, "channel_id": channel_id}),
        "title": _plain("Edit topic query"),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "blocks": [
            {"type": "section", "text": {"type": "plain_text", "text": f"Topic: {topic}"[:3000]}},
            _input(
                "query",
                "Search query",
                _text_input(query, multiline=True, max_length=1000),
                hint='Words, "quoted phrases", OR, + for AND, -word to exclude',
            ),
        ],
    }


def read_edit_query(view: dict[str, Any]) -> tuple[str, str, str | None]:
    """(topic, query, channel_id) of a submitted edit-query modal."""
    meta = json.loads(view.get("private_metadata") or "{}")
    values = (view.get("state") or {}).get("values") or {}
    query = ((values.get("query") or {}).get("value") or {}).get("value") or ""
    return meta.get("topic", ""), " ".join(query.split()), meta.get("channel_id")
