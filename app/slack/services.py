"""What Slack listeners share, built once per process (app/slack/app.py `build_app`) and handed
to every `register(app, services)`: settings, the engine, the clients, and the background pool.

Listeners only ack and hand off: anything slower than a database query goes through
`Services.background`, so Bolt's few listener threads are always free for the next request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine

from app.config import Settings
from app.errors import PaperboyError, log_unexpected
from app.llm.client import LLM
from app.llm.fulltext import PdfFetcher
from app.sources import Source

log = logging.getLogger("app.slack.app")

# Slow work (LLM answers, paper fetches) runs here, never on Bolt's listener threads.
BACKGROUND_THREADS = 8
# More queued than this and Paperboy says it is busy rather than answering minutes late.
BACKGROUND_QUEUE_LIMIT = 200
# Bolt's own listener pool (its default size), named so shutdown can wait for it.
LISTENER_THREADS = 5
# Longest a slash command's background work waits for its ack to be on the wire (see
# `response_sent`); the HTTP front end normally releases it within a millisecond.
AFTER_RESPONSE_WAIT_S = 1.0
# Bolt context key: a threading.Event set once the HTTP response (the ack) has been written.
RESPONSE_SENT = "paperboy_response_sent"


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
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(BACKGROUND_THREADS, "paperboy-bg")
    )
    queue_limit: int = BACKGROUND_QUEUE_LIMIT
    # Bolt's listener pool, kept here so shutdown can wait for in-flight listeners too.
    listener_executor: ThreadPoolExecutor | None = None
    _pending: set[Future[Any]] = field(default_factory=set, repr=False)
    _lock: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def background(
        self,
        fn: Callable[..., Any],
        /,
        *args: Any,
        on_error: Callable[[str], object] | None = None,
        after: threading.Event | None = None,
        **kwargs: Any,
    ) -> Future[Any]:
        """Run `fn(*args, **kwargs)` on the background pool; raises Busy when it is full.

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

        with self._lock:
            if len(self._pending) >= self.queue_limit:
                raise Busy("Paperboy is busy right now; please try again in a minute.")
            future = self.executor.submit(run)
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)
            self._lock.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no background work is pending (tests, shutdown); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._pending, timeout=timeout)

    def shutdown(self, *, wait: bool = True) -> None:
        if self.listener_executor is not None:
            self.listener_executor.shutdown(wait=wait)
        self.executor.shutdown(wait=wait, cancel_futures=not wait)


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)
