"""Recognise arXiv identifiers in ids, links and free text (Slack messages, slash commands)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from app.safety import is_allowed_url

# New style 2210.03629 (4+4 or 4+5 digits), old style cs/0601001 or astro-ph.CO/0601001.
_NEW = r"\d{4}\.\d{4,5}"
_OLD = r"[a-z\-]+(?:\.[A-Z]{2})?/\d{7}"
_ID = rf"(?P<id>{_NEW}|{_OLD})(?:v(?P<version>\d+))?"
ID_RE = re.compile(rf"^{_ID}$", re.IGNORECASE)
_PATH_RE = re.compile(rf"^/(?:abs|pdf|html|papers|api/papers)/{_ID}(?:\.pdf)?/?$", re.IGNORECASE)
_BARE_IN_TEXT = re.compile(rf"(?<![\w./]){_NEW}(?:v\d+)?(?![\w])")
_URL_IN_TEXT = re.compile(r"<?(https?://[^\s<>|]+)(?:\|[^>]*)?>?")


def abs_url(arxiv_id: str) -> str:
    """The paper's arXiv page: the one link every surface (Slack, search, BibTeX) gives."""
    return f"https://arxiv.org/abs/{quote(arxiv_id, safe='/.-')}"


def pdf_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/pdf/{quote(arxiv_id, safe='/.-')}"


def split_version(raw: str) -> tuple[str, int | None]:
    """'2210.03629v2' -> ('2210.03629', 2); raises ValueError when not an arXiv id."""
    match = ID_RE.match(raw.strip())
    if not match:
        raise ValueError(f"not an arXiv id: {raw!r}")
    version = match.group("version")
    return match.group("id"), int(version) if version else None


def id_from_url(url: str) -> str | None:
    """The canonical arXiv id in an arXiv or Hugging Face paper URL, else None."""
    if not is_allowed_url(url):
        return None
    match = _PATH_RE.match(urlsplit(url).path)
    return match.group("id") if match else None


def find_urls(text: str) -> list[str]:
    """Every http(s) URL in a Slack message (which wraps links as <url> or <url|label>)."""
    return [m.group(1).rstrip(".,;)") for m in _URL_IN_TEXT.finditer(text or "")]


def find_paper_ids(text: str) -> list[str]:
    """Distinct arXiv ids mentioned in text, as links or bare ids, in order of appearance."""
    found: list[str] = []
    for url in find_urls(text):
        paper_id = id_from_url(url)
        if paper_id and paper_id not in found:
            found.append(paper_id)
    without_urls = _URL_IN_TEXT.sub(" ", text or "")
    for match in _BARE_IN_TEXT.finditer(without_urls):
        paper_id = split_version(match.group(0))[0]
        if paper_id not in found:
            found.append(paper_id)
    return found


def foreign_urls(text: str) -> list[str]:
    """URLs in text that point anywhere but arXiv or Hugging Face."""
    return [url for url in find_urls(text) if not is_allowed_url(url)]


def own_links(paper: Any) -> list[str]:
    """The paper's own links (its record's `links`, its code): besides the allowlist in
    app.safety, the only links its text and its summaries may show. Takes a row or a mapping."""

    def field(obj: Any, name: str) -> Any:
        return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)

    links = [str(field(link, "href") or "") for link in field(paper, "links") or []]
    return [u for u in (*links, str(field(paper, "hf_github_repo") or "")) if u]
