"""The Slack Web API methods the fake answers (mixed into FakeSlack, tests/fakes/slack_api.py).

Each `_m_<method>` takes the call's arguments (form, query and JSON merged) and returns the JSON
answer, as Slack shapes it. They run with the fake's lock held.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any


def _err(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


def _flag(value: Any) -> bool:
    # slack_sdk sends booleans in query strings as "1"/"0" (or "true"/"false").
    return str(value).lower() in ("1", "true")


def _shown(messages: list[dict[str, Any]], args: dict[str, Any]) -> list[dict[str, Any]]:
    """Messages as conversations.history/replies return them: `metadata` only when asked for
    with include_all_metadata."""
    if _flag(args.get("include_all_metadata")):
        return [dict(m) for m in messages]
    return [{k: v for k, v in m.items() if k != "metadata"} for m in messages]


def _maybe_json(value: Any) -> Any:
    # Form-encoded calls carry blocks/views as JSON strings.
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class SlackMethods:
    """Stored state plus the Web API methods; FakeSlack adds the server and the scripting."""

    bot_user_id: str
    bot_id: str
    team_id: str
    messages: dict[str, list[dict[str, Any]]]
    ephemerals: list[dict[str, Any]]
    views: dict[str, dict[str, Any]]
    users: dict[str, dict[str, Any]]
    channels: dict[str, dict[str, Any]]
    socket_mode: Any  # tests/fakes/socket_mode.FakeSocketMode or None
    _lock: threading.RLock
    _ids: Iterator[int]
    # FakeSlack provides _next_ts() and _check_view().

    # --- state a test sets up -----------------------------------------------------------------

    def add_user(self, user_id: str, name: str = "", **extra: Any) -> dict[str, Any]:
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name or user_id.lower(),
            "real_name": name or user_id,
            "is_bot": False,
            "deleted": False,
            "tz": "UTC",
            "profile": {"real_name": name or user_id, "display_name": name or user_id},
            **extra,
        }
        with self._lock:
            self.users[user_id] = user
        return user

    def add_channel(self, channel_id: str, name: str = "", **extra: Any) -> dict[str, Any]:
        channel = {
            "id": channel_id,
            "name": name or channel_id.lower(),
            "is_channel": True,
            "is_private": False,
            "is_member": True,
            "is_archived": False,
            **extra,
        }
        with self._lock:
            self.channels[channel_id] = channel
        return channel

    def add_message(
        self,
        channel: str,
        text: str = "",
        *,
        user: str | None = "UHUMAN",
        thread_ts: str | None = None,
        ts: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Put a message in a channel as if someone had posted it (for conversations.replies)."""
        with self._lock:
            message = {"type": "message", "text": text, "ts": ts or self._next_ts(), **extra}
            if user is not None:
                message["user"] = user
            if thread_ts:
                message["thread_ts"] = thread_ts
            self.messages.setdefault(channel, []).append(message)
        return message

    # --- Web API methods ----------------------------------------------------------------------

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.com/",
            "team": "Fake Team",
            "user": "paperboy",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        # A one-time Socket Mode URL; the app-level token was checked by the dispatcher.
        if self.socket_mode is None:
            return _err("socket_mode_not_enabled")  # no FakeSocketMode attached to this fake
        return {"ok": True, "url": self.socket_mode.new_url()}

    def _stored(self, args: dict[str, Any], text_key: str = "text") -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "text": args.get(text_key) or "",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "team": self.team_id,
        }
        blocks = _maybe_json(args.get("blocks"))
        if blocks:
            message["blocks"] = blocks
        if args.get("metadata"):
            message["metadata"] = _maybe_json(args["metadata"])
        return message

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            return _err("channel_not_found")
        message = self._stored(args) | {"ts": self._next_ts()}
        if args.get("thread_ts"):
            message["thread_ts"] = str(args["thread_ts"])
            parent = self._find(channel, str(args["thread_ts"]))
            if parent is not None:
                parent["thread_ts"] = parent["ts"]
                parent["reply_count"] = parent.get("reply_count", 0) + 1
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": dict(message)}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        self.ephemerals.append(self._stored(args) | {"channel": args.get("channel"), "ts": ts,
                                                      "to_user": args.get("user")})  # fmt: skip
        return {"ok": True, "message_ts": ts}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel")), str(args.get("ts"))
        message = self._find(channel, ts)
        if message is None:
            return _err("message_not_found")
        message.update(self._stored(args) | {"ts": ts, "edited": {"user": self.bot_user_id}})
        return {"ok": True, "channel": channel, "ts": ts, "text": message["text"],
                "message": dict(message)}  # fmt: skip

    def _m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel")), str(args.get("message_ts"))
        link = f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        problem, view = self._check_view(args)
        if problem:
            return problem
        view_id = f"V{next(self._ids):08d}"
        stored = {**view, "id": view_id, "hash": f"h{view_id}", "team_id": self.team_id}
        self.views[view_id] = stored
        return {"ok": True, "view": stored}

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        problem, view = self._check_view(args)
        if problem:
            return problem
        view_id = args.get("view_id") or next(
            (k for k, v in self.views.items() if v.get("external_id") == args.get("external_id")),
            None,
        )
        if view_id not in self.views:
            return _err("not_found")
        self.views[view_id] = {**view, "id": view_id, "hash": f"h{view_id}"}
        return {"ok": True, "view": self.views[view_id]}

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        problem, view = self._check_view(args)
        if problem:
            return problem
        view_id = f"V{next(self._ids):08d}"
        self.views[view_id] = {**view, "id": view_id, "user_id": args.get("user_id")}
        return {"ok": True, "view": self.views[view_id]}

    def _m_reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._find(str(args.get("channel")), str(args.get("timestamp")))
        if message is None:
            return _err("message_not_found")
        name = str(args.get("name"))
        reactions = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["name"] == name:
                if self.bot_user_id in reaction["users"]:
                    return _err("already_reacted")
                reaction["users"].append(self.bot_user_id)
                reaction["count"] += 1
                return {"ok": True}
        reactions.append({"name": name, "users": [self.bot_user_id], "count": 1})
        return {"ok": True}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(args.get("channel"))
        channel = self.channels.get(channel_id) or self.add_channel(channel_id)
        return {"ok": True, "channel": channel}

    def _m_conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """Channels the bot can see (private ones only when it is a member), `limit` a page
        (default 100, at most 1000), paged by an opaque base64 `cursor` as Slack does."""
        types = str(args.get("types") or "public_channel").split(",")
        listed = [
            {"name_normalized": c["name"], "is_group": c["is_private"], **c}
            for c in self.channels.values()
            if ("private_channel" if c["is_private"] else "public_channel") in types
            and (c["is_member"] or not c["is_private"])
            and not (c["is_archived"] and _flag(args.get("exclude_archived")))
        ]
        cursor = str(args.get("cursor") or "")
        try:
            start = int(base64.b64decode(cursor).decode().removeprefix("offset:")) if cursor else 0
        except ValueError:
            return _err("invalid_cursor")
        limit = max(1, min(1000, int(args.get("limit") or 100)))
        more = start + limit < len(listed)
        next_cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode() if more else ""
        return {
            "ok": True,
            "channels": listed[start : start + limit],
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel")), str(args.get("ts"))
        parent = self._find(channel, ts)
        if parent is None:
            return _err("thread_not_found")
        root = str(parent.get("thread_ts") or parent["ts"])
        thread = [m for m in self.messages.get(channel, [])
                  if m["ts"] == root or m.get("thread_ts") == root]  # fmt: skip
        thread.sort(key=lambda m: float(m["ts"]))
        return {"ok": True, "messages": _shown(thread, args), "has_more": False}

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages (thread replies are left out, as Slack does), newest first,
        between `oldest` and `latest`, `limit` a page, paged by `cursor`."""
        channel = str(args.get("channel") or "")
        if channel not in self.messages and channel not in self.channels:
            return _err("channel_not_found")
        if self.channels.get(channel, {}).get("is_member") is False:
            return _err("not_in_channel")
        inclusive = _flag(args.get("inclusive"))
        oldest = float(args.get("oldest") or 0)
        latest = float(args.get("latest") or "inf")

        def inside(ts: float) -> bool:
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        top = [m for m in self.messages.get(channel, [])
               if m.get("thread_ts") in (None, m["ts"]) and inside(float(m["ts"]))]  # fmt: skip
        top.sort(key=lambda m: float(m["ts"]), reverse=True)
        start = int(args.get("cursor") or 0)
        limit = max(1, min(999, int(args.get("limit") or 100)))
        page = top[start : start + limit]
        more = start + limit < len(top)
        return {
            "ok": True,
            "messages": _shown(page, args),
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(args.get("user"))
        user = self.users.get(user_id) or self.add_user(user_id)
        return {"ok": True, "user": user}

    def _find(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)

    def _record_response(self, response_id: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._responses.setdefault(response_id, []).append(body)
