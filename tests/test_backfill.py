"""`paperboy backfill` as a library: a harvest over several OAI-PMH pages from a fake that speaks
arXiv's format, resumption after interruptions and expired tokens, politeness, category filtering,
one harvester at a time, and backfilled papers kept out of digests and card jobs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fakes.oai_pmh import FakeOai, oai_paper, record_xml
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.backfill import (
    BackfillBusy,
    BackfillRequest,
    default_categories,
    parse_request,
    run_backfill,
)
from app.config import Settings
from app.db import channels
from app.db.backfill import backfill_lock
from app.db.engine import session_scope
from app.db.models import BackfillRun, BackfillStatus, LlmJob, Paper, PaperSource, Topic
from app.digest import select_papers
from app.errors import SourceError
from app.ingest import store_records
from app.relevance import refresh_relevance
from app.search import search_papers
from app.sources.oai import OaiClient, oai_set, parse_list_records
from app.sources.records import PaperRecord
from app.topics import follow
from tests.deps import embedder

DAY = date(2026, 1, 5)
SINCE = date(2026, 1, 1)


@pytest.fixture
def oai() -> Iterator[FakeOai]:
    with FakeOai(page_size=2) as fake:
        yield fake


@pytest.fixture
def cfg(settings: Settings, oai: FakeOai) -> Settings:
    return settings.model_copy(
        update={
            "arxiv_oai_url": oai.url,
            "arxiv_oai_delay_seconds": 0.0,
            "arxiv_oai_num_retries": 0,
            "source_retry_base_seconds": 0.0,
        }
    )


def _six(oai: FakeOai) -> list[str]:
    ids = [f"2601.0000{n}" for n in range(1, 7)]
    for n, arxiv_id in enumerate(ids):
        oai.add(oai_paper(arxiv_id, datestamp=DAY + timedelta(days=n), title=f"Paper {n}"))
    return ids


def _run(cfg: Settings, engine: Engine, categories: tuple[str, ...] = ("cs.CL",), **kw):  # type: ignore[no-untyped-def]
    client = OaiClient(cfg)
    try:
        request = BackfillRequest(kw.pop("since", SINCE), kw.pop("until", None), categories)
        return run_backfill(engine, client=client, request=request, embedder=embedder(), **kw)
    finally:
        client.close()


def _stored(session: Session) -> list[str]:
    session.expire_all()
    return sorted(a for a in session.scalars(select(Paper.arxiv_id)) if a)


def _run_row(session: Session) -> BackfillRun:
    session.expire_all()
    return session.scalars(select(BackfillRun).order_by(BackfillRun.id.desc())).first()  # type: ignore[return-value]


class TestHarvest:
    def test_three_pages_store_every_paper_with_its_metadata(
        self, cfg: Settings, engine: Engine, session: Session, oai: FakeOai
    ) -> None:
        ids = _six(oai)
        oai.items.clear()
        oai.add(
            oai_paper(
                ids[0],
                datestamp=DAY,
                title="Attention is\n   all you need",
                abstract="We propose\n  the Transformer.",
                authors=[("Vaswani", "Ashish"), ("Shazeer", "Noam")],
                categories=["cs.CL", "cs.LG"],
                created=date(2026, 1, 2),
                updated=DAY,
                comments="15 pages",
                journal_ref="NeurIPS 2026",
                doi="10.1000/XYZ",
            ),
            *(oai_paper(a, datestamp=DAY + timedelta(days=n)) for n, a in enumerate(ids[1:], 1)),
        )
        seen: list[tuple[int | None, int | None, int]] = []

        report = _run(cfg, engine, progress=lambda r: seen.append((r.cursor, r.total, r.stored)))

        assert _stored(session) == ids
        assert [cursor for _, cursor in oai.served] == [0, 2, 4]
        # The progress bar moves with the server's cursor of its completeListSize.
        assert seen[-3:] == [(2, 6, 2), (4, 6, 4), (6, 6, 6)]
        (one,) = report.sets
        assert one.done and one.stored == 6 and one.pages == 3
        paper = session.scalars(select(Paper).where(Paper.arxiv_id == ids[0])).one()
        assert paper.title == "Attention is all you need"
        assert paper.abstract == "We propose the Transformer."
        assert [a["name"] for a in paper.authors] == ["Ashish Vaswani", "Noam Shazeer"]
        assert paper.categories == ["cs.CL", "cs.LG"] and paper.primary_category == "cs.CL"
        assert paper.published == datetime(2026, 1, 2, tzinfo=UTC)
        assert paper.updated == datetime(2026, 1, 5, tzinfo=UTC)
        assert (paper.comment, paper.journal_ref, paper.doi) == (
            "15 pages",
            "NeurIPS 2026",
            "10.1000/XYZ",
        )
        sources = set(session.scalars(select(PaperSource.source)))
        assert sources == {"arxiv-oai"}
        run = _run_row(session)
        assert run.status == BackfillStatus.DONE and run.resumption_token is None
        assert (run.pages, run.seen, run.stored) == (3, 6, 6)

    def test_only_the_requested_categories_and_dates_are_kept(
        self, cfg: Settings, engine: Engine, session: Session, oai: FakeOai
    ) -> None:
        oai.add(
            oai_paper("2601.00001", categories=["cs.CL"]),
            oai_paper("2601.00002", categories=["cs.CV"]),
            oai_paper("2601.00003", categories=["cs.CV", "cs.LG"]),  # cross-listed
            # revised this month, first submitted long before --since
            oai_paper("2301.00004", categories=["cs.CL"], created=date(2023, 1, 2)),
        )
        report = _run(cfg, engine, categories=("cs.CL", "cs.LG"))
        assert _stored(session) == ["2601.00001", "2601.00003"]
        assert oai.list_requests()[0] == {
            "verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs", "from": "2026-01-01"
        }  # fmt: skip
        assert report.sets[0].other == 2

    def test_malformed_records_are_skipped_and_counted_never_half_stored(
        self, cfg: Settings, engine: Engine, session: Session, oai: FakeOai
    ) -> None:
        oai.add(oai_paper("2601.00001"))
        no_date = '<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>2601.00002</id><title>T</title><categories>cs.CL</categories></arXiv>'
        bad_date = '<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>2601.00003</id><created>2026-02-30</created><title>T</title><categories>cs.CL</categories></arXiv>'
        oai.add_raw(
            record_xml("oai:arXiv.org:2601.00002", DAY, "cs", no_date), datestamp=DAY, key="b"
        )
        oai.add_raw(
            record_xml("oai:arXiv.org:2601.00003", DAY, "cs", bad_date), datestamp=DAY, key="c"
        )
        report = _run(cfg, engine)
        assert _stored(session) == ["2601.00001"]
        assert report.sets[0].skipped == 2 and _run_row(session).skipped == 2

    def test_an_empty_range_is_done_without_papers(
        self, cfg: Settings, engine: Engine, session: Session, oai: FakeOai
    ) -> None:
        report = _run(cfg, engine)  # the fake answers noRecordsMatch
        assert report.sets[0].done and _stored(session) == []


class TestResume:
    def test_a_dropped_connection_after_page_one_resumes_without_fetching_a_page_twice(
        self, cfg: Settings, engine: Engine, session: Session, oai: FakeOai
    ) -> None:
        ids = _six(oai)
        oai.drop_request(2)  # page 1 is answered, then the connection drops
        with pytest.raises(SourceError, match="connection failed"):
            _run(cfg, engine)
        assert _stored(session) == ids[:2]
        run = _run_row(session)
        assert run.status == BackfillStatus.STOPPED and run.resumption_token

        report = _run(cfg, engine)

        assert report.sets[0].resumed and report.sets[0].done
        assert _stored(session) == ids
        cursors = [cursor for _, cursor in oai.served]
        assert sorted(cursors) == [0, 2, 4] and len(set(cursors)) == len(cursors)
        assert session.scalar(select(func.count()).select_from(PaperSource)) == 6
        assert _run_row(session).stored == 6 and _run_row(session).pages == 3

    def test_an_expired_token_restarts_from_the_last_stored_datestamp(
        self, cfg: Settings, engine: Engine, session: Session, oai: FakeOai
    ) -> None:
        ids = _six(oai)
        oai.drop_request(2)
        with pytest.raises(SourceError):
            _run(cfg, engine)
        oai.expire_tokens()

        _run(cfg, engine)

        assert _stored(session) == ids
        requests = oai.list_requests()
        # page 1, the dropped request, the stale token, then a fresh list from the day of the
        # last stored record (its records come again; the upsert stores each paper once)
        assert "resumptionToken" in requests[2]
        assert requests[3]["from"] == (DAY + timedelta(days=1)).isoformat()
        assert session.scalar(select(func.count()).select_from(PaperSource)) == 6
        assert _run_row(session).status == BackfillStatus.DONE

    def test_a_finished_range_is_not_fetched_again(
        self, cfg: Settings, engine: Engine, session: Session, oai: FakeOai
    ) -> None:
        _six(oai)
        _run(cfg, engine)
        before = len(oai.requests)
        report = _run(cfg, engine)
        assert report.sets[0].already_done and len(oai.requests) == before
        # A narrower range inside it is covered too.
        later = _run(cfg, engine, since=date(2026, 1, 3), until=date(2026, 1, 4))
        assert later.sets[0].already_done and len(oai.requests) == before


class TestPoliteness:
    def test_a_503_with_retry_after_is_waited_out(
        self, cfg: Settings, engine: Engine, session: Session, oai: FakeOai
    ) -> None:
        _six(oai)
        oai.fail(503, retry_after="1")
        _run(cfg.model_copy(update={"arxiv_oai_num_retries": 2}), engine)
        first, second = oai.requests[0], oai.requests[1]
        assert second.at - first.at >= 1.0
        assert len(_stored(session)) == 6

    def test_requests_keep_the_configured_delay_apart(
        self, cfg: Settings, engine: Engine, oai: FakeOai
    ) -> None:
        _six(oai)
        _run(cfg.model_copy(update={"arxiv_oai_delay_seconds": 0.3}), engine)
        gaps = [b.at - a.at for a, b in zip(oai.requests, oai.requests[1:], strict=False)]
        assert len(gaps) == 2 and min(gaps) >= 0.3

    def test_a_retry_after_longer_than_the_cap_stops_resumably(
        self, cfg: Settings, engine: Engine, session: Session, oai: FakeOai
    ) -> None:
        _six(oai)
        oai.fail(503, retry_after="3600")
        with pytest.raises(SourceError, match="asks to wait 3600 s"):
            _run(cfg.model_copy(update={"arxiv_oai_num_retries": 5}), engine)
        assert len(oai.requests) == 1
        assert _run_row(session).status == BackfillStatus.STOPPED

    def test_a_slow_host_cannot_hold_a_request_past_its_deadline(
        self, cfg: Settings, engine: Engine, session: Session, oai: FakeOai
    ) -> None:
        _six(oai)
        oai.trickle_next(0.01)  # a ~3 KB page at 100 bytes/s: 30 s without a total deadline
        started = time.monotonic()
        with pytest.raises(SourceError, match="page took longer than 1 s after 1 attempts"):
            _run(cfg.model_copy(update={"arxiv_oai_deadline_seconds": 1.0}), engine)
        assert time.monotonic() - started < 5
        assert _run_row(session).status == BackfillStatus.STOPPED

    def test_a_second_harvester_is_refused_while_one_runs(
        self, cfg: Settings, engine: Engine, oai: FakeOai
    ) -> None:
        _six(oai)
        with backfill_lock(engine) as got:
            assert got
            with pytest.raises(BackfillBusy, match="another backfill"):
                _run(cfg, engine)
        assert oai.requests == []


class TestRequest:
    def test_categories_default_to_the_settings_and_the_topics_and_group_by_oai_set(
        self, cfg: Settings, engine: Engine, session: Session
    ) -> None:
        session.add(Topic(name="bandits", query="bandits", categories=["stat.ML"], exclude=[]))
        session.commit()
        default = default_categories(cfg.model_copy(update={"arxiv_categories": ["cs.LG"]}), engine)
        assert default == ["cs.LG", "stat.ML"]
        request = parse_request(since="2026-01-01", until=None, categories=None, default=default)
        assert request.by_set() == {"cs": ["cs.LG"], "stat": ["stat.ML"]}
        assert oai_set("hep-th") == "physics:hep-th"
        typed = parse_request(since="2026-01-01", until=None, categories="CS.cl, cs.LG", default=[])
        assert typed.categories == ("cs.CL", "cs.LG")


class TestParsing:
    def test_the_current_arxiv_token_without_counters_and_deleted_records(self) -> None:
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            b"<responseDate>2026-01-05T00:00:00Z</responseDate>"
            b'<request verb="ListRecords">https://oaipmh.arxiv.org/oai</request><ListRecords>'
            b'<record><header status="deleted"><identifier>oai:arXiv.org:2601.00009</identifier>'
            b"<datestamp>2026-01-06</datestamp><setSpec>cs</setSpec></header></record>"
            b"<resumptionToken expires='2026-01-06T00:00:00Z'>from%3D2026-01-06%26skip%3D1"
            b"</resumptionToken></ListRecords></OAI-PMH>"
        )
        page = parse_list_records(body, categories=frozenset({"cs.CL"}))
        assert page.token == "from%3D2026-01-06%26skip%3D1"
        assert (page.cursor, page.complete_list_size) == (None, None)
        assert (page.seen, page.other, page.records) == (1, 1, [])
        assert page.last_datestamp == date(2026, 1, 6)


class TestNotPostedNorSummarized:
    def test_backfilled_papers_are_searchable_but_not_in_digests_nor_queued_for_cards(
        self, cfg: Settings, engine: Engine, session: Session, oai: FakeOai
    ) -> None:
        today = datetime.now(UTC).date()
        oai.add(
            oai_paper("2612.00001", datestamp=today, title="Speculative decoding for LLMs"),
            oai_paper("2612.00002", datestamp=today, title="Speculative decoding, revisited"),
        )
        follow(session, channel_id="C1", topic_name="speculative decoding")
        session.commit()
        _run(cfg, engine, since=today - timedelta(days=1))
        # The live ingest sees one of them (and one more paper) itself.
        live = [
            PaperRecord(arxiv_id=a, title=t, version=1, categories=["cs.CL"],
                        published=datetime.now(UTC) - timedelta(hours=2), source="arxiv",
                        source_key="cs.CL")
            for a, t in [("2612.00002", "Speculative decoding, revisited"),
                         ("2612.00003", "Speculative decoding in speech")]
        ]  # fmt: skip
        with session_scope(engine) as s:
            store_records(s, records=live, embedder=embedder())

        hits = {h.arxiv_id for h in search_papers(session, text="speculative decoding")}
        assert hits == {"2612.00001", "2612.00002", "2612.00003"}

        channel = channels.get_channel(session, channel_id="C1")
        since = datetime.now(UTC) - timedelta(days=1)
        chosen = {c.arxiv_id for c in select_papers(session, channel=channel, since=since)}
        assert chosen == {"2612.00002", "2612.00003"}

        llm = cfg.model_copy(update={"anthropic_api_key": SecretStr("sk-ant-test")})
        report = refresh_relevance(llm, engine)
        assert report.cards_queued == 2 and report.grades_queued == 2
        session.expire_all()
        queued = set(
            session.scalars(select(Paper.arxiv_id).join(LlmJob, LlmJob.paper_id == Paper.id))
        )
        assert queued == {"2612.00002", "2612.00003"}
