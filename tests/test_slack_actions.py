"""Buttons, modals and reactions over real HTTP: what each one changes and what the user sees,
including 👍/👎 changing the order of the channel's next digest."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from search_helpers import hf_sighting
from slack_cmd_support import (
    CHANNEL,
    NOW,
    USER,
    add_papers,
    all_text,
    feedback_rows,
    post_paper,
    record,
    thread_posts,
    wait_for,
)
from slack_helpers import API_APP_ID, TEAM_ID, action_payload
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import channels as channels_db
from app.db import interactions
from app.db.engine import session_scope
from app.db.models import Channel, ChannelTopic, Paper, SavedPaper, Topic
from app.digest import select_papers
from app.slack import modals


@pytest.fixture
def papers(engine):
    add_papers(
        engine,
        record("2401.00001", "Learned sparse retrieval", "We study sparse retrieval for search."),
        record("2401.00002", "Agents that browse the web"),
    )


def _replies(sent, count: int = 1) -> list[dict]:
    return wait_for(
        lambda: (r := sent.replies()) and len(r) >= count and r, what="a reply on the response_url"
    )


def _paper_message(slack, engine, arxiv_id: str) -> dict:
    ts = post_paper(slack, engine, arxiv_id)
    return {"type": "message", "ts": ts, "text": f"Paper {arxiv_id}"}


def _add_topic(engine, name: str) -> None:
    """The channel follows a topic (rows written directly: the test is about ranking)."""
    with session_scope(engine) as session:
        session.merge(Channel(channel_id=CHANNEL))
        topic = Topic(name=name, query=name)
        session.add(topic)
        session.flush()
        session.add(ChannelTopic(channel_id=CHANNEL, topic_id=topic.id))


def _settings_modal(topics: list[str]) -> dict:
    return modals.settings_view(
        channel_id=CHANNEL,
        topics=topics,
        cron="0 9 * * *",
        timezone="UTC",
        max_papers=8,
        quiet_day_notice=False,
        style="messages",
    )


def _settings_values(topics: str, cron: str, timezone: str, max_papers: str) -> dict:
    """What Slack sends back for the settings modal's fields (style: thread)."""
    return {
        "topics": {"value": {"type": "plain_text_input", "value": topics}},
        "cron": {"value": {"type": "plain_text_input", "value": cron}},
        "timezone": {"value": {"type": "plain_text_input", "value": timezone}},
        "max_papers": {"value": {"type": "number_input", "value": max_papers}},
        "style": {"value": {"type": "radio_buttons", "selected_option": {"value": "thread"}}},
    }


def _view_submission(server, view: dict, values: dict) -> dict:
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": {"id": USER, "username": "alice", "name": "alice", "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": "legacy-verification-token",
        "trigger_id": "1.2.trig",
        "view": {**view, "id": "V0SETTINGS", "state": {"values": values}},
    }
    response = server.payload(payload).response
    assert response.status_code == 200
    return response.json() if response.content else {}


class TestPaperButtons:
    def test_summarize_posts_the_deep_summary_in_the_papers_thread(
        self, slack_app_server, engine, papers
    ):
        message = _paper_message(slack_app_server.slack, engine, "2401.00002")
        sent = slack_app_server.action("paper_summarize", value="2401.00002", message=message)
        assert sent.status_code == 200
        summary = wait_for(
            lambda: thread_posts(slack_app_server.slack, message["ts"]),
            what="the summary in the thread",
        )[0]
        assert summary["text"].startswith("In depth: Agents that browse the web")

    def test_summarize_on_a_private_card_answers_privately(self, slack_app_server, papers):
        payload = action_payload(
            "paper_summarize",
            value="2401.00001",
            message={"type": "message", "ts": "1700000000.000900", "text": "card"},
            response_url=slack_app_server.slack.response_url(),
        )
        payload["container"]["is_ephemeral"] = True  # /papers search results, /papers paper
        sent = slack_app_server.payload(payload)
        assert sent.status_code == 200
        reply = _replies(sent)[0]
        assert reply["text"].startswith("In depth: Learned sparse retrieval")
        assert reply["response_type"] == "ephemeral"
        assert slack_app_server.slack.posted() == []

    def test_save_adds_to_the_users_saved_list_once(self, slack_app_server, engine, papers):
        message = _paper_message(slack_app_server.slack, engine, "2401.00001")
        first = _replies(slack_app_server.action("paper_save", value="2401.00001", message=message))
        assert "Saved arXiv:2401.00001" in first[0]["text"]
        assert first[0]["response_type"] == "ephemeral"
        again = _replies(slack_app_server.action("paper_save", value="2401.00001", message=message))
        assert "already in your saved papers" in again[0]["text"]
        with Session(engine) as session:
            rows = session.scalars(
                select(Paper.arxiv_id)
                .join(SavedPaper, SavedPaper.paper_id == Paper.id)
                .where(SavedPaper.user_id == USER)
            )
            assert list(rows) == ["2401.00001"]
        listed = _replies(slack_app_server.command("saved"))[0]
        assert "Learned sparse retrieval" in all_text(listed)

    def test_pdf_only_acknowledges(self, slack_app_server, engine, papers):
        message = _paper_message(slack_app_server.slack, engine, "2401.00001")
        sent = slack_app_server.action("paper_pdf", value="2401.00001", message=message)
        assert sent.status_code == 200
        slack_app_server.wait_idle()
        assert sent.replies() == [] and slack_app_server.slack.posted() == []

    def test_thumbs_buttons_store_feedback_for_the_channel(self, slack_app_server, engine, papers):
        message = _paper_message(slack_app_server.slack, engine, "2401.00001")
        up = _replies(slack_app_server.action("paper_vote_up", value="2401.00001", message=message))
        assert "more papers like this" in up[0]["text"]
        assert feedback_rows(engine) == [(CHANNEL, "2401.00001", USER, 1)]
        _replies(slack_app_server.action("paper_vote_down", value="2401.00001", message=message))
        assert feedback_rows(engine) == [(CHANNEL, "2401.00001", USER, -1)]

    def test_a_button_value_that_is_not_an_arxiv_id_is_ignored(self, slack_app_server):
        sent = slack_app_server.action("paper_save", value="https://evil.example.com/x")
        assert sent.status_code == 200
        slack_app_server.wait_idle()
        assert sent.replies() == []


class TestSearchButtons:
    def test_post_to_channel_shares_the_results_and_removes_the_private_copy(
        self, slack_app_server, papers
    ):
        sent = slack_app_server.action("search_post", value="retrieval")
        deleted = _replies(sent)
        assert deleted[0].get("delete_original") is True
        shared = wait_for(lambda: slack_app_server.slack.posted(CHANNEL), what="the shared post")
        shown = all_text(shared[0])
        assert "Learned sparse retrieval" in shown and f"Shared by <@{USER}>" in shown
        assert "search_post" not in json.dumps(shared[0].get("blocks"))  # no share button again

    def test_post_to_a_channel_paperboy_is_not_in(self, slack_app_server, papers):
        slack_app_server.slack.error_next("chat.postMessage", "not_in_channel")
        reply = _replies(slack_app_server.action("search_post", value="retrieval"))[0]
        assert "/invite @Paperboy" in reply["text"]

    def test_follow_this_topic_here(self, slack_app_server, engine, papers):
        reply = _replies(slack_app_server.action("search_follow", value="sparse  retrieval"))[0]
        assert "now follows *sparse retrieval*" in reply["text"]
        with Session(engine) as session:
            topics = channels_db.channel_topics(session, channel_id=CHANNEL)
            assert [t.name for t in topics] == ["sparse retrieval"]


class TestReactions:
    def _reaction(self, server, ts: str, name: str, *, added: bool = True, user: str = USER):
        event = {
            "type": "reaction_added" if added else "reaction_removed",
            "user": user,
            "reaction": name,
            "item": {"type": "message", "channel": CHANNEL, "ts": ts},
            "item_user": "UPAPERBOY",
            "event_ts": f"{NOW.timestamp():.6f}",
        }
        return server.event(event)

    @pytest.mark.parametrize(
        ("name", "value"), [("+1", 1), ("thumbsup::skin-tone-3", 1), ("-1", -1), ("thumbsdown", -1)]
    )
    def test_thumbs_on_a_paper_post_are_feedback(
        self, slack_app_server, engine, papers, name, value
    ):
        ts = post_paper(slack_app_server.slack, engine, "2401.00001")
        assert self._reaction(slack_app_server, ts, name).status_code == 200
        wait_for(lambda: feedback_rows(engine), what="feedback stored")
        assert feedback_rows(engine) == [(CHANNEL, "2401.00001", USER, value)]
        self._reaction(slack_app_server, ts, name, added=False)
        wait_for(lambda: not feedback_rows(engine), what="feedback cleared")

    def test_other_reactions_and_other_messages_are_ignored(self, slack_app_server, engine, papers):
        ts = post_paper(slack_app_server.slack, engine, "2401.00001")
        chatter = slack_app_server.slack.add_message(CHANNEL, "hello")
        self._reaction(slack_app_server, ts, "eyes")
        self._reaction(slack_app_server, chatter["ts"], "+1")
        slack_app_server.wait_idle()
        assert feedback_rows(engine) == []

    def test_reactions_change_the_order_of_the_next_digest(self, slack_app_server, engine):
        add_papers(
            engine,
            record("2401.10001", "Retrieval for question answering", "We study retrieval."),
            record("2401.10002", "Diffusion for image editing", "We study diffusion."),
            record(
                "2401.20001", "Retrieval with long contexts", "We study retrieval.", age_days=0.2
            ),
            diffusion := record(
                "2401.20002", "Diffusion with long contexts", "We study diffusion.", age_days=0.2
            ),
            hf_sighting(diffusion, upvotes=10),
        )
        _add_topic(engine, "retrieval")
        _add_topic(engine, "diffusion")
        voted_r = post_paper(slack_app_server.slack, engine, "2401.10001")
        voted_d = post_paper(slack_app_server.slack, engine, "2401.10002")

        def order() -> list[str]:
            with Session(engine) as session:
                channel = session.get(Channel, CHANNEL)
                picks = select_papers(session, channel=channel, since=NOW - timedelta(days=1))
                return [c.arxiv_id for c in picks]

        assert order() == ["2401.20002", "2401.20001"]  # the diffusion paper has upvotes
        for user in ("UALICE", "UBOB"):
            self._reaction(slack_app_server, voted_r, "+1", user=user)
            self._reaction(slack_app_server, voted_d, "-1", user=user)
        wait_for(lambda: len(feedback_rows(engine)) == 4, what="four votes stored")
        assert order() == ["2401.20001", "2401.20002"]


class TestModals:
    def test_settings_submission_updates_the_channel(self, slack_app_server, engine):
        with session_scope(engine) as session:
            channels_db.ensure_channel(session, channel_id=CHANNEL)
            session.add(Topic(name="old topic", query="old topic"))
            session.flush()
            topic = session.scalar(select(Topic).where(Topic.name == "old topic"))
            session.add(ChannelTopic(channel_id=CHANNEL, topic_id=topic.id))
        view = _settings_modal(["old topic"])
        values = _settings_values("agents\n\n", "0 8 * * 1-5", "Europe/Berlin", "5")
        values["quiet"] = {
            "value": {
                "type": "checkboxes",
                "selected_options": [
                    {"value": "quiet", "text": {"type": "plain_text", "text": "q"}}
                ],
            }
        }
        assert _view_submission(slack_app_server, view, values) == {}
        notes = wait_for(
            lambda: (
                (c := slack_app_server.slack.calls_to("chat.postEphemeral")) and len(c) >= 2 and c
            ),
            what="private confirmations",
        )
        texts = [n.args["text"] for n in notes]
        assert all(n.args["user"] == USER for n in notes)
        assert "No longer following: old topic" in texts[0]
        assert "now follows *agents*" in texts[1]
        with Session(engine) as session:
            channel = session.get(Channel, CHANNEL)
            assert (channel.cron, channel.timezone, channel.max_papers) == (
                "0 8 * * mon-fri",
                "Europe/Berlin",
                5,
            )
            assert channel.quiet_day_notice is True and channel.style == "thread"
            topics = channels_db.channel_topics(session, channel_id=CHANNEL)
            assert [t.name for t in topics] == ["agents"]

    def test_settings_errors_show_next_to_the_fields(self, slack_app_server, engine):
        view = _settings_modal([])
        values = _settings_values("", "99 9 * * 1-5", "Moon/Base", "500")
        answer = _view_submission(slack_app_server, view, values)
        assert answer["response_action"] == "errors"
        assert set(answer["errors"]) == {"cron", "timezone", "max_papers"}
        assert "isn't a time zone I know" in answer["errors"]["timezone"]
        with Session(engine) as session:
            assert session.get(Channel, CHANNEL) is None  # nothing stored

    def test_settings_refuse_a_schedule_more_often_than_hourly(self, slack_app_server, engine):
        view = _settings_modal([])
        values = _settings_values("agents", "*/15 9 * * 1-5", "UTC", "5")
        answer = _view_submission(slack_app_server, view, values)
        assert answer["response_action"] == "errors" and set(answer["errors"]) == {"cron"}
        assert "more than once an hour" in answer["errors"]["cron"]
        with Session(engine) as session:
            assert session.get(Channel, CHANNEL) is None  # nothing stored

    def test_edit_query_submission_changes_what_the_topic_searches(self, slack_app_server, engine):
        with session_scope(engine) as session:
            session.add(Topic(name="rag", query="rag", expanded_query="rag OR retrieval"))
        view = modals.edit_query_view(topic="rag", query="rag OR retrieval", channel_id=CHANNEL)
        edited = 'rag OR "retrieval augmented generation"'
        values = {"query": {"value": {"type": "plain_text_input", "value": edited}}}
        assert _view_submission(slack_app_server, view, values) == {}
        with Session(engine) as session:
            topic = session.scalar(select(Topic).where(Topic.name == "rag"))
            assert topic.expanded_query == 'rag OR "retrieval augmented generation"'

    def test_edit_query_rejects_a_query_that_finds_nothing(self, slack_app_server, engine):
        with session_scope(engine) as session:
            session.add(Topic(name="rag", query="rag", expanded_query="rag"))
        view = modals.edit_query_view(topic="rag", query="rag", channel_id=CHANNEL)
        values = {"query": {"value": {"type": "plain_text_input", "value": "the of and"}}}
        answer = _view_submission(slack_app_server, view, values)
        assert answer["response_action"] == "errors" and "query" in answer["errors"]


def test_saved_rows_need_the_paper(engine, papers):
    with session_scope(engine) as session:
        assert interactions.save_paper(session, user_id=USER, arxiv_id="2401.00001") is True
        assert interactions.save_paper(session, user_id=USER, arxiv_id="2401.00001") is False
