"""Choosing a channel's digest papers: topics, freshness, grades, trending, feedback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from digest_helpers import NOW, add_paper
from paper_helpers import pid
from sqlalchemy.orm import Session

from app import search
from app.db import channels
from app.db.models import Feedback, PostedMessage, Relevance
from app.digest import select_papers
from app.search import score_papers, topic_candidates
from app.topics import create_topic, follow

SINCE = NOW - timedelta(days=1)


def ids(candidates: list) -> list[str]:  # type: ignore[type-arg]
    return [c.arxiv_id for c in candidates]


class TestTopics:
    def test_channel_with_three_topics_sharing_papers_gets_each_paper_once(
        self, session: Session
    ) -> None:
        for name in ("language models", "retrieval", "agents"):
            follow(session, channel_id="C1", topic_name=name)
        add_paper(session, "2501.00001", "Retrieval for language models used by agents")
        add_paper(session, "2501.00002", "Scaling language models")
        add_paper(session, "2501.00003", "Retrieval agents")
        add_paper(session, "2501.00004", "Protein folding with diffusion")
        channel = channels.get_channel(session, channel_id="C1")
        chosen = select_papers(session, channel=channel, since=SINCE)
        assert sorted(ids(chosen)) == ["2501.00001", "2501.00002", "2501.00003"]
        shared = next(c for c in chosen if c.arxiv_id == "2501.00001")
        assert shared.topics == ["agents", "language models", "retrieval"]

    def test_max_papers_and_already_posted_unless_forced(self, session: Session) -> None:
        follow(session, channel_id="C1", topic_name="transformers")
        for i in range(5):
            add_paper(session, f"2501.1000{i}", f"Transformers part {i}", hf_upvotes=i)
        channel = channels.update_channel(session, channel_id="C1", max_papers=3)
        posted = pid(session, "2501.10004")
        session.add(PostedMessage(channel_id="C1", ts="1.000001", paper_id=posted, kind="paper"))
        session.flush()
        chosen = ids(select_papers(session, channel=channel, since=SINCE))
        assert len(chosen) == 3 and "2501.10004" not in chosen
        # upvotes break the tie between equally relevant papers
        assert chosen[0] == "2501.10003"
        forced = ids(select_papers(session, channel=channel, since=SINCE, force=True))
        assert forced[0] == "2501.10004"

    def test_only_papers_new_since_the_last_digest(self, session: Session) -> None:
        follow(session, channel_id="C1", topic_name="transformers")
        old = NOW - timedelta(days=10)
        add_paper(session, "2501.20001", "Transformers, old news", age_days=10, first_seen_at=old)
        add_paper(session, "2501.20002", "Transformers, fresh")
        channel = channels.get_channel(session, channel_id="C1")
        assert ids(select_papers(session, channel=channel, since=SINCE)) == ["2501.20002"]


class TestRanking:
    def test_llm_grade_dominates_and_min_relevance_filters(self, session: Session) -> None:
        _, topic, _ = follow(session, channel_id="C1", topic_name="speech recognition")
        add_paper(session, "2501.30001", "Speech recognition speech recognition everywhere")
        add_paper(session, "2501.30002", "Speech recognition, a footnote")
        add_paper(session, "2501.30003", "Speech recognition on phones")
        session.add_all([
            Relevance(topic_id=topic.id, paper_id=pid(session, "2501.30002"), llm_score=9,
                      lexical_score=0.1),
            Relevance(topic_id=topic.id, paper_id=pid(session, "2501.30003"), llm_score=1,
                      lexical_score=0.1),
        ])  # fmt: skip
        session.flush()
        channel = channels.update_channel(session, channel_id="C1", min_relevance=0.3)
        chosen = select_papers(session, channel=channel, since=SINCE)
        assert ids(chosen) == ["2501.30002", "2501.30001"]
        assert chosen[0].graded and chosen[0].relevance == 0.9

    def test_trending_papers_matching_a_topic_join_when_asked(self, session: Session) -> None:
        follow(session, channel_id="C1", topic_name="diffusion")
        month_ago = NOW - timedelta(days=30)
        add_paper(session, "2412.00001", "Diffusion everywhere", age_days=30,
                  first_seen_at=month_ago, hf_trending_at=NOW, hf_upvotes=300)  # fmt: skip
        add_paper(session, "2412.00002", "Trending but about birds", age_days=30,
                  first_seen_at=month_ago, hf_trending_at=NOW)  # fmt: skip
        channel = channels.get_channel(session, channel_id="C1")
        chosen = select_papers(session, channel=channel, since=SINCE)
        assert ids(chosen) == ["2412.00001"] and chosen[0].trending
        channel = channels.update_channel(session, channel_id="C1", include_trending=False)
        assert select_papers(session, channel=channel, since=SINCE) == []

    def test_downvoting_a_topics_papers_shows_fewer_like_them(self, session: Session) -> None:
        follow(session, channel_id="C1", topic_name="graph neural networks")
        follow(session, channel_id="C1", topic_name="speech recognition")
        channel = channels.update_channel(session, channel_id="C1", max_papers=2)
        # last week's graph paper, posted to the channel and voted down by two people
        add_paper(session, "2501.40000", "Graph neural networks revisited", age_days=7,
                  first_seen_at=NOW - timedelta(days=7))  # fmt: skip
        session.add(
            PostedMessage(
                channel_id="C1", ts="1.1", paper_id=pid(session, "2501.40000"), kind="paper"
            )
        )
        add_paper(session, "2501.40001", "Graph neural networks at scale", hf_upvotes=10)
        add_paper(session, "2501.40002", "Graph neural networks for chemistry", hf_upvotes=10)
        add_paper(session, "2501.40003", "Speech recognition at scale")
        add_paper(session, "2501.40004", "Speech recognition for chemistry")
        before = ids(select_papers(session, channel=channel, since=SINCE))
        assert before == ["2501.40001", "2501.40002"]
        session.add_all([
            Feedback(channel_id="C1", paper_id=pid(session, "2501.40000"), user_id=u, value=-1)
            for u in ("U1", "U2")
        ])  # fmt: skip
        session.flush()
        after = ids(select_papers(session, channel=channel, since=SINCE))
        assert after == ["2501.40003", "2501.40004"]
        # votes belong to the channel that cast them
        follow(session, channel_id="C2", topic_name="graph neural networks")
        follow(session, channel_id="C2", topic_name="speech recognition")
        c2 = channels.update_channel(session, channel_id="C2", max_papers=2)
        assert ids(select_papers(session, channel=c2, since=SINCE)) == before


class TestOneScoreScale:
    """Search hits and trending papers are scored by one text score (docs/ranking.md)."""

    def test_a_trending_paper_scores_as_the_search_would_score_it(self, session: Session) -> None:
        topic = create_topic(session, name="diffusion")
        for i, age in enumerate((0.5, 3.0, 9.0)):
            add_paper(session, f"2501.5000{i}", "Diffusion models for video", age_days=age)
        hits = {h.arxiv_id: h.score for h in topic_candidates(session, topic=topic)}
        assert len(hits) == 3
        assert score_papers(session, topic=topic, arxiv_ids=hits) == pytest.approx(hits)

    def test_equal_text_matches_differ_only_by_their_recency(self, session: Session) -> None:
        follow(session, channel_id="C1", topic_name="diffusion")
        month_ago = NOW - timedelta(days=30)
        add_paper(session, "2501.60001", "Diffusion models for video", age_days=0.5)
        add_paper(session, "2412.60002", "Diffusion models for video", age_days=30,
                  first_seen_at=month_ago, hf_trending_at=NOW)  # fmt: skip
        channel = channels.get_channel(session, channel_id="C1")
        hit, trending = select_papers(session, channel=channel, since=SINCE)
        assert (hit.arxiv_id, trending.arxiv_id) == ("2501.60001", "2412.60002")
        assert trending.trending and not hit.trending

        def recency(age_days: float) -> float:
            decay = 0.5 ** (age_days / search.HALF_LIFE_DAYS)
            return search.RECENCY_FLOOR + (1 - search.RECENCY_FLOOR) * decay

        # Raw ts_rank_cd for the trending paper would put it level with the fresh hit.
        assert trending.relevance / hit.relevance == pytest.approx(
            recency(30) / recency(0.5), rel=1e-3
        )
