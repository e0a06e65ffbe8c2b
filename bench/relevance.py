"""Relevance of search: recall@10 and nDCG@10 of lexical, semantic and hybrid retrieval on the
labelled set in bench/data/ (bench/data/README.md: 322 papers in arXiv's Atom format, 50 queries,
half keyword queries and half paraphrases that share no content word with their relevant papers'
titles).

    .venv/bin/python bench/relevance.py [--verbose]

Stores the papers in a fresh database (its own embedded PostgreSQL under a temporary folder, or
a throwaway database on DATABASE_URL's server) through the path ingest uses, then runs every
query through `app.search.search_papers(..., limit=10, mode=m)` for each mode. Prints one JSON
line: {"papers", "queries", "paraphrase_recall10_lexical", "paraphrase_recall10_hybrid",
"keyword_recall10_lexical", "keyword_recall10_hybrid", "ndcg10_hybrid", ...} with the semantic
figures, the nDCG of each mode, and "hybrid_loses" (the queries where hybrid scores below
lexical). `--verbose` prints each query's figures and top hits on stderr.

Recall@10 is the share of a query's relevant papers (grade 1 or 2) in its top 10, out of at
most 10; nDCG@10 uses gains 2^grade - 1. Each figure is the mean over the queries of its kind
(ndcg10_* over all queries). A query whose text PostgreSQL cannot search scores 0.

Targets: hybrid recall@10 on paraphrases at least 1.5x lexical; on keyword queries at least
0.95x lexical.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy.orm import Session  # noqa: E402

from app.embeddings import Embedder, build_embedder  # noqa: E402
from app.errors import UserInputError  # noqa: E402
from app.ingest import store_records  # noqa: E402
from app.search import Mode, search_papers  # noqa: E402
from bench.ingest_search import bench_database  # noqa: E402
from bench.relevance_set import Query, load_papers, load_queries, problems  # noqa: E402

MODES: tuple[Mode, ...] = ("lexical", "semantic", "hybrid")
K = 10


def search(session: Session, text: str, mode: Mode, embedder: Embedder) -> list[str]:
    hits = search_papers(session, text=text, limit=K, mode=mode, embedder=embedder)
    return [h.arxiv_id for h in hits]


def recall(hits: list[str], relevant: dict[str, int]) -> float:
    return sum(1 for h in hits[:K] if h in relevant) / min(len(relevant), K)


def ndcg(hits: list[str], relevant: dict[str, int]) -> float:
    def dcg(grades: list[int]) -> float:
        return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(grades[:K]))

    ideal = dcg(sorted(relevant.values(), reverse=True))
    return dcg([relevant.get(h, 0) for h in hits]) / ideal


def run_queries(
    session: Session, queries: list[Query], mode: Mode, embedder: Embedder
) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    for q in queries:
        try:
            hits[q.id] = search(session, q.text, mode, embedder)
        except UserInputError:
            hits[q.id] = []
        session.rollback()
    return hits


def mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 3)


def figures(
    queries: list[Query], hits: dict[str, dict[str, list[str]]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The JSON line's figures (None for a mode that was not run) and the per-query rows."""
    out: dict[str, Any] = {}
    for mode in MODES:
        got = hits.get(mode)
        for kind in ("paraphrase", "keyword"):
            of_kind = [q for q in queries if q.kind == kind]
            out[f"{kind}_recall10_{mode}"] = (
                mean([recall(got[q.id], q.relevant) for q in of_kind]) if got else None
            )
        ndcgs = [ndcg(got[q.id], q.relevant) for q in queries] if got else None
        out[f"ndcg10_{mode}"] = mean(ndcgs) if ndcgs else None
    rows = []
    for q in queries:
        row: dict[str, Any] = {"id": q.id, "kind": q.kind, "text": q.text}
        for mode, got in hits.items():
            row[f"recall_{mode}"] = round(recall(got[q.id], q.relevant), 3)
            row[f"ndcg_{mode}"] = round(ndcg(got[q.id], q.relevant), 3)
        rows.append(row)
    return out, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="per-query figures on stderr")
    args = parser.parse_args()
    papers, queries = load_papers(), load_queries()
    if found := problems(papers, queries):
        sys.exit("bench/data is not a sound relevance set:\n" + "\n".join(found))
    embedder = build_embedder()
    modes = MODES
    with bench_database() as engine, Session(engine) as session:
        store_records(session, records=papers, embedder=embedder)
        session.commit()
        hits = {mode: run_queries(session, queries, mode, embedder) for mode in modes}
    out, rows = figures(queries, hits)
    loses = [r for r in rows if "ndcg_hybrid" in r and r["ndcg_hybrid"] < r["ndcg_lexical"]]
    if args.verbose:
        titles = {p.arxiv_id: p.title for p in papers}
        for row, q in zip(rows, queries, strict=True):
            print(json.dumps(row), file=sys.stderr)
            for mode, got in hits.items():
                for rank, arxiv_id in enumerate(got[q.id], 1):
                    mark = q.relevant.get(arxiv_id, "-")
                    print(f"  {mode:8} {rank:2} [{mark}] {titles[arxiv_id][:90]}", file=sys.stderr)
    line = {
        "papers": len(papers),
        "queries": len(queries),
        "paraphrase_recall10_lexical": out.pop("paraphrase_recall10_lexical"),
        "paraphrase_recall10_hybrid": out.pop("paraphrase_recall10_hybrid"),
        "keyword_recall10_lexical": out.pop("keyword_recall10_lexical"),
        "keyword_recall10_hybrid": out.pop("keyword_recall10_hybrid"),
        "ndcg10_hybrid": out.pop("ndcg10_hybrid"),
        **out,
        "embedder": embedder.name,
        "hybrid_loses": [r["id"] for r in loses] if "hybrid" in hits else None,
    }
    print(json.dumps(line))
    if loses:
        print("queries where hybrid scores below lexical (nDCG@10):", file=sys.stderr)
        for r in loses:
            print("  " + json.dumps(r), file=sys.stderr)


if __name__ == "__main__":
    main()
