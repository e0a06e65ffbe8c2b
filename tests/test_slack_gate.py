"""Junk at /slack/events (issue 10): unsigned, forged or malformed requests get 400 or 401 and
one short log line, never a 500 with a traceback, and a flood of them costs a few lines."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable

import httpx
import pytest
from slack_helpers import SECRET, command_body, sign

from app.slack.gate import UNSIGNED, RejectionLog
from app.slack.server import EVENTS_PATH

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def _raw_signature(body: bytes, ts: str) -> dict[str, str]:
    """Slack's signature over raw bytes (sign() needs text; these bodies aren't UTF-8)."""
    digest = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


def _shapes() -> list[tuple[str, bytes, str, Callable[[], dict[str, str]], int]]:
    """(name, body, content type, headers made when sent, expected status)."""
    command = command_body("help")
    truncated = '{"type": "event_callback", "event": {"type": "app_mention", "te'
    bad_utf8 = b"token=x&text=\xff\xfe\xfa&command=/papers"
    return [
        ("unsigned command", command.encode(), FORM, dict, 401),
        ("forged signature", command.encode(), FORM, lambda: sign("not-it", command), 401),
        (
            "stale timestamp",
            command.encode(),
            FORM,
            lambda: sign(SECRET, command, int(time.time()) - 3600),
            401,
        ),
        ("timestamp abc", command.encode(), FORM, lambda: sign(SECRET, command, "abc"), 400),
        ("unsigned truncated JSON", truncated.encode(), JSON, dict, 401),
        ("signed truncated JSON", truncated.encode(), JSON, lambda: sign(SECRET, truncated), 400),
        (
            "signed payload=notjson",
            b"payload=notjson",
            FORM,
            lambda: sign(SECRET, "payload=notjson"),
            400,
        ),
        ("signed JSON that is a list", b"[1, 2]", JSON, lambda: sign(SECRET, "[1, 2]"), 400),
        ("unsigned invalid UTF-8", bad_utf8, FORM, dict, 401),
        (
            "signed invalid UTF-8",
            bad_utf8,
            FORM,
            lambda: _raw_signature(bad_utf8, str(int(time.time()))),
            400,
        ),
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "status"),
    [shape[1:] for shape in _shapes()],
    ids=[shape[0] for shape in _shapes()],
)
def test_junk_gets_a_4xx_and_one_short_log_line(
    slack_app_server, caplog, body, content_type, headers, status
):
    caplog.set_level(logging.INFO)
    response = httpx.post(
        slack_app_server.url + EVENTS_PATH,
        content=body,
        headers={"Content-Type": content_type, **headers()},  # signed now: never stale
        timeout=10,
    )
    assert response.status_code == status
    assert len(response.content) < 100
    noted = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(noted) == 1, [r.getMessage() for r in noted]
    assert noted[0].exc_info is None
    assert len(noted[0].getMessage()) < 200
    assert str(status) in noted[0].getMessage()


def test_a_signed_command_still_gets_through(slack_app_server):
    sent = slack_app_server.command("help")
    assert sent.status_code == 200
    assert "follow" in sent.response.text  # help is the ack itself


def test_slacks_unsigned_certificate_check_still_gets_its_empty_200(slack_app_server):
    response = httpx.post(
        slack_app_server.url + EVENTS_PATH,
        content=b"ssl_check=1&token=legacy-verification-token",
        headers={"Content-Type": FORM},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.content == b""


def test_a_flood_of_junk_writes_one_line_per_interval(slack_app_server, caplog):
    caplog.set_level(logging.INFO)
    with httpx.Client(timeout=10) as client:
        statuses = {
            client.post(
                slack_app_server.url + EVENTS_PATH,
                content=b"payload=notjson",
                headers={"Content-Type": FORM, **sign(SECRET, "payload=notjson", "abc")},
            ).status_code
            for _ in range(100)
        }
    assert statuses == {400}
    noted = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(noted) == 1  # the interval is 10 s: the first line stands for all of them


def test_the_line_after_an_interval_counts_what_it_left_out(caplog):
    now = [0.0]
    rejections = RejectionLog(interval_s=10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="app.slack.gate"):
        for _ in range(5):
            rejections.note(UNSIGNED, remote="10.0.0.1")
        now[0] = 11.0
        rejections.note(UNSIGNED, remote="10.0.0.1")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "401" in lines[0] and "more" not in lines[0]
    assert "+4 more rejected" in lines[1]
