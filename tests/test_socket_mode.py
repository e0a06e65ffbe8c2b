"""Socket Mode, end to end: the app runs as `paperboy serve` runs it with SLACK_APP_TOKEN set
(app/runtime.py `serve`, Bolt's SocketModeHandler on slack_sdk's built-in client), opens its
connection through the fake Web API's `apps.connections.open`, and talks Socket Mode's protocol
to a real WebSocket server (tests/fakes/socket_mode.py): envelopes in, acks out, answers at the
response_url or in the channel, and a new connection whenever Slack drops or refreshes one."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fakes.socket_mode import Envelope, FakeSocketMode
from pydantic import SecretStr
from slack_cmd_support import (
    CHANNEL,
    add_search_papers,
    all_text,
    message_event,
    post_paper,
    thread_posts,
    wait_for,
)
from slack_helpers import action_payload, app_settings, command_body, event_body

from app.runtime import Runtime, serve

APP_TOKEN = "xapp-1-A0PAPERBOY-1234-abcdef"
ACK_DEADLINE_S = 3.0  # Slack shows the user an error when an envelope is not acked in 3 s
# SocketModeHandler checks its connection every ping_interval (10 s) and reconnects when it is
# gone; a close frame alone does not trigger a reconnect in slack_sdk's built-in client.
RECONNECT_S = 30.0


@dataclass
class SocketModeApp:
    """The app serving in Socket Mode against the fakes."""

    socket_mode: FakeSocketMode
    slack: Any  # tests/fakes/slack_api.FakeSlack

    def command(self, text: str) -> Envelope:
        """`/papers <text>` as a slash_commands envelope, with a recording response_url."""
        form = dict(parse_qsl(command_body(text, response_url=self.slack.response_url())))
        return self.socket_mode.send("slash_commands", form)

    def acked(self, envelope: Envelope) -> dict[str, Any]:
        """The app's ack (its payload, {} when none), asserted to arrive once and within 3 s."""
        ack = self.socket_mode.wait_ack(envelope, timeout=ACK_DEADLINE_S + 2)
        assert ack is not None, f"{envelope.type} envelope never acked"
        assert ack.at - envelope.sent < ACK_DEADLINE_S
        assert len(self.socket_mode.acks(envelope)) == 1
        return ack.payload or {}

    def replies(self, envelope: Envelope, count: int = 1) -> list[dict[str, Any]]:
        """What the app POSTed to the envelope's response_url, once there are `count`."""
        url = envelope.payload["response_url"]
        return wait_for(
            lambda: (r := self.slack.responses(url)) and len(r) >= count and r,
            what=f"{count} answer(s) at the response_url",
        )


@pytest.fixture
def socket_mode(slack_fake) -> Iterator[FakeSocketMode]:
    with FakeSocketMode() as fake:
        slack_fake.socket_mode = fake
        yield fake


@pytest.fixture
def socket_app(settings, engine, slack_fake, socket_mode) -> Iterator[SocketModeApp]:
    """`serve` (no scheduler, no worker) in a thread with only the app-level token and no signing
    secret, as a Socket Mode install is configured; stopped like SIGTERM stops it."""
    cfg = app_settings(
        settings, slack_fake, slack_signing_secret=None, slack_app_token=SecretStr(APP_TOKEN)
    )
    stop = threading.Event()
    failed: list[BaseException] = []

    def run() -> None:
        try:
            serve(Runtime(cfg), stop=stop, scheduler=False, worker=False, host="127.0.0.1")
        except BaseException as exc:  # noqa: BLE001 - reported by the fixture, not lost in a thread
            failed.append(exc)

    switch_interval = sys.getswitchinterval()  # serve tunes the process for serving
    thread = threading.Thread(target=run, name="serve", daemon=True)
    thread.start()
    try:
        wait_for(lambda: socket_mode.connections or failed, timeout=30, what="a connection")
        assert not failed, failed
        yield SocketModeApp(socket_mode, slack_fake)
    finally:
        stop.set()
        thread.join(30)
        sys.setswitchinterval(switch_interval)
        gc.unfreeze()
    assert not thread.is_alive(), "serve did not stop"
    assert not failed, failed


class TestConnection:
    def test_connects_with_the_app_level_token_and_gets_hello(self, socket_app, slack_fake):
        opened = slack_fake.calls_to("apps.connections.open")
        assert [call.token for call in opened] == [APP_TOKEN]
        assert opened[0].ok
        connection = socket_app.socket_mode.wait_connected()
        assert connection.open
        # After hello the app is live: it answers a request on that connection.
        assert "/papers follow" in socket_app.acked(socket_app.command("help"))["text"]
        assert socket_app.socket_mode.other_messages == []

    def test_the_bot_token_cannot_open_a_connection(self, slack_fake, socket_mode):
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError

        client = WebClient(token="xoxb-test-token", base_url=slack_fake.url)
        with pytest.raises(SlackApiError, match="not_allowed_token_type"):
            client.apps_connections_open(app_token="xoxb-test-token")
        assert socket_mode.urls_issued == 0


class TestEnvelopes:
    def test_slash_command_is_acked_in_3s_and_answered_at_its_response_url(
        self, socket_app, engine
    ):
        add_search_papers(engine)
        sent = socket_app.command("topic LLM+search")
        socket_app.acked(sent)
        reply = socket_app.replies(sent)[0]
        assert "Large language model agents that search the web" in all_text(reply)
        assert reply["response_type"] == "ephemeral"

    def test_help_is_answered_in_the_ack_payload(self, socket_app):
        ack = socket_app.acked(socket_app.command("help"))
        assert "/papers follow" in ack["text"]

    def test_summarize_this_in_a_thread_is_answered_in_the_thread(
        self, socket_app, slack_fake, engine
    ):
        add_search_papers(engine)
        post_ts = post_paper(slack_fake, engine, "2401.00002")
        reply = slack_fake.add_message(CHANNEL, "summarize this", thread_ts=post_ts)
        event = message_event("summarize this", ts=reply["ts"], thread_ts=post_ts)
        sent = socket_app.socket_mode.send("events_api", event_body(event))
        assert socket_app.acked(sent) == {}
        summary = wait_for(
            lambda: thread_posts(slack_fake, post_ts), what="the summary in the thread"
        )[0]
        assert summary["text"].startswith("In depth: Large language model agents")

    def test_a_button_click_is_acked_and_answered(self, socket_app, slack_fake, engine):
        add_search_papers(engine)
        ts = post_paper(slack_fake, engine, "2401.00001")
        payload = action_payload(
            "paper_save",
            value="2401.00001",
            message={"type": "message", "ts": ts, "text": "Paper 2401.00001"},
            response_url=slack_fake.response_url(),
        )
        sent = socket_app.socket_mode.send("interactive", payload)
        socket_app.acked(sent)
        assert "Saved arXiv:2401.00001" in socket_app.replies(sent)[0]["text"]


class TestReconnect:
    @pytest.mark.parametrize("abrupt", [False, True], ids=["close-frame", "connection-cut"])
    def test_after_slack_drops_the_connection_the_app_reconnects_and_keeps_working(
        self, socket_app, slack_fake, abrupt
    ):
        first = socket_app.socket_mode.wait_connected()
        socket_app.socket_mode.drop(abrupt=abrupt)
        socket_app.socket_mode.wait_closed(first)
        second = socket_app.socket_mode.wait_connected(2, timeout=RECONNECT_S)
        assert second is not first
        assert len(slack_fake.calls_to("apps.connections.open")) == 2
        assert "/papers follow" in socket_app.acked(socket_app.command("help"))["text"]

    def test_refresh_requested_moves_the_app_to_a_new_connection(self, socket_app, slack_fake):
        first = socket_app.socket_mode.wait_connected()
        socket_app.socket_mode.disconnect("refresh_requested")
        # The app opens the new connection first, then closes the old one itself.
        second = socket_app.socket_mode.wait_connected(2, timeout=10)
        socket_app.socket_mode.wait_closed(first)
        assert second is not first
        assert [c.token for c in slack_fake.calls_to("apps.connections.open")] == [APP_TOKEN] * 2
        sent = socket_app.command("help")
        assert sent.connection == 1
        assert "/papers follow" in socket_app.acked(sent)["text"]

    def test_an_envelope_sent_just_before_refresh_is_still_acked(self, socket_app):
        sent = socket_app.command("help")
        socket_app.socket_mode.disconnect("refresh_requested", close_after=5)
        assert "/papers follow" in socket_app.acked(sent)["text"]
        socket_app.socket_mode.wait_connected(2, timeout=10)
