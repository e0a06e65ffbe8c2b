"""Events are not lost while PostgreSQL is down (issue 10, finding 6): an event that cannot be
recorded is not acked, so Slack redelivers it; once the database is back the redelivery is
answered, and on Slack's last try the person who asked is told to try again. Over real HTTP,
signed like Slack, against an engine whose server can be "stopped" (its connections then go to
a port where nothing listens)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from slack_cmd_support import (
    CHANNEL,
    add_papers,
    all_text,
    message_event,
    post_paper,
    record,
    thread_posts,
    wait_for,
)
from slack_helpers import running_slack_app
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app.slack.listeners.outage import TRY_AGAIN


class StoppableDatabase:
    """Connections to the test database while `up`, else to 127.0.0.1:9 (refused)."""

    def __init__(self, url: str) -> None:
        self.up = True
        # The same server as a libpq URI (the embedded one listens on a socket directory).
        live = make_url(url).set(drivername="postgresql")
        self._live = live.render_as_string(hide_password=False)

    def connect(self) -> psycopg.Connection[Any]:
        if self.up:
            return psycopg.connect(self._live)
        return psycopg.connect(host="127.0.0.1", port=9, user="x", dbname="x", connect_timeout=2)


@pytest.fixture
def database(db_url: str) -> StoppableDatabase:
    return StoppableDatabase(db_url)


@pytest.fixture
def stoppable_engine(db_url: str, database: StoppableDatabase) -> Any:
    eng = create_engine(db_url, creator=database.connect, poolclass=NullPool)
    yield eng
    eng.dispose()


@pytest.fixture
def app_server(settings, slack_fake, engine: Engine, stoppable_engine: Engine):
    add_papers(engine, record("2401.00002", "Agents that browse the web"))
    with running_slack_app(settings, slack_fake, engine=stoppable_engine) as server:
        yield server


def _ask(server: Any, engine: Engine, text: str) -> tuple[str, dict[str, Any]]:
    post_ts = post_paper(server.slack, engine, "2401.00002")
    said = server.slack.add_message(CHANNEL, text, thread_ts=post_ts)
    return post_ts, message_event(text, ts=said["ts"], thread_ts=post_ts)


class TestDatabaseOutage:
    def test_an_event_is_not_acked_while_down_and_its_redelivery_is_answered(
        self, app_server, engine, database
    ):
        post_ts, event = _ask(app_server, engine, "summarize this")

        database.up = False
        first = app_server.event(event, event_id="Ev0UTAGE1")
        database.up = True
        again = app_server.event(event, event_id="Ev0UTAGE1", retry_num=1)

        assert first.status_code >= 500  # Slack will deliver it again
        assert again.status_code == 200
        summary = wait_for(
            lambda: next(
                (m for m in thread_posts(app_server.slack, post_ts) if "In depth" in m["text"]),
                None,
            ),
            what="the deep summary",
        )
        assert "Agents that browse the web" in all_text(summary)

    def test_on_slacks_last_try_the_asker_is_told_to_try_again(self, app_server, engine, database):
        post_ts, event = _ask(app_server, engine, "<@UPAPERBOY> summarize this")

        database.up = False
        last = app_server.event(event, event_id="Ev0UTAGE2", retry_num=3)

        assert last.status_code == 200  # acked: Slack would not try a fourth time anyway
        (told,) = wait_for(lambda: thread_posts(app_server.slack, post_ts), what="a reply")
        assert told["text"] == TRY_AGAIN

    def test_a_mention_delivered_twice_is_told_once(self, app_server, engine, database):
        text = "<@UPAPERBOY> summarize this"
        post_ts, event = _ask(app_server, engine, text)
        mention = {**event, "type": "app_mention"}

        database.up = False
        app_server.event(event, event_id="Ev0UTAGE4", retry_num=3)
        app_server.event(mention, event_id="Ev0UTAGE5", retry_num=3)
        database.up = True
        app_server.wait_idle()

        assert [m["text"] for m in thread_posts(app_server.slack, post_ts)] == [TRY_AGAIN]

    def test_chatter_during_an_outage_is_left_alone(self, app_server, engine, database):
        post_ts, event = _ask(app_server, engine, "nice one")

        database.up = False
        last = app_server.event(event, event_id="Ev0UTAGE3", retry_num=3)
        database.up = True
        app_server.wait_idle()

        assert last.status_code == 200
        assert thread_posts(app_server.slack, post_ts) == []


class TestChatterDuringAnOutage:
    def test_chatter_paperboy_ignores_is_acked_without_asking_for_a_redelivery(
        self, app_server, engine, database
    ):
        said = app_server.slack.add_message(CHANNEL, "lunch anyone?")
        event = message_event("lunch anyone?", ts=said["ts"])
        database.up = False
        response = app_server.event(event, event_id="Ev0CHATTER")
        database.up = True
        assert response.status_code == 200
