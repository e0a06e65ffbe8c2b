"""`paperboy follow|unfollow|channels|digest`: channel subscriptions and digests from a shell.

The same service functions as the Slack `/papers follow` commands (app/db/channels.py) and the
scheduler's digests (app/digest/), for operators and tests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import typer
from rich.table import Table

from app import schedule
from app import topics as topic_service
from app.cli import author_cmds
from app.cli._common import (
    CHANNEL,
    app,
    channel_arg,
    console,
    engine,
    expected_errors,
    runtime,
    settings,
)
from app.db import channels as channel_db
from app.db.authors import authors_by_channel
from app.db.engine import session_scope
from app.db.pauses import last_digests
from app.digest.pause import pause_info
from app.digest.preview import render_text
from app.digest.run import DigestOutcome, run_digest
from app.digest.taste import TasteDeps
from app.errors import UserInputError
from app.status import digest_json


@app.command("follow")
@expected_errors
def follow(
    topic: list[str] | None = typer.Argument(None, help="Topic name (words are joined)."),
    channel: str = CHANNEL,
    query: str | None = typer.Option(None, help="Search query for a new topic (default: name)."),
    author: str | None = typer.Option(
        None, "--author", help='Follow an author instead of a topic: --author "Yann LeCun".'
    ),
    s2_author_id: str | None = typer.Option(
        None, "--s2-author-id", help="The author's Semantic Scholar id (picks among namesakes)."
    ),
) -> None:
    """Make a channel follow a topic (both are created when new), or an author (--author)."""
    channel = channel_arg(channel)
    if author is not None or s2_author_id is not None:
        if topic or author is None:
            raise UserInputError("give a topic or --author NAME, not both")
        author_cmds.follow_author(channel, author, s2_author_id)
        return
    if not topic:
        raise UserInputError('which topic? e.g. `paperboy follow -c C0123 "LLM agents"`')
    cfg = settings()
    with session_scope(engine()) as session:
        row, topic_row, created = topic_service.follow(
            session, channel_id=channel, topic_name=" ".join(topic), query=query,
            timezone=cfg.paperboy_timezone,
        )  # fmt: skip
        note = " (new topic)" if created else ""
        console.print(
            f"{row.channel_id} follows [bold]{topic_row.name}[/bold]{note}; digests "
            f"'{row.cron}' {row.timezone}",
            highlight=False,
        )


@app.command("unfollow")
@expected_errors
def unfollow(
    topic: list[str] | None = typer.Argument(None, help="Topic name."),
    channel: str = CHANNEL,
    author: str | None = typer.Option(None, "--author", help="Stop following this author."),
) -> None:
    """Stop a channel following a topic, or an author (--author)."""
    channel = channel_arg(channel)
    if author is not None:
        if topic:
            raise UserInputError("give a topic or --author NAME, not both")
        author_cmds.unfollow_author(channel, author)
        return
    if not topic:
        raise UserInputError("which topic? `paperboy channels` lists what each channel follows")
    name = " ".join(topic)
    with session_scope(engine()) as session:
        if not channel_db.unfollow(session, channel_id=channel, topic_name=name):
            raise UserInputError(f"{channel} does not follow {name!r}")
    console.print(f"{channel} no longer follows [bold]{name}[/bold]", highlight=False)


def _next_digest(cron: str, timezone: str) -> str:
    try:
        fire = schedule.next_fire_time(cron, timezone, after=datetime.now(UTC))
    except UserInputError:
        return "invalid schedule"
    return fire.strftime("%a %d %b %H:%M") if fire else "never"


@app.command("schedule")
@expected_errors
def schedule_cmd(
    cron: str = typer.Argument(..., help='Crontab line, quoted: "0 9 * * 1-5" (weekdays 09:00).'),
    timezone: str | None = typer.Argument(
        None, help="IANA time zone, like Europe/Berlin (default: the channel's current one)."
    ),
    channel: str = CHANNEL,
) -> None:
    """Set when a channel's digests post (at most hourly), as `/papers schedule` does in Slack."""
    channel = channel_arg(channel)
    cfg = settings()
    with session_scope(engine()) as session:
        row = channel_db.set_schedule(
            session, channel_id=channel, cron=cron, timezone=timezone,
            default_timezone=cfg.paperboy_timezone,
        )  # fmt: skip
        stored_cron, stored_zone = row.cron, row.timezone
    upcoming = _next_digest(stored_cron, stored_zone)
    console.print(
        f"{channel} digests post on '{stored_cron}' {stored_zone}; next: {upcoming}",
        highlight=False,
    )


@app.command("channels")
@expected_errors
def list_channels(
    as_json: bool = typer.Option(False, "--json", help="One JSON document instead of a table."),
) -> None:
    """Channels with their topics, digest schedules, last digest and any pause."""
    with session_scope(engine()) as session:
        rows = channel_db.list_channels(session)
        topics = channel_db.topics_by_channel(session)
        authors = authors_by_channel(session)
        last = last_digests(session)
        data: list[dict[str, Any]] = [
            {
                "channel": c.channel_id,
                "topics": [t.name for t in topics.get(c.channel_id, [])],
                "authors": [a.name for a in authors.get(c.channel_id, [])],
                "cron": c.cron,
                "timezone": c.timezone,
                "next_digest": (
                    "paused"
                    if not c.active
                    else _next_digest(c.cron, c.timezone)
                    if topics.get(c.channel_id) or authors.get(c.channel_id)
                    else "none (no topics)"  # nothing is posted to a channel following nothing
                ),
                "max_papers": c.max_papers,
                "min_relevance": c.min_relevance,
                "include_trending": c.include_trending,
                "quiet_day_notice": c.quiet_day_notice,
                "style": c.style,
                "recommendations": c.recommendations,
                "last_digest": digest_json(last.get(c.channel_id)),
                "paused": pause_info(c),
            }
            for c in rows
        ]
    if as_json:
        console.print_json(json.dumps(data))
        return
    if not data:
        console.print("no channels yet: `paperboy follow --channel C0123 TOPIC`")
        return
    table = Table("channel", "topics", "schedule", "next digest", "papers", "style", "last digest")
    for d in data:
        paused, last = d["paused"], d["last_digest"]
        table.add_row(
            str(d["channel"]), _follows(d["topics"], d["authors"]),
            f"{d['cron']} {d['timezone']}",
            "paused" if paused else str(d["next_digest"]), str(d["max_papers"]), str(d["style"]),
            f"{last['status']} {(last['scheduled_for'] or '')[:16].replace('T', ' ')}"
            if last else "-",
        )  # fmt: skip
    console.print(table)
    for d in data:
        if d["paused"]:
            p = d["paused"]
            since = p["since"][:16].replace("T", " ")
            line = f"{d['channel']} paused since {since} UTC: slack: {p['code']}: {p['hint']}"
            console.print(f"{line}; {p['resume']}", markup=False, highlight=False, style="red")


def _follows(topics: list[str], authors: list[str]) -> str:
    """The table's topics cell, followed authors after them."""
    cell = ", ".join(topics)
    if authors:
        cell += ("; " if cell else "") + "authors: " + ", ".join(authors)
    return cell or "-"


@app.command("digest")
@expected_errors
def digest(
    channel: str = CHANNEL,
    dry_run: bool = typer.Option(False, "--dry-run", help="Build it and show it; post nothing."),
    as_json: bool = typer.Option(
        False, "--json", help="Print the exact chat.postMessage payloads (JSON)."
    ),
    force: bool = typer.Option(
        False, "--force", help="As if it were the first digest: include papers already posted."
    ),
) -> None:
    """Build (and unless --dry-run, post) one digest for a channel now."""
    channel = channel_arg(channel)
    cfg = settings()
    if not dry_run and not cfg.slack_bot_token:  # unset, or empty in .env
        raise UserInputError("SLACK_BOT_TOKEN is not set: set it to post, or use --dry-run")
    rt = runtime()
    result = run_digest(
        cfg, engine(), rt.poster, channel_id=channel, force=force, dry_run=dry_run,
        embedder=rt.embedder, taste=TasteDeps(rt.embedder, rt.s2),
    )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(result.payloads, indent=2, ensure_ascii=False))
    elif result.payloads:
        console.print(render_text(result.payloads), markup=False, highlight=False)
    if result.status == DigestOutcome.FAILED:
        raise UserInputError(f"digest for {channel} failed: {result.error}")
    summary = {
        DigestOutcome.DRY_RUN: (
            f"dry run: {len(result.payloads)} messages, {len(result.paper_ids)} papers"
        ),
        DigestOutcome.POSTED: (
            f"posted {result.posted} message{'' if result.posted == 1 else 's'} to {channel}"
        ),
        DigestOutcome.EMPTY: f"nothing new for {channel}",
        DigestOutcome.SKIPPED: f"another process is posting this digest to {channel}",
        DigestOutcome.DONE_BEFORE: f"this digest was posted to {channel} already",
    }.get(result.status, result.status)
    if result.resumed:
        noun = "message" if result.resumed == 1 else "messages"
        finished = f"finished {result.resumed} {noun} of an interrupted digest"
        if result.status in (DigestOutcome.POSTED, DigestOutcome.EMPTY) and result.posted == 0:
            summary = f"{finished} in {channel}"
        else:
            summary += f" (and {finished})"
    (typer.echo(summary, err=True) if as_json else console.print(summary, highlight=False))
