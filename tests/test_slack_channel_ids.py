"""The channel ids that reach the database from Slack, checked with the CLI's parser: signed
`/papers` requests and a settings modal whose private_metadata came back altered."""

from __future__ import annotations

import json

import pytest
from slack_cmd_support import ack_text, command_replies
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_slack_actions import _settings_modal, _settings_values, _view_submission

from app.db import channels as channels_db
from app.db.models import Channel


@pytest.mark.parametrize("bad", ["general", "C123", "<#C0123456789|general>x", "c0papers01"])
def test_a_command_from_a_channel_id_that_is_not_one_is_refused(slack_app_server, engine, bad):
    sent = slack_app_server.command("follow agents", channel_id=bad)
    assert "bottom of the About tab" in ack_text(sent)
    slack_app_server.wait_idle()
    with Session(engine) as session:
        assert session.scalars(select(Channel)).all() == []


def test_a_private_channel_id_is_accepted(slack_app_server, engine):
    private = "G0PRIVATE01"
    reply = command_replies(slack_app_server.command("follow agents", channel_id=private))[0]
    assert "now follows *agents*" in reply["text"]
    with Session(engine) as session:
        assert [t.name for t in channels_db.channel_topics(session, channel_id=private)] == [
            "agents"
        ]


def test_a_settings_form_with_an_altered_channel_is_refused(slack_app_server, engine):
    view = _settings_modal([])
    view["private_metadata"] = json.dumps({"channel_id": "'; drop table channels"})
    answer = _view_submission(slack_app_server, view, _settings_values("agents", "0 9 * * *",
                                                                       "UTC", "5"))  # fmt: skip
    assert answer["response_action"] == "errors"
    assert "open `/papers settings` again" in answer["errors"]["topics"]
    with Session(engine) as session:
        assert session.scalars(select(Channel)).all() == []
