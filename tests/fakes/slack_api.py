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
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from ._server import FakeServer, Reply, Request
from .block_kit import MAX_BLOCKS_MESSAGE, MAX_BLOCKS_VIEW, block_kit_errors
from .slack_methods import SlackMethods, _err, _maybe_json
from .slack_scripting import Fault, SlackScripting, Stall

_MESSAGE_METHODS = ("chat.postMessage", "chat.postEphemeral", "chat.update")
# Methods that take the app-level token (xapp-) and nothing else; every other method refuses it.
_APP_TOKEN_METHODS = ("apps.connections.open",)


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


class FakeSlack(SlackMethods, SlackScripting, FakeServer):
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
        super().__init__()
        self.record_requests = record_calls
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
        self.socket_mode: Any = None  # a tests/fakes/socket_mode.FakeSocketMode, once attached
        self._responses: dict[str, list[dict[str, Any]]] = {}
        self._faults: list[Fault] = []
        self._stalls: list[Stall] = []
        self._last_post: dict[str, float] = {}
        self._last_ts_us = 0
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # --- lifecycle (FakeServer) ---------------------------------------------------------------

    def stop(self) -> None:
        self.heal()  # release stalled answers, or the server's threads would wait them out
        super().stop()

    @property
    def url(self) -> str:
        """Web API base URL, for WebClient(base_url=...) and SLACK_API_URL."""
        return self.base_url + "/api/"

    def response_url(self, response_id: str | None = None) -> str:
        """A response_url for a slash command or action payload; what is sent there is kept."""
        rid = response_id or f"R{next(self._ids):06d}"
        with self._lock:
            self._responses.setdefault(rid, [])
        return f"{self.base_url}/response/{rid}"

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

    def respond(self, request: Request) -> Reply:
        if request.method == "POST" and request.path.startswith("/response/"):
            try:
                payload = request.json() or {}
            except ValueError:
                payload = {"_raw": request.body.decode("utf-8", "replace")}
            self._record_response(request.path.rsplit("/", 1)[-1], payload)
            return Reply(body=b"ok")
        if not request.path.startswith("/api/"):
            return Reply.of_json(_err("not_found"), 404)
        params: dict[str, Any] = {k: v for k, v in request.params.items() if v != ""}
        json_body: dict[str, Any] | None = None
        if request.body and "json" in request.headers.get("content-type", ""):
            json_body = request.json()
        elif request.body:
            params.update(parse_qsl(request.body.decode("utf-8")))
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        token = token or params.pop("token", None) or (json_body or {}).get("token")
        method = request.path[len("/api/") :]
        status, headers, response = self._call(method, params, json_body, token, request.at)
        return Reply.of_json(response, status, headers)

    def _call(
        self,
        method: str,
        params: dict[str, Any],
        body: dict[str, Any] | None,
        token: str | None,
        arrived: float,
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
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
        if (call.method in _APP_TOKEN_METHODS) != call.token.startswith("xapp-"):
            return 200, {}, _err("not_allowed_token_type")
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


@contextmanager
def fake_slack(**options: Any) -> Iterator[FakeSlack]:
    """A started FakeSlack for the duration of the block."""
    fake = FakeSlack(**options).start()
    try:
        yield fake
    finally:
        fake.stop()
