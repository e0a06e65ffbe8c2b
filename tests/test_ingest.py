"""run_ingest end to end: fakes for both sources, the real database, runs recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes.arxiv_api import FakeArxiv, arxiv_paper
from fakes.hf_api import FakeHF, hf_item
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import IngestRun, Paper, PaperEmbedding, PaperSource, Topic
from app.errors import SourceError
from app.ingest import fetch_paper_on_demand, run_ingest
from app.sources import build_sources
from tests.deps import embedder

NOW = datetime.now(UTC)
TODAY = NOW.date().isoformat()


@pytest.fixture
def cfg(settings: Settings, arxiv_fake: FakeArxiv, hf_fake: FakeHF) -> Settings:
    return settings.model_copy(
        update={
            "arxiv_api_url": arxiv_fake.url,
            "hf_api_url": hf_fake.url,
            "arxiv_categories": ["cs.CL", "cs.LG"],
            "arxiv_page_size": 2,
            "arxiv_num_retries": 1,
            "hf_num_retries": 1,
            "hf_days": 2,
            "source_retry_base_seconds": 0.01,
        }
    )


@pytest.fixture
def stocked(arxiv_fake: FakeArxiv, hf_fake: FakeHF) -> None:
    """Three cs.CL papers, one cs.LG paper; Hugging Face features one of them and one of its own."""
    arxiv_fake.add(
        arxiv_paper("2611.00001", title="Retrieval for LLMs", published=NOW - timedelta(hours=1)),
        arxiv_paper("2611.00002", published=NOW - timedelta(hours=2)),
        arxiv_paper("2611.00003", published=NOW - timedelta(hours=3)),
        arxiv_paper("2611.00004", categories=["cs.LG"], published=NOW - timedelta(hours=4)),
    )
    hf_fake.daily[TODAY] = [
        hf_item("2611.00001", title="HF's title", upvotes=30, githubRepo="https://github.com/a/b"),
        hf_item("2611.00009", title="Only on Hugging Face", upvotes=4),
    ]
    hf_fake.trending = [hf_item("2611.00002", upvotes=99)]


def papers(engine: Engine) -> dict[str, Paper]:
    with Session(engine) as session:
        return {p.arxiv_id: p for p in session.scalars(select(Paper))}


def runs(engine: Engine) -> list[IngestRun]:
    with Session(engine) as session:
        return list(session.scalars(select(IngestRun).order_by(IngestRun.id)))


def provenance_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(PaperSource)) or 0


@pytest.mark.usefixtures("stocked")
class TestRunIngest:
    def test_both_sources_merge_into_one_row_per_paper(self, cfg: Settings, engine: Engine):
        report = run_ingest(cfg, engine, sources=build_sources(cfg), embedder=embedder())
        assert [(s.source, s.status) for s in report.sources] == [("arxiv", "ok"), ("hf", "ok")]
        stored = papers(engine)
        assert sorted(stored) == [f"2611.0000{i}" for i in (1, 2, 3, 4, 9)]
        with Session(engine) as session:  # every stored paper is searchable by meaning at once
            assert session.scalar(select(func.count()).select_from(PaperEmbedding)) == 5
        merged = stored["2611.00001"]
        assert merged.title == "Retrieval for LLMs"  # arXiv's metadata wins
        assert merged.hf_upvotes == 30
        assert merged.hf_github_repo == "https://github.com/a/b"
        assert merged.hf_featured_on == NOW.date()
        assert stored["2611.00002"].hf_trending_at is not None
        assert stored["2611.00009"].title == "Only on Hugging Face"
        arxiv_run, hf_run = runs(engine)
        assert (arxiv_run.status, arxiv_run.fetched, arxiv_run.inserted) == ("ok", 4, 4)
        assert (hf_run.status, hf_run.fetched, hf_run.inserted, hf_run.updated) == ("ok", 3, 1, 2)
        assert arxiv_run.finished_at is not None and arxiv_run.error is None

    def test_running_twice_changes_nothing(self, cfg: Settings, engine: Engine):
        run_ingest(cfg, engine, sources=build_sources(cfg), embedder=embedder())
        before = {k: (p.title, p.last_changed_at, p.hf_upvotes) for k, p in papers(engine).items()}
        sightings = provenance_count(engine)
        report = run_ingest(cfg, engine, sources=build_sources(cfg), embedder=embedder())
        after = {k: (p.title, p.last_changed_at, p.hf_upvotes) for k, p in papers(engine).items()}
        assert after == before
        assert provenance_count(engine) == sightings == 7
        assert [(s.inserted, s.updated) for s in report.sources] == [(0, 0), (0, 0)]

    def test_a_new_version_updates_the_row_in_place(
        self, cfg: Settings, engine: Engine, arxiv_fake: FakeArxiv
    ):
        run_ingest(cfg, engine, sources=build_sources(cfg), source="arxiv", embedder=embedder())
        arxiv_fake.add(
            arxiv_paper(
                "2611.00003",
                version=2,
                title="Revised title",
                published=NOW - timedelta(hours=3),
                updated=NOW,
            )
        )
        report = run_ingest(
            cfg, engine, sources=build_sources(cfg), source="arxiv", embedder=embedder()
        )
        assert report.sources[0].updated == 1
        paper = papers(engine)["2611.00003"]
        assert (paper.version, paper.title) == (2, "Revised title")
        assert len(papers(engine)) == 4

    def test_upvotes_refresh(self, cfg: Settings, engine: Engine, hf_fake: FakeHF):
        run_ingest(cfg, engine, sources=build_sources(cfg), embedder=embedder())
        hf_fake.trending = [hf_item("2611.00002", upvotes=250)]
        run_ingest(cfg, engine, sources=build_sources(cfg), source="hf", embedder=embedder())
        assert papers(engine)["2611.00002"].hf_upvotes == 250

    def test_arxiv_down_hf_still_ingested_and_nothing_changed(
        self, cfg: Settings, engine: Engine, arxiv_fake: FakeArxiv
    ):
        run_ingest(cfg, engine, sources=build_sources(cfg), source="arxiv", embedder=embedder())
        before = {k: (p.title, p.version, p.updated) for k, p in papers(engine).items()}
        arxiv_fake.add(arxiv_paper("2611.00001", version=2, title="Must not land"))
        arxiv_fake.fail(503, times=10)
        report = run_ingest(cfg, engine, sources=build_sources(cfg), embedder=embedder())
        arxiv_report, hf_report = report.sources
        assert arxiv_report.status == "failed" and "HTTP 503" in (arxiv_report.error or "")
        assert hf_report.status == "ok" and not report.all_failed
        stored = papers(engine)
        assert {
            k: (p.title, p.version, p.updated) for k, p in stored.items() if k in before
        } == before
        assert stored["2611.00009"].hf_upvotes == 4
        failed_run = runs(engine)[1]
        assert (failed_run.source, failed_run.status) == ("arxiv", "failed")
        assert "HTTP 503" in (failed_run.error or "")

    def test_malformed_xml_fails_arxiv_only(
        self, cfg: Settings, engine: Engine, arxiv_fake: FakeArxiv
    ):
        arxiv_fake.send_raw(b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><title>cut")
        report = run_ingest(cfg, engine, sources=build_sources(cfg), embedder=embedder())
        assert [s.status for s in report.sources] == ["failed", "ok"]
        assert "malformed XML" in (report.sources[0].error or "")
        stored = papers(engine)
        assert sorted(stored) == ["2611.00001", "2611.00002", "2611.00009"]  # from HF alone
        assert all(p.primary_category is None for p in stored.values())

    def test_hf_invalid_json_fails_hf_only(self, cfg: Settings, engine: Engine, hf_fake: FakeHF):
        hf_fake.send_raw(b"<html>Bad gateway</html>", content_type="text/html")
        report = run_ingest(cfg, engine, sources=build_sources(cfg), embedder=embedder())
        assert [s.status for s in report.sources] == ["ok", "failed"]
        assert "invalid JSON" in (report.sources[1].error or "")
        stored = papers(engine)
        assert "2611.00009" not in stored  # nothing from the failed Hugging Face run
        assert stored["2611.00001"].hf_upvotes is None

    def test_a_later_category_failing_keeps_the_earlier_one(
        self, cfg: Settings, engine: Engine, arxiv_fake: FakeArxiv
    ):
        arxiv_fake.failing_queries["cat:cs.LG"] = 503
        report = run_ingest(
            cfg, engine, sources=build_sources(cfg), source="arxiv", embedder=embedder()
        )
        src = report.sources[0]
        assert src.status == "partial" and src.completed == ["cs.CL"]
        assert "HTTP 503" in (src.error or "")
        assert sorted(papers(engine)) == ["2611.00001", "2611.00002", "2611.00003"]

    def test_malformed_entries_are_counted_in_the_run(
        self, cfg: Settings, engine: Engine, arxiv_fake: FakeArxiv
    ):
        arxiv_fake.add_raw_entry("  <entry><title>no id</title></entry>", published=NOW)
        report = run_ingest(
            cfg, engine, sources=build_sources(cfg), source="arxiv", embedder=embedder()
        )
        assert (report.sources[0].status, report.sources[0].skipped) == ("ok", 1)
        assert runs(engine)[0].skipped == 1

    def test_hostile_hugging_face_values_do_not_sink_the_run(
        self, cfg: Settings, engine: Engine, hf_fake: FakeHF
    ):
        # Valid JSON PostgreSQL cannot store as is: a NUL in text, an integer past int4.
        hf_fake.daily[TODAY] = [
            hf_item("2611.00007", title="Nul\u0000 title", upvotes=10**12, ai_keywords=["a\x00b"]),
            hf_item("2611.00008", title="A fine paper", upvotes=2),
        ]
        report = run_ingest(
            cfg, engine, sources=build_sources(cfg), source="hf", embedder=embedder()
        )
        assert report.sources[0].status == "ok", report.sources[0].error
        stored = papers(engine)
        assert stored["2611.00007"].title == "Nul title"
        assert stored["2611.00007"].hf_upvotes is None
        assert stored["2611.00007"].hf_ai_keywords == ["ab"]
        assert stored["2611.00008"].hf_upvotes == 2

    def test_oversized_arxiv_values_do_not_sink_the_run(
        self, cfg: Settings, engine: Engine, arxiv_fake: FakeArxiv
    ):
        arxiv_fake.add(
            arxiv_paper("2611.00005", doi="10.1/" + "x" * 300, published=NOW),
            arxiv_paper("2611.00006", categories=["cs." + "C" * 100, "cs.CL"], published=NOW),
        )
        report = run_ingest(
            cfg, engine, sources=build_sources(cfg), source="arxiv", embedder=embedder()
        )
        assert (report.sources[0].status, report.sources[0].skipped) == ("ok", 1)
        stored = papers(engine)
        assert stored["2611.00005"].doi is None
        assert "2611.00006" not in stored and "2611.00001" in stored


class TestArxivWindow:
    def test_the_next_run_reads_back_to_the_last_run_minus_the_overlap(
        self, cfg: Settings, engine: Engine, arxiv_fake: FakeArxiv
    ):
        for i in range(2):
            arxiv_fake.add(arxiv_paper(f"2611.1000{i}", published=NOW - timedelta(hours=1 + i)))
        for i in range(4):
            arxiv_fake.add(arxiv_paper(f"2611.2000{i}", published=NOW - timedelta(days=10 + i)))
        cfg = cfg.model_copy(update={"arxiv_categories": ["cs.CL"]})
        run_ingest(cfg, engine, sources=build_sources(cfg), source="arxiv", embedder=embedder())
        assert len(arxiv_fake.queries()) == 3
        arxiv_fake.requests.clear()
        run_ingest(cfg, engine, sources=build_sources(cfg), source="arxiv", embedder=embedder())
        assert len(arxiv_fake.queries()) == 2  # stops at the page holding a 10-day-old paper

    def test_days_sets_the_window(self, cfg: Settings, engine: Engine, arxiv_fake: FakeArxiv):
        arxiv_fake.add(arxiv_paper("2611.10000", published=NOW - timedelta(hours=1)))
        arxiv_fake.add(arxiv_paper("2611.20000", published=NOW - timedelta(days=3)))
        cfg = cfg.model_copy(update={"arxiv_categories": ["cs.CL"]})
        run_ingest(
            cfg, engine, sources=build_sources(cfg), source="arxiv", days=1, embedder=embedder()
        )
        assert sorted(papers(engine)) == ["2611.10000"]

    def test_topic_arxiv_queries_are_fetched_too(
        self, cfg: Settings, engine: Engine, arxiv_fake: FakeArxiv
    ):
        arxiv_fake.add(arxiv_paper("2611.30000", categories=["q-bio.NC"]))
        arxiv_fake.add(arxiv_paper("2611.30001", categories=["cs.CL"]))
        cfg = cfg.model_copy(update={"arxiv_categories": ["cs.CL", "cs.XX"]})
        arxiv_fake.query_results['abs:"spiking networks"'] = ["2611.30000"]
        arxiv_fake.bad_queries.add("ti:((")
        with Session(engine) as session, session.begin():
            session.add(
                Topic(name="Spiking", query="spiking", arxiv_query='abs:"spiking networks"')
            )
            session.add(Topic(name="Broken", query="broken", arxiv_query="ti:(("))
        report = run_ingest(
            cfg, engine, sources=build_sources(cfg), source="arxiv", embedder=embedder()
        )
        src = report.sources[0]
        assert src.status == "partial", src.error
        assert "topic:Broken" in (src.error or "")
        assert "empty pages for cat:cs.XX" in (src.error or "")  # a typo'd category
        assert src.completed == ["cs.CL", "topic:Spiking"]
        with Session(engine) as session:
            keys = set(session.scalars(select(PaperSource.source_key)))
        assert "topic:Spiking" in keys


class TestOffline:
    def test_offline_reads_the_bundled_sample(self, settings: Settings, engine: Engine):
        cfg = settings.model_copy(update={"paperboy_offline": True})
        report = run_ingest(cfg, engine, sources=build_sources(cfg), embedder=embedder())
        assert [s.status for s in report.sources] == ["ok", "ok"]
        stored = papers(engine)
        assert len(stored) >= 60
        assert sum(1 for p in stored.values() if p.hf_upvotes is not None) >= 20
        newest = max(p.published for p in stored.values() if p.published)
        assert NOW - newest < timedelta(days=2)  # shifted to look recent
        assert (
            run_ingest(cfg, engine, sources=build_sources(cfg), embedder=embedder())
            .sources[0]
            .inserted
            == 0
        )


class TestOnDemand:
    def test_fetches_and_merges_both_sources(
        self, cfg: Settings, engine: Engine, arxiv_fake: FakeArxiv, hf_fake: FakeHF
    ):
        arxiv_fake.add(arxiv_paper("2611.00007", title="On demand"))
        hf_fake.papers["2611.00007"] = hf_item("2611.00007", upvotes=12)["paper"]
        paper = fetch_paper_on_demand(
            cfg, engine, sources=build_sources(cfg), arxiv_id="2611.00007v1", embedder=embedder()
        )
        assert paper is not None
        assert (paper.title, paper.hf_upvotes) == ("On demand", 12)
        assert arxiv_fake.queries()[0]["id_list"] == "2611.00007"

    def test_unknown_paper_is_none(self, cfg: Settings, engine: Engine):
        assert (
            fetch_paper_on_demand(
                cfg, engine, sources=build_sources(cfg), arxiv_id="2611.99999", embedder=embedder()
            )
            is None
        )

    def test_both_sources_down_is_a_source_error(self, settings: Settings, engine: Engine):
        cfg = settings.model_copy(
            update={"arxiv_num_retries": 0, "hf_num_retries": 0, "source_retry_base_seconds": 0}
        )
        with pytest.raises(SourceError, match="arXiv"):
            fetch_paper_on_demand(
                cfg, engine, sources=build_sources(cfg), arxiv_id="2611.00007", embedder=embedder()
            )
