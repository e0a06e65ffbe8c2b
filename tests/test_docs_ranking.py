"""docs/ranking.md states the ranking formulas once; these tests keep its numbers and the code's
weights in step, so neither can change without the other."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import pytest

from app import search, search_semantic
from app.digest.rank import TASTE, WEIGHTS

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "ranking.md").read_text()
# A table row naming a weight: | `name` | 0.15 | why |
_ROW = re.compile(r"^\|\s*`(?P<name>\w+)`\s*\|\s*(?P<value>-?[0-9.]+)\s*\|", re.M)


def _section(heading: str) -> str:
    start = DOC.index(f"## {heading}")
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end != -1 else len(DOC)]


def _table(heading: str) -> dict[str, float]:
    return {m["name"]: float(m["value"]) for m in _ROW.finditer(_section(heading))}


def _formula(heading: str) -> str:
    return "\n".join(re.findall(r"```\n(.*?)```", _section(heading), re.S))


def test_the_digest_weights_in_the_doc_are_the_codes() -> None:
    assert _table("Digest score") == pytest.approx(asdict(WEIGHTS))


def test_the_taste_weights_in_the_doc_are_the_codes() -> None:
    assert _table("Channel taste") == pytest.approx(asdict(TASTE))


def test_the_text_score_constants_in_the_doc_are_the_codes() -> None:
    code = {"RECENCY_FLOOR": search.RECENCY_FLOOR, "HALF_LIFE_DAYS": search.HALF_LIFE_DAYS}
    assert _table("Text score") == pytest.approx(code)


def test_the_hybrid_search_constants_in_the_doc_are_the_codes() -> None:
    code = {
        "SIMILARITY_FLOOR": search_semantic.SIMILARITY_FLOOR,
        "SEARCH_SIMILARITY_FLOOR": search_semantic.SEARCH_SIMILARITY_FLOOR,
        "RRF_K": search.RRF_K,
        "FUSION_DEPTH": search.FUSION_DEPTH,
    }
    assert _table("Hybrid search") == pytest.approx(code)


@pytest.mark.parametrize("heading", ["Digest score", "Text score", "Hybrid search"])
def test_the_formula_uses_every_weight_of_its_table(heading: str) -> None:
    formula = _formula(heading)
    unused = [name for name in _table(heading) if not re.search(rf"\b{name}\b", formula)]
    assert not unused, f"{heading}: weights missing from the formula: {unused}"


def test_readme_points_to_the_doc_instead_of_restating_the_formula() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docs/ranking.md" in readme
    # The numbers of the formula live in docs/ranking.md only.
    assert "0.15 ×" not in readme and "tanh(" not in readme and "2^(-age" not in readme
