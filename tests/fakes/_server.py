"""The one lifecycle every fake shares: a threaded HTTP server on a free loopback port that
records each request and asks the fake for the answer.

    class FakeThing(FakeServer):
        def respond(self, request: Request) -> Reply:
            return Reply.of_json({"ok": True})

    with FakeThing() as fake:  # or fake.start() ... fake.stop()
        client = Thing(base_url=fake.url)
        ...
        assert fake.requests[0].path == "/v1/thing"

`base_url` is http://127.0.0.1:PORT; `url` is what a client's base-URL setting takes (the same
unless a fake serves under a prefix, like Slack's /api/).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One request a fake received."""

    method: str
    path: str  # without the query string
    params: dict[str, str]  # query string, one value per name (the last)
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.monotonic() on arrival

    def json(self) -> Any:
        """The body parsed as JSON (None when empty); ValueError when it isn't JSON."""
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    """What a fake answers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"
    # > 0: send the body one byte at a time, this many seconds apart (a slow, hostile host).
    trickle_s: float = 0.0

    @classmethod
    def of_json(
        cls,
        payload: Any,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json; charset=utf-8",
    ) -> Reply:
        return cls(status, json.dumps(payload).encode(), dict(headers or {}), content_type)


class FakeServer:
    """Subclasses implement `respond(request) -> Reply` (called on the server's threads)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.record_requests = True  # off for benchmarks that send thousands of requests
        self._requests_lock = threading.Lock()
        self._server: _Server | None = None

    def respond(self, request: Request) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        name = f"fake-{type(self).__name__}"
        # A short poll interval: stopping a fake should not add half a second to every test.
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=name,
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, f"{type(self).__name__} not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The base URL a client is configured with; fakes serving under a prefix override it."""
        return self.base_url

    # --- inspection --------------------------------------------------------------------------

    def paths(self) -> list[str]:
        """The path of every request so far, in order."""
        with self._requests_lock:
            return [r.path for r in self.requests]

    def _record(self, request: Request) -> None:
        if self.record_requests:
            with self._requests_lock:
                self.requests.append(request)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog (5) drops connections when hundreds of channels post at once.
    request_queue_size = 256
    fake: FakeServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read `requests`
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        request = Request(
            self.command,
            split.path,
            params,
            {k.lower(): v for k, v in self.headers.items()},
            body,
            time.monotonic(),
        )
        fake = self.server.fake
        fake._record(request)
        reply = fake.respond(request)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if reply.trickle_s > 0:
                for i in range(len(reply.body)):
                    self.wfile.write(reply.body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(reply.trickle_s)
            else:
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    # http.server dispatches on `do_<METHOD>`; every method goes to the fake.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
