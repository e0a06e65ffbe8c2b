"""The Semantic Scholar source: citations and venues for stored papers through the batch
endpoint, on its own ingest run, in turn, and into the digest's ranking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes.semantic_scholar import FakeSemanticScholar, s2_paper
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.enrichment import enrichment_candidates
from app.db.models import IngestRun, IngestStatus, Paper, PaperSignal
from app.db.papers import external_ids, upsert_papers
from app.digest.rank import WEIGHTS, PaperFacts, citation_term, rank
from app.ingest import run_ingest
from app.sources import build_sources, close_sources
from app.sources.base import StoredQuery
from app.sources.records import PaperRecord
from app.sources.s2_enrichment import SemanticScholarSource
from app.sources.sample import SampleFeed, SampleSource
from tests.deps import embedder

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture
def cfg(settings: Settings, s2_fake: FakeSemanticScholar) -> Settings:
    return settings.model_copy(
        update={"semantic_scholar_api_url": s2_fake.url, "semantic_scholar_enrich_max": 500}
    )


def store(engine: Engine, *arxiv_ids: str, days_ago: int = 1) -> None:
    with Session(engine) as session:
        upsert_papers(
            session,
            records=[
                PaperRecord(
                    arxiv_id=a,
                    title=f"Stored {a}",
                    abstract="An arXiv abstract.",
                    published=datetime.now(UTC) - timedelta(days=days_ago),
                )
                for a in arxiv_ids
            ],
        )
        session.commit()


def s2_signals(engine: Engine) -> dict[str, dict]:
    with Session(engine) as session:
        rows = session.execute(
            select(Paper.arxiv_id, PaperSignal.data)
            .join(PaperSignal, PaperSignal.paper_id == Paper.id)
            .where(PaperSignal.source == "s2")
        )
        return {a: d for a, d in rows}


def enrich(cfg: Settings, engine: Engine):  # type: ignore[no-untyped-def]
    source = SemanticScholarSource(cfg)
    try:
        return run_ingest(cfg, engine, sources=[source], embedder=embedder()).sources[0]
    finally:
        source.close()


class TestEnrichment:
    def test_a_partial_batch_enriches_the_known_papers(
        self, cfg: Settings, engine: Engine, s2_fake: FakeSemanticScholar
    ) -> None:
        store(engine, "2601.00001", "2601.00002", "2601.00003")
        known = s2_fake.add_paper(
            s2_paper(
                "2601.00001",
                citations=12,
                influential=3,
                venue="ACL",
                publication_venue={"id": "x", "name": "Annual Meeting of the ACL"},
                year=2026,
                title="S2's own title, never over arXiv's",
            )
        )
        s2_fake.add_paper(s2_paper("2601.00003", citations=0, venue=""))
        report = enrich(cfg, engine)
        assert report.status == IngestStatus.OK
        assert (report.fetched, report.skipped) == (3, 1)  # 2601.00002: unknown to S2
        signals = s2_signals(engine)
        assert signals["2601.00001"] == {
            "citation_count": 12,
            "influential_citation_count": 3,
            "venue": "ACL",
            "publication_venue": "Annual Meeting of the ACL",
            "year": 2026,
        }
        assert signals["2601.00003"]["citation_count"] == 0
        assert "2601.00002" not in signals
        with Session(engine) as session:
            paper = session.scalars(select(Paper).where(Paper.arxiv_id == "2601.00001")).one()
            assert paper.title == "Stored 2601.00001"
            assert external_ids(session, paper_id=paper.id)["s2"] == known["paperId"]
        body = s2_fake.requests[0].json()
        assert sorted(body["ids"]) == ["ARXIV:2601.00001", "ARXIV:2601.00002", "ARXIV:2601.00003"]

    def test_a_429_is_waited_out(
        self, cfg: Settings, engine: Engine, s2_fake: FakeSemanticScholar
    ) -> None:
        store(engine, "2601.00001")
        s2_fake.add_paper(s2_paper("2601.00001", citations=5))
        s2_fake.fail(429, retry_after="0.2")
        assert enrich(cfg, engine).status == IngestStatus.OK
        assert s2_signals(engine)["2601.00001"]["citation_count"] == 5
        assert len(s2_fake.requests) == 2

    def test_once_known_papers_are_asked_by_their_s2_id_and_refreshed(
        self, cfg: Settings, engine: Engine, s2_fake: FakeSemanticScholar
    ) -> None:
        store(engine, "2601.00001")
        paper = s2_fake.add_paper(s2_paper("2601.00001", citations=5))
        enrich(cfg, engine)
        paper["citationCount"] = 9
        enrich(cfg.model_copy(update={"semantic_scholar_refresh_hours": 0.0}), engine)
        assert s2_fake.requests[-1].json()["ids"] == [paper["paperId"]]
        assert s2_signals(engine)["2601.00001"]["citation_count"] == 9

    def test_an_outage_fails_only_its_own_run(
        self, cfg: Settings, engine: Engine, s2_fake: FakeSemanticScholar
    ) -> None:
        store(engine, "2601.00001")
        s2_fake.down()
        quick = cfg.model_copy(update={"semantic_scholar_deadline_seconds": 1.0})
        feed = SampleFeed()
        s2 = SemanticScholarSource(quick)
        report = run_ingest(
            quick, engine, sources=[SampleSource("arxiv", feed), s2], embedder=embedder()
        )
        s2.close()
        assert [(r.source, r.status) for r in report.sources] == [
            ("arxiv", IngestStatus.OK),
            ("s2", IngestStatus.FAILED),
        ]
        assert "Semantic Scholar" in (report.sources[1].error or "")
        with Session(engine) as session:
            runs = dict(session.execute(select(IngestRun.source, IngestRun.status)).all())
        assert runs == {"arxiv": IngestStatus.OK, "s2": IngestStatus.FAILED}


class TestWhichPapers:
    def query(self, limit: int = 10) -> StoredQuery:
        return StoredQuery(limit=limit, recent_days=14, refresh_after=timedelta(hours=20))

    def test_never_asked_first_newest_first_then_capped(
        self, cfg: Settings, engine: Engine, s2_fake: FakeSemanticScholar
    ) -> None:
        store(engine, "2601.00001", days_ago=30)
        store(engine, "2601.00002", days_ago=2)
        store(engine, "2601.00003", days_ago=1)
        with Session(engine) as session:
            got = enrichment_candidates(session, source="s2", query=self.query(limit=2))
        assert got == [{"arxiv": "2601.00003"}, {"arxiv": "2601.00002"}]

    def test_asked_papers_wait_until_due_and_old_ones_are_not_refreshed(
        self, cfg: Settings, engine: Engine, s2_fake: FakeSemanticScholar
    ) -> None:
        store(engine, "2601.00001", days_ago=30)
        store(engine, "2601.00002", days_ago=2)
        enrich(cfg, engine)  # both unknown to S2: recorded as asked all the same
        with Session(engine) as session:
            assert enrichment_candidates(session, source="s2", query=self.query()) == []
            later = datetime.now(UTC) + timedelta(hours=21)
            due = enrichment_candidates(session, source="s2", query=self.query(), now=later)
        assert due == [{"arxiv": "2601.00002"}]  # the 30-day-old paper is not refreshed


def test_the_registry_runs_s2_last_and_can_turn_it_off(settings: Settings, cfg: Settings) -> None:
    on, off = build_sources(cfg), build_sources(settings)
    try:
        assert [s.name for s in on] == ["arxiv", "hf", "s2_authors", "s2"]
        assert "s2" not in [s.name for s in off]
    finally:
        close_sources(on + off)


class TestCitationsInRanking:
    def test_the_term_is_bounded_and_logarithmic(self) -> None:
        assert citation_term(None) == citation_term(0) == 0.0
        assert citation_term(7) == pytest.approx(0.53, abs=0.01)
        assert citation_term(WEIGHTS.citations_full_at) == citation_term(10_000) == 1.0

    def test_citations_break_a_tie_and_lift_at_most_one_grade_point(self) -> None:
        base = {"lexical": 1.0, "published": NOW}
        ranked = rank(
            [
                PaperFacts(arxiv_id="a", grade=7, **base),
                PaperFacts(arxiv_id="b", grade=7, citations=40, **base),
                PaperFacts(arxiv_id="c", grade=9, **base),
                PaperFacts(arxiv_id="d", grade=8, citations=10_000, **base),
            ],
            now=NOW,
        )
        scores = {r.arxiv_id: r.score for r in ranked}
        assert scores["b"] > scores["a"]
        assert scores["d"] == pytest.approx(scores["c"])  # 10,000 citations = one grade point
