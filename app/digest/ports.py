"""What a digest needs from the chat service, as a small protocol: post a message, read back
the channel's history. app/slack/poster.py `SlackPoster` implements it over the Web API; the
digest package never imports Slack's SDK, so it can be tested and reasoned about on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class PostError(Exception):
    """A message was not posted. `code` is the service's error code (e.g. `channel_not_found`)
    or the network error's name; `permanent` means the same request would fail again."""

    def __init__(self, message: str, *, code: str, permanent: bool) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent


@dataclass(frozen=True)
class Posted:
    ts: str
    channel: str


class Poster(Protocol):
    @property
    def fingerprint(self) -> str | None:
        """A short hash of the credential posts are made with (never the credential itself):
        a channel paused because Slack refused one token resumes under another."""
        ...

    def post(self, payload: Mapping[str, Any]) -> Posted:
        """Post one message (`chat.postMessage` arguments); raises PostError."""
        ...

    def history(
        self, *, channel: str, oldest: str, cursor: str | None, limit: int
    ) -> Mapping[str, Any]:
        """One page of the channel's messages since `oldest`, with their metadata."""
        ...

    def replies(
        self, *, channel: str, ts: str, cursor: str | None, limit: int
    ) -> Mapping[str, Any]:
        """One page of a thread's messages, with their metadata."""
        ...
