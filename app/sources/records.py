"""The one record type every source produces, and `app/db/papers.py` stores.

arXiv fills the metadata; Hugging Face fills the `hf_*` fields (and the metadata only for papers
arXiv has not shown us yet). `source` and `source_key` say where the record came from, for the
provenance table (`paper_sources`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

# Sources whose metadata is authoritative (arXiv itself). Everything else only fills gaps.
ARXIV_SOURCES = frozenset({"arxiv", "on_demand"})
HF_SOURCES = frozenset({"hf_daily", "hf_trending", "hf_paper"})


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    affiliations: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "affiliation": list(self.affiliations)}


@dataclass(slots=True)
class PaperRecord:
    """A paper as one source saw it. `arxiv_id` is canonical (no version)."""

    arxiv_id: str
    title: str
    abstract: str = ""
    # None when the source does not know it (Hugging Face); stored as 1 for HF-only papers.
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
    hf_upvotes: int | None = None
    hf_num_comments: int | None = None
    hf_github_repo: str | None = None
    hf_github_stars: int | None = None
    hf_ai_keywords: list[str] | None = None
    hf_ai_summary: str | None = None
    hf_organization: str | None = None
    hf_featured_on: date | None = None
    hf_trending_at: datetime | None = None
    # Provenance: arxiv | on_demand | hf_daily | hf_trending | hf_paper, and e.g. the category,
    # the day, or "query:<topic>".
    source: str = "arxiv"
    source_key: str = ""

    @property
    def from_arxiv(self) -> bool:
        return self.source in ARXIV_SOURCES

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"
