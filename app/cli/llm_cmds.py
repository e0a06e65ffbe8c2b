"""`paperboy summarize` and `paperboy worker`: the LLM queue from the command line.

`summarize` works the queue once and exits (a cron job, or after `paperboy ingest`); `worker`
runs until SIGTERM or Ctrl-C, finishing the job in hand first. The logic is in app/worker.py.
Also adds the "llm" section of `paperboy status`: today's spend and tokens, the queue by state,
recent failures.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from typing import Any

import typer
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from app.cli._common import app, console, engine, expected_errors, settings
from app.config import Settings
from app.db.jobs import queue_status
from app.llm.budget import usage_today
from app.llm.client import get_llm
from app.relevance import enqueue_cards_for_new_papers
from app.status import register_section
from app.worker import WorkerReport, drain, run_worker


def _summary_line(report: WorkerReport) -> str:
    return (
        f"{report.summarized} summarized, {report.fallbacks} extractive fallbacks, "
        f"{report.skipped} already done, {report.retried} to retry, {report.dead} failed for good, "
        f"{report.deferred} deferred (budget), {report.batches} batches"
    )


@app.command("summarize")
@expected_errors
def summarize_cmd(
    limit: int | None = typer.Option(None, "--limit", min=1, help="Work on at most N jobs."),
    queue_new: bool = typer.Option(
        True, "--queue-new/--no-queue-new", help="First queue cards for new papers on a topic."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Summarize and grade what is queued, once (direct, or as a half-price Message Batch when
    at least LLM_BATCH_MIN jobs wait), then exit."""
    cfg = settings()
    if get_llm(cfg) is None:
        console.print("No ANTHROPIC_API_KEY: nothing sent. Digests show extractive summaries.")
        return
    eng = engine()
    queued = enqueue_cards_for_new_papers(cfg, eng) if queue_new else 0
    report = drain(cfg, eng, limit=limit)
    if as_json:
        console.print_json(json.dumps({"queued": queued, **report.as_dict()}))
        return
    console.print(f"{queued} new card jobs queued; {_summary_line(report)}.", highlight=False)


@app.command("worker")
@expected_errors
def worker_cmd() -> None:
    """Run the summary worker until SIGTERM or Ctrl-C (the job in hand finishes first)."""
    cfg = settings()
    logging.basicConfig(
        level=cfg.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger().setLevel(cfg.log_level.upper())
    eng = engine()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    result: list[WorkerReport] = []
    thread = threading.Thread(
        target=lambda: result.append(run_worker(cfg, eng, stop)), name="worker", daemon=True
    )
    thread.start()
    if get_llm(cfg) is None:
        console.print("No ANTHROPIC_API_KEY: the worker waits; digests show extractive summaries.")
    # The main thread only sleeps: a signal handler setting an Event the same thread is waiting
    # on can deadlock, so the loop polls.
    while not stop.is_set() and thread.is_alive():
        time.sleep(0.2)
    stop.set()
    thread.join()
    if result:
        console.print(f"worker stopped: {_summary_line(result[0])}.", highlight=False)


# --- the "llm" section of `paperboy status` ---------------------------------------------------


def llm_status(session: Session, cfg: Settings) -> dict[str, Any]:
    return {**usage_today(session, cfg), **queue_status(session)}


def render_llm_status(data: dict[str, Any]) -> RenderableType:
    state = "on" if data["llm_enabled"] else "off (no ANTHROPIC_API_KEY: extractive summaries)"
    lines = [
        Text.from_markup(f"[bold]LLM[/bold] {data['model']}: {state}"),
        Text(
            f"  today ({data['day']} UTC): ${data['cost_usd']:.4f} of ${data['budget_usd']:.2f}, "
            f"{data['calls']} calls ({data['batch_calls']} batched, {data['failed_calls']} failed)"
        ),
        Text(
            f"  tokens: {data['input_tokens']:,} in, {data['output_tokens']:,} out, "
            f"{data['cache_write_tokens']:,} cache write, {data['cache_read_tokens']:,} cache read"
        ),
        Text("  queue: " + ", ".join(f"{n} {name}" for name, n in data["queue"].items())),
    ]
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


register_section("llm", llm_status, render=render_llm_status)
