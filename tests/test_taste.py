"""Channel taste: 👍/👎, "More like this", saves and thread discussions steer a channel's digest,
and past five positive signals its digest recommends a few papers outside its topics."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from deps import embedder
from digest_helpers import NOW, add_paper, posted_papers, runs, slack_settings
from fakes.block_kit import block_kit_errors
from fakes.semantic_scholar import s2_paper
from paper_helpers import memory_paper, pid
from sqlalchemy import Engine, delete, select, text
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import channels, interactions
from app.db.embeddings import embed_papers
from app.db.engine import session_scope
from app.db.models import Paper, PostedMessage, SavedPaper
from app.digest import recommend as recommend_module
from app.digest import run_digest, select_papers
from app.digest.blocks import recommendation_note
from app.digest.plan import choose
from app.digest.taste import Profile, Signal, TasteDeps, taste_profile
from app.paper_blocks import paper_message
from app.slack.poster import SlackPoster, make_web_client
from app.sources.semantic_scholar import SemanticScholar
from app.topics import follow

TOPIC = "language models"
PROTEIN, CODE = "2601.00001", "2601.00002"  # fresh, both match the topic equally
CODE_ABSTRACT = (
    "We generate source code from specifications, synthesize programs, complete functions in "
    "software repositories and fix compiler errors."
)
# Old papers the channel reacts to (too old to be digest candidates or recommendations).
LIKED = {
    "2501.10001": ("Neural code completion for software engineers", CODE_ABSTRACT),
    "2501.10002": ("Automated program repair of software bugs", CODE_ABSTRACT),
    "2501.10003": ("Synthesizing programs from input-output examples", CODE_ABSTRACT),
    "2501.10004": ("Compiler fuzzing finds crashes in software toolchains", CODE_ABSTRACT),
    "2501.10005": ("Type inference for dynamically typed source code", CODE_ABSTRACT),
}
LIKED_FIRST = next(iter(LIKED))
DISLIKED = ("2501.20001", "Protein folding with deep networks")
# Fresh papers off the topic: two close to the channel's taste, one far from it.
CLOSE = {
    "2601.30001": "Static analysis of source code with graph neural networks",
    "2601.30002": "Detecting software bugs in compiler pipelines by fuzzing",
}
FAR = "2601.30009"


def library(session: Session) -> None:
    """C1 follows "language models": two fresh matching papers, the old papers it may react
    to, and fresh papers outside its topic; every paper embedded."""
    follow(session, channel_id="C1", topic_name=TOPIC)
    add_paper(
        session,
        PROTEIN,
        "Language models for protein folding",
        "Predicting protein structure, amino acid sequences and molecular biology.",
    )
    add_paper(session, CODE, "Language models for program synthesis", CODE_ABSTRACT)
    old = {"age_days": 60, "first_seen_at": NOW - timedelta(days=60)}
    for arxiv_id, (title, abstract) in LIKED.items():
        add_paper(session, arxiv_id, title, abstract, **old)
    add_paper(session, DISLIKED[0], DISLIKED[1], "Protein structure prediction and biology.", **old)
    for arxiv_id, title in CLOSE.items():
        add_paper(session, arxiv_id, title, CODE_ABSTRACT)
    add_paper(
        session,
        FAR,
        "Coral reef ecology under warming oceans",
        "Field surveys of coral bleaching, fish populations and sea temperature.",
    )
    ids = list(session.scalars(select(Paper.id)))
    embed_papers(session, embedder=embedder(), paper_ids=ids)
    session.flush()


def taste() -> TasteDeps:
    return TasteDeps(embedder())


def digest(session: Session, *, deps: TasteDeps | None) -> list[tuple[str, float]]:
    """The digest's papers and scores, at a fixed time (recency depends on it)."""
    channel = channels.get_channel(session, channel_id="C1")
    assert channel is not None
    profile = None
    if deps is not None:
        profile = taste_profile(session, channel_id="C1", model=deps.embedder.name)
    since = NOW - timedelta(days=3)
    chosen = select_papers(session, channel=channel, since=since, now=NOW, profile=profile)
    planned, _ = choose(session, channel=channel, scheduled_for=NOW, force=False, taste=deps)
    assert [c.arxiv_id for c in planned] == [c.arxiv_id for c in chosen]  # as planning does
    return [(c.arxiv_id, c.score) for c in chosen]


def thumbs(session: Session, arxiv_id: str, value: int, user: str = "U1") -> None:
    interactions.set_feedback(
        session, channel_id="C1", arxiv_id=arxiv_id, user_id=user, value=value
    )


def positives(session: Session, count: int, start: int = 0) -> None:
    """Positive signals `start`..`count`-1, of four kinds, on the liked papers."""
    ids = list(LIKED)
    kinds = [
        lambda a: thumbs(session, a, 1),
        lambda a: session.add(SavedPaper(user_id="U2", paper_id=pid(session, a), channel_id="C1")),
        lambda a: interactions.nudge_taste(session, channel_id="C1", arxiv_id=a, user_id="U3"),
        lambda a: session.add(PostedMessage(channel_id="C1", ts=f"9.{a}", kind="summary",
                                            paper_id=pid(session, a))),
        lambda a: thumbs(session, a, 1, user="U4"),
    ]  # fmt: skip
    for i in range(start, count):
        kinds[i](ids[i])
    session.flush()


class TestRanking:
    def test_a_channel_without_signals_ranks_exactly_as_before(self, session: Session) -> None:
        library(session)
        before = digest(session, deps=None)
        assert [a for a, _ in before] == [PROTEIN, CODE]  # an exact tie, by arXiv id
        assert digest(session, deps=taste()) == before  # same order, same scores
        assert taste_profile(session, channel_id="C1", model=embedder().name) is None

    def test_thumbs_up_on_code_papers_puts_the_code_paper_first(self, session: Session) -> None:
        library(session)
        thumbs(session, "2501.10001", 1)
        thumbs(session, "2501.10002", 1)
        assert [a for a, _ in digest(session, deps=None)] == [PROTEIN, CODE]
        assert [a for a, _ in digest(session, deps=taste())] == [CODE, PROTEIN]

    def test_thumbs_down_alone_pushes_similar_papers_down(self, session: Session) -> None:
        library(session)
        thumbs(session, DISLIKED[0], -1)  # a protein paper
        ranked = digest(session, deps=taste())
        assert [a for a, _ in ranked] == [CODE, PROTEIN]
        assert dict(ranked)[PROTEIN] < dict(digest(session, deps=None))[PROTEIN]

    def test_every_kind_of_signal_counts(self, session: Session) -> None:
        library(session)
        positives(session, 4)
        thumbs(session, DISLIKED[0], -1)
        profile = taste_profile(session, channel_id="C1", model=embedder().name)
        assert profile is not None and profile.positives == 4
        kinds = {e.arxiv_id: e.signal for e in profile.examples}
        assert kinds == {
            "2501.10001": Signal.UP, "2501.10002": Signal.SAVE, "2501.10003": Signal.MORE,
            "2501.10004": Signal.THREAD, DISLIKED[0]: Signal.DOWN,
        }  # fmt: skip


def recommended(result_payloads: list[dict[str, Any]]) -> dict[str, str]:
    """{arxiv_id: the note above it} of the digest's recommended papers."""
    out = {}
    for payload in result_payloads:
        meta = (payload.get("metadata") or {}).get("event_payload") or {}
        first = payload["blocks"][0]
        if meta.get("kind") == "paper" and first["type"] == "context":
            out[meta["arxiv_id"]] = first["elements"][0]["text"]
    return out


@pytest.fixture
def env(settings: Settings, engine: Engine, slack_fake: Any) -> Settings:
    with session_scope(engine) as session:
        library(session)
    return slack_settings(settings, slack_fake)


def poster(settings: Settings) -> SlackPoster:
    return SlackPoster(make_web_client(settings))


class TestRecommendations:
    def test_the_section_appears_past_five_positive_signals(
        self, env: Settings, engine: Engine
    ) -> None:
        with session_scope(engine) as session:
            positives(session, 4)
        four = run_digest(env, engine, poster(env), channel_id="C1", dry_run=True, taste=taste())
        assert recommended(four.payloads) == {}
        assert four.paper_ids == [CODE, PROTEIN]
        with session_scope(engine) as session:
            positives(session, 5, start=4)  # one more: a second 👍
        five = run_digest(env, engine, poster(env), channel_id="C1", dry_run=True, taste=taste())
        notes = recommended(five.payloads)
        assert 1 <= len(notes) <= 2 and set(notes) <= set(CLOSE)
        assert FAR not in five.paper_ids
        assert five.paper_ids[:2] == [CODE, PROTEIN] and five.paper_ids[2:] == list(notes)
        liked_titles = {title for title, _ in LIKED.values()}
        for note in notes.values():
            assert note.startswith(":sparkles: *Recommended for you*: like *")
            assert any(f"*{title}*" in note for title in liked_titles)
        header = five.payloads[0]["blocks"][1]["text"]["text"]
        assert f"{len(notes)} of them *recommended for you*" in header

    def test_the_channel_can_turn_the_section_off(self, env: Settings, engine: Engine) -> None:
        with session_scope(engine) as session:
            positives(session, 5)
            channels.update_channel(session, channel_id="C1", recommendations=False)
        result = run_digest(env, engine, poster(env), channel_id="C1", dry_run=True, taste=taste())
        assert result.paper_ids == [CODE, PROTEIN]

    def test_a_recommendation_that_fails_to_post_is_owed_to_the_next_digest(
        self, env: Settings, engine: Engine, slack_fake: Any
    ) -> None:
        with session_scope(engine) as session:
            positives(session, 5)
        slack_fake.error_next("chat.postMessage", "channel_not_found", times=100)
        first = run_digest(env, engine, poster(env), channel_id="C1", scheduled_for=NOW,
                           taste=taste())  # fmt: skip
        assert first.status == "failed" and slack_fake.posted("C1") == []
        owed = [a for a in first.paper_ids if a in CLOSE]
        assert owed and runs(engine, "C1")[0].recommended.keys() == set(owed)
        slack_fake.heal()
        later = NOW + timedelta(hours=13)  # past the resume window: the next digest carries it
        second = run_digest(env, engine, poster(env), channel_id="C1", scheduled_for=later,
                            taste=taste())  # fmt: skip
        assert second.status == "posted"
        assert posted_papers(slack_fake, "C1")[: len(first.paper_ids)] == first.paper_ids
        notes = recommended(slack_fake.posted("C1"))
        assert set(owed) <= set(notes)  # still shown as recommendations, with their reasons


IDLE_IN_TRANSACTION = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND state = 'idle in transaction'"
)


def s2_client(url: str) -> SemanticScholar:
    return SemanticScholar(base_url=url, api_key=None, min_interval_s=0.0, deadline_s=3.0)


class TestSemanticScholar:
    S2_ONLY = "2601.40001"

    @pytest.fixture
    def without_close_archive_papers(self, env: Settings, engine: Engine) -> Settings:
        """Only Semantic Scholar can recommend something close now."""
        with session_scope(engine) as session:
            positives(session, 5)
            session.execute(delete(Paper).where(Paper.arxiv_id.in_(list(CLOSE))))
        return env

    def test_recommends_and_stores_what_semantic_scholar_suggests(
        self,
        without_close_archive_papers: Settings,
        engine: Engine,
        s2_fake: Any,
        slack_fake: Any,
    ) -> None:
        env = without_close_archive_papers
        today = NOW.date().isoformat()
        liked = [s2_fake.add_paper(s2_paper(a, title=t)) for a, (t, _) in LIKED.items()]
        new = s2_fake.add_paper(
            s2_paper(self.S2_ONLY, title="Repairing programs learned from code corpora",
                     abstract=CODE_ABSTRACT, publication_date=today)
        )  # fmt: skip
        old = s2_fake.add_paper(
            s2_paper("2101.00001", title="Program repair, a classic", abstract=CODE_ABSTRACT,
                     publication_date="2021-01-05")
        )  # fmt: skip
        s2_fake.recommend(liked[0]["paperId"], new["paperId"], old["paperId"])
        deps = TasteDeps(embedder(), s2_client(s2_fake.url))
        result = run_digest(env, engine, poster(env), channel_id="C1", taste=deps)
        assert result.status == "posted"
        notes = recommended(slack_fake.posted("C1"))
        assert list(notes) == [self.S2_ONLY]  # the old one is not news
        assert notes[self.S2_ONLY].startswith(
            ":sparkles: *Recommended for you* (via Semantic Scholar): like *"
        )
        asked = [r for r in s2_fake.requests if r.path == "/recommendations/v1/papers"][0].json()
        assert f"ARXIV:{LIKED_FIRST}" in asked["positivePaperIds"]
        with Session(engine) as session:
            stored = session.scalar(select(Paper).where(Paper.arxiv_id == self.S2_ONLY))
            assert stored is not None and stored.title.startswith("Repairing programs")

    def test_a_slow_semantic_scholar_holds_no_transaction_open(
        self,
        without_close_archive_papers: Settings,
        engine: Engine,
        s2_fake: Any,
        slack_fake: Any,
    ) -> None:
        """S2 may take up to its deadline: the digest asks it before planning, so no transaction
        (and none of the rows it read) waits on it."""
        env = without_close_archive_papers
        liked = [s2_fake.add_paper(s2_paper(a, title=t)) for a, (t, _) in LIKED.items()]
        new = s2_fake.add_paper(
            s2_paper(self.S2_ONLY, title="Repairing programs learned from code corpora",
                     abstract=CODE_ABSTRACT, publication_date=NOW.date().isoformat())
        )  # fmt: skip
        s2_fake.recommend(liked[0]["paperId"], new["paperId"])
        s2_fake.delay_next(1.5)  # within the client's 3 s deadline: the answer still counts
        idle: list[int] = []

        def watch() -> None:
            """Samples the database while S2 holds the request (it arrives, then waits 1.5 s)."""
            deadline = time.monotonic() + 10
            while not s2_fake.requests and time.monotonic() < deadline:
                time.sleep(0.01)
            held_until = time.monotonic() + 1.2
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                while time.monotonic() < held_until:
                    idle.append(conn.execute(IDLE_IN_TRANSACTION).scalar_one())
                    time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            deps = TasteDeps(embedder(), s2_client(s2_fake.url))
            result = run_digest(env, engine, poster(env), channel_id="C1", taste=deps)
        finally:
            watcher.join()
        assert result.status == "posted"
        assert list(recommended(slack_fake.posted("C1"))) == [self.S2_ONLY]
        assert len(idle) >= 20 and max(idle) == 0, idle

    def test_semantic_scholar_down_leaves_the_archive_recommendations(
        self, env: Settings, engine: Engine, s2_fake: Any
    ) -> None:
        with session_scope(engine) as session:
            positives(session, 5)
        s2_fake.down()
        deps = TasteDeps(embedder(), s2_client(s2_fake.url))
        result = run_digest(env, engine, poster(env), channel_id="C1", dry_run=True, taste=deps)
        notes = recommended(result.payloads)
        assert notes and set(notes) <= set(CLOSE)
        assert all("via Semantic Scholar" not in n for n in notes.values())


def test_a_recommendation_note_names_the_liked_paper_safely() -> None:
    hostile = "<!channel> *Bold* claims & <https://evil.example.com|click>"
    note = recommendation_note({"like": "2501.10001", "title": hostile, "signal": "save"})
    assert note.startswith(":sparkles: *Recommended for you*: like *")
    assert note.endswith("* you saved")
    assert "<!channel>" not in note and "evil.example.com" not in note and "*Bold*" not in note
    paper = memory_paper(arxiv_id="2601.30001", title="A paper", abstract="We study things.")
    message = paper_message(paper, None, position=9, note=note)
    assert message["blocks"][0] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": note}],
    }
    assert block_kit_errors(message["blocks"]) == ("", [])
    buttons = [
        e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert "paper_more_like_this" in buttons


def test_the_archive_pool_is_exact_among_recent_papers_at_scale(engine: Engine) -> None:
    """30,000 papers, 4,000 of them recent: the planner would walk the HNSW index and filter its
    few dozen nearest by date afterwards (3 were left when this was written); the pool must
    hold the POOL nearest recent papers."""
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_paper_embeddings_hnsw"))  # built once, after the rows
        conn.execute(
            text("""
            INSERT INTO papers (arxiv_id, version, title, abstract, authors, categories, links,
                                first_seen_at, published, updated, metadata_source,
                                metadata_priority)
            SELECT '2601.' || lpad(i::text, 6, '0'), 1, 't' || i, 'a', '[]', '{}', '[]',
                   now() - interval '5 minutes' * i, now() - interval '5 minutes' * i, now(),
                   'arxiv', 0
            FROM generate_series(1, 30000) i""")
        )
        conn.execute(
            text("""
            INSERT INTO paper_embeddings (paper_id, model, text_hash, indexed, embedding)
            SELECT id, 'm', 'h', true,
                   (SELECT array_agg(random() - 0.5) FROM generate_series(1, 256) WHERE id > 0)
                   ::vector
            FROM papers""")
        )
        conn.execute(
            text("""
            CREATE INDEX ix_paper_embeddings_hnsw ON paper_embeddings
            USING hnsw (embedding vector_cosine_ops) WHERE indexed""")
        )
        conn.execute(text("ANALYZE"))
    vector = np.ones(256, dtype=np.float32) / 16.0
    since = NOW - timedelta(days=14)
    with Session(engine) as session:
        pool = recommend_module._nearest_recent(
            session, profile=Profile(vector, "m", 5), since=since, exclude=()
        )
        recent = session.execute(
            text("""
                SELECT p.arxiv_id FROM papers p JOIN paper_embeddings e ON e.paper_id = p.id
                WHERE p.first_seen_at >= :since
                ORDER BY (e.embedding <=> CAST(:v AS vector)) + 0, p.arxiv_id LIMIT :n"""),
            {"since": since, "v": str(vector.tolist()), "n": recommend_module.POOL},
        ).scalars()
        assert list(pool) == list(recent)
