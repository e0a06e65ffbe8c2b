"""Storing papers: batched upserts with merge rules, provenance, and lookups.

Merge rules (one row per arXiv id, whatever the sources):
- arXiv (and on-demand arXiv) records own the metadata. A record with a version at least the
  stored one rewrites title/abstract/authors/... in place; an older version changes nothing.
- Hugging Face records refresh the `hf_*` fields (a missing field never wipes a known one) and
  leave arXiv metadata alone. A paper only Hugging Face has shown us is inserted from its data
  (version 1) and its metadata refreshed by Hugging Face until arXiv enriches it.
- `last_changed_at` moves only when a stored value actually changes (the ON CONFLICT ... WHERE
  clause skips no-op updates, which also keeps the row's tsvector and the WAL untouched).

Speed matters (the benchmark pushes 100k papers through here): one INSERT ... SELECT FROM
unnest(arrays) per ~1000 records, arrays sent as binary parameters straight through psycopg,
counts computed in SQL from `xmax = 0` (true only for freshly inserted tuples), no ORM objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from app.db.models import Paper
from app.paperids import split_version
from app.sources.records import PaperRecord

CHUNK = 1000

_META = (
    "title",
    "abstract",
    "authors",
    "categories",
    "primary_category",
    "published",
    "updated",
    "comment",
    "journal_ref",
    "doi",
    "links",
)
_HF = (
    "hf_upvotes",
    "hf_num_comments",
    "hf_github_repo",
    "hf_github_stars",
    "hf_ai_keywords",
    "hf_ai_summary",
    "hf_organization",
    "hf_featured_on",
    "hf_trending_at",
)
# What Hugging Face may refresh on a paper arXiv has not given us yet.
_HF_META = ("title", "abstract", "authors", "published")


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


def upsert_papers(
    session: Session, *, records: Iterable[PaperRecord], run_id: int | None = None
) -> UpsertCounts:
    """Insert or merge `records` into `papers` and record provenance. The caller commits.

    Safe to call from several sessions at once (e.g. a bulk load split across connections):
    rows are written in arxiv_id order, so concurrent calls cannot deadlock."""
    session.flush()  # the statements below bypass the ORM: pending objects go first
    arxiv: dict[str, PaperRecord] = {}
    hf: dict[str, PaperRecord] = {}
    sightings: dict[tuple[str, str, str], None] = {}
    for rec in records:
        sightings[(rec.arxiv_id, rec.source, rec.source_key)] = None
        if rec.from_arxiv:
            seen = arxiv.get(rec.arxiv_id)
            if seen is None or (rec.version or 1) >= (seen.version or 1):
                arxiv[rec.arxiv_id] = rec
        else:
            hf[rec.arxiv_id] = _merge_hf(hf.get(rec.arxiv_id), rec)

    inserted: set[str] = set()
    updated: set[str] = set()
    # Sorted, so two concurrent ingests lock rows in the same order and cannot deadlock.
    for statement, group in ((_ARXIV_SQL, arxiv), (_HF_SQL, hf)):
        ordered = [group[key] for key in sorted(group)]
        for start in range(0, len(ordered), CHUNK):
            params = _columns(ordered[start : start + CHUNK])
            for arxiv_id, was_inserted in _execute(session, statement, params):
                (inserted if was_inserted else updated).add(arxiv_id)
    updated -= inserted

    _record_sightings(session, sorted(sightings), run_id)
    _expire_loaded(session, inserted | updated)
    distinct = len(arxiv.keys() | hf.keys())
    return UpsertCounts(
        inserted=len(inserted),
        updated=len(updated),
        unchanged=distinct - len(inserted) - len(updated),
    )


def get_paper(session: Session, *, arxiv_id: str) -> Paper | None:
    """The stored paper for an id, with or without its version suffix."""
    try:
        key, _ = split_version(arxiv_id)
    except ValueError:
        return None
    return session.get(Paper, key)


# --- statements ----------------------------------------------------------------------------
# Each chunk travels as one array per column and is spread back into rows with unnest(): one
# small statement per chunk instead of ~25 bind parameters per row, which keeps the client side
# cheap; the server's tsvector computation is then most of the cost.

# (column, SQL array type of its parameter, expression turning the unnested value into the column)
_SEP = "chr(31)"  # lists of short strings travel joined by the ASCII unit separator
_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("arxiv_id", "text", "u.arxiv_id"),
    ("version", "int", "u.version"),
    ("title", "text", "u.title"),
    ("abstract", "text", "u.abstract"),
    ("authors", "text", "CAST(u.authors AS jsonb)"),
    ("categories", "text", f"string_to_array(u.categories, {_SEP})"),
    ("primary_category", "text", "u.primary_category"),
    ("published", "timestamptz", "u.published"),
    ("updated", "timestamptz", "u.updated"),
    ("comment", "text", "u.comment"),
    ("journal_ref", "text", "u.journal_ref"),
    ("doi", "text", "u.doi"),
    ("links", "text", "CAST(u.links AS jsonb)"),
    ("hf_upvotes", "int", "u.hf_upvotes"),
    ("hf_num_comments", "int", "u.hf_num_comments"),
    ("hf_github_repo", "text", "u.hf_github_repo"),
    ("hf_github_stars", "int", "u.hf_github_stars"),
    ("hf_ai_keywords", "text", f"string_to_array(u.hf_ai_keywords, {_SEP})"),
    ("hf_ai_summary", "text", "u.hf_ai_summary"),
    ("hf_organization", "text", "u.hf_organization"),
    ("hf_featured_on", "date", "u.hf_featured_on"),
    ("hf_trending_at", "timestamptz", "u.hf_trending_at"),
)


def _insert_sql(on_conflict: str) -> str:
    names = ", ".join(c for c, _, _ in _COLUMNS)
    exprs = ", ".join(e for _, _, e in _COLUMNS)
    arrays = ", ".join(f"CAST(%({c})b AS {t}[])" for c, t, _ in _COLUMNS)
    return (
        f"INSERT INTO papers ({names}) SELECT {exprs} FROM unnest({arrays}) AS u({names}) "
        f"ON CONFLICT (arxiv_id) DO UPDATE {on_conflict} "
        "RETURNING arxiv_id, (xmax = 0) AS inserted"
    )


def _update_clause(values: dict[str, str], guard: str | None = None) -> str:
    """SET the given expressions, but only when one of them differs from the stored value."""
    sets = ", ".join(f"{c} = {e}" for c, e in values.items())
    changed = " OR ".join(f"papers.{c} IS DISTINCT FROM {e}" for c, e in values.items())
    where = f"({guard}) AND ({changed})" if guard else changed
    return f"SET {sets}, last_changed_at = now() WHERE {where}"


# An older version (a stale mirror, a late page) never overwrites a newer one.
_ARXIV_SQL = _insert_sql(
    _update_clause(
        {c: f"EXCLUDED.{c}" for c in ("version", *_META)},
        guard="EXCLUDED.version >= papers.version",
    )
)


def _hf_values() -> dict[str, str]:
    values = {c: f"COALESCE(EXCLUDED.{c}, papers.{c})" for c in _HF}
    # First sightings stay put: the day it was featured, the time it first trended. (When it was
    # last seen trending is its hf_trending row's last_seen_at in paper_sources.) A re-read that
    # only sees the same paper again is then no change at all.
    for c in ("hf_featured_on", "hf_trending_at"):
        values[c] = f"COALESCE(papers.{c}, EXCLUDED.{c})"
    for c in _HF_META:  # only while arXiv has not given us the paper (no primary category)
        values[c] = (
            f"CASE WHEN papers.primary_category IS NULL "
            f"THEN COALESCE(EXCLUDED.{c}, papers.{c}) ELSE papers.{c} END"
        )
    return values


_HF_SQL = _insert_sql(_update_clause(_hf_values()))

_SIGHTINGS_SQL = (
    "INSERT INTO paper_sources (arxiv_id, source, source_key, last_run_id) "
    "SELECT u.arxiv_id, u.source, u.source_key, CAST(%(run_id)b AS bigint) "
    "FROM unnest(CAST(%(arxiv_id)b AS text[]), CAST(%(source)b AS text[]), "
    "CAST(%(source_key)b AS text[])) "
    "AS u(arxiv_id, source, source_key) "
    "ON CONFLICT ON CONSTRAINT uq_paper_sources_key "
    "DO UPDATE SET last_seen_at = now(), last_run_id = EXCLUDED.last_run_id"
)


def _record_sightings(
    session: Session, keys: Sequence[tuple[str, str, str]], run_id: int | None
) -> None:
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        _execute(
            session,
            _SIGHTINGS_SQL,
            {
                "arxiv_id": [a for a, _, _ in chunk],
                "source": [s for _, s, _ in chunk],
                "source_key": [k[:255] for _, _, k in chunk],
                "run_id": run_id,
            },
        )


# --- helpers -------------------------------------------------------------------------------


def _execute(session: Session, sql: str, params: dict[str, Any]) -> list[Any]:
    """Run on the session's connection, so inside the caller's transaction. The statements use
    psycopg's binary placeholders (%(name)b): text-format arrays cost a regex escape per
    element, binary ones don't."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _columns(records: Sequence[PaperRecord]) -> dict[str, list[Any]]:
    """One list per column, in the shapes _COLUMNS expects."""
    sep = "\x1f"
    return {
        "arxiv_id": [r.arxiv_id for r in records],
        "version": [r.version or 1 for r in records],
        "title": [r.title for r in records],
        "abstract": [r.abstract or "" for r in records],
        "authors": [json.dumps([a.as_json() for a in r.authors]) for r in records],
        "categories": [sep.join(r.categories) for r in records],
        "primary_category": [r.primary_category or None for r in records],
        "published": [r.published for r in records],
        "updated": [r.updated for r in records],
        "comment": [r.comment for r in records],
        "journal_ref": [r.journal_ref for r in records],
        "doi": [r.doi for r in records],
        "links": [json.dumps(r.links) for r in records],
        "hf_upvotes": [r.hf_upvotes for r in records],
        "hf_num_comments": [r.hf_num_comments for r in records],
        "hf_github_repo": [r.hf_github_repo for r in records],
        "hf_github_stars": [r.hf_github_stars for r in records],
        "hf_ai_keywords": [
            None if r.hf_ai_keywords is None else sep.join(r.hf_ai_keywords) for r in records
        ],
        "hf_ai_summary": [r.hf_ai_summary for r in records],
        "hf_organization": [r.hf_organization for r in records],
        "hf_featured_on": [r.hf_featured_on for r in records],
        "hf_trending_at": [r.hf_trending_at for r in records],
    }


def _expire_loaded(session: Session, arxiv_ids: set[str]) -> None:
    """Papers this session already loaded are stale now: reload them on next access."""
    for key, obj in list(session.identity_map.items()):
        # key = (class, primary key tuple, token): no attribute access, so no reload here
        if key[0] is Paper and key[1][0] in arxiv_ids:
            session.expire(obj)


def _merge_hf(seen: PaperRecord | None, rec: PaperRecord) -> PaperRecord:
    """Two Hugging Face sightings of one paper in a batch (daily + trending): keep every field."""
    if seen is None:
        return rec
    rec = replace(rec)
    for name in _HF:
        if getattr(rec, name) is None:
            setattr(rec, name, getattr(seen, name))
    if seen.hf_featured_on and (not rec.hf_featured_on or seen.hf_featured_on < rec.hf_featured_on):
        rec.hf_featured_on = seen.hf_featured_on
    return rec
