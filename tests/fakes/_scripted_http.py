"""Shared plumbing of the arXiv and Hugging Face fakes: a real HTTP server on 127.0.0.1:0 in a
thread, a log of the requests it got, and a queue of scripted answers served before the normal
ones (a status with Retry-After, a raw body, a delay)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    path: str
    params: dict[str, str]  # query string, one value per name
    at: float  # time.monotonic()


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"
    delay: float = 0.0


@dataclass
class _Scripted:
    reply: Reply | None  # None: answer normally (after the delay)
    delay: float
    path: str | None


class ScriptedServer:
    """Subclasses implement `answer(request) -> Reply`."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._script: deque[_Scripted] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- scripting ---------------------------------------------------------------------------

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

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def base(self) -> str:
        assert self._server is not None, "start the fake first (use it as a context manager)"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Any:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        params = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        request = Request(path=split.path, params=params, at=time.monotonic())
        with self._lock:
            self.requests.append(request)
            scripted = None
            for item in self._script:
                if item.path is None or item.path == split.path:
                    scripted = item
                    break
            if scripted is not None:
                self._script.remove(scripted)
        if scripted is not None and scripted.delay:
            time.sleep(scripted.delay)
        reply = scripted.reply if scripted and scripted.reply else self.answer(request)
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            handler.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass
