"""The SQL behind app/db/papers.py: batched unnest() upserts with per-source merge priority.

Each chunk travels as one array per column and is spread back into rows with unnest(): one small
statement per chunk instead of ~25 bind parameters per row, which keeps the client side cheap;
the server's tsvector computation is then most of the cost. Arrays go as binary parameters
(%(name)b): text-format arrays cost a regex escape per element, binary ones don't.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from app.sources.records import PaperRecord

_SEP = "chr(31)"  # lists of short strings travel joined by the ASCII unit separator
_SEP_CHAR = "\x1f"

# (column, SQL array type of its parameter, expression turning the unnested value into the
# column, the column's "unknown" value besides NULL: what a lower-priority source may fill)
_COLUMNS: tuple[tuple[str, str, str, str | None], ...] = (
    ("id", "bigint", "u.id", None),
    ("arxiv_id", "text", "u.arxiv_id", None),
    ("version", "int", "u.version", None),
    ("title", "text", "u.title", "''"),
    ("abstract", "text", "u.abstract", "''"),
    ("authors", "text", "CAST(u.authors AS jsonb)", "'[]'::jsonb"),
    ("categories", "text", f"string_to_array(u.categories, {_SEP})", "'{}'::varchar[]"),
    ("primary_category", "text", "u.primary_category", None),
    ("published", "timestamptz", "u.published", None),
    ("updated", "timestamptz", "u.updated", None),
    ("comment", "text", "u.comment", None),
    ("journal_ref", "text", "u.journal_ref", None),
    ("doi", "text", "u.doi", None),
    ("links", "text", "CAST(u.links AS jsonb)", "'[]'::jsonb"),
    ("metadata_source", "text", "u.metadata_source", None),
    ("metadata_priority", "smallint", "u.metadata_priority", None),
)
_META = [c for c, *_ in _COLUMNS[3:14]]

# The incoming record owns the metadata when its source ranks higher, or ranks the same and
# reports a version at least the stored one (an older version, a stale mirror or a late page,
# never overwrites a newer one).
_WINS = (
    "(EXCLUDED.metadata_priority > papers.metadata_priority OR "
    "(EXCLUDED.metadata_priority = papers.metadata_priority "
    "AND EXCLUDED.version >= papers.version))"
)


def _known(expr: str, unknown: str | None) -> str:
    return f"NULLIF({expr}, {unknown})" if unknown else expr


def _merged() -> dict[str, str]:
    """Per column: the owner's value where it has one, else the stored one; a lower-priority
    source only fills what is still unknown. Nobody wipes a known value."""
    values: dict[str, str] = {"arxiv_id": "COALESCE(papers.arxiv_id, EXCLUDED.arxiv_id)"}
    for column, _, _, unknown in _COLUMNS[3:14]:
        mine = f"COALESCE({_known(f'EXCLUDED.{column}', unknown)}, papers.{column})"
        theirs = f"COALESCE({_known(f'papers.{column}', unknown)}, EXCLUDED.{column})"
        values[column] = f"CASE WHEN {_WINS} THEN {mine} ELSE {theirs} END"
    for column in ("version", "metadata_source", "metadata_priority"):
        values[column] = f"CASE WHEN {_WINS} THEN EXCLUDED.{column} ELSE papers.{column} END"
    return values


def _papers_sql() -> str:
    names = ", ".join(c for c, *_ in _COLUMNS)
    exprs = ", ".join(e for _, _, e, _ in _COLUMNS)
    arrays = ", ".join(f"CAST(%({c})b AS {t}[])" for c, t, _, _ in _COLUMNS)
    values = _merged()
    sets = ", ".join(f"{c} = {e}" for c, e in values.items())
    # Only when something differs: a no-op keeps the row, its tsvector and the WAL untouched,
    # and `last_changed_at` moves only on real changes.
    changed = " OR ".join(f"papers.{c} IS DISTINCT FROM {e}" for c, e in values.items())
    return (
        f"INSERT INTO papers ({names}) SELECT {exprs} FROM unnest({arrays}) AS u({names}) "
        f"ON CONFLICT (id) DO UPDATE SET {sets}, last_changed_at = now() WHERE {changed} "
        "RETURNING id, (xmax = 0) AS inserted"
    )


PAPERS_SQL = _papers_sql()

# The map, and for arXiv ids also papers.arxiv_id: a row written outside upsert_papers (a test,
# a script) still names its paper, and gets its map entry on the next upsert (mapped = false).
LOOKUP_SQL = (
    "SELECT e.scheme, e.value, e.paper_id, true FROM paper_external_ids e "
    "JOIN unnest(CAST(%(scheme)b AS text[]), CAST(%(value)b AS text[])) AS u(scheme, value) "
    "ON e.scheme = u.scheme AND e.value = u.value "
    "UNION ALL SELECT 'arxiv', p.arxiv_id, p.id, false FROM papers p "
    "WHERE p.arxiv_id = ANY(CAST(%(arxiv)b AS text[]))"
)

ALLOCATE_SQL = "SELECT nextval(pg_get_serial_sequence('papers', 'id')) FROM generate_series(1, %s)"

EXTERNAL_IDS_SQL = (
    "INSERT INTO paper_external_ids (scheme, value, paper_id) "
    "SELECT * FROM unnest(CAST(%(scheme)b AS text[]), CAST(%(value)b AS text[]), "
    "CAST(%(paper_id)b AS bigint[])) ON CONFLICT DO NOTHING"
)

# A null never wipes (the data arrives stripped of nulls); `first_*` keys keep their first value.
_SIGNALS_MERGED = (
    "paper_signals.data || EXCLUDED.data || COALESCE((SELECT jsonb_object_agg(e.key, e.value) "
    "FROM jsonb_each(paper_signals.data) AS e WHERE e.key LIKE 'first\\_%%'), '{}'::jsonb)"
)
SIGNALS_SQL = (
    "INSERT INTO paper_signals (paper_id, source, data) "
    "SELECT u.paper_id, u.source, CAST(u.data AS jsonb) FROM unnest("
    "CAST(%(paper_id)b AS bigint[]), CAST(%(source)b AS text[]), CAST(%(data)b AS text[])) "
    "AS u(paper_id, source, data) "
    f"ON CONFLICT (paper_id, source) DO UPDATE SET data = {_SIGNALS_MERGED}, updated_at = now() "
    f"WHERE paper_signals.data IS DISTINCT FROM {_SIGNALS_MERGED} "
    "RETURNING paper_id"
)

SIGHTINGS_SQL = (
    "INSERT INTO paper_sources (paper_id, source, source_key, last_run_id) "
    "SELECT u.paper_id, u.source, u.source_key, CAST(%(run_id)b AS bigint) "
    "FROM unnest(CAST(%(paper_id)b AS bigint[]), CAST(%(source)b AS text[]), "
    "CAST(%(source_key)b AS text[])) "
    "AS u(paper_id, source, source_key) "
    "ON CONFLICT ON CONSTRAINT uq_paper_sources_key "
    "DO UPDATE SET last_seen_at = now(), last_run_id = EXCLUDED.last_run_id"
)

# Identity resolution reads the map, then writes to it: two ingests resolving at once could both
# create a row for one new paper. They take turns (until the caller commits) instead.
LOCK_SQL = "SELECT pg_advisory_xact_lock(7140285311)"


def execute(session: Session, sql: str, params: Any = None) -> list[Any]:
    """Run on the session's connection, so inside the caller's transaction."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def paper_columns(rows: Sequence[tuple[int, PaperRecord, str | None]]) -> dict[str, list[Any]]:
    """One list per column of PAPERS_SQL, from (paper id, record, the arXiv id to store)."""
    sep = _SEP_CHAR
    records = [r for _, r, _ in rows]
    return {
        "id": [pid for pid, _, _ in rows],
        "arxiv_id": [arxiv_id for _, _, arxiv_id in rows],
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
        "metadata_source": [r.provider for r in records],
        "metadata_priority": [r.priority for r in records],
    }
