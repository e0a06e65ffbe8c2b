"""arXiv's category taxonomy (the codes in arxiv_categories.txt beside this module). A leaf.

A topic's categories must be codes papers really carry, or its digest would silently stay
empty: `paperboy topic add --categories cs.CL,stat.ML` is checked here.
"""

from __future__ import annotations

import difflib
import functools
from pathlib import Path

# Beside this module, shipped as package data (pyproject.toml); `app` is a namespace package, so
# importlib.resources cannot read it as a single folder.
CATEGORIES_FILE = Path(__file__).with_name("arxiv_categories.txt")


@functools.cache
def arxiv_categories() -> frozenset[str]:
    text = CATEGORIES_FILE.read_text(encoding="utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def canonical(code: str) -> str | None:
    """The code as arXiv writes it ("CS.cl" -> "cs.CL"), or None when arXiv has no such code."""
    known = arxiv_categories()
    if code in known:
        return code
    lowered = code.lower()
    return next((k for k in sorted(known) if k.lower() == lowered), None)


def suggestion(code: str) -> str | None:
    """The nearest real code, for "did you mean" (None when nothing is close)."""
    close = difflib.get_close_matches(code, sorted(arxiv_categories()), n=1, cutoff=0.6)
    return close[0] if close else None
