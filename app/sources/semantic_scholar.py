"""The Semantic Scholar client: Academic Graph (paper batch, author search, author papers) and
Recommendations, at SEMANTIC_SCHOLAR_API_URL, with SEMANTIC_SCHOLAR_API_KEY when set.

Built once by the composition root (app/runtime.py `Runtime.s2`) and shared by every caller in
the process: the enrichment source, related papers, channel taste and author follows.

Polite by construction:
- requests to one API host are spaced at least `min_interval_s` apart across the whole process
  (every client and thread shares one pacer per base URL): S2 allows 1 request/s with a key, and
  without one the shared public pool answers 429 under load;
- 429, 5xx and connection errors are retried, never sooner than the server's Retry-After;
- every public call ends within `deadline_s`, waits and retries included; past it, or when the
  retries run out, it raises `S2Unavailable`.

Why a lock and a monotonic clock rather than pyrate-limiter or limits (both on PyPI): we need a
minimum *spacing*, a wait bounded by each call's own remaining deadline, and an interval of 0
in tests. pyrate-limiter counts hits per window with integer durations (an interval of 0 is not
a rate) and its API changed between 3.x and 4.x; limits only counts hits and never waits. The
pacer below is a dozen lines.

Paper ids are whatever S2 takes: `ARXIV:2106.15928`, the S2 sha, `CorpusId:N`, `DOI:...`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from app.errors import SourceError
from app.sources._retry import parse_retry_after

log = logging.getLogger(__name__)

BATCH_SIZE = 500  # the batch endpoint's limit per request
USER_AGENT = "paperboy/0.1 (research digest bot)"
AUTHOR_FIELDS = ("name", "affiliations", "paperCount", "hIndex")
# Backoff between tries when the server gives no Retry-After: 1, 2, 4 ... seconds.
BACKOFF_BASE_S = 1.0
MAX_ATTEMPTS = 5


class S2Unavailable(SourceError):
    """Semantic Scholar could not answer: network error, 5xx, deadline, or 429 retries exhausted."""


class _Pacer:
    """At least `interval` seconds between the starts of two requests to one host."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_at = 0.0  # time.monotonic() from which the next request may start

    def wait(self, interval: float, deadline: float) -> None:
        """Take the next free slot and sleep until it; S2Unavailable when the slot falls past
        `deadline` (then no slot is taken)."""
        with self._lock:  # only to book the slot: callers sleep outside it, in booking order
            start = max(time.monotonic(), self._next_at)
            if start > deadline:
                raise S2Unavailable("Semantic Scholar: deadline passed waiting for a request slot")
            self._next_at = start + interval
        time.sleep(max(0.0, start - time.monotonic()))


_PACERS: dict[str, _Pacer] = {}
_PACERS_LOCK = threading.Lock()


def _pacer_for(base_url: str) -> _Pacer:
    with _PACERS_LOCK:
        return _PACERS.setdefault(base_url, _Pacer())


class _Retry(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SemanticScholar:
    """One client per process (Runtime.s2); thread-safe. `close()` when done."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        min_interval_s: float = 1.0,
        deadline_s: float = 20.0,
        http: httpx.Client | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._min_interval_s = max(0.0, min_interval_s)
        self._deadline_s = deadline_s
        self._pacer = _pacer_for(self._base_url)
        headers = {"user-agent": USER_AGENT, "accept": "application/json"}
        if api_key:  # only when set: an empty header is an invalid key to S2
            headers["x-api-key"] = api_key
        self._http = http or httpx.Client(base_url=self._base_url + "/", headers=headers)
        if http is not None:
            self._http.headers.update(headers)

    # --- Academic Graph ----------------------------------------------------------------------

    def papers(self, ids: Sequence[str], *, fields: Sequence[str]) -> list[dict[str, Any] | None]:
        """The papers named by `ids`, in the same order, None for ids S2 does not know."""
        deadline = time.monotonic() + self._deadline_s
        found: list[dict[str, Any] | None] = []
        for start in range(0, len(ids), BATCH_SIZE):
            chunk = list(ids[start : start + BATCH_SIZE])
            answer = self._call(
                "POST",
                "graph/v1/paper/batch",
                params={"fields": ",".join(fields)},
                json={"ids": chunk},
                deadline=deadline,
            )
            if not isinstance(answer, list) or len(answer) != len(chunk):
                raise S2Unavailable("Semantic Scholar sent an unexpected batch answer")
            found += [p if isinstance(p, dict) else None for p in answer]
        return found

    def search_authors(self, name: str, *, limit: int = 10) -> list[dict[str, Any]]:
        """Authors matching `name`, with affiliations, paper count and h-index."""
        answer = self._call(
            "GET",
            "graph/v1/author/search",
            params={"query": name, "fields": ",".join(AUTHOR_FIELDS), "limit": limit},
        )
        return _items(answer, "data")

    def author_papers(
        self, author_id: str, *, limit: int = 100, fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The author's papers (one page of `limit`); [] for an unknown author."""
        answer = self._call(
            "GET",
            f"graph/v1/author/{quote(author_id, safe='')}/papers",
            params={"fields": ",".join(fields), "limit": limit},
            missing_ok=True,
        )
        return _items(answer, "data")

    # --- Recommendations ---------------------------------------------------------------------

    def recommend_for_paper(
        self, paper_id: str, *, limit: int = 20, fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        """S2's recommendations for one paper; [] when S2 does not know it (new papers may not
        be indexed yet)."""
        answer = self._call(
            "GET",
            f"recommendations/v1/papers/forpaper/{quote(paper_id, safe=':/')}",
            params={"fields": ",".join(fields), "limit": limit},
            missing_ok=True,
        )
        return _items(answer, "recommendedPapers")

    def recommend(
        self,
        *,
        positive: Sequence[str],
        negative: Sequence[str] = (),
        limit: int = 20,
        fields: Sequence[str],
    ) -> list[dict[str, Any]]:
        """Recommendations from positive (and negative) example papers."""
        answer = self._call(
            "POST",
            "recommendations/v1/papers",
            params={"fields": ",".join(fields), "limit": limit},
            json={"positivePaperIds": list(positive), "negativePaperIds": list(negative)},
        )
        return _items(answer, "recommendedPapers")

    def close(self) -> None:
        self._http.close()

    # --- one call: pacing, retries, deadline --------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any],
        json: Any = None,
        deadline: float | None = None,
        missing_ok: bool = False,
    ) -> Any:
        deadline = deadline if deadline is not None else time.monotonic() + self._deadline_s
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self._pacer.wait(self._min_interval_s, deadline)
            try:
                return self._once(method, path, params, json, deadline, missing_ok)
            except _Retry as exc:
                if attempt == MAX_ATTEMPTS:
                    raise S2Unavailable(
                        f"Semantic Scholar: {exc} after {attempt} attempts"
                    ) from None
                # The server's Retry-After when it gave one (it knows), else our backoff.
                wait = exc.retry_after
                if wait is None:
                    wait = BACKOFF_BASE_S * 2 ** (attempt - 1)
                if time.monotonic() + wait >= deadline:
                    raise S2Unavailable(
                        f"Semantic Scholar: {exc}; no time left to retry within "
                        f"{self._deadline_s:g}s"
                    ) from None
                log.info("Semantic Scholar %s /%s: %s, retrying in %.1fs", method, path, exc, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _once(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        json: Any,
        deadline: float,
        missing_ok: bool,
    ) -> Any:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise S2Unavailable(f"Semantic Scholar: no answer within {self._deadline_s:g}s")
        try:
            response = self._http.request(
                method, path, params=params, json=json, timeout=httpx.Timeout(remaining)
            )
        except httpx.TimeoutException:
            raise S2Unavailable(
                f"Semantic Scholar: no answer within {self._deadline_s:g}s"
            ) from None
        except httpx.TransportError as exc:
            raise _Retry(f"connection failed ({type(exc).__name__})") from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status}", parse_retry_after(response.headers.get("Retry-After")))
        if status == 404 and missing_ok:
            return None
        if status != 200:
            raise S2Unavailable(f"Semantic Scholar: HTTP {status} for /{path}")
        try:
            return response.json()
        except ValueError:
            raise S2Unavailable(f"Semantic Scholar sent invalid JSON for /{path}") from None


def _items(answer: Any, key: str) -> list[dict[str, Any]]:
    """The list under `key` of a JSON object answer ([] for a 404), dicts only."""
    if answer is None:
        return []
    items = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise S2Unavailable(f"Semantic Scholar sent an unexpected JSON shape (expected {key})")
    return [item for item in items if isinstance(item, dict)]
