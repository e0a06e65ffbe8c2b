"""Finding a resumed run's messages that Slack has but posted_messages does not.

Exactly once leaves one window open: Slack accepted a message, and the process died (or lost the
answer) before the message's row was written. Slack takes no idempotency key, but every digest
message carries `metadata` (event_type `paperboy_digest`, with the run id and position), so before
a resumed run posts anything, its channel's history since the run was recorded (and the header's
thread, for the `thread` style) is read for messages of that run. Those found are recorded, not
posted again.

Best effort: when Slack will not show the history (the bot is not a member: it may post to public
channels without joining; a missing scope; an outage), the run resumes as before and that one
message may repeat. Fresh runs never pay for this: only a run that may have posted before does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.digest.ports import Poster

log = logging.getLogger(__name__)

EVENT_TYPE = "paperboy_digest"
PAGE_SIZE = 200
MAX_PAGES = 5  # a resumed run is hours old at most: 1,000 messages reach back far enough
CLOCK_SKEW = timedelta(minutes=2)  # our clock against Slack's, for `oldest`


@dataclass(frozen=True)
class Found:
    ts: str
    thread_ts: str | None


def _scan(pages: Any, run_id: int, found: dict[int, Found]) -> None:
    for page in pages:
        for message in page.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") != EVENT_TYPE or payload.get("run_id") != run_id:
                continue
            position = payload.get("position")
            if not isinstance(position, int) or position in found:
                continue
            thread_ts = message.get("thread_ts")
            found[position] = Found(
                ts=str(message["ts"]),
                thread_ts=str(thread_ts) if thread_ts and thread_ts != message["ts"] else None,
            )


def _pages(call: Any, **kwargs: Any) -> Any:
    cursor = None
    for _ in range(MAX_PAGES):
        page = call(**kwargs, cursor=cursor, limit=PAGE_SIZE)
        yield page
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not page.get("has_more") or not cursor:
            return


def find_posted(
    poster: Poster,
    *,
    channel_id: str,
    run_id: int,
    since: datetime,
    header_ts: str | None,
    in_thread: bool,
) -> dict[int, Found]:
    """{position: where Slack has it} for the run's messages visible in the channel (and, when
    `in_thread`, in the header's thread); {} when Slack will not say."""
    found: dict[int, Found] = {}
    try:
        oldest = f"{(since - CLOCK_SKEW).timestamp():.6f}"
        _scan(_pages(poster.history, channel=channel_id, oldest=oldest), run_id, found)
        header_ts = header_ts or (found[0].ts if 0 in found else None)
        if in_thread and header_ts:
            _scan(
                _pages(poster.replies, channel=channel_id, ts=header_ts),
                run_id,
                found,
            )
    except Exception as exc:  # noqa: BLE001 - best effort: resuming without it is still right
        log.info("digest run %s: cannot read %s's history (%s); resuming blind", run_id,
                 channel_id, exc)  # fmt: skip
    return found
