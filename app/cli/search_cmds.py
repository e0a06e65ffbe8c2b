"""`paperboy topic add|list|remove` and `paperboy search`."""

from __future__ import annotations

import json
from typing import cast

import typer
from rich.table import Table
from rich.text import Text

from app.cli._common import app, console, engine, err_console, expected_errors, runtime
from app.db.engine import session_scope
from app.db.topics import list_topics
from app.search import MAX_LIMIT, MODES, Mode, has_vectors, normalize_query, search_papers
from app.topics import create_topic, remove_topic

topic_app = typer.Typer(help="Topics: named searches that channels follow.", no_args_is_help=True)
app.add_typer(topic_app, name="topic")


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@topic_app.command("add")
@expected_errors
def topic_add(
    name: str = typer.Argument(..., help="The topic's name, e.g. 'LLM agents'."),
    query: str | None = typer.Option(
        None, "--query", help="Search text (default: the name). Same syntax as `paperboy search`."
    ),
    arxiv_query: str | None = typer.Option(
        None, "--arxiv-query", help="A raw arXiv API query the ingest also runs, e.g. 'ti:agent'."
    ),
    categories: str | None = typer.Option(
        None, "--categories", help="Only papers in these arXiv categories, e.g. cs.CL,cs.AI."
    ),
    exclude: str | None = typer.Option(
        None, "--exclude", help="Comma-separated words or phrases: drop papers mentioning any."
    ),
) -> None:
    """Add a topic (adding the same topic again is harmless)."""
    with session_scope(engine()) as session:
        topic = create_topic(
            session,
            name=name,
            query=query,
            arxiv_query=arxiv_query,
            categories=_csv(categories),
            exclude=_csv(exclude),
        )
        line = Text(f"topic {topic.name!r}: ")
        line.append(normalize_query(topic.query), style="bold")
        if topic.categories:
            line.append(f"  in {','.join(topic.categories)}")
        if topic.exclude:
            line.append(f"  without {', '.join(topic.exclude)}")
    console.print(line)


@topic_app.command("remove")
@expected_errors
def topic_remove(
    name: list[str] = typer.Argument(..., help="The topic's name (words are joined)."),
    force: bool = typer.Option(
        False, "--force", help="Remove it even though channels follow it (they stop following)."
    ),
) -> None:
    """Delete a topic; refused while channels follow it, unless --force."""
    with session_scope(engine()) as session:
        removed, channels = remove_topic(session, name=" ".join(name), force=force)
    note = f"; {', '.join(channels)} no longer follow it" if channels else ""
    console.print(f"removed topic {removed!r}{note}", highlight=False, markup=False)


@topic_app.command("list")
@expected_errors
def topic_list() -> None:
    """List the topics with their queries."""
    with session_scope(engine()) as session:
        topics = list_topics(session)
        if not topics:
            console.print("no topics yet: add one with `paperboy topic add NAME`")
            return
        table = Table(title="Topics")
        for column in ("name", "query", "categories", "exclude", "arXiv query"):
            table.add_column(column)
        for t in topics:
            table.add_row(
                Text(t.name),
                Text(t.query),
                Text(",".join(t.categories or ()) or "any"),
                Text(", ".join(t.exclude or ())),
                Text(t.arxiv_query or ""),
            )
    console.print(table)


@app.command("search")
@expected_errors
def search(
    text: str = typer.Argument(
        ..., help='Words to find (AND); `+` also means AND, OR, "phrases", -word excludes.'
    ),
    limit: int = typer.Option(10, "--limit", help=f"How many papers (1 to {MAX_LIMIT})."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
    mode: str = typer.Option(
        "hybrid",
        "--mode",
        help=f"{' | '.join(MODES)}: words, meaning (paper vectors), or both fused.",
    ),
) -> None:
    """Search the stored papers by words and meaning, best first (blended with recency)."""
    rt = runtime()
    with session_scope(rt.engine) as session:
        hits = search_papers(
            session,
            text=text,
            limit=limit,
            mode=cast(Mode, mode),  # checked by search_papers: one line when unknown
            embedder=rt.embedder,
        )
        unembedded = (
            mode != "lexical"
            and all(hit.semantic_rank is None for hit in hits)
            and not has_vectors(session, model=rt.embedder.name)
        )
    if unembedded:
        # stderr: --json output stays one parsable line.
        err_console.print(
            f"note: no paper has a vector from {rt.embedder.name} yet, so this search "
            f"{'found nothing' if mode == 'semantic' else 'used words only'}: run `paperboy embed`",
            markup=False,
            highlight=False,
        )
    if as_json:
        # Plain print: rich would wrap long lines and colour the JSON.
        print(json.dumps([hit.as_json() for hit in hits], ensure_ascii=False))
        return
    if not hits:
        console.print(Text(f"no papers match {normalize_query(text)}"))
        return
    table = Table(title=Text(f"search: {normalize_query(text)}"))
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("published", no_wrap=True)
    table.add_column("arXiv", no_wrap=True)
    table.add_column("title", ratio=1)
    table.add_column("HF ▲", justify="right", no_wrap=True)
    table.add_column("words | meaning", justify="right", no_wrap=True)
    for hit in hits:
        authors = ", ".join(hit.authors[:3]) + (" et al." if len(hit.authors) > 3 else "")
        title = Text(hit.title)  # Text, not markup: titles are untrusted
        if authors:
            title.append(f"\n{authors}", style="dim")
        table.add_row(
            f"{hit.score:.3f}",
            hit.published.date().isoformat() if hit.published else "",
            hit.arxiv_id,
            title,
            "" if hit.hf_upvotes is None else str(hit.hf_upvotes),
            f"{_rank(hit.lexical_rank)} | {_rank(hit.semantic_rank)}",
        )
    console.print(table)


def _rank(rank: int | None) -> str:
    return "-" if rank is None else f"#{rank}"
