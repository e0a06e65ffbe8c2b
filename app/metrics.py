"""Paperboy's Prometheus metrics, all defined here; GET /metrics serves them (app/slack/server.py).

Two kinds, and the difference matters once there are several replicas:

- Counted in this process by the code that sees the event: digest outcomes, Slack API errors,
  HTTP request latency. Each process counts its own and starts from zero when it restarts;
  Prometheus adds replicas up (`sum by (outcome) (rate(paperboy_digests_total[1h]))`). Only a
  process with an HTTP front end (`paperboy serve`) is scraped: `paperboy scheduler` and
  `paperboy worker` count nothing anyone reads.
- Read from the database at scrape time (`DatabaseCollector`): ingest runs and papers per
  source, LLM spend today, the LLM queue, paused channels, vectors waiting for the search
  index. Every replica reports the same truth, whichever of them did the work, so aggregate
  these with `max`, not `sum`.

A leaf module: any layer may import it to count something, and it imports no other Paperboy
module. What the database holds is read above (app/slack/metrics_view.py) and handed in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "REGISTRY",
    "Collector",
    "DatabaseCollector",
    "DatabaseFacts",
    "count_digest",
    "count_slack_error",
    "observe_request",
    "render",
]

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST

# This process's own metrics. Not prometheus_client's global REGISTRY: nothing a library
# registers there by import ends up in Paperboy's output by surprise.
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

DIGESTS = Counter(
    "paperboy_digests",
    "Channel digests run by this process, by outcome (posted, failed, empty, ...).",
    ["outcome"],
    registry=REGISTRY,
)
SLACK_API_ERRORS = Counter(
    "paperboy_slack_api_errors",
    "Slack Web API calls answered with an error, each attempt counted, by method and code "
    "(Slack's error, http_<status>, or the network error's name).",
    ["method", "code"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "paperboy_http_request_duration_seconds",
    "Time to answer an HTTP request (Slack must have its ack within 3 s), by path.",
    ["path"],
    # Slack's 3-second deadline sits between the last two finite buckets.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
# Paths as they appear in the latency histogram; anything else is "other" (bounded labels).
KNOWN_PATHS = ("/slack/events", "/healthz", "/metrics")


def count_digest(outcome: str) -> None:
    """One digest run finished with `outcome` (app/digest DigestOutcome)."""
    DIGESTS.labels(outcome=outcome).inc()


def count_slack_error(*, method: str, code: str) -> None:
    SLACK_API_ERRORS.labels(method=method, code=code).inc()


def observe_request(path: str, seconds: float) -> None:
    HTTP_LATENCY.labels(path=path if path in KNOWN_PATHS else "other").observe(seconds)


@dataclass(frozen=True)
class DatabaseFacts:
    """What the database says at scrape time (read by app/slack/metrics_view.py)."""

    ingest_runs: dict[tuple[str, str], int] = field(default_factory=dict)  # (source, status)
    ingest_papers: dict[tuple[str, str], int] = field(default_factory=dict)  # (source, change)
    ingest_last_ok: dict[str, float] = field(default_factory=dict)  # source -> Unix time
    llm_spend_today_usd: float = 0.0
    llm_budget_usd: float = 0.0
    llm_queue: dict[str, int] = field(default_factory=dict)  # job state -> jobs
    channels_paused: int = 0
    vectors_waiting: int = 0  # paper vectors not yet in the HNSW index


class DatabaseCollector(Collector):
    """Metrics read from the database on each scrape through `read`.

    A scrape still answers when the database is down: `paperboy_database_up` is then 0 and
    only this process's own metrics follow (/healthz says what is wrong).
    """

    def __init__(self, read: Callable[[], DatabaseFacts]) -> None:
        self._read = read

    def describe(self) -> Iterable[Metric]:
        return []  # collected fresh on every scrape; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "paperboy_database_up", "1 when /metrics could read the database, else 0."
        )
        try:
            facts = self._read()
        except Exception:  # a scrape must answer without the database; traceback logged
            log.warning("metrics: cannot read the database", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _database_metrics(facts)


def _database_metrics(facts: DatabaseFacts) -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "paperboy_ingest_runs",
        "Finished ingest runs, by source and status (ok, partial, failed).",
        labels=["source", "status"],
    )
    for (source, status), n in sorted(facts.ingest_runs.items()):
        runs.add_metric([source, status], n)
    yield runs
    papers = CounterMetricFamily(
        "paperboy_ingest_papers",
        "Papers stored by ingest runs, by source and change (inserted, updated).",
        labels=["source", "change"],
    )
    for (source, change), n in sorted(facts.ingest_papers.items()):
        papers.add_metric([source, change], n)
    yield papers
    last_ok = GaugeMetricFamily(
        "paperboy_ingest_last_success_timestamp_seconds",
        "When each source's last successful ingest run finished (Unix time).",
        labels=["source"],
    )
    for source, at in sorted(facts.ingest_last_ok.items()):
        last_ok.add_metric([source], at)
    yield last_ok
    yield GaugeMetricFamily(
        "paperboy_llm_spend_today_usd",
        "LLM spend today (budget day in PAPERBOY_TIMEZONE), including calls in flight and what"
        " submitted batches may still cost.",
        value=facts.llm_spend_today_usd,
    )
    yield GaugeMetricFamily(
        "paperboy_llm_budget_usd", "LLM_DAILY_BUDGET_USD.", value=facts.llm_budget_usd
    )
    queue = GaugeMetricFamily(
        "paperboy_llm_queue_jobs", "LLM jobs in the queue, by state.", labels=["state"]
    )
    for state, n in sorted(facts.llm_queue.items()):
        queue.add_metric([state], n)
    yield queue
    yield GaugeMetricFamily(
        "paperboy_channels_paused",
        "Channels whose digests are paused after a permanent Slack error.",
        value=facts.channels_paused,
    )
    yield GaugeMetricFamily(
        "paperboy_vectors_waiting_for_index",
        "Paper vectors not yet in the HNSW search index (found by exact scan until the index job"
        " adds them; a growing number means that job is not running).",
        value=facts.vectors_waiting,
    )


class _Together:
    """This process's registry and a database collector, rendered as one exposition."""

    def __init__(self, *parts: Collector) -> None:
        self._parts = parts

    def collect(self) -> Iterator[Metric]:
        for part in self._parts:
            yield from part.collect()


def render(database: Collector | None = None) -> bytes:
    """The Prometheus text exposition of everything above (CONTENT_TYPE)."""
    parts: list[Collector] = [REGISTRY] if database is None else [REGISTRY, database]
    return generate_latest(_Together(*parts))
