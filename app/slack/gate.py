"""The HTTP front end's door check: a request to /slack/events is verified and parsed here,
before Bolt sees it, so junk gets a short 4xx and one log line instead of a 500 and a traceback.

Order matters: the signature is checked on the raw bytes first (slack_sdk's SignatureVerifier,
as Slack signs them), and only a signed body is parsed. Unsigned, forged or stale requests get
401; signed bodies Bolt could not parse (truncated JSON, `payload=notjson`, a non-object) and
requests that cannot even be checked (invalid UTF-8, a timestamp of `abc`) get 400.

Rejections are logged at most once per `interval_s` with a count of those not logged since, so
a flood of junk costs a few log lines, not megabytes.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]

REJECTION_LOG_INTERVAL_S = 10.0


@dataclass(frozen=True)
class Rejection:
    status: int  # 400 or 401
    reason: str  # a few words for the log line (never the body: it is untrusted)

    @property
    def phrase(self) -> str:
        return "Unauthorized" if self.status == 401 else "Bad Request"


UNSIGNED = Rejection(401, "missing or invalid signature")
MALFORMED = Rejection(400, "malformed body")
UNCHECKABLE = Rejection(400, "malformed signature headers or body encoding")


class RejectionLog:
    """One warning per `interval_s` at most, carrying how many rejections it stands for."""

    def __init__(
        self,
        interval_s: float = REJECTION_LOG_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None
        self._unlogged = 0

    def note(self, rejection: Rejection, *, remote: str) -> None:
        now = self._clock()
        with self._lock:
            if self._last is not None and now - self._last < self.interval_s:
                self._unlogged += 1
                return
            suppressed, self._unlogged, self._last = self._unlogged, 0, now
        more = f" (+{suppressed} more rejected since the last line)" if suppressed else ""
        log.warning(
            "rejected request from %s: %d %s%s", remote, rejection.status, rejection.reason, more
        )


class Gate:
    """The check in front of Bolt, built once per server from the signing secret."""

    def __init__(self, signing_secret: str, *, max_body: int) -> None:
        self.verifier = SignatureVerifier(signing_secret)
        self.max_body = max_body
        self.rejections = RejectionLog()

    def screen(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes] | None:
        """None for a signed, well-formed POST (its body put back for Bolt to read); else the
        400/401 answer, already started, after one rate-limited log line."""
        if environ.get("REQUEST_METHOD") != "POST":
            return None  # Bolt answers other methods itself (404), with no body to parse
        body = read_body(environ, limit=self.max_body)
        rejection = MALFORMED if body is None else check(self.verifier, body, headers_of(environ))
        if rejection is None:
            environ["wsgi.input"] = io.BytesIO(body or b"")
            environ["CONTENT_LENGTH"] = str(len(body or b""))
            return None
        self.rejections.note(rejection, remote=str(environ.get("REMOTE_ADDR", "?")))
        text = rejection.phrase.encode()
        start_response(
            f"{rejection.status} {rejection.phrase}",
            [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))],
        )
        return [text]


def check(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> Rejection | None:
    """None when `body` is signed by Slack and parses as Bolt expects, else why not."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature:
        # Slack's certificate check may come unsigned, and Bolt answers it with an empty 200
        # before verifying anything; it does nothing else.
        return None if _is_ssl_check(body) else UNSIGNED
    try:
        text = body.decode("utf-8")
        # The verifier itself raises ValueError on a timestamp that is not a number.
        signed = verifier.is_valid(body=text, timestamp=timestamp, signature=signature)
    except ValueError:  # UnicodeDecodeError included
        return UNCHECKABLE
    if not signed:
        return UNSIGNED
    return None if _parses(text, headers.get("content-type", "")) else MALFORMED


def _is_ssl_check(body: bytes) -> bool:
    form = parse_qs(body.decode("utf-8", "replace"))
    return form.get("ssl_check") == ["1"] and "command" not in form and "payload" not in form


def _parses(text: str, content_type: str) -> bool:
    """Does the body parse the way Bolt will parse it (a JSON object, or a form whose
    `payload`, if any, is a JSON object)?"""
    try:
        if content_type.startswith("application/json") or text.lstrip().startswith("{"):
            return isinstance(json.loads(text), dict)
        form = parse_qs(text, keep_blank_values=True)
        if "payload" in form:
            return isinstance(json.loads(form["payload"][0]), dict)
    except ValueError:  # JSONDecodeError
        return False
    return True


def read_body(environ: dict[str, Any], *, limit: int) -> bytes | None:
    """The request body (None when its length is missing, bad or over `limit`)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length < 0 or length > limit:
        return None
    return bytes(environ["wsgi.input"].read(length)) if length else b""


def headers_of(environ: Mapping[str, Any]) -> dict[str, str]:
    """Header names lower-cased with dashes, as Slack and Bolt spell them."""
    headers = {}
    for key, value in environ.items():
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            headers[key.lower().replace("_", "-")] = str(value)
        elif key.startswith("HTTP_"):
            headers[key[5:].lower().replace("_", "-")] = str(value)
    return headers
