"""`paperboy summarize` and `paperboy worker`: the LLM queue from the command line.

`summarize` works the queue once and exits (a cron job, or after `paperboy ingest`); `worker`
runs until SIGTERM or Ctrl-C, finishing the job in hand first. The logic is in app/worker.py.
"""

from __future__ import annotations

import json
import threading

import typer

from app.cli._common import app, console, expected_errors, log_to_stderr, runtime
from app.relevance import enqueue_cards_for_new_papers
from app.runtime import install_stop_signals, run_worker_until
from app.worker import WorkerReport, drain


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
    rt = runtime()
    if rt.llm is None:
        console.print("No ANTHROPIC_API_KEY: nothing sent. Digests show extractive summaries.")
        return
    queued = (
        enqueue_cards_for_new_papers(rt.settings, rt.engine, embedder=rt.embedder)
        if queue_new
        else 0
    )
    report = drain(rt.settings, rt.engine, llm=rt.llm, pdfs=rt.pdfs, limit=limit)
    if as_json:
        console.print_json(json.dumps({"queued": queued, **report.as_dict()}))
        return
    console.print(f"{queued} new card jobs queued; {_summary_line(report)}.", highlight=False)


@app.command("worker")
@expected_errors
def worker_cmd() -> None:
    """Run the summary worker until SIGTERM or Ctrl-C (the job in hand finishes first)."""
    rt = runtime()
    log_to_stderr(rt.settings)
    rt.engine  # noqa: B018 - connect (and upgrade) before saying the worker runs
    stop = threading.Event()
    install_stop_signals(stop)
    if rt.llm is None:
        console.print("No ANTHROPIC_API_KEY: the worker waits; digests show extractive summaries.")
    report = run_worker_until(rt, stop=stop)
    if report is not None:
        console.print(f"worker stopped: {_summary_line(report)}.", highlight=False)
