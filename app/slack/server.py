"""The Slack app's HTTP front end: Bolt's events endpoint (HTTP mode) and /healthz.

`paperboy serve` (app/runtime.py `serve`) starts it next to the scheduler and a worker; tests
call `start_http()` to run the same front end on a free port. Modes:

- HTTP (SLACK_APP_TOKEN unset): a threaded WSGI server (cheroot) on PORT answers POST
  /slack/events through Bolt's WSGI adapter. The SLACK_SIGNING_SECRET signature and timestamp
  are checked before the body is parsed (app/slack/gate.py): 401 for an unsigned, forged or
  stale request, 400 for a malformed one, each with one (rate-limited) log line.
- Socket Mode (SLACK_APP_TOKEN set): Slack pushes requests over a WebSocket, no public URL; the
  WSGI server on PORT then only answers /healthz.

GET /healthz: 200 with database reachability and the last run of each scheduled job, 503 when
the database cannot be reached. Status "degraded" (still 200: the process is up, restarting it
would not help) while channels are paused because Slack refused them, listed with the reason.
GET /metrics: Prometheus metrics (app/metrics.py), including how long this server takes to
answer each request.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cheroot import wsgi
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from app import metrics
from app.config import Settings
from app.db import jobruns
from app.db.engine import session_scope
from app.db.pauses import paused_channels
from app.digest.pause import pause_info
from app.embeddings import Embedder
from app.errors import PaperboyError
from app.llm.client import LLM
from app.llm.fulltext import PdfFetcher
from app.slack.app import build_app, set_response_sent
from app.slack.gate import Gate
from app.slack.metrics_view import database_collector
from app.slack.services import Services
from app.sources import Source
from app.sources.semantic_scholar import SemanticScholar

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# Requests only ack and hand off, but each holds its thread until Bolt's listener has acked:
# enough threads that a burst of slash commands is acked while the first searches run.
HTTP_THREADS = 32
# The listen backlog. cheroot's default (5) refuses or delays (SYN retries: 1 s, 3 s, 7 s...)
# connections beyond it; 200 commands at once then lost a third of their acks (issue 10).
LISTEN_BACKLOG = 1024
# Per-connection socket timeout. Slack sends each request whole at once, so a client that
# stalls for this long is not Slack; idle keep-alive connections wait in cheroot's selector,
# not on a worker thread, and are closed after this too.
SOCKET_TIMEOUT_S = 5
# Idle keep-alive connections kept open at most; beyond this cheroot answers `Connection:
# close`, so a crowd of idle clients cannot hold sockets and file descriptors forever.
KEEP_ALIVE_LIMIT = 64
METRICS_PATH = "/metrics"
MAX_BODY = 2 * 1024 * 1024  # Slack payloads are a few KB; refuse anything absurd early
SWITCH_INTERVAL_S = 0.0005  # see tune_for_serving

StartResponse = Callable[..., Any]


def health_report(engine: Engine, *, mode: str) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for /healthz."""
    report: dict[str, Any] = {"status": "ok", "mode": mode, "database": {"ok": True}, "jobs": {}}
    try:
        with session_scope(engine) as session:
            # A wedged database should make the health check fail, not hang.
            session.execute(text("SET LOCAL statement_timeout = 3000"))
            session.execute(text("SELECT 1"))
            report["jobs"] = {run.job_id: run.as_json() for run in jobruns.last_runs(session)}
            paused = {c.channel_id: pause_info(c) for c in paused_channels(session)}
    except DBAPIError as exc:
        # Only the error class goes out: /healthz is unauthenticated, the log has the details.
        log.warning("healthz: database unreachable: %s", exc)
        report["status"] = "unavailable"
        report["database"] = {"ok": False, "error": type(exc).__name__}
        return 503, report
    if paused:
        report["status"] = "degraded"
        report["paused_channels"] = paused
    return 200, report


class PaperboyWsgi:
    """WSGI app: /healthz and /metrics here, everything else to Bolt (HTTP mode) or 404 (Socket
    Mode). Every request's answer time goes into the latency histogram."""

    def __init__(
        self,
        engine: Engine,
        bolt: SlackRequestHandler | None,
        *,
        mode: str,
        gate: Gate | None = None,
        metrics_source: metrics.Collector | None = None,
    ) -> None:
        self.engine = engine
        self.bolt = bolt
        self.mode = mode
        self.gate = gate  # checks requests before Bolt parses them; None leaves it all to Bolt
        self.metrics_source = metrics_source

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        try:
            return self._route(environ, start_response)
        finally:
            # Bolt has built its whole answer by now (acks are quick; slow work runs after).
            metrics.observe_request(environ.get("PATH_INFO", ""), time.perf_counter() - started)

    def _route(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == METRICS_PATH and method in ("GET", "HEAD"):
            body = metrics.render(self.metrics_source)
            start_response(
                "200 OK",
                [("Content-Type", metrics.CONTENT_TYPE), ("Content-Length", str(len(body)))],
            )
            return [b""] if method == "HEAD" else [body]
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            status, report = health_report(self.engine, mode=self.mode)
            body = json.dumps(report).encode()
            reason = "OK" if status == 200 else "Service Unavailable"
            start_response(
                f"{status} {reason}",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [b""] if method == "HEAD" else [body]
        if self.bolt is not None and path == EVENTS_PATH:
            rejected = self.gate.screen(environ, start_response) if self.gate else None
            if rejected is not None:
                return rejected
            sent = threading.Event()
            set_response_sent(sent)  # read by Bolt middleware on this thread (app.py)
            try:
                response = self.bolt(environ, start_response)
            finally:
                set_response_sent(None)
            return _ThenSet(response, sent)
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"Not Found"]


class _ThenSet:
    """A WSGI body that sets `event` when the server closes it, i.e. once it has been sent:
    background work held with `after=` (app.py Services.background) starts then."""

    def __init__(self, body: Iterable[bytes], event: threading.Event) -> None:
        self._body = body
        self._event = event

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._event.set()


def tune_for_serving() -> None:
    """Process settings that keep acks quick next to background work (bench/slash_latency.py).

    - Freeze what start-up allocated (modules, the app): a full garbage collection then only
      walks what was made since, not hundreds of thousands of long-lived objects, and no
      longer stops every thread for ~50 ms at a random moment.
    - A shorter GIL switch interval (5 ms by default): a request thread waking up to send an
      ack waits at most this long for a background thread that is busy in Python code.
    """
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL_S)


class HttpServer:
    """A cheroot WSGI server in a background thread; port 0 picks a free port."""

    def __init__(self, app: PaperboyWsgi, *, host: str, port: int) -> None:
        self._server = wsgi.Server(
            (host, port),
            app,
            numthreads=HTTP_THREADS,
            server_name="paperboy",
            request_queue_size=LISTEN_BACKLOG,
            timeout=SOCKET_TIMEOUT_S,
        )
        self._server.max_request_body_size = MAX_BODY
        self._server.keep_alive_conn_limit = KEEP_ALIVE_LIMIT
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Bind, start serving in a thread, and return the bound port."""
        try:
            self._server.prepare()
        except OSError as exc:
            host, port = self._server.bind_addr[:2]
            raise PaperboyError(f"cannot listen on {host}:{port} ({exc}); set PORT.") from None
        self._thread = threading.Thread(target=self._server.serve, name="http", daemon=True)
        self._thread.start()
        return self.port

    @property
    def port(self) -> int:
        return int(self._server.bind_addr[1])

    @property
    def listen_backlog(self) -> int:
        return int(self._server.request_queue_size)

    def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (a few seconds at most)."""
        self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)


@dataclass
class RunningApp:
    """The Slack app's HTTP front end, running (see start_http)."""

    app: App
    services: Services
    server: HttpServer
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.stop()
        self.services.shutdown(wait=True)


def start_http(
    settings: Settings,
    engine: Engine,
    *,
    client: WebClient | None = None,
    llm: LLM | None,
    pdfs: PdfFetcher,
    sources: Sequence[Source],
    embedder: Embedder,
    s2: SemanticScholar | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    socket_mode: bool = False,
) -> RunningApp:
    """Build the Bolt app and serve it (or only /healthz, in Socket Mode) on host:port."""
    app, services = build_app(
        settings, engine, client=client, llm=llm, pdfs=pdfs, sources=sources, embedder=embedder,
        s2=s2,
    )  # fmt: skip
    bolt = None if socket_mode else SlackRequestHandler(app, path=EVENTS_PATH)
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    )
    wsgi_app = PaperboyWsgi(
        engine,
        bolt,
        mode="socket" if socket_mode else "http",
        gate=Gate(secret, max_body=MAX_BODY) if bolt is not None and secret else None,
        metrics_source=database_collector(engine, settings),
    )
    server = HttpServer(wsgi_app, host=host, port=settings.port if port is None else port)
    bound = server.start()
    log.info("listening on %s:%d (%s mode)", host, bound, wsgi_app.mode)
    return RunningApp(app=app, services=services, server=server, host=host, port=bound)
