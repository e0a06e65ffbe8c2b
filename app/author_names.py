"""Author names: the one rule for "is this paper by the author a channel follows", and the arXiv
query that finds their papers. Pure: no database, no network.

A followed name is split into a surname and given names ("Yann LeCun", "LeCun, Yann", "Adrian
Del Maestro"). A paper's author matches when the surnames agree (accents, case, spaces and
hyphens aside) and the given names are compatible: same first initial, and the same first given
name when both spell it out. So "Yann LeCun" matches "Yann LeCun", "Y. LeCun" and "Yann A.
LeCun", but not "Yoav LeCun"; a surname alone ("LeCun") matches every LeCun.

The arXiv API's author field is searched in its surname_initial form (`au:LeCun_Y`, the form the
API manual's own `au:del_maestro` example uses): it finds the author however arXiv lists the
given name ("Yann", "Y."), which a quoted full-name phrase does not. Its few false friends (a
"Yoav LeCun") are stored like any other paper but only the rule above puts a paper in a digest.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from app.errors import UserInputError

MAX_NAME = 200  # channel_authors.name is String(200)
# Lowercase particles that belong to the surname: "Adrian Del Maestro" -> "Del Maestro".
_PARTICLES = frozenset(
    [
        "da",
        "das",
        "de",
        "del",
        "della",
        "der",
        "di",
        "do",
        "dos",
        "du",
        "la",
        "le",
        "st",
        "ten",
        "ter",
        "van",
        "vander",
        "von",
        "zu",
    ]
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class AuthorName:
    surname: str  # as typed: "LeCun", "Del Maestro"
    given: str  # as typed, possibly empty: "Yann", "Y. A."

    @property
    def surname_key(self) -> str:
        return _key(self.surname)

    @property
    def first_given(self) -> str:
        """The first given name, folded and without dots ("" when there is none)."""
        words = fold(self.given).replace(".", " ").split()
        return words[0] if words else ""


def clean_name(text: str) -> str:
    """A name as a user typed it, tidied; UserInputError when it cannot be a person's name."""
    name = " ".join((text or "").strip().strip("\"'“”").split())
    if not name:
        raise UserInputError('Which author? Try `/papers follow author "Yann LeCun"`.')
    if len(name) > MAX_NAME:
        raise UserInputError(f"Author names are at most {MAX_NAME} characters.")
    if _CONTROL.search(name) or not any(c.isalpha() for c in name):
        raise UserInputError(f"{name[:60]!r} doesn't look like an author's name.")
    if any(c in name for c in '<>`*_~|"') or "://" in name:
        raise UserInputError("An author's name is just the name, e.g. `Yann LeCun`.")
    return name


def fold(text: str) -> str:
    """Lowercase ASCII without accents: "Lécun" -> "lecun"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _key(text: str) -> str:
    return _NOT_WORD.sub("", fold(text))


def split_name(name: str) -> AuthorName:
    """ "LeCun, Yann" and "Yann LeCun" -> AuthorName("LeCun", "Yann")."""
    name = " ".join(name.split())
    if "," in name:
        surname, _, given = name.partition(",")
        return AuthorName(surname.strip(), given.strip())
    words = name.split(" ")
    start = len(words) - 1
    while start > 1 and words[start - 1].lower() in _PARTICLES:
        start -= 1
    return AuthorName(" ".join(words[start:]), " ".join(words[:start]))


def arxiv_query(name: str) -> str:
    """The arXiv API query for the author's papers: `au:LeCun_Y`, `au:Del_Maestro_A`, or the
    surname alone when no given name is known."""
    parsed = split_name(name)
    surname = "_".join(w for w in re.split(r"[^A-Za-z0-9]+", fold_keep_case(parsed.surname)) if w)
    if not surname:  # a name in a script arXiv does not index by: search it as typed
        return f'au:"{parsed.surname}"'
    initial = _key(parsed.given)[:1]
    return f"au:{surname}_{initial.upper()}" if initial else f"au:{surname}"


def fold_keep_case(text: str) -> str:
    """Accents removed, case kept: "Lécun" -> "Lecun"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def matches(followed: str, author: str) -> bool:
    """Whether the paper author `author` is the followed author `followed` (see module doc)."""
    want, got = split_name(followed), split_name(author)
    if not want.surname_key or want.surname_key != got.surname_key:
        return False
    a, b = want.first_given, got.first_given
    if not a or not b:
        return True
    if a[0] != b[0]:
        return False
    return len(a) == 1 or len(b) == 1 or a == b


def any_match(followed: str, authors: list[str]) -> bool:
    return any(matches(followed, a) for a in authors)


def surname_hint(name: str) -> str:
    """A substring every matching author list contains (as stored), for a cheap SQL prefilter:
    the longest word of the surname as typed."""
    words = re.split(r"[\s\-]+", split_name(name).surname)
    return max(words, key=len) if words else name
