"""`paperboy related ID_OR_URL`: papers related to one paper (app/related.py)."""

from __future__ import annotations

import json

import typer
from rich.table import Table
from rich.text import Text

from app.cli._common import app, console, expected_errors, runtime
from app.related import MAX_LIMIT, related_papers
from app.slack.commands_parse import related_ref


@app.command("related")
@expected_errors
def related(
    id_or_url: str = typer.Argument(
        ...,
        help="An arXiv id or arXiv / Hugging Face link, a DOI, or a Semantic Scholar paper id or "
        "link.",
    ),
    limit: int = typer.Option(10, "--limit", help=f"How many papers (1 to {MAX_LIMIT})."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
) -> None:
    """The archive's nearest papers and Semantic Scholar's recommendations, merged and marked."""
    rt = runtime()
    ref = related_ref(id_or_url)  # a bad id or a foreign link: one line, nothing stored
    found = related_papers(
        rt.settings,
        rt.engine,
        s2=rt.s2,
        sources=rt.sources,
        embedder=rt.embedder,
        ref=ref,
        limit=limit,
    )
    if as_json:
        # Plain print: rich would wrap long lines and colour the JSON. The note goes to stderr.
        print(json.dumps([p.as_json() for p in found.papers], ensure_ascii=False))
        if found.note:
            typer.echo(found.note, err=True)
        return
    if found.note:
        console.print(Text(found.note, style="yellow"))
    if not found.papers:
        console.print(Text(f"no related papers for {found.label} yet"))
        return
    table = Table(title=Text(f"related to {found.label}: {found.title}"))
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("published", no_wrap=True)
    table.add_column("id", no_wrap=True)
    table.add_column("title", ratio=1)
    for paper in found.papers:
        authors = ", ".join(paper.authors[:3]) + (" et al." if len(paper.authors) > 3 else "")
        title = Text(paper.title)  # Text, not markup: titles are untrusted
        if authors:
            title.append(f"\n{authors}", style="dim")
        table.add_row(
            f"{paper.score:.3f}",
            "archive" if paper.source == "archive" else "Semantic Scholar",
            paper.published.date().isoformat() if paper.published else "",
            paper.arxiv_id or paper.url.rsplit("/", 1)[-1][:10],
            title,
        )
    console.print(table)
