"""A fake arXiv API (`/api/query`): a real HTTP server speaking arXiv's Atom.

    with FakeArxiv() as fake:
        fake.add(arxiv_paper("2611.00001", categories=["cs.CL"]))
        settings = settings.model_copy(update={"arxiv_api_url": fake.url})

Honours `search_query` (`cat:X`; any other query answers `query_results[query]`, or every paper),
`id_list`, `start`, `max_results`, and sorts newest first like sortBy=submittedDate. Queries in
`bad_queries` get arXiv's error feed with HTTP 400, those in `failing_queries` that status.
`add_raw_entry` slips an arbitrary (e.g. malformed) <entry> into the listings. Scripted
faults come from ScriptedServer (`fail(503)`, `fail(429, retry_after="1")`, `send_raw(b"<feed")`,
`delay_next(2)`) plus `empty_next()`: a valid feed with no entries, the way arXiv's flaky empty
pages look.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from ._scripted_http import Reply, Request, ScriptedServer

ATOM = "application/atom+xml; charset=utf-8"
_HEAD = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
    'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
)


@dataclass
class ArxivPaper:
    arxiv_id: str
    version: int = 1
    title: str = "A Paper"
    abstract: str = "We study things."
    authors: list[tuple[str, list[str]]] = field(default_factory=lambda: [("Ada Lovelace", [])])
    categories: list[str] = field(default_factory=lambda: ["cs.CL"])
    published: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(hours=1))
    updated: datetime | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None

    def entry(self) -> str:
        vid = f"{self.arxiv_id}v{self.version}"
        updated = self.updated or self.published
        lines = [
            "  <entry>",
            f"    <id>http://arxiv.org/abs/{vid}</id>",
            f"    <title>{escape(self.title)}</title>",
            f"    <updated>{_iso(updated)}</updated>",
            f'    <link href="https://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>',
            f'    <link href="https://arxiv.org/pdf/{vid}" rel="related" '
            'type="application/pdf" title="pdf"/>',
            f"    <summary>{escape(self.abstract)}</summary>",
            *(
                f'    <category term="{c}" scheme="http://arxiv.org/schemas/atom"/>'
                for c in self.categories
            ),
            f"    <published>{_iso(self.published)}</published>",
        ]
        if self.comment:
            lines.append(f"    <arxiv:comment>{escape(self.comment)}</arxiv:comment>")
        lines.append(f'    <arxiv:primary_category term="{self.categories[0]}"/>')
        if self.journal_ref:
            lines.append(f"    <arxiv:journal_ref>{escape(self.journal_ref)}</arxiv:journal_ref>")
        for name, affiliations in self.authors:
            lines.append(f"    <author>\n      <name>{escape(name)}</name>")
            lines += [
                f"      <arxiv:affiliation>{escape(a)}</arxiv:affiliation>" for a in affiliations
            ]
            lines.append("    </author>")
        if self.doi:
            lines.append(f"    <arxiv:doi>{escape(self.doi)}</arxiv:doi>")
        lines.append("  </entry>")
        return "\n".join(lines)


def arxiv_paper(arxiv_id: str, **fields: object) -> ArxivPaper:
    return ArxivPaper(arxiv_id=arxiv_id, **fields)  # type: ignore[arg-type]


def atom_feed(entries: list[str], *, total: int, start: int = 0, query: str = "") -> bytes:
    head = _HEAD + (
        "  <id>https://arxiv.org/api/fake</id>\n"
        f"  <title>arXiv Query: {escape(query)}</title>\n"
        f"  <updated>{_iso(datetime.now(UTC))}</updated>\n"
        f"  <link href={quoteattr('https://arxiv.org/api/query?' + query)} "
        'type="application/atom+xml"/>\n'
        f"  <opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>\n"
        f"  <opensearch:totalResults>{total}</opensearch:totalResults>\n"
        f"  <opensearch:startIndex>{start}</opensearch:startIndex>\n"
    )
    return (head + "\n".join(entries) + "\n</feed>\n").encode()


def error_feed(message: str) -> bytes:
    entry = (
        "  <entry>\n"
        "    <id>https://arxiv.org/api/errors#bad_query</id>\n"
        "    <title>Error</title>\n"
        f"    <updated>{_iso(datetime.now(UTC))}</updated>\n"
        f"    <summary>{escape(message)}</summary>\n"
        "    <author>\n      <name>arXiv api core</name>\n    </author>\n"
        "  </entry>"
    )
    return atom_feed([entry], total=1)


@dataclass
class _Raw:
    xml: str
    published: datetime
    categories: list[str]


class FakeArxiv(ScriptedServer):
    def __init__(self) -> None:
        super().__init__()
        self.papers: dict[str, ArxivPaper] = {}
        self.raw_entries: list[_Raw] = []
        self.query_results: dict[str, list[str]] = {}
        self.bad_queries: set[str] = set()
        self.failing_queries: dict[str, int] = {}  # query -> HTTP status it always gets

    @property
    def url(self) -> str:
        return self.base_url + "/api/query"

    def add(self, *papers: ArxivPaper) -> None:
        for paper in papers:
            self.papers[paper.arxiv_id] = paper

    def add_raw_entry(
        self, xml: str, *, published: datetime | None = None, categories: list[str] | None = None
    ) -> None:
        self.raw_entries.append(_Raw(xml, published or datetime.now(UTC), categories or ["cs.CL"]))

    def empty_next(self, times: int = 1) -> None:
        for _ in range(times):
            self._push(Reply(body=atom_feed([], total=0), content_type=ATOM))

    def queries(self) -> list[dict[str, str]]:
        return [r.params for r in self.requests if r.path == "/api/query"]

    def answer(self, request: Request) -> Reply:
        if request.path != "/api/query":
            return Reply(status=404, body=b"not found")
        params = request.params
        query = params.get("search_query", "")
        if query in self.failing_queries:
            return Reply(status=self.failing_queries[query], body=b"Service Unavailable")
        if query in self.bad_queries:
            return Reply(status=400, body=error_feed(f"malformed query {query}"), content_type=ATOM)
        listing = self._listing(query, [i for i in params.get("id_list", "").split(",") if i])
        start = int(params.get("start", "0"))
        size = int(params.get("max_results", "10"))
        page = listing[start : start + size]
        body = atom_feed(page, total=len(listing), start=start, query=query)
        return Reply(body=body, content_type=ATOM)

    def _listing(self, query: str, ids: list[str]) -> list[str]:
        rows: list[tuple[datetime, str, list[str], str]] = [
            (p.published, p.arxiv_id, p.categories, p.entry()) for p in self.papers.values()
        ]
        rows += [(r.published, "", r.categories, r.xml) for r in self.raw_entries]
        if ids:
            wanted = {i.split("v")[0] for i in ids}
            rows = [r for r in rows if r[1] in wanted]
        elif query.startswith("cat:"):
            rows = [r for r in rows if query[4:] in r[2]]
        elif query in self.query_results:
            rows = [r for r in rows if r[1] in self.query_results[query]]
        rows.sort(key=lambda r: r[0], reverse=True)
        return [r[3] for r in rows]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
