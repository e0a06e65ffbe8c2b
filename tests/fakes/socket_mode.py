"""A fake Slack Socket Mode endpoint: a real WebSocket server (the `websockets` library) that
speaks Socket Mode's protocol to slack_sdk's client, as wss-primary.slack.com does.

    with FakeSocketMode() as socket_mode:
        slack_fake.socket_mode = socket_mode   # apps.connections.open now hands out its URLs
        ... start the app with SLACK_APP_TOKEN=xapp-... and SLACK_API_URL=slack_fake.url ...
        socket_mode.wait_connected()           # the app opened a connection and got `hello`
        sent = socket_mode.send("slash_commands", {"command": "/papers", ...})
        ack = socket_mode.wait_ack(sent)       # what the app sent back, and when

The protocol (docs.slack.dev "Using Socket Mode"; slack_sdk.socket_mode):
- The app calls the Web API's `apps.connections.open` with its app-level token (`xapp-`) and
  gets a one-time `wss://` URL (here `ws://127.0.0.1:PORT/link/?ticket=...`): `new_url()`.
- On connect the server sends `{"type": "hello", "num_connections", "debug_info",
  "connection_info"}`.
- Each request is an envelope `{"envelope_id", "type": "slash_commands" | "events_api" |
  "interactive", "payload", "accepts_response_payload"}` (events add `retry_attempt` and
  `retry_reason`); the app acks with `{"envelope_id", "payload"?}`.
- `{"type": "disconnect", "reason": "refresh_requested" | "warning" | "link_disabled"}` asks
  the app to open a new connection; Slack closes the old one a few seconds later.

A URL works once, as Slack's tickets do: a connection with an unknown or used ticket is refused
with HTTP 403 before the handshake completes.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

ENVELOPE_TYPES = ("slash_commands", "events_api", "interactive")


@dataclass
class Connection:
    """One WebSocket connection the app opened."""

    ticket: str
    opened: float  # time.monotonic()
    websocket: ServerConnection
    closed: float | None = None
    close_code: int | None = None  # what the app sent in its close frame, if anything

    @property
    def open(self) -> bool:
        return self.closed is None


@dataclass
class Envelope:
    """A request sent to the app."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    sent: float  # time.monotonic()
    connection: int  # index in FakeSocketMode.connections


@dataclass
class Ack:
    """What the app sent back for an envelope."""

    envelope_id: str
    at: float  # time.monotonic()
    payload: dict[str, Any] | None
    connection: int


@dataclass
class _State:
    tickets: dict[str, bool] = field(default_factory=dict)  # ticket -> used
    connections: list[Connection] = field(default_factory=list)
    envelopes: dict[str, Envelope] = field(default_factory=dict)
    acks: dict[str, list[Ack]] = field(default_factory=dict)
    other_messages: list[Any] = field(default_factory=list)  # anything that is not an ack


class FakeSocketMode:
    def __init__(self, *, app_id: str = "A0PAPERBOY", close_timeout: float = 2.0) -> None:
        self.app_id = app_id
        self.close_timeout = close_timeout
        self._state = _State()
        self._changed = threading.Condition()
        self._ids = itertools.count(1)
        self._server: Server | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._check_ticket,
            compression=None,  # slack_sdk's built-in client speaks plain frames only
            close_timeout=self.close_timeout,
        )
        name = f"fake-{type(self).__name__}"
        threading.Thread(target=self._server.serve_forever, daemon=True, name=name).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "FakeSocketMode not started"
        return int(self._server.socket.getsockname()[1])

    def new_url(self) -> str:
        """A one-time connection URL, as `apps.connections.open` answers (tests/fakes/
        slack_methods.py calls this)."""
        ticket = uuid.uuid4().hex
        with self._changed:
            self._state.tickets[ticket] = False
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    # --- inspection ---------------------------------------------------------------------------

    @property
    def connections(self) -> list[Connection]:
        with self._changed:
            return list(self._state.connections)

    @property
    def urls_issued(self) -> int:
        with self._changed:
            return len(self._state.tickets)

    def acks(self, envelope: Envelope | str) -> list[Ack]:
        """Every ack the app sent for an envelope (more than one would be a bug)."""
        envelope_id = envelope if isinstance(envelope, str) else envelope.envelope_id
        with self._changed:
            return list(self._state.acks.get(envelope_id, []))

    @property
    def other_messages(self) -> list[Any]:
        """Messages from the app that were not acks of an envelope we sent."""
        with self._changed:
            return list(self._state.other_messages)

    def wait_connected(self, count: int = 1, timeout: float = 30.0) -> Connection:
        """Wait until the app has opened `count` connections in all and the newest is open."""
        with self._changed:
            ok = self._changed.wait_for(
                lambda: len(self._state.connections) >= count and self._state.connections[-1].open,
                timeout,
            )
            assert ok, f"no connection #{count} after {timeout}s ({self._state.connections})"
            return self._state.connections[-1]

    def wait_closed(self, connection: Connection, timeout: float = 15.0) -> None:
        with self._changed:
            ok = self._changed.wait_for(lambda: not connection.open, timeout)
            assert ok, f"connection still open after {timeout}s"

    def wait_ack(self, envelope: Envelope, timeout: float = 10.0) -> Ack | None:
        """The app's first ack of `envelope`, or None when none came within `timeout`."""
        with self._changed:
            self._changed.wait_for(lambda: envelope.envelope_id in self._state.acks, timeout)
            acks = self._state.acks.get(envelope.envelope_id)
            return acks[0] if acks else None

    # --- what Slack sends ---------------------------------------------------------------------

    def send(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
    ) -> Envelope:
        """Send one envelope on the newest open connection (AssertionError when none is)."""
        assert type in ENVELOPE_TYPES, type
        index, connection = self._current()
        envelope_id = f"{uuid.uuid4()}"
        if accepts_response_payload is None:
            # Slash commands may answer in the ack (so may view submissions: pass True).
            accepts_response_payload = type == "slash_commands"
        message: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": type,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api":
            message |= {"retry_attempt": retry_attempt, "retry_reason": ""}
        envelope = Envelope(envelope_id, type, payload, time.monotonic(), index)
        with self._changed:
            self._state.envelopes[envelope_id] = envelope
        connection.websocket.send(json.dumps(message))
        return envelope

    def disconnect(
        self, reason: str = "refresh_requested", *, close_after: float | None = None
    ) -> Connection:
        """Send `disconnect` on the newest open connection; close it ourselves `close_after`
        seconds later (as Slack does), or leave the closing to the app (None)."""
        _, connection = self._current()
        message = {
            "type": "disconnect",
            "reason": reason,
            "debug_info": {"host": "applink-fake"},
        }
        connection.websocket.send(json.dumps(message))
        if close_after is not None:
            timer = threading.Timer(close_after, self._close, args=(connection,))
            timer.daemon = True
            timer.start()
        return connection

    def drop(self, *, abrupt: bool = False) -> Connection:
        """Close the newest open connection from the server side: a close frame (going away),
        or, `abrupt`, the TCP connection cut with no close frame (a load balancer's restart)."""
        _, connection = self._current()
        if abrupt:
            # shutdown, not close: it also wakes our own thread blocked reading the socket.
            connection.websocket.socket.shutdown(socket.SHUT_RDWR)
        else:
            # In a thread: close() waits up to close_timeout for the client's close frame.
            threading.Thread(target=self._close, args=(connection,), daemon=True).start()
        return connection

    # --- server side --------------------------------------------------------------------------

    def _current(self) -> tuple[int, Connection]:
        with self._changed:
            for index in range(len(self._state.connections) - 1, -1, -1):
                if self._state.connections[index].open:
                    return index, self._state.connections[index]
        raise AssertionError("the app has no open Socket Mode connection")

    def _close(self, connection: Connection) -> None:
        connection.websocket.close(1001, "going away")

    def _check_ticket(self, websocket: ServerConnection, request: Request) -> Response | None:
        ticket = parse_qs(urlsplit(request.path).query).get("ticket", [""])[0]
        with self._changed:
            if self._state.tickets.get(ticket) is not False:
                return websocket.respond(403, "invalid or used ticket\n")
            self._state.tickets[ticket] = True
        return None

    def _handle(self, websocket: ServerConnection) -> None:
        ticket = parse_qs(urlsplit(websocket.request.path).query)["ticket"][0]  # type: ignore[union-attr]
        connection = Connection(ticket, time.monotonic(), websocket)
        with self._changed:
            count = 1 + sum(c.open for c in self._state.connections)
        hello = {
            "type": "hello",
            "num_connections": count,
            "debug_info": {
                "host": "applink-fake",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }
        try:
            websocket.send(json.dumps(hello))
            with self._changed:  # only now can the test send on it
                self._state.connections.append(connection)
                index = len(self._state.connections) - 1
                self._changed.notify_all()
            for raw in websocket:
                self._received(raw, index)
        except ConnectionClosed:
            pass
        except OSError:  # drop(abrupt=True) closed the socket under us
            pass
        finally:
            with self._changed:
                if connection not in self._state.connections:
                    self._state.connections.append(connection)
                connection.closed = time.monotonic()
                if websocket.protocol.close_rcvd is not None:
                    connection.close_code = websocket.protocol.close_rcvd.code
                self._changed.notify_all()

    def _received(self, raw: str | bytes, index: int) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            message = raw
        with self._changed:
            envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
            if envelope_id in self._state.envelopes:
                ack = Ack(envelope_id, time.monotonic(), message.get("payload"), index)
                self._state.acks.setdefault(envelope_id, []).append(ack)
            else:
                self._state.other_messages.append(message)
            self._changed.notify_all()
