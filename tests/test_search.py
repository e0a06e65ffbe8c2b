"""Full-text search: the right paper first, `+` as AND, acronyms, recency, hostile input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from search_helpers import NOW, paper, store
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import app.search_lexical as search_lexical
from app.db.models import Paper
from app.errors import UserInputError
from app.search import normalize_query, search_papers


def ids(session: Session, text: str, **kw: object) -> list[str]:
    return [hit.arxiv_id for hit in search_papers(session, text=text, **kw)]  # type: ignore[arg-type]


@pytest.fixture
def corpus(session: Session) -> dict[str, str]:
    records = {
        "spec": paper(
            "Speculative decoding for faster inference",
            "We accelerate inference with speculative decoding and a small draft model.",
        ),
        "moe": paper("Sparse mixture-of-experts routing", "Expert routing at scale."),
        "rlhf": paper(
            "Reward models for reinforcement learning from human feedback",
            "We train reward models and optimise policies with reinforcement learning.",
        ),
        "rag": paper(
            "Retrieval-augmented generation with dense retrievers",
            "A retriever feeds passages to the generator.",
        ),
        "rag_spaced": paper(
            "Benchmarking retrieval augmented generation", "Many systems, one benchmark."
        ),
        "llm_long": paper(
            "Large language models as planners", "Large language models plan tool calls."
        ),
        "llm_short": paper("LLMs can grade essays", "An LLM grades student essays."),
        "llm_search": paper(
            "LLM agents that search the web", "An LLM issues search queries and reads results."
        ),
        "search_only": paper("Search engines at scale", "Inverted indexes and search ranking."),
        "vision": paper("A vision transformer for satellite images", "ViT models for imagery."),
    }
    store(session, *records.values())
    return {key: rec.arxiv_id for key, rec in records.items()}


class TestRanking:
    def test_the_paper_about_the_query_comes_first(
        self, session: Session, corpus: dict[str, str]
    ) -> None:
        assert ids(session, "speculative decoding")[0] == corpus["spec"]
        assert ids(session, "reward models human feedback")[0] == corpus["rlhf"]

    def test_a_title_match_beats_a_passing_mention(self, session: Session) -> None:
        about, mention = store(
            session,
            paper("Quantization of transformer weights", "Weight quantization to four bits."),
            paper("A survey of model compression", "Topics include pruning and quantization."),
        )
        assert ids(session, "quantization") == [about, mention]

    def test_recency_breaks_ties(self, session: Session) -> None:
        text = "Tokamak plasma control with neural networks"
        old, new, middle = store(
            session,
            paper(text, days_ago=40),
            paper(text, days_ago=1),
            paper(text, days_ago=10),
        )
        hits = search_papers(session, text="tokamak plasma")
        assert [h.arxiv_id for h in hits] == [new, middle, old]
        assert hits[0].score > hits[1].score > hits[2].score

    def test_an_older_paper_about_the_topic_still_beats_a_new_passing_mention(
        self, session: Session
    ) -> None:
        about, passing = store(
            session,
            paper(
                "Zebrafish behaviour tracking",
                "We track zebrafish larvae; zebrafish movement reveals zebrafish behaviour.",
                days_ago=20,
            ),
            paper(
                "General video tracking",
                "Trackers for people, cars, and many other things; one dataset has zebrafish.",
                days_ago=0.5,
            ),
        )
        assert ids(session, "zebrafish") == [about, passing]

    def test_hits_carry_what_the_cli_and_slack_show(
        self, session: Session, corpus: dict[str, str]
    ) -> None:
        (hit,) = search_papers(session, text="speculative decoding", limit=1)
        assert hit.arxiv_id == corpus["spec"]
        assert hit.title == "Speculative decoding for faster inference"
        assert hit.authors == ["Ada Lovelace", "Alan Turing"]
        assert hit.url == f"https://arxiv.org/abs/{corpus['spec']}"
        assert hit.published is not None and hit.published <= NOW
        assert "draft model" in hit.abstract
        assert 0 < hit.score < 1
        assert (hit.lexical_rank, hit.semantic_rank) == (1, None)  # no embedder: words only
        assert set(hit.as_json()) == {
            "arxiv_id", "title", "authors", "published", "score", "url", "hf_upvotes",
            "lexical_rank", "semantic_rank",
        }  # fmt: skip

    def test_limit_and_since(self, session: Session) -> None:
        old, new = store(
            session,
            paper("Sea ice forecasting", days_ago=100),
            paper("Sea ice forecasting again", days_ago=2),
        )
        assert len(ids(session, "sea ice", limit=1)) == 1
        assert ids(session, "sea ice", since=NOW - timedelta(days=30)) == [new]
        assert set(ids(session, "sea ice")) == {old, new}


class TestQuerySyntax:
    def test_plus_means_both_terms(self, session: Session, corpus: dict[str, str]) -> None:
        assert ids(session, "LLM+search") == [corpus["llm_search"]]
        assert normalize_query("LLM+search") == '(llm OR "large language model") AND search'

    def test_llm_finds_large_language_models_and_llms(
        self, session: Session, corpus: dict[str, str]
    ) -> None:
        found = set(ids(session, "LLM"))
        assert {corpus["llm_long"], corpus["llm_short"], corpus["llm_search"]} <= found

    def test_the_long_form_finds_the_acronym(
        self, session: Session, corpus: dict[str, str]
    ) -> None:
        found = set(ids(session, "large language models"))
        assert {corpus["llm_long"], corpus["llm_short"]} <= found

    def test_rag_finds_both_spellings_of_retrieval_augmented_generation(
        self, session: Session, corpus: dict[str, str]
    ) -> None:
        assert set(ids(session, "RAG")) == {corpus["rag"], corpus["rag_spaced"]}
        assert set(ids(session, "retrieval-augmented generation")) == {
            corpus["rag"],
            corpus["rag_spaced"],
        }

    def test_other_acronyms(self, session: Session, corpus: dict[str, str]) -> None:
        assert ids(session, "RL") == [corpus["rlhf"]]
        assert ids(session, "RLHF") == [corpus["rlhf"]]
        assert ids(session, "MoE") == [corpus["moe"]]
        assert ids(session, "vision transformers") == [corpus["vision"]]

    def test_hyphen_in_the_middle_of_a_long_form(self, session: Session) -> None:
        hyphen, spaced, acronym = store(
            session,
            paper("Supervised fine-tuning of small models"),
            paper("Supervised fine tuning revisited"),
            paper("When does SFT help?"),
        )
        assert set(ids(session, "supervised fine-tuning")) == {hyphen, spaced, acronym}

    def test_versioned_names_and_plural_acronyms(self, session: Session) -> None:
        gpt, llms = store(
            session,
            paper("Evaluating GPT-4 on olympiad geometry"),
            paper("Do LLMs dream of electric sheep?"),
        )
        assert ids(session, "GPT-4") == [gpt]
        assert ids(session, "LLMs sheep") == [llms]

    def test_or_quotes_and_exclusion(self, session: Session, corpus: dict[str, str]) -> None:
        assert set(ids(session, "zebrafish OR satellite")) == {corpus["vision"]}
        assert ids(session, '"search engines"') == [corpus["search_only"]]
        assert corpus["llm_search"] not in ids(session, "search -LLM")
        assert corpus["search_only"] in ids(session, "search -LLM")

    def test_normal_form_reads_back_the_same(self) -> None:
        for text in ["LLM+search", 'RAG -survey "dense retrieval"', "(a OR b) c", "GPT-4 OR vlm"]:
            once = normalize_query(text)
            assert normalize_query(once) == once


HOSTILE = [
    "'\"&|!:*()<>",
    "'; DROP TABLE papers; --",
    "a:* & !b | <-> c",
    "llm\x00search",
    "((((((((((((((((((((search",
    "search))))))))",
    "- - - -search",
    "OR OR search OR",
    '"unterminated phrase search',
    "\\' \\\" %s %(x)s {0} $1",
    "検索 поиск búsqueda",
    "search " + "x" * 900,
]


class TestHostileInput:
    @pytest.mark.parametrize("text", HOSTILE)
    def test_any_text_searches_or_fails_with_a_clear_message(
        self, session: Session, corpus: dict[str, str], text: str
    ) -> None:
        try:
            search_papers(session, text=text)
        except UserInputError as exc:
            assert str(exc) and "\n" not in str(exc)
        # The transaction is still usable and nothing was harmed.
        assert ids(session, "speculative decoding")[0] == corpus["spec"]
        assert session.scalar(select(func.count()).select_from(Paper)) == len(corpus)

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("", "empty"),
            ("   ", "empty"),
            ("'\"&|!:*()<>", "nothing to search for"),
            ("the of and", "too common"),
            ("-survey", "only excludes"),
            ("the -survey", "only excludes"),
            ("x" * 1001, "too long"),
            (" ".join(f"w{i}" for i in range(40)), "too many"),
        ],
    )
    def test_unsearchable_text_is_a_user_error(
        self, session: Session, text: str, message: str
    ) -> None:
        with pytest.raises(UserInputError, match=message):
            search_papers(session, text=text)

    def test_limit_out_of_range_is_a_user_error(self, session: Session) -> None:
        with pytest.raises(UserInputError, match="limit"):
            search_papers(session, text="search", limit=0)
        with pytest.raises(UserInputError, match="limit"):
            search_papers(session, text="search", limit=10_000)


class TestLargeStores:
    """The two-stage plan of app.search, with its window shrunk to a handful of papers."""

    @pytest.fixture(autouse=True)
    def small_window(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(search_lexical, "RECENT_WINDOW", 4)
        monkeypatch.setattr(search_lexical, "ENOUGH_RECENT", 2)
        monkeypatch.setattr(search_lexical, "CANDIDATES", 3)

    def test_a_rare_term_is_found_beyond_the_recent_window(self, session: Session) -> None:
        old, older = store(
            session,
            paper("Tokamak plasma control", days_ago=300),
            paper("Tokamak disruption prediction", days_ago=400),
        )
        store(session, *(paper(f"Recent paper {i} on agents", days_ago=i) for i in range(1, 7)))
        assert ids(session, "tokamak") == [old, older]
        assert ids(session, "tokamak", since=NOW - timedelta(days=350)) == [old]

    def test_a_common_term_ranks_its_newest_matches(self, session: Session) -> None:
        (ancient,) = store(session, paper("Agents, agents, agents", days_ago=900))
        recent = store(session, *(paper(f"Paper {i} on agents", days_ago=i) for i in range(1, 7)))
        found = ids(session, "agents", limit=10)
        assert ancient not in found
        assert set(found) <= set(recent) and len(found) == 3
