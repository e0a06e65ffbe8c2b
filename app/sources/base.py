"""The seam every paper source implements, and what ingest hands it.

A source is one module (app/sources/<name>.py) with one class of this shape; app/sources/__init__
lists the configured ones (`build_sources`), and app/ingest.py runs each in turn. Steps to add
one: docs/adding-a-source.md.

`fetch` is incremental: it reads what is new since the last run that completed each of its
parts (`FetchContext.since`), and yields the records part by part (`Chunk`: a category's pages,
a day's list). Ingest stores each chunk in one transaction, so a failure part-way keeps the parts
already read; a chunk may instead carry its own error (a bad topic query), and the others still
run. `lookup` fetches named papers now (a user asked for one), by external id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from app.sources.records import PaperRecord


@dataclass
class Chunk:
    """Records stored together: all or nothing. `key` names the part for the next run's
    `since` (a category, "topic:<name>", a day; "all" for a source read in one piece)."""

    key: str
    records: list[PaperRecord] = field(default_factory=list)
    skipped: int = 0  # entries the source sent but that were unusable
    error: str | None = None  # this part failed on its own; nothing of it is stored


@dataclass(frozen=True, slots=True)
class FollowedAuthor:
    """An author some channel follows: the arXiv `au:` query, and the Semantic Scholar author
    id when it was resolved."""

    name: str
    arxiv_query: str
    s2_author_id: str | None = None


@dataclass(frozen=True)
class StoredQuery:
    """Which stored papers a source that enriches (rather than discovers) asks for: those it
    never reported, and those published in the last `recent_days` that it last reported more
    than `refresh_after` ago; never reported first (newest first), then oldest report first."""

    limit: int
    recent_days: int
    refresh_after: timedelta


@dataclass(frozen=True)
class FetchContext:
    """What ingest knows that a source may use. Sources sit below the database: they get these
    facts, never a session."""

    # Read further back than since the last run: the last N days.
    days: int | None = None
    # Topics with a query of their own for sources that search: (topic name, query).
    topic_queries: Sequence[tuple[str, str]] = ()
    # When the last run that completed part `key` started; None if none did.
    since: Callable[[str], datetime | None] = lambda _key: None
    progress: Callable[[str], None] = lambda _message: None
    # Stored papers to enrich, as their external ids {"arxiv": ..., "doi": ..., "s2": ...}
    # (app/sources/s2_enrichment.py); ingest answers from the database.
    stored: Callable[[StoredQuery], list[dict[str, str]]] = lambda _query: []
    # Authors channels follow (app/authors.py), for sources that search by author.
    authors: Sequence[FollowedAuthor] = ()


def reads_followed_authors(source: object) -> bool:
    """A source that only reads followed authors' lists (app/sources/s2_authors.py): ingest leaves
    it out while no followed author has a Semantic Scholar id, and a run it skipped never makes
    the archive look stale."""
    return bool(getattr(source, "reads_followed_authors", False))


@runtime_checkable
class Source(Protocol):
    """A paper source. `name` is what `paperboy ingest --source` and `ingest_runs.source` say,
    and the key of its signals in `paper_signals`; `priority` ranks its metadata against other
    sources' (arXiv 100: higher owns a paper's metadata, lower only fills gaps)."""

    name: str
    priority: int

    def fetch(self, context: FetchContext) -> Iterator[Chunk]:
        """New papers, part by part. Raises SourceError when the source as a whole fails."""
        ...

    def lookup(self, ids: Mapping[str, Sequence[str]]) -> list[PaperRecord]:
        """Records of the papers named by {scheme: [ids]}, for the schemes this source knows
        (others are ignored); unknown papers are simply absent. Raises SourceError."""
        ...

    def run_params(self) -> dict[str, object]:
        """What to record with each run in `ingest_runs.params` (its categories, its venue)."""
        ...

    def close(self) -> None:
        """Release connections; the source is not used afterwards."""
        ...
