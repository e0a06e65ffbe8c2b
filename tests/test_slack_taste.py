"""The "More like this" button over real, signed HTTP: a private acknowledgement, and the
channel's next digest puts papers like it first; the settings form turns recommendations off."""

from __future__ import annotations

from typing import Any

from deps import embedder
from slack_cmd_support import CHANNEL, USER, post_paper, record, wait_for
from slack_helpers import API_APP_ID, TEAM_ID
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.db.engine import session_scope
from app.db.models import Channel, TasteNudge
from app.digest import run_digest
from app.digest.taste import TasteDeps
from app.ingest import store_records
from app.slack import modals
from app.slack.poster import SlackPoster, make_web_client
from app.topics import follow

CODE_ABSTRACT = (
    "We generate source code from specifications, synthesize programs, complete functions in "
    "software repositories and fix compiler errors."
)
PROTEIN, CODE, LIKED = "2601.00001", "2601.00002", "2501.10001"


def _library(engine: Engine) -> None:
    protein = "Predicting protein structure, amino acid sequences and molecular biology."
    with session_scope(engine) as session:
        store_records(
            session,
            records=[
                record(PROTEIN, "Language models for protein folding", protein),
                record(CODE, "Language models for program synthesis", CODE_ABSTRACT),
                record(LIKED, "Neural code completion for engineers", CODE_ABSTRACT, age_days=60),
            ],
            embedder=embedder(),
        )
        follow(session, channel_id=CHANNEL, topic_name="language models")


def _next_digest(server: Any, engine: Engine) -> list[str]:
    poster = SlackPoster(make_web_client(server.settings))
    result = run_digest(
        server.settings, engine, poster, channel_id=CHANNEL, dry_run=True,
        taste=TasteDeps(embedder()),
    )  # fmt: skip
    return result.paper_ids


def test_more_like_this_is_acknowledged_privately_and_reorders_the_next_digest(
    slack_app_server: Any, engine: Engine
) -> None:
    _library(engine)
    assert _next_digest(slack_app_server, engine) == [PROTEIN, CODE]  # a tie, by arXiv id
    ts = post_paper(slack_app_server.slack, engine, LIKED)
    message = {"type": "message", "ts": ts, "text": f"Paper {LIKED}"}
    sent = slack_app_server.action("paper_more_like_this", value=LIKED, message=message)
    assert sent.status_code == 200
    reply = wait_for(lambda: sent.replies(), what="the acknowledgement")[0]
    assert reply["text"] == f"Noted — more like this in <#{CHANNEL}>'s digests."
    assert reply["response_type"] == "ephemeral"
    with Session(engine) as session:
        assert session.query(TasteNudge).count() == 1
    assert _next_digest(slack_app_server, engine) == [CODE, PROTEIN]


def test_more_like_this_on_an_unknown_paper_stores_nothing(
    slack_app_server: Any, engine: Engine
) -> None:
    sent = slack_app_server.action("paper_more_like_this", value="2601.99999")
    reply = wait_for(lambda: sent.replies(), what="the answer")[0]
    assert reply["text"] == "I don't know that paper any more."
    with Session(engine) as session:
        assert session.query(TasteNudge).count() == 0


def test_the_settings_form_turns_recommendations_off(slack_app_server: Any, engine: Engine) -> None:
    view = modals.settings_view(
        channel_id=CHANNEL, topics=["agents"], cron="0 9 * * *", timezone="UTC", max_papers=8,
        quiet_day_notice=False, style="messages", recommendations=True,
    )  # fmt: skip
    recommend = next(b for b in view["blocks"] if b["block_id"] == "recommendations")
    assert recommend["element"]["initial_options"]  # on by default
    values = {
        "topics": {"value": {"type": "plain_text_input", "value": "agents"}},
        "cron": {"value": {"type": "plain_text_input", "value": "0 9 * * *"}},
        "timezone": {"value": {"type": "plain_text_input", "value": "UTC"}},
        "max_papers": {"value": {"type": "number_input", "value": "8"}},
        "style": {"value": {"type": "radio_buttons", "selected_option": {"value": "messages"}}},
        "recommendations": {"value": {"type": "checkboxes", "selected_options": []}},
    }
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": {"id": USER, "username": "alice", "name": "alice", "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": "legacy-verification-token",
        "trigger_id": "1.2.trig",
        "view": {**view, "id": "V0SETTINGS", "state": {"values": values}},
    }
    assert slack_app_server.payload(payload).response.status_code == 200

    def stored() -> bool | None:
        with Session(engine) as session:
            channel = session.get(Channel, CHANNEL)
            return None if channel is None else channel.recommendations

    assert wait_for(lambda: stored() is False, what="recommendations off")
