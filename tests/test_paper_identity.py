"""Paper identity beyond arXiv: external ids, merges across sources, per-source priority."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import interactions
from app.db.models import Feedback, Paper, PaperSignal, SavedPaper, Summary
from app.db.papers import external_ids, find_paper, get_paper, upsert_papers
from app.db.summaries import store_summary
from app.sources.records import Author, PaperRecord

T0 = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
DOI = "10.5555/Example.2026.1"


def record(arxiv_id: str | None, *, provider: str, priority: int, **kw: object) -> PaperRecord:
    fields: dict[str, object] = {"title": f"{provider} title", "source": provider}
    fields.update(kw)
    return PaperRecord(arxiv_id=arxiv_id, provider=provider, priority=priority, **fields)  # type: ignore[arg-type]


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


class TestMergeByExternalIds:
    def test_a_paper_seen_first_by_doi_keeps_its_row_when_arxiv_reports_that_doi(
        self, session: Session
    ) -> None:
        upsert_papers(
            session,
            records=[record(None, provider="journal", priority=60, doi=DOI, abstract="Journal.")],
        )
        first = find_paper(session, scheme="doi", value=DOI.upper())
        assert first is not None and first.arxiv_id is None
        paper_id = first.id
        # Everything users did with it hangs off papers.id ...
        session.add(Summary(paper_id=paper_id, kind="card", model="m", prompt_version="v",
                            content={"tldr": "x"}))  # fmt: skip
        session.add(SavedPaper(user_id="U1", paper_id=paper_id))
        session.add(Feedback(channel_id="C1", paper_id=paper_id, user_id="U1", value=1))
        session.commit()

        # ... and arXiv, later, reports the same DOI with its arXiv id.
        arxiv = record("2611.00042", provider="arxiv", priority=100, doi=DOI, version=2,
                       categories=["cs.CL"], primary_category="cs.CL", published=T0)  # fmt: skip
        counts = upsert_papers(session, records=[arxiv])
        session.commit()

        assert (counts.inserted, counts.updated) == (0, 1)
        assert count(session, Paper) == 1
        merged = get_paper(session, arxiv_id="2611.00042v2")
        assert merged is not None and merged.id == paper_id
        assert (merged.title, merged.metadata_source, merged.version) == ("arxiv title", "arxiv", 2)
        assert merged.abstract == "Journal."  # arXiv sent none: a known value is never wiped
        assert external_ids(session, paper_id=paper_id) == {
            "arxiv": "2611.00042",
            "doi": DOI.lower(),
        }
        for model in (Summary, SavedPaper, Feedback):
            assert session.scalar(select(model.paper_id)) == paper_id
        assert interactions.saved_papers(session, user_id="U1")[0].arxiv_id == "2611.00042"

    def test_records_of_one_batch_sharing_an_id_are_one_paper(self, session: Session) -> None:
        counts = upsert_papers(
            session,
            records=[
                record(
                    None, provider="openreview", priority=50, ids={"openreview": "abc"}, doi=DOI
                ),  # fmt: skip
                record("2611.00042", provider="arxiv", priority=100, doi=DOI),
            ],
        )
        assert counts.inserted == 1 and count(session, Paper) == 1
        paper = find_paper(session, scheme="openreview", value="abc")
        assert paper is not None and paper.arxiv_id == "2611.00042"

    def test_a_paper_known_only_by_another_id_is_stored(self, session: Session) -> None:
        upsert_papers(
            session, records=[record(None, provider="s2", priority=40, ids={"s2": "CorpusId:7"})]
        )
        paper = find_paper(session, scheme="s2", value="CorpusId:7")
        assert paper is not None and (paper.arxiv_id, paper.title) == (None, "s2 title")

    def test_a_record_naming_no_paper_is_ignored(self, session: Session) -> None:
        assert upsert_papers(session, records=[record(None, provider="x", priority=1)]).total == 0
        assert count(session, Paper) == 0


class TestMergePriority:
    def test_a_lower_priority_source_only_fills_gaps(self, session: Session) -> None:
        upsert_papers(session, records=[record("2611.00001", provider="arxiv", priority=100)])
        upsert_papers(
            session,
            records=[
                record(
                    "2611.00001",
                    provider="venue",
                    priority=50,
                    title="Venue title",
                    abstract="Filled in.",
                    journal_ref="Venue 2026",
                )  # fmt: skip
            ],
        )
        session.expire_all()
        paper = get_paper(session, arxiv_id="2611.00001")
        assert paper is not None
        assert (paper.title, paper.metadata_source) == ("arxiv title", "arxiv")
        assert (paper.abstract, paper.journal_ref) == ("Filled in.", "Venue 2026")

    def test_a_higher_priority_source_takes_over_and_records_itself(self, session: Session) -> None:
        upsert_papers(
            session,
            records=[record("2611.00001", provider="hf", priority=20, authors=[Author("A")])],
        )
        upsert_papers(session, records=[record("2611.00001", provider="venue", priority=50)])
        session.expire_all()
        paper = get_paper(session, arxiv_id="2611.00001")
        assert paper is not None
        assert (paper.title, paper.metadata_source, paper.metadata_priority) == (
            "venue title",
            "venue",
            50,
        )
        assert paper.authors == [{"name": "A", "affiliation": []}]  # kept: venue sent none

    def test_each_source_keeps_its_own_signals(self, session: Session) -> None:
        upsert_papers(
            session,
            records=[
                record("2611.00001", provider="hf", priority=20, signals={"upvotes": 3}),
                record("2611.00001", provider="s2", priority=40, signals={"citations": 12}),
            ],
        )
        upsert_papers(
            session,
            records=[record("2611.00001", provider="hf", priority=20, signals={"upvotes": None})],
        )
        rows = session.execute(select(PaperSignal.source, PaperSignal.data)).all()
        assert sorted((s, d) for s, d in rows) == [
            ("hf", {"upvotes": 3}),  # a null never wipes a stored value
            ("s2", {"citations": 12}),
        ]


def test_summaries_follow_the_paper_by_arxiv_id(session: Session) -> None:
    upsert_papers(session, records=[record("2611.00001", provider="arxiv", priority=100)])
    store_summary(session, arxiv_id="2611.00001", kind="card", model="m", prompt_version="v",
                  paper_version=1, content={"tldr": "x"})  # fmt: skip
    paper = get_paper(session, arxiv_id="2611.00001")
    assert paper is not None
    assert session.scalar(select(Summary.paper_id)) == paper.id
