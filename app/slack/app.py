"""The Bolt app: built once per process by `paperboy serve` (app/slack/server.py) and by tests.

`build_app(settings, engine, ...)` wires the Web API client (SLACK_API_URL), the signing secret and
the listeners; slow work (LLM, fetching papers) goes through `Services.background`, so Bolt's
few listener threads only ever ack and hand off.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import SecretStr
from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from app.config import Settings
from app.embeddings import Embedder
from app.errors import PaperboyError, apology, log_unexpected
from app.llm.client import LLM
from app.llm.fulltext import PdfFetcher
from app.slack.listeners import register_listeners
from app.slack.poster import make_web_client
from app.slack.services import LISTENER_THREADS, RESPONSE_SENT, Services
from app.sources import Source
from app.sources.semantic_scholar import SemanticScholar

log = logging.getLogger(__name__)


class SlackNotConfigured(PaperboyError):
    """A Slack token or secret the chosen mode needs is missing."""


# Bolt injects middleware arguments by name, hence `next`.
def ignore_other_bots(
    body: dict[str, Any], ack: Callable[[], BoltResponse], next: Callable[[], Any]
) -> Any:
    """Global middleware: drop messages from other bots (Bolt itself drops only our own).

    Two bots answering each other would loop forever; a bot's digest link is not a question.
    """
    event = body.get("event") or {}
    nested = event.get("message")
    nested = nested if isinstance(nested, dict) else {}
    if event.get("bot_id") or event.get("subtype") == "bot_message" or nested.get("bot_id"):
        return ack()
    return next()


# The HTTP front end (app/slack/server.py) marks, per request thread, the event it sets once the
# response has been written; Socket Mode has no such moment, so nothing waits there.
_request = threading.local()


def set_response_sent(event: threading.Event | None) -> None:
    _request.response_sent = event


def attach_response_sent(context: dict[str, Any], next: Callable[[], Any]) -> Any:
    """Global middleware (runs on the request thread): hand the request's RESPONSE_SENT event
    to its listener, which runs on another thread."""
    context[RESPONSE_SENT] = getattr(_request, "response_sent", None)
    return next()


def handle_error(error: Exception, body: dict[str, Any], respond: Any) -> None:
    """Last line of defence for listener errors: one log line with an id the user also sees."""
    error_id = log_unexpected(log, "listener failed", exc_info=error)
    if respond is not None and isinstance(body, dict) and body.get("response_url"):
        try:
            respond(
                text=apology(error_id),
                response_type="ephemeral",
                replace_original=False,
            )
        except Exception:  # Bolt's error handler must never raise itself
            log.exception("could not report error id %s to Slack", error_id)


def _secret(value: SecretStr | None) -> str | None:
    # `.env` lines like `SLACK_APP_TOKEN=` give an empty secret: the same as unset.
    if value is None or not value.get_secret_value():
        return None
    return value.get_secret_value()


def app_token(settings: Settings) -> str | None:
    """The app-level token (xapp-...) when Socket Mode is configured, else None (HTTP mode)."""
    return _secret(settings.slack_app_token)


def check_slack_settings(settings: Settings) -> None:
    """Fail with one clear line when a token or secret the mode needs is missing."""
    if _secret(settings.slack_bot_token) is None:
        raise SlackNotConfigured(
            "SLACK_BOT_TOKEN is not set (the app's Bot User OAuth Token, xoxb-...)."
        )
    if app_token(settings) is None and _secret(settings.slack_signing_secret) is None:
        raise SlackNotConfigured(
            "SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify requests "
            "(or set SLACK_APP_TOKEN to use Socket Mode)."
        )


def verify_token(client: WebClient, *, api_url: str) -> None:
    """Call auth.test, turning a bad token or an unreachable Slack into one clear line (Bolt
    would raise its own, far longer, error from the same call)."""
    try:
        client.auth_test()
    except SlackApiError as exc:
        raise SlackNotConfigured(
            f"Slack rejected SLACK_BOT_TOKEN ({exc.response.get('error', 'unknown error')})."
        ) from None
    except OSError as exc:  # URLError and friends
        raise SlackNotConfigured(
            f"cannot reach Slack at {api_url} ({exc}); check SLACK_API_URL."
        ) from None


class _DropClientTokenWarning(logging.Filter):
    # Bolt reads SLACK_BOT_TOKEN from the environment by itself and then warns that the client we
    # pass (which carries that same token) wins: true, expected, and alarming in a log.
    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


_bolt_log = logging.getLogger("paperboy.bolt")
_bolt_log.addFilter(_DropClientTokenWarning())


def build_app(
    settings: Settings,
    engine: Engine,
    *,
    client: WebClient | None = None,
    llm: LLM | None,
    pdfs: PdfFetcher,
    sources: Sequence[Source],
    embedder: Embedder,
    s2: SemanticScholar | None = None,
) -> tuple[App, Services]:
    """The Bolt app and the Services its listeners share (the server shuts both down)."""
    if client is None:
        client = make_web_client(settings)
    verify_token(client, api_url=settings.slack_api_url)
    listener_executor = ThreadPoolExecutor(LISTENER_THREADS, "bolt-listener")
    app = App(
        name="paperboy",
        client=client,  # its base_url is SLACK_API_URL; App() calls auth.test through it too
        signing_secret=_secret(settings.slack_signing_secret) or "",
        listener_executor=listener_executor,
        logger=_bolt_log,
    )
    app.use(ignore_other_bots)
    app.use(attach_response_sent)
    app.error(handle_error)
    services = Services(
        settings=settings,
        engine=engine,
        client=client,
        llm=llm,
        pdfs=pdfs,
        sources=sources,
        embedder=embedder,
        s2=s2,
        listener_executor=listener_executor,
    )
    register_listeners(app, services)
    return app, services
