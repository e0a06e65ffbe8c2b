"""arXiv source against the fake arXiv API: paging, cut-offs, retries, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.arxiv_api import FakeArxiv, arxiv_paper

from app.config import Settings
from app.errors import SourceError
from app.sources.arxiv import ArxivQueryError, ArxivSource, parse_page

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime.now(UTC)


@pytest.fixture
def cfg(settings: Settings, arxiv_fake: FakeArxiv) -> Settings:
    return settings.model_copy(
        update={
            "arxiv_api_url": arxiv_fake.url,
            "arxiv_page_size": 3,
            "arxiv_num_retries": 3,
            "source_retry_base_seconds": 0.01,
            "source_retry_max_wait_seconds": 2.0,
        }
    )


def fetch_all(cfg: Settings, query: str = "cat:cs.CL", **kw: object) -> tuple[list[str], int]:
    ids: list[str] = []
    skipped = 0
    params = {"since": None, "limit": 100, "key": "cs.CL", **kw}
    for page in ArxivSource(cfg).newest(query, **params):  # type: ignore[arg-type]
        ids += [r.arxiv_id for r in page.records]
        skipped += page.skipped
    return ids, skipped


def add_papers(fake: FakeArxiv, n: int, *, category: str = "cs.CL") -> list[str]:
    ids = [f"2611.{i:05d}" for i in range(1, n + 1)]
    for i, arxiv_id in enumerate(ids):
        fake.add(arxiv_paper(arxiv_id, categories=[category], published=NOW - timedelta(hours=i)))
    return ids


class TestListing:
    def test_pages_through_all_results_newest_first(self, cfg: Settings, arxiv_fake: FakeArxiv):
        ids = add_papers(arxiv_fake, 7)
        got, skipped = fetch_all(cfg)
        assert got == ids and skipped == 0
        queries = arxiv_fake.queries()
        assert [q["start"] for q in queries] == ["0", "3", "6"]
        assert {q["sortBy"] for q in queries} == {"submittedDate"}
        assert {q["sortOrder"] for q in queries} == {"descending"}
        assert {q["search_query"] for q in queries} == {"cat:cs.CL"}

    def test_stops_at_the_first_paper_older_than_the_cutoff(
        self, cfg: Settings, arxiv_fake: FakeArxiv
    ):
        ids = add_papers(arxiv_fake, 9)
        got, _ = fetch_all(cfg, since=NOW - timedelta(hours=3, minutes=30))
        assert got == ids[:4]
        assert len(arxiv_fake.queries()) == 2  # the page with the first old paper ends it

    def test_stops_at_the_per_query_limit(self, cfg: Settings, arxiv_fake: FakeArxiv):
        ids = add_papers(arxiv_fake, 9)
        got, _ = fetch_all(cfg, limit=5)
        assert got == ids[:5]
        assert [q["max_results"] for q in arxiv_fake.queries()] == ["3", "2"]

    def test_waits_the_configured_delay_between_requests(
        self, cfg: Settings, arxiv_fake: FakeArxiv
    ):
        add_papers(arxiv_fake, 7)
        fetch_all(cfg.model_copy(update={"arxiv_delay_seconds": 0.3}))
        times = [r.at for r in arxiv_fake.requests]
        assert len(times) == 3
        assert all(b - a >= 0.29 for a, b in zip(times, times[1:], strict=False))

    def test_looks_papers_up_by_id(self, cfg: Settings, arxiv_fake: FakeArxiv):
        add_papers(arxiv_fake, 3)
        records = ArxivSource(cfg).by_ids(["2611.00002"])
        assert [(r.arxiv_id, r.source) for r in records] == [("2611.00002", "on_demand")]
        assert arxiv_fake.queries()[0]["id_list"] == "2611.00002"


class TestRetries:
    def test_a_503_is_retried(self, cfg: Settings, arxiv_fake: FakeArxiv):
        ids = add_papers(arxiv_fake, 2)
        arxiv_fake.fail(503)
        assert fetch_all(cfg)[0] == ids
        assert len(arxiv_fake.requests) == 2

    def test_an_empty_page_is_retried(self, cfg: Settings, arxiv_fake: FakeArxiv):
        ids = add_papers(arxiv_fake, 5)
        arxiv_fake.empty_next()
        assert fetch_all(cfg)[0] == ids
        assert len(arxiv_fake.requests) == 3  # empty, page 1, page 2

    def test_a_429_waits_for_retry_after(self, cfg: Settings, arxiv_fake: FakeArxiv):
        ids = add_papers(arxiv_fake, 2)
        arxiv_fake.fail(429, retry_after="1")
        assert fetch_all(cfg)[0] == ids
        first, second = arxiv_fake.requests
        assert second.at - first.at >= 0.95

    def test_a_slow_answer_times_out_and_is_retried(self, cfg: Settings, arxiv_fake: FakeArxiv):
        ids = add_papers(arxiv_fake, 2)
        arxiv_fake.delay_next(1.5)
        assert fetch_all(cfg.model_copy(update={"http_timeout_seconds": 0.5}))[0] == ids

    def test_a_category_that_stays_empty_fails_alone(self, cfg: Settings):
        with pytest.raises(ArxivQueryError, match="empty pages for cat:cs.XX"):
            fetch_all(cfg, query="cat:cs.XX")

    def test_a_topic_query_may_find_nothing(self, cfg: Settings, arxiv_fake: FakeArxiv):
        arxiv_fake.query_results["ti:nothing"] = []
        assert fetch_all(cfg, query="ti:nothing", expect_results=False) == ([], 0)
        assert len(arxiv_fake.requests) == 1

    def test_persistent_5xx_gives_up_with_one_clear_error(
        self, cfg: Settings, arxiv_fake: FakeArxiv
    ):
        add_papers(arxiv_fake, 2)
        arxiv_fake.fail(503, times=10)
        with pytest.raises(SourceError, match=r"arXiv: HTTP 503 after 4 attempts"):
            fetch_all(cfg)
        assert len(arxiv_fake.requests) == 4

    def test_an_unreachable_server_is_a_source_error(self, cfg: Settings):
        dead = cfg.model_copy(update={"arxiv_api_url": "http://127.0.0.1:9/api/query"})
        with pytest.raises(SourceError, match="connection failed"):
            fetch_all(dead)


class TestBadInput:
    def test_malformed_entries_are_skipped_and_counted(self, cfg: Settings, arxiv_fake: FakeArxiv):
        ids = add_papers(arxiv_fake, 2)
        arxiv_fake.add_raw_entry(
            "  <entry>\n    <title>No id, no dates</title>\n  </entry>",
            published=NOW - timedelta(minutes=30),
        )
        arxiv_fake.add_raw_entry(
            "  <entry>\n    <id>http://arxiv.org/abs/2611.09999v1</id>\n"
            "    <title>Bad date</title>\n    <updated>soon</updated>\n"
            "    <published>soon</published>\n  </entry>",
            published=NOW - timedelta(minutes=40),
        )
        got, skipped = fetch_all(cfg)
        assert got == ids and skipped == 2

    def test_malformed_xml_is_a_source_error(self, cfg: Settings, arxiv_fake: FakeArxiv):
        arxiv_fake.send_raw(
            b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><entry>"
        )
        with pytest.raises(SourceError, match="malformed XML"):
            fetch_all(cfg)

    def test_arxivs_error_feed_is_a_query_error(self, cfg: Settings, arxiv_fake: FakeArxiv):
        arxiv_fake.bad_queries.add("ti:(")
        with pytest.raises(ArxivQueryError, match="malformed query"):
            fetch_all(cfg, query="ti:(")
        assert len(arxiv_fake.requests) == 1  # a 400 is not retried

    def test_another_4xx_is_one_line_and_not_retried(self, cfg: Settings, arxiv_fake: FakeArxiv):
        arxiv_fake.fail(403, body=b"<html>Forbidden</html>")
        with pytest.raises(SourceError, match=r"^arXiv: HTTP 403$"):
            fetch_all(cfg)
        assert len(arxiv_fake.requests) == 1

    def test_error_feed_fixture_reads_as_an_error(self):
        with pytest.raises(ArxivQueryError, match="incorrect id format for 2611.x"):
            parse_page((FIXTURES / "arxiv_error_bad_query.xml").read_bytes())

    def test_latex_and_non_ascii_survive_parsing(self):
        page = parse_page((FIXTURES / "arxiv_latex_unicode.xml").read_bytes(), source_key="cs.CL")
        assert page.skipped == 1  # the entry with broken dates
        latex, unicode = page.records
        assert latex.title == (
            r"$\ell_1$-Regularized Attention: Sparse Heads with $\mathcal{O}(n\log n)$ Cost"
        )
        assert (latex.arxiv_id, latex.version) == ("2611.04512", 3)
        assert latex.abstract.startswith(r"We show that an $\ell_1$ penalty")
        assert latex.authors[0].name == "Zoë Lindqvist"
        assert latex.authors[0].affiliations == [
            "ETH Zürich",
            "Max Planck Institute for Intelligent Systems",
        ]
        assert latex.primary_category == "cs.LG"
        assert latex.categories == ["cs.LG", "cs.CL"]
        assert latex.doi == "10.48550/fixture.04512"
        assert latex.journal_ref == "Trans. Mach. Learn. Res. 11 (2026)"
        assert latex.comment == "v3: fixed a typo in Theorem 2; 14 pages"
        assert latex.pdf_url == "https://arxiv.org/pdf/2611.04512v3"
        assert latex.published == datetime(2026, 11, 20, 17, 59, 1, tzinfo=UTC)
        assert unicode.title == (
            "Über-Tokenisierung: Mehrsprachige Sprachmodelle für 李 und Ελληνικά"
        )
        assert [a.name for a in unicode.authors] == ["李明", "Jürgen Schäfer"]
        assert "&" in unicode.abstract and "<unk>" in unicode.abstract
