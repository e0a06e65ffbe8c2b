"""`/papers` over real HTTP, signed as Slack signs it, against the fake Slack (and fake Anthropic):
every subcommand, its bad-input message, the 3-second ack, and errors shown with an id."""

from __future__ import annotations

import logging
import re
import time

import pytest
from slack_cmd_support import CHANNEL, USER, add_search_papers, all_text, wait_for
from slack_cmd_support import ack_text as _ack_text
from slack_cmd_support import command_replies as _replies
from slack_helpers import SECRET, post_command
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import channels as channels_db
from app.db import interactions
from app.db.authors import add_follow
from app.db.engine import session_scope
from app.db.models import Channel, Topic
from app.slack.commands_parse import SUBCOMMAND_NAMES
from app.topics import follow


@pytest.fixture
def papers(engine):
    add_search_papers(engine)


class TestAck:
    def test_help_lists_every_subcommand_right_in_the_ack(self, slack_app_server):
        sent = slack_app_server.command("help")
        reply = _ack_text(sent)
        for name in SUBCOMMAND_NAMES:
            assert f"/papers {name}" in reply
        assert "summarize this" in reply

    def test_empty_command_shows_help(self, slack_app_server):
        assert "/papers follow" in _ack_text(slack_app_server.command(""))

    @pytest.mark.parametrize(
        ("typed", "message"),
        [
            ("topic", "What should I search for?"),
            ("search", "What should I search for?"),
            ("topic " + "a " * 200, "too long"),
            ("LLM+search see https://evil.example.com/x", "only read papers from arXiv"),
            ("https://evil.example.com/abs/2401.00001", "only read papers from arXiv"),
            ("follow", "Which topic?"),
            ("follow " + "x" * 201, "at most 200 characters"),
            ("unfollow", "Which topic?"),
            ('schedule "0 9 * *" UTC', "5-field cron expression"),
            ('schedule "0 9 * * 1-5" Mars/Olympus', "isn't a time zone I know"),
            ("digest later", "Did you mean `/papers digest now`?"),
            ("paper", "Which paper?"),
            ("paper not-an-id", "isn't an arXiv id"),
            ("paper https://arxiv.org/list/cs.CL/recent", "isn't an arXiv or Hugging Face paper"),
            ("saved everything", "/papers saved bibtex"),
        ],
    )
    def test_bad_input_is_explained_in_the_ack(self, slack_app_server, typed, message):
        sent = slack_app_server.command(typed)
        assert message in _ack_text(sent)
        slack_app_server.wait_idle()
        assert sent.replies() == []  # nothing else happened

    def test_slow_work_starts_as_soon_as_the_ack_is_sent(self, slack_app_server, papers):
        # Background work waits for the ack to be written (app.slack.app.RESPONSE_SENT); the
        # HTTP front end must release it then, not after the AFTER_RESPONSE_WAIT_S safety net.
        from app.slack.services import AFTER_RESPONSE_WAIT_S

        sent = slack_app_server.command("paper 2401.00001")
        acked = time.monotonic()
        assert "Looking up" in _ack_text(sent)
        _replies(sent)
        assert time.monotonic() - acked < AFTER_RESPONSE_WAIT_S

    def test_forged_signature_is_rejected_with_401(self, slack_app_server):
        response = post_command(slack_app_server.url, "forged-secret", "help")
        assert response.status_code == 401
        assert post_command(slack_app_server.url, SECRET, "help").status_code == 200


class TestSearch:
    @pytest.mark.parametrize("typed", ["topic retrieval", "search retrieval", "retrieval"])
    def test_top_papers_with_tldrs_and_share_buttons(self, slack_app_server, papers, typed):
        sent = slack_app_server.command(typed)
        assert "Searching" in _ack_text(sent)
        reply = _replies(sent)[0]
        assert reply["response_type"] == "ephemeral"
        shown = all_text(reply)
        assert "Retrieval augmented generation for code search" in shown
        assert "TL;DR" in shown
        assert "Protein folding" not in shown
        buttons = [el for b in reply["blocks"] if b["type"] == "actions" for el in b["elements"]]
        labels = {el["text"]["text"] for el in buttons}
        assert {"Post to channel", "Follow this topic here"} <= labels
        share = next(el for el in buttons if el["action_id"] == "search_post")
        assert share["value"] == "retrieval"

    def test_plus_means_and(self, slack_app_server, papers):
        reply = _replies(slack_app_server.command("topic LLM+search"))[0]
        shown = all_text(reply)
        assert "agents that search the web" in shown
        assert "Beam search" not in shown  # search, but no LLM in it

    def test_a_search_of_only_common_words_says_why(self, slack_app_server, papers):
        reply = _replies(slack_app_server.command("topic the of and"))[0]
        assert "too common" in reply["text"]

    def test_nothing_found_says_so(self, slack_app_server, papers):
        reply = _replies(slack_app_server.command("topic quantum gravity"))[0]
        assert "No papers found" in reply["text"]

    def test_link_to_another_host_is_refused_without_fetching(self, slack_app_server):
        sent = slack_app_server.command("paper https://evil.example.com/abs/2401.00001")
        assert "only read papers from arXiv and Hugging Face" in _ack_text(sent)
        slack_app_server.wait_idle()
        assert sent.replies() == []


class TestSubscriptions:
    def test_topics_when_following_nothing(self, slack_app_server):
        reply = _replies(slack_app_server.command("topics"))[0]
        assert "follows no topics yet" in reply["text"]

    def test_follow_then_topics_then_unfollow(self, slack_app_server, engine):
        reply = _replies(slack_app_server.command("follow retrieval augmented generation"))[0]
        assert "now follows *retrieval augmented generation*" in reply["text"]
        with Session(engine) as session:
            names = [t.name for t in channels_db.channel_topics(session, channel_id=CHANNEL)]
        assert names == ["retrieval augmented generation"]

        listed = _replies(slack_app_server.command("topics"))[0]["text"]
        assert "retrieval augmented generation" in listed and "0 9 * * mon-fri" in listed

        gone = _replies(slack_app_server.command("unfollow retrieval augmented generation"))[0]
        assert "no longer follows" in gone["text"]
        again = _replies(slack_app_server.command("unfollow retrieval augmented generation"))[0]
        assert "doesn't follow" in again["text"]

    def test_follow_without_an_llm_shows_no_expansion(self, slack_app_server):
        sent = slack_app_server.command("follow agents")
        _replies(sent)
        slack_app_server.wait_idle()
        assert len(sent.replies()) == 1

    def test_schedule_in_crontab_weekdays_and_a_time_zone(self, slack_app_server, engine):
        sent = slack_app_server.command('schedule "30 8 * * 1-5" Europe/Berlin')
        reply = _replies(sent)[0]["text"]
        assert "30 8 * * mon-fri" in reply and "Europe/Berlin" in reply and "Next:" in reply
        with Session(engine) as session:
            channel = session.get(Channel, CHANNEL)
        assert (channel.cron, channel.timezone) == ("30 8 * * mon-fri", "Europe/Berlin")

    @pytest.mark.parametrize("cron", ["* * * * *", "*/5 * * * *", "0,30 9 * * 1-5"])
    def test_schedules_more_often_than_hourly_are_refused(self, slack_app_server, engine, cron):
        sent = slack_app_server.command(f'schedule "{cron}" UTC')
        reply = _ack_text(sent)
        assert "more than once an hour" in reply and "\n" not in reply
        slack_app_server.wait_idle()
        assert sent.replies() == []
        with Session(engine) as session:
            assert session.get(Channel, CHANNEL) is None  # nothing stored

    def test_schedule_without_zone_keeps_the_channels(self, slack_app_server, engine):
        _replies(slack_app_server.command('schedule "0 9 * * *" America/New_York'))
        _replies(slack_app_server.command("schedule 0 7 * * 0"))
        with Session(engine) as session:
            channel = session.get(Channel, CHANNEL)
        assert (channel.cron, channel.timezone) == ("0 7 * * sun", "America/New_York")

    def test_settings_opens_a_modal_with_the_channels_values(self, slack_app_server, engine):
        with session_scope(engine) as session:
            follow(session, channel_id=CHANNEL, topic_name="agents")
        sent = slack_app_server.command("settings")
        assert sent.status_code == 200
        call = wait_for(lambda: slack_app_server.slack.calls_to("views.open"), what="views.open")[0]
        assert call.ok, call.response
        view = slack_app_server.slack.views[call.response["view"]["id"]]
        blocks = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
        assert set(blocks) == {
            "topics", "cron", "timezone", "max_papers", "quiet", "style", "recommendations"
        }  # fmt: skip
        assert blocks["topics"]["element"]["initial_value"] == "agents"
        assert blocks["recommendations"]["element"]["initial_options"]  # on by default
        assert call.args["trigger_id"]
        [authors] = [b for b in view["blocks"] if b.get("block_id") == "authors"]
        assert authors["elements"][0]["text"].startswith("No authors followed. Follow one with")

    def test_settings_list_the_followed_authors_as_plain_text(self, slack_app_server, engine):
        with session_scope(engine) as session:
            follow(session, channel_id=CHANNEL, topic_name="agents")
            for name in ("Yann LeCun", "<!channel> *Eve*"):
                add_follow(
                    session, channel_id=CHANNEL, name=name, arxiv_query="au:x", s2_author_id=None
                )
        slack_app_server.command("settings")
        call = wait_for(lambda: slack_app_server.slack.calls_to("views.open"), what="views.open")[0]
        view = slack_app_server.slack.views[call.response["view"]["id"]]
        [authors] = [b for b in view["blocks"] if b.get("block_id") == "authors"]
        [element] = authors["elements"]
        assert element["type"] == "plain_text"  # a name is shown as typed, never as markup
        assert "Yann LeCun" in element["text"] and "<!channel> *Eve*" in element["text"]
        assert "/papers unfollow author" in element["text"]


class TestDigestNow:
    def test_a_channel_without_topics_is_told_how_to_follow_one(self, slack_app_server):
        sent = slack_app_server.command("digest now")
        assert "Putting a digest together" in _ack_text(sent)
        assert "follows no topics yet" in _replies(sent)[0]["text"]
        assert slack_app_server.slack.posted() == []

    def test_posts_the_channels_digest_now(self, slack_app_server, engine, papers):
        with session_scope(engine) as session:
            follow(session, channel_id=CHANNEL, topic_name="retrieval")
        reply = _replies(slack_app_server.command("digest now"))[0]
        assert reply["text"] == "Posted a digest with 1 paper."
        posted = [all_text(m) for m in slack_app_server.slack.posted(CHANNEL)]
        assert any("Retrieval augmented generation for code search" in p for p in posted)

    def test_a_channel_paperboy_is_not_in_is_told_to_invite_it(
        self, slack_app_server, engine, papers
    ):
        with session_scope(engine) as session:
            follow(session, channel_id=CHANNEL, topic_name="retrieval")
        slack_app_server.slack.error_next("chat.postMessage", "not_in_channel", times=5)
        reply = _replies(slack_app_server.command("digest now"))[0]
        assert "/invite @Paperboy" in reply["text"]

    def test_nothing_new_posts_nothing(self, slack_app_server, engine, papers):
        with session_scope(engine) as session:
            follow(session, channel_id=CHANNEL, topic_name="zebrafish")
        reply = _replies(slack_app_server.command("digest now"))[0]
        assert "nothing to post" in reply["text"]


class TestPapersAndSaved:
    def test_paper_by_id_shows_its_card(self, slack_app_server, papers):
        sent = slack_app_server.command("paper 2401.00001v2")
        assert "Looking up arXiv:2401.00001" in _ack_text(sent)
        reply = _replies(sent)[0]
        shown = all_text(reply)
        assert "Retrieval augmented generation for code search" in shown
        actions = [
            el["action_id"]
            for b in reply["blocks"]
            if b["type"] == "actions"
            for el in b["elements"]
        ]
        assert {"paper_summarize", "paper_save", "paper_pdf"} <= set(actions)

    def test_paper_by_hugging_face_link(self, slack_app_server, papers):
        sent = slack_app_server.command("paper <https://huggingface.co/papers/2401.00002>")
        assert "agents that search the web" in all_text(_replies(sent)[0])

    def test_saved_is_empty_at_first(self, slack_app_server):
        assert "haven't saved any papers" in _replies(slack_app_server.command("saved"))[0]["text"]

    def test_saved_lists_and_exports_bibtex(self, slack_app_server, engine, papers):
        with session_scope(engine) as session:
            interactions.save_paper(session, user_id=USER, arxiv_id="2401.00001")
            interactions.save_paper(session, user_id="UBOB", arxiv_id="2401.00003")
        listed = all_text(_replies(slack_app_server.command("saved"))[0])
        assert "Retrieval augmented generation" in listed and "Protein" not in listed
        bib = all_text(_replies(slack_app_server.command("saved bibtex"))[0])
        assert re.search(r"```@misc\{lovelace\d{4}retrieval,", bib)
        assert "eprint = {2401.00001}" in bib and "archivePrefix = {arXiv}" in bib


class TestFailures:
    @pytest.mark.parametrize(
        ("typed", "broken"),
        [
            ("saved", "saved_papers"),  # quick: right after the ack
            ("topic retrieval", "summaries"),  # slow: on the background pool
        ],
    )
    def test_internal_failure_answers_with_an_error_id_that_is_in_the_log(
        self, slack_app_server, engine, papers, caplog, typed, broken
    ):
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {broken} CASCADE"))
        caplog.set_level(logging.ERROR)
        reply = _replies(slack_app_server.command(typed))[0]["text"]
        match = re.fullmatch(r"Sorry, something went wrong on my side \(error id (\w+)\)\.", reply)
        assert match, reply
        assert "Traceback" not in reply and broken not in reply
        logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
        assert len(logged) == 1 and logged[0].exc_info is not None
        assert logged[0].getMessage().startswith("/papers ")  # which command failed


def test_every_topic_is_stored_once(slack_app_server, engine):
    _replies(slack_app_server.command("follow agents"))
    _replies(slack_app_server.command("follow agents"))
    with Session(engine) as session:
        assert session.query(Topic).filter_by(name="agents").count() == 1
