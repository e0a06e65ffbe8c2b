"""Parse the text after `/papers` into a typed command. Pure: no database, no Slack.

Bad input raises `UserInputError` (or `UnsafeLinkError` for links Paperboy won't fetch) whose
message is the one short line shown back to the user.
"""

from __future__ import annotations

import html
import re
import shlex
from dataclasses import dataclass
from urllib.parse import urlsplit

from app import author_names, schedule
from app.errors import UnsafeLinkError, UserInputError
from app.paperids import find_urls, id_from_url, split_version
from app.safety import escape_mrkdwn, is_allowed_url, strip_invisible

# (usage, what it does): `/papers help` prints these; tests/test_docs_slack.py checks README.
SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("help", "this list"),
    ("topic TEXT", "the top papers in the archive for TEXT (`+` means AND, e.g. `LLM+search`)"),
    ("search TEXT", "same as `topic`; a bare `/papers TEXT` searches too"),
    ("follow TOPIC", "follow TOPIC in this channel (created if new)"),
    ("unfollow TOPIC", "stop following TOPIC in this channel"),
    ("topics", "the topics and authors this channel follows"),
    ('follow author "NAME"', "this channel's digests bring the author's new papers"),
    ('unfollow author "NAME"', "stop following the author in this channel"),
    ('schedule "CRON" TIMEZONE', 'when digests post, e.g. `schedule "0 9 * * 1-5" Europe/Berlin`'),
    ("digest now", "post a digest to this channel now"),
    ("settings", "topics, schedule, size, quiet-day notices and style in a form"),
    ("paper ID_OR_URL", "one paper's card: an arXiv id or an arXiv / Hugging Face link"),
    (
        "related ID_OR_URL",
        "related papers from the archive and Semantic Scholar: an arXiv id or link, a DOI or a "
        "Semantic Scholar link",
    ),
    ("saved", "the papers you saved"),
    ("saved bibtex", "your saved papers as BibTeX"),
)
# First words of every subcommand, in help order.
SUBCOMMAND_NAMES: tuple[str, ...] = tuple(dict.fromkeys(u.split()[0] for u, _ in SUBCOMMANDS))

MAX_QUERY_CHARS = 300
MAX_TOPIC_CHARS = 200  # topics.name is String(200)

REFUSE_LINK = (
    "Sorry, I only read papers from arXiv and Hugging Face, so I won't open {host}. "
    "Try the paper's arXiv link or id instead."
)


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Search:
    text: str


@dataclass(frozen=True)
class Follow:
    topic: str


@dataclass(frozen=True)
class Unfollow:
    topic: str


@dataclass(frozen=True)
class Topics:
    pass


@dataclass(frozen=True)
class FollowAuthor:
    name: str


@dataclass(frozen=True)
class UnfollowAuthor:
    name: str


@dataclass(frozen=True)
class Schedule:
    cron: str  # validated and normalised by app.schedule
    timezone: str | None  # None: keep the channel's current zone
    typed: str  # what the user typed, shown back


@dataclass(frozen=True)
class DigestNow:
    pass


@dataclass(frozen=True)
class OpenSettings:
    pass


@dataclass(frozen=True)
class PaperLookup:
    arxiv_id: str


@dataclass(frozen=True)
class Related:
    ref: str  # an arXiv id, "DOI:10…" or "S2:<40 hex digits>" (related_ref)


@dataclass(frozen=True)
class Saved:
    bibtex: bool = False


Command = (
    Help
    | Search
    | Follow
    | Unfollow
    | Topics
    | FollowAuthor
    | UnfollowAuthor
    | Schedule
    | DigestNow
    | OpenSettings
    | PaperLookup
    | Related
    | Saved
)

CONTROL_CHARACTERS = (
    "That has control or invisible characters in it; please type it again without them."
)
# Slack clients "smarten" quotes; cron strings arrive with “ ” as often as with ".
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})


def parse(text: str | None) -> Command:
    """Turn `/papers` text into a command; raises UserInputError with a short message."""
    # Slack sends &, <, > escaped and may wrap links as <url|label>: undo both for parsing.
    raw = _unwrap_links(text or "").translate(_QUOTES).strip()
    if not raw:
        return Help()
    if strip_invisible(raw) != raw:  # NUL, bidi overrides...: bad input like any other
        raise UserInputError(CONTROL_CHARACTERS)
    head, _, rest = raw.partition(" ")
    word, rest = head.lower(), rest.strip()
    if word in ("help", "-h", "--help", "?"):
        return Help()
    if word in ("topic", "search"):
        if not rest:
            raise UserInputError(f"What should I search for? Try `/papers {word} LLM+search`.")
        return Search(_query(rest))
    if word in ("follow", "unfollow") and rest.lower().split(" ", 1)[0] == "author":
        name = author_names.clean_name(rest.partition(" ")[2])
        return FollowAuthor(name) if word == "follow" else UnfollowAuthor(name)
    if word in ("follow", "unfollow"):
        topic = _topic(rest, word)
        return Follow(topic) if word == "follow" else Unfollow(topic)
    if word == "topics":
        return Topics()
    if word == "schedule":
        return parse_schedule(rest)
    if word == "digest":
        if rest.lower() != "now":
            raise UserInputError("Did you mean `/papers digest now`?")
        return DigestNow()
    if word == "settings":
        return OpenSettings()
    if word == "paper":
        if not rest:
            raise UserInputError("Which paper? Try `/papers paper 2210.03629` or an arXiv link.")
        return PaperLookup(paper_id(rest))
    if word == "related":
        if not rest:
            raise UserInputError("Related to which paper? Try `/papers related 2210.03629`.")
        return Related(related_ref(rest))
    if word == "saved":
        if rest.lower() in ("", "list"):
            return Saved()
        if rest.lower() in ("bibtex", "bib", "export"):
            return Saved(bibtex=True)
        raise UserInputError("Try `/papers saved` or `/papers saved bibtex`.")
    # A bare id or paper link is a lookup; anything else is a search.
    if " " not in raw and (_looks_like_id(raw) or raw.lower().startswith(("http://", "https://"))):
        return PaperLookup(paper_id(raw))
    return Search(_query(raw))


def related_ref(text: str) -> str:
    """What `related` takes: an arXiv id or link (`paper_id`), a DOI ("10.1145/…", "doi:…", a
    doi.org link; arXiv's own DOIs become the arXiv id) as "DOI:10.1145/…", or a Semantic
    Scholar paper (its 40-hex id or www.semanticscholar.org link) as "S2:<id>". Those links are
    only read for their id, never fetched."""
    value = _unwrap_links(text).strip().strip("<>")
    if found := _S2_URL.fullmatch(value) or _S2_ID.fullmatch(value):
        return f"S2:{found[1].lower()}"
    if found := _DOI.fullmatch(value):
        doi = found[1]
        if arxiv := _ARXIV_DOI.fullmatch(doi):
            return paper_id(arxiv[1])
        return f"DOI:{doi}"
    return paper_id(text)


# A DOI (its registrant code, then any suffix), bare, as doi:, or as a doi.org link.
_DOI = re.compile(r"(?:doi:\s*|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S{1,200})", re.I)
_ARXIV_DOI = re.compile(r"10\.48550/arxiv\.(\S+)", re.I)
_S2_ID = re.compile(r"(?:s2:)?([0-9a-f]{40})", re.I)
_S2_URL = re.compile(
    r"https?://(?:www\.)?semanticscholar\.org/paper/(?:[^/\s]+/)?([0-9a-f]{40})/?(?:[?#]\S*)?",
    re.I,
)


def paper_id(text: str) -> str:
    """The arXiv id in a bare id or an arXiv / Hugging Face paper link; refuses other hosts."""
    value = _unwrap_links(text).strip().strip("<>")
    if " " in value:
        raise UserInputError("Give me one paper: an arXiv id like `2210.03629` or its link.")
    if value.lower().startswith(("http://", "https://", "www.")):
        url = value if value.lower().startswith("http") else "https://" + value
        if not is_allowed_url(url):
            raise UnsafeLinkError(REFUSE_LINK.format(host=link_host(url)))
        found = id_from_url(url)
        if not found:
            raise UserInputError("That link isn't an arXiv or Hugging Face paper page.")
        return found
    if value.lower().startswith("arxiv:"):
        value = value[len("arxiv:") :]
    try:
        return split_version(value)[0]
    except ValueError:
        raise UserInputError(
            f"`{_short(value)}` isn't an arXiv id. Try `2210.03629` or an arXiv link."
        ) from None


def parse_schedule(rest: str) -> Schedule:
    """`"0 9 * * 1-5" Europe/Berlin` (quotes optional) -> a validated Schedule."""
    usage = 'Try `/papers schedule "0 9 * * 1-5" Europe/Berlin` (weekdays at 09:00).'
    rest = rest.translate(_QUOTES).strip()
    if not rest:
        raise UserInputError(f"When should digests post? {usage}")
    try:
        parts = shlex.split(rest)
    except ValueError:
        raise UserInputError(
            f"I couldn't read that schedule (unbalanced quotes). {usage}"
        ) from None
    if len(parts) in (1, 2) and len(parts[0].split()) == 5:  # quoted cron, optional zone
        cron, tz = parts[0], (parts[1] if len(parts) == 2 else None)
    elif len(parts) in (5, 6):  # unquoted
        cron, tz = " ".join(parts[:5]), (parts[5] if len(parts) == 6 else None)
    else:
        raise UserInputError(f"A schedule is a 5-field cron expression and a time zone. {usage}")
    return Schedule(cron=schedule.validate(cron, tz), timezone=tz, typed=cron)


def _looks_like_id(text: str) -> bool:
    try:
        split_version(text.removeprefix("arXiv:").removeprefix("arxiv:"))
    except ValueError:
        return False
    return True


def _query(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_QUERY_CHARS:
        raise UserInputError(
            f"That search is too long; keep it under {MAX_QUERY_CHARS} characters."
        )
    for url in find_urls(text):
        if not is_allowed_url(url):
            raise UnsafeLinkError(REFUSE_LINK.format(host=link_host(url)))
    return text


def _topic(text: str, verb: str) -> str:
    topic = " ".join(text.strip().strip("\"'").split())
    if not topic:
        raise UserInputError(f"Which topic? Try `/papers {verb} retrieval augmented generation`.")
    if len(topic) > MAX_TOPIC_CHARS:
        raise UserInputError(f"Topic names are at most {MAX_TOPIC_CHARS} characters.")
    for url in find_urls(topic):  # a topic name is shown in every digest: no foreign links
        if not is_allowed_url(url):
            raise UnsafeLinkError(REFUSE_LINK.format(host=link_host(url)))
    return topic


_SLACK_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|[^>]*)?>")


def _unwrap_links(text: str) -> str:
    return html.unescape(_SLACK_LINK.sub(r"\1", text))


def link_host(url: str) -> str:
    """A refused link's host, safe to show back ("that site" when there is none)."""
    try:
        return escape_mrkdwn(urlsplit(url).hostname or "that site")
    except ValueError:
        return "that site"


def _short(text: str, limit: int = 60) -> str:
    """User text echoed back: short, and never markup (no mentions, no links)."""
    text = text.replace("`", "'")
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return escape_mrkdwn(text)


def help_text() -> str:
    """The `/papers help` message (mrkdwn)."""
    lines = ["*Paperboy* — `/papers` subcommands:"]
    lines += [f"• `/papers {usage}` — {what}" for usage, what in SUBCOMMANDS]
    lines.append(
        "In a paper's thread: reply `summarize this` (or `tl;dr`, `summarize 2`) for a deep "
        "summary, or mention me with a question. React 👍/👎 on a paper to tune this channel's "
        "digest."
    )
    return "\n".join(lines)
