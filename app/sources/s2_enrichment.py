"""Semantic Scholar as a paper source: it enriches papers already stored, through the batch
endpoint (client: app/sources/semantic_scholar.py).

Each run asks S2 about up to SEMANTIC_SCHOLAR_ENRICH_MAX stored papers (one batch request per
500): first those S2 was never asked about, newest first, then papers published in the last
SEMANTIC_SCHOLAR_ENRICH_DAYS whose last answer is older than SEMANTIC_SCHOLAR_REFRESH_HOURS,
oldest answer first (citations of new papers move; those of old ones hardly do). The query is
app/db/enrichment.py; ingest hands it over as `FetchContext.stored`.

What it stores, per paper: the S2 paper id as external id `s2`, and in `paper_signals` (source
`s2`) `citation_count`, `influential_citation_count`, `venue`, `publication_venue`, `year`.
Its metadata has the lowest priority (10): it only fills gaps. A paper S2 does not know (new
arXiv papers take days to be indexed) is still recorded as asked (`paper_sources` key
`not_found`), so it waits its turn again instead of heading the queue every run.

It runs last and on its own `ingest_runs` row: an S2 outage fails only its run.
`s2_record` also turns S2's recommended papers into records (app/related.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from app.config import Settings
from app.sources.base import Chunk, FetchContext, StoredQuery
from app.sources.records import Author, PaperRecord
from app.sources.semantic_scholar import BATCH_SIZE, SemanticScholar, build_client

NAME = "s2"
PRIORITY = 10  # below Hugging Face (20): S2 metadata only fills what nobody else knows
FIELDS = (
    "externalIds",
    "title",
    "abstract",
    "authors",
    "year",
    "venue",
    "publicationVenue",
    "publicationDate",
    "citationCount",
    "influentialCitationCount",
)


def s2_id(ids: Mapping[str, str]) -> str | None:
    """How S2 names a paper we know by these external ids: its own id, else arXiv, else DOI."""
    if ids.get("s2"):
        return ids["s2"]
    if ids.get("arxiv"):
        return f"ARXIV:{ids['arxiv']}"
    if ids.get("doi"):
        return f"DOI:{ids['doi']}"
    return None


def s2_record(
    paper: Mapping[str, Any],
    *,
    known: Mapping[str, str] | None = None,
    source: str = NAME,
    source_key: str = "batch",
) -> PaperRecord | None:
    """One S2 paper as a record (None without a paperId or title), for enrichment, related
    papers, recommendations and followed authors' lists alike. `known`: the ids we asked by, so
    the record lands on that stored paper whatever S2 says. `source`, `source_key`: its
    provenance (paper_sources)."""
    paper_id, title = paper.get("paperId"), _text(paper.get("title"))
    if not isinstance(paper_id, str) or not paper_id or not (title or known):
        return None
    external = _dict(paper.get("externalIds"))
    venue = _dict(paper.get("publicationVenue"))
    authors = paper.get("authors")
    # Asked by our ids: those name the paper (S2's DOI could name another stored paper and
    # merge the two); a paper new to us takes S2's arXiv id and DOI.
    arxiv_id = known.get("arxiv") if known else _text(external.get("ArXiv"))
    doi = known.get("doi") if known else _text(external.get("DOI"))
    return PaperRecord(
        arxiv_id=arxiv_id,
        doi=doi,
        ids={"s2": paper_id},
        title=title or "",
        abstract=_text(paper.get("abstract")) or "",
        authors=[
            Author(n)
            for a in (authors if isinstance(authors, list) else [])
            if isinstance(a, dict) and (n := _text(a.get("name")))
        ],
        published=_date(paper.get("publicationDate")),
        signals={
            "citation_count": _int(paper.get("citationCount")),
            "influential_citation_count": _int(paper.get("influentialCitationCount")),
            "venue": _text(paper.get("venue")),
            "publication_venue": _text(venue.get("name")),
            "year": _int(paper.get("year")),
        },
        provider=NAME,
        priority=PRIORITY,
        source=source,
        source_key=source_key,
    )


class SemanticScholarSource:
    """Enrichment of stored papers; `client` is the process's one SemanticScholar (Runtime.s2)."""

    name = NAME
    priority = PRIORITY

    def __init__(self, settings: Settings, client: SemanticScholar | None = None) -> None:
        self._settings = settings
        self._owned = client is None  # built here: closed here
        self._client = client or build_client(settings)

    def fetch(self, context: FetchContext) -> Iterator[Chunk]:
        """One chunk per batch request; S2Unavailable (a SourceError) fails the run."""
        wanted = context.stored(
            StoredQuery(
                limit=self._settings.semantic_scholar_enrich_max,
                recent_days=self._settings.semantic_scholar_enrich_days,
                refresh_after=timedelta(hours=self._settings.semantic_scholar_refresh_hours),
            )
        )
        asked = [(ids, key) for ids in wanted if (key := s2_id(ids))]
        for start in range(0, len(asked), BATCH_SIZE):
            part = asked[start : start + BATCH_SIZE]
            context.progress(f"Semantic Scholar: {start + len(part)} of {len(asked)} papers")
            answers = self._client.papers([key for _, key in part], fields=FIELDS)
            chunk = Chunk(f"batch {start // BATCH_SIZE + 1}")
            for (ids, _), answer in zip(part, answers, strict=True):
                record = s2_record(answer, known=ids) if answer else None
                if record is None:  # unknown to S2: recorded as asked, nothing else
                    chunk.skipped += 1
                    record = _asked(ids)
                chunk.records.append(record)
            yield chunk

    def lookup(self, ids: Mapping[str, Sequence[str]]) -> list[PaperRecord]:
        """Only S2's own ids: an arXiv lookup (a user asked for a paper) must not wait on S2."""
        keys = list(ids.get("s2", ()))
        if not keys:
            return []
        answers = self._client.papers(keys, fields=FIELDS)
        return [r for a in answers if a and (r := s2_record(a, source_key="lookup"))]

    def run_params(self) -> dict[str, object]:
        return {
            "max": self._settings.semantic_scholar_enrich_max,
            "recent_days": self._settings.semantic_scholar_enrich_days,
        }

    def close(self) -> None:
        if self._owned:  # else the client belongs to the runtime, which closes it
            self._client.close()


def _asked(ids: Mapping[str, str]) -> PaperRecord:
    """A record naming a stored paper S2 does not know: no metadata (an empty title never wipes
    one), only the sighting that says when S2 was last asked."""
    return PaperRecord(
        arxiv_id=ids.get("arxiv"),
        doi=ids.get("doi"),
        ids={"s2": ids["s2"]} if ids.get("s2") else {},
        title="",
        provider=NAME,
        priority=PRIORITY,
        source=NAME,
        source_key="not_found",
    )


def _text(value: Any) -> str | None:
    # NUL cannot be stored in PostgreSQL text: it would fail the whole batch.
    return (" ".join(value.replace("\x00", "").split()) or None) if isinstance(value, str) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
