"""Where a paused channel shows: `paperboy digest`, `channels`, `status`, /healthz, `/papers topics`
and the setter's DMs. The operator's path from the issue: a wrong token, then the fix."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from digest_helpers import BOT_TOKEN, add_paper, posted_papers, slack_settings
from pydantic import SecretStr
from slack_cmd_support import CHANNEL, USER, add_search_papers
from slack_cmd_support import command_replies as _replies
from sqlalchemy import Engine
from test_cli_digest import run

from app.config import Settings
from app.db.engine import session_scope
from app.digest import run_digest
from app.slack.poster import SlackPoster, make_web_client
from app.topics import follow

PAPERS = ["2501.00001", "2501.00002", "2501.00003"]


@pytest.fixture
def cfg(settings: Settings, engine: Engine, slack_fake: Any) -> Settings:
    slack_fake.valid_tokens = {BOT_TOKEN}
    with session_scope(engine) as session:
        follow(session, channel_id="C0TEAM00002", topic_name="language models")
        follow(session, channel_id="C0OTHER0001", topic_name="language models")
        for i, arxiv_id in enumerate(PAPERS):
            add_paper(session, arxiv_id, f"Language models, part {i}", hf_upvotes=9 - i)
    return slack_settings(settings, slack_fake)


def test_a_wrong_token_pauses_shows_everywhere_and_the_fixed_token_delivers_it_all(
    cfg: Settings, slack_fake: Any
) -> None:
    wrong = cfg.model_copy(update={"slack_bot_token": SecretStr("xoxb-wrong")})
    failed = run(wrong, "digest", "-c", "C0TEAM00002")
    assert failed.returncode == 1
    assert "slack: invalid_auth" in failed.stderr and "SLACK_BOT_TOKEN" in failed.stderr
    assert "Traceback" not in failed.stderr

    listed = {c["channel"]: c for c in json.loads(run(cfg, "channels", "--json").stdout)}
    paused = listed["C0TEAM00002"]["paused"]
    assert paused["code"] == "invalid_auth" and "SLACK_BOT_TOKEN" in paused["hint"]
    assert paused["since"] and "paperboy digest --channel C0TEAM00002" in paused["resume"]
    assert listed["C0TEAM00002"]["last_digest"]["status"] == "undelivered"
    assert listed["C0OTHER0001"]["paused"] is None
    table = run(cfg, "channels").stdout
    assert "C0TEAM00002 paused since" in table and "invalid_auth" in table

    status = json.loads(run(cfg, "status", "--json").stdout)["channels"]
    assert status["C0TEAM00002"]["paused"]["code"] == "invalid_auth"
    assert status["C0TEAM00002"]["owed_papers"] == 3
    assert status["C0OTHER0001"] == {"last_digest": None, "paused": None, "owed_papers": 0}
    text = run(cfg, "status").stdout
    assert "paused since" in text and "3 papers owed" in text

    fixed = run(cfg, "digest", "-c", "C0TEAM00002")  # the right token again
    assert fixed.returncode == 0, fixed.stderr
    assert "finished 4 messages" in fixed.stdout
    assert posted_papers(slack_fake, "C0TEAM00002") == PAPERS
    after = {c["channel"]: c for c in json.loads(run(cfg, "channels", "--json").stdout)}
    assert after["C0TEAM00002"]["paused"] is None
    assert after["C0TEAM00002"]["last_digest"]["status"] == "done"
    again = run(cfg, "digest", "-c", "C0TEAM00002")
    assert "nothing new" in again.stdout
    assert posted_papers(slack_fake, "C0TEAM00002") == PAPERS


class TestInSlack:
    def test_healthz_is_degraded_not_down_while_a_channel_is_paused(
        self, slack_app_server: Any, engine: Engine
    ) -> None:
        add_search_papers(engine)
        with session_scope(engine) as session:
            follow(session, channel_id=CHANNEL, topic_name="retrieval")
        slack_app_server.slack.error_next("chat.postMessage", "not_in_channel", times=5)
        settings = slack_app_server.settings
        run_digest(settings, engine, SlackPoster(make_web_client(settings)), channel_id=CHANNEL)
        response = httpx.get(slack_app_server.url + "/healthz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "degraded"
        assert body["paused_channels"][CHANNEL]["code"] == "not_in_channel"
        assert "/invite @Paperboy" in body["paused_channels"][CHANNEL]["hint"]

        topics = _replies(slack_app_server.command("topics"))[0]["text"]
        assert "paused" in topics and "/invite @Paperboy" in topics

        slack_app_server.slack.heal()
        reply = _replies(slack_app_server.command("digest now"))[0]
        assert reply["text"].startswith("Posted")
        shown = posted_papers(slack_app_server.slack, CHANNEL)
        assert shown and len(shown) == len(set(shown))  # the waiting digest, each paper once
        assert httpx.get(slack_app_server.url + "/healthz").json()["status"] == "ok"
        assert "paused" not in _replies(slack_app_server.command("topics"))[0]["text"]

    def test_whoever_followed_from_slack_is_told_by_dm(
        self, slack_app_server: Any, engine: Engine
    ) -> None:
        add_search_papers(engine)
        slack_app_server.command("follow retrieval")
        slack_app_server.wait_idle()
        slack_app_server.slack.error_next("chat.postMessage", "channel_not_found", times=1)
        settings = slack_app_server.settings
        run_digest(settings, engine, SlackPoster(make_web_client(settings)), channel_id=CHANNEL)
        [dm] = slack_app_server.slack.posted(USER)
        assert "private" in dm["text"] and f"<#{CHANNEL}>" in dm["text"]
