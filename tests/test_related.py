"""Related papers: the archive's nearest merged with Semantic Scholar's recommendations, with S2
up, down and rate-limiting; through the library, the CLI, `/papers related` and the button."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes.block_kit import MAX_BLOCKS_MESSAGE, block_kit_errors
from fakes.semantic_scholar import FakeSemanticScholar, s2_paper
from slack_cmd_support import add_papers, all_text, record, wait_for
from slack_helpers import running_slack_app
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.engine import session_scope
from app.db.models import Paper
from app.db.papers import external_ids, find_paper
from app.ingest import store_records
from app.paper_blocks import ACTION_RELATED, paper_actions
from app.related import S2_DOWN_NOTE, Related, RelatedPaper, related_papers
from app.slack.related_blocks import related_blocks
from app.sources.semantic_scholar import SemanticScholar
from tests.deps import embedder, run_cli

SEED = "2601.00001"
NEIGHBOUR = "2601.00002"  # in the archive, close to the seed's title
STORED_REC = "2601.00003"  # in the archive and recommended by S2
NEW_REC = "2601.00004"  # recommended, not in the archive, has an arXiv id
DOI_ONLY = "10.18653/v1/2026.acl-long.1"  # recommended, no arXiv id at all


ARCHIVE = [
    record(SEED, "Sparse retrieval with learned term weights"),
    record(NEIGHBOUR, "Learned sparse retrieval for passage ranking"),
    record(STORED_REC, "Dense passage retrieval revisited"),
    record("2601.00009", "Robot arms that fold laundry"),
]


@pytest.fixture
def archive(engine: Engine) -> None:
    """Stored as ingest stores papers: with their vectors."""
    with session_scope(engine) as session:
        store_records(session, records=ARCHIVE, embedder=embedder())


@pytest.fixture
def s2(s2_fake: FakeSemanticScholar) -> FakeSemanticScholar:
    """S2 knows the seed and recommends one stored paper, one new arXiv paper and one
    conference paper without an arXiv id."""
    seed = s2_fake.add_paper(s2_paper(SEED))
    stored = s2_fake.add_paper(s2_paper(STORED_REC, citations=30))
    new = s2_fake.add_paper(s2_paper(NEW_REC, title="Query expansion by prompting", citations=4))
    doi_only = s2_fake.add_paper(
        s2_paper(None, doi=DOI_ONLY, title="A conference paper on <b>sparse</b> indexes")
    )
    s2_fake.recommend(seed["paperId"], new["paperId"], doi_only["paperId"], stored["paperId"])
    return s2_fake


def client(fake: FakeSemanticScholar, deadline_s: float = 5.0) -> SemanticScholar:
    return SemanticScholar(
        base_url=fake.url, api_key=None, min_interval_s=0.0, deadline_s=deadline_s
    )


def related(settings: Settings, engine: Engine, s2: SemanticScholar | None) -> Related:
    return related_papers(
        settings, engine, s2=s2, sources=[], embedder=embedder(), ref=SEED, limit=10
    )


class TestMerged:
    def test_archive_and_semantic_scholar_papers_are_merged_and_marked(
        self, settings: Settings, engine: Engine, archive: None, s2: FakeSemanticScholar
    ) -> None:
        found = related(settings, engine, client(s2))
        assert found.note is None
        by_title = {p.title: p for p in found.papers}
        assert by_title["Learned sparse retrieval for passage ranking"].source == "archive"
        assert by_title["Query expansion by prompting"].source == "semantic_scholar"
        # Found by both: listed once, marked as the archive's, and ranked first.
        assert [p.arxiv_id for p in found.papers].count(STORED_REC) == 1
        assert found.papers[0].arxiv_id == STORED_REC and found.papers[0].source == "archive"
        ids = [p.arxiv_id for p in found.papers]
        assert SEED not in ids
        assert ids.index(NEIGHBOUR) < ids.index("2601.00009")  # nearest by meaning first

    def test_a_recommended_paper_the_archive_lacked_is_stored_even_without_an_arxiv_id(
        self, settings: Settings, engine: Engine, archive: None, s2: FakeSemanticScholar
    ) -> None:
        found = related(settings, engine, client(s2))
        doi_paper = next(p for p in found.papers if p.arxiv_id is None)
        assert doi_paper.as_json()["arxiv_id"] == ""
        assert doi_paper.url.startswith("https://www.semanticscholar.org/paper/")
        with Session(engine) as session:
            stored = find_paper(session, scheme="doi", value=DOI_ONLY)
            assert stored is not None and stored.arxiv_id is None
            ids = external_ids(session, paper_id=stored.id)
            assert set(ids) == {"s2", "doi"} and ids["s2"] == doi_paper.url.rsplit("/", 1)[1]
            assert session.scalar(select(Paper.title).where(Paper.arxiv_id == NEW_REC)) == (
                "Query expansion by prompting"
            )

    def test_a_429_is_waited_out(
        self, settings: Settings, engine: Engine, archive: None, s2: FakeSemanticScholar
    ) -> None:
        s2.fail(429, retry_after="0.2")
        found = related(settings, engine, client(s2))
        assert found.note is None
        assert "semantic_scholar" in {p.source for p in found.papers}


class TestSemanticScholarDown:
    def test_related_papers_still_come_from_the_archive_with_a_note(
        self, settings: Settings, engine: Engine, archive: None, s2: FakeSemanticScholar
    ) -> None:
        s2.down()
        found = related(settings, engine, client(s2, deadline_s=1.0))
        assert found.note == S2_DOWN_NOTE
        assert found.papers and {p.source for p in found.papers} == {"archive"}
        assert found.papers[0].arxiv_id == NEIGHBOUR

    def test_a_hanging_s2_ends_at_its_deadline(
        self, settings: Settings, engine: Engine, archive: None, s2: FakeSemanticScholar
    ) -> None:
        s2.hang(3.0)
        found = related(settings, engine, client(s2, deadline_s=0.5))
        assert found.note == S2_DOWN_NOTE and found.papers


class TestSeedWithoutArxivId:
    """A paper known by its DOI or Semantic Scholar id (e.g. one listed above without an arXiv
    id) has related papers too: S2 names it, the archive stores it, both halves answer."""

    def test_by_doi_the_paper_is_looked_up_stored_and_related(
        self, settings: Settings, engine: Engine, archive: None, s2: FakeSemanticScholar
    ) -> None:
        doi_paper = s2.papers[next(k for k, p in s2.papers.items() if p["externalIds"].get("DOI"))]
        s2.recommend(doi_paper["paperId"], *(p for p in s2.papers if p != doi_paper["paperId"]))
        found = related_papers(
            settings, engine, s2=client(s2), sources=[], embedder=embedder(),
            ref=f"DOI:{DOI_ONLY}", limit=10,
        )  # fmt: skip
        assert found.arxiv_id is None and found.label == f"DOI:{DOI_ONLY}"
        assert found.url == f"https://www.semanticscholar.org/paper/{doi_paper['paperId']}"
        assert {p.source for p in found.papers} == {"archive", "semantic_scholar"}
        with Session(engine) as session:
            assert find_paper(session, scheme="doi", value=DOI_ONLY) is not None

    def test_by_semantic_scholar_link_in_slack(
        self, settings: Settings, engine: Engine, slack_fake: Any, archive: None,
        s2: FakeSemanticScholar,
    ) -> None:  # fmt: skip
        seed_id = next(k for k, p in s2.papers.items() if p["externalIds"].get("ArXiv") == SEED)
        link = f"https://www.semanticscholar.org/paper/Sparse-Retrieval/{seed_id}"
        with running_slack_app(
            settings, slack_fake, engine=engine, semantic_scholar_api_url=s2.url
        ) as app:
            sent = app.command(f"related <{link}|{link[8:]}>")
            assert f"related to S2:{seed_id}" in sent.response.text
            reply = wait_for(sent.replies, what="the related papers")[0]
        text = all_text(reply)
        assert "Query expansion by prompting" in text  # S2's recommendation for the seed
        assert f"https://arxiv.org/abs/{SEED}" in text  # the seed is the stored arXiv paper

    def test_an_unknown_doi_is_one_line_and_nothing_is_stored(
        self, settings: Settings, engine: Engine, s2: FakeSemanticScholar
    ) -> None:
        cfg = settings.model_copy(update={"semantic_scholar_api_url": s2.url})
        done = run_cli(cfg, "related", "https://doi.org/10.9999/nobody.knows")
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1
        assert "DOI:10.9999/nobody.knows is not in the archive" in done.stderr
        with Session(engine) as session:
            assert session.scalar(select(Paper.id)) is None

    def test_semantic_scholar_down_and_an_unknown_doi(
        self, settings: Settings, engine: Engine, s2: FakeSemanticScholar
    ) -> None:
        from app.errors import UserInputError

        s2.down()
        with pytest.raises(UserInputError, match="unreachable"):
            related_papers(
                settings, engine, s2=client(s2, deadline_s=0.5), sources=[],
                embedder=embedder(), ref="DOI:10.9999/x", limit=5,
            )  # fmt: skip


def test_an_unknown_paper_is_one_clear_error(settings: Settings, engine: Engine) -> None:
    from app.errors import UserInputError

    with pytest.raises(UserInputError, match="not in the archive"):
        related(settings, engine, None)


class TestCli:
    def test_json_has_the_search_fields_plus_source(
        self, settings: Settings, engine: Engine, archive: None, s2: FakeSemanticScholar
    ) -> None:
        cfg = settings.model_copy(update={"semantic_scholar_api_url": s2.url})
        done = run_cli(cfg, "related", f"https://arxiv.org/abs/{SEED}v2", "--json")
        assert done.returncode == 0, done.stderr
        papers = json.loads(done.stdout)
        assert set(papers[0]) == {
            "arxiv_id", "title", "authors", "published", "score", "url", "hf_upvotes", "source"
        }  # fmt: skip
        assert {p["source"] for p in papers} == {"archive", "semantic_scholar"}
        assert "" in [p["arxiv_id"] for p in papers]

    def test_a_foreign_link_is_one_line_and_nothing_is_stored(
        self, settings: Settings, engine: Engine
    ) -> None:
        done = run_cli(settings, "related", "https://evil.example/abs/2601.00001")
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1 and "evil.example" in done.stderr
        with Session(engine) as session:
            assert session.scalar(select(Paper.id)) is None


class TestSlack:
    @pytest.fixture
    def app(self, settings, engine, slack_fake, archive, s2):  # type: ignore[no-untyped-def]
        with running_slack_app(
            settings, slack_fake, engine=engine, semantic_scholar_api_url=s2.url
        ) as server:
            yield server

    def test_slash_command_answers_privately_with_both_sources(self, app) -> None:  # type: ignore[no-untyped-def]
        sent = app.command(f"related {SEED}")
        assert sent.status_code == 200 and "related to arXiv:2601.00001" in sent.response.text
        reply = wait_for(sent.replies, what="the related papers")[0]
        assert reply["response_type"] == "ephemeral"
        text = all_text(reply)
        assert "from the archive" in text and "from Semantic Scholar" in text
        assert "&lt;b&gt;sparse&lt;/b&gt;" in text  # S2's title is escaped, never markup
        assert "https://www.semanticscholar.org/paper/" in text

    def test_related_button_on_a_paper_post_answers_the_clicker(self, app) -> None:  # type: ignore[no-untyped-def]
        sent = app.action(ACTION_RELATED, value=SEED)
        assert sent.status_code == 200
        reply = wait_for(sent.replies, what="the related papers")[0]
        assert reply["response_type"] == "ephemeral"
        assert "Query expansion by prompting" in all_text(reply)
        assert app.slack.calls_to("chat.postMessage") == []  # nothing in the channel

    def test_slash_command_with_s2_down_still_answers(self, app, s2) -> None:  # type: ignore[no-untyped-def]
        s2.down()
        sent = app.command(f"related {SEED}")
        reply = wait_for(sent.replies, timeout=20, what="the related papers")[0]
        text = all_text(reply)
        assert "Semantic Scholar is unreachable" in text and "from the archive" in text


class TestBlocks:
    def test_the_related_button_keeps_the_actions_block_within_limits(self) -> None:
        block = paper_actions(SEED)
        assert ACTION_RELATED in [e["action_id"] for e in block["elements"]]
        assert len(block["elements"]) <= 25
        assert block_kit_errors([block], max_blocks=MAX_BLOCKS_MESSAGE) == ("", [])

    def test_ten_long_papers_fit_one_message(self) -> None:
        papers = [
            RelatedPaper(
                arxiv_id=None if i % 2 else f"2601.{i:05d}",
                title="<!channel> " + "word " * 200,
                authors=["A " * 50] * 6,
                published=None,
                score=0.1,
                url="" if i % 3 == 0 else f"https://www.semanticscholar.org/paper/{'a' * 40}",
                hf_upvotes=None,
                source="semantic_scholar",
                citations=3,
            )
            for i in range(12)
        ]
        seed = Related(SEED, "Seed", f"arXiv:{SEED}", f"https://arxiv.org/abs/{SEED}", papers)
        seed.note = S2_DOWN_NOTE
        message = related_blocks(seed)
        assert block_kit_errors(message["blocks"], max_blocks=MAX_BLOCKS_MESSAGE) == ("", [])
        assert "<!channel>" not in json.dumps(message)


def test_without_vectors_of_the_model_the_archive_half_matches_the_title(
    settings: Settings, engine: Engine
) -> None:
    add_papers(engine, *ARCHIVE)  # stored without vectors (a model change before `embed`)
    found = related(settings, engine, None)
    assert [p.arxiv_id for p in found.papers][:1] == [NEIGHBOUR]
    assert "2601.00009" not in [p.arxiv_id for p in found.papers]
