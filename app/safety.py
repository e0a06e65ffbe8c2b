"""Make untrusted text (paper metadata, LLM output, user links) safe for Slack and for fetching.

Paper text and model output are data, never markup: nothing they contain may ping a channel or a
user, and no link they carry is followed unless it points at arXiv or Hugging Face.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

ALLOWED_HOSTS = ("arxiv.org", "huggingface.co")

# Zero-width joiner after "@" keeps "@channel" readable but inert in every Slack client.
_ZWJ = "\u2060"
_MASS_MENTION = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
# Slack's special syntax: <!channel>, <!here|...>, <@U123>, <#C123>, <!subteam^S1>, <http://x|y>.
_SLACK_ANGLE = re.compile(r"<[!@#][^>]*>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_URL = re.compile(
    r"""(?:https?://|www\.)[^\s<>"'\)\]]+"""
    # Bare domains that Slack turns into links on its own ("evil.example.com/x").
    r"""|\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|ai|co|dev|app|xyz|info|me|ly|gg|sh|to|cc|ru|cn"""
    r"""|uk|de|fr|us|biz|site|online|link|click|top|tk|ml|ga|cf)\b(?:/[^\s<>"'\)\]]*)?""",
    re.IGNORECASE,
)


def is_allowed_url(url: str) -> bool:
    """True only for http(s) links to arXiv or Hugging Face (or their subdomains)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or parts.username or parts.password:
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    return any(host == allowed or host.endswith("." + allowed) for allowed in ALLOWED_HOSTS)


def clean_text(text: str | None) -> str:
    """Normalise untrusted text for storage: NFC, no control characters, no Slack mention syntax.

    Used on everything the LLM writes and on paper metadata before it is stored, so stored text
    is already safe whatever renders it later.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    text = _SLACK_ANGLE.sub("", text)
    return defuse_mentions(text)


def defuse_mentions(text: str) -> str:
    """Break "@channel", "@here" and "@everyone" so no client treats them as a mass mention."""
    return _MASS_MENTION.sub(lambda m: "@" + _ZWJ + m.group(1), text)


def strip_foreign_links(text: str) -> str:
    """Remove URLs that do not point at arXiv or Hugging Face ("no links but the paper's own")."""

    def repl(match: re.Match[str]) -> str:
        url = match.group(0)
        candidate = url if url.lower().startswith("http") else "https://" + url
        return url if is_allowed_url(candidate) else "[link removed]"

    return _URL.sub(repl, text)


def escape_mrkdwn(text: str | None) -> str:
    """Escape for Slack mrkdwn: only &, < and > are special; mentions are defused too."""
    if not text:
        return ""
    text = _CONTROL.sub("", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return defuse_mentions(text)


def safe_llm_text(text: str | None) -> str:
    """Everything the model says, before it is stored: clean, and no foreign links."""
    return strip_foreign_links(clean_text(text))


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cut to at most `limit` characters without splitting an escape like `&amp;`."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(ellipsis))]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + ellipsis
