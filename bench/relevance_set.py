"""The labelled relevance set in bench/data/ (bench/data/README.md): its papers, its queries and the
rule that makes a paraphrase a paraphrase. Used by bench/relevance.py and tests/test_bench_data.py;
needs no database.

A paraphrase query must share no content word with the title of any paper labelled relevant to
it. Words are compared after dropping stopwords and a crude suffix stemming, and two stems also
count as shared when one starts with the other (at least 5 letters: "automat"/"automatic",
"predict"/"predictor"): the check errs towards calling a word shared, so a paraphrase that passes
really does use other words.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from app.sources.arxiv import parse_page
from app.sources.records import PaperRecord

DATA = Path(__file__).resolve().parent / "data"
FEEDS = (
    "arxiv_testing_100.xml",
    "sample_page_1.xml",
    "sample_page_2.xml",
    "sample_page_3.xml",
    "written_150.xml",
)
QUERIES = DATA / "queries.json"
KINDS = ("keyword", "paraphrase")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each either few for
    from further had has have having he her here hers him his how i if in into is it its itself
    just may me might more most must my no nor not of off on once one only or other our ours out
    over own per same she should so some such than that the their theirs them then there these
    they this those through to too under until up upon us very via was we were what when where
    whether which while who whom why will with within without would you your yours""".split()  # noqa: SIM905 - a word list reads better as text
)
_SUFFIXES = (
    "ational", "ations", "ation", "ments", "ment", "ness", "ities", "ity", "ings", "ing",
    "ers", "er", "ies", "ied", "ed", "es", "ly", "s",
)  # fmt: skip
_WORD = re.compile(r"[a-z0-9]+")
_MIN_PREFIX = 5


@dataclass(frozen=True, slots=True)
class Query:
    id: str
    kind: str  # keyword | paraphrase
    text: str
    relevant: dict[str, int]  # arxiv_id -> grade (2 highly relevant, 1 partly)


def load_papers() -> list[PaperRecord]:
    """Every paper of the set, parsed by the same code that reads arXiv's feed."""
    records: list[PaperRecord] = []
    for name in FEEDS:
        page = parse_page((DATA / name).read_bytes(), source="arxiv", source_key="relbench")
        if page.skipped:
            raise ValueError(f"{name}: {page.skipped} unreadable entries")
        records.extend(page.records)
    return records


def load_queries() -> list[Query]:
    raw = json.loads(QUERIES.read_text())
    return [
        Query(id=q["id"], kind=q["kind"], text=q["text"], relevant=dict(q["relevant"]))
        for q in raw["queries"]
    ]


def stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    # "image"/"images" -> "imag": a final e goes either way
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def content_stems(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS}


def _same(a: str, b: str) -> bool:
    short, long = sorted((a, b), key=len)
    return short == long or (len(short) >= _MIN_PREFIX and long.startswith(short))


def shared_words(query: str, title: str) -> set[str]:
    """The query's content stems that also occur (as defined above) in the title."""
    title_stems = content_stems(title)
    return {q for q in content_stems(query) if any(_same(q, t) for t in title_stems)}


def problems(papers: list[PaperRecord], queries: list[Query]) -> list[str]:
    """Everything wrong with the set, one line each (empty when it is sound)."""
    titles = {p.arxiv_id: p.title for p in papers}
    found: list[str] = []
    if len(titles) != len(papers):
        found.append("duplicate paper ids")
    if len({q.id for q in queries}) != len(queries):
        found.append("duplicate query ids")
    for q in queries:
        if q.kind not in KINDS:
            found.append(f"{q.id}: unknown kind {q.kind!r}")
        if not q.relevant or any(g not in (1, 2) for g in q.relevant.values()):
            found.append(f"{q.id}: needs relevant papers graded 1 or 2")
        for arxiv_id in q.relevant:
            if arxiv_id not in titles:
                found.append(f"{q.id}: label {arxiv_id} is not a paper of the set")
            elif q.kind == "paraphrase" and (shared := shared_words(q.text, titles[arxiv_id])):
                found.append(
                    f"{q.id}: paraphrase {q.text!r} shares {sorted(shared)} "
                    f"with the title of {arxiv_id} {titles[arxiv_id]!r}"
                )
    return found
