"""Hugging Face papers: the daily lists, trending, and single papers, over httpx.

`upvotes`, `githubRepo`, `ai_keywords` ... sit under `paper`; the item's own `publishedAt` is
when Hugging Face featured it (`paper.publishedAt` is the arXiv date).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from app.config import Settings
from app.errors import SourceError
from app.paperids import split_version
from app.sources._retry import Retryable, call_with_retries, raise_if_transient
from app.sources.base import Chunk, FetchContext
from app.sources.records import Author, PaperRecord

log = logging.getLogger(__name__)

NAME = "hf"
# Below arXiv (100): Hugging Face's metadata only stands in until arXiv has the paper.
PRIORITY = 20
USER_AGENT = "paperboy/0.1 (research digest bot)"
DAILY_PAGE_SIZE = 100
# A busy day has a few dozen papers; this only guards against a server that never stops.
MAX_DAILY_PAGES = 5


@dataclass
class HFPage:
    records: list[PaperRecord] = field(default_factory=list)
    skipped: int = 0


def parse_items(
    payload: Any,
    *,
    source: str,
    source_key: str = "",
    featured_on: date | None = None,
    trending_at: datetime | None = None,
) -> HFPage:
    """A daily_papers response (a JSON list of items) as records; unusable items are counted."""
    if not isinstance(payload, list):
        raise SourceError("Hugging Face sent an unexpected JSON shape (expected a list of papers)")
    page = HFPage()
    for item in payload:
        record = item_record(
            item,
            source=source,
            source_key=source_key,
            featured_on=featured_on,
            trending_at=trending_at,
        )
        if record is None:
            page.skipped += 1
        else:
            page.records.append(record)
    return page


def item_record(
    item: Any,
    *,
    source: str,
    source_key: str = "",
    featured_on: date | None = None,
    trending_at: datetime | None = None,
) -> PaperRecord | None:
    """One item ({"paper": {...}, "publishedAt": ..., "numComments": ...}), or None if unusable."""
    if not isinstance(item, dict) or not isinstance(item.get("paper"), dict):
        return None
    paper: dict[str, Any] = item["paper"]
    try:
        arxiv_id, _ = split_version(str(paper.get("id") or ""))
    except ValueError:
        return None
    title = _text(paper.get("title")) or _text(item.get("title"))
    if not title:
        return None
    featured = _datetime(item.get("publishedAt"))
    day = featured.date() if featured else featured_on
    keywords = paper.get("ai_keywords")
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=_text(paper.get("summary")) or _text(item.get("summary")) or "",
        authors=[
            Author(name)
            for a in paper.get("authors") or []
            if isinstance(a, dict) and (name := _text(a.get("name")))
        ],
        published=_datetime(paper.get("publishedAt")),
        links=[
            {"href": f"https://huggingface.co/papers/{arxiv_id}", "rel": "related", "title": "hf"}
        ],
        signals={
            "upvotes": _int(paper.get("upvotes")),
            "num_comments": _int(item.get("numComments", paper.get("numComments"))),
            "github_repo": _text(paper.get("githubRepo")),
            "github_stars": _int(paper.get("githubStars")),
            "ai_keywords": (
                [k for k in map(_text, keywords) if k] if isinstance(keywords, list) else None
            ),
            "ai_summary": _text(paper.get("ai_summary")),
            "organization": _organization(paper.get("organization") or item.get("organization")),
            # First sightings stay put (app/db/models/papers.py PaperSignal): the day it was
            # featured, the time it first trended. When it was last seen trending is its
            # hf_trending row's last_seen_at in paper_sources.
            "first_featured_on": day.isoformat() if day else None,
            "first_trending_at": trending_at.isoformat() if trending_at else None,
        },
        provider=NAME,
        priority=PRIORITY,
        source=source,
        source_key=source_key,
    )


class HuggingFaceSource:
    """The Hugging Face papers API at HF_API_URL. Build once, `close()` when done."""

    name = NAME
    priority = PRIORITY

    def __init__(self, settings: Settings, *, client: httpx.Client | None = None) -> None:
        self._settings = settings
        self._http = client or httpx.Client(
            base_url=settings.hf_api_url.rstrip("/") + "/",
            timeout=settings.http_timeout_seconds,
            headers={"user-agent": USER_AGENT, "accept": "application/json"},
            follow_redirects=True,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HuggingFaceSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, context: FetchContext) -> Iterator[Chunk]:
        """The last days' lists and trending, as one chunk: a handful of quick requests, stored
        only when every one succeeded."""
        chunk = Chunk("all")
        today = datetime.now(UTC).date()
        pages = []
        for back in range(context.days or self._settings.hf_days):
            day = today - timedelta(days=back)
            context.progress(f"Hugging Face: daily papers of {day.isoformat()}")
            pages.append(self.daily(day))
        context.progress("Hugging Face: trending")
        pages.append(self.trending())
        for page in pages:
            chunk.records += page.records
            chunk.skipped += page.skipped
        yield chunk

    def lookup(self, ids: Mapping[str, Sequence[str]]) -> list[PaperRecord]:
        found = [self.paper(arxiv_id) for arxiv_id in ids.get("arxiv", ())]
        return [record for record in found if record is not None]

    def run_params(self) -> dict[str, object]:
        return {}

    def daily(self, day: date) -> HFPage:
        """Papers featured on `day` (all pages)."""
        result = HFPage()
        for p in range(MAX_DAILY_PAGES):
            payload = self._get(
                "daily_papers", {"date": day.isoformat(), "limit": DAILY_PAGE_SIZE, "p": p}
            )
            page = parse_items(
                payload, source="hf_daily", source_key=day.isoformat(), featured_on=day
            )
            result.records += page.records
            result.skipped += page.skipped
            if len(payload) < DAILY_PAGE_SIZE:
                break
        return result

    def trending(self) -> HFPage:
        payload = self._get("daily_papers", {"sort": "trending", "limit": 50})
        return parse_items(payload, source="hf_trending", trending_at=datetime.now(UTC))

    def paper(self, arxiv_id: str) -> PaperRecord | None:
        """One paper by id, or None when Hugging Face has not indexed it."""
        if "/" in arxiv_id:  # old-style ids (cs/0601001) predate Hugging Face papers
            return None
        payload = self._get(f"papers/{arxiv_id}", {}, missing_ok=True)
        if payload is None:
            return None
        return item_record({"paper": payload}, source="hf_paper")

    def _get(self, path: str, params: dict[str, Any], *, missing_ok: bool = False) -> Any:
        attempts = self._settings.hf_num_retries + 1
        try:
            return call_with_retries(
                lambda: self._get_once(path, params, missing_ok=missing_ok),
                attempts=attempts,
                settings=self._settings,
            )
        except Retryable as exc:
            raise SourceError(f"Hugging Face: {exc} after {attempts} attempts") from None

    def _get_once(self, path: str, params: dict[str, Any], *, missing_ok: bool) -> Any:
        try:
            response = self._http.get(path, params=params)
        except httpx.TransportError as exc:  # connection errors and timeouts
            raise Retryable(f"connection failed ({type(exc).__name__})") from exc
        status = response.status_code
        raise_if_transient(status, response.headers.get("Retry-After"))
        if status == 404 and missing_ok:
            return None
        if status != 200:
            raise SourceError(f"Hugging Face: HTTP {status} for /{path}")
        try:
            return response.json()
        except ValueError:
            raise SourceError(f"Hugging Face sent invalid JSON for /{path}") from None


def _text(value: Any) -> str | None:
    # NUL is valid in JSON but cannot be stored in PostgreSQL text: it would fail the whole batch.
    return (" ".join(value.replace("\x00", "").split()) or None) if isinstance(value, str) else None


# PostgreSQL `integer`: a bigger count is nonsense, and would fail the whole batch.
_INT_MAX = 2**31 - 1


def _int(value: Any) -> int | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return value if 0 <= value <= _INT_MAX else None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _organization(value: Any) -> str | None:
    if isinstance(value, dict):
        return _text(value.get("fullname")) or _text(value.get("name"))
    return _text(value)
