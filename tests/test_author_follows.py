"""Author follows end to end: followed through the signed Slack app and the CLI, namesakes picked
from Semantic Scholar's candidates, S2 down, the `au:` query and S2 author lists in the ingest,
and the author's new papers leading the digest marked "by an author you follow"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from digest_helpers import add_paper, posted_papers, slack_settings
from fakes.arxiv_api import FakeArxiv, arxiv_paper
from fakes.semantic_scholar import FakeSemanticScholar, s2_author, s2_paper
from slack_cmd_support import ack_text, command_replies
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app import authors as author_service
from app.config import Settings
from app.db.engine import session_scope
from app.db.models import ChannelAuthor, Paper
from app.digest import run_digest
from app.ingest import run_ingest
from app.slack.author_ops import ACTION_AUTHOR_PICK
from app.slack.poster import SlackPoster, make_web_client
from app.sources import build_sources
from app.topics import follow as follow_topic
from tests.deps import embedder, run_cli
from tests.slack_helpers import CHANNEL_ID, running_slack_app

NOW = datetime.now(UTC)
DEAD = "http://127.0.0.1:9"  # nothing listens there: Semantic Scholar unreachable


def follows(engine: Engine, channel: str) -> dict[str, str | None]:
    with Session(engine) as session:
        rows = session.scalars(select(ChannelAuthor).where(ChannelAuthor.channel_id == channel))
        return {r.name: r.s2_author_id for r in rows}


def namesakes(fake: FakeSemanticScholar) -> None:
    """Two real-looking Wei Zhangs and a stray one-paper profile of the first."""
    fake.add_author(s2_author("2001", "Wei Zhang", affiliations=("Tsinghua University",),
                              paper_count=310, h_index=40))  # fmt: skip
    fake.add_author(s2_author("2002", "Wei Zhang", affiliations=("University of Adelaide",),
                              paper_count=120, h_index=25))  # fmt: skip
    fake.add_author(s2_author("2003", "W. Zhang", paper_count=1, h_index=1))


def texts(replies: list[dict[str, Any]]) -> str:
    return json.dumps(replies)


# --- Slack ---------------------------------------------------------------------------------------


class TestSlack:
    def test_one_clear_person_is_followed_with_their_s2_id_and_listed_and_unfollowed(
        self, settings: Settings, engine: Engine, slack_fake: Any, s2_fake: FakeSemanticScholar
    ) -> None:
        s2_fake.add_author(s2_author("1741101", "Yann LeCun", affiliations=("New York University",),
                                     paper_count=400, h_index=140))  # fmt: skip
        s2_fake.add_author(s2_author("9999", "Yann Le Cun", paper_count=3))  # a stray profile
        with running_slack_app(
            settings, slack_fake, engine=engine, semantic_scholar_api_url=s2_fake.url
        ) as app:
            sent = app.command('follow author "yann lecun"')
            assert "Looking up the author" in ack_text(sent)
            [reply] = command_replies(sent)
            assert "now follows the author *Yann LeCun*" in reply["text"]
            assert "New York University" in reply["text"] and "400 papers" in reply["text"]
            assert follows(engine, CHANNEL_ID) == {"Yann LeCun": "1741101"}

            listed = command_replies(app.command("topics"))[0]["text"]
            assert "follows no topics" in listed and "*Yann LeCun*" in listed

            gone = command_replies(app.command('unfollow author "Yann LeCun"'))[0]
            assert "no longer follows the author *Yann LeCun*" in gone["text"]
            assert follows(engine, CHANNEL_ID) == {}

    def test_namesakes_are_shown_with_affiliations_and_the_pick_stores_that_s2_id(
        self, settings: Settings, engine: Engine, slack_fake: Any, s2_fake: FakeSemanticScholar
    ) -> None:
        namesakes(s2_fake)
        with running_slack_app(
            settings, slack_fake, engine=engine, semantic_scholar_api_url=s2_fake.url
        ) as app:
            [reply] = command_replies(app.command('follow author "Wei Zhang"'))
            assert follows(engine, CHANNEL_ID) == {}  # nothing stored before the pick
            buttons = [
                b["accessory"] for b in reply["blocks"] if b.get("accessory", {}).get("value")
            ]
            shown = texts(reply["blocks"])
            assert "Tsinghua University" in shown and "310 papers" in shown
            assert "University of Adelaide" in shown and "120 papers" in shown
            assert len(buttons) == 2  # the stray one-paper profile is not offered
            adelaide = next(b for b in buttons if json.loads(b["value"])["id"] == "2002")

            [done] = command_replies(app.action(ACTION_AUTHOR_PICK, value=adelaide["value"]))
            assert follows(engine, CHANNEL_ID) == {"Wei Zhang": "2002"}
            assert done["replace_original"] is True
            assert "now follows the author *Wei Zhang*" in done["text"]

    def test_s2_down_follows_by_name_with_a_note(
        self, settings: Settings, engine: Engine, slack_fake: Any
    ) -> None:
        with running_slack_app(
            settings, slack_fake, engine=engine, semantic_scholar_api_url=DEAD
        ) as app:
            [reply] = command_replies(app.command('follow author "Yann LeCun"'))
            assert author_service.S2_DOWN_NOTE in reply["text"]
            assert follows(engine, CHANNEL_ID) == {"Yann LeCun": None}

    def test_a_name_with_markup_is_refused_in_the_ack(
        self, settings: Settings, engine: Engine, slack_fake: Any
    ) -> None:
        with running_slack_app(settings, slack_fake, engine=engine) as app:
            sent = app.command("follow author <!channel>")
            assert "just the name" in ack_text(sent)
            assert follows(engine, CHANNEL_ID) == {}


# --- CLI -----------------------------------------------------------------------------------------


class TestCli:
    CHANNEL = "C0AUTHORS01"

    def test_ambiguous_name_prints_candidates_and_asks_for_an_id(
        self, settings: Settings, engine: Engine, s2_fake: FakeSemanticScholar
    ) -> None:
        namesakes(s2_fake)
        cfg = settings.model_copy(update={"semantic_scholar_api_url": s2_fake.url})
        asked = run_cli(cfg, "follow", "--channel", self.CHANNEL, "--author", "Wei Zhang")
        assert asked.returncode == 1
        assert "[2001] Wei Zhang — Tsinghua University · 310 papers" in asked.stdout
        assert "[2002] Wei Zhang — University of Adelaide · 120 papers" in asked.stdout
        assert "--s2-author-id" in asked.stderr and len(asked.stderr.splitlines()) == 1
        assert follows(engine, self.CHANNEL) == {}

        done = run_cli(cfg, "follow", "--channel", self.CHANNEL, "--author", "Wei Zhang",
                       "--s2-author-id", "2002")  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert follows(engine, self.CHANNEL) == {"Wei Zhang": "2002"}

        listed = json.loads(run_cli(cfg, "channels", "--json").stdout)
        assert listed[0]["authors"] == ["Wei Zhang"]
        gone = run_cli(cfg, "unfollow", "--channel", self.CHANNEL, "--author", "wei zhang")
        assert gone.returncode == 0, gone.stderr
        assert follows(engine, self.CHANNEL) == {}
        again = run_cli(cfg, "unfollow", "--channel", self.CHANNEL, "--author", "Wei Zhang")
        assert again.returncode == 1 and "doesn't follow" in again.stderr

    def test_s2_down_follows_by_name_on_arxiv_with_a_note(
        self, settings: Settings, engine: Engine
    ) -> None:
        cfg = settings.model_copy(update={"semantic_scholar_api_url": DEAD})
        done = run_cli(cfg, "follow", "--channel", self.CHANNEL, "--author", "Yann LeCun")
        assert done.returncode == 0, done.stderr
        assert "arXiv au:LeCun_Y" in done.stdout
        assert author_service.S2_DOWN_NOTE in done.stdout
        assert follows(engine, self.CHANNEL) == {"Yann LeCun": None}


# --- ingest and digest ---------------------------------------------------------------------------


@pytest.fixture
def cfg(
    settings: Settings, arxiv_fake: FakeArxiv, s2_fake: FakeSemanticScholar, slack_fake: Any
) -> Settings:
    return slack_settings(
        settings,
        slack_fake,
        arxiv_api_url=arxiv_fake.url,
        semantic_scholar_api_url=s2_fake.url,
        arxiv_categories=["cs.CL"],
        arxiv_num_retries=0,
    )


class TestDigest:
    def test_an_authors_new_paper_leads_the_digest_marked_even_without_a_topic_match(
        self, cfg: Settings, engine: Engine, arxiv_fake: FakeArxiv, slack_fake: Any
    ) -> None:
        with session_scope(engine) as session:
            follow_topic(session, channel_id="C1", topic_name="language models")
            author_service.follow(session, channel_id="C1", name="Yann LeCun")
            add_paper(session, "2611.00100", "Language models read papers")
        arxiv_fake.add(
            arxiv_paper("2611.00001", title="Energy-based world models",
                        authors=[("Y. LeCun", []), ("Ada Lovelace", [])]),
            arxiv_paper("2611.00002", title="Another LeCun's robots", authors=[("Yoav LeCun", [])]),
            arxiv_paper("2611.00003", title="An old paper of his", authors=[("Yann LeCun", [])],
                        published=NOW - timedelta(days=40)),
        )  # fmt: skip
        arxiv_fake.query_results["au:LeCun_Y"] = ["2611.00001", "2611.00002", "2611.00003"]
        arxiv_fake.query_results["cat:cs.CL"] = []

        report = run_ingest(cfg, engine, sources=build_sources(cfg), embedder=embedder())
        assert "au:LeCun_Y" in [q.get("search_query") for q in arxiv_fake.queries()]
        assert [s.source for s in report.sources] == ["arxiv", "hf"]  # no S2 id: no S2 run

        poster = SlackPoster(make_web_client(cfg))
        result = run_digest(cfg, engine, poster, channel_id="C1", scheduled_for=NOW)
        assert result.status == "posted"
        # His new paper first, then the topic's; not the namesake's, not his old one.
        assert posted_papers(slack_fake, "C1") == ["2611.00001", "2611.00100"]
        first, second = slack_fake.posted("C1")[1:]
        assert "by an author you follow: Yann LeCun" in json.dumps(first["blocks"])
        assert "author you follow" not in json.dumps(second["blocks"])

        # The next digest posts them no more: exactly once, like every digest paper.
        later = NOW + timedelta(hours=1)
        again = run_digest(cfg, engine, poster, channel_id="C1", scheduled_for=later)
        assert again.paper_ids == []
        assert posted_papers(slack_fake, "C1") == ["2611.00001", "2611.00100"]

    def test_an_s2_authors_list_is_ingested_and_joins_an_author_only_channel(
        self,
        cfg: Settings,
        engine: Engine,
        arxiv_fake: FakeArxiv,
        s2_fake: FakeSemanticScholar,
        slack_fake: Any,
    ) -> None:
        recent = (NOW - timedelta(days=1)).date().isoformat()
        paper = s2_fake.add_paper(
            s2_paper("2611.00200", title="Self-supervised vision at scale",
                     authors=("Yann André LeCun",), publication_date=recent)
        )  # fmt: skip
        stale = s2_fake.add_paper(s2_paper("1901.00001", authors=("Yann LeCun",),
                                           publication_date="2019-01-02"))  # fmt: skip
        s2_fake.add_author(s2_author("1741101", "Yann LeCun"),
                           papers=(paper["paperId"], stale["paperId"]))  # fmt: skip
        arxiv_fake.query_results["cat:cs.CL"] = []
        with session_scope(engine) as session:
            author_service.follow(session, channel_id="C2", name="Yann LeCun",
                                  s2_author_id="1741101")  # fmt: skip

        report = run_ingest(cfg, engine, sources=build_sources(cfg), embedder=embedder())
        by_source = {s.source: s for s in report.sources}
        assert by_source["s2_authors"].status == "ok" and by_source["s2_authors"].inserted == 1
        with Session(engine) as session:
            stored = session.scalars(select(Paper.arxiv_id)).all()
        assert "2611.00200" in stored and "1901.00001" not in stored

        result = run_digest(cfg, engine, SlackPoster(make_web_client(cfg)), channel_id="C2")
        assert posted_papers(slack_fake, "C2") == ["2611.00200"], result
        assert "by an author you follow: Yann LeCun" in json.dumps(slack_fake.posted("C2")[1])
