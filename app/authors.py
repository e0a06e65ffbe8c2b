"""Following authors: `/papers follow author "Yann LeCun"` and `paperboy follow --author`.

A name is looked up on Semantic Scholar's author search first:
- one plausible person -> followed with their S2 id (the ingest then also reads their S2 list);
- several -> `Ambiguous` with up to MAX_CANDIDATES of them (affiliations, paper counts), and the
  user picks one (a button in Slack, `--s2-author-id` or a numbered prompt in the CLI);
- none, or S2 unreachable -> followed by name only (arXiv's `au:` query), with a one-line note.

"Plausible" is the name rule of app/author_names.py (S2's search is fuzzy: "Yann LeCun" also
finds a "Yann Le Cun" profile with two papers). S2 splits prolific people into stray profiles
with a handful of papers; a profile with under a tenth of the top candidate's papers is taken
for one of those and not offered, so a famous name stays one clear candidate.

Used by the CLI and the Slack commands alike, so both behave the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.orm import Session

from app import author_names
from app.db import authors as authors_db
from app.db.models import ChannelAuthor
from app.errors import SourceError, UserInputError

log = logging.getLogger(__name__)

MAX_CANDIDATES = 5
SEARCH_LIMIT = 20
# Profiles below this share of the top candidate's paper count are taken for stray duplicates.
STRAY_SHARE = 0.1
S2_DOWN_NOTE = "Semantic Scholar didn't answer, so I follow this name on arXiv only."
S2_UNKNOWN_NOTE = "Semantic Scholar doesn't know this name, so I follow it on arXiv only."


class AuthorDirectory(Protocol):
    """What following needs of Semantic Scholar (app/sources/semantic_scholar.py)."""

    def search_authors(self, name: str, *, limit: int = 10) -> list[dict[str, object]]: ...


@dataclass(frozen=True, slots=True)
class Candidate:
    s2_author_id: str
    name: str
    affiliations: tuple[str, ...] = ()
    paper_count: int = 0
    h_index: int = 0

    def describe(self) -> str:
        """ "Yann LeCun — New York University, Meta · 512 papers, h-index 140" (plain text)."""
        where = ", ".join(self.affiliations[:2]) or "affiliation unknown"
        noun = "paper" if self.paper_count == 1 else "papers"
        return f"{self.name} — {where} · {self.paper_count} {noun}, h-index {self.h_index}"


@dataclass(frozen=True)
class Lookup:
    """What Semantic Scholar said about a name: `chosen` (one clear person), `candidates`
    (several: the user picks), or neither with a `note` (follow by name only)."""

    name: str
    chosen: Candidate | None = None
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)
    note: str | None = None

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1


def look_up(directory: AuthorDirectory | None, *, name: str) -> Lookup:
    """Resolve a typed name on Semantic Scholar (see the module docstring)."""
    name = author_names.clean_name(name)
    if directory is None:
        return Lookup(name, note=S2_DOWN_NOTE)
    try:
        found = directory.search_authors(name, limit=SEARCH_LIMIT)
    except SourceError as exc:  # S2Unavailable: follow by name, say so
        log.info("author search for %r failed: %s", name, exc)
        return Lookup(name, note=S2_DOWN_NOTE)
    plausible = [c for c in map(_candidate, found) if c and author_names.matches(name, c.name)]
    plausible.sort(key=lambda c: (-c.paper_count, c.s2_author_id))
    if plausible:
        top = plausible[0].paper_count
        plausible = [c for c in plausible if c.paper_count >= top * STRAY_SHARE]
    if not plausible:
        return Lookup(name, note=S2_UNKNOWN_NOTE)
    if len(plausible) == 1:
        return Lookup(name, chosen=plausible[0])
    return Lookup(name, candidates=tuple(plausible[:MAX_CANDIDATES]))


def follow(
    session: Session,
    *,
    channel_id: str,
    name: str,
    s2_author_id: str | None = None,
    created_by: str | None = None,
    timezone: str | None = None,
) -> tuple[ChannelAuthor, bool]:
    """(follow, created): the channel follows the author (the channel is created when new)."""
    name = author_names.clean_name(name)
    s2_author_id = _clean_s2_id(s2_author_id)
    return authors_db.add_follow(
        session,
        channel_id=channel_id,
        name=name,
        arxiv_query=author_names.arxiv_query(name),
        s2_author_id=s2_author_id,
        created_by=created_by,
        timezone=timezone,
    )


def unfollow(session: Session, *, channel_id: str, name: str) -> str:
    """Stop following; the stored name. UserInputError when the channel did not follow them."""
    name = author_names.clean_name(name)
    removed = authors_db.remove_follow(session, channel_id=channel_id, name=name)
    if removed is None:
        raise UserInputError(f"This channel doesn't follow the author {name}.")
    return removed


def _clean_s2_id(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not value.isdigit() or len(value) > 64:
        raise UserInputError(f"{value[:40]!r} isn't a Semantic Scholar author id (digits only).")
    return value


def _candidate(item: dict[str, object]) -> Candidate | None:
    author_id, name = item.get("authorId"), item.get("name")
    if not isinstance(author_id, str) or not author_id.strip().isdigit():
        return None
    if not isinstance(name, str) or not name.strip():
        return None
    affiliations = item.get("affiliations")
    return Candidate(
        s2_author_id=author_id.strip(),
        name=" ".join(name.split())[: author_names.MAX_NAME],
        affiliations=tuple(
            " ".join(a.split())[:120] for a in affiliations or [] if isinstance(a, str) and a
        )
        if isinstance(affiliations, list)
        else (),
        paper_count=_int(item.get("paperCount")),
        h_index=_int(item.get("hIndex")),
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0
