"""upsert_papers: merge rules, idempotency, provenance, counts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Paper, PaperSource
from app.db.papers import get_paper, upsert_papers
from app.sources.huggingface import PRIORITY as HF_PRIORITY
from app.sources.records import Author, PaperRecord

T0 = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


def arxiv_rec(arxiv_id: str = "2611.00001", version: int = 1, **kw: object) -> PaperRecord:
    fields: dict[str, object] = {
        "title": f"Paper {arxiv_id} v{version}",
        "abstract": "We study retrieval-augmented generation.",
        "authors": [Author("Ada Lovelace", ["Analytical Engines Ltd"])],
        "categories": ["cs.CL", "cs.IR"],
        "primary_category": "cs.CL",
        "published": T0,
        "updated": T0,
        "source_key": "cs.CL",
    }
    fields.update(kw)
    return PaperRecord(arxiv_id=arxiv_id, version=version, **fields)  # type: ignore[arg-type]


def hf_rec(arxiv_id: str = "2611.00001", **kw: object) -> PaperRecord:
    """A Hugging Face record; keywords that are no PaperRecord field are its signals."""
    fields: dict[str, object] = {
        "title": "HF title",
        "abstract": "HF abstract",
        "source": "hf_daily",
        "source_key": "2026-11-25",
        "provider": "hf",
        "priority": HF_PRIORITY,
    }
    signals: dict[str, object] = {"upvotes": 12, "first_featured_on": "2026-11-25"}
    for key, value in kw.items():
        (fields if key in PaperRecord.__dataclass_fields__ else signals)[key] = value
    return PaperRecord(arxiv_id=arxiv_id, signals=signals, **fields)  # type: ignore[arg-type]


def provenance(session: Session) -> list[tuple[str, str, str]]:
    rows = session.execute(
        select(Paper.arxiv_id, PaperSource.source, PaperSource.source_key)
        .join(Paper, Paper.id == PaperSource.paper_id)
        .order_by(Paper.arxiv_id, PaperSource.source, PaperSource.source_key)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


class TestUpsertPapers:
    def test_new_papers_are_inserted_with_provenance(self, session: Session) -> None:
        counts = upsert_papers(session, records=[arxiv_rec("2611.00001"), arxiv_rec("2611.00002")])
        session.commit()
        assert (counts.inserted, counts.updated, counts.unchanged) == (2, 0, 0)
        paper = get_paper(session, arxiv_id="2611.00001v1")
        assert paper is not None
        assert paper.authors == [
            {"name": "Ada Lovelace", "affiliation": ["Analytical Engines Ltd"]}
        ]
        assert provenance(session) == [
            ("2611.00001", "arxiv", "cs.CL"),
            ("2611.00002", "arxiv", "cs.CL"),
        ]

    def test_same_records_twice_change_nothing(self, session: Session) -> None:
        upsert_papers(session, records=[arxiv_rec(), hf_rec()])
        session.commit()
        changed_at = get_paper(session, arxiv_id="2611.00001").last_changed_at  # type: ignore[union-attr]
        session.expire_all()
        counts = upsert_papers(session, records=[arxiv_rec(), hf_rec()])
        session.commit()
        assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, 1)
        assert session.scalar(select(func.count()).select_from(Paper)) == 1
        assert len(provenance(session)) == 2
        assert get_paper(session, arxiv_id="2611.00001").last_changed_at == changed_at  # type: ignore[union-attr]

    def test_higher_version_updates_in_place_and_older_is_ignored(self, session: Session) -> None:
        upsert_papers(session, records=[arxiv_rec(version=1)])
        counts = upsert_papers(session, records=[arxiv_rec(version=2, title="Better title")])
        assert counts.updated == 1
        counts = upsert_papers(session, records=[arxiv_rec(version=1)])
        assert counts.unchanged == 1
        session.expire_all()
        paper = get_paper(session, arxiv_id="2611.00001")
        assert paper is not None and (paper.version, paper.title) == (2, "Better title")

    def test_hf_refreshes_upvotes_without_touching_arxiv_metadata(self, session: Session) -> None:
        upsert_papers(session, records=[arxiv_rec(), hf_rec(upvotes=3)])
        counts = upsert_papers(session, records=[hf_rec(upvotes=40, github_repo=None)])
        assert counts.updated == 1
        session.expire_all()
        paper = get_paper(session, arxiv_id="2611.00001")
        assert paper is not None
        assert (paper.title, paper.hf_upvotes) == ("Paper 2611.00001 v1", 40)
        assert paper.categories == ["cs.CL", "cs.IR"]

    def test_hf_only_paper_is_enriched_by_arxiv_later(self, session: Session) -> None:
        counts = upsert_papers(session, records=[hf_rec()])
        assert counts.inserted == 1
        upsert_papers(session, records=[arxiv_rec()])
        session.expire_all()
        paper = get_paper(session, arxiv_id="2611.00001")
        assert paper is not None
        assert paper.title == "Paper 2611.00001 v1"
        assert paper.primary_category == "cs.CL"
        assert paper.hf_upvotes == 12

    def test_duplicates_within_one_batch_are_merged(self, session: Session) -> None:
        records = [
            arxiv_rec(version=1),
            arxiv_rec(version=3, source_key="cs.IR"),
            hf_rec(upvotes=5),
            hf_rec(source="hf_trending", source_key="", upvotes=None, github_stars=7),
        ]
        counts = upsert_papers(session, records=records)
        assert (counts.inserted, counts.updated) == (1, 0)
        session.expire_all()
        paper = get_paper(session, arxiv_id="2611.00001")
        assert paper is not None
        assert (paper.version, paper.hf_upvotes, paper.hf_github_stars) == (3, 5, 7)
        assert len(provenance(session)) == 4

    def test_large_batches_are_chunked(self, session: Session) -> None:
        records = [arxiv_rec(f"2611.{i:05d}") for i in range(2500)]
        assert upsert_papers(session, records=records).inserted == 2500
        assert upsert_papers(session, records=records).unchanged == 2500

    def test_papers_loaded_in_the_session_see_the_update(self, session: Session) -> None:
        upsert_papers(session, records=[arxiv_rec(version=1)])
        loaded = get_paper(session, arxiv_id="2611.00001")
        assert loaded is not None and loaded.version == 1
        upsert_papers(session, records=[arxiv_rec(version=2, title="New")])
        assert (loaded.version, loaded.title) == (2, "New")
