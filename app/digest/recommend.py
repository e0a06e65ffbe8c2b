"""The digest's "Recommended for you" section: a few recent papers that match none of the
channel's topics but sit close to its taste (docs/ranking.md, "Channel taste"). Candidates are
the archive's recent papers nearest to the profile and, when it answers, Semantic Scholar's
recommendations from the channel's liked and disliked papers; all are ranked by similarity to
the profile, and each names the liked paper it is most like.

Chosen when a run is planned and stored with it (`digest_runs.recommended`), so a recommended
paper goes through the same exactly-once posting as the others, and is owed like them when the
run never reaches Slack (app/digest/owed.py).

Semantic Scholar is asked before the planning transaction opens (`fetch_s2`, up to its 20 s
deadline and 1 request/s pace), never inside it: a slow S2 must not hold a transaction, and the
rows it reads, open while it waits. The planning transaction then stores what it answered and
ranks it with the archive's papers.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, exists, literal, or_, select
from sqlalchemy.orm import Session

from app.db.channels import get_channel
from app.db.models import Channel, DigestRun, DigestStatus, Paper, PaperEmbedding, Topic
from app.digest.rank import TASTE, TasteWeights
from app.digest.select import topic_scores
from app.digest.taste import Example, Profile, TasteDeps, taste_profile
from app.ingest import store_records
from app.sources.records import PaperRecord
from app.sources.s2_enrichment import s2_record
from app.sources.semantic_scholar import S2Unavailable
from app.timeutil import aware

log = logging.getLogger(__name__)

# Nearest recent papers looked at before the filters (topics, already posted) thin them out.
POOL = 60
# Semantic Scholar: liked / disliked papers sent as examples, recommendations asked for.
S2_EXAMPLES = 20
S2_LIMIT = 30
S2_FIELDS = ("externalIds", "title", "abstract", "authors", "publicationDate")
# Below every other source: S2's metadata of a recommended paper only fills gaps.


@dataclass(frozen=True)
class Recommendation:
    arxiv_id: str
    similarity: float
    like: Example  # the positive example most similar to it: its reason
    source: str = "archive"  # archive | semantic_scholar

    def reason(self) -> dict[str, Any]:
        """What the run stores (digest_runs.recommended) and the message shows."""
        return {
            "like": self.like.arxiv_id,
            "title": self.like.title,
            "signal": self.like.signal.value,
            "source": self.source,
        }


def wanted(channel: Channel, profile: Profile | None, *, weights: TasteWeights = TASTE) -> bool:
    """Whether the channel's digest gets the section now."""
    return (
        profile is not None
        and bool(channel.recommendations)
        and profile.positives >= weights.recommend_after
    )


def recommend(
    session: Session,
    *,
    profile: Profile,
    topics: Sequence[Topic],
    skip: Collection[str],
    now: datetime,
    taste: TasteDeps,
    s2_records: Sequence[PaperRecord] = (),
    weights: TasteWeights = TASTE,
) -> list[Recommendation]:
    """Up to `recommend_limit` papers for the section, best first. `skip`: arXiv ids the channel
    got already or gets in this digest. `s2_records`: what `fetch_s2` brought back."""
    since = window_start(now, weights)
    signalled = {e.paper_id for e in profile.examples}
    pool = _nearest_recent(session, profile=profile, since=since, exclude=signalled)
    sources = dict.fromkeys(pool, "archive")
    if s2_records:
        found = s2_candidates(session, profile=profile, taste=taste, records=s2_records)
        for arxiv_id, hit in found.items():
            if arxiv_id not in pool:  # the archive had it already: it stays an archive find
                pool[arxiv_id] = hit
                sources[arxiv_id] = "semantic_scholar"
    close = [
        (arxiv_id, similarity, vector)
        for arxiv_id, (similarity, vector) in pool.items()
        if arxiv_id not in skip and similarity >= weights.recommend_min_similarity
    ]
    on_topic = topic_scores(session, topics=topics, arxiv_ids=[a for a, _, _ in close])
    chosen: list[Recommendation] = []
    for arxiv_id, similarity, vector in sorted(close, key=lambda c: (-c[1], c[0])):
        like = profile.reason_for(vector)
        if arxiv_id in on_topic or like is None:
            continue
        chosen.append(Recommendation(arxiv_id, similarity, like, sources[arxiv_id]))
        if len(chosen) >= weights.recommend_limit:
            break
    return chosen


def _nearest_recent(
    session: Session, *, profile: Profile, since: datetime, exclude: Collection[int]
) -> dict[str, tuple[float, np.ndarray]]:
    """{arxiv_id: (similarity, vector)} of the POOL papers first seen (or published) since
    `since` nearest to the profile. Exact, not through the HNSW index: the recency filter leaves
    a few thousand rows at most, and an HNSW scan returns only its `ef_search` (40) nearest of
    the whole archive, which the filter could then empty."""
    distance = PaperEmbedding.embedding.cosine_distance(profile.vector)
    # Ordered by `distance + 0`, an expression the HNSW index cannot serve: the planner then
    # reads the recent papers through the date indexes and sorts them exactly.
    exact = distance + literal(0.0)
    query = (
        select(Paper.arxiv_id, distance, PaperEmbedding.embedding)
        .join(PaperEmbedding, PaperEmbedding.paper_id == Paper.id)
        .where(
            PaperEmbedding.model == profile.model,
            Paper.arxiv_id.is_not(None),
            or_(Paper.first_seen_at >= since, Paper.published >= since),
        )
        .order_by(exact, Paper.arxiv_id)
        .limit(POOL)
    )
    if exclude:
        query = query.where(Paper.id.not_in(list(exclude)))
    return {
        arxiv_id: (1.0 - float(d), np.asarray(vector, dtype=np.float32))
        for arxiv_id, d, vector in session.execute(query)
    }


def window_start(now: datetime, weights: TasteWeights = TASTE) -> datetime:
    """How recent a recommended paper must be."""
    return aware(now) - timedelta(days=weights.recommend_window_days)


def fetch_s2(
    engine: Engine,
    *,
    channel_id: str,
    now: datetime | None,
    taste: TasteDeps | None,
    planned: bool = False,
) -> list[PaperRecord]:
    """Semantic Scholar's recommendations from the channel's liked and disliked papers, as
    records with an arXiv id (a digest addresses papers by it) published in the window; [] when
    the section is not wanted, S2 is not configured or unreachable (the archive's
    recommendations stand alone). The profile is read in a short transaction that is over
    before S2 is asked. `planned`: skip when the run for `now` exists already (nothing will be
    chosen for it, so the request would only spend S2's 1 request/s). `now` None: no run, none."""
    if taste is None or taste.recommender is None or now is None:
        return []
    with Session(engine) as session:
        channel = get_channel(session, channel_id=channel_id)
        if channel is None:
            return []
        if planned and session.scalar(
            select(
                exists().where(
                    DigestRun.channel_id == channel_id, DigestRun.scheduled_for == aware(now)
                )
            )
        ):
            return []
        profile = taste_profile(session, channel_id=channel_id, model=taste.embedder.name)
        if profile is None or not wanted(channel, profile):
            return []
    liked = [e.arxiv_id for e in profile.examples if e.weight > 0 and e.arxiv_id]
    disliked = [e.arxiv_id for e in profile.examples if e.weight < 0 and e.arxiv_id]
    if not liked:
        return []
    try:
        answers = taste.recommender.recommend(
            positive=[f"ARXIV:{a}" for a in liked[:S2_EXAMPLES]],
            negative=[f"ARXIV:{a}" for a in disliked[:S2_EXAMPLES]],
            limit=S2_LIMIT,
            fields=S2_FIELDS,
        )
    except S2Unavailable as exc:
        log.info("recommendations from the archive only: %s", exc)
        return []
    since = window_start(now)
    records = [r for a in answers if (r := taste_record(a)) is not None]
    return [r for r in records if r.published is not None and aware(r.published) >= since]


def s2_candidates(
    session: Session, *, profile: Profile, taste: TasteDeps, records: Sequence[PaperRecord]
) -> dict[str, tuple[float, np.ndarray]]:
    """{arxiv_id: (similarity, vector)} of Semantic Scholar's recommended `records` (from
    `fetch_s2`), stored (and embedded) first when the archive lacks them."""
    store_records(session, records=records, embedder=taste.embedder)
    vectors = session.execute(
        select(Paper.arxiv_id, PaperEmbedding.embedding)
        .join(PaperEmbedding, PaperEmbedding.paper_id == Paper.id)
        .where(
            Paper.arxiv_id.in_([r.arxiv_id for r in records]),
            PaperEmbedding.model == profile.model,
            Paper.id.not_in([e.paper_id for e in profile.examples]),
        )
    )
    out: dict[str, tuple[float, np.ndarray]] = {}
    for arxiv_id, embedding in vectors:
        vector = np.asarray(embedding, dtype=np.float32)
        out[arxiv_id] = (profile.similarity(vector), vector)
    return out


def taste_record(paper: Mapping[str, Any]) -> PaperRecord | None:
    """A recommended S2 paper as a record, only with an arXiv id (the digest names papers by
    arXiv id); S2's metadata has the lowest priority, it only fills what arXiv has not told us."""
    record = s2_record(paper, source_key="taste")
    return record if record is not None and record.arxiv_id else None


def owed_reasons(session: Session, *, channel_id: str) -> dict[str, dict[str, Any]]:
    """The reasons of recommendations in the channel's undelivered runs: an owed recommendation
    is still shown as one."""
    out: dict[str, dict[str, Any]] = {}
    for reasons in session.scalars(
        select(DigestRun.recommended)
        .where(DigestRun.channel_id == channel_id, DigestRun.status == DigestStatus.UNDELIVERED)
        .order_by(DigestRun.scheduled_for, DigestRun.id)
    ):
        out.update(reasons or {})
    return out
