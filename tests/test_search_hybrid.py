"""Hybrid search: words and meaning fused, the query syntax obeyed by both halves, the HNSW
index in the semantic half's plan, and a store without vectors still answered by words."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from digest_helpers import NOW, add_paper
from search_helpers import paper
from slack_cmd_support import all_text, command_replies
from sqlalchemy import Engine, event, insert, select, text
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import channels
from app.db.embeddings import embed_papers
from app.db.models import Channel, Paper, PaperEmbedding, Relevance
from app.db.papers import upsert_papers
from app.digest import select_papers
from app.errors import UserInputError
from app.ingest import index_vectors, store_records
from app.relevance import refresh_relevance
from app.search import score_papers, search_papers, topic_candidates
from app.search_query import parse, render
from app.search_semantic import filter_node, query_text
from app.topics import follow
from tests.deps import embedder, run_cli

SINCE = NOW - timedelta(days=1)
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
        """A few thousand vectors: enough that PostgreSQL prefers the index to a full sort. The
        vectors not yet in the index (here the last 50) are read through the backlog's b-tree."""
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
        assert index_vectors(engine, limit=n - 50) == n - 50
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
                assert "ix_paper_embeddings_backlog" in lines, lines
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


class TestTopicMatching:
    """Digests and LLM grading candidates find a topic's papers by meaning too."""

    @pytest.fixture
    def channel(self, session: Session) -> Channel:
        follow(session, channel_id="C1", topic_name="flaky tests")
        add_paper(session, "2501.00001", "Detecting flaky tests in continuous integration")
        add_paper(
            session,
            "2501.00002",
            "When browser tests fail intermittently",
            "Nondeterministic end-to-end tests pass and fail randomly on the same code; "
            "we study their causes in web applications.",
        )
        add_paper(session, "2501.00003", "Protein structure prediction with diffusion")
        embed_papers(
            session, embedder=embedder(), paper_ids=list(session.scalars(select(Paper.id)))
        )
        session.commit()
        found = channels.get_channel(session, channel_id="C1")
        assert found is not None
        return found

    def test_the_digest_picks_up_a_paper_that_matches_by_meaning(
        self, session: Session, channel: Channel
    ) -> None:
        words = [c.arxiv_id for c in select_papers(session, channel=channel, since=SINCE)]
        assert words == ["2501.00001"]
        hybrid = select_papers(session, channel=channel, since=SINCE, embedder=embedder())
        assert [c.arxiv_id for c in hybrid] == [
            "2501.00001",
            "2501.00002",
        ]  # words-and-meaning first
        assert hybrid[1].topics == ["flaky tests"]

    def test_a_trending_paper_matches_a_topic_by_meaning(
        self, session: Session, channel: Channel
    ) -> None:
        (topic,) = channels.channel_topics(session, channel_id="C1")
        ids = ["2501.00001", "2501.00002", "2501.00003"]
        assert set(score_papers(session, topic=topic, arxiv_ids=ids)) == {"2501.00001"}
        scores = score_papers(session, topic=topic, arxiv_ids=ids, embedder=embedder())
        hits = topic_candidates(session, topic=topic, embedder=embedder())
        # On the scale of the topic's own hits: the same paper, the same score.
        assert scores == {h.arxiv_id: h.score for h in hits}
        assert set(scores) == {"2501.00001", "2501.00002"}

    def test_grading_candidates_include_the_paper_that_matches_by_meaning(
        self, settings: Settings, engine: Engine, channel: Channel
    ) -> None:
        refresh_relevance(settings, engine, embedder=embedder())
        with Session(engine) as session:
            scored = set(
                session.scalars(
                    select(Paper.arxiv_id).join(Relevance, Relevance.paper_id == Paper.id)
                )
            )
        assert scored == {"2501.00001", "2501.00002"}

    def test_slack_topic_search_finds_papers_by_meaning(
        self, slack_app_server: Any, channel: Channel
    ) -> None:
        sent = slack_app_server.command(f"topic {PARAPHRASE}")
        shown = all_text(command_replies(sent)[0])
        assert "When browser tests fail intermittently" in shown
        assert "Protein structure" not in shown
