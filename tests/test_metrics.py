"""GET /metrics: what an operator's Prometheus scrapes, read over real HTTP from the running app.

Process-local counters keep counting across tests in one process, so these compare a scrape
before and after; what comes from the database belongs to this test's database alone.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from deps import embedder
from digest_helpers import NOW, add_paper, slack_settings
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from app.db import channels
from app.db import jobs as queue
from app.db.engine import session_scope
from app.db.models import IngestRun, IngestStatus, LlmCall
from app.digest import run_due_digests
from app.ingest import index_vectors, store_records
from app.metrics import DatabaseCollector, render
from app.slack.poster import SlackPoster, make_web_client
from app.sources.records import PaperRecord
from app.topics import follow

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    response = httpx.get(url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class TestDigests:
    @pytest.fixture
    def two_channels(self, engine: Engine) -> None:
        """C1 and C2 follow one topic, are due every hour, and three papers match."""
        with session_scope(engine) as session:
            for channel_id in ("C1", "C2"):
                follow(session, channel_id=channel_id, topic_name="language models")
                channels.set_schedule(
                    session, channel_id=channel_id, cron="0 * * * *", timezone="UTC"
                )
            for i in range(3):
                add_paper(session, f"2501.0000{i + 1}", f"Language models, part {i}")

    @pytest.mark.usefixtures("two_channels")
    def test_a_posted_and_a_failed_digest_are_counted_with_slack_error_code(
        self, slack_app_server: Any, slack_fake: Any, engine: Engine
    ) -> None:
        settings = slack_settings(slack_app_server.settings, slack_fake)
        before = scrape(slack_app_server.url)
        slack_fake.error_next("chat.postMessage", "channel_not_found")  # whichever posts first

        results = run_due_digests(settings, engine, SlackPoster(make_web_client(settings)), now=NOW)

        assert sorted(r.status for r in results) == ["failed", "posted"]
        after = scrape(slack_app_server.url)
        for outcome in ("posted", "failed"):
            grew = value(after, "paperboy_digests_total", outcome=outcome) - value(
                before, "paperboy_digests_total", outcome=outcome
            )
            assert grew == 1, outcome
        error = {"method": "chat.postMessage", "code": "channel_not_found"}
        assert (
            value(after, "paperboy_slack_api_errors_total", **error)
            - value(before, "paperboy_slack_api_errors_total", **error)
            == 1
        )


class TestFromTheDatabase:
    def test_llm_queue_depth_and_spend_today(self, slack_app_server: Any, engine: Engine) -> None:
        with session_scope(engine) as session:
            for arxiv_id in ("2501.00001", "2501.00002"):
                queue.enqueue(session, kind="card", arxiv_id=arxiv_id)
            session.add(LlmCall(model="claude-haiku-5-5", purpose="card", cost_usd=Decimal("0.25")))
            session.add(
                LlmCall(
                    model="claude-haiku-5-5",
                    purpose="card",
                    cost_usd=Decimal("9"),
                    at=NOW - timedelta(days=2),  # not today
                )
            )

        samples = scrape(slack_app_server.url)

        assert value(samples, "paperboy_llm_queue_jobs", state="pending") == 2
        assert value(samples, "paperboy_llm_queue_jobs", state="dead") == 0
        assert value(samples, "paperboy_llm_spend_today_usd") == pytest.approx(0.25)
        assert value(samples, "paperboy_llm_budget_usd") == 1.0
        assert value(samples, "paperboy_database_up") == 1

    def test_ingest_runs_and_papers_per_source(self, slack_app_server: Any, engine: Engine) -> None:
        with session_scope(engine) as session:
            session.add_all([
                IngestRun(source="arxiv", status=IngestStatus.OK, inserted=40, updated=2,
                          finished_at=NOW),
                IngestRun(source="arxiv", status=IngestStatus.FAILED, error="arXiv answered 503"),
                IngestRun(source="hf", status=IngestStatus.OK, inserted=5, finished_at=NOW),
                IngestRun(source="hf", status=IngestStatus.RUNNING),  # not finished: not counted
            ])  # fmt: skip

        samples = scrape(slack_app_server.url)

        runs = "paperboy_ingest_runs_total"
        assert value(samples, runs, source="arxiv", status="ok") == 1
        assert value(samples, runs, source="arxiv", status="failed") == 1
        assert value(samples, runs, source="hf", status="ok") == 1
        assert value(samples, runs, source="hf", status="running") == 0
        papers = "paperboy_ingest_papers_total"
        assert value(samples, papers, source="arxiv", change="inserted") == 40
        assert value(samples, papers, source="arxiv", change="updated") == 2
        assert value(samples, papers, source="hf", change="inserted") == 5
        last_ok = value(samples, "paperboy_ingest_last_success_timestamp_seconds", source="hf")
        assert last_ok == pytest.approx(NOW.timestamp(), abs=1)
        assert value(samples, "paperboy_channels_paused") == 0
        assert value(samples, "paperboy_vectors_waiting_for_index") == 0

    def test_vectors_waiting_for_the_index(self, slack_app_server: Any, engine: Engine) -> None:
        with session_scope(engine) as session:
            store_records(
                session,
                records=[PaperRecord(arxiv_id="2611.60001", title="A paper", abstract="Words.")],
                embedder=embedder(),
            )
        assert value(scrape(slack_app_server.url), "paperboy_vectors_waiting_for_index") == 1
        index_vectors(engine, limit=10)
        assert value(scrape(slack_app_server.url), "paperboy_vectors_waiting_for_index") == 0

    def test_a_scrape_still_answers_when_the_database_cannot_be_read(self) -> None:
        def unreachable() -> Any:
            raise OSError("connection refused")

        samples = parse(render(DatabaseCollector(unreachable)).decode())

        assert value(samples, "paperboy_database_up") == 0
        assert ("paperboy_llm_spend_today_usd", ()) not in samples


class TestLatency:
    def test_each_request_is_timed_by_path(self, slack_app_server: Any) -> None:
        count = "paperboy_http_request_duration_seconds_count"
        before = scrape(slack_app_server.url)
        for _ in range(3):
            assert httpx.get(slack_app_server.url + "/healthz").status_code == 200
        httpx.get(slack_app_server.url + "/no/such/page")

        after = scrape(slack_app_server.url)

        assert value(after, count, path="/healthz") - value(before, count, path="/healthz") == 3
        assert value(after, count, path="other") - value(before, count, path="other") == 1
        # The scrape before was timed too, once the answer was built.
        assert value(after, count, path="/metrics") >= 1
        slowest = value(after, "paperboy_http_request_duration_seconds_bucket", path="/healthz",
                        le="+Inf")  # fmt: skip
        assert slowest >= 3
