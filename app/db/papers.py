"""Storing papers: identity resolution, batched upserts with merge rules, provenance, lookups.

Identity: a record names its paper by external ids (arXiv, DOI, OpenReview ...). Records of one
batch sharing any id are one paper; an id already in `paper_external_ids` names the stored row.
So a paper first seen by its DOI alone keeps its row (and its summaries, votes ...) when arXiv
later reports that DOI with an arXiv id. New ids go into the map in the same transaction.

Merge rules (app/db/paper_sql.py), per source priority (each source declares its own):
- A record from a higher-priority source owns the metadata; equal priority with a version at
  least the stored one too. The owner's values replace stored ones, but a value it lacks never
  wipes a known one. `papers.metadata_source` records the owner.
- A lower-priority record (or an older version) only fills what is still unknown.
- Signals (Hugging Face upvotes, stars ...) go to `paper_signals`, one row per paper and source.
- `last_changed_at` moves only when a stored value actually changes.

Speed matters (the benchmark pushes 100k papers through here): one INSERT ... SELECT FROM
unnest(arrays) per ~1000 records, counts computed in SQL from `xmax = 0` (true only for freshly
inserted tuples), no ORM objects.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, select
from sqlalchemy.orm import Session, aliased

from app.db import paper_sql as sql
from app.db.models import Paper, PaperExternalId, PaperSignal
from app.paperids import split_version
from app.sources.records import PaperRecord

log = logging.getLogger(__name__)

CHUNK = 1000


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    paper_ids: frozenset[int] = frozenset()  # every paper the records resolved to

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


def upsert_papers(
    session: Session, *, records: Iterable[PaperRecord], run_id: int | None = None
) -> UpsertCounts:
    """Insert or merge `records` into `papers` and record provenance. The caller commits.

    Safe to call from several sessions at once: identity resolution takes a transaction-level
    advisory lock, so concurrent calls take turns."""
    session.flush()  # the statements below bypass the ORM: pending objects go first
    usable = [r for r in records if r.identities()]
    if not usable:
        return UpsertCounts()
    sql.execute(session, sql.LOCK_SQL)
    groups = _group(usable)
    known, mapped = _lookup(session, {key for group in groups for r in group for key in _keys(r)})
    fresh = iter(_allocate(session, sum(1 for g in groups if not _matches(g, known))))
    resolved: list[tuple[int, list[PaperRecord]]] = []
    for group in groups:
        matches = _matches(group, known)
        if len(matches) > 1:  # two stored papers share ids: keep the oldest, don't merge rows
            log.warning("records %s name several stored papers %s", _keys(group[0]), matches)
        resolved.append((min(matches) if matches else next(fresh), group))
    resolved.sort(key=lambda item: item[0])  # a fixed lock order across concurrent calls

    inserted, updated = _write_papers(session, resolved, known)
    _write_ids(session, resolved, known, mapped)
    updated |= _write_signals(session, resolved)  # a new or changed signal updates its paper
    updated -= inserted
    _record_sightings(session, resolved, run_id)
    _expire_loaded(session, inserted | updated)
    return UpsertCounts(
        inserted=len(inserted),
        updated=len(updated),
        unchanged=len(resolved) - len(inserted) - len(updated),
        paper_ids=frozenset(pid for pid, _ in resolved),
    )


def get_paper(session: Session, *, arxiv_id: str) -> Paper | None:
    """The stored paper for an arXiv id, with or without its version suffix."""
    try:
        key, _ = split_version(arxiv_id)
    except ValueError:
        return None
    return session.scalars(select(Paper).where(Paper.arxiv_id == key)).one_or_none()


def get_paper_by_id(session: Session, *, paper_id: int) -> Paper | None:
    return session.get(Paper, paper_id)


def find_paper(session: Session, *, scheme: str, value: str) -> Paper | None:
    """The stored paper an external id (scheme "arxiv", "doi", "openreview" ...) names."""
    if scheme == "doi":
        value = value.strip().lower()
    return session.scalars(
        select(Paper)
        .join(PaperExternalId, PaperExternalId.paper_id == Paper.id)
        .where(PaperExternalId.scheme == scheme, PaperExternalId.value == value)
    ).one_or_none()


def external_ids(session: Session, *, paper_id: int) -> dict[str, str]:
    rows = session.execute(
        select(PaperExternalId.scheme, PaperExternalId.value).where(
            PaperExternalId.paper_id == paper_id
        )
    )
    return dict(rows.all())


def arxiv_id_of(paper: Paper) -> str:
    """The arXiv id of a paper where only arXiv papers can reach (cards, summaries, search hits,
    digests are keyed by it); a paper known only by another id there is a bug, said loudly."""
    if paper.arxiv_id is None:
        raise ValueError(f"paper {paper.id} has no arXiv id")
    return paper.arxiv_id


def paper_key(arxiv_id: str) -> ScalarSelect[int]:
    """`papers.id` of an arXiv id, as a subquery: `Summary.paper_id == paper_key(x)`."""
    return select(Paper.id).where(Paper.arxiv_id == arxiv_id).scalar_subquery()


def paper_keys(arxiv_ids: Iterable[str]) -> Select[int]:
    """`papers.id` of several arXiv ids, for `.in_(paper_keys(ids))`."""
    return select(Paper.id).where(Paper.arxiv_id.in_(list(arxiv_ids)))


def signal_join(source: str) -> tuple[type[PaperSignal], ColumnElement[bool]]:
    """An alias of `paper_signals` for one source and its ON clause, for an outer join that
    reads that source's signals next to papers: `.outerjoin(hf, on)`, `hf.data["upvotes"]`."""
    alias = aliased(PaperSignal, name=f"signal_{source}")
    return alias, and_(alias.paper_id == Paper.id, alias.source == source)


# --- identity ------------------------------------------------------------------------------


def _keys(record: PaperRecord) -> list[tuple[str, str]]:
    return [(scheme, value[:255]) for scheme, value in record.identities().items()]


def _group(records: Sequence[PaperRecord]) -> list[list[PaperRecord]]:
    """Records sharing any external id, together (union-find over the ids)."""
    parent = list(range(len(records)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, str], int] = {}
    for i, record in enumerate(records):
        for key in _keys(record):
            if key in owner:
                parent[root(i)] = root(owner[key])
            else:
                owner[key] = i
    groups: dict[int, list[PaperRecord]] = {}
    for i, record in enumerate(records):
        groups.setdefault(root(i), []).append(record)
    return list(groups.values())


def _lookup(
    session: Session, keys: set[tuple[str, str]]
) -> tuple[dict[tuple[str, str], int], set[tuple[str, str]]]:
    """Stored papers the keys name, and which keys the map already holds."""
    ordered = sorted(keys)
    known: dict[tuple[str, str], int] = {}
    mapped: set[tuple[str, str]] = set()
    for start in range(0, len(ordered), CHUNK * 5):
        chunk = ordered[start : start + CHUNK * 5]
        params = {
            "scheme": [s for s, _ in chunk],
            "value": [v for _, v in chunk],
            "arxiv": [v for s, v in chunk if s == "arxiv"],
        }
        for scheme, value, paper_id, in_map in sql.execute(session, sql.LOOKUP_SQL, params):
            if in_map or (scheme, value) not in known:
                known[(scheme, value)] = paper_id
            if in_map:
                mapped.add((scheme, value))
    return known, mapped


def _matches(group: list[PaperRecord], known: dict[tuple[str, str], int]) -> set[int]:
    return {known[key] for r in group for key in _keys(r) if key in known}


def _allocate(session: Session, count: int) -> list[int]:
    if not count:
        return []
    return [row[0] for row in sql.execute(session, sql.ALLOCATE_SQL, (count,))]


# --- writes --------------------------------------------------------------------------------


def _write_papers(
    session: Session,
    resolved: list[tuple[int, list[PaperRecord]]],
    known: dict[tuple[str, str], int],
) -> tuple[set[int], set[int]]:
    """Upsert each paper's records, lowest priority (then version) first, so the owner's values
    land last. One statement per round: a row can be touched once per statement."""
    rounds: list[list[tuple[int, PaperRecord, str | None]]] = []
    for paper_id, group in resolved:
        arxiv_id = _arxiv_id_of(paper_id, group, known)
        ordered = sorted(group, key=lambda r: (r.priority, r.version or 1))
        for i, record in enumerate(ordered):
            if len(rounds) <= i:
                rounds.append([])
            rounds[i].append((paper_id, record, arxiv_id))
    inserted: set[int] = set()
    updated: set[int] = set()
    for rows in rounds:
        for start in range(0, len(rows), CHUNK):
            params = sql.paper_columns(rows[start : start + CHUNK])
            for paper_id, was_inserted in sql.execute(session, sql.PAPERS_SQL, params):
                (inserted if was_inserted else updated).add(paper_id)
    return inserted, updated


def _arxiv_id_of(
    paper_id: int, group: list[PaperRecord], known: dict[tuple[str, str], int]
) -> str | None:
    """The group's arXiv id, unless the map already gives it to another paper."""
    for record in group:
        if record.arxiv_id and known.get(("arxiv", record.arxiv_id), paper_id) == paper_id:
            return record.arxiv_id
    return None


def _write_ids(
    session: Session,
    resolved: list[tuple[int, list[PaperRecord]]],
    known: dict[tuple[str, str], int],
    mapped: set[tuple[str, str]],
) -> None:
    new = sorted(
        {key: paper_id for paper_id, group in resolved for r in group for key in _keys(r)}.items()
    )
    new = [
        (key, paper_id)
        for key, paper_id in new
        if key not in mapped and known.get(key, paper_id) == paper_id
    ]
    for start in range(0, len(new), CHUNK * 5):
        chunk = new[start : start + CHUNK * 5]
        params = {
            "scheme": [s for (s, _), _ in chunk],
            "value": [v for (_, v), _ in chunk],
            "paper_id": [p for _, p in chunk],
        }
        sql.execute(session, sql.EXTERNAL_IDS_SQL, params)


def _write_signals(session: Session, resolved: list[tuple[int, list[PaperRecord]]]) -> set[int]:
    merged: dict[tuple[int, str], dict[str, Any]] = {}
    for paper_id, group in resolved:
        for record in group:
            data = {k: v for k, v in record.signals.items() if v is not None}
            if data:
                merged[(paper_id, record.provider)] = _merge_signals(
                    merged.get((paper_id, record.provider)), data
                )
    rows = sorted(merged.items())
    changed: set[int] = set()
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        params = {
            "paper_id": [p for (p, _), _ in chunk],
            "source": [s for (_, s), _ in chunk],
            "data": [json.dumps(d, sort_keys=True) for _, d in chunk],
        }
        changed |= {row[0] for row in sql.execute(session, sql.SIGNALS_SQL, params)}
    return changed


def _merge_signals(seen: dict[str, Any] | None, data: dict[str, Any]) -> dict[str, Any]:
    """Two sightings in one batch (daily + trending): keep every value, the earliest `first_*`."""
    if seen is None:
        return data
    out = {**seen, **data}
    for key, value in seen.items():
        if key.startswith("first_") and key in data:
            out[key] = min(value, data[key])
    return out


def _record_sightings(
    session: Session, resolved: list[tuple[int, list[PaperRecord]]], run_id: int | None
) -> None:
    keys = sorted({(pid, r.source, r.source_key[:255]) for pid, group in resolved for r in group})
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        params = {
            "paper_id": [p for p, _, _ in chunk],
            "source": [s for _, s, _ in chunk],
            "source_key": [k for _, _, k in chunk],
            "run_id": run_id,
        }
        sql.execute(session, sql.SIGHTINGS_SQL, params)


def _expire_loaded(session: Session, paper_ids: set[int]) -> None:
    """Papers (and signals) this session already loaded are stale now: reload on next access."""
    # the map is a _WeakInstanceDict, whose items() SQLAlchemy's declared IdentityMap lacks
    for key, obj in list(session.identity_map.items()):  # type: ignore[attr-defined]
        # key = (class, primary key tuple, token): no attribute access, so no reload here
        if key[0] in (Paper, PaperSignal) and key[1][0] in paper_ids:
            session.expire(obj)
