"""Paperboy's Block Kit messages, built by pure functions that always stay inside Slack's limits.

Every builder returns a `Message`: `{"text": ..., "blocks": [...]}`, ready for
`client.chat_postMessage(channel=..., **message)`. `text` is the plain fallback Slack shows in
notifications and screen readers. Paper text and LLM output are untrusted: everything from them
goes through `esc`/`esc_block` (app/slack/blockkit.py, re-exported here with the other
primitives), so nothing a paper or the model says can format, link or ping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Protocol
from urllib.parse import urlsplit

from app.paperids import abs_url, pdf_url
from app.safety import escape_mrkdwn, truncate
from app.slack.blockkit import (
    BUTTON_TEXT,
    BUTTON_VALUE,
    CONTEXT_ELEMENTS,
    FALLBACK_TEXT,
    FIELD_TEXT,
    HEADER_TEXT,
    MAX_BLOCKS,
    MAX_MESSAGE_CHARS,
    SECTION_TEXT,
    Block,
    Message,
    button,
    context,
    esc,
    esc_block,
    fit,
    header,
    one_line,
    plain,
    section,
    split_sections,
)

__all__ = [
    "BUTTON_TEXT", "BUTTON_VALUE", "CONTEXT_ELEMENTS", "FALLBACK_TEXT", "FIELD_TEXT",
    "HEADER_TEXT", "MAX_BLOCKS", "MAX_MESSAGE_CHARS", "SECTION_TEXT", "Block", "Message",
    "button", "context", "esc", "esc_block", "fit", "header", "plain", "section",
    "split_sections",
    "ACTION_PDF", "ACTION_SAVE", "ACTION_SUMMARIZE", "ACTION_VOTE_DOWN", "ACTION_VOTE_UP",
    "CardLike", "abs_url", "pdf_url", "author_line", "github_link", "title_link",
    "paper_actions", "paper_card_blocks", "fallback_line", "paper_message", "digest_header",
    "quiet_day_notice", "ingest_failure_notice", "search_results_blocks",
    "deep_summary_blocks", "answer_blocks",
]  # fmt: skip

# action_ids the Slack commands helper handles (app/slack/listeners/actions.py).
ACTION_SUMMARIZE = "paper_summarize"
ACTION_SAVE = "paper_save"
ACTION_PDF = "paper_pdf"
ACTION_VOTE_UP = "paper_vote_up"
ACTION_VOTE_DOWN = "paper_vote_down"


class CardLike(Protocol):
    """What app.llm.cards.card_for returns (read-only view)."""

    @property
    def tldr(self) -> str: ...
    @property
    def key_points(self) -> Sequence[str]: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def extractive(self) -> bool: ...


# --- papers -------------------------------------------------------------------------------------


def _get(obj: Any, name: str, default: Any = None) -> Any:
    return getattr(obj, name, default) if not isinstance(obj, Mapping) else obj.get(name, default)


def _authors(paper: Any) -> tuple[list[str], str | None]:
    """Author names and the first known affiliation; accepts Paper rows and SearchHits."""
    names: list[str] = []
    affiliation = None
    for author in _get(paper, "authors") or []:
        if isinstance(author, str):
            names.append(author)
            continue
        names.append(str(_get(author, "name", "") or ""))
        affs = _get(author, "affiliations") or []
        if affiliation is None and affs:
            affiliation = str(affs[0])
    return [n for n in names if n], affiliation


def author_line(paper: Any, *, first: int = 3) -> str:
    names, affiliation = _authors(paper)
    shown = ", ".join(esc(n, 80) for n in names[:first])
    if len(names) > first:
        shown += " et al."
    org = affiliation or _get(paper, "hf_organization")
    if org:
        shown += f" · {esc(str(org), 120)}"
    return shown


def github_link(url: str | None) -> str | None:
    """A mrkdwn link to the paper's code, only for github.com URLs (anything else is dropped)."""
    if not url or any(c.isspace() for c in url.strip()):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or host not in ("github.com", "www.github.com") or parts.username:
        return None
    safe = escape_mrkdwn(url.strip().replace("|", "%7C"))
    return f"<{safe}|code>" if len(safe) < 1000 else None


def title_link(paper: Any, *, position: int | None = None, limit: int = 250) -> str:
    arxiv_id = str(_get(paper, "arxiv_id"))
    prefix = f"{position}. " if position is not None else ""
    title = esc(_get(paper, "title"), limit) or arxiv_id
    return f"*{prefix}<{abs_url(arxiv_id)}|{title}>*"


def _summary_text(card: CardLike | None, *, tldr_limit: int, points: int) -> str:
    if card is None:
        return ""
    lines = []
    if card.tldr:
        lines.append(f"*TL;DR* {esc(card.tldr, tldr_limit)}")
    for point in list(card.key_points)[:points]:
        if point and point.strip():
            lines.append(f"• {esc(point, 400)}")
    return truncate("\n".join(lines), SECTION_TEXT)


def _meta_parts(paper: Any, card: CardLike | None) -> list[str]:
    parts: list[str] = []
    if card is not None and card.tags:
        parts.append(" ".join(f"`{esc(t, 40).replace('`', '')}`" for t in list(card.tags)[:6]))
    upvotes = _get(paper, "hf_upvotes")
    if upvotes:
        parts.append(f":hugging_face: {int(upvotes)} upvotes")
    code = github_link(_get(paper, "hf_github_repo"))
    if code:
        stars = _get(paper, "hf_github_stars")
        parts.append(f":computer: {code}" + (f" ★{int(stars)}" if stars else ""))
    published = _get(paper, "published")
    category = _get(paper, "primary_category")
    parts.append(
        " · ".join(
            p
            for p in (
                f"arXiv:{esc(str(_get(paper, 'arxiv_id')), 64)}",
                esc(category, 40) if category else "",
                published.strftime("%d %b %Y") if hasattr(published, "strftime") else "",
            )
            if p
        )
    )
    if card is not None and card.extractive:
        parts.append("_extractive summary_")
    return parts


def paper_actions(arxiv_id: str, *, votes: bool = True) -> Block:
    elements = [
        button("Summarize in depth", ACTION_SUMMARIZE, arxiv_id, style="primary"),
        button("Save", ACTION_SAVE, arxiv_id),
        button("PDF", ACTION_PDF, arxiv_id, url=pdf_url(arxiv_id)),
    ]
    if votes:
        elements += [
            button("👍", ACTION_VOTE_UP, arxiv_id),
            button("👎", ACTION_VOTE_DOWN, arxiv_id),
        ]
    return {"type": "actions", "block_id": f"paper:{arxiv_id}"[:255], "elements": elements}


def paper_card_blocks(
    paper: Any,
    card: CardLike | None,
    *,
    position: int | None = None,
    compact: bool = False,
    actions: bool = True,
) -> list[Block]:
    """The blocks of one paper (title, authors, TL;DR, key points, meta, buttons).

    `compact` (search results, several papers in one message) keeps the TL;DR short and drops
    the key points, so ten papers still fit in one message.
    """
    head = title_link(paper, position=position)
    authors = author_line(paper)
    if authors:
        head += "\n" + authors
    blocks: list[Block] = [section(head)]
    summary = _summary_text(
        card, tldr_limit=350 if compact else 1200, points=0 if compact else 5
    ) or esc(_get(paper, "abstract"), 350 if compact else 800)
    if summary:
        blocks.append(section(summary))
    blocks.append(context(*_meta_parts(paper, card)))
    if actions:
        blocks.append(paper_actions(str(_get(paper, "arxiv_id")), votes=not compact))
    return blocks


def fallback_line(paper: Any, card: CardLike | None) -> str:
    # Never blank: it is what notifications and screen readers get.
    title = esc(_get(paper, "title"), 200) or f"arXiv:{esc(str(_get(paper, 'arxiv_id')), 64)}"
    tldr = esc(card.tldr, 200) if card is not None and card.tldr else ""
    return truncate(f"{title} — {tldr}" if tldr else title, FALLBACK_TEXT)


def paper_message(paper: Any, card: CardLike | None, *, position: int | None = None) -> Message:
    """One digest paper as its own message (its thread is where discussion happens)."""
    return fit(fallback_line(paper, card), paper_card_blocks(paper, card, position=position))


# --- digest framing -----------------------------------------------------------------------------


def _topic_list(topics: Sequence[str], limit: int = 600) -> str:
    return truncate(", ".join(f"*{esc(t, 100)}*" for t in topics), limit)


def digest_header(
    *, day: date, topics: Sequence[str], count: int, style: str = "messages", trending: int = 0
) -> Message:
    when = day.strftime("%a %d %b %Y")
    noun = "paper" if count == 1 else "papers"
    lines = f"{count} new {noun} for {_topic_list(topics)}" if topics else f"{count} new {noun}"
    if trending:
        lines += f" (incl. {trending} trending on Hugging Face)"
    if style == "thread":
        lines += "\nThe papers are in this thread :thread:"
    blocks = [header(f"📰 Paperboy digest — {when}"), section(lines)]
    text = f"Paperboy digest for {when}: {count} new {noun}"
    if topics:
        text += " (" + ", ".join(esc(t, 60) for t in topics) + ")"
    return fit(text, blocks)


def quiet_day_notice(*, day: date, topics: Sequence[str]) -> Message:
    text = f"No new papers for {_topic_list(topics)} today." if topics else "No new papers today."
    return fit(text.replace("*", ""), [context(f":zzz: {text}")])


def ingest_failure_notice(*, day: date, error: str | None = None) -> Message:
    text = (
        "Paperboy could not fetch new papers today (arXiv or Hugging Face did not answer); "
        "the next digest will catch up."
    )
    parts = [f":warning: {text}"]
    if error:
        parts.append(f"_{esc(error, 200)}_")
    return fit(text, [context(*parts)])


# --- reused by /papers and thread replies -------------------------------------------------------


def _card_of(cards: Any, index: int, arxiv_id: str) -> CardLike | None:
    if isinstance(cards, Mapping):
        return cards.get(arxiv_id)  # type: ignore[no-any-return]
    if isinstance(cards, Sequence) and index < len(cards):
        return cards[index]  # type: ignore[no-any-return]
    return None


def search_results_blocks(hits: Sequence[Any], cards: Any, query: str) -> Message:
    """Top papers for a query; `cards` is a {arxiv_id: Card} mapping or a list parallel to hits."""
    q = esc(query, 200)
    if not hits:
        return fit(f"No papers found for {q}.", [section(f"No papers found for *{q}*.")])
    shown = list(hits)[:10]
    blocks: list[Block] = [section(f"Top {len(shown)} papers for *{q}*")]
    for i, hit in enumerate(shown):
        card = _card_of(cards, i, str(_get(hit, "arxiv_id")))
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
    sections = _get(deep, "sections")
    pairs: list[tuple[str, Any]] = (
        list(sections.items())
        if isinstance(sections, Mapping)
        else [(label, _get(deep, name)) for name, label in _DEEP_FIELDS]
    )
    for label, value in pairs:
        if isinstance(value, list | tuple):
            value = "\n".join(f"• {one_line(str(v))}" for v in value if v)
        if value:
            body.append(f"*{esc(str(label), 80)}*\n{esc_block(str(value), 2500)}")
    if not body and _get(deep, "text"):
        body.append(esc_block(str(_get(deep, "text")), 9000))
    blocks += split_sections("\n".join(body))
    if _get(deep, "extractive"):
        blocks.append(context("_extractive summary: no LLM was available_"))
    blocks.append(paper_actions(str(_get(paper, "arxiv_id")), votes=False))
    return fit(f"In depth: {esc(_get(paper, 'title'), 200)}", blocks)


def answer_blocks(answer: Any) -> Message:
    """An answer to a question about a paper, with the quoted passages it relies on."""
    text = esc_block(str(_get(answer, "text") or ""), 8000) or "The paper does not say."
    blocks = split_sections(text)
    quotes = [q for q in (_get(answer, "quotes") or []) if q]
    for quote_text in quotes[:5]:
        blocks.append(context(f"> _{esc(str(quote_text), 600)}_"))
    return fit(esc(_get(answer, "text"), FALLBACK_TEXT) or "The paper does not say.", blocks)
