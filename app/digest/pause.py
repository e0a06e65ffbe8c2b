"""Which of Slack's refusals pause a channel's digests, what to tell people, and telling them.

A refusal that will not change by itself (a bad token, a channel the bot cannot see) pauses only
that channel: the scheduler skips it instead of failing at it every minute, and its papers stay
owed (app/digest/owed.py). `paperboy digest --channel C`, `/papers digest now` or a new bot token
resumes it. Everything else Slack says is either transient (retried with backoff) or about one
message (the run fails, the channel goes on).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.db import pauses
from app.db.engine import session_scope
from app.db.models import Channel
from app.digest.owed import requeue_undelivered
from app.digest.ports import Poster, PostError

log = logging.getLogger(__name__)

# The token itself is refused: every channel fails alike, and only a new token helps.
AUTH_CODES = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)
# This channel is refused: the bot is not in it, cannot see it, or may not post there.
CHANNEL_CODES = frozenset({"channel_not_found", "not_in_channel", "is_archived", "missing_scope"})
PAUSE_CODES = AUTH_CODES | CHANNEL_CODES

_TOKEN_HINT = (
    "Slack refused the bot token: check SLACK_BOT_TOKEN (the app's Bot User OAuth Token, "
    "xoxb-…); digests resume when Paperboy starts with a new token"
)
_HINTS = {
    "not_in_channel": "Paperboy is not a member of the channel: type `/invite @Paperboy` in it",
    "channel_not_found": (
        "Slack cannot find the channel: it is private (type `/invite @Paperboy` in it) or the id "
        "is wrong (a channel's id is at the bottom of its About tab)"
    ),
    "is_archived": "the channel is archived: unarchive it, or unfollow its topics",
    "missing_scope": (
        "the Slack app lacks a permission (chat:write): add it under OAuth & Permissions and "
        "reinstall the app"
    ),
}
RESUME_HINT = "`/papers digest now` or `paperboy digest --channel {channel}` resumes it"


def is_pausing(code: str | None) -> bool:
    return code in PAUSE_CODES


def hint(code: str) -> str:
    """What to do about a pause, in one line."""
    if code in AUTH_CODES:
        return _TOKEN_HINT
    return _HINTS.get(code, f"Slack answered {code}")


def describe(channel_id: str, code: str) -> str:
    """The pause in one line: Slack's answer, the hint, how to resume."""
    return (
        f"slack: {code}; digests to {channel_id} are paused: {hint(code)}; "
        + RESUME_HINT.format(channel=channel_id)
    )


def fingerprint(token: str | None) -> str | None:
    """A short hash naming a token without revealing it: tells whether the token changed."""
    if not token:
        return None
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def notify_setter(poster: Poster, *, user_id: str, channel_id: str, code: str) -> bool:
    """Tell the person who set the channel up, by direct message. Never for auth failures: the
    same token would be refused again. True when Slack took the message."""
    if code in AUTH_CODES or not user_id:
        return False
    text = (
        f":warning: Paperboy's digests to <#{channel_id}> are paused: {hint(code)}. "
        f"Then {RESUME_HINT.format(channel=channel_id)}; the papers it missed come with it."
    )
    try:
        # chat.postMessage to a user id posts in the app's DM with that user.
        poster.post({"channel": user_id, "text": text})
    except PostError as exc:
        log.warning("could not tell %s that %s is paused: %s", user_id, channel_id, exc)
        return False
    return True


def pause_channel(engine: Engine, poster: Poster, *, channel_id: str, code: str) -> str:
    """Pause the channel Slack refused with `code`, telling whoever set it up (the first time);
    the pause in one line."""
    token = poster.fingerprint if code in AUTH_CODES else None
    with session_scope(engine) as session:
        new = pauses.pause_channel(
            session, channel_id=channel_id, code=code, token=token, at=datetime.now(UTC)
        )
        user = pauses.set_up_by(session, channel_id=channel_id)
    line = describe(channel_id, code)
    log.info("%s", line)  # the caller reports it (run_due_digests logs failed digests)
    if new and user:
        notify_setter(poster, user_id=user, channel_id=channel_id, code=code)
    return line


def resume(session: Session, *, channel_id: str, now: datetime) -> bool:
    """Resume a paused channel (its recent undelivered runs are retried); True when paused."""
    if not pauses.resume_channel(session, channel_id=channel_id):
        return False
    requeue_undelivered(session, channel_id=channel_id, now=now)
    log.info("digests to %s resumed", channel_id)
    return True


def resume_for_token(session: Session, *, token: str | None, now: datetime) -> list[str]:
    """Channels paused because Slack refused another token resume under `token` (a hash)."""
    resumed = pauses.resume_other_tokens(session, codes=AUTH_CODES, token=token)
    for channel_id in resumed:
        requeue_undelivered(session, channel_id=channel_id, now=now)
        log.info("digests to %s resumed: the bot token changed", channel_id)
    return resumed


def pause_info(channel: Channel) -> dict[str, str] | None:
    """The channel's pause as JSON-friendly facts (None when it is not paused)."""
    if channel.paused_at is None or channel.pause_code is None:
        return None
    return {
        "code": channel.pause_code,
        "since": channel.paused_at.astimezone(UTC).isoformat(),
        "hint": hint(channel.pause_code),
        "resume": RESUME_HINT.format(channel=channel.channel_id),
    }
