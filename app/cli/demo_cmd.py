"""`paperboy demo` (what `make demo` runs): database, ingest, default topics, top papers.

Live when the network answers, else (or with PAPERBOY_OFFLINE=1) the bundled sample feed.
The demo is a list of steps (`STEPS`) over one `DemoContext`; later areas append theirs (e.g. a
digest preview) without touching the earlier ones.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.cli._common import app, console, engine, expected_errors, settings
from app.cli.ingest_cmds import ingest_with_progress
from app.config import Settings
from app.ingest import IngestReport

# A live demo reads one page per category, so it finishes in well under a minute.
DEMO_MAX_PER_CATEGORY = 100
PROBE_SECONDS = 3.0
TOP_PER_TOPIC = 5


@dataclass
class DemoContext:
    settings: Settings
    engine: Engine
    offline: bool = False
    report: IngestReport | None = None
    topic_names: list[str] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)  # for later steps


def reachable(url: str, *, timeout: float = PROBE_SECONDS) -> bool:
    """Can we open a TCP connection to the host of `url`? (DNS failures count as no.)"""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def ingest_step(ctx: DemoContext) -> None:
    cfg = ctx.settings
    if cfg.paperboy_offline:
        console.print("PAPERBOY_OFFLINE=1: using the bundled sample feed")
        ctx.offline = True
    elif not reachable(cfg.arxiv_api_url):
        console.print("arXiv is unreachable (offline?): using the bundled sample feed")
        ctx.offline = True
    if not ctx.offline:
        live = cfg.model_copy(
            update={
                "arxiv_max_per_category": min(cfg.arxiv_max_per_category, DEMO_MAX_PER_CATEGORY)
            }
        )
        ctx.report = ingest_with_progress(live, ctx.engine)
        if not ctx.report.all_failed:
            return
        console.print("the live sources failed: using the bundled sample feed")
        ctx.offline = True
    ctx.settings = cfg.model_copy(update={"paperboy_offline": True})
    ctx.report = ingest_with_progress(ctx.settings, ctx.engine)


def topics_step(ctx: DemoContext) -> None:
    from app.db.topics import ensure_default_topics

    with Session(ctx.engine) as session, session.begin():
        ctx.topic_names = [t.name for t in ensure_default_topics(session)]


def table_step(ctx: DemoContext) -> None:
    from app.db.topics import get_topic
    from app.search import topic_candidates

    table = Table(title="Top papers for the default topics", expand=True)
    table.add_column("topic", style="bold", no_wrap=True)
    table.add_column("title", ratio=1)
    table.add_column("arXiv", no_wrap=True)
    table.add_column("published", no_wrap=True)
    table.add_column("HF ▲", justify="right", no_wrap=True)
    with Session(ctx.engine) as session:
        for name in ctx.topic_names:
            topic = get_topic(session, name=name)
            hits = topic_candidates(session, topic=topic, limit=TOP_PER_TOPIC) if topic else []
            if not hits:
                table.add_row(name, Text("(nothing yet)", style="dim"), "", "", "")
            for i, hit in enumerate(hits):
                table.add_row(
                    name if i == 0 else "",
                    Text(hit.title),  # Text, not markup: titles are untrusted
                    hit.arxiv_id,
                    hit.published.date().isoformat() if hit.published else "",
                    str(hit.hf_upvotes) if hit.hf_upvotes is not None else "",
                    end_section=i == len(hits) - 1,
                )
    console.print(table)
    source = "the bundled sample feed" if ctx.offline else "arXiv and Hugging Face"
    console.print(f"Papers from {source}. Try: paperboy search 'LLM+retrieval'", highlight=False)


STEPS: list[Callable[[DemoContext], None]] = [ingest_step, topics_step, table_step]


@app.command("demo")
@expected_errors
def demo() -> None:
    """Ingest (live, or the bundled sample feed offline) and show the default topics' top papers."""
    ctx = DemoContext(settings=settings(), engine=engine())
    for step in STEPS:
        step(ctx)
