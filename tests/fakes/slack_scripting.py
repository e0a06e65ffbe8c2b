"""Scripted failures of the fake Slack (mixed into FakeSlack, tests/fakes/slack_api.py): 429s
with Retry-After, 5xx, `ok: false` errors, and answers withheld after the call was carried out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Fault:
    method: str | None
    status: int
    remaining: int | None  # None: forever
    retry_after: int = 1
    error: str | None = None  # ok:false with this error instead of an HTTP failure
    after: int = 0  # let this many matching calls succeed first


@dataclass
class Stall:
    method: str
    after: int  # let this many calls answer at once first
    seconds: float
    released: threading.Event = field(default_factory=threading.Event)


class SlackScripting:
    """What a test scripts; FakeSlack consults `_take_fault` before and `_take_stall` after
    carrying out each call."""

    _lock: threading.RLock
    _faults: list[Fault]
    _stalls: list[Stall]

    def rate_limit(
        self, times: int = 1, *, retry_after: int = 1, method: str | None = None
    ) -> None:
        """Answer the next `times` calls (of `method`, or any) with 429 and Retry-After."""
        with self._lock:
            self._faults.append(Fault(method, 429, times, retry_after=retry_after))

    def server_error(self, times: int = 1, *, status: int = 500, method: str | None = None) -> None:
        with self._lock:
            self._faults.append(Fault(method, status, times))

    def fail_after(self, method: str, successes: int, *, status: int = 500) -> None:
        """Let `successes` calls of `method` through, then fail every later one (until heal())."""
        with self._lock:
            self._faults.append(Fault(method, status, None, after=successes))

    def error_next(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with {"ok": false, "error": error}."""
        with self._lock:
            self._faults.append(Fault(method, 200, times, error=error))

    def heal(self) -> None:
        """Drop every scripted failure; answer stalled calls now."""
        with self._lock:
            self._faults.clear()
            for stall in self._stalls:
                stall.released.set()
            self._stalls.clear()

    def stall_answer(self, method: str, *, after: int = 0, seconds: float = 30.0) -> None:
        """Carry out the call of `method` that follows `after` others, but withhold its answer
        for `seconds` (or until heal()): Slack has the message, the caller does not know yet.
        Killing the caller meanwhile is a crash between Slack's accepting and our recording."""
        with self._lock:
            self._stalls.append(Stall(method, after, seconds))

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method not in (None, method):
                continue
            if fault.after > 0:
                fault.after -= 1
                return None
            if fault.remaining is not None:
                if fault.remaining <= 0:
                    continue
                fault.remaining -= 1
            return fault
        return None

    def _take_stall(self, method: str) -> Stall | None:
        for stall in self._stalls:
            if stall.method != method:
                continue
            if stall.after > 0:
                stall.after -= 1
                return None
            self._stalls.remove(stall)
            return stall
        return None
