"""`paperboy serve` and `paperboy scheduler`: the long-running processes.

`paperboy serve` is the production entry point (the Docker image's CMD; `docker compose up` runs
it after `paperboy db upgrade`): the Slack app, the scheduler and a summary worker in one
process. `paperboy scheduler` runs the scheduled jobs alone, for a deployment that splits them
out. Both stop cleanly on SIGTERM or Ctrl-C. The wiring lives in app/runtime.py.
"""

from __future__ import annotations

import threading

from app.cli._common import app, expected_errors, log_to_stderr, runtime
from app.runtime import install_stop_signals, run_scheduler, serve
from app.slack.app import check_slack_settings


@app.command("serve")
@expected_errors
def serve_cmd() -> None:
    """Run the Slack app (Socket Mode if SLACK_APP_TOKEN is set, else HTTP on PORT), the
    scheduler and a summary worker, until SIGTERM or Ctrl-C."""
    rt = runtime()
    check_slack_settings(rt.settings)  # one clear line before the database is even started
    log_to_stderr(rt.settings)
    stop = threading.Event()
    install_stop_signals(stop)
    serve(rt, stop=stop)


@app.command("scheduler")
@expected_errors
def scheduler_cmd() -> None:
    """Run only the scheduled jobs (ingest, digests, indexing, housekeeping) until SIGTERM."""
    rt = runtime()
    log_to_stderr(rt.settings)
    stop = threading.Event()
    install_stop_signals(stop)
    run_scheduler(rt, stop=stop)
