"""`paperboy follow --author` / `paperboy unfollow --author`: author follows from a shell, the
same use case as `/papers follow author` in Slack (app/authors.py).

An ambiguous name prints the Semantic Scholar candidates (id, affiliations, paper counts): on a
terminal it asks for a number, otherwise it exits 1 asking for `--s2-author-id ID`.
"""

from __future__ import annotations

import sys

import typer

from app import authors as author_service
from app.cli._common import console, engine, runtime, settings
from app.db.engine import session_scope
from app.errors import UserInputError


def follow_author(channel: str, name: str, s2_author_id: str | None) -> None:
    """Follow `name` in `channel` (resolved on Semantic Scholar unless the id is given)."""
    note = None
    if s2_author_id is None:
        lookup = author_service.look_up(runtime().s2, name=name)
        note = lookup.note
        if lookup.ambiguous:
            chosen = _choose(lookup)
            name, s2_author_id = chosen.name, chosen.s2_author_id
        elif lookup.chosen is not None:
            name, s2_author_id = lookup.chosen.name, lookup.chosen.s2_author_id
    with session_scope(engine()) as session:
        row, created = author_service.follow(
            session, channel_id=channel, name=name, s2_author_id=s2_author_id,
            timezone=settings().paperboy_timezone,
        )  # fmt: skip
        shown, s2_id, query = row.name, row.s2_author_id, row.arxiv_query
    how = f"Semantic Scholar {s2_id}, arXiv {query}" if s2_id else f"arXiv {query}"
    again = "" if created else " (already followed)"
    console.print(f"{channel} follows the author {shown} ({how}){again}", markup=False)
    if note:
        console.print(note, markup=False, highlight=False)


def unfollow_author(channel: str, name: str) -> None:
    with session_scope(engine()) as session:
        removed = author_service.unfollow(session, channel_id=channel, name=name)
    console.print(f"{channel} no longer follows the author {removed}", markup=False)


def _choose(lookup: author_service.Lookup) -> author_service.Candidate:
    console.print(f"Several people are called {lookup.name} on Semantic Scholar:", markup=False)
    for i, candidate in enumerate(lookup.candidates, start=1):
        console.print(f"  {i}. [{candidate.s2_author_id}] {candidate.describe()}", markup=False)
    if not sys.stdin.isatty():
        raise UserInputError(
            f"{lookup.name!r} is ambiguous: run again with --s2-author-id ID (one of the above)"
        )
    picked = typer.prompt("Which one? (number)", type=int)
    if not 1 <= picked <= len(lookup.candidates):
        raise UserInputError(f"pick a number from 1 to {len(lookup.candidates)}")
    return lookup.candidates[picked - 1]
