"""Smaller leaks closed (issue 10, finding 7): links follow a default-deny allowlist, invisible
format characters never reach Slack, topic names are escaped, every fallback answer is marked,
URLs are normalised before the PDF base check, and control characters in a command are a
validation message. Over real HTTP (signed Slack requests, fake Anthropic, fake PDF host) where
the leak was seen there; the Block Kit builders directly where the leak was in a builder."""

from __future__ import annotations

import json
import unicodedata
from datetime import date

from llm_helpers import add_paper, llm_settings
from slack_cmd_support import (
    CHANNEL,
    ack_text,
    all_text,
    message_event,
    post_paper,
    thread_posts,
    wait_for,
)
from slack_helpers import running_llm_app
from sqlalchemy.orm import Session

from app.digest.blocks import digest_header
from app.llm.fallback import NOT_SAID
from app.llm.fulltext import may_fetch
from app.llm.service import Answer, deep_summary
from app.paper_blocks import paper_message
from app.slack.blocks import EXTRACTIVE_ANSWER, answer_blocks
from app.slack.commands_parse import CONTROL_CHARACTERS
from tests.deps import llm_deps

PROJECT = "https://lazyrag.example.org/project"


def test_links_in_an_answer_follow_the_allowlist(
    settings, engine, slack_fake, anthropic_fake, pdf_server
):
    with Session(engine) as session:
        add_paper(session, "2401.00001", links=[{"href": PROJECT, "rel": "related"}])
    anthropic_fake.reply_json(
        {
            "answer": "Log in at evil.zip/login or phish.pw, or www.evil.example; code at "
            f"https://github.com/lazy/rag, DOI https://doi.org/10.1/lazy, project {PROJECT}, "
            "https://arxiv.org/abs/2401.00001",
            "quotes": [],
            "answerable": True,
        }
    )
    with running_llm_app(
        settings, slack_fake, engine=engine, anthropic=anthropic_fake, pdf_server=pdf_server
    ) as server:
        post_ts = post_paper(server.slack, engine, "2401.00001")
        q = "<@UPAPERBOY> Where is the code?"
        m = server.slack.add_message(CHANNEL, q, thread_ts=post_ts)
        server.event(message_event(q, ts=m["ts"], thread_ts=post_ts))
        answer = wait_for(
            lambda: (posts := thread_posts(server.slack, post_ts)) and posts[0], what="an answer"
        )
    shown = all_text(answer)
    for foreign in ("evil.zip", "phish.pw", "evil.example"):
        assert foreign not in shown
    for kept in ("github.com/lazy/rag", "doi.org/10.1/lazy", PROJECT, "arxiv.org/abs/2401"):
        assert kept in shown


def test_bidi_and_invisible_characters_never_reach_a_post():
    paper = {
        "arxiv_id": "2401.00001",
        "title": "Safe\u202eetirw titles\u2066 and\u200b zero width",
        "abstract": "An abstract with \u202aembedded\u202c and \u2067isolated\u2069 text.",
        "authors": [{"name": "Eve\u202e"}],
    }
    posted = json.dumps(
        [
            paper_message(paper, None),
            digest_header(day=date(2026, 3, 2), topics=["rag\u202e"], count=1),
        ],  # fmt: skip
        ensure_ascii=False,
    )
    assert [c for c in posted if unicodedata.category(c) == "Cf"] == []
    assert "Safeetirw titles and zero width" in posted


def test_a_topic_named_like_a_link_shows_no_link_in_the_digest_header():
    header = digest_header(day=date(2026, 3, 2), topics=["<https://evil.example|x>"], count=3)
    shown = all_text(header)
    assert "evil.example" not in shown and "https://" not in shown


def test_a_fallback_that_finds_nothing_is_marked():
    blocks = answer_blocks(Answer(text=NOT_SAID, quotes=[], answerable=False, extractive=True))
    assert NOT_SAID in all_text(blocks) and EXTRACTIVE_ANSWER in all_text(blocks)


def test_a_pdf_redirect_climbing_out_of_the_pdf_base_is_not_followed(
    settings, engine, session, anthropic_fake, pdf_server
):
    cfg = llm_settings(settings, anthropic_fake, arxiv_pdf_url=pdf_server.url + "/pdf")
    add_paper(session, "2611.00001")
    pdf_server.redirect("/pdf/2611.00001v1", pdf_server.url + "/pdf/../internal-admin")

    deep = deep_summary(cfg, engine, **llm_deps(cfg), arxiv_id="2611.00001")

    assert [r.path for r in pdf_server.requests] == ["/pdf/2611.00001v1"]
    assert deep.source_text == "abstract"
    assert not may_fetch(cfg, pdf_server.url + "/pdf/%2e%2e/internal-admin")
    assert may_fetch(cfg, pdf_server.url + "/pdf/x/../2611.00001v2")


def test_control_characters_in_a_command_get_a_validation_message(slack_app_server):
    sent = slack_app_server.command("follow abc\x00def")

    assert CONTROL_CHARACTERS in ack_text(sent)
    slack_app_server.wait_idle()
    assert sent.replies() == []  # no apology afterwards either
