"""Semantic Scholar author lists: the recent papers of each followed author whose S2 id is known
(`GET /graph/v1/author/{id}/papers`, client: app/sources/semantic_scholar.py).

One chunk per author. Papers keep S2's arXiv id and DOI, so an arXiv paper lands on its stored
row; S2's metadata has a low priority (it only fills gaps). Each record's provenance is
(`s2_author`, the S2 author id): a digest then knows the paper is by that author even when the
stored author list spells the name differently (app/db/authors.py `papers_maybe_by`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from app.config import Settings
from app.errors import SourceError
from app.sources.base import Chunk, FetchContext
from app.sources.records import PaperRecord
from app.sources.s2_enrichment import s2_record
from app.sources.semantic_scholar import SemanticScholar, build_client

NAME = "s2_authors"
PROVENANCE = "s2_author"  # app/db/authors.py S2_AUTHOR_SOURCE
PRIORITY = 10  # S2 metadata only fills what arXiv and Hugging Face do not say
FIELDS = ("externalIds", "title", "abstract", "authors", "publicationDate", "year")
PAPERS_PER_AUTHOR = 100
# How far back a first run reads an author's list (later runs: since the last one).
FIRST_RUN_DAYS = 14


class S2AuthorSource:
    """Followed authors' papers from Semantic Scholar."""

    name = NAME
    priority = PRIORITY
    # Ingest leaves it out while no followed author has an S2 id (app/ingest.py run_ingest).
    reads_followed_authors = True

    def __init__(self, settings: Settings, client: SemanticScholar | None = None) -> None:
        self._settings = settings
        self._owned = client is None  # built here: closed here (Runtime.s2 is shared)
        self._client = client or build_client(settings)

    def fetch(self, context: FetchContext) -> Iterator[Chunk]:
        ids = dict.fromkeys(a.s2_author_id for a in context.authors if a.s2_author_id)
        for author_id in ids:
            assert author_id is not None
            key = f"author:{author_id}"
            context.progress(f"Semantic Scholar {key}: fetching")
            try:
                papers = self._client.author_papers(
                    author_id, limit=PAPERS_PER_AUTHOR, fields=FIELDS
                )
            except SourceError as exc:  # S2Unavailable: this author waits for the next run
                yield Chunk(key, error=str(exc))
                continue
            cutoff = _cutoff(context, key)
            chunk = Chunk(key)
            for paper in papers:
                record = author_record(paper, author_id=author_id)
                if record is None:
                    chunk.skipped += 1
                elif record.published is not None and record.published >= cutoff:
                    chunk.records.append(record)
            yield chunk

    def lookup(self, ids: Mapping[str, Sequence[str]]) -> list[PaperRecord]:
        return []  # the enrichment source answers lookups; this one only lists authors' papers

    def run_params(self) -> dict[str, object]:
        return {}

    def close(self) -> None:
        if self._owned:
            self._client.close()


def _cutoff(context: FetchContext, key: str) -> datetime:
    if context.days is not None:
        return datetime.now(UTC) - timedelta(days=context.days)
    last = context.since(key)
    # S2 dates are days: a day's overlap keeps a paper dated the day of the last run.
    return (last - timedelta(days=1)) if last else datetime.now(UTC) - timedelta(FIRST_RUN_DAYS)


def author_record(paper: Mapping[str, Any], *, author_id: str) -> PaperRecord | None:
    """One paper of an S2 author list as a record; None without an id or a title. Its
    provenance (s2_author, the author's id) is how a digest knows whose paper it is."""
    return s2_record(paper, source=PROVENANCE, source_key=author_id)
