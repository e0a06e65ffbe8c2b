"""`paperboy ingest` and `paperboy status`."""

from __future__ import annotations

import json
from collections.abc import Sequence

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine

from app.cli._common import app, console, engine, expected_errors, runtime, settings
from app.config import Settings
from app.embeddings import Embedder
from app.ingest import IngestReport, SourceReport, run_ingest
from app.sources import Source, build_sources, close_sources
from app.status import INGEST_COLOURS, SECTIONS, build_status


@app.command("ingest")
@expected_errors
def ingest(
    source: str = typer.Option(
        "all", "--source", help="A source's name (arxiv, hf; openreview when configured) or all."
    ),
    days: int | None = typer.Option(
        None,
        "--days",
        help="Read further back: arXiv submissions of the last N days (still capped per "
        "category), Hugging Face's last N daily lists. Default: since the last run.",
    ),
) -> None:
    """Fetch new papers from arXiv and Hugging Face into the store.

    Prints one line per source; exits non-zero only when every source failed."""
    rt = runtime()
    report = ingest_with_progress(
        rt.settings, rt.engine, rt.sources, rt.embedder, source=source, days=days
    )
    if report.all_failed:
        raise typer.Exit(1)


def ingest_with_progress(
    cfg: Settings,
    eng: Engine,
    sources: Sequence[Source],
    embedder: Embedder,
    *,
    source: str = "all",
    days: int | None = None,
) -> IngestReport:
    """Run an ingest with a spinner naming the current step; print each source's line."""
    with console.status("ingesting", spinner="dots") as spinner:
        report = run_ingest(
            cfg,
            eng,
            source=source,
            days=days,
            progress=spinner.update,
            sources=sources,
            embedder=embedder,
        )
    print_report(report)
    return report


def ingest_built(cfg: Settings, eng: Engine, embedder: Embedder) -> IngestReport:
    """An ingest with sources built from `cfg` for this one run (the demo adjusts its settings
    per attempt: live with a small cap, then the bundled sample feed)."""
    sources = build_sources(cfg)
    try:
        return ingest_with_progress(cfg, eng, sources, embedder)
    finally:
        close_sources(sources)


def print_report(report: IngestReport, out: Console = console) -> None:
    for src in report.sources:
        out.print(_line(src), highlight=False)


def _line(src: SourceReport) -> Text:
    line = src.line()
    name, _, rest = line.partition(": ")
    status, _, detail = rest.partition(" - ")
    text = Text(f"{name}: ")
    text.append(status, style=INGEST_COLOURS.get(status, ""))
    text.append(f" - {detail}")
    return text


@app.command("status")
@expected_errors
def status(
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """The last run of each source with its counts and errors (and other areas' sections)."""
    data = build_status(settings(), engine())
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    for section in SECTIONS:
        value = data.get(section.name)
        if value is None:
            continue
        if section.render is not None:
            console.print(section.render(value))
        else:
            console.print(f"[bold]{section.name}[/bold]")
            for key, item in value.items():
                console.print(f"  {key}: {item}", highlight=False)
