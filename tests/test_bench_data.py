"""The labelled relevance set of bench/relevance.py (bench/data/) is sound: it parses as arXiv's
feed, is as large as the issue asks, every label names a paper of the set, and paraphrase
queries really use other words than their relevant papers' titles."""

from __future__ import annotations

from collections import Counter

from bench.relevance_set import load_papers, load_queries, problems, shared_words


def test_the_set_has_300_papers_and_40_queries_half_keyword_half_paraphrase() -> None:
    papers, queries = load_papers(), load_queries()
    assert len({p.arxiv_id for p in papers}) == len(papers) >= 300
    kinds = Counter(q.kind for q in queries)
    assert len(queries) >= 40
    assert kinds["keyword"] == kinds["paraphrase"] == len(queries) // 2


def test_labels_name_papers_of_the_set_and_paraphrases_share_no_title_word() -> None:
    assert problems(load_papers(), load_queries()) == []


def test_the_paraphrase_check_sees_shared_words_through_inflections() -> None:
    assert shared_words("flaky checks", "An Empirical Study of Flaky Tests in Python") == {"flaky"}
    assert shared_words("tests that fail", "Intermittently Failing Tests") == {"test", "fail"}
    assert shared_words("images", "Image Classifiers") == {"imag"}
    assert shared_words("automatically fixing bugs", "Automated Program Repair") == {"automatical"}
    assert shared_words("checks that randomly pass", "An Empirical Study of Flaky Tests") == set()
