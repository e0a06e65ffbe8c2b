"""What people type for a Slack channel, turned into a channel id or a name to look up. A leaf.

One parser for every surface that takes a channel: the CLI's `--channel`, PAPERBOY_DEMO_CHANNEL,
the `/papers` commands and the settings modal (whose ids come from Slack and are checked the same
way). Accepted:
- an id: C (public), G (private, older workspaces) or D (direct message) and 8-11 upper-case
  letters or digits, like `C0123456789`;
- a channel link, the thing people copy: `https://team.slack.com/archives/C0123456789`, also
  with a message after it (`/p1712345678901234`);
- a mention as Slack writes it: `<#C0123456789|general>` or `<#C0123456789>`;
- a name, `#general` or `general`, which app/slack/channels.py looks up (conversations.list).
Anything else is refused with one line saying how to find a channel's id, so the channel id
column never sees raw user text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.errors import UserInputError
from app.safety import escape_mrkdwn

_ID = re.compile(r"[CGD][A-Z0-9]{8,11}")
_MENTION = re.compile(r"<#([A-Z0-9]+)(?:\|[^>]*)?>")
# /archives/<id>, optionally followed by /p<message ts> and a query string.
_ARCHIVES = re.compile(r"/archives/([A-Za-z0-9]+)(?:/p\d+)?/?")
# Slack channel names: lower case letters, digits, hyphens and underscores, at most 80.
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,79}")
# Looks like someone meant an id (upper case, starting C/G/D) but got it wrong: say so.
_ID_LIKE = re.compile(r"[CGD][A-Z0-9]*")

HOW_TO_FIND = (
    "to find a channel's id, open the channel's details (click its name): the id is at the "
    "bottom of the About tab; or paste the channel's link (right-click the channel > Copy link)"
)


@dataclass(frozen=True)
class ChannelRef:
    """A parsed channel: its id, or (for `#name`) the name still to look up."""

    id: str | None = None
    name: str | None = None


def is_channel_id(text: str) -> bool:
    return _ID.fullmatch(text) is not None


def parse_channel(text: str | None) -> ChannelRef:
    """An id from an id, link or mention, or a name from `#name` / `name`; UserInputError
    (one line, with how to find an id) for anything else."""
    value = (text or "").strip()
    if not value:
        raise UserInputError(f"which channel? Give its id, like C0123456789; {HOW_TO_FIND}")
    mention = _MENTION.fullmatch(value)
    if mention:
        return ChannelRef(id=_checked_id(mention.group(1), value))
    if value.lower().startswith(("http://", "https://")):
        return ChannelRef(id=_id_from_link(value))
    if _ID_LIKE.fullmatch(value):
        return ChannelRef(id=_checked_id(value, value))
    name = value.removeprefix("#").lower()
    if _NAME.fullmatch(name):
        return ChannelRef(name=name)
    raise UserInputError(f"`{_shown(value)}` isn't a Slack channel; {HOW_TO_FIND}")


def channel_id(text: str | None) -> str:
    """The id in an id, link or mention; names are refused (they need a Slack lookup)."""
    ref = parse_channel(text)
    if ref.id is None:
        raise UserInputError(
            f"`#{ref.name}` is a channel name, and a channel id is needed here; {HOW_TO_FIND}"
        )
    return ref.id


def _id_from_link(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    host = (parts.hostname or "") if parts else ""
    found = _ARCHIVES.fullmatch(parts.path) if parts else None
    if not (host == "slack.com" or host.endswith(".slack.com")) or found is None:
        raise UserInputError(
            f"`{_shown(url)}` isn't a Slack channel link (…slack.com/archives/C0123456789); "
            f"{HOW_TO_FIND}"
        )
    return _checked_id(found.group(1).upper(), url)


def _checked_id(candidate: str, typed: str) -> str:
    if not is_channel_id(candidate):
        raise UserInputError(
            f"`{_shown(typed)}` isn't a channel id (C, G or D and 8 to 11 letters or digits, "
            f"like C0123456789); {HOW_TO_FIND}"
        )
    return candidate


def _shown(text: str, limit: int = 60) -> str:
    """User text echoed back: short, one line, never markup (no mentions, no links)."""
    text = " ".join(text.split()).replace("`", "'")
    return escape_mrkdwn(text if len(text) <= limit else text[: limit - 1] + "…")
