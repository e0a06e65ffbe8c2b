"""`paperboy follow|unfollow|channels|digest`: channel subscriptions and digests from a shell.

The same service functions as the Slack `/papers follow` commands (app/db/channels.py) and the
scheduler's digests (app/digest/), for operators and tests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from app.cli._common import app, console, engine, expected_errors, settings
from app.cli.demo_cmd import STEPS, DemoContext
from app.db import channels as channel_db
from app.db.engine import session_scope
from app.digest.preview import demo_digest, render_text
from app.digest.run import DigestOutcome, run_digest
from app.errors import UserInputError
from app.slack.poster import make_web_client

CHANNEL = typer.Option(..., "--channel", "-c", help="Slack channel id, like C0123456789.")


@app.command("follow")
@expected_errors
def follow(
    topic: list[str] = typer.Argument(..., help="Topic name (words are joined)."),
    channel: str = CHANNEL,
    query: str | None = typer.Option(None, help="Search query for a new topic (default: name)."),
) -> None:
    """Make a channel follow a topic (both are created when new)."""
    cfg = settings()
    with session_scope(engine()) as session:
        row, topic_row, created = channel_db.follow(
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
    topic: list[str] = typer.Argument(..., help="Topic name."),
    channel: str = CHANNEL,
) -> None:
    """Stop a channel following a topic."""
    name = " ".join(topic)
    with session_scope(engine()) as session:
        if not channel_db.unfollow(session, channel_id=channel, topic_name=name):
            raise UserInputError(f"{channel} does not follow {name!r}")
    console.print(f"{channel} no longer follows [bold]{name}[/bold]", highlight=False)


def _next_digest(cron: str, timezone: str) -> str:
    try:
        fire = channel_db.cron_trigger(cron, timezone).get_next_fire_time(None, datetime.now(UTC))
    except UserInputError:
        return "invalid schedule"
    return fire.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %H:%M") if fire else "never"


@app.command("channels")
@expected_errors
def list_channels(
    as_json: bool = typer.Option(False, "--json", help="One JSON document instead of a table."),
) -> None:
    """Channels with their topics and digest schedules."""
    with session_scope(engine()) as session:
        rows = channel_db.list_channels(session)
        topics = channel_db.topics_by_channel(session)
        data = [
            {
                "channel": c.channel_id,
                "topics": [t.name for t in topics.get(c.channel_id, [])],
                "cron": c.cron,
                "timezone": c.timezone,
                "next_digest": _next_digest(c.cron, c.timezone) if c.active else "paused",
                "max_papers": c.max_papers,
                "min_relevance": c.min_relevance,
                "include_trending": c.include_trending,
                "quiet_day_notice": c.quiet_day_notice,
                "style": c.style,
            }
            for c in rows
        ]
    if as_json:
        console.print_json(json.dumps(data))
        return
    if not data:
        console.print("no channels yet: `paperboy follow --channel C0123 TOPIC`")
        return
    table = Table("channel", "topics", "schedule", "next digest", "papers", "style")
    for d in data:
        table.add_row(
            str(d["channel"]), ", ".join(d["topics"]) or "-", f"{d['cron']} {d['timezone']}",
            str(d["next_digest"]), str(d["max_papers"]), str(d["style"]),
        )  # fmt: skip
    console.print(table)


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
    cfg = settings()
    if not dry_run and not cfg.slack_bot_token:  # unset, or empty in .env
        raise UserInputError("SLACK_BOT_TOKEN is not set: set it to post, or use --dry-run")
    result = run_digest(
        cfg, engine(), make_web_client(cfg), channel_id=channel, force=force, dry_run=dry_run
    )
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
        if result.status == DigestOutcome.POSTED and result.posted == 0:
            summary = f"{finished} in {channel}"
        else:
            summary += f" (and {finished})"
    (typer.echo(summary, err=True) if as_json else console.print(summary, highlight=False))


def demo_digest_step(ctx: DemoContext) -> None:
    """The end of `paperboy demo`: the demo channel's digest, in the terminal and as JSON."""
    result, path = demo_digest(ctx.settings, ctx.engine, topics=ctx.topic_names)
    console.rule("The digest a channel following these topics would get")
    if result.payloads:
        console.print(render_text(result.payloads), markup=False, highlight=False)
    else:
        console.print("(no papers for these topics yet)")
    cfg = ctx.settings
    if result.status == DigestOutcome.POSTED:
        where = f"posted to {result.channel_id}"
    elif cfg.slack_bot_token and cfg.paperboy_demo_channel:
        where = f"nothing new to post to {cfg.paperboy_demo_channel}"
    else:
        where = "not posted: set SLACK_BOT_TOKEN and PAPERBOY_DEMO_CHANNEL to post it"
    console.print(f"Block Kit JSON: {path} ({where})", highlight=False)


STEPS.append(demo_digest_step)  # demo_cmd's extension point: steps run in order
