"""A fake Semantic Scholar API (Academic Graph + Recommendations), real JSON shapes.

    with FakeSemanticScholar() as fake:
        paper = fake.add_paper(s2_paper("2106.15928", title="..."))
        fake.recommend(paper["paperId"], other["paperId"])
        fake.add_author(s2_author("1741101", "Yann LeCun"), papers=[paper["paperId"]])
        settings = settings.model_copy(update={"semantic_scholar_api_url": fake.url})

Answers, as the real API does:
- `POST /graph/v1/paper/batch?fields=F` with {"ids": [...]}: a list in the same order, `null`
  for unknown ids; ids may be the S2 sha, `ARXIV:x`, `DOI:x`, `CorpusId:N`.
- `GET /recommendations/v1/papers/forpaper/{id}?fields&limit`: {"recommendedPapers": [...]};
  404 {"error": ...} for an unknown paper.
- `POST /recommendations/v1/papers` with {"positivePaperIds", "negativePaperIds"}: the
  recommendations of the positive papers, minus the negative ones.
- `GET /graph/v1/author/search?query&fields&limit`: {"total", "offset", "data": [...]}.
- `GET /graph/v1/author/{id}/papers?fields&limit`: {"data": [...]}; 404 for an unknown author.
Each paper carries `paperId` plus only the fields asked for (nested `authors` as
{"authorId", "name"}).

Faults: `fail(429, times=2, retry_after="1")`, `fail(500)` (ScriptedServer), `hang(seconds)`
(answer the next request only after that long), `down()` / `up()` (connection refused, then
back on the same port). `requests` records every request (path, params, headers, body, arrival
time) for checking the api key header and the spacing between requests.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from ._scripted_http import Reply, Request, ScriptedServer
from ._server import _Handler, _Server

JSON = "application/json; charset=utf-8"


def s2_paper(
    arxiv_id: str | None = None,
    *,
    title: str | None = None,
    abstract: str | None = "An abstract from Semantic Scholar.",
    doi: str | None = None,
    corpus_id: int | None = None,
    paper_id: str | None = None,
    authors: tuple[str, ...] = ("Grace Hopper",),
    year: int | None = 2026,
    venue: str = "",
    publication_venue: dict[str, Any] | None = None,
    citations: int = 0,
    influential: int = 0,
    publication_date: str | None = "2026-06-29",
) -> dict[str, Any]:
    """One paper in the Graph API's shape. `paperId` is a 40-hex sha, as S2's are."""
    seed = arxiv_id or doi or title or str(corpus_id)
    sha = paper_id or hashlib.sha1(str(seed).encode()).hexdigest()
    corpus = corpus_id if corpus_id is not None else int(sha[:7], 16)
    external: dict[str, Any] = {"CorpusId": corpus}
    if arxiv_id:
        external["ArXiv"] = arxiv_id
    if doi:
        external["DOI"] = doi
    return {
        "paperId": sha,
        "externalIds": external,
        "title": title or f"Paper {seed}",
        "abstract": abstract,
        "authors": [{"authorId": str(100 + i), "name": name} for i, name in enumerate(authors)],
        "year": year,
        "venue": venue,
        "publicationVenue": publication_venue,
        "citationCount": citations,
        "influentialCitationCount": influential,
        "publicationDate": publication_date,
        "url": f"https://www.semanticscholar.org/paper/{sha}",
    }


def s2_author(
    author_id: str,
    name: str,
    *,
    affiliations: tuple[str, ...] = (),
    paper_count: int = 10,
    h_index: int = 5,
) -> dict[str, Any]:
    return {
        "authorId": author_id,
        "name": name,
        "affiliations": list(affiliations),
        "paperCount": paper_count,
        "hIndex": h_index,
    }


class FakeSemanticScholar(ScriptedServer):
    def __init__(self) -> None:
        super().__init__()
        self.papers: dict[str, dict[str, Any]] = {}  # by paperId
        self.recommendations: dict[str, list[str]] = {}  # paperId -> recommended paperIds
        self.authors: dict[str, dict[str, Any]] = {}  # by authorId
        self.author_paper_ids: dict[str, list[str]] = {}
        self._port: int | None = None

    # --- the registry ------------------------------------------------------------------------

    def add_paper(self, paper: dict[str, Any]) -> dict[str, Any]:
        self.papers[paper["paperId"]] = paper
        return paper

    def recommend(self, paper_id: str, *recommended: str) -> None:
        """`forpaper/{paper_id}` answers these papers (paperIds already added), in order."""
        self.recommendations.setdefault(self._resolve(paper_id) or paper_id, []).extend(recommended)

    def add_author(self, author: dict[str, Any], *, papers: tuple[str, ...] = ()) -> None:
        self.authors[author["authorId"]] = author
        self.author_paper_ids.setdefault(author["authorId"], []).extend(papers)

    # --- faults ------------------------------------------------------------------------------

    def hang(self, seconds: float) -> None:
        """Answer the next request only after `seconds` (past a client's deadline)."""
        self.delay_next(seconds)

    def down(self) -> None:
        """Close the port: connections are refused until `up()`."""
        self._port = int(self.base_url.rsplit(":", 1)[1])
        self.stop()

    def up(self) -> None:
        assert self._port is not None, "up() after down()"
        self._server = _Server(("127.0.0.1", self._port), _Handler)
        self._server.fake = self
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def base_url(self) -> str:
        if self._server is None and self._port is not None:  # down(): same URL, nobody home
            return f"http://127.0.0.1:{self._port}"
        return super().base_url

    # --- answers -----------------------------------------------------------------------------

    def answer(self, request: Request) -> Reply:
        path, params = request.path, request.params
        fields = [f for f in params.get("fields", "").split(",") if f]
        limit = int(params.get("limit", "100"))
        if path == "/graph/v1/paper/batch" and request.method == "POST":
            ids = (request.json() or {}).get("ids")
            if not isinstance(ids, list) or len(ids) > 500:
                return _error(400, "ids must be a list of at most 500 paper ids")
            return Reply.of_json([self._shaped(self._resolve(i), fields) for i in ids])
        if path.startswith("/recommendations/v1/papers/forpaper/"):
            paper_id = self._resolve(path.removeprefix("/recommendations/v1/papers/forpaper/"))
            if paper_id is None:
                return _error(404, "Paper not found")
            recs = self.recommendations.get(paper_id, [])[:limit]
            return Reply.of_json({"recommendedPapers": [self._shaped(r, fields) for r in recs]})
        if path == "/recommendations/v1/papers" and request.method == "POST":
            body = request.json() or {}
            negative = {self._resolve(i) for i in body.get("negativePaperIds", [])}
            recs: list[str] = []
            for pid in body.get("positivePaperIds", []):
                for rec in self.recommendations.get(self._resolve(pid) or "", []):
                    if rec not in recs and rec not in negative:
                        recs.append(rec)
            shaped = [self._shaped(r, fields) for r in recs[:limit]]
            return Reply.of_json({"recommendedPapers": shaped})
        if path == "/graph/v1/author/search":
            query = params.get("query", "").lower()
            data = [a for a in self.authors.values() if query and query in a["name"].lower()]
            return Reply.of_json({"total": len(data), "offset": 0, "data": data[:limit]})
        if path.startswith("/graph/v1/author/") and path.endswith("/papers"):
            author_id = path.split("/")[4]
            if author_id not in self.authors:
                return _error(404, "Author not found")
            ids = self.author_paper_ids.get(author_id, [])[:limit]
            return Reply.of_json({"offset": 0, "data": [self._shaped(i, fields) for i in ids]})
        return _error(404, "Not found")

    def _resolve(self, given: str) -> str | None:
        """The paperId named by an S2 sha, ARXIV:, DOI: or CorpusId: id; None if unknown."""
        if given in self.papers:
            return given
        scheme, _, value = given.partition(":")
        key = {"arxiv": "ArXiv", "doi": "DOI", "corpusid": "CorpusId"}.get(scheme.lower())
        if key is None:
            return None
        for paper in self.papers.values():
            if str(paper["externalIds"].get(key, "")).lower() == value.lower():
                return str(paper["paperId"])
        return None

    def _shaped(self, paper_id: str | None, fields: list[str]) -> dict[str, Any] | None:
        paper = self.papers.get(paper_id or "")
        if paper is None:
            return None
        return {"paperId": paper["paperId"], **{f: paper.get(f) for f in fields}}


def _error(status: int, message: str) -> Reply:
    return Reply(status=status, body=json.dumps({"error": message}).encode(), content_type=JSON)
