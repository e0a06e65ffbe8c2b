"""arXiv's OAI-PMH interface (ARXIV_OAI_URL): bulk metadata, one ListRecords page at a time.

Used by `paperboy backfill` (app/backfill.py), which owns the loop, the stored progress and the
database; this module only speaks the protocol and parses the `arXiv` metadata format:
- `verb=ListRecords&metadataPrefix=arXiv&set=cs&from=YYYY-MM-DD`, then `resumptionToken=...`
  alone; the last page has an empty token. Records come in datestamp order (the date of a paper's
  latest version or metadata change), so "restart from the last datestamp" loses nothing.
- `<error code="noRecordsMatch">` is an empty list, `badResumptionToken` its own exception (the
  caller restarts from its stored datestamp), any other error code a SourceError.
- Polite, per arXiv's terms: one request at a time, ARXIV_OAI_DELAY_SECONDS apart (retries
  included); 503/429 and connection failures are retried with backoff, never sooner than the
  server's Retry-After; a Retry-After longer than SOURCE_RETRY_MAX_WAIT_SECONDS stops the harvest
  (resumable) instead of sleeping for it.
- Every request has a total deadline (ARXIV_OAI_DEADLINE_SECONDS), not only httpx's per-read
  timeout: the body is streamed and the read stops at the deadline.

httpx + lxml rather than `sickle`: sickle (on requests) has no total deadline per request, sleeps
out any Retry-After inside its own loop, and hides the raw page, which the caller needs to store
the token, cursor and last datestamp with the page's papers in one transaction.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
from lxml import etree

from app.config import Settings
from app.errors import SourceError
from app.paperids import abs_url, pdf_url
from app.sources._retry import Retryable, call_with_retries, parse_retry_after
from app.sources.records import ARXIV_PRIORITY, Author, PaperRecord

log = logging.getLogger(__name__)

# Provenance of backfilled papers (paper_sources.source, papers.metadata_source): digests and card
# jobs leave out papers seen only under this name (app/db/papers.py `backfill_only`).
BACKFILL_SOURCE = "arxiv-oai"
# arXiv's own metadata, but the `arXiv` format carries no version number: a live arXiv record
# (which does) owns the row, the backfill only fills what is unknown.
OAI_PRIORITY = ARXIV_PRIORITY - 1
USER_AGENT = "paperboy/0.1 (research digest bot; backfill)"
MAX_BODY_BYTES = 64 * 1024 * 1024  # a 1,000-record page is about 2 MB
_MAX_CATEGORY = 64
_MAX_DOI = 255

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
ARXIV_NS = "http://arxiv.org/OAI/arXiv/"
_NS = {"o": OAI_NS, "a": ARXIV_NS}


class BadResumptionToken(SourceError):
    """The server no longer knows the token (arXiv's expire at midnight UTC)."""


class RetryAfterTooLong(SourceError):
    """The server asked for a longer pause than we wait in one run."""


@dataclass
class OaiPage:
    """One ListRecords page: the records of the wanted categories, and what was left out."""

    records: list[PaperRecord] = field(default_factory=list)
    seen: int = 0  # records on the page, whatever became of them
    skipped: int = 0  # malformed: never stored
    other: int = 0  # other categories, outside the dates, or deleted
    token: str | None = None  # None: the last page
    cursor: int | None = None
    complete_list_size: int | None = None
    last_datestamp: date | None = None


def oai_set(category: str) -> str:
    """The OAI set holding a category: "cs.CL" -> "cs", "hep-th" -> "physics:hep-th"."""
    archive = category.split(".", 1)[0]
    if archive in ("cs", "math", "stat", "eess", "econ", "q-bio", "q-fin"):
        return archive
    return f"physics:{archive}"


def parse_list_records(
    content: bytes,
    *,
    categories: frozenset[str],
    since: date | None = None,
    until: date | None = None,
) -> OaiPage:
    """Parse one ListRecords answer. Keeps records in `categories` first submitted (created)
    between `since` and `until`; counts the malformed ones in `skipped`. Raises
    BadResumptionToken, SourceError (another OAI error), Retryable (XML cut short)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:  # most often a body cut short: worth another try
        raise Retryable(f"malformed XML ({exc})") from None
    if root is None or root.tag != f"{{{OAI_NS}}}OAI-PMH":
        raise SourceError("arXiv OAI-PMH sent something that is not an OAI-PMH response")
    error = root.find("o:error", _NS)
    if error is not None:
        code = error.get("code", "")
        message = " ".join((error.text or code).split())
        if code == "noRecordsMatch":
            return OaiPage()
        if code == "badResumptionToken":
            raise BadResumptionToken(f"arXiv OAI-PMH: {message}")
        raise SourceError(f"arXiv OAI-PMH: {code}: {message}")
    listing = root.find("o:ListRecords", _NS)
    if listing is None:
        raise SourceError("arXiv OAI-PMH sent no ListRecords")
    page = OaiPage()
    for element in listing.findall("o:record", _NS):
        page.seen += 1
        stamp = _date(element.findtext("o:header/o:datestamp", None, _NS))
        if stamp is not None and (page.last_datestamp is None or stamp > page.last_datestamp):
            page.last_datestamp = stamp
        header = element.find("o:header", _NS)
        if header is not None and header.get("status") == "deleted":  # withdrawn: nothing to keep
            page.other += 1
            continue
        record = _record(element)
        if record is None:
            page.skipped += 1
        elif not set(record.categories) & categories or not _in_range(record, since, until):
            page.other += 1
        else:
            page.records.append(record)
    _read_token(listing.find("o:resumptionToken", _NS), page)
    return page


def _read_token(token: Any, page: OaiPage) -> None:
    """arXiv's old service sends cursor and completeListSize, the current one only `expires`."""
    if token is None:
        return
    page.token = (token.text or "").strip() or None
    page.cursor = _int(token.get("cursor"))
    page.complete_list_size = _int(token.get("completeListSize"))


def _in_range(record: PaperRecord, since: date | None, until: date | None) -> bool:
    created = record.published.date() if record.published else None
    if created is None:
        return False
    return (since is None or created >= since) and (until is None or created <= until)


def _record(element: Any) -> PaperRecord | None:
    """A PaperRecord from one <record>, or None when any required part is missing or bad."""
    meta = element.find("o:metadata/a:arXiv", _NS)
    if meta is None:
        return None
    arxiv_id = _text(meta, "a:id")
    title = _text(meta, "a:title")
    created = _date(meta.findtext("a:created", None, _NS))
    categories = (_text(meta, "a:categories") or "").split()
    if not arxiv_id or not title or created is None or not categories:
        return None
    if any(len(c) > _MAX_CATEGORY for c in categories):
        return None
    updated_text = meta.findtext("a:updated", None, _NS)
    updated = _date(updated_text)
    if updated_text and updated is None:  # present but unreadable: the record is malformed
        return None
    authors = [_author(a) for a in meta.findall("a:authors/a:author", _NS)]
    doi = _text(meta, "a:doi")
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=None,
        title=title,
        abstract=_text(meta, "a:abstract") or "",
        authors=[a for a in authors if a is not None],
        categories=categories,
        primary_category=categories[0],
        published=_midnight(created),
        updated=_midnight(updated or created),
        comment=_text(meta, "a:comments"),
        journal_ref=_text(meta, "a:journal-ref"),
        doi=doi if doi is None or len(doi) <= _MAX_DOI else None,
        links=[
            {"href": abs_url(arxiv_id), "rel": "alternate", "title": None},
            {"href": pdf_url(arxiv_id), "rel": "related", "title": "pdf"},
        ],
        pdf_url=pdf_url(arxiv_id),
        provider=BACKFILL_SOURCE,
        priority=OAI_PRIORITY,
        source=BACKFILL_SOURCE,
        source_key=categories[0],
    )


def _author(element: Any) -> Author | None:
    parts = [_text(element, f"a:{part}") for part in ("forenames", "keyname", "suffix")]
    name = " ".join(p for p in parts if p)
    affiliations = [
        " ".join(a.text.split()) for a in element.findall("a:affiliation", _NS) if a.text
    ]
    return Author(name, affiliations) if name else None


def _text(element: Any, path: str) -> str | None:
    """Whitespace collapsed (titles and abstracts wrap across lines); blank is None."""
    value = element.findtext(path, None, _NS)
    return (" ".join(value.split()) or None) if value else None


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value.strip()[:10]) if value else None
    except ValueError:
        return None


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class OaiClient:
    """One HTTP client for ListRecords pages, built once per backfill and closed after."""

    def __init__(self, settings: Settings, client: httpx.Client | None = None) -> None:
        self._settings = settings
        # Redirects followed: the URL is the operator's setting (export.arxiv.org/oai2 moved).
        self._client = client or httpx.Client(
            headers={"user-agent": USER_AGENT}, follow_redirects=True
        )
        self._last_request: float | None = None

    def list_records(
        self,
        *,
        set_spec: str,
        since: date,
        token: str | None,
        categories: frozenset[str],
        keep_since: date | None = None,
        until: date | None = None,
    ) -> OaiPage:
        """The first page of `set_spec` changed since `since`, or the page `token` names.
        `keep_since`/`until` bound the creation dates kept (default: `since`)."""
        params = (
            {"verb": "ListRecords", "resumptionToken": token}
            if token
            else {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": set_spec,
                  "from": since.isoformat()}
        )  # fmt: skip
        settings = self._settings
        attempts = settings.arxiv_oai_num_retries + 1

        def one_try() -> OaiPage:
            body = self._get(params)
            return parse_list_records(
                body, categories=categories, since=keep_since or since, until=until
            )

        try:
            return call_with_retries(one_try, attempts=attempts, settings=settings)
        except Retryable as exc:
            raise SourceError(f"arXiv OAI-PMH: {exc} after {attempts} attempts") from None

    def _get(self, params: dict[str, str]) -> bytes:
        self._wait_turn()
        settings = self._settings
        deadline = time.monotonic() + settings.arxiv_oai_deadline_seconds
        timeout = httpx.Timeout(
            min(settings.http_timeout_seconds, settings.arxiv_oai_deadline_seconds)
        )
        try:
            with self._client.stream(
                "GET", settings.arxiv_oai_url, params=params, timeout=timeout
            ) as response:
                status = response.status_code
                if status == 429 or status >= 500:
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                    if wait is not None and wait > settings.source_retry_max_wait_seconds:
                        raise RetryAfterTooLong(
                            f"arXiv OAI-PMH asks to wait {wait:.0f} s (HTTP {status})"
                        )
                    raise Retryable(f"HTTP {status}", retry_after=wait)
                body = self._read(response, deadline)
        except httpx.TimeoutException:
            raise Retryable("timed out") from None
        except httpx.TransportError as exc:
            raise Retryable(f"connection failed ({type(exc).__name__})") from None
        finally:
            self._last_request = time.monotonic()
        # OAI-PMH errors come in the body (HTTP 200 or 400): let the parser read them.
        if status != 200 and b"OAI-PMH" not in body[:2000]:
            raise SourceError(f"arXiv OAI-PMH: HTTP {status}")
        return body

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        data = bytearray()
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > MAX_BODY_BYTES:
                raise SourceError("arXiv OAI-PMH sent a page larger than 64 MB")
            if time.monotonic() > deadline:
                raise Retryable(
                    f"page took longer than {self._settings.arxiv_oai_deadline_seconds:g} s"
                )
        return bytes(data)

    def _wait_turn(self) -> None:
        """arXiv's terms: one request at a time, several seconds apart (retries included)."""
        if self._last_request is None:
            return
        remaining = self._settings.arxiv_oai_delay_seconds - (time.monotonic() - self._last_request)
        if remaining > 0:
            time.sleep(remaining)

    def close(self) -> None:
        self._client.close()
