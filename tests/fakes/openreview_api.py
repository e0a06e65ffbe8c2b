"""A fake OpenReview API v2 (`/notes`), real JSON shapes.

    with FakeOpenReview() as fake:
        fake.add("ICLR.cc/2026/Conference/-/Submission", or_note("abc123", title="..."))
        settings = settings.model_copy(update={"openreview_api_url": fake.url})

`/notes?invitation=I&limit=L&offset=O` pages through the notes of I; `/notes?id=X` answers
that note (or no notes). Scripted faults from ScriptedServer: `fail(503)`, `send_raw(...)`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ._scripted_http import Reply, Request, ScriptedServer

JSON = "application/json; charset=utf-8"


def or_note(
    note_id: str,
    *,
    title: str | None = None,
    abstract: str = "An abstract from OpenReview.",
    authors: tuple[str, ...] = ("Grace Hopper",),
    venue: str = "ICLR 2026 Poster",
    modified: datetime | None = None,
) -> dict[str, Any]:
    """One submission note: every content field wrapped in {"value": ...}, times in ms."""
    millis = int((modified or datetime.now(UTC)).timestamp() * 1000)
    return {
        "id": note_id,
        "forum": note_id,
        "invitations": ["ICLR.cc/2026/Conference/-/Submission"],
        "content": {
            "title": {"value": title or f"Submission {note_id}"},
            "abstract": {"value": abstract},
            "authors": {"value": list(authors)},
            "authorids": {"value": [f"~{a.replace(' ', '_')}1" for a in authors]},
            "keywords": {"value": ["retrieval"]},
            "venue": {"value": venue},
            "pdf": {"value": f"/pdf/{note_id}.pdf"},
        },
        "cdate": millis - 86_400_000,
        "mdate": millis,
    }


class FakeOpenReview(ScriptedServer):
    def __init__(self) -> None:
        super().__init__()
        self.notes: dict[str, list[dict[str, Any]]] = {}

    @property
    def url(self) -> str:
        return self.base_url

    def add(self, invitation: str, *notes: dict[str, Any]) -> None:
        self.notes.setdefault(invitation, []).extend(notes)

    def answer(self, request: Request) -> Reply:
        if request.path != "/notes":
            return Reply(status=404, body=b'{"name":"NotFoundError"}', content_type=JSON)
        params = request.params
        if "id" in params:
            found = [n for ns in self.notes.values() for n in ns if n["id"] == params["id"]]
        else:
            offset, limit = int(params.get("offset", "0")), int(params.get("limit", "1000"))
            found = self.notes.get(params.get("invitation", ""), [])[offset : offset + limit]
        return Reply(
            body=json.dumps({"notes": found, "count": len(found)}).encode(), content_type=JSON
        )
