"""The one record type every source produces, and `app/db/papers.py` stores.

A record names its paper by external ids (`arxiv_id`, `doi` and `ids`: any scheme such as
"openreview" or "s2"); the store maps them to one `papers` row. `provider` is the source that
made it and `priority` that source's merge priority: metadata from a higher priority wins, equal
priority with a newer version wins, a lower priority only fills gaps. `signals` is what the
provider knows beyond metadata (Hugging Face upvotes, GitHub stars ...), stored per provider in
`paper_signals`. `source` and `source_key` say where exactly the record came from, for the
provenance table (`paper_sources`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ARXIV_PRIORITY = 100


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    affiliations: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "affiliation": list(self.affiliations)}


@dataclass(slots=True)
class PaperRecord:
    """A paper as one source saw it. `arxiv_id` is canonical (no version), None when the source
    does not know one (then `ids` must name the paper)."""

    arxiv_id: str | None
    title: str
    abstract: str = ""
    # None when the source does not know it (Hugging Face); stored as 1 then.
    version: int | None = None
    authors: list[Author] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    links: list[dict[str, Any]] = field(default_factory=list)
    pdf_url: str | None = None
    # Further external ids by scheme: {"openreview": "abc123", "s2": "..."}.
    ids: dict[str, str] = field(default_factory=dict)
    # Provider-specific facts, JSON-serialisable; None values never wipe stored ones, keys
    # starting with "first_" keep their first value.
    signals: dict[str, Any] = field(default_factory=dict)
    provider: str = "arxiv"
    priority: int = ARXIV_PRIORITY
    # Provenance: arxiv | on_demand | hf_daily | hf_trending | hf_paper | openreview ..., and
    # e.g. the category, the day, or "query:<topic>".
    source: str = "arxiv"
    source_key: str = ""

    def identities(self) -> dict[str, str]:
        """Every external id of this record, normalised: the keys the store matches on."""
        found = {scheme: value for scheme, value in self.ids.items() if value}
        if self.arxiv_id:
            found["arxiv"] = self.arxiv_id
        if self.doi:
            found["doi"] = self.doi.strip().lower()
        return found

    @property
    def url(self) -> str | None:
        return f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else None
