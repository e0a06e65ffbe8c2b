"""The Semantic Scholar client against a fake S2 speaking the real shapes: batches with unknown
ids, 429 with Retry-After, retries running out, the deadline, the api key, the 1 request/s pace."""

from __future__ import annotations

import threading
import time

import pytest
from fakes.semantic_scholar import FakeSemanticScholar, s2_author, s2_paper

from app.sources.semantic_scholar import S2Unavailable, SemanticScholar

FIELDS = ("title", "externalIds", "citationCount")


def client(fake: FakeSemanticScholar, **kw) -> SemanticScholar:  # type: ignore[no-untyped-def]
    kw.setdefault("min_interval_s", 0.0)
    kw.setdefault("deadline_s", 5.0)
    kw.setdefault("api_key", None)
    return SemanticScholar(base_url=fake.url, **kw)


class TestBatch:
    def test_unknown_ids_are_none_in_their_place(self, s2_fake: FakeSemanticScholar) -> None:
        known = s2_fake.add_paper(s2_paper("2106.15928", citations=42))
        other = s2_fake.add_paper(s2_paper(None, doi="10.1/xyz", title="No arXiv"))
        s2 = client(s2_fake)
        got = s2.papers(
            ["ARXIV:2106.15928", "ARXIV:2601.99999", f"DOI:{other['externalIds']['DOI']}"],
            fields=FIELDS,
        )
        assert [p and p["paperId"] for p in got] == [known["paperId"], None, other["paperId"]]
        assert got[0] is not None and got[0]["citationCount"] == 42
        assert s2_fake.requests[0].params["fields"] == "title,externalIds,citationCount"

    def test_more_than_500_ids_go_in_chunks_in_order(self, s2_fake: FakeSemanticScholar) -> None:
        s2_fake.add_paper(s2_paper("2601.00001"))
        ids = [f"ARXIV:2601.{n:05d}" for n in range(2, 503)] + ["ARXIV:2601.00001"]
        got = client(s2_fake).papers(ids, fields=FIELDS)
        assert len(got) == 502 and got[-1] is not None and got[:-1] == [None] * 501
        assert [len(r.json()["ids"]) for r in s2_fake.requests] == [500, 2]


class TestRetries:
    def test_429_then_success_waits_the_retry_after(self, s2_fake: FakeSemanticScholar) -> None:
        s2_fake.add_paper(s2_paper("2106.15928"))
        s2_fake.fail(429, retry_after="1")
        got = client(s2_fake).papers(["ARXIV:2106.15928"], fields=FIELDS)
        assert got[0] is not None
        first, second = s2_fake.requests
        assert second.at - first.at >= 0.95

    def test_5xx_then_success(self, s2_fake: FakeSemanticScholar) -> None:
        s2_fake.add_paper(s2_paper("2106.15928"))
        s2_fake.fail(500, retry_after="0")
        assert client(s2_fake).papers(["ARXIV:2106.15928"], fields=FIELDS)[0] is not None

    def test_429_retries_exhausted_is_unavailable(self, s2_fake: FakeSemanticScholar) -> None:
        s2_fake.fail(429, times=10, retry_after="0")
        with pytest.raises(S2Unavailable, match="HTTP 429 after 5 attempts"):
            client(s2_fake).recommend_for_paper("ARXIV:2106.15928", fields=FIELDS)
        assert len(s2_fake.requests) == 5

    def test_a_retry_after_past_the_deadline_fails_at_once(
        self, s2_fake: FakeSemanticScholar
    ) -> None:
        s2_fake.fail(429, retry_after="60")
        started = time.monotonic()
        with pytest.raises(S2Unavailable, match="no time left"):
            client(s2_fake, deadline_s=2.0).search_authors("Hopper")
        assert time.monotonic() - started < 1.0

    def test_a_hanging_server_ends_at_the_deadline(self, s2_fake: FakeSemanticScholar) -> None:
        s2_fake.hang(3.0)
        started = time.monotonic()
        with pytest.raises(S2Unavailable, match="no answer within 1s"):
            client(s2_fake, deadline_s=1.0).papers(["ARXIV:2106.15928"], fields=FIELDS)
        assert time.monotonic() - started < 2.0

    def test_connection_refused_is_unavailable(self, s2_fake: FakeSemanticScholar) -> None:
        s2 = client(s2_fake, deadline_s=1.0)
        s2_fake.down()
        with pytest.raises(S2Unavailable):
            s2.recommend_for_paper("ARXIV:2106.15928", fields=FIELDS)


class TestShapes:
    def test_recommendations_for_a_paper_and_from_examples(
        self, s2_fake: FakeSemanticScholar
    ) -> None:
        seed, a, b = (s2_fake.add_paper(s2_paper(f"2601.0000{n}")) for n in range(3))
        s2_fake.recommend(seed["paperId"], a["paperId"], b["paperId"])
        s2 = client(s2_fake)
        assert [
            p["paperId"] for p in s2.recommend_for_paper("ARXIV:2601.00000", fields=FIELDS)
        ] == [
            a["paperId"],
            b["paperId"],
        ]
        got = s2.recommend(positive=[seed["paperId"]], negative=[a["paperId"]], fields=FIELDS)
        assert [p["paperId"] for p in got] == [b["paperId"]]
        assert s2.recommend_for_paper("ARXIV:2601.09999", fields=FIELDS) == []  # 404: not indexed

    def test_author_search_and_papers(self, s2_fake: FakeSemanticScholar) -> None:
        paper = s2_fake.add_paper(s2_paper("2601.00001"))
        s2_fake.add_author(
            s2_author("1", "Yann LeCun", affiliations=("NYU",)), papers=(paper["paperId"],)
        )
        s2_fake.add_author(s2_author("2", "Yann LeCunn", paper_count=3))
        s2 = client(s2_fake)
        found = s2.search_authors("yann lecun")
        assert [(a["name"], a["paperCount"]) for a in found] == [
            ("Yann LeCun", 10),
            ("Yann LeCunn", 3),
        ]
        assert s2_fake.requests[-1].params["fields"] == "name,affiliations,paperCount,hIndex"
        assert [p["paperId"] for p in s2.author_papers("1", fields=FIELDS)] == [paper["paperId"]]
        assert s2.author_papers("999", fields=FIELDS) == []


class TestPoliteness:
    def test_api_key_header_only_when_set(self, s2_fake: FakeSemanticScholar) -> None:
        client(s2_fake, api_key="sekret").search_authors("Hopper")
        client(s2_fake, api_key=None).search_authors("Hopper")
        client(s2_fake, api_key="").search_authors("Hopper")
        assert [r.headers.get("x-api-key") for r in s2_fake.requests] == ["sekret", None, None]

    def test_requests_are_spaced_by_the_interval_across_clients_and_threads(
        self, s2_fake: FakeSemanticScholar
    ) -> None:
        clients = [client(s2_fake, min_interval_s=0.3) for _ in range(2)]
        threads = [threading.Thread(target=c.search_authors, args=("Hopper",)) for c in clients * 2]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        arrivals = sorted(r.at for r in s2_fake.requests)
        assert len(arrivals) == 4
        assert min(b - a for a, b in zip(arrivals, arrivals[1:], strict=False)) >= 0.28


def test_the_runtime_builds_one_client_from_settings(s2_fake: FakeSemanticScholar) -> None:
    from app.config import Settings
    from app.runtime import Runtime

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        semantic_scholar_api_url=s2_fake.url,
        semantic_scholar_api_key="from-settings",
        semantic_scholar_interval_seconds=0.0,
    )
    rt = Runtime(settings)
    assert rt.s2 is rt.s2
    rt.s2.search_authors("Hopper")
    rt.close()
    assert s2_fake.requests[0].headers["x-api-key"] == "from-settings"
