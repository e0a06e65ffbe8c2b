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


def build_sources(settings: Settings, *, offline: bool | None = None) -> list[Source]:
    """The configured sources, in ingest order. Offline (PAPERBOY_OFFLINE=1 unless `offline`
    says otherwise), the bundled sample feed stands in for arXiv and Hugging Face, and sources
    without sample data are left out."""
    if settings.paperboy_offline if offline is None else offline:
        feed = SampleFeed()
        return [SampleSource("arxiv", feed), SampleSource("hf", feed)]
    sources: list[Source] = [ArxivSource(settings), HuggingFaceSource(settings)]
    if settings.openreview_invitations:  # off until a venue is configured
        sources.append(OpenReviewSource(settings))
    # Followed authors' papers (a run with nothing to do when no author has an S2 id).
    sources.append(S2AuthorSource(settings, _s2_client(settings)))
    return sources


def _s2_client(settings: Settings) -> SemanticScholar:
    # Requests are paced per API host process-wide, so this client and Runtime.s2 share the pace.
    key = settings.semantic_scholar_api_key
    return SemanticScholar(
        base_url=settings.semantic_scholar_api_url,
        api_key=key.get_secret_value() if key else None,
        min_interval_s=settings.semantic_scholar_interval_seconds,
        deadline_s=settings.semantic_scholar_deadline_seconds,
    )


def close_sources(sources: list[Source]) -> None:
    for source in sources:
        source.close()
