"""The OpenReview source: papers without an arXiv id, stored by their OpenReview id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes.openreview_api import FakeOpenReview, or_note
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Paper, PaperSignal
from app.db.papers import external_ids, find_paper, upsert_papers
from app.ingest import run_ingest
from app.sources import Source, build_sources, close_sources
from app.sources.openreview import OpenReviewSource, note_record
from app.sources.records import PaperRecord
from tests.deps import embedder

VENUE = "ICLR.cc/2026/Conference/-/Submission"


@pytest.fixture
def cfg(settings: Settings, openreview_fake: FakeOpenReview) -> Settings:
    return settings.model_copy(
        update={
            "openreview_api_url": openreview_fake.url,
            "openreview_invitations": [VENUE],
            "openreview_num_retries": 0,
        }
    )


class TestRegistry:
    def test_off_until_a_venue_is_configured(self, settings: Settings, cfg: Settings) -> None:
        off, on = build_sources(settings), build_sources(cfg)
        try:
            assert [s.name for s in off] == ["arxiv", "hf", "s2_authors"]
            assert [s.name for s in on] == ["arxiv", "hf", "openreview", "s2_authors"]
            assert all(isinstance(s, Source) for s in on)
        finally:
            close_sources(off + on)

    def test_offline_the_sample_feed_stands_in(self, settings: Settings) -> None:
        sources = build_sources(settings, offline=True)
        assert [(s.name, s.priority) for s in sources] == [("arxiv", 100), ("hf", 20)]
        assert all(isinstance(s, Source) for s in sources)


def test_a_note_becomes_a_record_with_only_an_openreview_id() -> None:
    record = note_record(or_note("abc123", title="  Sparse   attention "), source_key=VENUE)
    assert record is not None
    assert (record.arxiv_id, record.identities()) == (None, {"openreview": "abc123"})
    assert (record.title, record.provider, record.signals["venue"]) == (
        "Sparse attention",
        "openreview",
        "ICLR 2026 Poster",
    )
    assert note_record({"id": "x", "content": {}}) is None  # no title


class TestIngest:
    def test_ingest_stores_papers_known_only_by_their_openreview_id(
        self, cfg: Settings, engine: Engine, openreview_fake: FakeOpenReview
    ) -> None:
        openreview_fake.add(VENUE, or_note("abc123", title="Sparse attention"), or_note("def456"))
        source = OpenReviewSource(cfg)
        report = run_ingest(cfg, engine, sources=[source], embedder=embedder())
        source.close()

        (line,) = report.sources
        assert (line.source, line.status, line.inserted) == ("openreview", "ok", 2)
        with Session(engine) as session:
            paper = find_paper(session, scheme="openreview", value="abc123")
            assert paper is not None
            assert (paper.arxiv_id, paper.title, paper.metadata_source) == (
                None,
                "Sparse attention",
                "openreview",
            )
            assert external_ids(session, paper_id=paper.id) == {"openreview": "abc123"}
            assert paper.signal("openreview", "venue") == "ICLR 2026 Poster"
            assert session.scalar(select(PaperSignal.source)) == "openreview"
        assert openreview_fake.requests[0].params["invitation"] == VENUE

    def test_the_next_run_reads_only_notes_changed_since(
        self, cfg: Settings, engine: Engine, openreview_fake: FakeOpenReview
    ) -> None:
        old = datetime.now(UTC) - timedelta(days=30)
        openreview_fake.add(VENUE, or_note("abc123", modified=old))
        source = OpenReviewSource(cfg)
        assert (
            run_ingest(cfg, engine, sources=[source], embedder=embedder()).sources[0].fetched == 1
        )
        openreview_fake.add(VENUE, or_note("new999"))
        second = run_ingest(cfg, engine, sources=[source], embedder=embedder()).sources[0]
        source.close()
        assert (second.fetched, second.inserted) == (1, 1)

    def test_a_failing_api_fails_only_this_source(
        self, cfg: Settings, engine: Engine, openreview_fake: FakeOpenReview
    ) -> None:
        openreview_fake.fail(503)
        source = OpenReviewSource(cfg)
        (line,) = run_ingest(cfg, engine, sources=[source], embedder=embedder()).sources
        source.close()
        assert line.status == "failed" and "OpenReview" in (line.error or "")

    def test_it_merges_into_the_arxiv_row_once_a_source_reports_both_ids(
        self, cfg: Settings, engine: Engine, openreview_fake: FakeOpenReview
    ) -> None:
        openreview_fake.add(VENUE, or_note("abc123", title="Venue title"))
        source = OpenReviewSource(cfg)
        run_ingest(cfg, engine, sources=[source], embedder=embedder())
        assert [r.title for r in source.lookup({"openreview": ["abc123"]})] == ["Venue title"]
        source.close()
        with Session(engine) as session:
            stored = find_paper(session, scheme="openreview", value="abc123")
            assert stored is not None
            both = PaperRecord(
                arxiv_id="2611.00042", title="arXiv title", ids={"openreview": "abc123"}
            )
            upsert_papers(session, records=[both])
            session.commit()
            papers = session.scalars(select(Paper)).all()
            assert [(p.id, p.arxiv_id, p.title) for p in papers] == [
                (stored.id, "2611.00042", "arXiv title")
            ]
