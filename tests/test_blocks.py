"""Block Kit builders on their own: always inside Slack's limits, always safe, always with text."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fakes.block_kit import block_kit_errors
from paper_helpers import memory_paper

from app import blockkit, paper_blocks
from app.db.models import Paper, PaperSignal
from app.digest import blocks as digest_blocks
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
    return memory_paper(**values)


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
        message = paper_blocks.paper_message(paper, card, position=1)
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
        message = paper_blocks.paper_message(paper, Card(tldr="Short."), position=3)
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
            message = paper_blocks.paper_message(paper, card)
            assert_valid(message)
            for block in message["blocks"]:
                if block["type"] == "section":
                    assert len(block["text"]["text"]) <= 3000
                    # never cut in the middle of an escape
                    assert not block["text"]["text"].rstrip("…").endswith(("&", "&a", "&am"))

    def test_buttons_carry_the_paper_id(self) -> None:
        message = paper_blocks.paper_message(make_paper(), Card(tldr="x"))
        actions = next(b for b in message["blocks"] if b["type"] == "actions")
        by_id = {el["action_id"]: el for el in actions["elements"]}
        assert set(by_id) == {
            "paper_summarize",
            "paper_save",
            "paper_pdf",
            "paper_vote_up",
            "paper_vote_down",
            "paper_related",
            "paper_more_like_this",
        }
        assert all(el["value"] == "2501.00001" for el in by_id.values())
        assert by_id["paper_pdf"]["url"] == "https://arxiv.org/pdf/2501.00001"

    def test_meta_shows_upvotes_code_tags_and_extractive_marker(self) -> None:
        paper = make_paper(hf_upvotes=42, hf_github_repo="https://github.com/org/repo?a=1&b=2")
        message = paper_blocks.paper_message(paper, Card(tldr="x", tags=["rag"], extractive=True))
        meta = all_text(message)
        assert "42 upvotes" in meta
        assert "<https://github.com/org/repo?a=1&amp;b=2|code>" in meta
        assert "`rag`" in meta
        assert "extractive summary" in meta

    def test_meta_shows_semantic_scholar_citations_and_venue_escaped(self) -> None:
        paper = make_paper()
        paper.signals.append(
            PaperSignal(
                source="s2",
                data={
                    "citation_count": 120,
                    "influential_citation_count": 15,
                    "venue": "<!channel> *NeurIPS*",
                },
            )
        )
        message = paper_blocks.paper_message(paper, Card(tldr="x"))
        assert_valid(message)
        meta = all_text(message)
        assert ":books: 120 citations (15 influential) · " in meta
        assert "<!channel>" not in meta and "&lt;!channel&gt;" in meta
        assert ":books:" not in all_text(paper_blocks.paper_message(make_paper(), Card(tldr="x")))

    @pytest.mark.parametrize("category", ["cs.CL", "cs.AI", "hep-th", "q-bio.NC"])
    def test_the_category_is_shown_not_mistaken_for_a_link(self, category: str) -> None:
        meta = all_text(paper_blocks.paper_message(make_paper(primary_category=category), None))
        assert f"`{category}`" in meta and "link removed" not in meta

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
        message = paper_blocks.paper_message(make_paper(hf_github_repo=repo), Card(tldr="x"))
        text = all_text(message)
        assert "evil.example" not in text and "javascript:" not in text
        assert "<!channel>" not in text
        assert_valid(message)


class TestDigestFraming:
    def test_header_counts_and_names_topics(self) -> None:
        message = digest_blocks.digest_header(
            day=date(2025, 3, 10), topics=["LLM & search", "<!here>"], count=3, style="thread"
        )
        assert_valid(message)
        assert "3 new papers" in message["text"]
        assert "Mon 10 Mar 2025" in message["blocks"][0]["text"]["text"]
        assert "<!here>" not in all_text(message)
        assert "thread" in all_text(message)

    def test_quiet_day_and_ingest_failure_are_one_short_line(self) -> None:
        for message in (
            digest_blocks.quiet_day_notice(day=date(2025, 3, 8), topics=["rag"]),
            digest_blocks.ingest_failure_notice(day=date(2025, 3, 8), error="arXiv 503 <!channel>"),
        ):
            assert_valid(message)
            assert len(message["blocks"]) == 1
            assert "<!channel>" not in all_text(message)


class TestGenericBuilders:
    def test_fifty_block_cap(self) -> None:
        many = [blockkit.section(f"block {i}") for i in range(80)]
        message = blockkit.fit("many", many)
        assert len(message["blocks"]) == 50
        assert "31 more blocks not shown" in message["blocks"][-1]["elements"][0]["text"]
        assert_valid(message)
        exact = blockkit.fit("exact", many[:50])
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

    def test_cutting_text_never_leaves_a_live_mention_at_the_end(self) -> None:
        # "@heresy" is not a mention; cut after "@here" it would read as one.
        for text in ("see @heresy", "see @channels", "see @everyones"):
            cut = blockkit.esc(text, len(text) - 1)
            assert not re.search(r"@(here|channel|everyone)\b", cut), cut
            assert len(cut) <= len(text) - 1
        paper = make_paper(title="")
        assert paper_blocks.paper_message(paper, None)["text"] == "arXiv:2501.00001"

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


# --- property-style: many random hostile inputs, every builder --------------------------------

_HOSTILE = [
    "<!channel>", "<!here>", "<!everyone>", "<!subteam^S01|@team>", "<@U1>", "<@W2|bob>",
    "<#C1|general>", "@channel", "@HERE", "@everyone", "&", "&amp;", "&lt;", "<", ">", "|",
    "*bold*", "_it_", "`code`", "~s~", "\n", "\n\n\n", "\t", "\x00", "\x1b[31m", "\u202e",
    "\u200b", "📰", "é", "<https://evil.example|click>", "<mailto:a@b.c>", "javascript:x",
    "https://arxiv.org/abs/2501.00001", " ", "word", "Transformers", "a" * 3000,
]  # fmt: skip
_MENTION = re.compile(r"<[!@#]|@(channel|here|everyone)\b", re.IGNORECASE)
_OUR_LINK = re.compile(r"<https://(?:arxiv\.org|github\.com)/[^|<>\s]*\|[^<>]*>")
_ESCAPE = re.compile(r"&(?!amp;|lt;|gt;)")


def _hostile(rng: random.Random, longest: int = 6000) -> str:
    parts = [rng.choice(_HOSTILE) for _ in range(rng.randint(0, 40))]
    return "".join(parts)[: rng.randint(0, longest)]


def _mrkdwn_texts(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn":
            found.append(value["text"])
        for child in value.values():
            found += _mrkdwn_texts(child)
    elif isinstance(value, list):
        for child in value:
            found += _mrkdwn_texts(child)
    return found


def assert_safe(message: dict[str, Any]) -> None:
    """Inside Block Kit limits, with a fallback, and nothing from the input can ping or link."""
    assert_valid(message)
    assert len(message["text"]) <= blockkit.FALLBACK_TEXT
    assert not _MENTION.search(json.dumps(message, ensure_ascii=False))
    for text in [message["text"], *_mrkdwn_texts(message["blocks"])]:
        bare = _OUR_LINK.sub("", text.removeprefix("> "))  # our quote marker (answers)
        assert "<" not in bare and ">" not in bare, text
        assert not _ESCAPE.search(bare), text


def _random_paper(rng: random.Random, i: int) -> Paper:
    authors = [
        {"name": _hostile(rng, 200), "affiliations": [_hostile(rng, 300)] * rng.randint(0, 2)}
        for _ in range(rng.choice([0, 1, 3, 50, 2000]))
    ]
    return make_paper(
        arxiv_id=rng.choice([f"2501.{i:05d}", f"hep-th/{i:07d}"]),
        title=_hostile(rng),
        abstract=_hostile(rng, 20_000),
        authors=authors,
        hf_organization=rng.choice([None, _hostile(rng, 500)]),
        hf_upvotes=rng.choice([None, 0, 7, 10**9]),
        hf_github_repo=rng.choice(
            [
                None,
                "https://github.com/o/r",
                _hostile(rng, 400),
                "https://github.com/o/r?x=<!channel>&y=|z",
            ]
        ),
        hf_github_stars=rng.choice([None, 3]),
        primary_category=rng.choice([None, _hostile(rng, 100)]),
    )


def _random_card(rng: random.Random) -> Card | None:
    if rng.random() < 0.2:
        return None
    return Card(
        tldr=_hostile(rng, 8000),
        key_points=[_hostile(rng, 3000) for _ in range(rng.randint(0, 12))],
        tags=[_hostile(rng, 200) for _ in range(rng.randint(0, 12))],
        extractive=rng.random() < 0.5,
    )


@pytest.mark.parametrize("seed", range(30))
def test_every_builder_stays_safe_and_inside_limits_for_hostile_input(seed: int) -> None:
    rng = random.Random(seed)
    papers = [_random_paper(rng, i) for i in range(rng.choice([1, 3, 12, 60]))]
    cards = {p.arxiv_id: _random_card(rng) for p in papers}
    topics = [_hostile(rng, 300) for _ in range(rng.choice([0, 1, 3, 60]))]
    day = date(2025, 3, 10)

    @dataclass
    class Deep:
        tldr: str
        problem: str
        method: str
        results: list[str]
        limitations: str
        why_it_matters: str
        extractive: bool

    @dataclass
    class Answer:
        text: str
        quotes: list[str]

    messages = [
        paper_blocks.paper_message(p, cards[p.arxiv_id], position=i + 1)
        for i, p in enumerate(papers)
    ]
    messages += [
        digest_blocks.digest_header(
            day=day, topics=topics, count=len(papers), style=style, trending=2
        )
        for style in ("messages", "thread")
    ]
    messages += [
        digest_blocks.quiet_day_notice(day=day, topics=topics),
        digest_blocks.ingest_failure_notice(day=day, error=_hostile(rng)),
        blocks.search_results_blocks(papers, cards, _hostile(rng, 500)),
        blocks.search_results_blocks(papers, [cards[p.arxiv_id] for p in papers], ""),
        blocks.deep_summary_blocks(
            papers[0],
            Deep(
                *(_hostile(rng, 9000) for _ in range(3)),
                [_hostile(rng) for _ in range(30)],
                _hostile(rng, 9000),
                _hostile(rng, 9000),
                rng.random() < 0.5,
            ),
        ),
        blocks.answer_blocks(Answer(_hostile(rng, 30_000), [_hostile(rng) for _ in range(9)])),
    ]
    for message in messages:
        assert_safe(message)
