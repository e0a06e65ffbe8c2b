"""Threads over real HTTP: "summarize this" resolved to the right paper in every case, follow-up
questions answered from the paper's text (with the prompt cache), each event handled once, bots
ignored, and links to other hosts refused without being fetched."""

from __future__ import annotations

import pytest
from slack_cmd_support import (
    CHANNEL,
    add_papers,
    all_text,
    assert_inert,
    message_event,
    post_paper,
    record,
    thread_posts,
    wait_for,
)
from slack_helpers import running_llm_app, running_slack_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import LlmCall, PostedMessage
from app.slack.listeners import events

PAPER_TEXT = (
    "Sparse retrieval with learned term weights. "
    + "We index each passage with expanded terms and weights learned from relevance labels. " * 30
    + "On MS MARCO our retriever reaches an MRR@10 of 39.4 while using one tenth of the memory. "
    + "Training takes six hours on eight GPUs. "
    + "We release the code and the index under an open license. " * 20
)


@pytest.fixture
def papers(engine):
    add_papers(
        engine,
        record("2401.00001", "Learned sparse retrieval"),
        record("2401.00002", "Agents that browse the web"),
        record("2401.00003", "Diffusion for protein design"),
    )


@pytest.fixture
def llm_app(settings, engine, slack_fake, anthropic_fake, pdf_server):
    """The app with an LLM (the fake Anthropic) and the fake arXiv PDF host."""
    pdf_server.add(
        "2401.00001v1", [PAPER_TEXT[i : i + 2500] for i in range(0, len(PAPER_TEXT), 2500)]
    )
    with running_llm_app(
        settings,
        slack_fake,
        engine=engine,
        anthropic=anthropic_fake,
        pdf_server=pdf_server,
        llm_cache_min_tokens=1024,  # the fake's floor: the paper's prefix reaches it
    ) as server:
        yield server


def _summary_in(server, thread_ts: str) -> dict:
    return wait_for(
        lambda: next(
            (m for m in thread_posts(server.slack, thread_ts) if m["text"].startswith("In depth:")),
            None,
        ),
        what="a deep summary in the thread",
    )


def _reply_in(server, thread_ts: str, n: int = 1) -> list[dict]:
    return wait_for(
        lambda: (posts := thread_posts(server.slack, thread_ts)) and len(posts) >= n and posts,
        what=f"{n} message(s) in the thread",
    )


def _human(server, text: str, **kwargs) -> dict:
    return server.slack.add_message(CHANNEL, text, **kwargs)


class TestSummarizeThis:
    @pytest.mark.parametrize(
        "said", ["summarize this", "tl;dr", "Summarise this please", "<@UPAPERBOY> summarize"]
    )
    def test_reply_under_a_paper_post_gets_its_deep_summary(
        self, slack_app_server, engine, papers, said
    ):
        post_ts = post_paper(slack_app_server.slack, engine, "2401.00002")
        reply = _human(slack_app_server, said, thread_ts=post_ts)
        slack_app_server.event(message_event(said, ts=reply["ts"], thread_ts=post_ts))
        summary = _summary_in(slack_app_server, post_ts)
        assert "Agents that browse the web" in all_text(summary)
        slack_app_server.wait_idle()
        with Session(engine) as session:
            kinds = session.scalars(
                select(PostedMessage.kind).where(PostedMessage.ts == summary["ts"])
            ).all()
        assert kinds == ["summary"]

    def test_the_summary_waits_out_a_slack_outage_instead_of_being_lost(
        self, slack_app_server, engine, papers
    ):
        post_ts = post_paper(slack_app_server.slack, engine, "2401.00002")
        reply = _human(slack_app_server, "tl;dr", thread_ts=post_ts)
        # More 500s in a row than the WebClient's own two retries absorb.
        slack_app_server.slack.server_error(times=4, method="chat.postMessage")
        slack_app_server.event(message_event("tl;dr", ts=reply["ts"], thread_ts=post_ts))
        assert "Agents that browse the web" in all_text(_summary_in(slack_app_server, post_ts))

    def test_parent_with_one_arxiv_link(self, slack_app_server, papers):
        parent = _human(slack_app_server, "Worth a read <https://arxiv.org/abs/2401.00003v2>")
        reply = _human(slack_app_server, "tl;dr", thread_ts=parent["ts"])
        slack_app_server.event(message_event("tl;dr", ts=reply["ts"], thread_ts=parent["ts"]))
        assert "Diffusion for protein design" in all_text(
            _summary_in(slack_app_server, parent["ts"])
        )

    def test_reply_with_one_hugging_face_link(self, slack_app_server, papers):
        parent = _human(slack_app_server, "what are people reading this week?")
        text = "summarize <https://huggingface.co/papers/2401.00001>"
        reply = _human(slack_app_server, text, thread_ts=parent["ts"])
        slack_app_server.event(message_event(text, ts=reply["ts"], thread_ts=parent["ts"]))
        assert "Learned sparse retrieval" in all_text(_summary_in(slack_app_server, parent["ts"]))

    def test_thread_style_digest_picks_by_number_and_asks_back_without_one(
        self, slack_app_server, engine, papers
    ):
        slack = slack_app_server.slack
        header = post_paper(slack, engine, "", kind="header")
        for arxiv_id in ("2401.00001", "2401.00002", "2401.00003"):
            post_paper(slack, engine, arxiv_id, thread_ts=header)

        ask = _human(slack_app_server, "summarize this", thread_ts=header)
        slack_app_server.event(message_event("summarize this", ts=ask["ts"], thread_ts=header))
        question = _reply_in(slack_app_server, header)[0]["text"]
        assert "Which one?" in question and "`summarize N`" in question
        assert "1. Learned sparse retrieval" in question and "3. Diffusion" in question

        pick = _human(slack_app_server, "summarize 2", thread_ts=header)
        slack_app_server.event(message_event("summarize 2", ts=pick["ts"], thread_ts=header))
        assert "Agents that browse the web" in all_text(_summary_in(slack_app_server, header))

    def test_message_with_several_links_is_chosen_by_number(self, slack_app_server, papers):
        parent = _human(
            slack_app_server,
            "Two today: <https://arxiv.org/abs/2401.00001> and <https://arxiv.org/pdf/2401.00003>",
        )
        reply = _human(slack_app_server, "summarize #2", thread_ts=parent["ts"])
        slack_app_server.event(
            message_event("summarize #2", ts=reply["ts"], thread_ts=parent["ts"])
        )
        assert "Diffusion for protein design" in all_text(
            _summary_in(slack_app_server, parent["ts"])
        )

    def test_a_number_out_of_range_lists_the_choices(self, slack_app_server, papers):
        parent = _human(slack_app_server, "2401.00001 vs 2401.00002, thoughts?")
        reply = _human(slack_app_server, "summarize 7", thread_ts=parent["ts"])
        slack_app_server.event(message_event("summarize 7", ts=reply["ts"], thread_ts=parent["ts"]))
        answer = _reply_in(slack_app_server, parent["ts"])[0]["text"]
        assert "There are 2 papers here" in answer

    def test_nothing_to_summarize_gets_a_short_hint(self, slack_app_server, papers):
        parent = _human(slack_app_server, "lunch?")
        reply = _human(slack_app_server, "tl;dr", thread_ts=parent["ts"])
        slack_app_server.event(message_event("tl;dr", ts=reply["ts"], thread_ts=parent["ts"]))
        hint = _reply_in(slack_app_server, parent["ts"])[0]["text"]
        assert "summarize this" in hint and "arXiv" in hint

    def test_link_to_another_host_is_refused_and_never_fetched(
        self, slack_app_server, papers, pdf_server
    ):
        link = f"{pdf_server.url}/abs/2401.00001"  # a server that records any request
        parent = _human(slack_app_server, f"look <{link}>")
        reply = _human(slack_app_server, "summarize this", thread_ts=parent["ts"])
        slack_app_server.event(
            message_event("summarize this", ts=reply["ts"], thread_ts=parent["ts"])
        )
        refusal = _reply_in(slack_app_server, parent["ts"])[0]["text"]
        assert "only read papers from arXiv and Hugging Face" in refusal
        slack_app_server.wait_idle()
        assert pdf_server.requests == []

    def test_top_level_chatter_is_left_alone(self, slack_app_server, papers):
        said = _human(slack_app_server, "tl;dr: the meeting moved to 3pm")
        slack_app_server.event(message_event("tl;dr: the meeting moved to 3pm", ts=said["ts"]))
        slack_app_server.wait_idle()
        assert slack_app_server.slack.posted() == []

    def test_a_working_note_comes_first_when_the_summary_is_slow(
        self, llm_app, engine, papers, anthropic_fake
    ):
        anthropic_fake.delay(events.WORKING_NOTE_AFTER_S + 1.5)
        post_ts = post_paper(llm_app.slack, engine, "2401.00001")
        reply = _human(llm_app, "summarize this", thread_ts=post_ts)
        llm_app.event(message_event("summarize this", ts=reply["ts"], thread_ts=post_ts))
        note = _reply_in(llm_app, post_ts)[0]
        assert note["text"] == events.WORKING_NOTE
        update = wait_for(
            lambda: [c for c in llm_app.slack.calls_to("chat.update") if c.ok],
            timeout=20,
            what="the note replaced by the summary",
        )[0]
        assert update.args["ts"] == note["ts"]
        assert update.args["text"].startswith("In depth: Learned sparse retrieval")
        assert len(thread_posts(llm_app.slack, post_ts)) == 1  # replaced, not a second message


class TestQuestions:
    def test_follow_up_answered_with_a_quote_then_served_from_the_prompt_cache(
        self, llm_app, engine, papers, anthropic_fake
    ):
        post_ts = post_paper(llm_app.slack, engine, "2401.00001")
        q1 = "<@UPAPERBOY> What MRR@10 does the retriever reach on MS MARCO?"
        m1 = _human(llm_app, q1, thread_ts=post_ts)
        llm_app.event(message_event(q1, ts=m1["ts"], thread_ts=post_ts))
        first = _reply_in(llm_app, post_ts)[0]
        shown = all_text(first)
        assert "39.4" in shown
        assert "> _On MS MARCO our retriever reaches an MRR@10 of 39.4" in shown  # the quote

        q2 = "How long does training take on the GPUs?"  # no mention: a reply under our post
        m2 = _human(llm_app, q2, thread_ts=post_ts)
        llm_app.event(message_event(q2, ts=m2["ts"], thread_ts=post_ts))
        second = _reply_in(llm_app, post_ts, 2)[1]
        assert "six hours" in all_text(second)

        with Session(engine) as session:
            calls = session.scalars(
                select(LlmCall).where(LlmCall.purpose == "answer").order_by(LlmCall.id)
            ).all()
        assert len(calls) == 2
        assert calls[0].cache_write_tokens > 1000
        assert calls[1].cache_read_tokens >= calls[0].cache_write_tokens  # the paper, cached
        asked = anthropic_fake.message_requests[-1]
        assert "MRR@10" in str(asked["messages"])  # the thread's history went along

    def test_a_question_the_paper_cannot_answer(self, llm_app, engine, papers):
        post_ts = post_paper(llm_app.slack, engine, "2401.00001")
        q = "<@UPAPERBOY> Which orchestra premiered the symphony?"
        m = _human(llm_app, q, thread_ts=post_ts)
        llm_app.event(message_event(q, ts=m["ts"], thread_ts=post_ts))
        assert "The paper does not say" in all_text(_reply_in(llm_app, post_ts)[0])

    def test_an_answer_that_tries_to_ping_pings_nobody(
        self, llm_app, engine, papers, anthropic_fake
    ):
        anthropic_fake.reply_json(
            {
                "answer": "<!channel> <!here|here> <@U123> @everyone: an MRR@10 of 39.4.",
                "quotes": ["On MS MARCO our retriever reaches an MRR@10 of 39.4"],
                "answerable": True,
            }
        )
        post_ts = post_paper(llm_app.slack, engine, "2401.00001")
        q = "<@UPAPERBOY> What MRR@10 does it reach?"
        m = _human(llm_app, q, thread_ts=post_ts)
        llm_app.event(message_event(q, ts=m["ts"], thread_ts=post_ts))
        answer = _reply_in(llm_app, post_ts)[0]
        assert "39.4" in all_text(answer)
        assert_inert(answer)

    def test_chatter_under_a_paper_post_is_not_answered(self, slack_app_server, engine, papers):
        post_ts = post_paper(slack_app_server.slack, engine, "2401.00001")
        m = _human(slack_app_server, "nice one, thanks", thread_ts=post_ts)
        slack_app_server.event(message_event("nice one, thanks", ts=m["ts"], thread_ts=post_ts))
        slack_app_server.wait_idle()
        assert thread_posts(slack_app_server.slack, post_ts) == []

    def test_questions_in_other_threads_need_a_mention(self, slack_app_server, papers):
        parent = _human(slack_app_server, "see <https://arxiv.org/abs/2401.00001>")
        m = _human(slack_app_server, "what is the memory saving?", thread_ts=parent["ts"])
        slack_app_server.event(
            message_event("what is the memory saving?", ts=m["ts"], thread_ts=parent["ts"])
        )
        slack_app_server.wait_idle()
        assert thread_posts(slack_app_server.slack, parent["ts"]) == []


class TestDelivery:
    def test_an_event_delivered_twice_is_handled_once(self, slack_app_server, engine, papers):
        post_ts = post_paper(slack_app_server.slack, engine, "2401.00002")
        reply = _human(slack_app_server, "tl;dr", thread_ts=post_ts)
        event = message_event("tl;dr", ts=reply["ts"], thread_ts=post_ts)
        assert slack_app_server.event(event, event_id="Ev0DUPLICATE").status_code == 200
        assert (
            slack_app_server.event(event, event_id="Ev0DUPLICATE", retry_num=1).status_code == 200
        )
        _summary_in(slack_app_server, post_ts)
        slack_app_server.wait_idle()
        assert len(thread_posts(slack_app_server.slack, post_ts)) == 1

    def test_a_mention_delivered_as_message_and_app_mention_is_answered_once(
        self, slack_app_server, engine, papers
    ):
        post_ts = post_paper(slack_app_server.slack, engine, "2401.00002")
        text = "<@UPAPERBOY> summarize this"
        reply = _human(slack_app_server, text, thread_ts=post_ts)
        slack_app_server.event(message_event(text, ts=reply["ts"], thread_ts=post_ts))
        slack_app_server.event(
            message_event(text, ts=reply["ts"], thread_ts=post_ts, type="app_mention")
        )
        _summary_in(slack_app_server, post_ts)
        slack_app_server.wait_idle()
        assert len(thread_posts(slack_app_server.slack, post_ts)) == 1

    @pytest.mark.parametrize(
        "extra",
        [
            {"bot_id": "BOTHER", "subtype": "bot_message"},
            {"bot_id": "BOTHER"},
            {"user": "UPAPERBOY", "bot_id": "BPAPERBOY"},
            {"subtype": "message_changed"},
        ],
    )
    def test_bots_own_messages_and_edits_are_ignored(self, slack_app_server, engine, papers, extra):
        post_ts = post_paper(slack_app_server.slack, engine, "2401.00002")
        reply = _human(slack_app_server, "summarize this", thread_ts=post_ts)
        event = message_event("summarize this", ts=reply["ts"], thread_ts=post_ts)
        event.update(extra)
        assert slack_app_server.event(event).status_code == 200
        slack_app_server.wait_idle()
        assert thread_posts(slack_app_server.slack, post_ts) == []


class TestOnDemand:
    def test_a_linked_paper_we_never_saw_is_fetched_then_summarized(
        self, settings, engine, slack_fake, arxiv_fake, hf_fake
    ):
        from fakes.arxiv_api import arxiv_paper

        arxiv_fake.add(arxiv_paper("2402.54321", title="Mixture of depths"))
        with running_slack_app(
            settings,
            slack_fake,
            engine=engine,
            arxiv_api_url=arxiv_fake.url,
            hf_api_url=hf_fake.url,
        ) as server:
            parent = _human(server, "new from DeepMind <https://arxiv.org/abs/2402.54321>")
            reply = _human(server, "summarize this", thread_ts=parent["ts"])
            server.event(message_event("summarize this", ts=reply["ts"], thread_ts=parent["ts"]))
            assert "Mixture of depths" in all_text(_summary_in(server, parent["ts"]))
