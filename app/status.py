"""`paperboy status`: one dict made of sections, each from a provider function.

The sections are the explicit list `SECTIONS` at the end of this module. Each one's
`build(session, settings) -> dict` must be cheap and read-only; `render(data)` returns a rich
renderable for the text output (without one, the section prints as key: value lines).
`--json` prints `build_status(...)` as is, so keep values JSON-friendly (str, numbers, lists).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.backfill import recent_runs
from app.db.channels import list_channels
from app.db.embeddings import count_backlog
from app.db.jobs import queue_status
from app.db.models import DigestRun, IngestRun, IngestStatus, Paper, PaperEmbedding, PaperSignal
from app.db.pauses import last_digests
from app.digest.owed import owed_papers
from app.digest.pause import pause_info
from app.llm.budget import usage_today

Build = Callable[[Session, Settings], dict[str, Any]]
Render = Callable[[dict[str, Any]], RenderableType]


@dataclass(frozen=True)
class Section:
    name: str
    build: Build
    render: Render | None = None


# --- the ingest section ----------------------------------------------------------------------


def ingest_status(session: Session, settings: Settings) -> dict[str, Any]:
    """Paper counts and the last run of each source (plus its last successful one)."""
    total = session.scalar(select(func.count()).select_from(Paper)) or 0
    on_hf = (
        session.scalar(
            select(func.count())
            .select_from(PaperSignal)
            .where(PaperSignal.source == "hf", PaperSignal.data.has_key("upvotes"))
        )
        or 0
    )
    runs: dict[str, Any] = {}
    # arXiv and Hugging Face always (a missing run is worth seeing); others once they have run.
    seen = session.scalars(select(IngestRun.source).distinct().order_by(IngestRun.source))
    for source in dict.fromkeys(("arxiv", "hf", *seen)):
        last = session.scalars(
            select(IngestRun)
            .where(IngestRun.source == source)
            .order_by(IngestRun.started_at.desc(), IngestRun.id.desc())
            .limit(1)
        ).first()
        last_ok = session.scalar(
            select(func.max(IngestRun.started_at)).where(
                IngestRun.source == source, IngestRun.status == IngestStatus.OK
            )
        )
        runs[source] = {
            "last_run": _run_json(last) if last else None,
            "last_ok_at": _iso(last_ok),
        }
    return {
        "papers": {"total": total, "on_hugging_face": on_hf},
        "runs": runs,
        "offline": settings.paperboy_offline,
    }


def render_ingest(data: dict[str, Any]) -> RenderableType:
    table = Table(
        title=f"Ingestion ({data['papers']['total']} papers stored)", title_justify="left"
    )
    for column in (
        "source",
        "status",
        "started (UTC)",
        "fetched",
        "inserted",
        "updated",
        "skipped",
    ):
        table.add_column(column, justify="right" if column in _COUNTS else "left", no_wrap=True)
    table.add_column("error", overflow="fold")
    for source, info in data["runs"].items():
        run = info["last_run"]
        if run is None:
            table.add_row(source, "never run", *[""] * 6)
            continue
        colour = INGEST_COLOURS.get(run["status"], "")
        table.add_row(
            source,
            Text(run["status"], style=colour),
            (run["started_at"] or "")[:16].replace("T", " "),
            *(str(run[c]) for c in _COUNTS),
            Text(run["error"] or ""),  # Text, not markup: errors quote what upstream sent
        )
    # The error column is the first to be squeezed out of a narrow terminal: repeat each error
    # on its own line so a failing source is never shown as a silent blank.
    errors = [
        Text(f"{source}: {info['last_run']['error']}", style="red")
        for source, info in data["runs"].items()
        if info["last_run"] is not None and info["last_run"]["error"]
    ]
    return Group(table, *errors) if errors else table


_COUNTS = ("fetched", "inserted", "updated", "skipped")
# How an ingest run's status is shown, here and by `paperboy ingest`.
INGEST_COLOURS: dict[str, str] = {  # looked up by the plain status string too
    IngestStatus.OK: "green",
    IngestStatus.PARTIAL: "yellow",
    IngestStatus.FAILED: "red",
}


def _run_json(run: IngestRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        **{c: getattr(run, c) for c in _COUNTS},
        "error": run.error,
        "params": run.params,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


# --- the llm section -------------------------------------------------------------------------


def llm_status(session: Session, cfg: Settings) -> dict[str, Any]:
    return {**usage_today(session, cfg), **queue_status(session)}


def render_llm_status(data: dict[str, Any]) -> RenderableType:
    state = "on" if data["llm_enabled"] else "off (no ANTHROPIC_API_KEY: extractive summaries)"
    lines = [
        Text.from_markup(f"[bold]LLM[/bold] {data['model']}: {state}"),
        Text(
            f"  today ({data['day']} {data.get('timezone', 'UTC')}): ${data['cost_usd']:.4f} of "
            f"${data['budget_usd']:.2f}, {data['calls']} calls ({data['batch_calls']} batched, "
            f"{data['failed_calls']} failed)"
            + (f", ${data['reserved_usd']:.4f} in flight" if data.get("reserved_usd") else "")
        ),
        Text(
            f"  tokens: {data['input_tokens']:,} in, {data['output_tokens']:,} out, "
            f"{data['cache_write_tokens']:,} cache write, {data['cache_read_tokens']:,} cache read"
        ),
        Text("  queue: " + ", ".join(f"{n} {name}" for name, n in data["queue"].items())),
    ]
    if data.get("waiting_for_budget"):
        lines.append(Text(f"  {data['waiting_for_budget']} pending job(s) wait for the budget"))
    if data["budget_notice"]:
        lines.append(Text(f"  {data['budget_notice']}", style="yellow"))
    if not data["recent_failures"]:
        return Group(*lines)
    table = Table(title="Recent LLM failures", title_justify="left")
    for column in ("at", "what", "kind", "paper", "error"):
        table.add_column(column, overflow="fold")
    for row in data["recent_failures"]:
        # Text cells, not markup: stored error text may hold "[...]" that rich would parse.
        table.add_row(
            Text((row.get("at") or "")[:19].replace("T", " ")),
            Text(str(row["what"])),
            Text(row.get("kind") or ""),
            Text(row.get("arxiv_id") or ""),
            Text(row.get("error") or ""),
        )
    return Group(*lines, table)


# --- the channels section --------------------------------------------------------------------


def channels_status(session: Session, settings: Settings) -> dict[str, Any]:
    """Each channel's last digest and any pause (with the papers waiting for it)."""
    rows = list_channels(session)
    last = last_digests(session)
    owed = owed_papers(session, channel_ids=[c.channel_id for c in rows])
    return {
        c.channel_id: {
            "last_digest": digest_json(last.get(c.channel_id)),
            "paused": pause_info(c),
            "owed_papers": len(owed.get(c.channel_id, [])),
        }
        for c in rows
    }


def digest_json(run: DigestRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "status": run.status,
        "scheduled_for": _iso(run.scheduled_for),
        "finished_at": _iso(run.finished_at),
        "papers": len(run.paper_ids or []),
        "error": run.error,
    }


def render_channels(data: dict[str, Any]) -> RenderableType:
    if not data:
        return Text("Channels: none yet (`paperboy follow --channel C0123 TOPIC`)")
    table = Table(title="Channels", title_justify="left")
    for column in ("channel", "last digest", "scheduled (UTC)", "state"):
        table.add_column(column, overflow="fold")
    notes: list[Text] = []
    for channel_id, info in data.items():
        last, paused = info["last_digest"], info["paused"]
        state = Text("active", style="green")
        if paused:
            since = paused["since"][:16].replace("T", " ")
            state = Text(f"paused since {since}", style="red")
            # Text, not markup: the hint quotes `/invite @Paperboy` and Slack's codes.
            line = f"{channel_id}: slack: {paused['code']}: {paused['hint']}; {paused['resume']}"
            notes.append(Text(line, style="red"))
        if info["owed_papers"]:
            state.append(f", {info['owed_papers']} papers owed", style="yellow")
        outcome = last["status"] if last else "none yet"
        when = (last["scheduled_for"] or "")[:16].replace("T", " ") if last else ""
        table.add_row(channel_id, Text(outcome, style=DIGEST_COLOURS.get(outcome, "")), when, state)
    return Group(table, *notes) if notes else table


DIGEST_COLOURS = {"done": "green", "posting": "yellow", "failed": "red", "undelivered": "red"}


# What `paperboy status` shows, in this order: an explicit list, not import-time registration.
def backfill_status(session: Session, settings: Settings) -> dict[str, Any]:
    """The latest `paperboy backfill` runs: one line each, keyed by their range."""
    out: dict[str, Any] = {}
    for run in recent_runs(session):
        key = f"{run.set_spec} {','.join(run.categories)} {run.since}..{run.until or ''}"
        error = f" ({run.error})" if run.error and run.status != "done" else ""
        out[key] = (
            f"{run.status} - {run.stored} papers stored, {run.pages} pages, "
            f"{run.skipped} malformed skipped, updated {run.updated_at:%Y-%m-%d %H:%M}{error}"
        )
    return out


def search_status(session: Session, settings: Settings) -> dict[str, Any]:
    """Paper vectors, and how many wait for the HNSW index: searchable meanwhile by exact scan,
    which slows search while the backlog is large; a backlog that keeps growing means the
    scheduler's `index` job is not running (or failing: see /healthz)."""
    vectors = session.scalar(select(func.count()).select_from(PaperEmbedding)) or 0
    return {"vectors": vectors, "waiting_for_index": count_backlog(session)}


SECTIONS: list[Section] = [
    Section("ingest", ingest_status, render_ingest),
    Section("search", search_status),
    Section("llm", llm_status, render_llm_status),
    Section("channels", channels_status, render_channels),
    Section("backfill", backfill_status),
]


def build_status(
    settings: Settings, engine: Engine, sections: list[Section] | None = None
) -> dict[str, Any]:
    """Every section's data, read in one session (`--json` prints this as is)."""
    with Session(engine) as session:
        return {s.name: s.build(session, settings) for s in sections or SECTIONS}
