"""arXiv: the newest papers of a category (or a topic's raw query), page by page.

Built on the `arxiv` package: its `Client` (pointed at ARXIV_API_URL through
`query_url_format`), its `Search` and its entry parser. Three things it does not do, added here:
- backoff between retries (it retries at once, which arXiv's 429s punish): tenacity around each
  page, one request at a time, ARXIV_DELAY_SECONDS apart, retries included;
- a request timeout;
- counting bad entries instead of dropping them silently (or failing the page on a bad date),
  and telling malformed XML (its parser recovers and returns half a page) and arXiv's error
  feed apart from results.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import arxiv
import requests
from arxiv import _feed  # the package's own entry parser: private, hence the pin to arxiv 4.x
from lxml import etree

from app.config import Settings
from app.errors import SourceError
from app.paperids import split_version
from app.sources._retry import Retryable, call_with_retries, raise_if_transient
from app.sources.base import Chunk, FetchContext
from app.sources.records import ARXIV_PRIORITY, Author, PaperRecord

log = logging.getLogger(__name__)

USER_AGENT = "paperboy/0.1 (research digest bot)"
_NS = _feed._NS
_ATOM_FEED = "{http://www.w3.org/2005/Atom}feed"
# Column widths of papers.primary_category and papers.doi: a longer value would fail the batch.
_MAX_CATEGORY = 64
_MAX_DOI = 255
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class ArxivQueryError(SourceError):
    """One query failed on its own (arXiv's error feed, only empty pages); others can still run."""


class _EmptyPage(Retryable):
    """A valid feed without entries where entries were due."""


@dataclass
class ArxivPage:
    """One page of results: the usable records and how many entries were unusable."""

    records: list[PaperRecord] = field(default_factory=list)
    skipped: int = 0
    total_results: int = 0

    @property
    def entries(self) -> int:
        return len(self.records) + self.skipped


def parse_page(content: bytes, *, source: str = "arxiv", source_key: str = "") -> ArxivPage:
    """Parse one Atom response. Malformed XML -> SourceError; arXiv's error feed ->
    ArxivQueryError; an entry that cannot be read is counted in `skipped`."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise SourceError(f"arXiv sent malformed XML ({exc})") from None
    if root is None or root.tag != _ATOM_FEED:
        raise SourceError("arXiv sent something that is not an Atom feed")
    entries = root.findall("atom:entry", _NS)
    if len(entries) == 1 and _is_error_entry(entries[0]):
        message = " ".join((_feed._text(entries[0], "atom:summary") or "unknown error").split())
        raise ArxivQueryError(f"arXiv rejected the query: {message}")
    page = ArxivPage(total_results=_int(_feed._text(root, "opensearch:totalResults")))
    for entry in entries:
        record = _record(entry, source=source, source_key=source_key)
        if record is None:
            page.skipped += 1
        else:
            page.records.append(record)
    return page


def _is_error_entry(entry: Any) -> bool:
    title = (_feed._text(entry, "atom:title") or "").strip()
    entry_id = _feed._text(entry, "atom:id") or ""
    return title == "Error" and (
        "/api/errors" in entry_id or entry.find("atom:published", _NS) is None
    )


def _record(entry: Any, *, source: str, source_key: str) -> PaperRecord | None:
    try:
        result = _feed._build_result(entry)  # None when <id> or a date is missing
        if result is None:
            return None
        arxiv_id, version = split_version(result.get_short_id())
    except ValueError as exc:  # a bad date or id
        log.warning("skipping unreadable arXiv entry: %s", exc)
        return None
    title = " ".join(result.title.split())
    primary = result.primary_category or (result.categories or [None])[0]
    if not title or len(primary or "") > _MAX_CATEGORY:
        return None
    doi = _clean(result.doi)
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version or 1,
        title=title,
        abstract=" ".join(result.summary.split()),
        authors=[Author(a.name.strip(), list(a.affiliation)) for a in result.authors if a.name],
        categories=list(result.categories),
        primary_category=primary,
        published=result.published,
        updated=result.updated,
        comment=_clean(result.comment),
        journal_ref=_clean(result.journal_ref),
        doi=doi if doi is None or len(doi) <= _MAX_DOI else None,
        links=[{"href": link.href, "rel": link.rel, "title": link.title} for link in result.links],
        pdf_url=result.pdf_url,
        source=source,
        source_key=source_key,
    )


def _clean(value: str | None) -> str | None:
    """Collapse whitespace; blank is None."""
    return (" ".join(value.split()) or None) if value else None


def _int(value: str | None) -> int:
    try:
        return int((value or "0").strip())
    except ValueError:
        return 0


class _Client(arxiv.Client):
    """The package's client, fetching one page at a time with our retry and parser."""

    def __init__(self, settings: Settings) -> None:
        # The package's own retry loop is disabled (num_retries=0): ours backs off.
        super().__init__(
            page_size=settings.arxiv_page_size,
            delay_seconds=settings.arxiv_delay_seconds,
            num_retries=0,
        )
        self.query_url_format = settings.arxiv_api_url + "?{}"
        self._settings = settings
        self._last_request: float | None = None

    def page(
        self, search: arxiv.Search, *, start: int, size: int, expect: bool, key: str
    ) -> ArxivPage:
        url = self._format_url(search, start, size)
        attempts = self._settings.arxiv_num_retries + 1
        try:
            return call_with_retries(
                lambda: self._fetch(url, start=start, expect=expect, key=key),
                attempts=attempts,
                settings=self._settings,
            )
        except _EmptyPage:
            # Persistently empty: a typo'd category or a query arXiv answers with nothing. That
            # query fails; the others can still run.
            raise ArxivQueryError(
                f"arXiv kept sending empty pages for {search.query or 'the id list'} "
                f"({attempts} attempts)"
            ) from None
        except Retryable as exc:
            raise SourceError(f"arXiv: {exc} after {attempts} attempts") from None

    def _fetch(self, url: str, *, start: int, expect: bool, key: str) -> ArxivPage:
        self._wait_turn()
        try:
            response = self._session.get(
                url,
                headers={"user-agent": USER_AGENT},
                timeout=self._settings.http_timeout_seconds,
            )
        except _TRANSIENT as exc:
            raise Retryable(f"connection failed ({type(exc).__name__})") from exc
        finally:
            self._last_request = time.monotonic()
        status = response.status_code
        raise_if_transient(status, response.headers.get("Retry-After"))
        if status != 200:
            # arXiv explains a 400 in an error feed: report its message when there is one.
            try:
                parse_page(response.content)
            except ArxivQueryError:
                raise
            except SourceError:
                pass
            raise SourceError(f"arXiv: HTTP {status}")
        page = parse_page(response.content, source_key=key)
        # arXiv sometimes sends a valid but empty page; a category is never really empty, and a
        # page before the announced total cannot be.
        if page.entries == 0 and (expect or start < page.total_results):
            raise _EmptyPage("empty page")
        return page

    def _wait_turn(self) -> None:
        """arXiv's terms: one request at a time, delay_seconds apart (retries included)."""
        if self._last_request is None:
            return
        remaining = self.delay_seconds - (time.monotonic() - self._last_request)
        if remaining > 0:
            time.sleep(remaining)


class ArxivSource:
    """Newest-first listings of categories and topic queries, plus lookups by id. The reference
    source: its metadata owns a paper (ARXIV_PRIORITY)."""

    name = "arxiv"
    priority = ARXIV_PRIORITY

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client = _Client(settings)

    def fetch(self, context: FetchContext) -> Iterator[Chunk]:
        """One chunk per query (a category, a topic's own arXiv query), after all its pages.
        A query that fails on its own (arXiv's error feed, only empty pages) is a chunk with an
        error; the other queries still run."""
        settings = self._settings
        queries = [(f"cat:{c}", c, True) for c in settings.arxiv_categories]
        # A topic's own query may rightly find nothing new.
        queries += [
            (q.strip(), f"topic:{name}", False) for name, q in context.topic_queries if q.strip()
        ]
        # A followed author's `au:` query (app/author_names.py) may rightly find nothing new too.
        queries += [(a.arxiv_query, f"author:{a.name}", False) for a in context.authors]
        for query, key, expect_results in queries:
            chunk = Chunk(key)
            context.progress(f"arXiv {key}: fetching")
            try:
                for page in self.newest(
                    query,
                    since=self._cutoff(context, key),
                    limit=settings.arxiv_max_per_category,
                    key=key,
                    expect_results=expect_results,
                ):
                    chunk.records += page.records
                    chunk.skipped += page.skipped
                    context.progress(f"arXiv {key}: {len(chunk.records)} papers")
            except ArxivQueryError as exc:
                chunk = Chunk(key, error=str(exc))
            yield chunk

    def _cutoff(self, context: FetchContext, key: str) -> datetime | None:
        """Oldest submission date still worth reading: the start of the last run that completed
        the query, minus the overlap (arXiv back-fills); None on the first run (the per-category
        cap bounds it)."""
        if context.days is not None:
            return datetime.now(UTC) - timedelta(days=context.days)
        last = context.since(key)
        return last - timedelta(hours=self._settings.arxiv_overlap_hours) if last else None

    def lookup(self, ids: Mapping[str, Sequence[str]]) -> list[PaperRecord]:
        wanted = list(ids.get("arxiv", ()))
        return self.by_ids(wanted) if wanted else []

    def run_params(self) -> dict[str, object]:
        return {"categories": list(self._settings.arxiv_categories)}

    def close(self) -> None:
        self._client._session.close()

    def newest(
        self,
        query: str,
        *,
        since: datetime | None,
        limit: int,
        key: str,
        expect_results: bool = True,
    ) -> Iterator[ArxivPage]:
        """Pages of `query` sorted by submission date, newest first, until a paper older than
        `since`, `limit` papers, or the end of the results."""
        search = arxiv.Search(
            query=query,
            max_results=limit,
            sort_by=arxiv.SortCriterion.SubmittedDate,
            sort_order=arxiv.SortOrder.Descending,
        )
        start = 0
        while start < limit:
            size = min(self._settings.arxiv_page_size, limit - start)
            page = self._client.page(
                search, start=start, size=size, expect=expect_results or start > 0, key=key
            )
            read = page.entries
            fresh = [
                r
                for r in page.records
                if since is None or r.published is None or r.published >= since
            ]
            past_cutoff = len(fresh) < len(page.records)
            page.records = fresh
            yield page
            start += read
            if past_cutoff or read == 0 or start >= page.total_results:
                return

    def by_ids(self, ids: list[str], *, source: str = "on_demand") -> list[PaperRecord]:
        """The current version of each id (unknown ids are simply absent)."""
        search = arxiv.Search(id_list=ids, max_results=len(ids))
        page = self._client.page(search, start=0, size=len(ids), expect=False, key="")
        for record in page.records:
            record.source = source
        return page.records
