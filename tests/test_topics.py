"""Topics: creation rules, idempotency, and the candidates each topic finds."""

from __future__ import annotations

import pytest
from search_helpers import paper, store
from sqlalchemy.orm import Session

from app.db.topics import get_topic, list_topics
from app.errors import UserInputError
from app.search import topic_candidates
from app.topics import create_topic, default_topics, ensure_default_topics


class TestCreateTopic:
    def test_query_defaults_to_the_name(self, session: Session) -> None:
        topic = create_topic(session, name="  LLM   agents ")
        assert (topic.name, topic.query) == ("LLM agents", "LLM agents")
        assert (topic.categories, topic.exclude, topic.arxiv_query) == ([], [], None)

    def test_everything_given_is_stored(self, session: Session) -> None:
        topic = create_topic(
            session,
            name="Agents",
            query="LLM agents",
            arxiv_query="ti:agent AND cat:cs.CL",
            categories="cs.CL, cs.AI",
            exclude=["survey", "medical imaging"],
        )
        assert topic.query == "LLM agents"
        assert topic.arxiv_query == "ti:agent AND cat:cs.CL"
        assert topic.categories == ["cs.CL", "cs.AI"]
        assert topic.exclude == ["survey", "medical imaging"]

    def test_adding_again_returns_the_same_topic(self, session: Session) -> None:
        first = create_topic(session, name="LLM agents", query="LLM+agents")
        session.commit()
        assert create_topic(session, name="llm AGENTS").id == first.id  # case and query omitted
        assert create_topic(session, name="LLM agents", query="llm agents").id == first.id
        assert [t.id for t in list_topics(session)] == [first.id]

    def test_a_conflicting_definition_is_refused(self, session: Session) -> None:
        create_topic(session, name="LLM agents", categories=["cs.CL"])
        with pytest.raises(UserInputError, match="already exists with query 'LLM agents'"):
            create_topic(session, name="LLM agents", query="robots")
        with pytest.raises(UserInputError, match="categories cs.CL"):
            create_topic(session, name="llm agents", categories=["cs.RO"])

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"name": "   "}, "needs a name"),
            ({"name": "x" * 201}, "at most 200"),
            ({"name": "bad\x00name"}, "control characters"),
            ({"name": "the"}, "too common"),
            ({"name": "???"}, "nothing to search for"),
            ({"name": "ok", "query": "-survey"}, "only excludes"),
            ({"name": "ok", "categories": ["cs.CL", "not a category"]}, "not an arXiv category"),
            ({"name": "ok", "exclude": ["x" * 101]}, "exclude"),
            ({"name": "ok", "arxiv_query": "a" * 1001}, "arxiv-query"),
        ],
    )
    def test_bad_definitions_are_user_errors(
        self, session: Session, kwargs: dict[str, object], message: str
    ) -> None:
        with pytest.raises(UserInputError, match=message):
            create_topic(session, **kwargs)  # type: ignore[arg-type]
        assert list_topics(session) == []

    def test_names_up_to_200_characters_are_fine(self, session: Session) -> None:
        name = "quantization " + "q" * 187
        assert create_topic(session, name=name).name == name

    def test_get_and_list(self, session: Session) -> None:
        create_topic(session, name="zebrafish")
        create_topic(session, name="Agents")
        assert get_topic(session, name="ZEBRAFISH") is not None
        assert get_topic(session, name="nope") is None
        assert get_topic(session, name="") is None
        assert [t.name for t in list_topics(session)] == ["Agents", "zebrafish"]


class TestTopicCandidates:
    def test_categories_keep_only_papers_in_them(self, session: Session) -> None:
        cl, ro = store(
            session,
            paper("LLM agents for dialogue", categories=("cs.CL",)),
            paper("LLM agents for robot control", categories=("cs.RO", "cs.AI")),
        )
        everywhere = create_topic(session, name="agents anywhere", query="LLM agents")
        only_cl = create_topic(session, name="agents in CL", query="LLM agents", categories="cs.CL")
        assert {h.arxiv_id for h in topic_candidates(session, topic=everywhere)} == {cl, ro}
        assert [h.arxiv_id for h in topic_candidates(session, topic=only_cl)] == [cl]

    def test_excluded_words_drop_papers(self, session: Session) -> None:
        keep, survey, medical = store(
            session,
            paper("Retrieval-augmented generation for code"),
            paper("A survey of retrieval-augmented generation"),
            paper("RAG for medical imaging reports"),
        )
        topic = create_topic(
            session, name="RAG", query="RAG", exclude=["survey", "medical imaging"]
        )
        assert [h.arxiv_id for h in topic_candidates(session, topic=topic)] == [keep]

    def test_an_excluded_acronym_drops_its_long_form_too(self, session: Session) -> None:
        keep, rl = store(
            session,
            paper("Agents that plan with search"),
            paper("Agents trained with reinforcement learning"),
        )
        topic = create_topic(session, name="planning agents", query="agents", exclude=["RL"])
        assert [h.arxiv_id for h in topic_candidates(session, topic=topic)] == [keep]

    def test_the_llm_expansion_widens_the_topic(self, session: Session) -> None:
        direct, synonym = store(
            session,
            paper("Speculative decoding in practice"),
            paper("Draft-and-verify generation for faster inference"),
        )
        topic = create_topic(session, name="speculative decoding")
        assert [h.arxiv_id for h in topic_candidates(session, topic=topic)] == [direct]
        topic.expanded_query = '"speculative decoding" OR "draft and verify"'
        assert {h.arxiv_id for h in topic_candidates(session, topic=topic)} == {direct, synonym}
        topic.expanded_query = "'\"&|"  # an unusable expansion is ignored, not fatal
        assert [h.arxiv_id for h in topic_candidates(session, topic=topic)] == [direct]


class TestDefaultTopics:
    def test_defaults_are_created_once(self, session: Session) -> None:
        first = ensure_default_topics(session)
        session.commit()
        again = ensure_default_topics(session)
        assert [t.id for t in first] == [t.id for t in again]
        assert {t.name for t in list_topics(session)} == {s.name for s in default_topics()}
        assert "LLM agents" in {s.name for s in default_topics()}

    def test_each_default_topic_finds_its_kind_of_paper(self, session: Session) -> None:
        examples = {
            "LLM agents": paper("Large language model agents with tool use"),
            "retrieval-augmented generation": paper("RAG over enterprise documents"),
            "reinforcement learning": paper("Offline reinforcement learning for robots"),
            "vision-language models": paper("Vision-language models read charts"),
            "efficient inference": paper("Four-bit quantization of attention"),
        }
        store(session, *examples.values())
        for topic in ensure_default_topics(session):
            found = [h.arxiv_id for h in topic_candidates(session, topic=topic)]
            assert found and found[0] == examples[topic.name].arxiv_id, topic.name
