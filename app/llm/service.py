"""What Slack asks of the LLM, synchronously: deep summaries, answers, topic expansions.

Called from Slack listeners' background threads (never from a 3-second ack path). Each falls
back when there is no API key, the budget is spent, or the model fails: an extractive result,
marked as such, never an exception for an LLM problem.

- `deep_summary` goes through the job queue as an urgent job and runs it here, so a paper is
  summarized once even when two people ask at the same moment (or a worker already holds it).
- `answer_question` sends the paper's full text as its own cached block after the cached
  instructions: the first question pays to write the cache, later ones read it at a tenth.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from app.config import Settings
from app.db import jobs as queue
from app.db.engine import session_scope
from app.db.models import Paper
from app.db.papers import arxiv_id_of, get_paper
from app.db.summaries import get_summary, is_current
from app.db.topics import get_topic
from app.errors import LLMError, UserInputError
from app.llm import calls, prompts
from app.llm.client import LLM, Usage
from app.llm.fallback import NOT_SAID, extractive_answer, extractive_deep
from app.llm.fulltext import PdfFetcher, full_text
from app.llm.runner import JobRunner
from app.llm.schemas import DeepSummary
from app.llm.tasks import paper_data
from app.paperids import own_links, split_version
from app.safety import safe_llm_text

log = logging.getLogger(__name__)
_SPACE = re.compile(r"\s+")


class DeepResult(DeepSummary):
    """A DeepSummary plus where it came from, as Slack shows it."""

    arxiv_id: str = ""
    extractive: bool = False
    source_text: str = "abstract"  # abstract | fulltext
    model: str | None = None


@dataclass(frozen=True)
class Answer:
    text: str
    quotes: list[str] = field(default_factory=list)
    answerable: bool = True
    cache_read_tokens: int = 0
    usage: Usage = field(default_factory=Usage)
    extractive: bool = False
    source_text: str = "abstract"
    links: list[str] = field(default_factory=list)  # the paper's own: they may be shown


def _load(engine: Engine, arxiv_id: str) -> Paper:
    try:
        canonical = split_version(arxiv_id)[0]
    except ValueError:
        raise UserInputError(f"{arxiv_id!r} is not an arXiv id") from None
    with session_scope(engine) as session:
        paper = get_paper(session, arxiv_id=canonical)
    if paper is None:
        raise UserInputError(f"arXiv:{canonical} is not in the archive yet")
    return paper


def _stored_deep(settings: Settings, engine: Engine, paper: Paper) -> DeepResult | None:
    with session_scope(engine) as session:
        row = get_summary(
            session,
            arxiv_id=arxiv_id_of(paper),
            kind="deep",
            model=settings.paperboy_llm_model,
            prompt_version=prompts.DEEP_PROMPT_VERSION,
        )
    if not is_current(row, paper):  # none, an older version, or an extractive one due a retry
        return None
    assert row is not None
    if row.extractive:
        return _deep_fallback(paper)
    return DeepResult.model_construct(
        **row.content, arxiv_id=paper.arxiv_id, source_text=row.source_text, model=row.model
    )


def _deep_fallback(paper: Paper) -> DeepResult:
    content: dict[str, Any] = extractive_deep(title=paper.title, abstract=paper.abstract)
    return DeepResult.model_construct(**content, arxiv_id=paper.arxiv_id, extractive=True)


def deep_summary(
    settings: Settings,
    engine: Engine,
    *,
    llm: LLM | None,
    pdfs: PdfFetcher,
    arxiv_id: str,
) -> DeepResult:
    """The paper's in-depth summary: stored, else made now (full text when the PDF can be had),
    else the extractive one. Raises UserInputError only for an unknown paper."""
    paper = _load(engine, arxiv_id)
    stored = _stored_deep(settings, engine, paper)
    if stored is not None:
        return stored
    if llm is None:
        return _deep_fallback(paper)
    worker = JobRunner(settings, engine, llm, pdfs)
    with session_scope(engine) as session:
        queue.enqueue(
            session,
            kind="deep",
            arxiv_id=paper.arxiv_id,
            urgent=True,
            max_attempts=settings.llm_max_attempts,
        )
    with session_scope(engine) as session:
        mine = queue.claim(
            session,
            worker_id=worker.worker_id,
            limit=1,
            lease_seconds=settings.llm_lease_seconds,
            kind="deep",
            arxiv_id=paper.arxiv_id,
        )
    if mine:
        worker.run_jobs(mine)
    else:  # someone else is on it: wait for their result rather than pay twice
        deadline = time.monotonic() + settings.llm_timeout_seconds * (settings.llm_max_retries + 1)
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if _stored_deep(settings, engine, paper) is not None:
                break
    return _stored_deep(settings, engine, paper) or _deep_fallback(paper)


def _history(history: Sequence[Any]) -> list[tuple[str, str]]:
    """Accept [{"role", "text"}] (Slack threads) or [(question, answer)] pairs."""
    turns: list[tuple[str, str]] = []
    for item in history:
        if isinstance(item, Mapping):
            turns.append((str(item.get("role", "user")), str(item.get("text", ""))))
        else:
            question, answer = item
            turns += [("user", str(question)), ("assistant", str(answer))]
    return [(r, t[:4000]) for r, t in turns if t.strip()][-12:]


def _verbatim(quotes: list[str], source: str) -> list[str]:
    """Only quotes that really are in the paper's text (whitespace and case aside)."""
    haystack = _SPACE.sub(" ", source).lower()
    return [q for q in quotes if _SPACE.sub(" ", q).strip(" .\"'…").lower() in haystack]


def answer_question(
    settings: Settings,
    engine: Engine,
    *,
    llm: LLM | None,
    pdfs: PdfFetcher,
    arxiv_id: str,
    question: str,
    history: Sequence[Any] = (),
) -> Answer:
    """Answer from the paper's full text (else its abstract); "The paper does not say." when
    it does not. Raises UserInputError for an unknown paper or an empty question."""
    question = question.strip()[:2000]
    if not question:
        raise UserInputError("Ask a question about the paper.")
    paper = _load(engine, arxiv_id)
    text = full_text(settings, engine, pdfs=pdfs, paper=paper)
    source = text or f"{paper.title}. {paper.abstract}"
    source_text = "fulltext" if text else "abstract"
    if llm is not None:
        request = prompts.answer_request(
            paper_data(paper), full_text=text, question=question, history=_history(history)
        )
        try:
            reply = calls.call(settings, engine, llm, request)
        except LLMError as exc:  # budget, refusal, invalid twice, API down
            log.warning("answer for %s falls back: %s", paper.arxiv_id, exc)
        else:
            out = reply.output
            links = own_links(paper)
            quotes = _verbatim([safe_llm_text(q, links) for q in out.quotes], source)
            answer = safe_llm_text(out.answer, links)
            if not out.answerable and not answer.lower().startswith(NOT_SAID.lower()[:-1]):
                answer = f"{NOT_SAID} {answer}".strip()
            return Answer(
                text=answer,
                quotes=quotes if out.answerable else [],
                answerable=out.answerable,
                cache_read_tokens=reply.usage.cache_read_tokens,
                usage=reply.usage,
                source_text=source_text,
                links=links,
            )
    found, quotes, answerable = extractive_answer(question=question, text=source)
    return Answer(
        text=found, quotes=quotes, answerable=answerable, extractive=True, source_text=source_text
    )


def _as_query(phrases: Sequence[str]) -> str:
    """Phrases as the search syntax of app.search: `"multi word" OR single`."""
    seen: list[str] = []
    for phrase in phrases:
        phrase = _SPACE.sub(" ", phrase.replace('"', " ")).strip()
        if phrase and phrase.lower() not in (s.lower() for s in seen):
            seen.append(phrase)
    return " OR ".join(f'"{p}"' if " " in p else p for p in seen)


def expand_topic(settings: Settings, engine: Engine, *, llm: LLM | None, name: str) -> str | None:
    """The topic's name widened into a search query once by the LLM (stored on the topic as
    `expanded_query`); None without an LLM or when the call fails."""
    with session_scope(engine) as session:
        topic = get_topic(session, name=name)
        if topic is not None and topic.expanded_query:
            return topic.expanded_query
    if llm is None:
        return None
    try:
        reply = calls.call(settings, engine, llm, prompts.expand_request(name))
    except LLMError as exc:
        log.warning("topic expansion for %r failed: %s", name, exc)
        return None
    expanded = safe_llm_text(_as_query([name, *reply.output.synonyms]))[:1000]
    with session_scope(engine) as session:
        topic = get_topic(session, name=name)
        if topic is not None:
            topic.expanded_query = expanded
    return expanded
