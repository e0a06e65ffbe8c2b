"""Block Kit for Slack replies: search results, in-depth summaries and answers in threads.

Pure functions that stay inside Slack's limits (app/blockkit.py); a paper's own card comes from
app/paper_blocks.py. Paper text and LLM output are untrusted and always escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.blockkit import (
    FALLBACK_TEXT,
    Block,
    Message,
    context,
    esc,
    esc_block,
    fit,
    one_line,
    section,
    split_sections,
)
from app.paper_blocks import (
    CardLike,
    author_line,
    get_field,
    paper_actions,
    paper_card_blocks,
    title_link,
)


def _card_of(cards: Any, index: int, arxiv_id: str) -> CardLike | None:
    if isinstance(cards, Mapping):
        return cards.get(arxiv_id)
    if isinstance(cards, Sequence) and index < len(cards):
        return cards[index]
    return None


def search_results_blocks(hits: Sequence[Any], cards: Any, query: str) -> Message:
    """Top papers for a query; `cards` is a {arxiv_id: Card} mapping or a list parallel to hits."""
    q = esc(query, 200)
    if not hits:
        return fit(f"No papers found for {q}.", [section(f"No papers found for *{q}*.")])
    shown = list(hits)[:10]
    blocks: list[Block] = [section(f"Top {len(shown)} papers for *{q}*")]
    for i, hit in enumerate(shown):
        card = _card_of(cards, i, str(get_field(hit, "arxiv_id")))
        blocks += paper_card_blocks(hit, card, position=i + 1, compact=True)
    return fit(f"Top {len(shown)} papers for {q}", blocks)


_DEEP_FIELDS = (
    ("tldr", "TL;DR"),
    ("problem", "Problem"),
    ("method", "Method"),
    ("results", "Results"),
    ("limitations", "Limitations"),
    ("why_it_matters", "Why it matters"),
)


def deep_summary_blocks(paper: Any, deep: Any) -> Message:
    """An in-depth summary for a paper's thread. Reads the usual DeepSummary fields; a plain
    `text` or `sections` mapping works too."""
    blocks: list[Block] = [section(title_link(paper) + "\n" + author_line(paper))]
    body: list[str] = []
    sections = get_field(deep, "sections")
    pairs: list[tuple[str, Any]] = (
        list(sections.items())
        if isinstance(sections, Mapping)
        else [(label, get_field(deep, name)) for name, label in _DEEP_FIELDS]
    )
    for label, value in pairs:
        if isinstance(value, list | tuple):
            value = "\n".join(f"• {one_line(str(v))}" for v in value if v)
        if value:
            body.append(f"*{esc(str(label), 80)}*\n{esc_block(str(value), 2500)}")
    if not body and get_field(deep, "text"):
        body.append(esc_block(str(get_field(deep, "text")), 9000))
    blocks += split_sections("\n".join(body))
    if get_field(deep, "extractive"):
        blocks.append(context("_extractive summary: no LLM was available_"))
    blocks.append(paper_actions(str(get_field(paper, "arxiv_id")), votes=False))
    return fit(f"In depth: {esc(get_field(paper, 'title'), 200)}", blocks)


EXTRACTIVE_ANSWER = "_extractive answer: no LLM answer was available_"


def answer_blocks(answer: Any) -> Message:
    """An answer to a question about a paper, with the quoted passages it relies on."""
    links = get_field(answer, "links") or ()
    text = esc_block(str(get_field(answer, "text") or ""), 8000, links=links)
    text = text or "The paper does not say."
    blocks = split_sections(text)
    quotes = [q for q in (get_field(answer, "quotes") or []) if q]
    for quote_text in quotes[:5]:
        blocks.append(context(f"> _{esc(str(quote_text), 600)}_"))
    if get_field(answer, "extractive"):  # every fallback says so, "does not say" included
        blocks.append(context(EXTRACTIVE_ANSWER))
    return fit(esc(get_field(answer, "text"), FALLBACK_TEXT) or "The paper does not say.", blocks)
