"""A digest is never lost: papers Slack did not take stay owed to the channel, a refusal pauses
only that channel (and tells whoever set it up), and transient failures are retried with backoff.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from digest_helpers import BOT_TOKEN, add_paper, posted_papers, runs, slack_settings
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import channels, pauses
from app.db.engine import session_scope
from app.db.models import Channel
from app.digest import run_digest, run_due_digests
from app.digest.pause import AUTH_CODES, CHANNEL_CODES
from app.slack.poster import SlackPoster, make_web_client
from app.topics import follow

PAPERS = ["2501.00001", "2501.00002", "2501.00003"]
_now = datetime.now(UTC)
# The latest 09:00 UTC: the digests below are scheduled then, or at times relative to it.
NINE = _now.replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=_now.hour < 9)
GOOD_TOKEN, WRONG_TOKEN, NEW_TOKEN = BOT_TOKEN, "xoxb-wrong", "xoxb-new-token"


@pytest.fixture
def env(settings: Settings, engine: Engine, slack_fake: Any) -> Settings:
    """C1 and C2 follow "language models" with a daily 09:00 UTC digest; three papers match.
    The fake Slack only takes the right token."""
    slack_fake.valid_tokens = {GOOD_TOKEN, NEW_TOKEN}
    with session_scope(engine) as session:
        for channel_id in ("C1", "C2"):
            follow(session, channel_id=channel_id, topic_name="language models")
            channels.set_schedule(session, channel_id=channel_id, cron="0 9 * * *", timezone="UTC")
        for i, arxiv_id in enumerate(PAPERS):
            add_paper(session, arxiv_id, f"Language models, part {i}", hf_upvotes=10 - i)
    return slack_settings(settings, slack_fake)


def poster(settings: Settings, token: str = GOOD_TOKEN) -> SlackPoster:
    return SlackPoster(
        make_web_client(settings.model_copy(update={"slack_bot_token": SecretStr(token)}))
    )


def refuse(slack_fake: Any, code: str) -> str:
    """Make Slack refuse the next digest with `code`; the token to post with."""
    if code == "invalid_auth":
        return WRONG_TOKEN  # the real thing: the fake refuses the token
    slack_fake.error_next("chat.postMessage", code, times=100)
    return GOOD_TOKEN


def fix(slack_fake: Any, code: str) -> str:
    """Undo `refuse` (a new token for an auth refusal); the token to post with."""
    slack_fake.heal()
    return NEW_TOKEN if code in AUTH_CODES - {"invalid_auth"} else GOOD_TOKEN


def channel(engine: Engine, channel_id: str) -> Channel:
    with Session(engine) as session:
        row = session.get(Channel, channel_id)
        assert row is not None
        return row


PERMANENT = sorted(CHANNEL_CODES) + ["invalid_auth", "token_revoked", "account_inactive"]


class TestManualDigest:
    @pytest.mark.parametrize("code", PERMANENT)
    def test_a_refused_digest_is_delivered_whole_after_the_fix(
        self, env: Settings, engine: Engine, slack_fake: Any, code: str
    ) -> None:
        token = refuse(slack_fake, code)
        failed = run_digest(env, engine, poster(env, token), channel_id="C1", scheduled_for=NINE)
        assert failed.status == "failed" and failed.code == code
        assert (failed.error or "").startswith(f"slack: {code}; digests to C1 are paused")
        assert channel(engine, "C1").pause_code == code
        assert slack_fake.posted("C1") == []
        preview = run_digest(env, engine, poster(env), channel_id="C1", dry_run=True)
        assert preview.paper_ids == PAPERS  # still owed, not "nothing new"

        fixed = run_digest(
            env, engine, poster(env, fix(slack_fake, code)), channel_id="C1",
            scheduled_for=NINE + timedelta(hours=1),
        )  # fmt: skip
        # the 09:00 digest is finished under its own header: nothing was new since
        assert (fixed.status, fixed.resumed) == ("empty", 4)
        assert channel(engine, "C1").paused_at is None
        assert posted_papers(slack_fake, "C1") == PAPERS  # everything owed, once
        again = run_digest(
            env, engine, poster(env), channel_id="C1", scheduled_for=NINE + timedelta(hours=2)
        )
        assert (again.status, again.resumed) == ("empty", 0)
        assert posted_papers(slack_fake, "C1") == PAPERS

    def test_papers_owed_past_the_retry_window_come_with_the_next_digest(
        self, env: Settings, engine: Engine, slack_fake: Any
    ) -> None:
        slack_fake.error_next("chat.postMessage", "not_in_channel", times=100)
        run_digest(
            env, engine, poster(env), channel_id="C1", scheduled_for=NINE - timedelta(days=1)
        )
        slack_fake.heal()
        with session_scope(engine) as session:
            add_paper(session, "2501.00004", "Language models, a new one", hf_upvotes=50)
        result = run_digest(env, engine, poster(env), channel_id="C1", scheduled_for=NINE)
        assert result.status == "posted"
        # the owed papers first, in their order; then what is new
        assert posted_papers(slack_fake, "C1") == [*PAPERS, "2501.00004"]
        assert "4 new papers" in slack_fake.posted("C1")[0]["text"]


class TestScheduler:
    def test_a_paused_channel_is_skipped_and_others_go_on(
        self, env: Settings, engine: Engine, slack_fake: Any
    ) -> None:
        slack_fake.error_next("chat.postMessage", "channel_not_found", times=1)  # who posts first
        first = {r.channel_id: r for r in run_due_digests(env, engine, poster(env), NINE)}
        refused = [c for c, r in first.items() if r.status == "failed"]
        assert len(refused) == 1 and len(first) == 2
        other = ({"C1", "C2"} - set(refused)).pop()
        assert posted_papers(slack_fake, other) == PAPERS

        calls = len(slack_fake.calls_to("chat.postMessage"))
        for minutes in (1, 2, 30):  # no hammering: the paused channel is left alone
            run_due_digests(env, engine, poster(env), NINE + timedelta(minutes=minutes))
        assert len(slack_fake.calls_to("chat.postMessage")) == calls
        assert channel(engine, refused[0]).pause_code == "channel_not_found"

    @pytest.mark.parametrize("code", sorted(AUTH_CODES & {"invalid_auth", "token_revoked"}))
    def test_a_new_token_resumes_and_the_next_tick_delivers(
        self, env: Settings, engine: Engine, slack_fake: Any, code: str
    ) -> None:
        token = refuse(slack_fake, code)
        results = run_due_digests(env, engine, poster(env, token), NINE)
        assert {r.code for r in results} == {code}
        assert all(channel(engine, c).pause_code == code for c in ("C1", "C2"))
        calls = len(slack_fake.calls_to("chat.postMessage"))
        # the same token, restarted: still paused, nothing tried
        assert run_due_digests(env, engine, poster(env, token), NINE + timedelta(minutes=5)) == []
        assert len(slack_fake.calls_to("chat.postMessage")) == calls

        slack_fake.heal()
        new_token = GOOD_TOKEN if code == "invalid_auth" else NEW_TOKEN
        later = run_due_digests(env, engine, poster(env, new_token), NINE + timedelta(hours=1))
        assert sorted(r.channel_id for r in later) == ["C1", "C2"]
        for channel_id in ("C1", "C2"):
            assert posted_papers(slack_fake, channel_id) == PAPERS
            assert channel(engine, channel_id).paused_at is None
            assert [r.status for r in runs(engine, channel_id)] == ["done"]

    def test_a_transient_failure_is_retried_with_backoff(
        self, env: Settings, engine: Engine, slack_fake: Any
    ) -> None:
        with session_scope(engine) as session:
            channels.unfollow(session, channel_id="C2", topic_name="language models")
        slack_fake.error_next("chat.postMessage", "ratelimited", times=2)
        first = run_due_digests(env, engine, poster(env), NINE)
        assert [r.status for r in first] == ["failed"]
        [run] = runs(engine, "C1")
        assert (run.status, run.attempts) == ("posting", 1)
        assert run.retry_at is not None and run.retry_at == NINE + timedelta(minutes=1)
        assert channel(engine, "C1").paused_at is None  # transient: never paused

        assert run_due_digests(env, engine, poster(env), NINE + timedelta(seconds=30)) == []
        second = run_due_digests(env, engine, poster(env), NINE + timedelta(minutes=1))
        assert [r.status for r in second] == ["failed"]
        assert runs(engine, "C1")[0].retry_at == NINE + timedelta(minutes=3)  # 2 min later
        assert run_due_digests(env, engine, poster(env), NINE + timedelta(minutes=2)) == []

        third = run_due_digests(env, engine, poster(env), NINE + timedelta(minutes=3))
        assert sum(r.resumed for r in third) == 4
        assert posted_papers(slack_fake, "C1") == PAPERS
        assert runs(engine, "C1")[0].status == "done"

    def test_transient_failures_past_the_window_are_owed_to_the_next_digest(
        self, env: Settings, engine: Engine, slack_fake: Any
    ) -> None:
        with session_scope(engine) as session:
            channels.unfollow(session, channel_id="C2", topic_name="language models")
        yesterday = NINE - timedelta(days=1)
        slack_fake.error_next("chat.postMessage", "ratelimited", times=1)
        run_due_digests(env, engine, poster(env), yesterday)
        # no scheduler ran for a day: the run is given up, its papers owed
        results = run_due_digests(env, engine, poster(env), NINE)
        assert [r.status for r in results] == ["posted"]
        assert [r.status for r in runs(engine, "C1")] == ["undelivered", "done"]
        assert posted_papers(slack_fake, "C1") == PAPERS


class TestSetterIsTold:
    def test_the_person_who_set_the_channel_up_gets_a_direct_message(
        self, env: Settings, engine: Engine, slack_fake: Any
    ) -> None:
        with session_scope(engine) as session:
            pauses.record_set_up_by(session, channel_id="C1", user_id="U0ALICE")
        slack_fake.error_next("chat.postMessage", "not_in_channel", times=1)
        run_digest(env, engine, poster(env), channel_id="C1")
        [dm] = slack_fake.posted("U0ALICE")
        assert "paused" in dm["text"] and "/invite @Paperboy" in dm["text"]
        assert "<#C1>" in dm["text"]

    def test_nobody_is_messaged_with_a_token_slack_refuses(
        self, env: Settings, engine: Engine, slack_fake: Any
    ) -> None:
        with session_scope(engine) as session:
            pauses.record_set_up_by(session, channel_id="C1", user_id="U0ALICE")
        run_digest(env, engine, poster(env, WRONG_TOKEN), channel_id="C1")
        assert len(slack_fake.calls_to("chat.postMessage")) == 1  # the digest; no DM attempt
