"""What Slack listeners share, built once per process (app/slack/app.py `build_app`) and handed
to every `register(app, services)`: settings, the engine, the clients, and the background lanes.

Listeners only ack and hand off: anything slower than a database query goes through
`Services.background`, so Bolt's few listener threads are always free for the next request.

Background work runs in lanes, each its own bounded pool, and the caller names the lane:
QUICK for searches (database queries), FETCH for paper lookups that may call arXiv or Hugging
Face (seconds, with retries), SLOW for anything that may take tens of seconds (PDF downloads,
LLM answers, deep summaries, topic expansion, a digest). Nine slow PDF hosts then fill SLOW's
threads and queue, never QUICK's, so a search is still answered in well under a second (issue
10). Work that names no lane is SLOW: guessing wrong that way costs a little latency, the
other way starves searches.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine

from app.config import Settings
from app.embeddings import Embedder
from app.errors import PaperboyError, log_unexpected
from app.llm.client import LLM
from app.llm.fulltext import PdfFetcher
from app.sources import Source
from app.sources.semantic_scholar import SemanticScholar

log = logging.getLogger(__name__)


class Lane(StrEnum):
    """Which background pool a piece of work runs in (see the module docstring)."""

    QUICK = "quick"
    FETCH = "fetch"
    SLOW = "slow"


@dataclass(frozen=True)
class LaneSize:
    threads: int
    # Running plus queued work beyond which Paperboy says it is busy rather than answering
    # minutes late.
    limit: int


LANE_SIZES = {
    # A burst of 200 slash commands (bench/slash_latency.py --burst) is all accepted; the
    # threads are few because each search is a PostgreSQL query on a small machine.
    Lane.QUICK: LaneSize(threads=8, limit=400),
    # Waiting on a source API; a slow arXiv makes lookups wait, never searches.
    Lane.FETCH: LaneSize(threads=4, limit=48),
    # Mostly waiting on the network (Anthropic, PDF hosts), so more threads than cores; at most
    # a few minutes of LLM work queued.
    Lane.SLOW: LaneSize(threads=8, limit=48),
}
# Bolt's listener pool: a listener only acks and hands off (or does one quick query), but each
# request thread of the HTTP server waits for its ack, so a burst needs more than Bolt's 5.
LISTENER_THREADS = 12
# Longest a slash command's background work waits for its ack to be on the wire (see
# `response_sent`); the HTTP front end normally releases it within a millisecond.
AFTER_RESPONSE_WAIT_S = 1.0
# Bolt context key: a threading.Event set once the HTTP response (the ack) has been written.
RESPONSE_SENT = "paperboy_response_sent"


BUSY_MESSAGE = "Paperboy is busy right now; please try again in a minute."


class Busy(PaperboyError):
    """Too much slow work is queued; the user is asked to try again shortly."""


@dataclass
class Services:
    """What listeners need, built once per process and handed to every `register(app, services)`.

    Listeners call `services.background(fn, *args, **kwargs)` for anything slower than a
    database query; exceptions there are logged with an error id, and `on_error(error_id)`
    (when given) lets the listener tell the user, e.g. "Sorry, that failed (error id 1a2b3c4d)".
    """

    settings: Settings
    engine: Engine
    client: WebClient
    llm: LLM | None
    pdfs: PdfFetcher
    sources: Sequence[Source]
    embedder: Embedder
    # The process's Semantic Scholar client (related papers, author search for `/papers follow
    # author`, recommendations); None: the archive alone, authors followed by name only.
    s2: SemanticScholar | None = None
    lane_sizes: dict[Lane, LaneSize] = field(default_factory=lambda: dict(LANE_SIZES))
    # Bolt's listener pool, kept here so shutdown can wait for in-flight listeners too.
    listener_executor: ThreadPoolExecutor | None = None
    _executors: dict[Lane, ThreadPoolExecutor] = field(default_factory=dict, repr=False)
    _pending: dict[Lane, set[Future[Any]]] = field(default_factory=dict, repr=False)
    _full: set[Lane] = field(default_factory=set, repr=False)
    _lock: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def __post_init__(self) -> None:
        for lane, size in self.lane_sizes.items():
            self._executors[lane] = ThreadPoolExecutor(size.threads, f"paperboy-{lane}")
            self._pending[lane] = set()

    def background(
        self,
        fn: Callable[..., Any],
        /,
        *args: Any,
        on_error: Callable[[str], object] | None = None,
        after: threading.Event | None = None,
        lane: Lane = Lane.SLOW,
        **kwargs: Any,
    ) -> Future[Any]:
        """Run `fn(*args, **kwargs)` in `lane`'s pool; raises Busy when that lane is full.

        With `after` (a request's RESPONSE_SENT event), the work starts once the ack has been
        written: Bolt's request thread polls for the ack, and Python work started in this
        process at that moment would hold the GIL it needs to send it.
        """

        def run() -> Any:
            if after is not None:
                after.wait(AFTER_RESPONSE_WAIT_S)
            try:
                return fn(*args, **kwargs)
            except Exception:  # noqa: BLE001 - a future would keep it silently: logged here, with an id
                error_id = log_unexpected(log, "background %s failed", _name(fn))
                if on_error is not None:
                    try:
                        on_error(error_id)
                    except Exception:  # reporting must not hide the original error
                        log.exception("reporting error id %s failed", error_id)
                return None

        pending = self._pending[lane]
        with self._lock:
            if len(pending) >= self.lane_sizes[lane].limit:
                if lane not in self._full:  # one line per episode, not one per refusal
                    self._full.add(lane)
                    log.warning("background lane %s is full: answering busy", lane)
                raise Busy(BUSY_MESSAGE)
            future = self._executors[lane].submit(run)
            pending.add(future)
        future.add_done_callback(lambda done: self._done(lane, done))
        return future

    def _done(self, lane: Lane, future: Future[Any]) -> None:
        with self._lock:
            self._pending[lane].discard(future)
            self._full.discard(lane)
            self._lock.notify_all()

    def pending(self, lane: Lane) -> int:
        """Work running or queued in `lane`."""
        with self._lock:
            return len(self._pending[lane])

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no background work is pending (tests, shutdown); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: not any(self._pending.values()), timeout=timeout)

    def shutdown(self, *, wait: bool = True) -> None:
        if self.listener_executor is not None:
            self.listener_executor.shutdown(wait=wait)
        for executor in self._executors.values():
            executor.shutdown(wait=wait, cancel_futures=not wait)


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)
