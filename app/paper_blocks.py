"""One paper in Block Kit: its card (title, authors, TL;DR, key points, meta, buttons) and its
digest message. Pure functions over a paper-like object (a Paper row, a SearchHit, a mapping),
shared by digests (app/digest/blocks.py) and Slack replies (app/slack/blocks.py).

Paper text and LLM output are untrusted: everything from them goes through `esc`/`esc_block`
(app/blockkit.py), so nothing a paper or the model says can format, link or ping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from app.blockkit import (
    FALLBACK_TEXT,
    SECTION_TEXT,
    Block,
    Message,
    button,
    context,
    esc,
    fit,
    section,
)
from app.paperids import abs_url, own_links, pdf_url
from app.safety import escape_mrkdwn, truncate

# action_ids the Slack actions listener handles (app/slack/listeners/actions.py).
ACTION_SUMMARIZE = "paper_summarize"
ACTION_SAVE = "paper_save"
ACTION_PDF = "paper_pdf"
ACTION_VOTE_UP = "paper_vote_up"
ACTION_VOTE_DOWN = "paper_vote_down"
ACTION_RELATED = "paper_related"
ACTION_MORE_LIKE_THIS = "paper_more_like_this"


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


# arXiv's category names: an archive, then optionally a dot and a subject class (cs.CL, hep-th,
# math.AG, q-bio.NC).
_ARXIV_CATEGORY = re.compile(r"[a-z][a-z-]{0,15}(?:\.[A-Za-z][A-Za-z-]{0,15})?")


def get_field(obj: Any, name: str, default: Any = None) -> Any:
    return getattr(obj, name, default) if not isinstance(obj, Mapping) else obj.get(name, default)


def _authors(paper: Any) -> tuple[list[str], str | None]:
    """Author names and the first known affiliation; accepts Paper rows and SearchHits."""
    names: list[str] = []
    affiliation = None
    for author in get_field(paper, "authors") or []:
        if isinstance(author, str):
            names.append(author)
            continue
        names.append(str(get_field(author, "name", "") or ""))
        affs = get_field(author, "affiliations") or []
        if affiliation is None and affs:
            affiliation = str(affs[0])
    return [n for n in names if n], affiliation


def author_line(paper: Any, *, first: int = 3) -> str:
    names, affiliation = _authors(paper)
    shown = ", ".join(esc(n, 80) for n in names[:first])
    if len(names) > first:
        shown += " et al."
    org = affiliation or get_field(paper, "hf_organization")
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
    arxiv_id = str(get_field(paper, "arxiv_id"))
    prefix = f"{position}. " if position is not None else ""
    title = esc(get_field(paper, "title"), limit) or arxiv_id
    return f"*{prefix}<{abs_url(arxiv_id)}|{title}>*"


def _summary_text(
    card: CardLike | None, *, tldr_limit: int, points: int, links: Sequence[str] = ()
) -> str:
    if card is None:
        return ""
    lines = []
    if card.tldr:
        lines.append(f"*TL;DR* {esc(card.tldr, tldr_limit, links=links)}")
    for point in list(card.key_points)[:points]:
        if point and point.strip():
            lines.append(f"• {esc(point, 400, links=links)}")
    return truncate("\n".join(lines), SECTION_TEXT)


def _meta_parts(paper: Any, card: CardLike | None) -> list[str]:
    parts: list[str] = []
    if card is not None and card.tags:
        parts.append(" ".join(f"`{esc(t, 40).replace('`', '')}`" for t in list(card.tags)[:6]))
    upvotes = get_field(paper, "hf_upvotes")
    if upvotes:
        parts.append(f":hugging_face: {int(upvotes)} upvotes")
    cited = _citations(paper)
    if cited:
        parts.append(cited)
    code = github_link(get_field(paper, "hf_github_repo"))
    if code:
        stars = get_field(paper, "hf_github_stars")
        parts.append(f":computer: {code}" + (f" ★{int(stars)}" if stars else ""))
    published = get_field(paper, "published")
    category = get_field(paper, "primary_category")
    parts.append(
        " · ".join(
            p
            for p in (
                f"arXiv:{esc(str(get_field(paper, 'arxiv_id')), 64)}",
                _category(category),
                published.strftime("%d %b %Y") if hasattr(published, "strftime") else "",
            )
            if p
        )
    )
    if card is not None and card.extractive:
        parts.append("_extractive summary_")
    return parts


def _category(category: str | None) -> str:
    """An arXiv category ("cs.CL") in a code span: as plain text it reads as a domain (.cl, .ai
    are TLDs), which Slack would link and the link filter would replace by "[link removed]"."""
    if not category:
        return ""
    if _ARXIV_CATEGORY.fullmatch(category):
        return f"`{category}`"
    return esc(category, 40)


def _citations(paper: Any) -> str:
    """Semantic Scholar's citation counts and venue, when it has told us: ":books: 120 citations
    (15 influential) · NeurIPS". Nothing for an uncited paper with no venue."""
    count = get_field(paper, "s2_citations")
    influential = get_field(paper, "s2_influential_citations")
    venue = get_field(paper, "s2_venue")
    parts = []
    if isinstance(count, int) and count > 0:
        noun = "citation" if count == 1 else "citations"
        many = (
            f" ({influential} influential)" if isinstance(influential, int) and influential else ""
        )
        parts.append(f"{count} {noun}{many}")
    if venue:
        parts.append(esc(str(venue), 80))
    return ":books: " + " · ".join(parts) if parts else ""


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
        # A taste signal for the channel (app/digest/taste.py), not a vote on the topic.
        elements.append(button("More like this", ACTION_MORE_LIKE_THIS, arxiv_id))
    elements.append(button("Related", ACTION_RELATED, arxiv_id))
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
    links = own_links(paper)
    summary = _summary_text(
        card, tldr_limit=350 if compact else 1200, points=0 if compact else 5, links=links
    ) or esc(get_field(paper, "abstract"), 350 if compact else 800, links=links)
    if summary:
        blocks.append(section(summary))
    blocks.append(context(*_meta_parts(paper, card)))
    if actions:
        blocks.append(paper_actions(str(get_field(paper, "arxiv_id")), votes=not compact))
    return blocks


def fallback_line(paper: Any, card: CardLike | None) -> str:
    # Never blank: it is what notifications and screen readers get.
    title = (
        esc(get_field(paper, "title"), 200) or f"arXiv:{esc(str(get_field(paper, 'arxiv_id')), 64)}"
    )
    tldr = esc(card.tldr, 200) if card is not None and card.tldr else ""
    return truncate(f"{title} — {tldr}" if tldr else title, FALLBACK_TEXT)


def paper_message(
    paper: Any, card: CardLike | None, *, position: int | None = None, note: str | None = None
) -> Message:
    """One digest paper as its own message (its thread is where discussion happens). `note`:
    safe mrkdwn shown above the card (why a recommended paper is there)."""
    blocks = paper_card_blocks(paper, card, position=position)
    if note:
        blocks.insert(0, context(note))
    return fit(fallback_line(paper, card), blocks)
