"""The Bolt app: built once per process by `paperboy serve` (app/slack/server.py) and by tests.

`create_app(settings, engine)` wires the Web API client (SLACK_API_URL), the signing secret and
the listeners; slow work (LLM, fetching papers) goes through `Services.background`, so Bolt's
few listener threads only ever ack and hand off.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from app.config import Settings
from app.errors import PaperboyError, apology, log_unexpected
from app.llm.client import LLM
from app.llm.fulltext import PdfFetcher
from app.slack.poster import make_web_client
from app.sources import Source

log = logging.getLogger(__name__)

# Slow work (LLM answers, paper fetches) runs here, never on Bolt's listener threads.
BACKGROUND_THREADS = 8
# More queued than this and Paperboy says it is busy rather than answering minutes late.
BACKGROUND_QUEUE_LIMIT = 200
# Bolt's own listener pool (its default size), named so shutdown can wait for it.
LISTENER_THREADS = 5
# Longest a slash command's background work waits for its ack to be on the wire (see
# `response_sent`); the HTTP front end normally releases it within a millisecond.
AFTER_RESPONSE_WAIT_S = 1.0
# Bolt context key: a threading.Event set once the HTTP response (the ack) has been written.
RESPONSE_SENT = "paperboy_response_sent"


class SlackNotConfigured(PaperboyError):
    """A Slack token or secret the chosen mode needs is missing."""


class Busy(PaperboyError):
    """Too much slow work is queued; the user is asked to try again shortly."""


@dataclass
class Services:
    """What listeners need, built once per process and handed to every `register(app, services)`.

    Listeners call `services.background(fn, *args, **kwargs)` for anything slower than a
    database query; exceptions there are logged with an error id, and `on_error(error_id)`
    (when given) lets the listener tell the user, e.g. "Sorry, that failed (error id 1a2b3c4d)".
    """

    settings: Settings
    engine: Engine
    client: WebClient
    llm: LLM | None
    pdfs: PdfFetcher
    sources: Sequence[Source]
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(BACKGROUND_THREADS, "paperboy-bg")
    )
    queue_limit: int = BACKGROUND_QUEUE_LIMIT
    # Bolt's listener pool, kept here so shutdown can wait for in-flight listeners too.
    listener_executor: ThreadPoolExecutor | None = None
    _pending: set[Future[Any]] = field(default_factory=set, repr=False)
    _lock: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def background(
        self,
        fn: Callable[..., Any],
        /,
        *args: Any,
        on_error: Callable[[str], object] | None = None,
        after: threading.Event | None = None,
        **kwargs: Any,
    ) -> Future[Any]:
        """Run `fn(*args, **kwargs)` on the background pool; raises Busy when it is full.

        With `after` (a request's RESPONSE_SENT event), the work starts once the ack has been
        written: Bolt's request thread polls for the ack, and Python work started in this
        process at that moment would hold the GIL it needs to send it.
        """

        def run() -> Any:
            if after is not None:
                after.wait(AFTER_RESPONSE_WAIT_S)
            try:
                return fn(*args, **kwargs)
            except Exception:  # noqa: BLE001 - a future would keep it silently: logged here, with an id
                error_id = log_unexpected(log, "background %s failed", _name(fn))
                if on_error is not None:
                    try:
                        on_error(error_id)
                    except Exception:  # reporting must not hide the original error
                        log.exception("reporting error id %s failed", error_id)
                return None

        with self._lock:
            if len(self._pending) >= self.queue_limit:
                raise Busy("Paperboy is busy right now; please try again in a minute.")
            future = self.executor.submit(run)
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)
            self._lock.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no background work is pending (tests, shutdown); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._pending, timeout=timeout)

    def shutdown(self, *, wait: bool = True) -> None:
        if self.listener_executor is not None:
            self.listener_executor.shutdown(wait=wait)
        self.executor.shutdown(wait=wait, cancel_futures=not wait)


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


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
) -> tuple[App, Services]:
    """The Bolt app and the Services its listeners share (the server shuts both down)."""
    from app.slack.listeners import register_listeners

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
        listener_executor=listener_executor,
    )
    register_listeners(app, services)
    return app, services


def create_app(
    settings: Settings,
    engine: Engine,
    *,
    client: WebClient | None = None,
    llm: LLM | None,
    pdfs: PdfFetcher,
    sources: Sequence[Source],
) -> App:
    """The Bolt app with every listener registered (see build_app for the Services too)."""
    return build_app(settings, engine, client=client, llm=llm, pdfs=pdfs, sources=sources)[0]
