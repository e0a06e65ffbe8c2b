"""What GET /metrics reads from the database on each scrape (app/metrics.py DatabaseCollector).

Read at scrape time rather than counted in memory, so every replica reports the same numbers
whichever of them ingested or spent.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from app.config import Settings
from app.db import tallies
from app.db.embeddings import count_backlog
from app.db.engine import session_scope
from app.db.jobs import queue_depth
from app.llm.budget import spent_today
from app.metrics import DatabaseCollector, DatabaseFacts


def read_facts(engine: Engine, settings: Settings) -> DatabaseFacts:
    with session_scope(engine) as session:
        # A wedged database must not hang the scrape (Prometheus times out at 10 s by default).
        session.execute(text("SET LOCAL statement_timeout = 3000"))
        return DatabaseFacts(
            ingest_runs=tallies.ingest_runs_by_status(session),
            ingest_papers=tallies.ingest_papers_by_source(session),
            ingest_last_ok={
                source: at.timestamp() for source, at in tallies.last_ingest_ok(session).items()
            },
            llm_spend_today_usd=float(spent_today(session, settings)),
            llm_budget_usd=float(settings.llm_daily_budget_usd),
            llm_queue={str(state): n for state, n in queue_depth(session).items()},
            channels_paused=tallies.paused_channels(session),
            vectors_waiting=count_backlog(session),
        )


def database_collector(engine: Engine, settings: Settings) -> DatabaseCollector:
    return DatabaseCollector(lambda: read_facts(engine, settings))
