"""Block Kit builders on their own: always inside Slack's limits, always safe, always with text."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fakes.block_kit import block_kit_errors

from app.db.models import Paper
from app.slack import blocks


@dataclass
class Card:
    tldr: str
    key_points: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    extractive: bool = False


def make_paper(**overrides: Any) -> Paper:
    values: dict[str, Any] = {
        "arxiv_id": "2501.00001",
        "title": "A Paper",
        "abstract": "We study things.",
        "authors": [{"name": "Ada Lovelace", "affiliations": ["Analytical Engines Ltd"]}],
        "primary_category": "cs.CL",
        "published": datetime(2025, 1, 2, tzinfo=UTC),
    }
    values.update(overrides)
    return Paper(**values)


def all_text(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


def assert_valid(message: dict[str, Any]) -> None:
    code, errors = block_kit_errors(message["blocks"])
    assert code == "", errors
    assert message["text"].strip(), "top-level text fallback is missing"


class TestPaperMessage:
    def test_mass_mention_and_ampersand_in_title_are_inert(self) -> None:
        paper = make_paper(title="Ranking <!channel> & <@U123> friends @here")
        card = Card(tldr="Ping <!here> & everyone @channel", key_points=["<#C1> & co"])
        message = blocks.paper_message(paper, card, position=1)
        assert_valid(message)
        text = all_text(message)
        for forbidden in ("<!channel>", "<!here>", "<@U123>", "<#C1>", "@here", "@channel"):
            assert forbidden not in text
        assert "&amp;" in message["blocks"][0]["text"]["text"]
        assert "&lt;!channel&gt;" in message["blocks"][0]["text"]["text"]
        assert "&amp;" in message["text"]

    def test_title_links_to_arxiv_and_authors_are_shortened(self) -> None:
        authors = [{"name": f"Author {i}", "affiliations": []} for i in range(7)]
        paper = make_paper(authors=authors, hf_organization="Hugging Face")
        message = blocks.paper_message(paper, Card(tldr="Short."), position=3)
        head = message["blocks"][0]["text"]["text"]
        assert "<https://arxiv.org/abs/2501.00001|A Paper>" in head
        assert head.startswith("*3. ")
        assert "Author 0, Author 1, Author 2 et al." in head
        assert "Author 3" not in head
        assert "Hugging Face" in head

    def test_abstract_long_enough_to_overflow_a_section_is_cut(self) -> None:
        huge = "word & more " * 2000
        paper = make_paper(title="T " * 400, abstract=huge)
        for card in (None, Card(tldr=huge, key_points=[huge] * 20, tags=[huge] * 20)):
            message = blocks.paper_message(paper, card)
            assert_valid(message)
            for block in message["blocks"]:
                if block["type"] == "section":
                    assert len(block["text"]["text"]) <= 3000
                    # never cut in the middle of an escape
                    assert not block["text"]["text"].rstrip("…").endswith(("&", "&a", "&am"))

    def test_buttons_carry_the_paper_id(self) -> None:
        message = blocks.paper_message(make_paper(), Card(tldr="x"))
        actions = next(b for b in message["blocks"] if b["type"] == "actions")
        by_id = {el["action_id"]: el for el in actions["elements"]}
        assert set(by_id) == {
            "paper_summarize",
            "paper_save",
            "paper_pdf",
            "paper_vote_up",
            "paper_vote_down",
        }
        assert all(el["value"] == "2501.00001" for el in by_id.values())
        assert by_id["paper_pdf"]["url"] == "https://arxiv.org/pdf/2501.00001"

    def test_meta_shows_upvotes_code_tags_and_extractive_marker(self) -> None:
        paper = make_paper(hf_upvotes=42, hf_github_repo="https://github.com/org/repo?a=1&b=2")
        message = blocks.paper_message(paper, Card(tldr="x", tags=["rag"], extractive=True))
        meta = all_text(message)
        assert "42 upvotes" in meta
        assert "<https://github.com/org/repo?a=1&amp;b=2|code>" in meta
        assert "`rag`" in meta
        assert "extractive summary" in meta

    @pytest.mark.parametrize(
        "repo",
        [
            "https://evil.example/github.com/x",
            "javascript:alert(1)",
            "https://github.com/x|<!channel>",
            "http://github.com/x y",
        ],
    )
    def test_code_link_only_for_github(self, repo: str) -> None:
        message = blocks.paper_message(make_paper(hf_github_repo=repo), Card(tldr="x"))
        text = all_text(message)
        assert "evil.example" not in text and "javascript:" not in text
        assert "<!channel>" not in text
        assert_valid(message)


class TestDigestFraming:
    def test_header_counts_and_names_topics(self) -> None:
        message = blocks.digest_header(
            day=date(2025, 3, 10), topics=["LLM & search", "<!here>"], count=3, style="thread"
        )
        assert_valid(message)
        assert "3 new papers" in message["text"]
        assert "Mon 10 Mar 2025" in message["blocks"][0]["text"]["text"]
        assert "<!here>" not in all_text(message)
        assert "thread" in all_text(message)

    def test_quiet_day_and_ingest_failure_are_one_short_line(self) -> None:
        for message in (
            blocks.quiet_day_notice(day=date(2025, 3, 8), topics=["rag"]),
            blocks.ingest_failure_notice(day=date(2025, 3, 8), error="arXiv 503 <!channel>"),
        ):
            assert_valid(message)
            assert len(message["blocks"]) == 1
            assert "<!channel>" not in all_text(message)


class TestGenericBuilders:
    def test_fifty_block_cap(self) -> None:
        many = [blocks.section(f"block {i}") for i in range(80)]
        message = blocks.fit("many", many)
        assert len(message["blocks"]) == 50
        assert "31 more blocks not shown" in message["blocks"][-1]["elements"][0]["text"]
        assert_valid(message)
        exact = blocks.fit("exact", many[:50])
        assert exact["blocks"] == many[:50]

    def test_search_results_with_many_hits_stay_inside_limits(self) -> None:
        hits = [
            make_paper(
                arxiv_id=f"2501.{i:05d}", title=f"Paper {i} & <!channel>", abstract="a" * 5000
            )
            for i in range(30)
        ]
        cards = {h.arxiv_id: Card(tldr="t " * 2000, key_points=["k " * 500] * 9) for h in hits}
        message = blocks.search_results_blocks(hits, cards, "LLM+search <!here>")
        assert_valid(message)
        assert "<!here>" not in all_text(message)
        assert "Paper 0" in all_text(message)

    def test_search_results_empty(self) -> None:
        message = blocks.search_results_blocks([], {}, "nothing")
        assert_valid(message)
        assert "No papers found" in message["text"]

    def test_long_answer_is_split_and_quotes_escaped(self) -> None:
        @dataclass
        class Answer:
            text: str
            quotes: list[str]
            cache_read_tokens: int = 0

        answer = Answer(text=("para & more " * 300 + "\n\n") * 4, quotes=["<!channel> quote"] * 9)
        message = blocks.answer_blocks(answer)
        assert_valid(message)
        sections = [b for b in message["blocks"] if b["type"] == "section"]
        assert len(sections) >= 2
        assert "<!channel>" not in all_text(message)

    def test_deep_summary_reads_fields_and_stays_inside_limits(self) -> None:
        @dataclass
        class Deep:
            tldr: str
            method: str
            results: list[str]
            extractive: bool = True

        deep = Deep(tldr="short & sweet", method="m " * 3000, results=["r1 <@U1>", "r2"])
        message = blocks.deep_summary_blocks(make_paper(), deep)
        assert_valid(message)
        text = all_text(message)
        assert "short &amp; sweet" in text and "*Results*" in text and "• r1" in text
        assert "<@U1>" not in text
