"""The extractive fallback: the most informative sentences of the abstract, deterministic.

Used whenever there is no LLM summary (no API key, budget spent, the model refused or kept
failing). Always shown marked as extractive. Sentences are scored by how many of the abstract's
frequent content words they carry (title words count double), with a bonus for a stated
contribution ("we propose ...") and for results (numbers, "outperforms"), so the TL;DR tends to
be the contribution and the key points the method and the evidence.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from app.llm.schemas import cut_words
from app.safety import safe_llm_text

_ABBREV = re.compile(r"\b(e\.g|i\.e|et al|etc|vs|cf|Fig|Eq|Sec|approx|resp)\.", re.I)
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'\[])")
_WORD = re.compile(r"[A-Za-z][A-Za-z\-]{2,}")
_CONTRIB = re.compile(
    r"\b(we|this (paper|work)|our (method|approach|model|framework))\s+"
    r"(propose|present|introduce|develop|design|study|show|describe|build)",
    re.I,
)
_RESULT = re.compile(
    r"(\d|%|\boutperform|\bachiev|\bimprov|\bstate-of-the-art|\bsurpass|\breduc|\bspeed)", re.I
)
_STOP_WORDS = """the and for with that this from are our was were have has been can into their
these than which such also using used use based both each more most other over only when while
where how its not but all any new show shows paper work approach method methods results propose
proposed present introduce model models however further across between within without"""
_STOP = frozenset(_STOP_WORDS.split())
_CATEGORY_TAGS = {
    "cs.CL": "nlp",
    "cs.LG": "machine learning",
    "cs.AI": "ai",
    "cs.IR": "information retrieval",
    "cs.CV": "computer vision",
    "cs.RO": "robotics",
    "cs.SE": "software engineering",
    "cs.CR": "security",
    "stat.ML": "machine learning",
}
NOT_SAID = "The paper does not say."


def sentences(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text or "").strip()
    if not text:
        return []
    protected = _ABBREV.sub(lambda m: m.group(0).replace(".", "\x00"), text)
    return [s.replace("\x00", ".").strip() for s in _SPLIT.split(protected) if s.strip()]


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text) if w.lower() not in _STOP]


def _scores(title: str, sents: list[str]) -> list[float]:
    freq = Counter(w for s in sents for w in _words(s))
    for w in _words(title):
        freq[w] += 2
    scores = []
    for s in sents:
        words = _words(s)
        if not words:
            scores.append(0.0)
            continue
        score = sum(freq[w] for w in set(words)) / math.sqrt(len(words))
        if _CONTRIB.search(s):
            score *= 1.5
        if _RESULT.search(s):
            score *= 1.25
        scores.append(score)
    return scores


def extractive_card(
    *,
    title: str,
    abstract: str,
    categories: list[str] | None = None,
    keywords: list[str] | None = None,
) -> dict[str, Any]:
    """{"tldr", "key_points", "tags"} from the abstract alone."""
    sents = sentences(abstract)
    if not sents:
        sents = [title]
    scores = _scores(title, sents)
    order = sorted(range(len(sents)), key=lambda i: (-scores[i], i))
    contrib = [i for i in order if _CONTRIB.search(sents[i])]
    lead = contrib[0] if contrib else order[0]
    rest = sorted(i for i in order if i != lead)
    points = sorted(sorted(rest, key=lambda i: (-scores[i], i))[:3])
    tags: list[str] = []
    for tag in [*(keywords or [])[:4], *(_CATEGORY_TAGS.get(c, "") for c in categories or [])]:
        tag = tag.strip().lower()
        if tag and tag not in tags:
            tags.append(tag)
    return {
        "tldr": safe_llm_text(cut_words(sents[lead], 35)),
        "key_points": [safe_llm_text(cut_words(sents[i], 30)) for i in points],
        "tags": [safe_llm_text(t) for t in tags[:5]],
    }


def extractive_deep(*, title: str, abstract: str) -> dict[str, str]:
    """The five deep-summary fields, filled from the abstract's own sentences."""
    sents = sentences(abstract) or [title]
    scores = _scores(title, sents)
    contrib = next((i for i, s in enumerate(sents) if _CONTRIB.search(s)), None)
    results = [i for i, s in enumerate(sents) if _RESULT.search(s) and i != contrib]
    problem = sents[: contrib if contrib else 1]
    method_idx = contrib if contrib is not None else max(range(len(sents)), key=lambda i: scores[i])
    last = sents[-1] if len(sents) > 1 else ""
    fields = {
        "problem": " ".join(problem[:2]),
        "method": sents[method_idx],
        "results": " ".join(sents[i] for i in results[:2]) or "Not stated in the abstract.",
        "limitations": "Not stated in the abstract.",
        "why_it_matters": last if last not in (sents[method_idx], *problem) else "",
    }
    return {k: safe_llm_text(v) for k, v in fields.items()}


def extractive_answer(*, question: str, text: str) -> tuple[str, list[str], bool]:
    """(answer, quotes, answerable): the sentences sharing most words with the question."""
    wanted = set(_words(question))
    sents = sentences(text)
    scored = sorted(
        ((len(wanted & set(_words(s))), i) for i, s in enumerate(sents)),
        key=lambda t: (-t[0], t[1]),
    )
    best = [i for overlap, i in scored[:2] if overlap >= max(1, min(2, len(wanted)))]
    if not best:
        return NOT_SAID, [], False
    quotes = [safe_llm_text(cut_words(sents[i], 60)) for i in sorted(best)]
    return " ".join(quotes), quotes, True
