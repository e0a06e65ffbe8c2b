"""A fake Anthropic Messages API: a real HTTP server that the real `anthropic` SDK talks to.

    with AnthropicFake() as fake:
        settings = settings.model_copy(update={"anthropic_base_url": fake.url, ...})
        ...
        assert len(fake.message_requests) == 1

Speaks the wire format: `POST /v1/messages` answers a Message (id, type, role, model, content
blocks, stop_reason, usage with cache_creation_input_tokens / cache_read_input_tokens),
`POST /v1/messages/count_tokens`, and Message Batches (`POST /v1/messages/batches`,
`GET /v1/messages/batches/{id}`, `GET .../results` as JSONL). Errors use the API's error body
(`{"type": "error", "error": {"type": "overloaded_error", ...}}`). Like the real API it rejects
`temperature`/`top_p`/`top_k` and assistant prefill with 400.

Tokens are counted from the prompt actually sent, at 4 characters a token. Caching: a request's
prefix up to a block marked `cache_control` (the output schema first, then system, then
messages) is written to the cache when it is at least `min_cache_tokens` long, and read back by
later requests with the same prefix and model within its TTL.

Scripting (direct calls, in order; anything unscripted gets the default responder of
anthropic_responder.py, which fills any JSON schema from the prompt): `reply_text`,
`reply_json`, `refuse`, `error(status, ...)`, `rate_limit(retry_after=...)`, `overloaded()`,
`delay(seconds)` (a slow answer: the client times out), `malformed(body)` (a 200 whose body is
not a Message: truncated JSON by default), `latency` (every answer). Batches:
`batch_outcomes[custom_id] = "errored" | "expired" | "canceled"`, the first `batch_polls`
retrieves answer `in_progress`, and `batch_fate` makes every new batch "missing" (404
not_found_error on retrieve), "expired" (ended, every request expired) or "canceled"
(canceling with cancel_initiated_at, then ended, every request canceled); the next
`batch_poll_errors` retrieves answer 500.
Every request is recorded (`requests`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ._server import FakeServer, Reply, Request
from .anthropic_batches import BatchesMixin
from .anthropic_errors import ERROR_TYPES, ApiError, error_body
from .anthropic_responder import default_reply, request_text

CHARS_PER_TOKEN = 4


def tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


@dataclass
class Step:
    kind: str  # text | refusal | error | delay | malformed
    text: str = ""
    status: int = 200
    error_type: str = ""
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


class _Malformed(bytes):
    """A raw body served as JSON although it is not (a truncated or garbled 200)."""


class AnthropicFake(BatchesMixin, FakeServer):
    def __init__(self, *, min_cache_tokens: int = 1024, batch_polls: int = 1) -> None:
        super().__init__()
        self.min_cache_tokens = min_cache_tokens
        self.batch_polls = batch_polls
        self.latency = 0.0  # seconds every direct Messages request takes
        self.batch_outcomes: dict[str, str] = {}
        self.batch_texts: dict[str, str] = {}  # custom_id -> the reply's text
        self.batch_fate: str | None = None  # missing | expired | canceled, for new batches
        self.batch_poll_errors = 0  # the next N batch retrieves answer 500
        self._script: list[Step] = []
        self._cache: dict[str, float] = {}  # prefix hash -> expiry (monotonic)
        self._batches: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # --- scripting ---------------------------------------------------------------------------

    def _push(self, step: Step, times: int = 1) -> None:
        with self._lock:
            self._script += [step] * times

    def reply_text(self, text: str, *, times: int = 1) -> None:
        self._push(Step("text", text=text), times)

    def reply_json(self, obj: Any, *, times: int = 1) -> None:
        self.reply_text(json.dumps(obj), times=times)

    def refuse(self, *, times: int = 1) -> None:
        self._push(Step("refusal"), times)

    def error(self, status: int, *, error_type: str | None = None, message: str = "error",
              retry_after: float | None = None, times: int = 1) -> None:  # fmt: skip
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        kind = error_type or ERROR_TYPES.get(status, "api_error")
        self._push(
            Step("error", status=status, error_type=kind, message=message, headers=headers), times
        )

    def rate_limit(self, *, retry_after: float = 0.05, times: int = 1) -> None:
        self.error(429, message="Number of request tokens has exceeded your per-minute rate limit",
                   retry_after=retry_after, times=times)  # fmt: skip

    def overloaded(self, *, times: int = 1, retry_after: float | None = None) -> None:
        self.error(529, message="Overloaded", retry_after=retry_after, times=times)

    def delay(self, seconds: float, *, times: int = 1) -> None:
        self._push(Step("delay", seconds=seconds), times)

    def malformed(self, body: str = '{"id": "msg_01', *, times: int = 1) -> None:
        """A 200 with `Content-Type: application/json` whose body is not a Message."""
        self._push(Step("malformed", text=body), times)

    # --- inspection --------------------------------------------------------------------------

    @property
    def message_requests(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.requests if r.method == "POST" and r.path == "/v1/messages"]

    @property
    def batch_requests(self) -> list[dict[str, Any]]:
        return [
            r.json()
            for r in self.requests
            if r.method == "POST" and r.path == "/v1/messages/batches"
        ]

    def model_requests(self) -> Iterator[dict[str, Any]]:
        """Every Messages request, direct or inside a batch."""
        yield from self.message_requests
        for batch in self.batch_requests:
            yield from (item["params"] for item in batch.get("requests", []))

    def papers_seen(self) -> Counter[str]:
        """How often each paper id was sent to the model (in `<paper id=...>` elements)."""
        found: Counter[str] = Counter()
        for body in self.model_requests():
            found.update(re.findall(r'<paper id="([^"]+)">', request_text(body)))
        return found

    # --- the model ---------------------------------------------------------------------------

    def _segments(self, body: dict[str, Any]) -> list[tuple[str, bool]]:
        """The prompt in cache order, as (text, ends a cache_control prefix)."""
        segs: list[tuple[str, bool]] = []
        fmt = (body.get("output_config") or {}).get("format")
        if fmt:
            segs.append((json.dumps(fmt, sort_keys=True), False))
        system = body.get("system")
        if isinstance(system, str):
            segs.append((system, False))
        elif system:
            segs += [(b.get("text", ""), bool(b.get("cache_control"))) for b in system]
        for message in body.get("messages", []):
            content = message.get("content")
            if isinstance(content, str):
                segs.append((content, False))
            else:
                for block in content or []:
                    text = block.get("text") if block.get("type") == "text" else json.dumps(block)
                    segs.append((text or "", bool(block.get("cache_control"))))
        if body.get("cache_control") and segs:  # automatic caching: the last block
            segs[-1] = (segs[-1][0], True)
        return segs

    def usage_for(self, body: dict[str, Any], output: str) -> dict[str, int]:
        segs = self._segments(body)
        total = sum(tokens(t) for t, _ in segs)
        read = write = 0
        now = time.monotonic()
        digest = hashlib.sha256(str(body.get("model")).encode())
        upto = 0
        marks: list[tuple[str, int]] = []
        for text, marked in segs:
            digest.update(text.encode())
            upto += tokens(text)
            if marked:
                marks.append((digest.copy().hexdigest(), upto))
        with self._lock:
            for key, size in marks:
                if self._cache.get(key, 0) > now:
                    read = size
            cacheable = [(k, s) for k, s in marks if s >= self.min_cache_tokens]
            if cacheable and cacheable[-1][1] > read:
                write = cacheable[-1][1] - read
            for key, _ in cacheable:
                self._cache[key] = now + 300
        return {
            "input_tokens": total - read - write,
            "output_tokens": max(1, tokens(output)),
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
        }

    def message(
        self, body: dict[str, Any], text: str, stop_reason: str = "end_turn"
    ) -> dict[str, Any]:
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": [{"type": "text", "text": text}] if text else [],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": self.usage_for(body, text),
        }

    @staticmethod
    def validate(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        for name in ("model", "max_tokens", "messages"):
            if name not in body:
                raise ApiError(400, f"{name}: Field required")
        for name in ("temperature", "top_p", "top_k"):
            if name in body:
                raise ApiError(400, f"{name} is not supported on this model")
        if body["messages"] and body["messages"][-1].get("role") == "assistant":
            raise ApiError(400, "This model does not support assistant message prefill.")
        return body

    def _direct(self, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        time.sleep(self.latency)
        with self._lock:
            step = self._script.pop(0) if self._script else None
        if step is not None and step.kind == "delay":
            time.sleep(step.seconds)
            step = None
        if step is not None and step.kind == "error":
            return step.status, step.headers, error_body(step.error_type, step.message)
        if step is not None and step.kind == "malformed":
            return 200, {}, _Malformed(step.text.encode())
        if step is not None and step.kind == "refusal":
            return 200, {}, self.message(body, "", "refusal")
        text = step.text if step is not None else default_reply(body)
        return 200, {}, self.message(body, text)

    # --- HTTP --------------------------------------------------------------------------------

    def respond(self, request: Request) -> Reply:
        try:
            try:
                body = request.json()
            except ValueError:
                body = request.body.decode(errors="replace")
            # SDK 2.x sends "Authorization: Bearer <key>"; older clients x-api-key.
            headers = request.headers
            if not (
                headers.get("authorization", "").startswith("Bearer ") or "x-api-key" in headers
            ):
                raise ApiError(401, "an API key is required")
            status, extra, payload, raw = self._route(request.method, request.path, body)
        except ApiError as exc:
            status, extra, payload, raw = (
                exc.status, {}, error_body(exc.error_type, exc.message), None,
            )  # fmt: skip
        headers = {"request-id": f"req_{uuid.uuid4().hex[:20]}", **extra}
        if isinstance(raw, _Malformed):
            return Reply(status, bytes(raw), headers, "application/json")
        if raw is not None:
            return Reply(status, raw, headers, "application/x-jsonl")
        return Reply.of_json(payload, status, headers, "application/json")

    def _route(
        self, method: str, path: str, body: Any
    ) -> tuple[int, dict[str, str], Any, bytes | None]:
        if method == "POST" and path == "/v1/messages":
            status, headers, payload = self._direct(self.validate(body))
            if isinstance(payload, _Malformed):
                return status, headers, None, payload
            return status, headers, payload, None
        if method == "POST" and path == "/v1/messages/count_tokens":
            segs = self._segments(self.validate({**body, "max_tokens": 1}))
            return 200, {}, {"input_tokens": sum(tokens(t) for t, _ in segs)}, None
        if method == "POST" and path == "/v1/messages/batches":
            return 200, {}, self._create_batch(body), None
        if method == "GET" and (m := re.fullmatch(r"/v1/messages/batches/([\w-]+)/results", path)):
            return 200, {}, None, self._results(m.group(1))
        if method == "GET" and (m := re.fullmatch(r"/v1/messages/batches/([\w-]+)", path)):
            return 200, {}, self._retrieve(m.group(1)), None
        raise ApiError(404, f"{method} {path} not found")
