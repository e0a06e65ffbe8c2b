"""Per-channel pacing for digest fan-out.

Slack allows about one message per second per channel (short bursts tolerated) and answers 429
with Retry-After beyond that. `ChannelPacer` keeps each channel at SLACK_CHANNEL_INTERVAL_SECONDS
between message starts while different channels post in parallel on a small thread pool, so a
200-channel fan-out takes about as long as one channel's digest, not 200 of them.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class ChannelPacer:
    """Runs callables per channel, in order, one at a time, each paced one starting at least
    `interval` s after the previous one finished, channels in parallel on `max_workers` threads.

    A sleeping channel never holds a worker: a dispatcher thread starts each channel's next task
    when it is due, so a few threads keep hundreds of channels at Slack's pace.
    """

    def __init__(self, interval: float, *, max_workers: int = 24, prep_workers: int = 8) -> None:
        self.interval = max(0.0, interval)
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="slack-post")
        # Unpaced work (preparing a digest) gets its own few threads, so posts that are due
        # never queue behind the preparation of channels that have not started yet.
        self._prep_pool = ThreadPoolExecutor(prep_workers, thread_name_prefix="slack-prep")
        self._cond = threading.Condition()
        self._queues: dict[str, deque[tuple[Callable[[], Any], Future[Any], bool]]] = {}
        self._active: set[str] = set()  # channels with a task due or running
        self._next_start: dict[str, float] = {}
        self._due: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._closed = False
        self._dispatcher = threading.Thread(target=self._dispatch, name="slack-pacer", daemon=True)
        self._dispatcher.start()

    def submit(self, channel: str, fn: Callable[[], T], *, paced: bool = True) -> Future[T]:
        """Queue `fn` behind the channel's earlier tasks. `paced=False` is for work that posts
        nothing (preparing a digest): it keeps its place in line without using a slot."""
        future: Future[T] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("ChannelPacer is closed")
            self._queues.setdefault(channel, deque()).append((fn, future, paced))
            if channel not in self._active:
                self._active.add(channel)
                self._schedule(channel)
        return future

    def run(self, channel: str, fn: Callable[[], T]) -> T:
        """Submit and wait: the sequential form (one digest from the CLI)."""
        return self.submit(channel, fn).result()

    def wait_idle(self) -> None:
        """Block until every submitted task (and any they submitted) has finished."""
        with self._cond:
            while self._active:
                self._cond.wait()

    def close(self) -> None:
        """Finish everything submitted, then stop the threads."""
        self.wait_idle()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._dispatcher.join()
        self._pool.shutdown(wait=True)
        self._prep_pool.shutdown(wait=True)

    def __enter__(self) -> ChannelPacer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals (called with self._cond held unless noted) ---------------------------------

    def _schedule(self, channel: str) -> None:
        paced = self._queues[channel][0][2]
        at = time.monotonic()
        if paced:
            at = max(at, self._next_start.get(channel, 0.0))
        heapq.heappush(self._due, (at, next(self._seq), channel))
        self._cond.notify_all()

    def _dispatch(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                if self._due and self._due[0][0] <= now:
                    _, _, channel = heapq.heappop(self._due)
                    fn, future, paced = self._queues[channel].popleft()
                    pool = self._pool if paced else self._prep_pool
                    pool.submit(self._run, channel, fn, future, paced)
                    continue
                timeout = self._due[0][0] - now if self._due else None
                self._cond.wait(timeout)

    def _run(self, channel: str, fn: Callable[[], Any], future: Future[Any], paced: bool) -> None:
        # Runs on a pool thread. Slack counts arrivals, and a request arrives somewhere between
        # its start and its answer: counting the interval from the answer guarantees the next
        # message arrives at least `interval` after this one, whatever the network jitter
        # (costs one round trip per message; start-to-start pacing drew 429s under load).
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                future.set_exception(exc)
        with self._cond:
            if paced:
                self._next_start[channel] = time.monotonic() + self.interval
            if self._queues[channel]:
                self._schedule(channel)
            else:
                del self._queues[channel]
                self._active.discard(channel)
                self._cond.notify_all()
