"""`paperboy search` and `paperboy topic`, run as a user would: a subprocess on a real database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env
from search_helpers import hf_sighting, paper, store
from sqlalchemy.orm import Session

from app.config import Settings

ROOT = Path(__file__).resolve().parents[1]
PAPERBOY = str(Path(sys.executable).parent / "paperboy")


def paperboy(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(settings) | {"COLUMNS": "200"}
    return subprocess.run(
        [PAPERBOY, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and fragment in lines[0]
    assert "Traceback" not in result.stderr


@pytest.fixture
def papers(session: Session) -> dict[str, str]:
    records = {
        "llm": paper(
            "Large language models that [bold]search[/bold]",
            "LLM agents issue search queries.",
            authors=("Grace Hopper",),
        ),
        "search": paper("Search engines at scale", "Inverted indexes."),
    }
    store(session, *records.values(), hf_sighting(records["llm"], upvotes=7))
    return {key: rec.arxiv_id for key, rec in records.items()}


class TestSearchCommand:
    def test_json_lists_the_hits_best_first(
        self, settings: Settings, papers: dict[str, str]
    ) -> None:
        result = paperboy(settings, "search", "LLM+search", "--json")
        assert result.returncode == 0, result.stderr
        hits = json.loads(result.stdout)
        assert [h["arxiv_id"] for h in hits] == [papers["llm"]]
        (hit,) = hits
        assert set(hit) == {
            "arxiv_id", "title", "authors", "published", "score", "url", "hf_upvotes",
            "lexical_rank", "semantic_rank",
        }  # fmt: skip
        assert (hit["lexical_rank"], hit["semantic_rank"]) == (1, None)  # stored without vectors
        assert hit["title"] == "Large language models that [bold]search[/bold]"
        assert hit["authors"] == ["Grace Hopper"]
        assert hit["url"] == f"https://arxiv.org/abs/{papers['llm']}"
        assert hit["hf_upvotes"] == 7
        assert isinstance(hit["score"], float) and hit["score"] > 0
        assert hit["published"].startswith("20")

    def test_no_match_is_an_empty_list(self, settings: Settings, papers: dict[str, str]) -> None:
        result = paperboy(settings, "search", "zebrafish", "--json", "--limit", "3")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == []

    def test_table_shows_titles_verbatim(self, settings: Settings, papers: dict[str, str]) -> None:
        result = paperboy(settings, "search", "search")
        assert result.returncode == 0, result.stderr
        assert "Search engines at scale" in result.stdout
        assert "[bold]search[/bold]" in result.stdout  # untrusted text is not rich markup
        assert papers["search"] in result.stdout

    @pytest.mark.parametrize(
        ("args", "fragment"),
        [
            (["the of"], "too common"),
            (["'\"&|!:*()<>"], "nothing to search for"),
            (["search", "--limit", "0"], "limit"),
        ],
    )
    def test_unsearchable_input_is_one_line_and_exit_1(
        self, settings: Settings, args: list[str], fragment: str
    ) -> None:
        one_line_error(paperboy(settings, "search", *args), fragment)


class TestTopicCommands:
    def test_add_then_list(self, settings: Settings) -> None:
        added = paperboy(
            settings,
            "topic", "add", "LLM agents",
            "--query", "LLM+agents",
            "--categories", "cs.CL,cs.AI",
            "--exclude", "survey, medical imaging",
            "--arxiv-query", "ti:agent",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert '(llm OR "large language model") AND agents' in added.stdout
        again = paperboy(settings, "topic", "add", "llm agents")
        assert again.returncode == 0, again.stderr
        listed = paperboy(settings, "topic", "list")
        assert listed.returncode == 0, listed.stderr
        for shown in ("LLM agents", "LLM+agents", "cs.CL,cs.AI", "survey, medical imaging"):
            assert shown in listed.stdout
        assert listed.stdout.count("LLM agents") == 1

    def test_conflicts_and_bad_input_are_one_line_and_exit_1(self, settings: Settings) -> None:
        assert paperboy(settings, "topic", "add", "agents").returncode == 0
        one_line_error(
            paperboy(settings, "topic", "add", "agents", "--query", "robots"), "already exists"
        )
        one_line_error(
            paperboy(settings, "topic", "add", "x", "--categories", "cs.CL,nope!"),
            "not an arXiv category",
        )

    def test_list_when_empty(self, settings: Settings) -> None:
        result = paperboy(settings, "topic", "list")
        assert result.returncode == 0
        assert "no topics yet" in result.stdout
