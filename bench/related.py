"""Related papers and Semantic Scholar enrichment at archive scale, against the fake S2.

    .venv/bin/python bench/related.py [--papers 20000] [--seeds 40]

N synthetic papers are stored the way ingest stores them (with their vectors); a fake Semantic
Scholar (tests/fakes/semantic_scholar.py, in this process, no pacing) knows every paper and
recommends 10 for each seed, half of them papers the archive lacks (no arXiv id). Timed:
`related_papers` for each seed with S2 (which stores the new recommendations) and without, and
one enrichment run of SEMANTIC_SCHOLAR_ENRICH_MAX = 500 papers (one batch request).

Prints one JSON line: {"papers", "related_p50_ms", "related_p95_ms", "related_archive_only_p50_ms",
"enrich_papers_per_s"}. Targets on a 2-core machine at 20,000 papers: related p95 <= 300 ms
(a Slack answer well inside a second), enrichment >= 250 papers/s (a 500-paper run in 2 s
besides S2's own time).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakes.semantic_scholar import FakeSemanticScholar, s2_paper  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.config import Settings  # noqa: E402
from app.embeddings import build_embedder  # noqa: E402
from app.ingest import run_ingest, store_records  # noqa: E402
from app.related import related_papers  # noqa: E402
from app.sources.s2_enrichment import SemanticScholarSource  # noqa: E402
from app.sources.semantic_scholar import SemanticScholar  # noqa: E402
from bench.ingest_search import bench_database  # noqa: E402
from bench.synthetic import generate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=40)
    args = parser.parse_args()
    embedder = build_embedder("wordllama-l2-supercat-256")
    records = list(generate(args.papers))
    with bench_database() as engine, FakeSemanticScholar() as fake:
        fake.record_requests = False
        with Session(engine) as session:
            for start in range(0, len(records), 5000):
                store_records(session, records=records[start : start + 5000], embedder=embedder)
                session.commit()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        seeds = [r.arxiv_id for r in islice(records, 0, None, max(1, args.papers // args.seeds))]
        for n, arxiv_id in enumerate(seeds):
            seed = fake.add_paper(s2_paper(arxiv_id))
            recs = [fake.add_paper(s2_paper(r.arxiv_id)) for r in records[n * 5 : n * 5 + 5]]
            recs += [
                fake.add_paper(s2_paper(None, doi=f"10.1/bench.{n}.{i}", title=f"Venue {n} {i}"))
                for i in range(5)
            ]
            fake.recommend(seed["paperId"], *(p["paperId"] for p in recs))
        for r in records[: args.papers]:
            if r.arxiv_id not in seeds:
                fake.add_paper(s2_paper(r.arxiv_id, citations=3))
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            semantic_scholar_api_url=fake.url,
            semantic_scholar_interval_seconds=0.0,
        )
        s2 = SemanticScholar(base_url=fake.url, api_key=None, min_interval_s=0.0)
        timed = {"s2": [], "archive": []}  # type: dict[str, list[float]]
        for arxiv_id in seeds:
            for name, client in (("s2", s2), ("archive", None)):
                start = time.perf_counter()
                related_papers(
                    settings, engine, s2=client, sources=[], embedder=embedder, arxiv_id=arxiv_id
                )
                timed[name].append((time.perf_counter() - start) * 1000)
        source = SemanticScholarSource(settings, s2)
        start = time.perf_counter()
        report = run_ingest(settings, engine, sources=[source], embedder=embedder).sources[0]
        enrich_s = time.perf_counter() - start
        s2.close()
    ordered = sorted(timed["s2"])
    print(
        json.dumps(
            {
                "papers": args.papers,
                "related_p50_ms": round(statistics.median(ordered), 1),
                "related_p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
                "related_archive_only_p50_ms": round(statistics.median(timed["archive"]), 1),
                "enrich_papers_per_s": round(report.fetched / enrich_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
