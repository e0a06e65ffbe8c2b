"""A fake Slack Web API: a real HTTP server that speaks to slack_sdk's WebClient.

    with FakeSlack() as fake:
        client = WebClient(token="xoxb-test", base_url=fake.url)
        client.chat_postMessage(channel="C1", text="hi")
        assert fake.calls_to("chat.postMessage")[0].args["text"] == "hi"

It records every call (method, form/query params, JSON body, token), keeps the messages it was
sent so `conversations.replies` can serve them back, and rejects what real Slack rejects:
blocks outside Block Kit limits (`invalid_blocks`, `msg_blocks_too_long`), a message with no
text and no blocks (`no_text`). A message with blocks but no top-level `text` is accepted, as
Slack does, but flagged (`call.missing_text`, `fake.warnings`).

Scriptable: `rate_limit(times, retry_after)` answers 429 with Retry-After, `server_error(times)`
answers 5xx, `fail_after(method, successes)` fails permanently after some successes (a crash
mid-digest), `error_next(method, error)` answers `{"ok": false, "error": ...}`, `latency` delays
every answer, `enforce_channel_rate` answers 429 to a second message in one channel within
`channel_interval` seconds, `stall_answer(method, after, seconds)` carries a call out but
withholds its answer (a crash after Slack accepted a message); see slack_scripting.py.
`response_url()` gives a URL that records what Bolt's `respond()`
sends (`responses(id)`).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .block_kit import MAX_BLOCKS_MESSAGE, MAX_BLOCKS_VIEW, block_kit_errors
from .slack_methods import SlackMethods, _err, _maybe_json
from .slack_scripting import Fault, SlackScripting, Stall

_MESSAGE_METHODS = ("chat.postMessage", "chat.postEphemeral", "chat.update")


@dataclass
class SlackCall:
    """One request the fake received."""

    method: str
    params: dict[str, Any]  # form body or query string
    json: dict[str, Any] | None  # JSON body
    token: str | None
    at: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    missing_text: bool = False

    @property
    def args(self) -> dict[str, Any]:
        """Params and JSON merged: what the caller passed to the WebClient method."""
        return {**self.params, **(self.json or {})}

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))


class FakeSlack(SlackMethods, SlackScripting):
    def __init__(
        self,
        *,
        latency: float = 0.0,
        enforce_channel_rate: bool = False,
        channel_interval: float = 1.0,
        rate_tolerance: float = 0.02,
        bot_user_id: str = "UPAPERBOY",
        bot_id: str = "BPAPERBOY",
        team_id: str = "T0FAKE",
        valid_tokens: set[str] | None = None,
        record_calls: bool = True,
    ) -> None:
        self.latency = latency
        self.enforce_channel_rate = enforce_channel_rate
        self.channel_interval = channel_interval
        self.rate_tolerance = rate_tolerance
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.valid_tokens = valid_tokens
        self.record_calls = record_calls
        self.calls: list[SlackCall] = []
        self.warnings: list[str] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.rate_limited = 0  # 429s answered because of enforce_channel_rate
        self._responses: dict[str, list[dict[str, Any]]] = {}
        self._faults: list[Fault] = []
        self._stalls: list[Stall] = []
        self._last_post: dict[str, float] = {}
        self._last_ts_us = 0
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        server = _Server(("127.0.0.1", 0), Handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True, name="fake-slack")
        self._thread.start()
        return self

    def stop(self) -> None:
        self.heal()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        assert self._server is not None, "FakeSlack not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """Web API base URL, for WebClient(base_url=...) and SLACK_API_URL."""
        return self.root + "/api/"

    def response_url(self, response_id: str | None = None) -> str:
        """A response_url for a slash command or action payload; what is sent there is kept."""
        rid = response_id or f"R{next(self._ids):06d}"
        with self._lock:
            self._responses.setdefault(rid, [])
        return f"{self.root}/response/{rid}"

    def responses(self, response_id: str | None = None) -> list[dict[str, Any]]:
        """Bodies POSTed to one response_url (by id, or the URL itself), or to all of them."""
        with self._lock:
            if response_id is None:
                return [body for bodies in self._responses.values() for body in bodies]
            return list(self._responses.get(response_id.rsplit("/", 1)[-1], []))

    # --- inspection ---------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[SlackCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages accepted by chat.postMessage (in order), in one channel or all."""
        with self._lock:
            calls = [c for c in self.calls if c.method == "chat.postMessage" and c.ok]
        return [
            c.response["message"] | {"channel": c.response["channel"]}
            for c in calls
            if channel is None or c.response["channel"] == channel
        ]

    def reset(self) -> None:
        """Forget recorded calls and warnings (messages stay, for conversations.replies)."""
        with self._lock:
            self.calls.clear()
            self.warnings.clear()

    # --- request handling (called from server threads) ----------------------------------------

    def _next_ts(self) -> str:
        # Slack ts: seconds.microseconds, unique and increasing within a channel.
        now_us = int(time.time() * 1_000_000)
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def handle(
        self, method: str, params: dict[str, Any], body: dict[str, Any] | None, token: str | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        arrived = time.monotonic()
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            call = SlackCall(method, params, body, token, arrived)
            status, headers, response = self._dispatch(call)
            call.status, call.response = status, response
            if self.record_calls:
                self.calls.append(call)
            stall = self._take_stall(method) if call.ok else None
        if stall is not None:
            stall.released.wait(stall.seconds)
        return status, headers, response

    def _dispatch(self, call: SlackCall) -> tuple[int, dict[str, str], dict[str, Any]]:
        fault = self._take_fault(call.method)
        if fault is not None:
            if fault.error:
                return 200, {}, {"ok": False, "error": fault.error}
            if fault.status == 429:
                return 429, {"Retry-After": str(fault.retry_after)}, _err("ratelimited")
            return fault.status, {}, _err("internal_error")
        if not call.token:
            return 200, {}, _err("not_authed")
        if self.valid_tokens is not None and call.token not in self.valid_tokens:
            return 200, {}, _err("invalid_auth")
        args = call.args
        if call.method in _MESSAGE_METHODS:
            problem = self._check_message(call, args)
            if problem is not None:
                return 200, {}, problem
        if call.method == "chat.postMessage" and self.enforce_channel_rate:
            channel = str(args.get("channel"))
            last = self._last_post.get(channel)
            if last is not None and call.at - last < self.channel_interval - self.rate_tolerance:
                self.rate_limited += 1
                return 429, {"Retry-After": "1"}, _err("ratelimited")
            self._last_post[channel] = call.at
        handler = getattr(self, "_m_" + call.method.replace(".", "_"), None)
        if handler is None:
            return 200, {}, _err("unknown_method")
        return 200, {}, handler(args)

    def _check_message(self, call: SlackCall, args: dict[str, Any]) -> dict[str, Any] | None:
        blocks = _maybe_json(args.get("blocks"))
        text = args.get("text")
        if not text:
            if not blocks and not args.get("attachments"):
                return _err("no_text")
            call.missing_text = True
            self.warnings.append(f"{call.method} without top-level text")
        if isinstance(text, str) and len(text) > 40_000:
            return _err("msg_too_long")
        code, messages = block_kit_errors(blocks, max_blocks=MAX_BLOCKS_MESSAGE)
        if code:
            return {**_err(code), "errors": messages, "response_metadata": {"messages": messages}}
        return None

    def _check_view(self, args: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        view = _maybe_json(args.get("view"))
        if not isinstance(view, dict):
            return _err("invalid_arguments"), {}
        code, messages = block_kit_errors(view.get("blocks") or [], max_blocks=MAX_BLOCKS_VIEW)
        if code:
            return {**_err(code), "response_metadata": {"messages": messages}}, view
        return None, view


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog (5) drops connections when hundreds of channels post at once.
    request_queue_size = 256


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSlack
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._api(b"")

    def do_POST(self) -> None:
        body = self._body()
        path = urlsplit(self.path).path
        if path.startswith("/response/"):
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                payload = {"_raw": body.decode("utf-8", "replace")}
            self.fake._record_response(path.rsplit("/", 1)[-1], payload)
            self._send(200, b"ok")
            return
        self._api(body)

    def _api(self, body: bytes) -> None:
        parts = urlsplit(self.path)
        if not parts.path.startswith("/api/"):
            self._send(404, _err("not_found"))
            return
        method = parts.path[len("/api/") :]
        params: dict[str, Any] = dict(parse_qsl(parts.query))
        json_body: dict[str, Any] | None = None
        ctype = self.headers.get("Content-Type", "")
        if body and "json" in ctype:
            json_body = json.loads(body)
        elif body:
            params.update(parse_qsl(body.decode("utf-8")))
        token = None
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        token = token or params.pop("token", None) or (json_body or {}).get("token")
        status, headers, response = self.fake.handle(method, params, json_body, token)
        self._send(status, response, headers)


@contextmanager
def fake_slack(**options: Any) -> Iterator[FakeSlack]:
    """A started FakeSlack for the duration of the block."""
    fake = FakeSlack(**options).start()
    try:
        yield fake
    finally:
        fake.stop()
