"""The digest's ranking rule on plain facts: no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.digest.rank import WEIGHTS, PaperFacts, Weights, rank, score

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def facts(arxiv_id: str, **kw: object) -> PaperFacts:
    kw.setdefault("lexical", 0.5)
    kw.setdefault("published", NOW)
    return PaperFacts(arxiv_id=arxiv_id, **kw)  # type: ignore[arg-type]


def order(*candidates: PaperFacts, **kw: object) -> list[str]:
    return [r.arxiv_id for r in rank(candidates, now=NOW, **kw)]  # type: ignore[arg-type]


class TestRelevance:
    def test_a_higher_grade_ranks_first(self) -> None:
        assert order(facts("a", grade=6), facts("b", grade=9), facts("c", grade=7)) == [
            "b",
            "c",
            "a",
        ]

    def test_the_grade_is_the_relevance_and_is_clamped_to_0_10(self) -> None:
        ranked = {r.arxiv_id: r for r in rank([facts("a", grade=9), facts("b", grade=15)], now=NOW)}
        assert ranked["a"].relevance == 0.9 and ranked["a"].graded
        assert ranked["b"].relevance == 1.0

    def test_an_ungraded_paper_never_outranks_a_well_graded_one_on_text_alone(self) -> None:
        strong_text = facts("a", lexical=0.9)
        graded = facts("b", lexical=0.01, grade=7)
        assert order(strong_text, graded) == ["b", "a"]
        (best,) = [r for r in rank([strong_text, graded], now=NOW) if r.arxiv_id == "a"]
        assert best.relevance == pytest.approx(WEIGHTS.lexical_cap) and not best.graded

    def test_text_scores_count_relative_to_the_best_candidate(self) -> None:
        small = rank([facts("a", lexical=0.02), facts("b", lexical=0.01)], now=NOW)
        large = rank([facts("a", lexical=0.8), facts("b", lexical=0.4)], now=NOW)
        assert [r.relevance for r in small] == pytest.approx([r.relevance for r in large])

    def test_min_relevance_leaves_weak_papers_out(self) -> None:
        assert order(facts("a", grade=2), facts("b", grade=5), min_relevance=0.3) == ["b"]


class TestUpvotes:
    def test_upvotes_break_a_tie(self) -> None:
        assert order(facts("a", upvotes=3), facts("b", upvotes=40)) == ["b", "a"]

    def test_the_upvote_boost_is_bounded(self) -> None:
        base = score(facts("a"), best_lexical=0.5, now=NOW).score
        huge = score(facts("a", upvotes=10**9), best_lexical=0.5, now=NOW).score
        full = score(facts("a", upvotes=WEIGHTS.upvotes_full_at), best_lexical=0.5, now=NOW).score
        assert huge - base == pytest.approx(WEIGHTS.upvotes)
        assert full == pytest.approx(huge)

    def test_upvotes_cannot_lift_a_weak_paper_over_a_much_better_one(self) -> None:
        assert order(facts("a", grade=3, upvotes=10**6), facts("b", grade=6)) == ["b", "a"]


class TestRecency:
    def test_a_fresher_paper_wins_a_close_call(self) -> None:
        old = facts("a", published=NOW - timedelta(days=6))
        new = facts("b", published=NOW - timedelta(hours=2))
        assert order(old, new) == ["b", "a"]

    def test_freshness_halves_every_half_life(self) -> None:
        def bonus(age: timedelta) -> float:
            paper = facts("a", published=NOW - age)
            undated = facts("a", published=None)
            return (
                score(paper, best_lexical=0.5, now=NOW).score
                - score(undated, best_lexical=0.5, now=NOW).score
            )

        half_life = timedelta(days=WEIGHTS.recency_half_life_days)
        assert bonus(timedelta(0)) == pytest.approx(WEIGHTS.recency)
        assert bonus(half_life) == pytest.approx(WEIGHTS.recency / 2)
        assert bonus(2 * half_life) == pytest.approx(WEIGHTS.recency / 4)

    def test_first_seen_stands_in_for_a_missing_published_date(self) -> None:
        dated = facts("a", published=None, first_seen=NOW)
        undated = facts("a", published=None)
        gap = (
            score(dated, best_lexical=0.5, now=NOW).score
            - score(undated, best_lexical=0.5, now=NOW).score
        )
        assert gap == pytest.approx(WEIGHTS.recency)

    def test_naive_datetimes_are_read_as_utc(self) -> None:
        naive = facts("a", published=NOW.replace(tzinfo=None))
        assert score(naive, best_lexical=0.5, now=NOW).score == pytest.approx(
            score(facts("a"), best_lexical=0.5, now=NOW).score
        )


class TestFeedback:
    def test_downvoted_topics_sink_and_upvoted_ones_rise(self) -> None:
        liked = facts("a", topic_votes=(4,))
        neutral = facts("b")
        disliked = facts("c", topic_votes=(-4,))
        assert order(disliked, neutral, liked) == ["a", "b", "c"]

    def test_feedback_is_the_mean_over_the_papers_topics_and_bounded(self) -> None:
        base = score(facts("a"), best_lexical=0.5, now=NOW).score
        mixed = score(facts("a", topic_votes=(10**6, -(10**6))), best_lexical=0.5, now=NOW)
        loved = score(facts("a", topic_votes=(10**6,)), best_lexical=0.5, now=NOW)
        assert mixed.score == pytest.approx(base)
        assert loved.score - base == pytest.approx(WEIGHTS.feedback)


class TestOrder:
    def test_ties_are_broken_by_arxiv_id_whatever_the_input_order(self) -> None:
        papers = [facts(f"2501.0000{i}") for i in (3, 1, 2)]
        assert order(*papers) == ["2501.00001", "2501.00002", "2501.00003"]
        assert order(*reversed(papers)) == ["2501.00001", "2501.00002", "2501.00003"]

    def test_limit_keeps_the_best(self) -> None:
        assert order(facts("a", grade=1), facts("b", grade=9), facts("c", grade=5), limit=2) == [
            "b",
            "c",
        ]

    def test_no_candidates_rank_to_nothing(self) -> None:
        assert rank([], now=NOW) == []

    def test_weights_are_one_frozen_value_that_can_be_swapped(self) -> None:
        no_upvotes = replace(WEIGHTS, upvotes=0.0)
        assert isinstance(no_upvotes, Weights)
        assert order(facts("a", upvotes=3), facts("b", upvotes=40), weights=no_upvotes) == [
            "a",
            "b",
        ]
        with pytest.raises(AttributeError):
            WEIGHTS.upvotes = 1.0  # type: ignore[misc]
