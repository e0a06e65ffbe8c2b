"""A fake arXiv OAI-PMH endpoint (`/oai`): ListRecords in the `arXiv` metadata format.

    with FakeOai(page_size=2) as fake:
        fake.add(oai_paper("2601.00001", categories=["cs.CL"], datestamp=date(2026, 1, 5)))
        settings = settings.model_copy(update={"arxiv_oai_url": fake.url})

Speaks what arXiv's service sends (checked against arXiv's own templates, github.com/arXiv/oaipmh,
and the old export.arxiv.org/oai2 answers): the OAI-PMH envelope with responseDate and request,
`<record>` = `<header>` (identifier `oai:arXiv.org:ID`, datestamp, setSpec) + `<metadata><arXiv
xmlns="http://arxiv.org/OAI/arXiv/">`, records in datestamp order, `<resumptionToken cursor=..
completeListSize=..>` while more pages follow and an empty one on the last page,
`<error code="noRecordsMatch">` for an empty range, `badResumptionToken` for an unknown or
expired token (`expire_tokens()`). Honours `from`, `until` (datestamps) and `set`.

Faults: ScriptedServer's `fail(503, retry_after="2")`, `send_raw(...)`, `delay_next(s)`, plus
`drop_next()` / `drop_request(n)` (the connection closes without an answer),
`delay_request(n, seconds)` (a hanging page) and `trickle_next(s)` (one byte every s seconds).
`served` lists each page answered (its cursor and the token that asked for it): no page should
be fetched twice.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Self
from xml.sax.saxutils import escape, quoteattr

from ._scripted_http import Reply, Request, ScriptedServer

XML = "text/xml; charset=utf-8"
_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ '
    'http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n'
)


@dataclass
class OaiPaper:
    arxiv_id: str
    datestamp: date
    title: str = "A Paper"
    abstract: str = "We study things."
    authors: list[tuple[str, str]] = field(default_factory=lambda: [("Lovelace", "Ada")])
    categories: list[str] = field(default_factory=lambda: ["cs.CL"])
    created: date | None = None  # default: the datestamp
    updated: date | None = None
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None

    def record(self) -> str:
        created = self.created or self.datestamp
        parts = [
            f"<id>{self.arxiv_id}</id>",
            f"<created>{created.isoformat()}</created>",
        ]
        if self.updated:
            parts.append(f"<updated>{self.updated.isoformat()}</updated>")
        parts.append(
            "<authors>"
            + "".join(
                f"<author><keyname>{escape(k)}</keyname><forenames>{escape(f)}</forenames></author>"
                for k, f in self.authors
            )
            + "</authors>"
        )
        # arXiv wraps long titles and abstracts over several lines.
        parts.append(f"<title>{escape(self.title)}</title>")
        parts.append(f"<categories>{' '.join(self.categories)}</categories>")
        if self.comments:
            parts.append(f"<comments>{escape(self.comments)}</comments>")
        if self.journal_ref:
            parts.append(f"<journal-ref>{escape(self.journal_ref)}</journal-ref>")
        if self.doi:
            parts.append(f"<doi>{escape(self.doi)}</doi>")
        parts.append("<license>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</license>")
        parts.append(f"<abstract>  {escape(self.abstract)}\n</abstract>")
        body = "\n".join(parts)
        return record_xml(
            f"oai:arXiv.org:{self.arxiv_id}",
            self.datestamp,
            self.categories[0].split(".")[0],
            '<arXiv xmlns="http://arxiv.org/OAI/arXiv/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="http://arxiv.org/OAI/arXiv/ http://arxiv.org/OAI/arXiv.xsd">\n'
            f"{body}\n</arXiv>",
        )


def record_xml(identifier: str, datestamp: date, set_spec: str, metadata: str) -> str:
    """One <record>; `metadata` is the inside of <metadata> (anything, for malformed records)."""
    return (
        "<record>\n<header>\n"
        f"<identifier>{identifier}</identifier>\n"
        f"<datestamp>{datestamp.isoformat()}</datestamp>\n"
        f"<setSpec>{set_spec}</setSpec>\n"
        f"</header>\n<metadata>\n{metadata}\n</metadata>\n</record>"
    )


def oai_paper(arxiv_id: str, **fields: Any) -> OaiPaper:
    fields.setdefault("datestamp", date(2026, 1, 5))
    return OaiPaper(arxiv_id=arxiv_id, **fields)


class _Drop(Exception):
    """Raised by `respond`: the server closes the connection without answering."""


@dataclass
class _Item:
    datestamp: date
    key: str
    set_spec: str
    xml: str


class FakeOai(ScriptedServer):
    def __init__(self, page_size: int = 2) -> None:
        super().__init__()
        self.page_size = page_size
        self.items: list[_Item] = []
        self.served: list[tuple[str | None, int]] = []  # (token asked with, cursor) per page
        self._tokens: dict[str, tuple[dict[str, str], int]] = {}
        self._numbers = itertools.count(6960524)
        self._drops = 0
        self._drop_at: set[int] = set()
        self._delay_at: dict[int, float] = {}
        self._trickle = 0.0
        self._count = 0
        self._state = threading.Lock()

    @property
    def url(self) -> str:
        return self.base_url + "/oai"

    def start(self) -> Self:
        super().start()
        assert self._server is not None
        # A dropped connection is the point of `drop_next`, not an error worth a traceback.
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        return self

    def add(self, *papers: OaiPaper) -> None:
        for paper in papers:
            set_spec = paper.categories[0].split(".")[0]
            self.items.append(_Item(paper.datestamp, paper.arxiv_id, set_spec, paper.record()))

    def add_raw(self, xml: str, *, datestamp: date, key: str, set_spec: str = "cs") -> None:
        """A record of any shape (a malformed one), listed in datestamp order like the others."""
        self.items.append(_Item(datestamp, key, set_spec, xml))

    def drop_next(self, times: int = 1) -> None:
        with self._state:
            self._drops += times

    def drop_request(self, number: int) -> None:
        """Drop the connection of the `number`-th request (1-based), e.g. 2: after page 1."""
        with self._state:
            self._drop_at.add(number)

    def delay_request(self, number: int, seconds: float) -> None:
        """Answer the `number`-th request (1-based) only after `seconds` (a hanging page)."""
        with self._state:
            self._delay_at[number] = seconds

    def trickle_next(self, seconds_per_byte: float) -> None:
        """Send the next answer one byte at a time (a slow host: only a total deadline helps)."""
        with self._state:
            self._trickle = seconds_per_byte

    def expire_tokens(self) -> None:
        """Every token handed out so far becomes unknown (arXiv's expire at midnight UTC)."""
        with self._state:
            self._tokens.clear()

    def list_requests(self) -> list[dict[str, str]]:
        return [r.params for r in self.requests if r.path == "/oai"]

    def respond(self, request: Request) -> Reply:
        with self._state:
            self._count += 1
            drop = self._drops > 0 or self._count in self._drop_at
            self._drops -= 1 if self._drops > 0 else 0
            delay = self._delay_at.get(self._count, 0.0)
        if drop:
            raise _Drop
        if delay:
            time.sleep(delay)
        reply = super().respond(request)
        with self._state:
            reply.trickle_s, self._trickle = self._trickle, 0.0
        return reply

    def answer(self, request: Request) -> Reply:
        if request.path != "/oai":
            return Reply(status=404, body=b"not found")
        params = request.params
        if params.get("verb") != "ListRecords":
            return self._error(params, "badVerb", "Illegal verb")
        token = params.get("resumptionToken")
        if token is not None:
            with self._state:
                known = self._tokens.get(token)
            if known is None or len(params) != 2:
                return self._error(params, "badResumptionToken", "Invalid resumption token")
            query, cursor = known
        else:
            if params.get("metadataPrefix") != "arXiv":
                return self._error(params, "cannotDisseminateFormat", "Unknown format")
            query, cursor = params, 0
        listing = self._listing(query)
        if not listing:
            return self._error(params, "noRecordsMatch", "No records match")
        page = listing[cursor : cursor + self.page_size]
        nxt = cursor + len(page)
        with self._state:
            self.served.append((token, cursor))
            if nxt < len(listing):
                new_token = f"{next(self._numbers)}|{nxt + 1}"
                self._tokens[new_token] = (query, nxt)
                tail = (
                    f'<resumptionToken cursor="{cursor}" completeListSize="{len(listing)}">'
                    f"{new_token}</resumptionToken>"
                )
            else:
                tail = f'<resumptionToken cursor="{cursor}" completeListSize="{len(listing)}"/>'
        records = "\n".join(item.xml for item in page)
        return self._envelope(params, f"<ListRecords>\n{records}\n{tail}\n</ListRecords>")

    def _listing(self, query: dict[str, str]) -> list[_Item]:
        start, end = _day(query.get("from")), _day(query.get("until"))
        wanted = query.get("set")
        rows = [
            item
            for item in self.items
            if (start is None or item.datestamp >= start)
            and (end is None or item.datestamp <= end)
            and (wanted is None or item.set_spec == wanted)
        ]
        return sorted(rows, key=lambda item: (item.datestamp, item.key))

    def _error(self, params: dict[str, str], code: str, message: str) -> Reply:
        return self._envelope(params, f'<error code="{code}">{escape(message)}</error>')

    def _envelope(self, params: dict[str, str], inner: str) -> Reply:
        attributes = " ".join(f"{k}={quoteattr(v)}" for k, v in sorted(params.items()))
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = (
            _HEAD
            + f"<responseDate>{now}</responseDate>\n"
            + f"<request {attributes}>http://export.arxiv.org/oai2</request>\n"
            + inner
            + "\n</OAI-PMH>\n"
        )
        return Reply(body=body.encode(), content_type=XML)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
