"""OpenReview: a venue's submissions (the notes of its invitations), over the public API v2.

Off until OPENREVIEW_INVITATIONS names at least one invitation, e.g.
"ICLR.cc/2026/Conference/-/Submission". Its papers usually have no arXiv id: they are stored by
their OpenReview id, and merge into the arXiv row when another source later reports both ids.

`GET /notes?invitation=...&limit=...&offset=...` answers {"notes": [{"id", "content": {"title":
{"value"}, "abstract": {"value"}, "authors": {"value": [...]}, "venue": {"value"}, ...},
"cdate", "mdate"}]} (times in milliseconds). Each run reads up to OPENREVIEW_MAX_NOTES notes
per invitation and keeps those changed since the last run that completed it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.config import Settings
from app.errors import SourceError
from app.sources._retry import Retryable, call_with_retries, raise_if_transient
from app.sources.base import Chunk, FetchContext
from app.sources.records import Author, PaperRecord

NAME = "openreview"
# Peer-reviewed venue metadata beats Hugging Face's copy (20); arXiv's (100) still owns a paper.
PRIORITY = 50
PAGE_SIZE = 200
USER_AGENT = "paperboy/0.1 (research digest bot)"


def note_record(note: Any, *, source_key: str = "") -> PaperRecord | None:
    """One note as a record, or None when it has no id or title."""
    if not isinstance(note, dict) or not isinstance(note.get("content"), dict):
        return None
    note_id, content = note.get("id"), note["content"]
    title = _text(_value(content, "title"))
    if not isinstance(note_id, str) or not note_id or not title:
        return None
    authors = _value(content, "authors")
    return PaperRecord(
        arxiv_id=None,
        ids={"openreview": note_id},
        title=title,
        abstract=_text(_value(content, "abstract")) or "",
        authors=[Author(n) for n in map(_text, authors if isinstance(authors, list) else []) if n],
        published=_millis(note.get("cdate")),
        updated=_millis(note.get("mdate")),
        links=[{"href": f"https://openreview.net/forum?id={note_id}", "rel": "alternate"}],
        signals={"venue": _text(_value(content, "venue"))},
        provider=NAME,
        priority=PRIORITY,
        source=NAME,
        source_key=source_key,
    )


class OpenReviewSource:
    """The OpenReview API at OPENREVIEW_API_URL. Build once, `close()` when done."""

    name = NAME
    priority = PRIORITY

    def __init__(self, settings: Settings, *, client: httpx.Client | None = None) -> None:
        self._settings = settings
        self._http = client or httpx.Client(
            base_url=settings.openreview_api_url.rstrip("/") + "/",
            timeout=settings.http_timeout_seconds,
            headers={"user-agent": USER_AGENT, "accept": "application/json"},
        )

    def fetch(self, context: FetchContext) -> Iterator[Chunk]:
        """One chunk per invitation."""
        for invitation in self._settings.openreview_invitations:
            if context.days is not None:
                since: datetime | None = datetime.now(UTC) - timedelta(days=context.days)
            else:
                since = context.since(invitation)
            chunk = Chunk(invitation)
            context.progress(f"OpenReview {invitation}: fetching")
            for offset in range(0, self._settings.openreview_max_notes, PAGE_SIZE):
                limit = min(PAGE_SIZE, self._settings.openreview_max_notes - offset)
                notes = self._notes({"invitation": invitation, "limit": limit, "offset": offset})
                for note in notes:
                    record = note_record(note, source_key=invitation)
                    if record is None:
                        chunk.skipped += 1
                    elif since is None or record.updated is None or record.updated >= since:
                        chunk.records.append(record)
                if len(notes) < limit:
                    break
            yield chunk

    def lookup(self, ids: Mapping[str, Sequence[str]]) -> list[PaperRecord]:
        found = []
        for note_id in ids.get("openreview", ()):
            found += [r for n in self._notes({"id": note_id}) if (r := note_record(n))]
        return found

    def run_params(self) -> dict[str, object]:
        return {"invitations": list(self._settings.openreview_invitations)}

    def close(self) -> None:
        self._http.close()

    def _notes(self, params: dict[str, Any]) -> list[Any]:
        attempts = self._settings.openreview_num_retries + 1
        try:
            payload = call_with_retries(
                lambda: self._get_once(params), attempts=attempts, settings=self._settings
            )
        except Retryable as exc:
            raise SourceError(f"OpenReview: {exc} after {attempts} attempts") from None
        notes = payload.get("notes") if isinstance(payload, dict) else None
        if not isinstance(notes, list):
            raise SourceError("OpenReview sent an unexpected JSON shape (expected notes)")
        return notes

    def _get_once(self, params: dict[str, Any]) -> Any:
        try:
            response = self._http.get("notes", params=params)
        except httpx.TransportError as exc:
            raise Retryable(f"connection failed ({type(exc).__name__})") from exc
        raise_if_transient(response.status_code, response.headers.get("Retry-After"))
        if response.status_code != 200:
            raise SourceError(f"OpenReview: HTTP {response.status_code} for /notes")
        try:
            return response.json()
        except ValueError:
            raise SourceError("OpenReview sent invalid JSON for /notes") from None


def _value(content: dict[str, Any], key: str) -> Any:
    """API v2 wraps every content field: {"title": {"value": ...}}."""
    field = content.get(key)
    return field.get("value") if isinstance(field, dict) else None


def _text(value: Any) -> str | None:
    # NUL cannot be stored in PostgreSQL text: it would fail the whole batch.
    return (" ".join(value.replace("\x00", "").split()) or None) if isinstance(value, str) else None


def _millis(value: Any) -> datetime | None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)
