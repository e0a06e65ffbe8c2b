"""Make untrusted text (paper metadata, LLM output, user links) safe for Slack and for fetching.

Paper text and model output are data, never markup: nothing they contain may ping a channel or a
user, reorder what is shown (bidi controls and other invisible format characters are dropped),
or link anywhere but a short allowlist (default deny: arXiv, Hugging Face, GitHub, doi.org, and
the paper's own links). Nothing is fetched unless it points at arXiv or Hugging Face. URLs are
normalised (case, default port, dot segments, percent-encoded dots) before any host or prefix
check, so `<base>/../elsewhere` is seen for what it is.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

# Hosts Paperboy fetches from (with their subdomains).
ALLOWED_HOSTS = ("arxiv.org", "huggingface.co")
# Hosts a link shown in Slack may point at; every other link in untrusted text is removed.
LINK_HOSTS = (*ALLOWED_HOSTS, "github.com", "doi.org")
LINK_REMOVED = "[link removed]"

# Zero-width joiner after "@" keeps "@channel" readable but inert in every Slack client.
_ZWJ = "\u2060"
_MASS_MENTION = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
# Slack's special syntax: <!channel>, <!here|...>, <@U123>, <#C123>, <!subteam^S1>, <http://x|y>.
_SLACK_ANGLE = re.compile(r"<[!@#][^>]*>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ZERO_WIDTH_JOINER = "\u200d"  # kept: it holds emoji sequences together
_URL = re.compile(
    r"""(?:https?://|www\.)[^\s<>"'\)\]]+"""
    # Bare domains, which Slack turns into links on its own ("evil.zip/login", "phish.pw"):
    # any name ending in a dot and two or more letters, since new TLDs appear all the time.
    r"""|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}\b(?:/[^\s<>"'\)\]]*)?""",
    re.IGNORECASE,
)


def strip_invisible(text: str) -> str:
    """Drop control characters and invisible format characters (Unicode category Cf: bidi
    overrides and isolates U+202A-E, U+2066-9, zero-width spaces, ...), except the zero-width
    joiner inside emoji."""
    text = _CONTROL.sub("", text)
    return "".join(c for c in text if c == _ZERO_WIDTH_JOINER or unicodedata.category(c) != "Cf")


def normalize_url(url: str) -> str | None:
    """The URL with scheme and host lowercased, the default port dropped, and dot segments
    (also percent-encoded ones) resolved; None when it is not an absolute http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname.lower().rstrip(".")
    if parts.username or parts.password or any(c in host for c in "\\%@"):
        return None
    if ":" in host:  # IPv6: keep its brackets
        host = f"[{host}]"
    netloc = host if port in (None, 80 if scheme == "http" else 443) else f"{host}:{port}"
    path = re.sub(r"%2e", ".", parts.path, flags=re.IGNORECASE)
    if path:
        trailing = "/" if path.endswith(("/", "/.", "/..")) else ""
        path = posixpath.normpath("/" + path.lstrip("/")).lstrip("/")
        path = "/" + path + (trailing if path else "")
        path = path.replace("//", "/")
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def _host_in(url: str, hosts: Iterable[str]) -> bool:
    normal = normalize_url(url)
    if normal is None:
        return False
    host = (urlsplit(normal).hostname or "").lower()
    return any(host == allowed or host.endswith("." + allowed) for allowed in hosts)


def is_allowed_url(url: str) -> bool:
    """True only for http(s) links to arXiv or Hugging Face (or their subdomains)."""
    return _host_in(url, ALLOWED_HOSTS)


def is_link_allowed(url: str, own_links: Iterable[str] = ()) -> bool:
    """May this link be shown? arXiv, Hugging Face, GitHub, doi.org, or one of the paper's own."""
    if _host_in(url, LINK_HOSTS):
        return True
    normal = normalize_url(url)
    return normal is not None and normal in {normalize_url(link) for link in own_links}


def clean_text(text: str | None) -> str:
    """Normalise untrusted text for storage: NFC, no control characters, no Slack mention syntax.

    Used on everything the LLM writes and on paper metadata before it is stored, so stored text
    is already safe whatever renders it later.
    """
    if not text:
        return ""
    text = strip_invisible(unicodedata.normalize("NFC", text))
    text = _SLACK_ANGLE.sub("", text)
    return defuse_mentions(text)


def defuse_mentions(text: str) -> str:
    """Break "@channel", "@here" and "@everyone" so no client treats them as a mass mention."""
    return _MASS_MENTION.sub(lambda m: "@" + _ZWJ + m.group(1), text)


def strip_foreign_links(text: str, own_links: Iterable[str] = ()) -> str:
    """Remove every link but those `is_link_allowed` accepts (default deny)."""
    own = list(own_links)

    def repl(match: re.Match[str]) -> str:
        url = match.group(0)
        bare = url.rstrip(".,;:!?")  # sentence punctuation after a link is not part of it
        candidate = bare if bare.lower().startswith("http") else "https://" + bare
        return url if is_link_allowed(candidate, own) else LINK_REMOVED + url[len(bare) :]

    return _URL.sub(repl, text)


def escape_mrkdwn(text: str | None) -> str:
    """Escape for Slack mrkdwn: only &, < and > are special; mentions are defused, invisible
    format characters dropped."""
    if not text:
        return ""
    text = strip_invisible(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return defuse_mentions(text)


def escape_untrusted(text: str | None, own_links: Iterable[str] = ()) -> str:
    """Paper, topic and LLM text for Slack: escaped, and no link outside the allowlist."""
    if not text:
        return ""
    return escape_mrkdwn(strip_foreign_links(strip_invisible(text), own_links))


def safe_llm_text(text: str | None, own_links: Iterable[str] = ()) -> str:
    """Everything the model says, before it is stored: clean, and no foreign links."""
    return strip_foreign_links(clean_text(text), own_links)


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cut to at most `limit` characters without splitting an escape like `&amp;`."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(ellipsis))]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + ellipsis
