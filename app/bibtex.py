"""BibTeX for saved papers (`/papers saved bibtex`). Pure.

Every field value is LaTeX-escaped, so whatever a title holds (`{`, `%`, `&`, `_`, a stray `\\`)
the entry parses; a name containing the word "and" is braced so it stays one author.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any, Protocol

from app.paperids import abs_url

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "^": r"\^{}",
    "~": r"\~{}",
}
_SPECIAL_RE = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIAL))
_AND_RE = re.compile(r"\band\b", re.IGNORECASE)


class PaperLike(Protocol):
    arxiv_id: str | None  # entries are arXiv-style: exporting a paper without one is a bug
    title: str
    authors: list[dict[str, Any]]
    primary_category: str | None
    doi: str | None
    journal_ref: str | None


def escape_latex(text: str | None) -> str:
    """Escape LaTeX specials and flatten whitespace (titles arrive with line breaks)."""
    text = " ".join((text or "").split())
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return _SPECIAL_RE.sub(lambda m: _LATEX_SPECIAL[m.group(0)], text)


def _author(name: str) -> str:
    escaped = escape_latex(name)
    # "Anderson and Sons Lab": braces keep BibTeX from splitting it into two authors.
    return "{" + escaped + "}" if _AND_RE.search(name) else escaped


def _key(paper: PaperLike, year: str) -> str:
    first = (paper.authors or [{}])[0].get("name", "") if paper.authors else ""
    last = first.split()[-1] if first.split() else "anon"
    ascii_last = unicodedata.normalize("NFKD", last).encode("ascii", "ignore").decode().lower()
    ascii_last = re.sub(r"[^a-z]", "", ascii_last) or "anon"
    word = next(
        (w for w in re.findall(r"[A-Za-z]+", paper.title or "") if len(w) > 3), "paper"
    ).lower()
    return f"{ascii_last}{year}{word}"


def _arxiv_id(paper: PaperLike) -> str:
    if paper.arxiv_id is None:
        raise ValueError(f"no arXiv id to cite {paper.title!r} by")
    return paper.arxiv_id


def _year(paper: PaperLike) -> str:
    published = getattr(paper, "published", None)
    if published:
        return str(published.year)
    # New-style ids start with yymm; old-style ones (cs/0601001) carry it after the slash.
    digits = _arxiv_id(paper).split("/")[-1][:2]
    if not digits.isdigit():
        return ""
    return ("19" if int(digits) > 90 else "20") + digits


def entry(paper: PaperLike, *, key: str | None = None) -> str:
    """One `@misc` entry in the arXiv style (eprint, archivePrefix, primaryClass)."""
    year = _year(paper)
    names = [a.get("name", "") for a in (paper.authors or []) if a.get("name")]
    fields = [
        ("title", "{" + escape_latex(paper.title) + "}"),
        ("author", " and ".join(_author(n) for n in names) or "{Anonymous}"),
        *([("year", year)] if year else []),
        ("eprint", escape_latex(_arxiv_id(paper))),
        ("archivePrefix", "arXiv"),
    ]
    if paper.primary_category:
        fields.append(("primaryClass", escape_latex(paper.primary_category)))
    if paper.doi:
        fields.append(("doi", escape_latex(paper.doi)))
    if paper.journal_ref:
        fields.append(("note", escape_latex(paper.journal_ref)))
    fields.append(("url", abs_url(_arxiv_id(paper))))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key or _key(paper, year)},\n{body}\n}}"


def export(papers: Iterable[PaperLike]) -> str:
    """Entries for all papers, with citation keys made unique (`smith2024attention`, `...b`)."""
    seen: dict[str, int] = {}
    entries = []
    for paper in papers:
        base = _key(paper, _year(paper))
        count = seen.get(base, 0)
        seen[base] = count + 1
        key = base if count == 0 else f"{base}{chr(ord('a') + min(count, 25))}"
        entries.append(entry(paper, key=key))
    return "\n\n".join(entries) + ("\n" if entries else "")
