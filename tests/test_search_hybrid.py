"""Hybrid search: words and meaning fused, the query syntax obeyed by both halves, the HNSW
index in the semantic half's plan, and a store without vectors still answered by words."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from search_helpers import paper
from sqlalchemy import Engine, event, insert, select, text
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Paper, PaperEmbedding
from app.db.papers import upsert_papers
from app.errors import UserInputError
from app.ingest import store_records
from app.search import search_papers
from app.search_query import parse, render
from app.search_semantic import filter_node, query_text
from tests.deps import embedder, run_cli

PARAPHRASE = "nondeterministic tests that pass and fail randomly"

PAPERS = {
    "flaky": paper(
        "Detecting flaky tests in continuous integration",
        "Flaky tests break builds at random. We mine CI logs to find and quarantine flaky tests.",
    ),
    "selenium": paper(
        "Flaky Selenium tests in web applications",
        "Browser tests that fail intermittently: an empirical study of flaky Selenium suites.",
    ),
    "protein": paper(
        "Protein structure prediction with diffusion",
        "We predict the three-dimensional structure of proteins from amino acid sequences.",
    ),
    "agents": paper(
        "LLM agents that browse the web",
        "Large language model agents plan tool calls and read web pages.",
    ),
    "quant": paper(
        "Four-bit quantization of transformer weights",
        "Weight quantization reduces memory with little accuracy loss.",
    ),
}


def arxiv(key: str) -> str:
    arxiv_id = PAPERS[key].arxiv_id
    assert arxiv_id is not None
    return arxiv_id


@pytest.fixture
def embedded(session: Session) -> None:
    """The papers stored as ingest stores them: with their vectors."""
    store_records(session, records=list(PAPERS.values()), embedder=embedder())
    session.commit()


def found(session: Session, query: str, mode: str = "hybrid") -> list[str]:
    hits = search_papers(session, text=query, mode=mode, embedder=embedder())  # type: ignore[arg-type]
    keys = {rec.arxiv_id: key for key, rec in PAPERS.items()}
    return [keys[h.arxiv_id] for h in hits]


@pytest.mark.usefixtures("embedded")
class TestHybrid:
    def test_a_paraphrase_finds_the_flaky_tests_papers_that_words_miss(
        self, session: Session
    ) -> None:
        assert found(session, PARAPHRASE, "lexical") == []
        assert set(found(session, PARAPHRASE)) == {"flaky", "selenium"}
        assert set(found(session, PARAPHRASE, "semantic")) == {"flaky", "selenium"}

    def test_a_paper_found_both_ways_ranks_first_and_says_how_it_was_found(
        self, session: Session
    ) -> None:
        hits = search_papers(session, text="flaky tests", embedder=embedder())
        assert [h.arxiv_id for h in hits[:2]] == [arxiv("flaky"), arxiv("selenium")]
        assert (hits[0].lexical_rank, hits[0].semantic_rank, hits[0].score) == (1, 1, 1.0)
        assert all(h.lexical_rank is not None for h in hits[:2])

    def test_unrelated_papers_stay_out(self, session: Session) -> None:
        # Nothing is about zebrafish: the nearest vectors are below the similarity floor.
        assert found(session, "zebrafish") == []
        assert "protein" not in found(session, PARAPHRASE)

    def test_an_excluded_word_drops_a_semantic_only_hit(self, session: Session) -> None:
        hits = search_papers(session, text=f"{PARAPHRASE} -selenium", embedder=embedder())
        assert [h.arxiv_id for h in hits] == [arxiv("flaky")]
        assert (hits[0].lexical_rank, hits[0].semantic_rank) == (None, 1)

    def test_a_quoted_phrase_filters_the_semantic_half(self, session: Session) -> None:
        assert set(found(session, f"{PARAPHRASE} continuous integration")) == {
            "flaky",
            "selenium",
        }
        assert found(session, f'{PARAPHRASE} "continuous integration"') == ["flaky"]
        assert found(session, f'{PARAPHRASE} "continuous integration"', "semantic") == ["flaky"]

    def test_text_that_only_excludes_is_still_an_error(self, session: Session) -> None:
        for mode in ("hybrid", "semantic"):
            with pytest.raises(UserInputError, match="only excludes"):
                search_papers(session, text="-selenium", mode=mode, embedder=embedder())  # type: ignore[arg-type]

    def test_an_unknown_mode_is_a_user_error(self, session: Session) -> None:
        with pytest.raises(UserInputError, match="mode must be one of"):
            search_papers(session, text="flaky", mode="fuzzy", embedder=embedder())  # type: ignore[arg-type]

    def test_vectors_of_another_model_are_not_compared(self, session: Session) -> None:
        session.execute(PaperEmbedding.__table__.update().values(model="another-model@0"))
        session.commit()
        assert found(session, PARAPHRASE) == []
        assert found(session, "flaky tests") == ["flaky", "selenium"]  # words still work


class TestWithoutVectors:
    def test_hybrid_answers_by_words_with_the_lexical_scores(self, session: Session) -> None:
        upsert_papers(session, records=list(PAPERS.values()))  # stored, never embedded
        session.commit()
        hybrid = search_papers(session, text="flaky tests", embedder=embedder())
        lexical = search_papers(session, text="flaky tests", mode="lexical")
        assert hybrid == lexical and [h.arxiv_id for h in hybrid][:1] == [arxiv("flaky")]
        assert all(h.semantic_rank is None for h in hybrid)
        assert search_papers(session, text=PARAPHRASE, mode="semantic", embedder=embedder()) == []


class TestQuerySyntax:
    def test_only_quoted_terms_and_exclusions_are_required_of_semantic_hits(self) -> None:
        def required(q: str) -> str | None:
            node = filter_node(parse(q))
            return None if node is None else render(node)

        assert required("flaky tests") is None
        assert required("retrieval-augmented LLM agents") is None  # compounds, acronyms: free
        assert required('"flaky tests" -selenium ci') == '"flaky tests" AND -selenium'
        assert required('"unit" OR fuzzing') is None  # one branch asks nothing
        assert required('("a b" OR "c d") -x') == '("a b" OR "c d") AND -x'

    def test_the_query_vector_is_made_of_the_wanted_words(self) -> None:
        assert query_text(parse('LLM+agents -"web browsing"')) == "llm large language model agents"


class TestPlan:
    def test_the_semantic_half_uses_the_hnsw_index_at_scale(
        self, session: Session, engine: Engine
    ) -> None:
        """A few thousand vectors: enough that PostgreSQL prefers the index to a full sort."""
        rng = np.random.default_rng(7)
        model = embedder().name
        n = 5000
        records = [paper(f"Paper {i} about topic {i % 97}") for i in range(n)]
        upsert_papers(session, records=records)
        ids = list(session.scalars(select(Paper.id)))
        vectors = rng.standard_normal((len(ids), 256)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        session.execute(
            insert(PaperEmbedding),
            [
                {"paper_id": pid, "model": model, "text_hash": "x", "embedding": v}
                for pid, v in zip(ids, vectors, strict=True)
            ],
        )
        session.commit()
        session.execute(text("ANALYZE papers"))
        session.execute(text("ANALYZE paper_embeddings"))
        session.commit()

        statements: list[tuple[str, Any]] = []

        def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            if "paper_embeddings" in statement and "<=>" in statement:
                statements.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        try:
            for query in ("topic", "topic -agents"):  # with an exclusion filter too
                statements.clear()
                search_papers(session, text=query, mode="semantic", embedder=embedder())
                (statement, parameters) = statements[-1]
                plan = session.connection().exec_driver_sql("EXPLAIN " + statement, parameters)
                lines = "\n".join(row[0] for row in plan)
                assert "ix_paper_embeddings_hnsw" in lines, lines
                session.rollback()
        finally:
            event.remove(engine, "before_cursor_execute", capture)


class TestCli:
    def test_mode_and_json_ranks(self, settings: Settings, embedded: None) -> None:
        result = run_cli(settings, "search", PARAPHRASE, "--json")
        assert result.returncode == 0, result.stderr
        hits = json.loads(result.stdout)
        assert {h["arxiv_id"] for h in hits} == {arxiv("flaky"), arxiv("selenium")}
        assert all(h["lexical_rank"] is None for h in hits)
        assert sorted(h["semantic_rank"] for h in hits) == [1, 2]
        assert result.stderr == ""  # vectors exist: no note
        lexical = run_cli(settings, "search", PARAPHRASE, "--mode", "lexical", "--json")
        assert json.loads(lexical.stdout) == []
        both = run_cli(settings, "search", "flaky tests", "--mode", "hybrid", "--json")
        first = json.loads(both.stdout)[0]
        assert (first["arxiv_id"], first["lexical_rank"], first["semantic_rank"]) == (
            arxiv("flaky"), 1, 1,
        )  # fmt: skip

    def test_an_unknown_mode_is_one_line(self, settings: Settings, embedded: None) -> None:
        result = run_cli(settings, "search", "flaky", "--mode", "fuzzy")
        assert result.returncode == 1
        (line,) = result.stderr.strip().splitlines()
        assert "mode must be one of lexical, semantic, hybrid" in line

    def test_a_store_without_vectors_answers_by_words_and_says_so_once(
        self, settings: Settings, session: Session
    ) -> None:
        upsert_papers(session, records=list(PAPERS.values()))
        session.commit()
        result = run_cli(settings, "search", "flaky tests")
        assert result.returncode == 0, result.stderr
        assert "Detecting flaky tests" in result.stdout
        assert result.stderr.count("paperboy embed") == 1, result.stderr
        assert "used words only" in result.stderr
