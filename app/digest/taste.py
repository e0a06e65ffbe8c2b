"""A channel's taste: its 👍 and 👎, "More like this" clicks, saves and papers discussed in its
threads, turned into one vector in the embedding space (docs/ranking.md, "Channel taste").

Computed from those rows at digest time, never stored, so it cannot drift from them. Only the
current embedding model's vectors count: another model's are not comparable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Feedback, Paper, PaperEmbedding, PostedMessage, SavedPaper, TasteNudge
from app.digest.rank import TASTE, TasteWeights
from app.embeddings import Embedder


class Signal(StrEnum):
    """A kind of taste signal; the order is the one a reason names first ("you 👍'd")."""

    UP = "up"
    MORE = "more"
    SAVE = "save"
    THREAD = "thread"
    DOWN = "down"


class Recommender(Protocol):
    """Semantic Scholar's recommendations (app/sources/semantic_scholar.py SemanticScholar,
    raising S2Unavailable)."""

    def recommend(
        self,
        *,
        positive: Sequence[str],
        negative: Sequence[str] = (),
        limit: int = 20,
        fields: Sequence[str],
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class TasteDeps:
    """What digests need for taste: the embedder (its model's vectors; it also embeds papers
    Semantic Scholar recommends) and, when configured, Semantic Scholar."""

    embedder: Embedder
    recommender: Recommender | None = None


@dataclass(frozen=True)
class Example:
    """A paper the channel sent a signal about."""

    paper_id: int
    arxiv_id: str | None
    title: str
    weight: float  # signed: what it adds to the profile
    signal: Signal  # the strongest positive kind, else DOWN


@dataclass
class Profile:
    vector: np.ndarray  # unit length
    model: str
    positives: int  # positive signals (each 👍, click, save, discussed paper)
    examples: list[Example] = field(default_factory=list)
    vectors: dict[int, np.ndarray] = field(default_factory=dict)  # paper_id -> unit vector

    def similarity(self, vector: np.ndarray) -> float:
        return float(np.dot(self.vector, vector))

    def reason_for(self, vector: np.ndarray) -> Example | None:
        """The positive example most similar to `vector` (what a recommendation is "like")."""
        liked = [e for e in self.examples if e.weight > 0 and e.paper_id in self.vectors]
        if not liked:
            return None
        return max(liked, key=lambda e: float(np.dot(self.vectors[e.paper_id], vector)))


def _signal_counts(session: Session, *, channel_id: str) -> dict[int, dict[Signal, int]]:
    """{paper_id: {signal: how many}} of the channel."""
    out: dict[int, dict[Signal, int]] = {}

    def add(paper_id: int | None, signal: Signal, count: int) -> None:
        if paper_id is not None and count:
            out.setdefault(paper_id, {})[signal] = out.get(paper_id, {}).get(signal, 0) + count

    votes = session.execute(
        select(Feedback.paper_id, Feedback.value, func.count())
        .where(Feedback.channel_id == channel_id)
        .group_by(Feedback.paper_id, Feedback.value)
    )
    for paper_id, value, count in votes:
        add(paper_id, Signal.UP if value > 0 else Signal.DOWN, int(count))
    queries = (
        (Signal.MORE, select(TasteNudge.paper_id, func.count()).where(
            TasteNudge.channel_id == channel_id).group_by(TasteNudge.paper_id)),
        (Signal.SAVE, select(SavedPaper.paper_id, func.count()).where(
            SavedPaper.channel_id == channel_id).group_by(SavedPaper.paper_id)),
        # A summary or an answer in the channel: the paper was discussed there (once per paper).
        (Signal.THREAD, select(PostedMessage.paper_id, func.count(func.distinct(
            PostedMessage.paper_id)))
            .where(PostedMessage.channel_id == channel_id,
                   PostedMessage.kind.in_(("summary", "answer")),
                   PostedMessage.paper_id.is_not(None))
            .group_by(PostedMessage.paper_id)),
    )  # fmt: skip
    for signal, query in queries:
        for row in session.execute(query):
            add(row[0], signal, int(row[1]))
    return out


def _weight(counts: dict[Signal, int], weights: TasteWeights) -> float:
    per = {
        Signal.UP: weights.thumbs_up,
        Signal.MORE: weights.more_like_this,
        Signal.SAVE: weights.save,
        Signal.THREAD: weights.thread,
        Signal.DOWN: -weights.thumbs_down,
    }
    return sum(per[signal] * count for signal, count in counts.items())


def taste_profile(
    session: Session, *, channel_id: str, model: str, weights: TasteWeights = TASTE
) -> Profile | None:
    """The channel's profile, or None when it has no signal on an embedded paper (or its
    signals cancel out)."""
    counts = _signal_counts(session, channel_id=channel_id)
    if not counts:
        return None
    rows = session.execute(
        select(Paper.id, Paper.arxiv_id, Paper.title, PaperEmbedding.embedding)
        .join(PaperEmbedding, PaperEmbedding.paper_id == Paper.id)
        .where(Paper.id.in_(list(counts)), PaperEmbedding.model == model)
    ).all()
    total = np.zeros(0, dtype=np.float32)
    examples: list[Example] = []
    vectors: dict[int, np.ndarray] = {}
    for paper_id, arxiv_id, title, embedding in rows:
        vector = np.asarray(embedding, dtype=np.float32)
        weight = _weight(counts[paper_id], weights)
        total = weight * vector if total.size == 0 else total + weight * vector
        kinds = [s for s in Signal if s in counts[paper_id]]
        examples.append(Example(paper_id, arxiv_id, title or "", weight, kinds[0]))
        vectors[paper_id] = vector
    norm = float(np.linalg.norm(total)) if total.size else 0.0
    if norm < 1e-6:
        return None
    positives = sum(n for c in counts.values() for s, n in c.items() if s != Signal.DOWN)
    examples.sort(key=lambda e: (-e.weight, e.paper_id))
    return Profile(total / norm, model, positives, examples, vectors)


def similarities(
    session: Session, *, profile: Profile, arxiv_ids: Sequence[str]
) -> dict[str, float]:
    """{arxiv_id: cosine similarity to the profile} of those papers that have a vector."""
    if not arxiv_ids:
        return {}
    rows = session.execute(
        select(Paper.arxiv_id, PaperEmbedding.embedding)
        .join(PaperEmbedding, PaperEmbedding.paper_id == Paper.id)
        .where(Paper.arxiv_id.in_(list(arxiv_ids)), PaperEmbedding.model == profile.model)
    )
    return {
        arxiv_id: profile.similarity(np.asarray(vector, dtype=np.float32))
        for arxiv_id, vector in rows
        if arxiv_id is not None
    }
