"""Talking to the Slack Web API: one WebClient with retries, and the digest's Poster over it.

Per-channel pacing (Slack's one message per second per channel) is the digest's own business:
app/digest/pacer.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from app import metrics
from app.config import Settings
from app.digest.ports import Posted, PostError

# 429s are expected under bursts and Retry-After says when to come back: be patient with them.
RATE_LIMIT_RETRIES = 5
SERVER_ERROR_RETRIES = 2
CONNECTION_RETRIES = 2


def make_web_client(settings: Settings) -> WebClient:
    """The one WebClient for SLACK_API_URL, retrying 429 (Retry-After), 5xx and dropped links."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    base_url = (
        settings.slack_api_url
        if settings.slack_api_url.endswith("/")
        else (settings.slack_api_url + "/")
    )
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=int(max(1, settings.http_timeout_seconds)),
        retry_handlers=[
            CountErrors(),  # first: it sees every answer, then lets the others decide
            RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            ServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES),
            ConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES),
        ],
    )


class CountErrors(RetryHandler):
    """Counts every Slack API error answer for /metrics (app/metrics.py); never retries.

    The WebClient asks its retry handlers, in order, about each answer (ok or not) and each
    network error, so the first handler is the one place that sees them all, for every caller
    of the client: the digest, Bolt's listeners, the CLI.
    """

    def __init__(self) -> None:
        super().__init__(max_retry_count=0)

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        code = _error_code(response, error)
        if code is not None:
            method = request.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            metrics.count_slack_error(method=method, code=code)
        return False


def _error_code(response: HttpResponse | None, error: Exception | None) -> str | None:
    """Slack's error code, `http_<status>`, or the network error's name; None when it was ok."""
    if response is None:
        return type(error).__name__ if error is not None else None
    if response.status_code != 200:
        return f"http_{response.status_code}"
    body = response.body if isinstance(response.body, dict) else {}
    if body.get("ok") is False:
        return str(body.get("error") or "unknown")
    return None


class SlackPoster:
    """The digest's `Poster` (app/digest/ports.py) over one WebClient."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post(self, payload: Mapping[str, Any]) -> Posted:
        try:
            response = self.client.chat_postMessage(**payload)
        except SlackApiError as exc:
            code = str(exc.response.get("error") or exc.response.status_code)
            # Slack answered (200 + ok:false): retrying would get the same answer.
            permanent = exc.response.status_code == 200
            raise PostError(f"slack: {code}", code=code, permanent=permanent) from None
        except Exception as exc:  # noqa: BLE001 - any network trouble: the next attempt resumes
            name = type(exc).__name__
            raise PostError(f"{name}: {exc}", code=name, permanent=False) from None
        return Posted(
            ts=str(response["ts"]), channel=str(response.get("channel") or payload["channel"])
        )

    def history(
        self, *, channel: str, oldest: str, cursor: str | None, limit: int
    ) -> Mapping[str, Any]:
        return self.client.conversations_history(
            channel=channel, oldest=oldest, cursor=cursor, limit=limit, include_all_metadata=True
        ).data  # type: ignore[return-value]

    def replies(
        self, *, channel: str, ts: str, cursor: str | None, limit: int
    ) -> Mapping[str, Any]:
        return self.client.conversations_replies(
            channel=channel, ts=ts, cursor=cursor, limit=limit, include_all_metadata=True
        ).data  # type: ignore[return-value]
