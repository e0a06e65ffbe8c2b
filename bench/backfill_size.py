"""What a backfill costs in PostgreSQL: N papers stored the way `paperboy backfill` stores them
(app/ingest.py `store_records`, provenance "arxiv-oai"), then bytes and rows per paper measured
with pg_total_relation_size (tables, TOAST and indexes) after VACUUM ANALYZE.

    .venv/bin/python bench/backfill_size.py [--papers 20000] [--sample FILE.xml]

The papers are copies (fresh ids) of real arXiv entries: an Atom page of the arXiv API given by
`--sample` (e.g. ../shared/realdata/arxiv_query_testing_100.xml; real cs abstracts average about
1,200 characters), else the bundled sample pages (shorter abstracts: an underestimate). Runs on
its own embedded PostgreSQL (bench/ingest_search.py `bench_database`). Prints one JSON line:
{"papers", "abstract_chars_mean", "bytes_per_paper", "rows_per_paper", "store_papers_per_s",
"estimate_80k_papers_mb"} plus per-table bytes per paper. No target: the figures feed the
README's estimate for a year of cs.CL + cs.LG (docs/usage.md, "Backfill").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.embeddings import build_embedder  # noqa: E402
from app.ingest import store_records  # noqa: E402
from app.sources.arxiv import parse_page  # noqa: E402
from app.sources.oai import BACKFILL_SOURCE, OAI_PRIORITY  # noqa: E402
from app.sources.records import PaperRecord  # noqa: E402
from bench.ingest_search import bench_database  # noqa: E402

TABLES = ("papers", "paper_external_ids", "paper_sources", "paper_signals", "paper_embeddings")
EMBEDDER = build_embedder()
BATCH = 1000  # about what one OAI-PMH page keeps of cs for cs.CL + cs.LG


def samples(path: Path | None) -> list[PaperRecord]:
    files = [path] if path else sorted((ROOT / "app" / "sample_data").glob("arxiv_page_*.xml"))
    return [r for f in files for r in parse_page(f.read_bytes()).records]


def as_backfilled(record: PaperRecord, n: int) -> PaperRecord:
    """The sample as the OAI parser would yield it under a fresh id (app/sources/oai.py)."""
    arxiv_id = f"{2500 + n // 100000}.{n % 100000:05d}"
    return dataclasses.replace(
        record,
        arxiv_id=arxiv_id,
        version=None,
        doi=f"10.48550/fake.{n}" if record.doi else None,
        links=[
            {"href": f"https://arxiv.org/abs/{arxiv_id}", "rel": "alternate", "title": None},
            {"href": f"https://arxiv.org/pdf/{arxiv_id}", "rel": "related", "title": "pdf"},
        ],
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        provider=BACKFILL_SOURCE,
        priority=OAI_PRIORITY,
        source=BACKFILL_SOURCE,
        source_key=record.primary_category or "",
    )


def sizes(engine: Engine) -> dict[str, tuple[int, int]]:
    """{table: (bytes with TOAST and indexes, rows)} after VACUUM ANALYZE."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        return {
            t: (
                int(conn.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar_one()),
                int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()),
            )
            for t in TABLES
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=20000)
    parser.add_argument("--sample", type=Path, default=None)
    args = parser.parse_args()
    base = samples(args.sample)
    records = [as_backfilled(base[n % len(base)], n) for n in range(args.papers)]
    with bench_database() as engine:
        before = sizes(engine)
        started = time.perf_counter()
        for start in range(0, len(records), BATCH):
            with Session(engine) as session:
                store_records(session, records=records[start : start + BATCH], embedder=EMBEDDER)
                session.commit()
        spent = time.perf_counter() - started
        after = sizes(engine)
    per_table = {t: (after[t][0] - before[t][0]) / args.papers for t in TABLES}
    total = sum(per_table.values())
    rows = sum(after[t][1] - before[t][1] for t in TABLES) / args.papers
    print(
        json.dumps(
            {
                "papers": args.papers,
                "abstract_chars_mean": round(statistics.mean(len(r.abstract) for r in base)),
                "bytes_per_paper": round(total),
                "rows_per_paper": round(rows, 2),
                "store_papers_per_s": round(args.papers / spent),
                "estimate_80k_papers_mb": round(total * 80000 / 1e6),
                "table_bytes_per_paper": {t: round(v) for t, v in per_table.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
