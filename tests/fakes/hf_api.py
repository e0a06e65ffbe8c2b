"""A fake Hugging Face papers API (`/api/daily_papers`, `/api/papers/{id}`), real JSON shapes.

    with FakeHF() as fake:
        fake.daily["2026-11-25"] = [hf_item("2611.00001", upvotes=12)]
        fake.trending = [hf_item("2611.00002")]
        settings = settings.model_copy(update={"hf_api_url": fake.url})

`daily_papers?date=D&limit=L&p=P` pages through `daily[D]` (empty for unknown days, as on
weekends); `sort=trending` answers `trending`; `/papers/{id}` answers `papers[id]` or 404.
Scripted faults from ScriptedServer: `fail(429, retry_after="1")`, `fail(503)`,
`send_raw(b"{not json")`, `delay_next(seconds)`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ._scripted_http import Reply, Request, ScriptedServer

JSON = "application/json; charset=utf-8"


def hf_item(
    arxiv_id: str,
    *,
    title: str | None = None,
    summary: str = "An abstract from Hugging Face.",
    upvotes: int = 5,
    featured: datetime | None = None,
    published: datetime | None = None,
    num_comments: int = 0,
    **paper_fields: Any,
) -> dict[str, Any]:
    """One daily_papers item: `upvotes`, `githubRepo`, `ai_keywords` ... live under `paper`;
    the item's `publishedAt` is when it was featured."""
    featured = featured or datetime.now(UTC)
    published = published or featured - timedelta(days=1)
    title = title or f"Paper {arxiv_id}"
    paper = {
        "id": arxiv_id,
        "authors": [{"_id": "65a1b2c3d4e5f60718293a4b", "name": "Grace Hopper", "hidden": False}],
        "publishedAt": _iso(published),
        "submittedOnDailyAt": _iso(featured),
        "title": title,
        "summary": summary,
        "upvotes": upvotes,
        "discussionId": "65a1b2c3d4e5f60718293a4c",
        "ai_summary": "A short AI summary.",
        "ai_keywords": ["retrieval", "LLM"],
        **paper_fields,
    }
    return {
        "paper": paper,
        "publishedAt": _iso(featured),
        "title": title,
        "summary": summary,
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv_id}.png",
        "numComments": num_comments,
        "submittedBy": {"_id": "65a1", "fullname": "Someone", "name": "someone", "type": "user"},
        "isAuthorParticipating": False,
    }


class FakeHF(ScriptedServer):
    def __init__(self) -> None:
        super().__init__()
        self.daily: dict[str, list[Any]] = {}
        self.trending: list[Any] = []
        self.papers: dict[str, dict[str, Any]] = {}

    @property
    def url(self) -> str:
        return self.base_url + "/api"

    def answer(self, request: Request) -> Reply:
        params = request.params
        if request.path == "/api/daily_papers":
            if params.get("sort") == "trending":
                items = self.trending[: int(params.get("limit", "50"))]
            else:
                limit = int(params.get("limit", "50"))
                page = int(params.get("p", "0"))
                items = self.daily.get(params.get("date", ""), [])[
                    page * limit : (page + 1) * limit
                ]
            return Reply(body=json.dumps(items).encode(), content_type=JSON)
        if request.path.startswith("/api/papers/"):
            paper = self.papers.get(request.path.rsplit("/", 1)[-1])
            if paper is None:
                return Reply(status=404, body=b'{"error":"Paper not found"}', content_type=JSON)
            return Reply(body=json.dumps(paper).encode(), content_type=JSON)
        return Reply(status=404, body=b'{"error":"Not found"}', content_type=JSON)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
