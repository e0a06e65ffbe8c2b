"""`/papers` with the other fakes: the fake Anthropic (a new topic's expansion, a 10-second LLM
that must not delay the ack), the fake arXiv and Hugging Face (papers fetched on demand), and
no ping ever reaching Slack from paper text, LLM text or what a user typed."""

from __future__ import annotations

import time

import pytest
from paper_helpers import pid
from slack_cmd_support import ack_text as _ack_text
from slack_cmd_support import (
    add_papers,
    add_search_papers,
    all_text,
    assert_inert,
    record,
    wait_for,
)
from slack_cmd_support import command_replies as _replies
from slack_helpers import running_llm_app
from sqlalchemy.orm import Session

from app.db.models import Topic
from tests.deps import llm_deps


@pytest.fixture
def papers(engine):
    add_search_papers(engine)


class TestNoPings:
    """Paper text, LLM text and what users type are shown, never able to ping anyone."""

    def test_a_paper_titled_with_mentions_is_shown_inert(self, slack_app_server, engine):
        add_papers(
            engine,
            record(
                "2401.00009",
                "Retrieval for <!channel> & <@U123> teams @here",
                "Retrieval that pings <!everyone> and @channel. It improves recall by 9%.",
            ),
        )
        reply = _replies(slack_app_server.command("topic retrieval"))[0]
        assert "Retrieval for" in all_text(reply) and "teams" in all_text(reply)
        assert_inert(reply)
        assert_inert(_replies(slack_app_server.command("paper 2401.00009"))[0])

    def test_what_a_user_typed_is_echoed_inert(self, slack_app_server, papers):
        sent = slack_app_server.command("topic <!here> retrieval")
        assert "Searching" in _ack_text(sent)
        assert_inert(_ack_text(sent), _replies(sent)[0])
        followed = _replies(slack_app_server.command("follow <!channel> <@U123> agents"))
        assert_inert(*followed)


@pytest.fixture
def llm_app(settings, engine, slack_fake, anthropic_fake):
    """The app with an LLM: the fake Anthropic."""
    with running_llm_app(settings, slack_fake, engine=engine, anthropic=anthropic_fake) as server:
        yield server


class TestWithAnLLM:
    def test_a_new_topic_is_expanded_once_and_shown_with_an_edit_button(
        self, llm_app, engine, anthropic_fake
    ):
        sent = llm_app.command("follow neural retrieval")
        first, expansion = _replies(sent, 2)[:2]
        assert "now follows *neural retrieval*" in first["text"]
        shown = all_text(expansion)
        assert '"neural retrieval methods"' in shown  # the fake model's synonyms, as a query
        button = expansion["blocks"][-1]["elements"][0]
        assert (button["action_id"], button["value"]) == ("topic_edit_query", "neural retrieval")
        with Session(engine) as session:
            topic = session.query(Topic).filter_by(name="neural retrieval").one()
            assert topic.expanded_query and "neural retrieval methods" in topic.expanded_query
        calls = len(anthropic_fake.message_requests)
        again = _replies(llm_app.command("follow neural retrieval"), 2)
        assert "neural retrieval methods" in all_text(again[1])  # shown again, not re-asked
        assert len(anthropic_fake.message_requests) == calls

    def test_a_topic_with_mentions_is_expanded_and_shown_inert(self, llm_app):
        replies = _replies(llm_app.command("follow <!channel> @here retrieval"), 2)
        assert_inert(*replies)
        assert "I search" in replies[1]["text"]

    def test_edit_query_button_opens_a_modal_with_the_expansion(self, llm_app, engine):
        _replies(llm_app.command("follow neural retrieval"), 2)
        sent = llm_app.action("topic_edit_query", value="neural retrieval")
        assert sent.status_code == 200
        call = wait_for(lambda: llm_app.slack.calls_to("views.open"), what="views.open")[0]
        assert call.ok, call.response
        view = llm_app.slack.views[call.response["view"]["id"]]
        field = next(b for b in view["blocks"] if b.get("block_id") == "query")
        assert "neural retrieval methods" in field["element"]["initial_value"]

    def test_a_paper_shown_with_an_extractive_card_gets_claudes_card_next_time(
        self, llm_app, engine, papers
    ):
        from app.db.models import LlmJob
        from app.worker import drain

        first = _replies(llm_app.command("paper 2401.00001"))[0]
        assert "extractive summary" in all_text(first)
        with Session(engine) as session:
            paper_id = pid(session, "2401.00001")
            job = session.query(LlmJob).filter_by(kind="card", paper_id=paper_id).one()
            assert job.urgent and job.state == "pending"  # jumps the ingest backlog
        drain(llm_app.settings, engine, **llm_deps(llm_app.settings))
        again = _replies(llm_app.command("paper 2401.00001"))[0]
        assert "extractive summary" not in all_text(again)

    def test_ack_arrives_within_3s_even_when_the_llm_takes_10s(self, llm_app, anthropic_fake):
        anthropic_fake.delay(10)
        started = time.monotonic()
        sent = llm_app.command("follow neural retrieval")
        assert sent.status_code == 200 and time.monotonic() - started < 3.0
        first = _replies(sent)[0]
        assert "now follows" in first["text"] and time.monotonic() - started < 3.0
        expansion = _replies(sent, 2, timeout=30)[1]  # the slow part comes later, on its own
        assert time.monotonic() - started >= 10
        assert "neural retrieval" in all_text(expansion)


def test_every_topic_is_stored_once(slack_app_server, engine):
    _replies(slack_app_server.command("follow agents"))
    _replies(slack_app_server.command("follow agents"))
    with Session(engine) as session:
        assert session.query(Topic).filter_by(name="agents").count() == 1


@pytest.fixture
def sources_app(settings, engine, slack_fake, arxiv_fake, hf_fake):
    """The app with the fake arXiv and Hugging Face APIs, for papers fetched on demand."""
    from slack_helpers import running_slack_app

    with running_slack_app(
        settings, slack_fake, engine=engine, arxiv_api_url=arxiv_fake.url, hf_api_url=hf_fake.url
    ) as server:
        yield server


class TestOnDemand:
    def test_a_paper_not_stored_yet_is_fetched_and_shown(self, sources_app, arxiv_fake, engine):
        from fakes.arxiv_api import arxiv_paper

        arxiv_fake.add(arxiv_paper("2402.12345", title="Speculative decoding at scale"))
        reply = _replies(sources_app.command("paper https://arxiv.org/abs/2402.12345v1"))[0]
        assert "Speculative decoding at scale" in all_text(reply)
        assert [q.get("id_list") for q in arxiv_fake.queries()] == ["2402.12345"]
        with Session(engine) as session:
            from app.db.papers import get_paper

            assert get_paper(session, arxiv_id="2402.12345") is not None

    def test_a_paper_nobody_knows(self, sources_app):
        reply = _replies(sources_app.command("paper 2402.99999"))[0]
        assert "couldn't find arXiv:2402.99999" in reply["text"]

    def test_a_link_elsewhere_is_refused_and_nothing_is_fetched(
        self, sources_app, arxiv_fake, hf_fake
    ):
        sent = sources_app.command("paper https://arxiv.org.example.net/abs/2402.12345")
        assert "only read papers from arXiv and Hugging Face" in _ack_text(sent)
        sources_app.wait_idle()
        assert arxiv_fake.requests == [] and hf_fake.requests == []
