"""What `/papers follow author`, `/papers unfollow author` and the author-pick buttons do.

Following looks the name up on Semantic Scholar (app/authors.py): one clear person is followed
at once; several come back as an ephemeral message with one button per candidate (their
affiliations and paper counts), whose click stores the follow with that S2 id; S2 unreachable
or not knowing the name, the author is followed by name on arXiv with a one-line note.
Names come from users and S2: escaped for mrkdwn everywhere (app/safety.py).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app import authors as author_service
from app import blockkit
from app.config import Settings
from app.db import pauses
from app.db.authors import channel_authors
from app.db.engine import session_scope
from app.errors import UserInputError
from app.safety import escape_untrusted, truncate

Message = dict[str, Any]

ACTION_AUTHOR_PICK = "author_pick"
STALE_BUTTON = "That button is out of date; try `/papers follow author` again."


def follow_author(
    settings: Settings,
    engine: Engine,
    *,
    directory: author_service.AuthorDirectory | None,
    channel_id: str,
    name: str,
    user_id: str = "",
) -> Message:
    """Look the name up and follow it, or ask which of several people was meant."""
    lookup = author_service.look_up(directory, name=name)
    if lookup.ambiguous:
        return pick_message(lookup)
    chosen = lookup.chosen
    return _follow(
        settings,
        engine,
        channel_id=channel_id,
        name=chosen.name if chosen else lookup.name,
        s2_author_id=chosen.s2_author_id if chosen else None,
        user_id=user_id,
        detail=chosen.describe() if chosen else None,
        note=lookup.note,
    )


def picked(
    settings: Settings, engine: Engine, *, channel_id: str, value: str, user_id: str = ""
) -> Message:
    """A candidate's button was clicked: follow that person (value: {"id", "name"})."""
    try:
        data = json.loads(value)
        s2_id, name = str(data.get("id") or ""), str(data["name"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UserInputError(STALE_BUTTON) from None
    message = _follow(
        settings,
        engine,
        channel_id=channel_id,
        name=name,
        s2_author_id=s2_id or None,
        user_id=user_id,
        detail=None,
        note=None if s2_id else "Following this name on arXiv only.",
    )
    return {**message, "replace_original": True}


def unfollow_author(engine: Engine, *, channel_id: str, name: str) -> Message:
    with session_scope(engine) as session:
        removed = author_service.unfollow(session, channel_id=channel_id, name=name)
    return {"text": f"This channel no longer follows the author *{escape_untrusted(removed)}*."}


def authors_lines(engine: Engine, *, channel_id: str) -> list[str]:
    """The lines `/papers topics` adds for the channel's followed authors ([] when none)."""
    with Session(engine) as session:
        rows = channel_authors(session, channel_id=channel_id)
        follows = [(r.name, r.s2_author_id) for r in rows]
    if not follows:
        return []
    noun = "author" if len(follows) == 1 else "authors"
    lines = [f"It follows {len(follows)} {noun}:"]
    for name, s2_id in follows[:40]:
        how = f"Semantic Scholar {s2_id} and arXiv" if s2_id else "arXiv, by name"
        lines.append(f"• *{escape_untrusted(name)}* ({how})")
    return lines


def pick_message(lookup: author_service.Lookup) -> Message:
    """One button per candidate, up to MAX_CANDIDATES, then "none of these" (by name only)."""
    typed = escape_untrusted(truncate(lookup.name, 100))
    blocks: list[dict[str, Any]] = [
        blockkit.section(f"Several people are called *{typed}* on Semantic Scholar. Which one?")
    ]
    for i, candidate in enumerate(lookup.candidates[: author_service.MAX_CANDIDATES]):
        value = json.dumps({"id": candidate.s2_author_id, "name": candidate.name})
        blocks.append(
            {
                **blockkit.section(escape_untrusted(truncate(candidate.describe(), 400))),
                "block_id": f"author_pick_{i}",
                "accessory": blockkit.button("Follow", ACTION_AUTHOR_PICK, value),
            }
        )
    none = json.dumps({"id": "", "name": lookup.name})
    blocks.append(
        {
            "type": "actions",
            "block_id": "author_pick_none",
            "elements": [
                blockkit.button("None of these: follow the name", ACTION_AUTHOR_PICK, none)
            ],
        }
    )
    return {"text": f"Several people are called {typed}; pick one.", "blocks": blocks}


def _follow(
    settings: Settings,
    engine: Engine,
    *,
    channel_id: str,
    name: str,
    s2_author_id: str | None,
    user_id: str,
    detail: str | None,
    note: str | None,
) -> Message:
    with session_scope(engine) as session:
        row, _ = author_service.follow(
            session,
            channel_id=channel_id,
            name=name,
            s2_author_id=s2_author_id,
            created_by=user_id,
            timezone=settings.paperboy_timezone,
        )
        pauses.record_set_up_by(session, channel_id=channel_id, user_id=user_id)
        stored = row.name
    lines = [
        f"This channel now follows the author *{escape_untrusted(stored)}*: their new papers "
        "join the next digest."
    ]
    if detail:
        lines.append(f"Semantic Scholar: {escape_untrusted(truncate(detail, 300))}")
    if note:
        lines.append(note)
    return {"text": "\n".join(lines)}
