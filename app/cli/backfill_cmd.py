"""`paperboy backfill`: past papers from arXiv's OAI-PMH interface, with a progress bar."""

from __future__ import annotations

import dataclasses

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from app.backfill import SetReport, default_categories, parse_request, run_backfill
from app.cli._common import app, console, err_console, expected_errors, runtime
from app.cli.embed_cmds import index_with_progress
from app.errors import SourceError
from app.sources.oai import OaiClient

RESUME = "progress is saved: run the same command again to resume"


@app.command("backfill")
@expected_errors
def backfill(
    since: str = typer.Option(
        ..., "--since", help="First submission date to keep, YYYY-MM-DD (e.g. a year ago)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Last submission date to keep, YYYY-MM-DD. Default: no end."
    ),
    categories: str | None = typer.Option(
        None,
        "--categories",
        help="Comma-separated arXiv categories, e.g. cs.CL,cs.LG. Default: ARXIV_CATEGORIES "
        "and every topic's categories.",
    ),
) -> None:
    """Fill the archive with past papers through arXiv's OAI-PMH interface (run once).

    Polite (ARXIV_OAI_DELAY_SECONDS between requests) and resumable: after Ctrl-C or an error,
    the same command continues from the last stored page. Backfilled papers are searchable at
    once but never posted in digests nor summarized unless someone asks."""
    rt = runtime()
    cfg = rt.settings
    # Options are checked before the database is touched: a typo costs nothing.
    request = parse_request(
        since=since, until=until, categories=categories, default=list(cfg.arxiv_categories)
    )
    if categories is None:
        request = dataclasses.replace(request, categories=tuple(default_categories(cfg, rt.engine)))
    client = OaiClient(cfg)
    bar = _Bar()
    try:
        with bar.progress:
            report = run_backfill(
                rt.engine,
                client=client,
                request=request,
                embedder=rt.embedder,
                progress=bar.show,
            )
    except KeyboardInterrupt:
        err_console.print(f"interrupted: {RESUME}", highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    except SourceError as exc:
        raise SourceError(f"{exc}; {RESUME}") from None
    finally:
        client.close()
    for one in report.sets:
        console.print(one.line(), highlight=False, soft_wrap=True)
    # Searchable already (exact scan of new vectors); the index keeps search fast at this size.
    index_with_progress(rt.engine)


class _Bar:
    """One bar per OAI set: records read of the list's size (when arXiv says it), papers kept."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("records · {task.fields[stored]} papers stored · page {task.fields[pages]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def show(self, report: SetReport) -> None:
        task = self._tasks.get(report.set_spec)
        if task is None:
            task = self._tasks[report.set_spec] = self.progress.add_task(
                report.set_spec, total=None, stored=0, pages=0
            )
        self.progress.update(
            task,
            completed=report.cursor if report.cursor is not None else report.seen,
            total=report.total,
            stored=report.stored,
            pages=report.pages,
        )
