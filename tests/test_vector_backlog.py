"""The vector backlog: ingest writes vectors outside the HNSW index, search finds them at once by
exact scan, and the `index` job (or `paperboy embed` / `backfill`) adds them to the index.

What a user notices: a paper is searchable the moment it is stored, and results do not change
when its vector moves into the index; a re-embedded paper is found by its new text."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import numpy as np
from slack_sdk import WebClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.embeddings import count_backlog, nearest
from app.db.engine import session_scope
from app.db.models import PaperEmbedding
from app.ingest import index_vectors, store_records
from app.scheduler import Outcome, fire, job_specs
from app.search import search_papers
from app.slack.poster import SlackPoster
from app.sources import build_sources
from app.sources.records import PaperRecord
from tests.deps import embedder, run_cli

NOW = datetime(2026, 11, 30, tzinfo=UTC)

PAPERS = {
    "2611.40001": (
        "Detecting flaky tests in continuous integration",
        "Flaky tests pass and fail on the same code. We mine CI logs to detect flaky tests.",
    ),
    "2611.40002": (
        "Protein structure prediction with diffusion",
        "We predict the three-dimensional structure of proteins from amino acid sequences.",
    ),
    "2611.40003": (
        "Retrieval-augmented generation for question answering",
        "A retriever fetches passages that a language model conditions on to answer questions.",
    ),
}
# Shares no word with the flaky-tests paper's title.
PARAPHRASE = "nondeterministic software checks that pass and fail randomly"


def store(engine: Engine, papers: dict[str, tuple[str, str]] = PAPERS) -> None:
    with session_scope(engine) as session:
        store_records(
            session,
            records=[
                PaperRecord(arxiv_id=k, title=t, abstract=a, published=NOW)
                for k, (t, a) in papers.items()
            ],
            embedder=embedder(),
        )


def indexed(engine: Engine) -> dict[int, bool]:
    with Session(engine) as session:
        return dict(session.execute(select(PaperEmbedding.paper_id, PaperEmbedding.indexed)).all())


def semantic(engine: Engine, query: str) -> list[str]:
    with Session(engine) as session:
        hits = search_papers(session, text=query, mode="semantic", embedder=embedder())
    return [h.arxiv_id for h in hits]


def test_a_stored_paper_is_found_before_and_after_it_joins_the_index(engine: Engine) -> None:
    store(engine)
    assert set(indexed(engine).values()) == {False}  # ingest did not touch the HNSW graph
    before = semantic(engine, PARAPHRASE)
    assert before[0] == "2611.40001"

    assert index_vectors(engine, limit=100) == 3

    assert set(indexed(engine).values()) == {True}
    assert semantic(engine, PARAPHRASE) == before
    with Session(engine) as session:
        assert count_backlog(session) == 0


def test_related_papers_merge_the_index_and_the_backlog(engine: Engine) -> None:
    store(engine, dict(list(PAPERS.items())[:2]))
    index_vectors(engine, limit=100)
    store(engine, dict(list(PAPERS.items())[2:]))  # two in the index, one not yet
    query = embedder().embed(["a language model answers questions from retrieved passages"])[0]
    with Session(engine) as session:
        found = nearest(session, vector=query, model=embedder().name, limit=3)
        ids = dict(session.execute(select(PaperEmbedding.paper_id, PaperEmbedding.indexed)).all())
    assert len(found) == 3
    assert [ids[n.paper_id] for n in found][0] is False  # the RAG paper, not indexed yet, first
    similarities = [n.similarity for n in found]
    assert similarities == sorted(similarities, reverse=True)


def test_a_new_abstract_leaves_the_index_until_it_is_re_added(engine: Engine) -> None:
    store(engine)
    index_vectors(engine, limit=100)
    changed = {
        "2611.40002": (
            "Protein structure prediction with diffusion",
            "Our tests pass or fail at random on the same commit; we find such unreliable checks.",
        )
    }
    store(engine, changed)
    flags = indexed(engine)
    assert sorted(flags.values()) == [False, True, True]
    assert set(semantic(engine, PARAPHRASE)[:2]) == {"2611.40001", "2611.40002"}


def test_vectors_are_stored_exactly_as_computed(engine: Engine) -> None:
    """They travel in pgvector's binary format: no rounding through text."""
    store(engine)
    title, abstract = PAPERS["2611.40003"]
    expected = embedder().embed([f"{title}\n{abstract}"])[0]
    with Session(engine) as session:
        stored = session.scalars(select(PaperEmbedding.embedding)).all()
    assert any(np.array_equal(np.asarray(v, dtype=np.float32), expected) for v in stored)


def test_two_drains_side_by_side_add_each_vector_once(engine: Engine) -> None:
    store(
        engine,
        {f"2611.5{i:04d}": (f"Paper number {i}", f"About topic {i % 7}.") for i in range(120)},
    )
    counts: list[int] = []

    def drain() -> None:
        counts.append(index_vectors(engine, limit=1_000, batch=10))

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 120
    assert set(indexed(engine).values()) == {True}


def test_the_scheduled_index_job_empties_the_backlog(settings: Settings, engine: Engine) -> None:
    store(engine)
    poster = SlackPoster(WebClient(token="xoxb-x", base_url=settings.slack_api_url))
    specs = job_specs(settings, engine, poster, build_sources(settings), embedder())
    job = next(s for s in specs if s.id == "index")

    assert fire(engine, job, now=datetime(2026, 3, 2, 9, 7, tzinfo=UTC)) == Outcome.RAN

    assert set(indexed(engine).values()) == {True}


def test_paperboy_embed_also_fills_the_index(settings: Settings, engine: Engine) -> None:
    store(engine)
    out = run_cli(settings, "embed")
    assert out.returncode == 0, out.stderr
    assert "added 3 vectors to the search index" in out.stdout
    assert set(indexed(engine).values()) == {True}


def test_status_shows_the_vectors_waiting_for_the_index(settings: Settings, engine: Engine) -> None:
    store(engine)
    before = json.loads(run_cli(settings, "status", "--json").stdout)["search"]
    assert before == {"vectors": 3, "waiting_for_index": 3}
    index_vectors(engine, limit=100)
    shown = run_cli(settings, "status")
    assert shown.returncode == 0, shown.stderr
    assert "waiting_for_index: 0" in shown.stdout


def test_vectors_are_written_where_pgvector_set_up_the_connection_itself(engine: Engine) -> None:
    """Another library may have registered pgvector's own adapters on a pooled connection."""
    from pgvector.psycopg import register_vector

    with session_scope(engine) as session:
        driver = session.connection().connection.driver_connection
        assert driver is not None
        register_vector(driver)
        store_records(
            session,
            records=[PaperRecord(arxiv_id="2611.40009", title="A title", abstract="Some words.")],
            embedder=embedder(),
        )
    assert list(indexed(engine).values()) == [False]
