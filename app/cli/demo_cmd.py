"""`paperboy demo` (what `make demo` runs): database, ingest, default topics, top papers.

Live when the network answers, else (or with PAPERBOY_OFFLINE=1) the bundled sample feed.
The demo is the explicit list of steps `STEPS` over one `DemoContext`.
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

from app.cli._common import app, console, expected_errors, runtime
from app.cli.ingest_cmds import ingest_built
from app.config import Settings
from app.db.topics import get_topic
from app.digest.ports import Poster
from app.digest.preview import demo_digest, render_text
from app.embeddings import Embedder
from app.ingest import IngestReport
from app.llm.client import LLM
from app.llm.fulltext import PdfFetcher
from app.relevance import refresh_relevance
from app.search import topic_candidates
from app.slack.channels import resolve_channel
from app.topics import ensure_default_topics
from app.worker import drain

# A live demo reads one page per category, so it finishes in well under a minute.
DEMO_MAX_PER_CATEGORY = 100
PROBE_SECONDS = 3.0
TOP_PER_TOPIC = 5
# Most LLM jobs the demo runs when a key is set (grades first, then cards).
DEMO_LLM_JOBS = 80


@dataclass
class DemoContext:
    settings: Settings
    engine: Engine
    llm: LLM | None
    pdfs: PdfFetcher
    poster: Poster
    embedder: Embedder
    demo_channel: str | None = None  # PAPERBOY_DEMO_CHANNEL's id, when the digest is posted
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
        ctx.report = ingest_built(live, ctx.engine, ctx.embedder)
        if not ctx.report.all_failed:
            return
        console.print("the live sources failed: using the bundled sample feed")
        ctx.offline = True
    ctx.settings = cfg.model_copy(update={"paperboy_offline": True})
    ctx.report = ingest_built(ctx.settings, ctx.engine, ctx.embedder)


def topics_step(ctx: DemoContext) -> None:
    with Session(ctx.engine) as session, session.begin():
        ctx.topic_names = [t.name for t in ensure_default_topics(session)]


def summaries_step(ctx: DemoContext) -> None:
    """With ANTHROPIC_API_KEY set, have Claude grade and summarize the best matches now.

    Direct calls only (no Message Batch, which can take an hour) and a small cap, so the demo
    costs a fraction of a cent; without a key the digest shows extractive summaries.
    """
    cfg = ctx.settings
    if ctx.llm is None:
        console.print("No ANTHROPIC_API_KEY: summaries below are extractive (marked as such)")
        return
    direct = cfg.model_copy(update={"llm_batch_min": 10**9})
    queued = refresh_relevance(direct, ctx.engine, embedder=ctx.embedder)
    with console.status("Claude is grading and summarizing the best matches..."):
        report = drain(direct, ctx.engine, llm=ctx.llm, pdfs=ctx.pdfs, limit=DEMO_LLM_JOBS)
    console.print(
        f"Claude: {queued.grades_queued} grades and {queued.cards_queued} cards queued, "
        f"{report.summarized} done, {report.fallbacks + report.retried + report.dead} fell back",
        highlight=False,
    )


def table_step(ctx: DemoContext) -> None:
    # One small table per topic: a narrow (non-tty, 80 columns) terminal still reads well.
    console.rule("Top papers for the default topics")
    with Session(ctx.engine) as session:
        for name in ctx.topic_names:
            topic = get_topic(session, name=name)
            hits = (
                topic_candidates(session, topic=topic, limit=TOP_PER_TOPIC, embedder=ctx.embedder)
                if topic
                else []
            )
            table = Table(title=Text(name, style="bold"), title_justify="left", expand=True)
            table.add_column("title", ratio=1)
            table.add_column("arXiv", no_wrap=True)
            table.add_column("published", no_wrap=True)
            table.add_column("HF ▲", justify="right", no_wrap=True)
            if not hits:
                table.add_row(Text("(nothing yet)", style="dim"), "", "", "")
            for hit in hits:
                table.add_row(
                    Text(hit.title),  # Text, not markup: titles are untrusted
                    hit.arxiv_id,
                    hit.published.date().isoformat() if hit.published else "",
                    str(hit.hf_upvotes) if hit.hf_upvotes is not None else "",
                )
            console.print(table)
    source = "the bundled sample feed" if ctx.offline else "arXiv and Hugging Face"
    console.print(f"Papers from {source}. Try: paperboy search 'LLM+retrieval'", highlight=False)


def demo_digest_step(ctx: DemoContext) -> None:
    """The end of `paperboy demo`: the demo channel's digest, in the terminal and as JSON."""
    cfg = ctx.settings
    result, path = demo_digest(
        cfg, ctx.engine, ctx.poster, topics=ctx.topic_names, channel_id=ctx.demo_channel,
        embedder=ctx.embedder,
    )  # fmt: skip
    console.rule("The digest a channel following these topics would get")
    if result.payloads:
        console.print(render_text(result.payloads), markup=False, highlight=False)
    else:
        console.print("(no papers for these topics yet)")
    if result.status == "posted":
        where = f"posted to {result.channel_id}"
    elif cfg.slack_bot_token and cfg.paperboy_demo_channel:
        where = f"nothing new to post to {cfg.paperboy_demo_channel}"
    else:
        where = "not posted: set SLACK_BOT_TOKEN and PAPERBOY_DEMO_CHANNEL to post it"
    console.print(f"Block Kit JSON: {path} ({where})", highlight=False)


# The demo, in order: an explicit list (no step registers itself from another module).
STEPS: list[Callable[[DemoContext], None]] = [
    ingest_step,
    topics_step,
    summaries_step,
    table_step,
    demo_digest_step,
]


@app.command("demo")
@expected_errors
def demo() -> None:
    """Ingest (live, or the bundled sample feed offline) and show the default topics' top papers."""
    rt = runtime()
    cfg = rt.settings
    channel = None
    if cfg.paperboy_demo_channel and cfg.slack_bot_token:
        # Checked before the minute of ingest: an id, link, mention or #name, as --channel takes.
        channel = resolve_channel(rt.slack, cfg.paperboy_demo_channel)
    ctx = DemoContext(
        settings=rt.settings,
        engine=rt.engine,
        llm=rt.llm,
        pdfs=rt.pdfs,
        poster=rt.poster,
        embedder=rt.embedder,
        demo_channel=channel,
    )
    for step in STEPS:
        step(ctx)
