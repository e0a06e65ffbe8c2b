"""Events while PostgreSQL is down: not acked, so Slack delivers them again.

Every event Paperboy acts on is claimed in `slack_events` before it is handled; during an outage
that claim cannot be made. `OutageGuard.middleware` runs before Bolt acks an event: it pings the
database and, when it is down, answers 503 (in Socket Mode the envelope stays unacked), so Slack
redelivers the event with X-Slack-Retry-Num (after about 0 s, 1 min and 5 min). On Slack's last
try it acks, and a message that was for Paperboy gets "try again in a few minutes" in its thread.

Slack's own retries were chosen over an in-process retry queue: they survive a restart of this
process, need no memory bound, and a redelivery goes through the same path as a first delivery
(claimed by event id, so handled once). The cost is delay: up to five minutes for the last retry.
See docs/operations.md.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltResponse
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from app.slack.thread_posts import post_in_thread

log = logging.getLogger(__name__)

# Slack redelivers an unacked event three times (X-Slack-Retry-Num 1, 2, 3), then gives up.
LAST_SLACK_RETRY = 3
TRY_AGAIN = (
    "I couldn't take that on just now: my database is unavailable. "
    "Please ask again in a few minutes."
)
_RECORDED_EVENTS = ("message", "app_mention", "reaction_added", "reaction_removed")
# (event, bot user id, mentioned) -> (request, addressed to us) or None: decided without the DB.
Wanted = Callable[..., Any]


class OutageGuard:
    def __init__(self, engine: Engine, wanted: Wanted) -> None:
        self.engine = engine
        self.wanted = wanted
        # Messages already told to try again: a mention arrives twice (message, app_mention),
        # and without the database this is the only memory of having answered it.
        self._told: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def middleware(self) -> Callable[..., Any]:
        # Bolt injects middleware arguments by name, hence `next`.
        def hold_while_database_is_down(
            body: dict[str, Any], request: Any, context: Any, client: Any, next: Any
        ) -> Any:
            return self.hold(body, request, context, client, next)

        return hold_while_database_is_down

    def hold(self, body: dict[str, Any], request: Any, context: Any, client: Any, next: Any) -> Any:
        """Before Bolt's ack: an event that cannot be recorded is not acked."""
        event = body.get("event") if body.get("type") == "event_callback" else None
        if not isinstance(event, dict) or event.get("type") not in _RECORDED_EVENTS:
            return next()
        wanted = None
        if event.get("type") in ("message", "app_mention"):
            wanted = self.wanted(
                event, context.get("bot_user_id"), mentioned=event.get("type") == "app_mention"
            )
            if wanted is None:  # chatter Paperboy ignores: nothing to record, no database trip
                return next()
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            retry = (request.headers.get("x-slack-retry-num") or ["0"])[0]
            retry_num = int(retry) if str(retry).isdigit() else 0
            log.warning(
                "database unavailable; event %s (delivery %d) %s: %s",
                body.get("event_id"),
                retry_num + 1,
                "left to Slack's retry" if retry_num < LAST_SLACK_RETRY else "not recorded",
                type(exc).__name__,
            )
            if retry_num < LAST_SLACK_RETRY:
                return BoltResponse(status=503, body="database unavailable; please retry")
            # An un-addressed reply: without the database we cannot tell it was for us.
            if wanted is not None and (wanted[0].kind == "summarize" or wanted[1]):
                self.tell_to_try_again(client, event)
            return BoltResponse(status=200, body="")
        return next()

    def tell_to_try_again(self, client: Any, event: dict[str, Any]) -> None:
        channel, ts = str(event["channel"]), str(event["ts"])
        with self._lock:
            if (channel, ts) in self._told:
                return
            self._told[(channel, ts)] = None
            while len(self._told) > 1000:
                self._told.popitem(last=False)
        try:
            # No waiting out a Slack outage here: this may run before the ack (3-second budget).
            post_in_thread(
                client, channel, str(event.get("thread_ts") or ts), {"text": TRY_AGAIN},
                patience_s=0,
            )  # fmt: skip
        except Exception:  # Slack down too: nothing left to tell anyone with; the log says it
            log.exception("could not tell %s to try again", channel)
