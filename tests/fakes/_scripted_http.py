"""Scripted faults for the arXiv and Hugging Face fakes: answers queued ahead of the normal ones
(a status with Retry-After, a raw body, a delay). The lifecycle and the request log come from
FakeServer (_server.py)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from ._server import FakeServer, Reply, Request

__all__ = ["Reply", "Request", "ScriptedServer"]


@dataclass
class _Scripted:
    reply: Reply | None  # None: answer normally (after the delay)
    delay: float
    path: str | None


class ScriptedServer(FakeServer):
    """Subclasses implement `answer(request) -> Reply`; scripted answers come first."""

    def __init__(self) -> None:
        super().__init__()
        self._script: deque[_Scripted] = deque()
        self._lock = threading.Lock()

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: str | None = None,
        body: bytes = b"",
        path: str | None = None,
    ) -> None:
        """Answer the next `times` requests (to `path` if given) with this status."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        for _ in range(times):
            self._push(Reply(status=status, body=body, headers=headers), path=path)

    def send_raw(self, body: bytes, *, status: int = 200, content_type: str = "text/plain") -> None:
        """Answer the next request with exactly these bytes."""
        self._push(Reply(status=status, body=body, content_type=content_type))

    def delay_next(self, seconds: float) -> None:
        """Answer the next request normally, but only after `seconds`."""
        with self._lock:
            self._script.append(_Scripted(reply=None, delay=seconds, path=None))

    def _push(self, reply: Reply, *, path: str | None = None) -> None:
        with self._lock:
            self._script.append(_Scripted(reply=reply, delay=0.0, path=path))

    def answer(self, request: Request) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError

    def respond(self, request: Request) -> Reply:
        with self._lock:
            scripted = next(
                (s for s in self._script if s.path is None or s.path == request.path), None
            )
            if scripted is not None:
                self._script.remove(scripted)
        if scripted is not None and scripted.delay:
            time.sleep(scripted.delay)
        if scripted is not None and scripted.reply is not None:
            return scripted.reply
        return self.answer(request)
