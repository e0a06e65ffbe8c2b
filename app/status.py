"""`paperboy status`: one dict made of sections, each from a provider function.

Areas add their own section at import time (e.g. the LLM area's spend and queue):

    from app.status import register_section
    register_section("llm", build_llm_status, render=render_llm_status)

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
from app.db.models import IngestRun, Paper, PaperSignal

Build = Callable[[Session, Settings], dict[str, Any]]
Render = Callable[[dict[str, Any]], RenderableType]


@dataclass(frozen=True)
class Section:
    name: str
    build: Build
    render: Render | None = None


_SECTIONS: dict[str, Section] = {}


def register_section(name: str, build: Build, *, render: Render | None = None) -> None:
    """Add (or replace) a section; sections print in registration order."""
    _SECTIONS[name] = Section(name, build, render)


def sections() -> list[Section]:
    return list(_SECTIONS.values())


def build_status(settings: Settings, engine: Engine) -> dict[str, Any]:
    with Session(engine) as session:
        return {s.name: s.build(session, settings) for s in _SECTIONS.values()}


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
                IngestRun.source == source, IngestRun.status == "ok"
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
        colour = {"ok": "green", "partial": "yellow", "failed": "red"}.get(run["status"], "")
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


register_section("ingest", ingest_status, render=render_ingest)
