"""`paperboy embed`: give every stored paper a vector from the current embedding model."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.cli._common import app, console, expected_errors, runtime
from app.db.embeddings import count_backlog, count_stale, embed_pending
from app.db.engine import session_scope
from app.ingest import index_vectors

# Papers per transaction: an interrupted run keeps what it committed and the next one resumes
# (what still needs a vector is decided from the data, not from a checkpoint).
BATCH = 1_000


@app.command("embed")
@expected_errors
def embed(
    batch: int = typer.Option(BATCH, "--batch", min=1, max=50_000, help="Papers per transaction."),
) -> None:
    """Embed the papers that have no vector yet, or one from another model or an older text.

    Ingest embeds new papers itself; run this after an upgrade from a release without
    embeddings, or after changing EMBEDDING_MODEL. Then adds every vector not yet in the
    search index to it. Safe to interrupt and to run again."""
    rt = runtime()
    embedder = rt.embedder
    with Session(rt.engine) as session:
        total = count_stale(session, model=embedder.name)
    if total == 0:
        console.print(f"every paper has a vector from {embedder.name}", markup=False)
        index_with_progress(rt.engine)
        return
    columns = (
        TextColumn("embedding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    done, after = 0, 0
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("embed", total=total)
        while True:
            with session_scope(rt.engine) as session:
                last, count = embed_pending(session, embedder=embedder, after_id=after, limit=batch)
            if last < 0:
                break
            after = last
            done += count
            progress.update(task, completed=min(done, total))
    console.print(f"embedded {done} papers with {embedder.name}", markup=False)
    index_with_progress(rt.engine)


def index_with_progress(engine: Engine) -> None:
    """Add the vectors not yet in the HNSW index to it, with a bar (they are searchable before,
    by exact scan; the index keeps search fast as the archive grows). The scheduler's `index`
    job does the same unattended; one run's rows are skipped by the other (SKIP LOCKED)."""
    with Session(engine) as session:
        total = count_backlog(session)
    if total == 0:
        return
    columns = (TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("index", total=total)
        done = index_vectors(engine, limit=total, progress=lambda n: progress.advance(task, n))
    console.print(f"added {done} vectors to the search index", markup=False)
