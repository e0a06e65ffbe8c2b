"""`paperboy serve` and `paperboy scheduler`: the long-running processes.

`paperboy serve` is the production entry point (the Docker image's CMD; `docker compose up` runs
it after `paperboy db upgrade`): the Slack app, the scheduler and a summary worker in one
process. `paperboy scheduler` runs the scheduled jobs alone, for a deployment that splits them
out. Both stop cleanly on SIGTERM or Ctrl-C. The wiring lives in app/slack/server.py.
"""

from __future__ import annotations

import logging
import threading

from app.cli._common import app, engine, expected_errors, settings
from app.slack.app import check_slack_settings
from app.slack.server import install_stop_signals, run_scheduler, serve


def _log_to_stderr() -> None:
    # Long-running processes log INFO (job runs, connections); one-off commands stay quiet.
    level = settings().log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    # Their INFO lines (each migration step, each job execution) drown out Paperboy's own.
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


@app.command("serve")
@expected_errors
def serve_cmd() -> None:
    """Run the Slack app (Socket Mode if SLACK_APP_TOKEN is set, else HTTP on PORT), the
    scheduler and a summary worker, until SIGTERM or Ctrl-C."""
    cfg = settings()
    check_slack_settings(cfg)  # one clear line before the database is even started
    _log_to_stderr()
    stop = threading.Event()
    install_stop_signals(stop)
    serve(cfg, engine(), stop=stop)


@app.command("scheduler")
@expected_errors
def scheduler_cmd() -> None:
    """Run only the scheduled jobs (ingest, digests, housekeeping) until SIGTERM or Ctrl-C."""
    _log_to_stderr()
    stop = threading.Event()
    install_stop_signals(stop)
    run_scheduler(settings(), engine(), stop=stop)
