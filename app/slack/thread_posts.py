"""Posting into a thread: the "working on it" note that becomes the answer, and the thread's
earlier messages as history for a follow-up question."""

from __future__ import annotations

import logging
import threading
from typing import Any

from slack_sdk.errors import SlackApiError
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from app.errors import apology
from app.slack import threads

# How long a thread answer waits out Slack errors before it is given up (and logged).
THREAD_POST_PATIENCE_S = 30.0

log = logging.getLogger(__name__)

# Post "working on it" when a summary is not ready after this many seconds, then replace it.
WORKING_NOTE_AFTER_S = 3.0
WORKING_NOTE = ":hourglass_flowing_sand: Reading the paper, this takes a moment…"
# How much of the thread is handed to the LLM as conversation history for a follow-up.
HISTORY_MESSAGES = 12


class WorkingNote:
    """Posts a "working on it" note in the thread if the work outlasts WORKING_NOTE_AFTER_S;
    `finish(message)` then replaces the note with the result (or posts it, if no note)."""

    def __init__(self, client: Any, *, channel: str, thread_ts: str) -> None:
        self.client, self.channel, self.thread_ts = client, channel, thread_ts
        self._lock = threading.Lock()
        self._done = False
        self._note_ts: str | None = None
        self._timer = threading.Timer(WORKING_NOTE_AFTER_S, self._post_note)
        self._timer.daemon = True

    def __enter__(self) -> WorkingNote:
        self._timer.start()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        with self._lock:
            self._done = True
            self._timer.cancel()
            note_ts = self._note_ts
        if exc_type is not None and note_ts:  # never leave "working on it" behind a failure
            try:
                self.client.chat_update(
                    channel=self.channel, ts=note_ts, text="Sorry, I couldn't finish this one."
                )
            except Exception:  # a cosmetic note: the failure itself is already reported
                log.warning("could not update the working-on-it note", exc_info=True)

    def _post_note(self) -> None:
        with self._lock:
            if self._done:
                return
            try:
                self._note_ts = post_in_thread(  # cosmetic: not worth waiting out an outage
                    self.client, self.channel, self.thread_ts, {"text": WORKING_NOTE}, patience_s=0
                )
            except Exception:  # a cosmetic note: never let it stop the real answer
                log.warning("could not post the working-on-it note", exc_info=True)

    def finish(self, message: dict[str, Any]) -> str | None:
        with self._lock:
            self._done = True
            self._timer.cancel()
            note_ts = self._note_ts
        if note_ts:
            self.client.chat_update(channel=self.channel, ts=note_ts, **message)
            return note_ts
        return post_in_thread(self.client, self.channel, self.thread_ts, message)


def thread_history(
    client: Any, *, channel: str, thread_ts: str | None, before: str
) -> list[dict[str, str]]:
    """Earlier messages of the thread as [{"role": "user"|"assistant", "text": ...}], oldest
    first: Paperboy's own replies are the assistant's turns."""
    if not thread_ts or thread_ts == before:
        return []
    try:
        reply = client.conversations_replies(channel=channel, ts=thread_ts, limit=200)
    except Exception:  # without the history the answer is still useful, just less informed
        log.info("conversations.replies failed for %s/%s", channel, thread_ts, exc_info=True)
        return []
    history: list[dict[str, str]] = []
    for message in reply.get("messages") or []:
        if message.get("ts") == thread_ts or float(message.get("ts", 0)) >= float(before):
            continue
        text = threads.message_text(message).strip()
        if not text or text == WORKING_NOTE:
            continue
        role = "assistant" if message.get("bot_id") else "user"
        history.append({"role": role, "text": text})
    return history[-HISTORY_MESSAGES:]


def _transient(exc: BaseException) -> bool:
    """Slack down for a moment (5xx, 429 past the client's own retries) or the network."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        return status >= 500 or status == 429 or exc.response.get("error") == "ratelimited"
    return isinstance(exc, OSError)


def post_in_thread(
    client: Any,
    channel: str,
    thread_ts: str,
    message: dict[str, Any],
    *,
    patience_s: float = THREAD_POST_PATIENCE_S,
) -> str | None:
    """Post into a thread. The WebClient already retries a 5xx twice and a 429 after
    Retry-After; an answer is owed to someone who asked, so a longer Slack outage is waited out
    too (up to THREAD_POST_PATIENCE_S, on a background lane) rather than the answer dropped."""
    for attempt in Retrying(
        retry=retry_if_exception(_transient),
        wait=wait_exponential(multiplier=1, max=8),
        stop=stop_after_delay(patience_s),
        reraise=True,
    ):
        with attempt:
            reply = client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                **message,
            )
    return reply.get("ts")


def post_apology(client: Any, channel: str, thread_ts: str, error_id: str) -> None:
    post_in_thread(
        client,
        channel,
        thread_ts,
        {"text": apology(error_id)},
    )
