"""Paper sources: one module each, all of one shape (app/sources/base.py `Source`).

`build_sources` is the registry: the composition root calls it once and hands the list to
ingest. Adding a source: docs/adding-a-source.md.
"""

from __future__ import annotations

from app.config import Settings
from app.sources.arxiv import ArxivSource
from app.sources.base import Chunk, FetchContext, Source
from app.sources.huggingface import HuggingFaceSource
from app.sources.openreview import OpenReviewSource
from app.sources.records import Author, PaperRecord
from app.sources.s2_authors import S2AuthorSource
from app.sources.s2_enrichment import SemanticScholarSource
from app.sources.sample import SampleFeed, SampleSource
from app.sources.semantic_scholar import SemanticScholar

__all__ = [
    "Author",
    "Chunk",
    "FetchContext",
    "PaperRecord",
    "Source",
    "build_sources",
    "close_sources",
]


def build_sources(
    settings: Settings, *, offline: bool | None = None, s2: SemanticScholar | None = None
) -> list[Source]:
    """The configured sources, in ingest order. Offline (PAPERBOY_OFFLINE=1 unless `offline`
    says otherwise), the bundled sample feed stands in for arXiv and Hugging Face, and sources
    without sample data are left out. `s2`: the process's Semantic Scholar client, shared with
    related papers so one pace holds (built here when not given)."""
    if settings.paperboy_offline if offline is None else offline:
        feed = SampleFeed()
        return [SampleSource("arxiv", feed), SampleSource("hf", feed)]
    sources: list[Source] = [ArxivSource(settings), HuggingFaceSource(settings)]
    if settings.openreview_invitations:  # off until a venue is configured
        sources.append(OpenReviewSource(settings))
    # Followed authors' papers (a run with nothing to do when no author has an S2 id).
    sources.append(S2AuthorSource(settings, s2))
    if settings.semantic_scholar_enrich_max > 0:  # last: the others never wait on it
        sources.append(SemanticScholarSource(settings, s2))
    return sources


def close_sources(sources: list[Source]) -> None:
    for source in sources:
        source.close()
