"""Cards for several papers per call: one bad card never costs the others."""

from __future__ import annotations

import json
import re

from fakes.anthropic_api import tokens
from fakes.anthropic_responder import default_reply
from llm_helpers import add_paper, calls, jobs, llm_settings, summaries
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.jobs import enqueue
from app.llm.prompts import CARD_GROUP_SIZE, PaperData, cards_request
from app.worker import drain
from tests.deps import llm_deps

IDS = ["2611.00001", "2611.00002", "2611.00003"]


def _card(arxiv_id: str, tldr: str, points: int = 3) -> dict[str, object]:
    return {
        "arxiv_id": arxiv_id,
        "tldr": tldr,
        "key_points": [f"Point {n} of {arxiv_id}." for n in range(points)],
        "tags": ["retrieval"],
    }


def _queue(session: Session, ids: list[str]) -> None:
    for arxiv_id in ids:
        add_paper(session, arxiv_id)
        enqueue(session, kind="card", arxiv_id=arxiv_id)
    session.commit()


def _papers_in(body: dict[str, object]) -> list[str]:
    return re.findall(r'<paper id="([^"]+)">', str(body["messages"]))


class TestGroupedCards:
    def test_a_full_group_of_the_longest_compliant_cards_fits_its_output_budget(self) -> None:
        # Abstracts of 40-word sentences: the fake writes every field up to its limit.
        sentence = " ".join(f"measurement{n:02d}" for n in range(40)) + "."
        papers = [
            PaperData(f"2611.{n:05d}", "Considerably Lengthier Multilingual Retrieval Benchmarks",
                      " ".join([sentence] * 5))
            for n in range(CARD_GROUP_SIZE)
        ]  # fmt: skip
        params = cards_request(papers).params("claude-haiku-5-5")

        reply = default_reply(params)

        assert len(json.loads(reply)["cards"]) == CARD_GROUP_SIZE
        # Not cut at max_tokens, and within the smallest output cap of a known model (4,096).
        assert tokens(reply) < params["max_tokens"] <= 4096

    def test_one_call_writes_the_cards_of_a_group(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake)
        ids = [f"2611.{n:05d}" for n in range(1, CARD_GROUP_SIZE + 3)]
        _queue(session, ids)

        report = drain(cfg, engine, **llm_deps(cfg))

        assert report.summarized == len(ids)
        sent = [_papers_in(b) for b in anthropic_fake.message_requests]
        assert [len(s) for s in sent] == [CARD_GROUP_SIZE, 2]
        assert sorted(p for s in sent for p in s) == ids
        assert set(summaries(session)) == set(ids)
        assert not any(row.extractive for row in summaries(session).values())

    def test_an_invalid_card_is_retried_alone_and_the_others_are_kept(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake)
        _queue(session, IDS)
        anthropic_fake.reply_json(
            {
                "cards": [
                    _card(IDS[0], "First paper's card."),
                    _card(IDS[1], "Second paper's card, with one key point only.", points=1),
                    _card(IDS[2], "Third paper's card."),
                ]
            }
        )

        report = drain(cfg, engine, **llm_deps(cfg))

        first, retry = anthropic_fake.message_requests
        assert _papers_in(first) == IDS and _papers_in(retry) == [IDS[1]]
        stored = summaries(session)
        assert stored[IDS[0]].content["tldr"] == "First paper's card."
        assert stored[IDS[2]].content["tldr"] == "Third paper's card."
        # The retry (the fake's own, valid card) made an LLM card for the second paper too.
        assert not stored[IDS[1]].extractive and len(stored[IDS[1]].content["key_points"]) == 3
        assert report.summarized == 3 and report.fallbacks == 0
        assert {j.state for j in jobs(session)} == {"done"}
        assert [c.ok for c in calls(session)] == [True, True]

    def test_a_card_missing_twice_falls_back_for_that_paper_only(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake)
        _queue(session, IDS[:2])
        anthropic_fake.reply_json({"cards": [_card(IDS[0], "Only the first paper's card.")]})
        anthropic_fake.reply_json({"cards": []})  # the retry alone: still nothing

        report = drain(cfg, engine, **llm_deps(cfg))

        assert len(anthropic_fake.message_requests) == 2
        stored = summaries(session)
        assert not stored[IDS[0]].extractive and stored[IDS[1]].extractive
        assert report.summarized == 1 and report.fallbacks == 1
        by_paper = {j.paper_id: j for j in jobs(session)}
        assert {j.state for j in by_paper.values()} == {"done"}
        assert sum("fallback" in (j.last_error or "") for j in by_paper.values()) == 1

    def test_an_unusable_group_reply_retries_each_paper_alone(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake)
        _queue(session, IDS)
        anthropic_fake.reply_text("Sure! Here are the cards: ...")

        report = drain(cfg, engine, **llm_deps(cfg))

        sent = [_papers_in(b) for b in anthropic_fake.message_requests]
        assert sent[0] == IDS and sorted(sent[1:]) == [[i] for i in IDS]
        assert report.summarized == 3 and report.fallbacks == 0
        assert not any(row.extractive for row in summaries(session).values())

    def test_a_batch_carries_groups_of_cards(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, llm_batch_min=5)
        ids = [f"2611.{n:05d}" for n in range(1, CARD_GROUP_SIZE + 3)]
        _queue(session, ids)

        report = drain(cfg, engine, **llm_deps(cfg))

        (batch,) = anthropic_fake.batch_requests
        sizes = sorted(len(_papers_in(r["params"])) for r in batch["requests"])
        assert sizes == [2, CARD_GROUP_SIZE] and anthropic_fake.message_requests == []
        assert report.summarized == len(ids) and set(summaries(session)) == set(ids)
        assert all(c.batch and c.ok for c in calls(session)) and len(calls(session)) == 2

    def test_an_invalid_card_in_a_batch_is_retried_alone_directly(
        self, settings: Settings, engine: Engine, session: Session, anthropic_fake
    ) -> None:
        cfg = llm_settings(settings, anthropic_fake, llm_batch_min=3)
        _queue(session, IDS)
        lead = str(jobs(session)[0].id)
        anthropic_fake.batch_texts[lead] = json.dumps(
            {
                "cards": [
                    _card(IDS[0], "First paper's card."),
                    _card(IDS[1], "", points=3),  # an empty TL;DR: invalid
                    _card(IDS[2], "Third paper's card."),
                ]
            }
        )

        report = drain(cfg, engine, **llm_deps(cfg))

        (batch,) = anthropic_fake.batch_requests
        assert [_papers_in(r["params"]) for r in batch["requests"]] == [IDS]
        (retry,) = anthropic_fake.message_requests
        assert _papers_in(retry) == [IDS[1]]
        stored = summaries(session)
        assert stored[IDS[0]].content["tldr"] == "First paper's card."
        assert stored[IDS[2]].content["tldr"] == "Third paper's card."
        assert not stored[IDS[1]].extractive
        assert report.summarized == 3 and {j.state for j in jobs(session)} == {"done"}
        assert [(c.batch, c.ok) for c in calls(session)] == [(True, True), (False, True)]
