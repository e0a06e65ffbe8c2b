"""Planning a digest run and rendering its messages.

A run is keyed by (channel, scheduled time). Its papers are chosen once and stored with the run
before anything is posted, so a retry or a restart posts exactly the same list. The messages are
rendered from the run row alone (header at position 0, papers at 1..N; or one notice at 0), so
any process can finish a run another one started.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, inspect, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import blockkit, paper_blocks
from app.config import Settings
from app.db.channels import channel_topics
from app.db.models import (
    DIGEST_SETTLED,
    DIGEST_UNFINISHED,
    Channel,
    DigestRun,
    DigestStatus,
    IngestRun,
    IngestStatus,
    Paper,
)
from app.digest import blocks as digest_blocks
from app.digest import followed
from app.digest.batch import Batch
from app.digest.owed import RESUME_WINDOW, owed_papers
from app.digest.recommend import owed_reasons, recommend, wanted
from app.digest.select import Candidate, excluded_ids, load_papers, select_papers
from app.digest.taste import TasteDeps, taste_profile
from app.embeddings import Embedder
from app.llm.cards import cards_for
from app.sources.records import PaperRecord
from app.timeutil import aware

# The first digest of a channel looks this far back.
FIRST_LOOKBACK = timedelta(days=3)


@dataclass
class OutMessage:
    """One message of a run: its position, what it is, and how to build its chat.postMessage
    arguments. Paper payloads are built when first needed: a 200-channel fan-out then renders
    each channel's papers while its messages wait for their slot, not all of them up front."""

    position: int
    kind: str  # header | paper | notice
    arxiv_id: str | None
    build: Callable[[], dict[str, Any]]
    in_thread: bool = False  # posted in the header's thread (thread style)
    _payload: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def payload(self) -> dict[str, Any]:
        if self._payload is None:
            self._payload = self.build()
        return self._payload


def _ready(payload: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: payload


def digest_since(
    session: Session, *, channel_id: str, scheduled_for: datetime, batch: Batch | None = None
) -> datetime:
    """When the channel's previous settled digest was scheduled (or FIRST_LOOKBACK ago). One that
    never reached Slack does not count: its papers are owed (app/digest/owed.py)."""
    if batch is not None and batch.previous is not None and channel_id in (batch.channels or {}):
        known = batch.previous.get(channel_id)
        if known is None:
            return scheduled_for - FIRST_LOOKBACK
        if aware(known) < scheduled_for:
            return aware(known)
    previous = session.scalar(
        select(func.max(DigestRun.scheduled_for)).where(
            DigestRun.channel_id == channel_id,
            DigestRun.scheduled_for < scheduled_for,
            DigestRun.status.in_(DIGEST_SETTLED),
        )
    )
    return aware(previous) if previous is not None else scheduled_for - FIRST_LOOKBACK


def ingest_failed(session: Session, *, since: datetime) -> str | None:
    """The error behind an empty digest, if an ingest failure may explain it: a source whose
    latest finished run failed. arXiv failing always counts (the papers come from there, and
    Hugging Face's few dozen a day hide nothing); Hugging Face failing only counts when no paper
    at all arrived since `since`. Sources run one after the other, so "the latest run of any
    source" would miss an arXiv failure followed by a Hugging Face success."""
    rank = (
        func.row_number()
        .over(
            partition_by=IngestRun.source,
            order_by=(IngestRun.started_at.desc(), IngestRun.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(IngestRun.source, IngestRun.status, IngestRun.error, rank)
        .where(IngestRun.status != IngestStatus.RUNNING)  # a crashed ingest stays running forever
        .subquery()
    )
    failed = {
        source: error or f"{source} ingest failed"
        for source, status, error in session.execute(
            select(ranked.c.source, ranked.c.status, ranked.c.error).where(ranked.c.rank == 1)
        )
        if status == IngestStatus.FAILED
    }
    if not failed:
        return None
    if "arxiv" in failed:
        return failed["arxiv"]
    fresh = session.scalar(select(Paper.arxiv_id).where(Paper.first_seen_at >= since).limit(1))
    return None if fresh else next(iter(failed.values()))


def notice_kind(session: Session, *, channel: Channel, since: datetime) -> str | None:
    """What an empty digest posts: 'ingest_failure', 'quiet', or nothing (None)."""
    if ingest_failed(session, since=since) is not None:
        return "ingest_failure"
    return "quiet" if channel.quiet_day_notice else None


def choose(
    session: Session,
    *,
    channel: Channel,
    scheduled_for: datetime,
    force: bool,
    batch: Batch | None = None,
    embedder: Embedder | None = None,
    taste: TasteDeps | None = None,
    s2_records: Sequence[PaperRecord] = (),
) -> tuple[list[Candidate], datetime]:
    # Forced: as if the channel had no digest yet (its last FIRST_LOOKBACK, posted papers too).
    since = (
        scheduled_for - FIRST_LOOKBACK
        if force
        else digest_since(
            session, channel_id=channel.channel_id, scheduled_for=scheduled_for, batch=batch
        )
    )
    cid = channel.channel_id
    if batch is not None and batch.owed is not None and cid in (batch.channels or {}):
        owed = batch.owed.get(cid, [])
    else:
        owed = owed_papers(session, channel_ids=[cid]).get(cid, [])
    profile = None
    if taste is not None:
        profile = taste_profile(session, channel_id=cid, model=taste.embedder.name)
    # Owed papers first (promised before), then up to max_papers fresh ones, then the
    # recommendations.
    chosen = select_papers(
        session, channel=channel, since=since, force=force, batch=batch, embedder=embedder,
        limit=channel.max_papers + len(owed), profile=profile,
    )  # fmt: skip
    skip = set(owed)
    if force:
        # Forced may repeat what was posted, not what another run of this call is about to post.
        skip |= set(
            session.scalars(
                select(func.unnest(DigestRun.paper_ids)).where(
                    DigestRun.channel_id == cid, DigestRun.status.in_(DIGEST_UNFINISHED)
                )
            )
        )
    fresh = [c for c in chosen if c.arxiv_id not in skip][: channel.max_papers]
    papers = load_papers(session, owed) if owed else {}
    reasons = owed_reasons(session, channel_id=cid) if owed else {}
    carried = [
        Candidate(paper=papers[a], score=0.0, relevance=0.0, reason=reasons.get(a))
        for a in owed
        if a in papers
    ]
    extra: list[Candidate] = []
    if taste is not None and profile is not None and wanted(channel, profile):
        known = batch.excluded.get(cid) if batch is not None and batch.excluded else None
        taken = (known if known is not None else excluded_ids(session, channel_id=cid)) | skip
        taken |= {c.arxiv_id for c in chosen}
        topics = batch.topics.get(cid) if batch is not None and batch.topics else None
        recs = recommend(
            session, profile=profile, skip=taken, now=scheduled_for, taste=taste,
            s2_records=s2_records,
            topics=topics if topics is not None else channel_topics(session, channel_id=cid),
        )  # fmt: skip
        found = load_papers(session, [r.arxiv_id for r in recs])
        extra = [
            Candidate(found[r.arxiv_id], r.similarity, 0.0, reason=r.reason())
            for r in recs
            if r.arxiv_id in found
        ]
    return carried + fresh + extra, since


def plan_run(
    session: Session,
    *,
    channel: Channel,
    scheduled_for: datetime,
    force: bool = False,
    batch: Batch | None = None,
    probably_new: bool = False,
    embedder: Embedder | None = None,
    taste: TasteDeps | None = None,
    s2_records: Sequence[PaperRecord] = (),
) -> tuple[DigestRun, bool]:
    """(run, created): the run for (channel, scheduled_for), existing or new with its papers
    chosen now. Two processes planning at once end up with the same row (the unique key).
    `s2_records`: Semantic Scholar's recommendations, fetched before this transaction
    (app/digest/recommend.py `fetch_s2`).

    `probably_new` (the scheduler found no run for this slot a moment ago) skips the lookup
    before choosing; the unique key still settles a race.
    """
    scheduled_for = aware(scheduled_for)
    key = (DigestRun.channel_id == channel.channel_id, DigestRun.scheduled_for == scheduled_for)
    if not probably_new:
        existing = session.scalar(select(DigestRun).where(*key))
        if existing is not None:
            return existing, False
    candidates, since = choose(
        session, channel=channel, scheduled_for=scheduled_for, force=force, batch=batch,
        embedder=embedder, taste=taste, s2_records=s2_records,
    )  # fmt: skip
    paper_ids = [c.arxiv_id for c in candidates]
    recommended = {c.arxiv_id: c.reason for c in candidates if c.reason}
    empty_and_silent = not paper_ids and notice_kind(session, channel=channel, since=since) is None
    run = session.scalar(
        insert(DigestRun)
        .values(
            channel_id=channel.channel_id,
            scheduled_for=scheduled_for,
            paper_ids=paper_ids,
            recommended=recommended,
            forced=force,
            status=DigestStatus.DONE if empty_and_silent else DigestStatus.PLANNED,
            finished_at=func.now() if empty_and_silent else None,
        )
        .on_conflict_do_nothing(constraint="uq_digest_runs_channel_time")
        .returning(DigestRun)
    )
    if run is not None:
        return run, True
    # Another process recorded this run first: its paper list is the one that counts.
    run = session.scalar(select(DigestRun).where(*key).execution_options(populate_existing=True))
    assert run is not None
    return run, False


def unfinished_runs(
    session: Session, *, now: datetime, channel_id: str | None = None, due_only: bool = False
) -> list[DigestRun]:
    """Runs to finish. `due_only` (the scheduler): only those whose backoff is over, of
    channels that are not paused."""
    stmt = select(DigestRun).where(
        DigestRun.status.in_(DIGEST_UNFINISHED),
        DigestRun.scheduled_for >= aware(now) - RESUME_WINDOW,
    )
    if channel_id is not None:
        stmt = stmt.where(DigestRun.channel_id == channel_id)
    if due_only:
        stmt = stmt.join(Channel, Channel.channel_id == DigestRun.channel_id).where(
            Channel.paused_at.is_(None),
            (DigestRun.retry_at.is_(None)) | (DigestRun.retry_at <= aware(now)),
        )
    return list(session.scalars(stmt.order_by(DigestRun.scheduled_for, DigestRun.id)))


def _loaded(session: Session, arxiv_ids: list[str]) -> dict[str, Paper] | None:
    """The papers, if planning just loaded every one of them into this session (no query)."""
    loaded: dict[str, Paper] = {}
    # the map is a _WeakInstanceDict, whose items() SQLAlchemy's declared IdentityMap lacks
    for key, obj in session.identity_map.items():  # type: ignore[attr-defined]
        # the state's dict, not attribute access: an expired paper must not reload here
        arxiv_id = inspect(obj).dict.get("arxiv_id") if key[0] is Paper else None
        if arxiv_id:
            loaded[arxiv_id] = obj
    if any(arxiv_id not in loaded for arxiv_id in arxiv_ids):
        return None
    return {arxiv_id: loaded[arxiv_id] for arxiv_id in arxiv_ids}


def _payload(channel_id: str, message: blockkit.Message, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "channel": channel_id,
        **message,
        "unfurl_links": False,
        "unfurl_media": False,
        # Lets a thread reply be resolved to its paper straight from the message, and a resumed
        # run find what Slack already has (app/digest/reconcile.py).
        "metadata": {"event_type": "paperboy_digest", "event_payload": meta},
    }


def render(
    session: Session,
    settings: Settings,
    *,
    channel: Channel,
    paper_ids: list[str],
    scheduled_for: datetime,
    run_id: int | None = None,
    batch: Batch | None = None,
    recommended: Mapping[str, Any] | None = None,
) -> list[OutMessage]:
    """Every message of a digest, in posting order (deterministic for a given run row).
    `recommended`: the run's recommendations and their reasons (digest_runs.recommended)."""
    recommended = recommended or {}
    day = aware(scheduled_for).astimezone(ZoneInfo(channel.timezone)).date()
    cid = channel.channel_id
    meta_base: dict[str, Any] = {"run_id": run_id} if run_id is not None else {}
    if batch is not None and batch.topics is not None and cid in batch.topics:
        topics = [t.name for t in batch.topics[cid]]
    else:
        topics = [t.name for t in channel_topics(session, channel_id=cid)]
    if not paper_ids:
        since = digest_since(session, channel_id=cid, scheduled_for=aware(scheduled_for))
        kind = notice_kind(session, channel=channel, since=since)
        if kind is None:
            return []
        if kind == "ingest_failure":
            message = digest_blocks.ingest_failure_notice(day=day)
        else:
            message = digest_blocks.quiet_day_notice(day=day, topics=topics)
        notice = _payload(cid, message, meta_base | {"kind": kind, "position": 0})
        return [OutMessage(0, "notice", None, _ready(notice))]
    papers = _loaded(session, paper_ids) or load_papers(session, paper_ids)
    present = [i for i in paper_ids if i in papers]
    header = digest_blocks.digest_header(
        day=day, topics=topics, count=len(present), style=channel.style,
        recommended=sum(1 for i in present if recommended.get(i)),
    )  # fmt: skip
    header_payload = _payload(cid, header, meta_base | {"kind": "header", "position": 0})
    out = [OutMessage(0, "header", None, _ready(header_payload))]
    thread = channel.style == "thread"
    engine = session.get_bind()
    cards: dict[str, Any] = {}
    by_authors: dict[str, str] = {}  # "by an author you follow: ..." (app/digest/followed.py)

    def paper_payload(arxiv_id: str, position: int) -> dict[str, Any]:
        if not cards:  # one query for the whole run, on first use
            with Session(engine) as s:
                cards.update(cards_for(s, papers=[papers[i] for i in present], settings=settings))
                by_authors.update(followed.marks(s, channel_id=cid, papers=papers))
        notes = []
        if reason := recommended.get(arxiv_id):
            notes.append(digest_blocks.recommendation_note(reason))
        if arxiv_id in by_authors:
            notes.append(digest_blocks.author_note(by_authors[arxiv_id]))
        message = paper_blocks.paper_message(
            papers[arxiv_id], cards[arxiv_id], position=position, note="\n".join(notes) or None
        )
        meta = meta_base | {"kind": "paper", "arxiv_id": arxiv_id, "position": position}
        return _payload(cid, message, meta)

    for position, arxiv_id in enumerate(paper_ids, start=1):
        if arxiv_id not in papers:  # deleted since planning: keep the positions of the others
            continue
        build = functools.partial(paper_payload, arxiv_id, position)
        out.append(OutMessage(position, "paper", arxiv_id, build, thread))
    return out
