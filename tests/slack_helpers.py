"""Talk to the running Slack app over real HTTP, the way Slack does.

Requests are signed exactly as Slack signs them: `X-Slack-Signature: v0=<hex HMAC-SHA256 of
"v0:{timestamp}:{raw body}" keyed by the signing secret>` and `X-Slack-Request-Timestamp`. Slash
commands and interactive payloads are form-encoded (`payload=<JSON>` for the latter), events are
JSON, all POSTed to `{base_url}/slack/events`.

Most tests use the `slack_app_server` fixture (tests/conftest.py), which starts the app on a free
port against the fake Slack Web API (`slack_fake`) and the test database:

    def test_help(slack_app_server):
        sent = slack_app_server.command("help")
        assert sent.status_code == 200
        slack_app_server.wait_idle()            # background work (services.background) done
        assert "follow" in sent.replies()[0]["text"]   # what respond() POSTed to response_url

    slack_app_server.event({"type": "app_mention", "text": "<@UPAPERBOY> hi", ...})
    slack_app_server.action("save_paper", value="2210.03629", message={...})

Need other settings (say, the fake Anthropic)? Use `running_slack_app(settings, slack_fake,
anthropic_base_url=fake.url, ...)` in your own fixture. The plain functions (`sign`,
`post_command`, `post_event`, `post_action`, `post_payload`) work against any base URL.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr
from sqlalchemy import Engine

from app.config import Settings
from app.slack.server import EVENTS_PATH, RunningApp, start_http
from tests.deps import app_deps

SECRET = "test-signing-secret-8f3a"
BOT_TOKEN = "xoxb-test-token"
TEAM_ID = "T0FAKE"  # the fake Slack's team
API_APP_ID = "A0PAPERBOY"
CHANNEL_ID = "C0PAPERS01"
USER_ID = "UALICE"

_ids = itertools.count(1)


def sign(secret: str, body: str | bytes, ts: int | str | None = None) -> dict[str, str]:
    """Slack's signature headers for `body` (bytes exactly as sent) at Unix time `ts` (now)."""
    timestamp = str(int(time.time()) if ts is None else ts)
    raw = body.decode() if isinstance(body, bytes) else body
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{raw}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


def post_signed(
    base_url: str,
    secret: str | None,
    body: str,
    *,
    content_type: str,
    ts: int | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> httpx.Response:
    """POST `body` to {base_url}/slack/events, signed (unless secret is None: unsigned)."""
    all_headers = {"Content-Type": content_type}
    if secret is not None:
        all_headers.update(sign(secret, body, ts))
    all_headers.update(headers or {})
    return httpx.post(
        base_url.rstrip("/") + EVENTS_PATH, content=body, headers=all_headers, timeout=timeout
    )


def command_body(
    text: str,
    *,
    command: str = "/papers",
    response_url: str = "http://127.0.0.1:9/response/none",
    **fields: str,
) -> str:
    """A slash command's form body with every field Slack sends; override any via `fields`."""
    n = next(_ids)
    form = {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "fake",
        "channel_id": CHANNEL_ID,
        "channel_name": "papers",
        "user_id": USER_ID,
        "user_name": "alice",
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{n}.1234.abcdef{n}",
    }
    form.update(fields)
    return urlencode(form)


def post_command(
    base_url: str, secret: str, text: str, *, response_url: str | None = None, **fields: str
) -> httpx.Response:
    """Send `/papers <text>` (or `command=...`) as Slack does; `fields` override the form.

    Pass `response_url=fake.response_url()` to record what the app sends back via respond().
    """
    body = command_body(text, **({"response_url": response_url} if response_url else {}), **fields)
    return post_signed(base_url, secret, body, content_type="application/x-www-form-urlencoded")


def event_body(
    event: dict[str, Any],
    *,
    event_id: str | None = None,
    bot_user_id: str = "UPAPERBOY",
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """The Events API envelope (`event_callback`) around `event`."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": API_APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ids):010d}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],  # fmt: skip
        "is_ext_shared_channel": False,
        "event_context": f"4-ctx-{next(_ids)}",
    }


def post_event(
    base_url: str,
    secret: str,
    event: dict[str, Any],
    *,
    event_id: str | None = None,
    retry_num: int | None = None,
    bot_user_id: str = "UPAPERBOY",
) -> httpx.Response:
    """Deliver one event (JSON). `retry_num` adds Slack's retry headers (a redelivery)."""
    body = json.dumps(event_body(event, event_id=event_id, bot_user_id=bot_user_id))
    headers = {}
    if retry_num is not None:
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
    return post_signed(base_url, secret, body, content_type="application/json", headers=headers)


def post_payload(base_url: str, secret: str, payload: dict[str, Any]) -> httpx.Response:
    """Any interactive payload (block_actions, view_submission, ...) as `payload=<JSON>`."""
    body = urlencode({"payload": json.dumps(payload)})
    return post_signed(base_url, secret, body, content_type="application/x-www-form-urlencoded")


def action_payload(
    action_id: str,
    *,
    value: str | None = None,
    block_id: str = "paper_actions",
    channel_id: str = CHANNEL_ID,
    user_id: str = USER_ID,
    message: dict[str, Any] | None = None,
    response_url: str = "http://127.0.0.1:9/response/none",
) -> dict[str, Any]:
    """A `block_actions` payload for a button click on `message` (a dict with at least `ts`)."""
    n = next(_ids)
    message = message or {"type": "message", "ts": "1700000000.000100", "text": ""}
    action: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "block_id": block_id,
        "text": {"type": "plain_text", "text": action_id},
        "action_ts": f"{time.time():.6f}",
    }
    if value is not None:
        action["value"] = value
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": "alice", "name": "alice", "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": f"{n}.1234.trig{n}",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "channel": {"id": channel_id, "name": "papers"},
        "message": message,
        "response_url": response_url,
        "actions": [action],
    }


def post_action(base_url: str, secret: str, action_id: str, **kwargs: Any) -> httpx.Response:
    """Click a button: see action_payload for the keyword arguments."""
    return post_payload(base_url, secret, action_payload(action_id, **kwargs))


@dataclass
class Sent:
    """A request sent to the app: Slack's HTTP response, and where the app could answer later."""

    response: httpx.Response
    response_url: str | None
    server: SlackAppServer

    @property
    def status_code(self) -> int:
        return self.response.status_code

    def replies(self) -> list[dict[str, Any]]:
        """Bodies the app POSTed to this request's response_url (respond()), so far."""
        if self.response_url is None:
            return []
        return self.server.slack.responses(self.response_url)


@dataclass
class SlackAppServer:
    """The Slack app serving HTTP on a free port, wired to the fake Slack and the test DB."""

    running: RunningApp
    settings: Settings
    engine: Engine
    slack: Any  # tests/fakes/slack_api.FakeSlack
    secret: str = SECRET
    bot_user_id: str = field(default="")

    @property
    def url(self) -> str:
        """Base URL (http://127.0.0.1:PORT); events go to url + "/slack/events"."""
        return self.running.url

    @property
    def events_url(self) -> str:
        return self.running.url + EVENTS_PATH

    @property
    def app(self) -> Any:
        """The Bolt App (tests may register extra listeners or middleware on it)."""
        return self.running.app

    @property
    def services(self) -> Any:
        return self.running.services

    def command(self, text: str, **fields: str) -> Sent:
        """`/papers <text>` with a fresh recording response_url; wait_idle() before replies()."""
        response_url = fields.pop("response_url", None) or self.slack.response_url()
        response = post_command(self.url, self.secret, text, response_url=response_url, **fields)
        return Sent(response, response_url, self)

    def event(self, event: dict[str, Any], **kwargs: Any) -> Sent:
        """Deliver an event (see post_event: event_id, retry_num)."""
        kwargs.setdefault("bot_user_id", self.bot_user_id)
        return Sent(post_event(self.url, self.secret, event, **kwargs), None, self)

    def action(self, action_id: str, **kwargs: Any) -> Sent:
        """Click a button (see action_payload) with a fresh recording response_url."""
        response_url = kwargs.pop("response_url", None) or self.slack.response_url()
        payload = action_payload(action_id, response_url=response_url, **kwargs)
        return Sent(post_payload(self.url, self.secret, payload), response_url, self)

    def payload(self, payload: dict[str, Any]) -> Sent:
        """Any interactive payload (view_submission, ...)."""
        return Sent(post_payload(self.url, self.secret, payload), payload.get("response_url"), self)

    def wait_idle(self, timeout: float = 15.0) -> None:
        """Wait until the app's background work (services.background) has finished."""
        assert self.services.wait_idle(timeout), f"background work still running after {timeout}s"


def app_settings(settings: Settings, slack: Any, **overrides: Any) -> Settings:
    """`settings` pointed at the fake Slack, in HTTP mode, with a known signing secret."""
    values: dict[str, Any] = {
        "slack_api_url": slack.url,
        "slack_bot_token": SecretStr(BOT_TOKEN),
        "slack_signing_secret": SecretStr(SECRET),
        "slack_app_token": None,
        "port": 0,
    }
    values.update(overrides)
    return settings.model_copy(update=values)


@contextmanager
def running_slack_app(
    settings: Settings, slack: Any, *, engine: Engine, **overrides: Any
) -> Iterator[SlackAppServer]:
    """Start the app (HTTP mode, 127.0.0.1, free port) against `slack`; stop it afterwards."""
    cfg = app_settings(settings, slack, **overrides)
    running = start_http(cfg, engine, **app_deps(cfg), host="127.0.0.1", port=0)
    try:
        yield SlackAppServer(
            running=running, settings=cfg, engine=engine, slack=slack,
            bot_user_id=slack.bot_user_id,
        )  # fmt: skip
    finally:
        running.stop()


def running_llm_app(
    settings: Settings,
    slack: Any,
    *,
    engine: Engine,
    anthropic: Any,
    pdf_server: Any | None = None,
    **overrides: Any,
) -> Any:
    """`running_slack_app` with an LLM (the fake Anthropic) and, given one, the fake PDF host."""
    if pdf_server is not None:
        overrides["arxiv_pdf_url"] = pdf_server.url + "/pdf"
    return running_slack_app(
        settings,
        slack,
        engine=engine,
        anthropic_base_url=anthropic.url,
        anthropic_api_key=SecretStr("sk-ant-test"),
        **overrides,
    )
