"""The one rule for "is this paper by the followed author", and the arXiv query that finds them."""

from __future__ import annotations

import pytest

from app.author_names import arxiv_query, matches, split_name


@pytest.mark.parametrize(
    ("followed", "author", "same"),
    [
        ("Yann LeCun", "Yann LeCun", True),
        ("Yann LeCun", "Y. LeCun", True),
        ("Yann LeCun", "Yann A. LeCun", True),
        ("yann lecun", "Yann Le Cun", True),  # spaces in a surname aside (his older spelling)
        ("Yann LeCun", "Yoav LeCun", False),
        ("Yann LeCun", "Yann Dauphin", False),
        ("LeCun, Yann", "Yann LeCun", True),
        ("LeCun", "Yoav LeCun", True),  # a bare surname follows every LeCun
        ("Adrian Del Maestro", "A. Del Maestro", True),
        ("Adrian Del Maestro", "Adrian Maestro", False),
        ("Zoë Kravitz-Lévy", "Zoe Kravitz-Levy", True),  # accents aside
    ],
)
def test_matches(followed: str, author: str, same: bool) -> None:
    assert matches(followed, author) is same


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("Yann LeCun", "au:LeCun_Y"),
        ("LeCun, Yann", "au:LeCun_Y"),
        ("Adrian Del Maestro", "au:Del_Maestro_A"),
        ("Zoë Kravitz-Lévy", "au:Kravitz_Levy_Z"),
        ("LeCun", "au:LeCun"),
    ],
)
def test_arxiv_query_is_surname_initial(name: str, query: str) -> None:
    assert arxiv_query(name) == query


def test_particles_belong_to_the_surname() -> None:
    assert split_name("Ludwig van Beethoven").surname == "van Beethoven"
