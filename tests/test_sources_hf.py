"""Hugging Face source against the fake papers API: daily, trending, single papers, faults."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fakes.hf_api import FakeHF, hf_item

from app.config import Settings
from app.errors import SourceError
from app.sources.huggingface import HuggingFaceSource, parse_items

FIXTURES = Path(__file__).parent / "fixtures"
DAY = date(2026, 11, 24)


@pytest.fixture
def hf(settings: Settings, hf_fake: FakeHF):  # type: ignore[no-untyped-def]
    cfg = settings.model_copy(
        update={
            "hf_api_url": hf_fake.url,
            "hf_num_retries": 2,
            "source_retry_base_seconds": 0.01,
            "source_retry_max_wait_seconds": 2.0,
        }
    )
    with HuggingFaceSource(cfg) as source:
        yield source


class TestDaily:
    def test_reads_the_fields_that_live_under_paper(self, hf: HuggingFaceSource, hf_fake: FakeHF):
        hf_fake.daily[DAY.isoformat()] = json.loads((FIXTURES / "hf_daily_papers.json").read_text())
        page = hf.daily(DAY)
        assert page.skipped == 1  # the item without an id
        first, hf_only = page.records
        assert (first.provider, first.priority) == ("hf", 20)  # below arXiv: fills gaps only
        assert (first.arxiv_id, first.source, first.source_key) == (
            "2611.04512",
            "hf_daily",
            "2026-11-24",
        )
        assert first.signals["upvotes"] == 42
        assert first.signals["github_repo"] == "https://github.com/zoel/l1-attention"
        assert first.signals["github_stars"] == 318
        assert first.signals["ai_keywords"] == [
            "sparse attention",
            "L1 regularization",
            "long context",
        ]
        assert first.signals["num_comments"] == 3
        assert first.signals["organization"] == "ETH Zürich"
        assert (
            first.signals["first_featured_on"] == DAY.isoformat()
        )  # the item's publishedAt, not the paper's
        assert first.published == datetime(2026, 11, 20, 17, 59, 1, tzinfo=UTC)
        assert first.title.startswith(r"$\ell_1$-Regularized Attention")
        assert [a.name for a in first.authors] == ["Zoë Lindqvist", "Tomás Núñez"]
        assert hf_only.signals["github_repo"] is None and hf_only.signals["upvotes"] == 7
        request = hf_fake.requests[0]
        assert (request.path, request.params["date"]) == ("/api/daily_papers", "2026-11-24")

    def test_pages_through_a_long_day(self, hf: HuggingFaceSource, hf_fake: FakeHF):
        hf_fake.daily[DAY.isoformat()] = [hf_item(f"2611.{i:05d}") for i in range(130)]
        assert len(hf.daily(DAY).records) == 130
        assert [r.params["p"] for r in hf_fake.requests] == ["0", "1"]

    def test_a_day_without_papers_is_empty_not_an_error(self, hf: HuggingFaceSource):
        assert hf.daily(date(2026, 11, 22)).records == []


class TestTrendingAndSingle:
    def test_trending(self, hf: HuggingFaceSource, hf_fake: FakeHF):
        hf_fake.trending = [hf_item("2611.00001", upvotes=300), hf_item("2611.00002")]
        page = hf.trending()
        assert [(r.arxiv_id, r.source) for r in page.records] == [
            ("2611.00001", "hf_trending"),
            ("2611.00002", "hf_trending"),
        ]
        assert page.records[0].signals["upvotes"] == 300
        assert all(r.signals["first_trending_at"] is not None for r in page.records)
        assert hf_fake.requests[0].params["sort"] == "trending"

    def test_single_paper_and_unknown_paper(self, hf: HuggingFaceSource, hf_fake: FakeHF):
        hf_fake.papers["2611.00001"] = hf_item("2611.00001", upvotes=9)["paper"]
        record = hf.paper("2611.00001")
        assert record is not None and record.signals["upvotes"] == 9
        assert hf.paper("2611.99999") is None


class TestFaults:
    def test_invalid_json_is_a_source_error(self, hf: HuggingFaceSource, hf_fake: FakeHF):
        hf_fake.send_raw(b'[{"paper": {"id": "2611.0', content_type="application/json")
        with pytest.raises(SourceError, match="invalid JSON"):
            hf.trending()

    def test_unexpected_json_shape_is_a_source_error(self):
        with pytest.raises(SourceError, match="unexpected JSON shape"):
            parse_items({"error": "oops"}, source="hf_daily")

    def test_a_429_waits_for_retry_after(self, hf: HuggingFaceSource, hf_fake: FakeHF):
        hf_fake.trending = [hf_item("2611.00001")]
        hf_fake.fail(429, retry_after="1")
        assert len(hf.trending().records) == 1
        first, second = hf_fake.requests
        assert second.at - first.at >= 0.95

    def test_retry_after_is_capped(self, settings: Settings, hf_fake: FakeHF):
        cfg = settings.model_copy(
            update={
                "hf_api_url": hf_fake.url,
                "source_retry_base_seconds": 0.01,
                "source_retry_max_wait_seconds": 0.2,
            }
        )
        hf_fake.fail(429, retry_after="3600")
        with HuggingFaceSource(cfg) as hf:
            hf.trending()
        first, second = hf_fake.requests
        assert second.at - first.at < 1

    def test_5xx_then_success(self, hf: HuggingFaceSource, hf_fake: FakeHF):
        hf_fake.trending = [hf_item("2611.00001")]
        hf_fake.fail(502)
        assert len(hf.trending().records) == 1

    def test_persistent_5xx_is_a_source_error(self, hf: HuggingFaceSource, hf_fake: FakeHF):
        hf_fake.fail(503, times=5)
        with pytest.raises(SourceError, match=r"Hugging Face: HTTP 503 after 3 attempts"):
            hf.trending()

    def test_a_timeout_is_retried(self, hf: HuggingFaceSource, hf_fake: FakeHF, settings: Settings):
        cfg = settings.model_copy(
            update={
                "hf_api_url": hf_fake.url,
                "http_timeout_seconds": 0.3,
                "source_retry_base_seconds": 0.01,
            }
        )
        hf_fake.trending = [hf_item("2611.00001")]
        hf_fake.delay_next(1.0)
        with HuggingFaceSource(cfg) as slow:
            assert len(slow.trending().records) == 1
