"""What each kind of job asks the model and how its answer is stored.

A `Task` is one request (cards for up to CARD_GROUP_SIZE papers, one paper's deep summary, or up
to GRADE_GROUP_SIZE papers graded against one topic; `group_jobs` builds the groups for direct
calls and batches alike) plus how to store the reply and what to store when the model refuses or
keeps sending unusable output. The worker runs tasks directly or in a Message Batch;
`service.py` runs deep summaries synchronously. Everything the model wrote passes
app.safety.safe_llm_text before it is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.engine import session_scope
from app.db.models import LlmJob, Paper, Topic
from app.db.papers import arxiv_id_of
from app.db.relevance import mark_grade_failed, store_grade, ungraded
from app.db.summaries import (
    get_summaries,
    get_summary,
    is_current,
    store_summaries,
    store_summary,
)
from app.llm import prompts, schemas
from app.llm.client import Reply, Request
from app.llm.fallback import extractive_card, extractive_deep
from app.llm.fulltext import PdfFetcher, full_text
from app.paperids import own_links
from app.safety import safe_llm_text

KINDS = ("card", "deep", "grade")


@dataclass
class Task:
    kind: str
    jobs: list[LlmJob]
    request: Request
    store: Callable[[Session, Reply[Any]], None]
    # Stored when the model refuses or fails validation twice (so it is not paid for again).
    store_fallback: Callable[[Session], None] | None = None
    check: Callable[[Any], None] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    # Jobs a valid reply did not serve (a card missing or invalid): retried alone.
    leftover: Callable[[Reply[Any]], list[LlmJob]] | None = None

    @property
    def grouped(self) -> bool:
        """Several papers in one request: a failure is retried paper by paper, not as a whole."""
        return self.leftover is not None and int(self.info.get("papers", 1)) > 1


def group_jobs(jobs: Sequence[LlmJob]) -> list[list[LlmJob]]:
    """Claimed jobs as request groups: cards CARD_GROUP_SIZE to a call, grades
    GRADE_GROUP_SIZE per topic, everything else alone. Order is kept."""
    buckets: dict[tuple[str, int | None], list[LlmJob]] = {}
    groups: list[list[LlmJob]] = []
    for job in jobs:
        size = prompts.GROUP_SIZES.get(job.kind, 1)
        if size == 1 or (job.kind == "grade" and job.topic_id is None):
            groups.append([job])
            continue
        key = (job.kind, job.topic_id)
        bucket = buckets.setdefault(key, [])
        if not bucket:
            groups.append(bucket)
        bucket.append(job)
        if len(bucket) >= size:
            del buckets[key]  # full: the next job of this kind starts a new group
    return groups


def paper_data(paper: Paper) -> prompts.PaperData:
    return prompts.PaperData(
        arxiv_id=arxiv_id_of(paper), title=paper.title, abstract=paper.abstract
    )


def card_content(out: schemas.CardSummary, links: Sequence[str] = ()) -> dict[str, Any]:
    """The card as stored; `links` are the paper's own, which the model may repeat."""
    return {
        "tldr": safe_llm_text(out.tldr, links),
        "key_points": [safe_llm_text(p, links) for p in out.key_points],
        "tags": [safe_llm_text(t) for t in out.tags],
    }


def deep_content(out: schemas.DeepSummary, links: Sequence[str] = ()) -> dict[str, str]:
    return {k: safe_llm_text(v, links) for k, v in out.model_dump().items()}


def _summary_task(
    settings: Settings, kind: str, paper: Paper, jobs: list[LlmJob], request: Request, source: str
) -> Task:
    model = settings.paperboy_llm_model
    version = prompts.PROMPT_VERSIONS[kind]
    key: dict[str, Any] = {
        "arxiv_id": arxiv_id_of(paper),
        "kind": kind,
        "model": model,
        "prompt_version": version,
    }
    paper_version = paper.version or 1
    links = own_links(paper)

    def store(session: Session, reply: Reply[Any]) -> None:
        content = deep_content(reply.output, links)
        store_summary(
            session, **key, paper_version=paper_version, content=content, source_text=source
        )

    def store_fallback(session: Session) -> None:
        content = extractive_deep(title=paper.title, abstract=paper.abstract)
        store_summary(
            session,
            **key,
            paper_version=paper_version,
            content=content,
            extractive=True,
            source_text="abstract",
        )

    return Task(kind, jobs, request, store, store_fallback, info={"source_text": source})


def needs_summary(settings: Settings, session: Session, *, paper: Paper, kind: str) -> bool:
    existing = get_summary(
        session,
        arxiv_id=arxiv_id_of(paper),
        kind=kind,
        model=settings.paperboy_llm_model,
        prompt_version=prompts.PROMPT_VERSIONS[kind],
    )
    return not is_current(existing, paper)


def uncarded(settings: Settings, engine: Engine, jobs: Sequence[LlmJob]) -> dict[int, Paper]:
    """The papers of these jobs still without a current card, by id (one transaction)."""
    with session_scope(engine) as session:
        ids = [j.paper_id for j in jobs if j.paper_id]
        papers = list(session.scalars(select(Paper).where(Paper.id.in_(ids)).order_by(Paper.id)))
        stored = get_summaries(
            session,
            arxiv_ids=[arxiv_id_of(p) for p in papers],
            kind="card",
            model=settings.paperboy_llm_model,
            prompt_version=prompts.CARD_PROMPT_VERSION,
        )
    return {p.id: p for p in papers if not is_current(stored.get(arxiv_id_of(p)), p)}


def card_tasks(
    settings: Settings, engine: Engine, groups: Sequence[Sequence[LlmJob]]
) -> list[Task | None]:
    """`card_task` for many groups, reading the database once (a batch's worth)."""
    todo = uncarded(settings, engine, [j for g in groups for j in g])
    return [card_task(settings, engine, g, uncarded_papers=todo) for g in groups]


def card_task(
    settings: Settings,
    engine: Engine,
    jobs: Sequence[LlmJob],
    *,
    uncarded_papers: dict[int, Paper] | None = None,
) -> Task | None:
    """Cards for a group of papers in one call; papers gone or already carded are left out.
    `uncarded_papers` is what `uncarded` said for these jobs, when already known."""
    model = settings.paperboy_llm_model
    version = prompts.CARD_PROMPT_VERSION
    known = uncarded(settings, engine, jobs) if uncarded_papers is None else uncarded_papers
    todo = {arxiv_id_of(p): p for j in jobs if (p := known.get(j.paper_id or 0)) is not None}
    if not todo:
        return None
    job_of = {j.paper_id: j for j in jobs}

    def valid(out: schemas.Cards) -> dict[str, schemas.CardEntry]:
        cards: dict[str, schemas.CardEntry] = {}
        for card in out.cards:
            if card.arxiv_id in todo:
                cards.setdefault(card.arxiv_id, card)
        return cards

    def check(out: schemas.Cards) -> None:
        # Only a group of one fails as a whole; a group's missing cards are retried alone.
        if len(todo) == 1 and not valid(out):
            raise ValueError(next(iter(out.rejected.values()), "no card for the paper"))

    def leftover(reply: Reply[Any]) -> list[LlmJob]:
        served = valid(reply.output)
        return [job_of[p.id] for a, p in todo.items() if a not in served and p.id in job_of]

    def store(session: Session, reply: Reply[Any]) -> None:
        items = [
            (todo[a].id, todo[a].version or 1, card_content(card, own_links(todo[a])))
            for a, card in valid(reply.output).items()
        ]
        store_summaries(session, kind="card", model=model, prompt_version=version, items=items)

    def store_fallback(session: Session) -> None:
        items = [
            (
                paper.id,
                paper.version or 1,
                extractive_card(
                    title=paper.title,
                    abstract=paper.abstract,
                    categories=list(paper.categories or []),
                    keywords=list(paper.hf_ai_keywords or []),
                ),
            )
            for paper in todo.values()
        ]
        store_summaries(
            session,
            kind="card",
            model=model,
            prompt_version=version,
            items=items,
            extractive=True,
        )

    request = prompts.cards_request([paper_data(p) for p in todo.values()])
    return Task(
        "card",
        list(jobs),
        request,
        store,
        store_fallback,
        check,
        info={"papers": len(todo), "source_text": "abstract"},
        leftover=leftover,
    )


def deep_task(
    settings: Settings, engine: Engine, pdfs: PdfFetcher, paper: Paper, jobs: list[LlmJob]
) -> Task:
    """Deep summaries read the full text when the PDF can be had (network: no transaction)."""
    text = full_text(settings, engine, pdfs=pdfs, paper=paper)
    request = prompts.deep_request(paper_data(paper), full_text=text)
    return _summary_task(settings, "deep", paper, jobs, request, "fulltext" if text else "abstract")


def grade_task(settings: Settings, engine: Engine, jobs: Sequence[LlmJob]) -> Task | None:
    """One call grading up to ten papers for one topic; papers already graded are left out."""
    topic_id = jobs[0].topic_id
    model = settings.paperboy_llm_model
    version = prompts.GRADE_PROMPT_VERSION
    with session_scope(engine) as session:
        topic = session.get(Topic, topic_id)
        if topic is None:
            return None
        queued = session.scalars(
            select(Paper.arxiv_id).where(Paper.id.in_([j.paper_id for j in jobs if j.paper_id]))
        )
        todo = ungraded(
            session,
            topic_id=topic.id,
            arxiv_ids=[a for a in queued if a],
            model=model,
            prompt_version=version,
        )
        papers = list(session.scalars(select(Paper).where(Paper.arxiv_id.in_(todo))))
    if not papers:
        return None
    wanted = {arxiv_id_of(p) for p in papers}
    same = not topic.query or topic.query == topic.name
    topic_text = topic.name if same else f"{topic.name} ({topic.query})"

    def check(out: schemas.Grades) -> None:
        missing = wanted - {g.arxiv_id for g in out.grades}
        if missing:
            raise ValueError(f"no grade for {len(missing)} of {len(wanted)} papers")

    def store(session: Session, reply: Reply[Any]) -> None:
        for grade in reply.output.grades:
            if grade.arxiv_id in wanted:
                store_grade(
                    session,
                    topic_id=topic.id,
                    arxiv_id=grade.arxiv_id,
                    score=grade.score,
                    reason=safe_llm_text(grade.reason),
                    model=model,
                    prompt_version=version,
                )

    def store_fallback(session: Session) -> None:
        mark_grade_failed(
            session, topic_id=topic.id, arxiv_ids=wanted, model=model, prompt_version=version
        )

    request = prompts.grade_request(topic=topic_text, papers=[paper_data(p) for p in papers])
    return Task(
        "grade", list(jobs), request, store, store_fallback, check, info={"papers": len(papers)}
    )


def build_task(
    settings: Settings, engine: Engine, pdfs: PdfFetcher, jobs: list[LlmJob]
) -> Task | None:
    """The task for a group of claimed jobs (one job, or same-topic grade jobs); None when
    there is nothing left to do (already summarized or graded, paper or topic deleted)."""
    kind = jobs[0].kind
    if kind == "card":
        return card_task(settings, engine, jobs)
    if kind == "grade":
        return grade_task(settings, engine, jobs)
    if kind == "deep":
        with session_scope(engine) as session:
            paper = session.get(Paper, jobs[0].paper_id) if jobs[0].paper_id else None
            if paper is None or not needs_summary(settings, session, paper=paper, kind="deep"):
                return None
        return deep_task(settings, engine, pdfs, paper, jobs)
    raise ValueError(f"unknown job kind {kind!r}")
