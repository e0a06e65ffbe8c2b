"""Topics: named searches that channels follow and digests are built from.

A topic's `query` is search text in the syntax of app.search (it defaults to the name); its
optional `categories` keep only papers in those arXiv categories; `exclude` drops papers that
mention any of those words or phrases; `arxiv_query` is an optional raw arXiv API query the
ingest also runs. Names are unique regardless of case ("LLM agents" is "llm agents").

Creating a topic validates its query as a search, so this sits above app.search; storage and
lookups are app.db.topics. Keyword-only functions taking a Session; the caller commits. Used by
the CLI (`paperboy topic add`, `paperboy follow`) and by the Slack commands (`/papers follow`),
so both behave the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.arxiv_categories import canonical, suggestion
from app.db.channels import add_topic
from app.db.models import Channel, Topic
from app.db.topics import delete_topic, following_channels, get_topic, insert_topic
from app.errors import UserInputError
from app.search import check_query, normalize_query

MAX_NAME = 200
MAX_ARXIV_QUERY = 1000
MAX_LIST = 20
MAX_EXCLUDE_CHARS = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    query: str
    categories: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


def default_topics() -> list[TopicSpec]:
    """The topics a fresh install starts with (the demo's table shows these)."""
    return [
        TopicSpec("LLM agents", 'LLM (agent OR agentic OR "tool use")'),
        TopicSpec("retrieval-augmented generation", 'RAG OR "retrieval augmented"'),
        TopicSpec("reinforcement learning", 'RL OR RLHF OR "policy optimization"'),
        TopicSpec("vision-language models", 'VLM OR MLLM OR "multimodal large language model"'),
        TopicSpec(
            "efficient inference",
            'quantization OR "speculative decoding" OR "knowledge distillation" OR pruning '
            'OR "efficient inference"',
        ),
    ]


def create_topic(
    session: Session,
    *,
    name: str,
    query: str | None = None,
    arxiv_query: str | None = None,
    categories: Iterable[str] | str = (),
    exclude: Iterable[str] | str = (),
) -> Topic:
    """Create a topic, or return the existing one of that name.

    Idempotent: asking again for an existing topic returns it, as long as whatever you pass
    explicitly (query, arxiv_query, categories, exclude) agrees with what it has; a conflicting
    definition raises UserInputError rather than silently changing a topic channels follow.
    """
    name = _clean_name(name)
    cats = _clean_categories(categories)
    excl = _clean_list(exclude, what="exclude", max_chars=MAX_EXCLUDE_CHARS)
    raw_arxiv = _clean_arxiv_query(arxiv_query)
    text = " ".join((query if query is not None else name).split())
    existing = get_topic(session, name=name)
    if existing is None or query is not None:
        try:
            check_query(session, text=text)
        except UserInputError as exc:
            raise UserInputError(f"topic {name!r}: {exc}") from None
    if existing is None:
        created = insert_topic(
            session, name=name, query=text, arxiv_query=raw_arxiv, categories=cats, exclude=excl
        )
        if created is not None:
            return created
        existing = get_topic(session, name=name)  # created concurrently a moment ago
        assert existing is not None
    _check_same(
        existing,
        query=text if query is not None else None,
        arxiv_query=raw_arxiv,
        categories=cats,
        exclude=excl,
    )
    return existing


def follow(
    session: Session,
    *,
    channel_id: str,
    topic_name: str,
    query: str | None = None,
    timezone: str | None = None,
) -> tuple[Channel, Topic, bool]:
    """Make the channel follow a topic, creating the channel and the topic when new.

    Returns (channel, topic, topic_created): `topic_created` is True when this call created the
    topic (the Slack command then offers to expand its query). Following twice is harmless.
    `timezone` (PAPERBOY_TIMEZONE) only applies to a channel seen for the first time.
    """
    name = " ".join(topic_name.split())
    if not name:
        raise UserInputError("a topic name is needed, e.g. `retrieval augmented generation`")
    topic = get_topic(session, name=name)
    created = topic is None
    if topic is None:
        topic = create_topic(session, name=name, query=query)
    channel = add_topic(session, channel_id=channel_id, topic=topic, timezone=timezone)
    return channel, topic, created


def remove_topic(session: Session, *, name: str, force: bool = False) -> tuple[str, list[str]]:
    """Delete the topic called `name`; (its name, the channels that followed it).

    Refuses (UserInputError) while channels follow it, unless `force`: then they stop following
    it, and their other topics are untouched.
    """
    topic = get_topic(session, name=name)
    if topic is None:
        raise UserInputError(f"there is no topic {' '.join(name.split())!r}")
    channels = following_channels(session, topic_id=topic.id)
    if channels and not force:
        shown = ", ".join(channels[:5]) + (
            f" and {len(channels) - 5} more" if len(channels) > 5 else ""
        )
        raise UserInputError(
            f"topic {topic.name!r} is followed by {shown}: unfollow it there first, or use --force"
        )
    removed = topic.name
    delete_topic(session, topic_id=topic.id)
    return removed, channels


def ensure_default_topics(session: Session) -> list[Topic]:
    """Create the default topics that do not exist yet (a same-named topic is left as it is)."""
    topics = []
    for spec in default_topics():
        topic = get_topic(session, name=spec.name)
        if topic is None:
            topic = create_topic(
                session,
                name=spec.name,
                query=spec.query,
                categories=spec.categories,
                exclude=spec.exclude,
            )
        topics.append(topic)
    return topics


def _same_query(a: str, b: str) -> bool:
    """Equal as searches ("LLM+agents" is "llm agents")."""
    try:
        return a == b or normalize_query(a) == normalize_query(b)
    except UserInputError:
        return False


# --- validation ----------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise UserInputError("a topic needs a name, e.g. `LLM agents`")
    if len(name) > MAX_NAME:
        raise UserInputError(f"topic names are at most {MAX_NAME} characters (got {len(name)})")
    if _CONTROL.search(name):
        raise UserInputError("topic names cannot contain control characters")
    return name


def _clean_arxiv_query(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    raw = " ".join(raw.split())
    if len(raw) > MAX_ARXIV_QUERY:
        raise UserInputError(f"--arxiv-query is at most {MAX_ARXIV_QUERY} characters")
    return raw


def _clean_list(values: Iterable[str] | str, *, what: str, max_chars: int) -> list[str]:
    items = values.split(",") if isinstance(values, str) else list(values)
    out: list[str] = []
    for item in items:
        item = " ".join(str(item).split())
        if not item or item.lower() in (o.lower() for o in out):
            continue
        if len(item) > max_chars or _CONTROL.search(item):
            raise UserInputError(f"{what}: {item[:40]!r} is not a usable entry")
        out.append(item)
    if len(out) > MAX_LIST:
        raise UserInputError(f"{what}: at most {MAX_LIST} entries (got {len(out)})")
    return out


def _clean_categories(values: Iterable[str] | str) -> list[str]:
    cats = _clean_list(values, what="categories", max_chars=40)
    out = []
    for cat in cats:
        code = canonical(cat)
        if code is None:
            near = suggestion(cat)
            hint = f"did you mean {near}? " if near else ""
            raise UserInputError(
                f"{cat!r} is not an arXiv category ({hint}codes look like cs.CL or stat.ML; "
                "the list is at https://arxiv.org/category_taxonomy)"
            )
        if code not in out:
            out.append(code)
    return out


def _check_same(
    topic: Topic,
    *,
    query: str | None,
    arxiv_query: str | None,
    categories: Sequence[str],
    exclude: Sequence[str],
) -> None:
    differences = []
    if query is not None and not _same_query(query, topic.query):
        differences.append(f"query {topic.query!r}")
    if arxiv_query is not None and arxiv_query != topic.arxiv_query:
        differences.append(f"arXiv query {topic.arxiv_query!r}")
    if categories and sorted(categories) != sorted(topic.categories or ()):
        differences.append(f"categories {','.join(topic.categories or ()) or '(any)'}")
    if exclude and sorted(e.lower() for e in exclude) != sorted(
        e.lower() for e in topic.exclude or ()
    ):
        differences.append(f"exclude {','.join(topic.exclude or ()) or '(none)'}")
    if differences:
        raise UserInputError(
            f"topic {topic.name!r} already exists with {'; '.join(differences)}: pick another name"
        )
