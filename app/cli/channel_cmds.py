"""`paperboy channel set`: a channel's digest size, style, quiet-day notices, relevance floor and
"Recommended for you" section from a shell, as the `/papers settings` modal sets them in Slack
(the schedule is `paperboy schedule`). The same service function as the modal:
app/db/channels.py `update_channel`."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import typer

from app.cli._common import CHANNEL, app, channel_arg, console, engine, expected_errors, settings
from app.db import channels as channel_db
from app.db.engine import session_scope
from app.errors import UserInputError

channel_app = typer.Typer(help="One channel's digest settings.", no_args_is_help=True)
app.add_typer(channel_app, name="channel")


class Style(StrEnum):
    messages = "messages"
    thread = "thread"


class OnOff(StrEnum):
    on = "on"
    off = "off"


@channel_app.command("set")
@expected_errors
def channel_set(
    channel: str = CHANNEL,
    max_papers: int | None = typer.Option(
        None, "--max-papers", help=f"Papers per digest, 1-{channel_db.MAX_PAPERS_LIMIT}."
    ),
    style: Style | None = typer.Option(
        None, "--style", help="messages: one message per paper; thread: papers under a header."
    ),
    quiet_days: OnOff | None = typer.Option(
        None, "--quiet-days", help="on: post a short notice when nothing new matched."
    ),
    min_relevance: float | None = typer.Option(
        None, "--min-relevance", help="Leave out papers graded below this (0-1; 0 keeps all)."
    ),
    recommendations: OnOff | None = typer.Option(
        None,
        "--recommendations",
        help="on (default): a 'Recommended for you' section once the channel has 5 positive "
        "signals (docs/ranking.md).",
    ),
) -> None:
    """Change a channel's digest settings (created with the defaults when new)."""
    channel = channel_arg(channel)
    changes: dict[str, Any] = {
        "max_papers": max_papers,
        "style": style.value if style else None,
        "quiet_day_notice": None if quiet_days is None else quiet_days == OnOff.on,
        "min_relevance": min_relevance,
        "recommendations": None if recommendations is None else recommendations == OnOff.on,
    }
    changes = {name: value for name, value in changes.items() if value is not None}
    if not changes:
        raise UserInputError(
            "nothing to change: give --max-papers, --style, --quiet-days, --min-relevance or "
            "--recommendations"
        )
    with session_scope(engine()) as session:
        # A channel seen first here starts in PAPERBOY_TIMEZONE, as `paperboy follow` does.
        channel_db.ensure_channel(
            session, channel_id=channel, timezone=settings().paperboy_timezone
        )
        row = channel_db.update_channel(session, channel_id=channel, **changes)
        shown = (
            f"{row.channel_id}: {row.max_papers} papers a digest, style {row.style}, quiet-day "
            f"notices {'on' if row.quiet_day_notice else 'off'}, minimum relevance "
            f"{row.min_relevance:g}, recommendations {'on' if row.recommendations else 'off'}"
        )
    console.print(shown, highlight=False)
