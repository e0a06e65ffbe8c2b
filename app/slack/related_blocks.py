"""Related papers in Slack (`/papers related`, the Related button): `related_message` gathers
them, `related_blocks` renders them, purely and within Slack's limits (app/blockkit.py).
Titles and authors come from arXiv or Semantic Scholar: untrusted, always escaped; links go
only to arXiv or Semantic Scholar pages (app/related.py `paper_url`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from app.blockkit import Block, Message, context, esc, fit, section
from app.config import Settings
from app.embeddings import Embedder
from app.related import ARCHIVE, Related, RelatedPaper, related_papers
from app.sources import Source
from app.sources.semantic_scholar import SemanticScholar

SHOWN = 10  # two blocks each: 22 blocks with the heading and the note, well under 50


def related_message(
    settings: Settings,
    engine: Engine,
    *,
    s2: SemanticScholar | None,
    sources: Sequence[Source],
    embedder: Embedder,
    ref: str,
) -> Message:
    """The reply of `/papers related` and the Related button (may call arXiv and S2: FETCH).
    `ref`: an arXiv id, "DOI:…" or "S2:…" (app/slack/commands_parse.py `related_ref`)."""
    found = related_papers(
        settings, engine, s2=s2, sources=sources, embedder=embedder, ref=ref, limit=SHOWN
    )
    return related_blocks(found)


def related_blocks(result: Related) -> Message:
    """The related papers of one paper, each marked with where it came from."""
    title = esc(result.title, 200) or esc(result.label, 120)
    # Only arXiv and Semantic Scholar pages are linked (app/related.py paper_url).
    head = f"*<{result.url}|{title}>*" if result.url else f"*{title}*"
    shown = result.papers[:SHOWN]
    blocks: list[Block] = []
    if result.note:
        blocks.append(context(f":warning: {esc(result.note, 300)}"))
    if not shown:
        blocks.append(section(f"No related papers for {head} yet."))
        return fit(f"No related papers for {title} yet", blocks)
    blocks.insert(0, section(f"Papers related to {head}"))
    for i, paper in enumerate(shown, start=1):
        blocks += _paper(i, paper)
    return fit(f"{len(shown)} papers related to {title}", blocks)


def _paper(position: int, paper: RelatedPaper) -> list[Block]:
    name = esc(paper.title, 250) or "(untitled)"
    head = f"*{position}. <{paper.url}|{name}>*" if paper.url else f"*{position}. {name}*"
    authors = ", ".join(esc(a, 80) for a in paper.authors[:3] if a)
    if len(paper.authors) > 3:
        authors += " et al."
    meta = ["from the archive" if paper.source == ARCHIVE else "from Semantic Scholar"]
    if paper.arxiv_id:
        meta.append(f"arXiv:{esc(paper.arxiv_id, 64)}")
    if paper.published:
        meta.append(paper.published.strftime("%d %b %Y"))
    if paper.citations:
        meta.append(f"{int(paper.citations)} citations")
    return [section(head + (f"\n{authors}" if authors else "")), context(" · ".join(meta))]
