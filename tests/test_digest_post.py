"""Posting digests to (fake) Slack: styles, exactly once, crashes, rate limits, empty days."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from digest_helpers import NOW, add_paper, posted_papers, recorded, runs, slack_settings
from sqlalchemy import Engine, create_engine

from app.config import Settings
from app.db import channels
from app.db.engine import session_scope
from app.db.models import IngestRun
from app.digest import run_digest, run_due_digests
from app.digest.plan import plan_run
from app.digest.post import DigestPoster
from app.slack.poster import SlackPoster, make_web_client
from app.topics import follow

PAPERS = ["2501.00001", "2501.00002", "2501.00003"]


@pytest.fixture
def env(settings: Settings, engine: Engine, slack_fake: Any) -> tuple[Settings, Any]:
    """Channel C1 follows "language models"; three fresh papers match."""
    s = slack_settings(settings, slack_fake)
    with session_scope(engine) as session:
        follow(session, channel_id="C1", topic_name="language models")
        for i, arxiv_id in enumerate(PAPERS):
            add_paper(session, arxiv_id, f"Language models, part {i}", hf_upvotes=10 - i)
    return s, make_web_client(s)


class TestStyles:
    def test_messages_style_posts_header_then_each_paper_top_level(
        self, env: tuple[Settings, Any], engine: Engine, slack_fake: Any
    ) -> None:
        settings, client = env
        result = run_digest(settings, engine, SlackPoster(client), channel_id="C1")
        assert (result.status, result.posted) == ("posted", 4)
        messages = slack_fake.posted("C1")
        assert "3 new papers" in messages[0]["text"]
        assert posted_papers(slack_fake, "C1") == PAPERS
        assert all("thread_ts" not in m for m in messages)
        rows = recorded(engine, "C1")
        assert [(r.kind, r.position, r.arxiv_id) for r in rows] == [
            ("header", 0, None), ("paper", 1, PAPERS[0]), ("paper", 2, PAPERS[1]),
            ("paper", 3, PAPERS[2]),
        ]  # fmt: skip
        assert [r.ts for r in rows] == [m["ts"] for m in messages]
        assert slack_fake.warnings == []  # every message had its text fallback
        # what --json prints is exactly what Slack received
        sent = [c.args for c in slack_fake.calls_to("chat.postMessage")]
        assert result.payloads == sent

    def test_thread_style_posts_papers_in_the_headers_thread(
        self, env: tuple[Settings, Any], engine: Engine, slack_fake: Any
    ) -> None:
        settings, client = env
        with session_scope(engine) as session:
            channels.update_channel(session, channel_id="C1", style="thread")
        run_digest(settings, engine, SlackPoster(client), channel_id="C1")
        header, *papers = slack_fake.posted("C1")
        assert "thread_ts" not in header and len(papers) == 3
        assert {m["thread_ts"] for m in papers} == {header["ts"]}
        assert {r.thread_ts for r in recorded(engine, "C1") if r.kind == "paper"} == {header["ts"]}


class TestExactlyOnce:
    def test_same_digest_run_twice_posts_once(
        self, env: tuple[Settings, Any], engine: Engine, slack_fake: Any
    ) -> None:
        settings, client = env
        first = run_digest(
            settings, engine, SlackPoster(client), channel_id="C1", scheduled_for=NOW
        )
        again = run_digest(
            settings, engine, SlackPoster(client), channel_id="C1", scheduled_for=NOW
        )
        later = run_digest(
            settings, engine, SlackPoster(client), channel_id="C1"
        )  # a new digest: no news
        assert (first.status, again.status, later.status) == ("posted", "done_before", "empty")
        assert len(slack_fake.calls_to("chat.postMessage")) == 4

    def test_two_processes_racing_post_once(
        self, env: tuple[Settings, Any], db_url: str, slack_fake: Any
    ) -> None:
        settings, _ = env
        slack_fake.latency = 0.05
        start = threading.Barrier(2)
        results: list[Any] = []

        def process() -> None:
            engine = create_engine(db_url)  # its own engine: nothing shared but the database
            try:
                client = make_web_client(settings)
                start.wait()
                results.append(
                    run_digest(
                        settings, engine, SlackPoster(client), channel_id="C1", scheduled_for=NOW
                    )
                )
            finally:
                engine.dispose()

        threads = [threading.Thread(target=process) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        # one posts; the other finds it being posted (skipped) or already posted (done_before)
        statuses = sorted(r.status for r in results)
        assert statuses in (["posted", "skipped"], ["done_before", "posted"])
        assert len(slack_fake.posted("C1")) == 4
        assert posted_papers(slack_fake, "C1") == PAPERS

    def test_a_digest_locked_by_another_process_is_skipped_until_released(
        self, env: tuple[Settings, Any], engine: Engine, db_url: str, slack_fake: Any
    ) -> None:
        settings, client = env
        with session_scope(engine) as session:
            channel = channels.get_channel(session, channel_id="C1")
            assert channel is not None
            run, _ = plan_run(session, channel=channel, scheduled_for=NOW)
        other = create_engine(db_url)
        holder = DigestPoster(
            settings, other, SlackPoster(client), pacer=None
        )  # "process A" holds the run
        try:
            assert holder.claim(run.id)
            result = run_digest(
                settings, engine, SlackPoster(client), channel_id="C1", scheduled_for=NOW
            )
            assert result.status == "skipped"
            assert slack_fake.calls_to("chat.postMessage") == []
        finally:
            holder.close()  # A dies without posting: its lock goes with it
            other.dispose()
        result = run_digest(
            settings, engine, SlackPoster(client), channel_id="C1", scheduled_for=NOW
        )
        assert result.status == "posted" and posted_papers(slack_fake, "C1") == PAPERS

    def test_crash_between_posts_is_finished_without_repeats(
        self, env: tuple[Settings, Any], engine: Engine, slack_fake: Any
    ) -> None:
        settings, client = env
        slack_fake.fail_after("chat.postMessage", 2, status=500)  # Slack dies after 2 messages
        broken = run_digest(
            settings, engine, SlackPoster(client), channel_id="C1", scheduled_for=NOW
        )
        assert (broken.status, broken.posted) == ("failed", 2)
        assert posted_papers(slack_fake, "C1") == PAPERS[:1]
        assert runs(engine, "C1")[0].status == "posting"

        slack_fake.heal()  # the restarted scheduler's next tick finishes the run
        results = run_due_digests(
            settings, engine, SlackPoster(client), now=NOW + timedelta(minutes=1)
        )
        assert sum(r.resumed + r.posted for r in results) == 2
        assert posted_papers(slack_fake, "C1") == PAPERS
        assert len(slack_fake.posted("C1")) == 4
        assert [r.position for r in recorded(engine, "C1")] == [0, 1, 2, 3]
        assert runs(engine, "C1")[0].status == "done"

    @pytest.mark.parametrize("style", ["messages", "thread"])
    def test_message_slack_accepted_but_never_confirmed_is_not_posted_again(
        self, env: tuple[Settings, Any], engine: Engine, slack_fake: Any, style: str
    ) -> None:
        settings, _ = env
        with session_scope(engine) as session:
            channels.update_channel(session, channel_id="C1", style=style)
        # Slack takes the third message (the second paper) but its answer never arrives in time:
        # the run stops there, as if the process had died before recording it.
        quick = make_web_client(settings.model_copy(update={"http_timeout_seconds": 1.0}))
        slack_fake.stall_answer("chat.postMessage", after=2, seconds=10)
        broken = run_digest(
            settings, engine, SlackPoster(quick), channel_id="C1", scheduled_for=NOW
        )
        assert broken.status == "failed" and broken.posted == 2
        assert posted_papers(slack_fake, "C1") == PAPERS[:2]  # Slack has the unconfirmed one
        unconfirmed = slack_fake.posted("C1")[2]["ts"]

        slack_fake.heal()
        client = make_web_client(settings)
        results = run_due_digests(
            settings, engine, SlackPoster(client), now=NOW + timedelta(minutes=1)
        )
        assert sum(r.resumed for r in results) == 1  # only the last paper was posted now
        assert posted_papers(slack_fake, "C1") == PAPERS  # each paper exactly once
        assert len(slack_fake.posted("C1")) == 4
        rows = recorded(engine, "C1")
        assert [r.position for r in rows] == [0, 1, 2, 3]
        assert rows[2].ts == unconfirmed and rows[2].arxiv_id == PAPERS[1]
        if style == "thread":
            assert rows[2].thread_ts == rows[0].ts
        assert runs(engine, "C1")[0].status == "done"

    def test_when_slack_hides_the_history_the_unconfirmed_message_repeats_once(
        self, env: tuple[Settings, Any], engine: Engine, slack_fake: Any
    ) -> None:
        # The documented limit: the bot posts to public channels without joining them, and then
        # may not read their history.
        settings, _ = env
        slack_fake.add_channel("C1", is_member=False)
        quick = make_web_client(settings.model_copy(update={"http_timeout_seconds": 1.0}))
        slack_fake.stall_answer("chat.postMessage", after=2, seconds=10)
        run_digest(settings, engine, SlackPoster(quick), channel_id="C1", scheduled_for=NOW)
        slack_fake.heal()
        client = make_web_client(settings)
        run_due_digests(settings, engine, SlackPoster(client), now=NOW + timedelta(minutes=1))
        assert posted_papers(slack_fake, "C1") == [PAPERS[0], PAPERS[1], PAPERS[1], PAPERS[2]]
        assert runs(engine, "C1")[0].status == "done"

    def test_rate_limited_then_success(
        self, env: tuple[Settings, Any], engine: Engine, slack_fake: Any
    ) -> None:
        settings, client = env
        slack_fake.rate_limit(1, retry_after=1, method="chat.postMessage")
        result = run_digest(settings, engine, SlackPoster(client), channel_id="C1")
        assert result.status == "posted"
        calls = slack_fake.calls_to("chat.postMessage")
        assert [c.status for c in calls] == [429, 200, 200, 200, 200]
        assert calls[1].at - calls[0].at >= 0.9  # waited for Retry-After: 1
        assert posted_papers(slack_fake, "C1") == PAPERS


class TestContent:
    def test_hostile_title_and_overlong_abstract_reach_slack_safely(
        self, settings: Settings, engine: Engine, slack_fake: Any
    ) -> None:
        s = slack_settings(settings, slack_fake)
        with session_scope(engine) as session:
            follow(session, channel_id="C9", topic_name="language models")
            add_paper(session, "2501.66666", "<!channel> & <@U1>: language models for all",
                      abstract="Language models are long. " * 2000)  # fmt: skip
        result = run_digest(s, engine, SlackPoster(make_web_client(s)), channel_id="C9")
        assert result.status == "posted"  # the fake rejects anything outside Block Kit limits
        paper = slack_fake.posted("C9")[1]
        head = paper["blocks"][0]["text"]["text"]
        assert "&lt;!channel&gt; &amp; &lt;@U1&gt;" in head
        assert "<!channel>" not in str(paper) and "<@U1>" not in str(paper)
        assert all(
            len(b["text"]["text"]) <= 3000 for b in paper["blocks"] if b["type"] == "section"
        )


class TestEmptyDays:
    def test_nothing_relevant_posts_nothing_or_one_quiet_line(
        self, env: tuple[Settings, Any], engine: Engine, slack_fake: Any
    ) -> None:
        settings, client = env
        with session_scope(engine) as session:
            follow(session, channel_id="C2", topic_name="protein folding")
        silent = run_digest(
            settings, engine, SlackPoster(client), channel_id="C2", scheduled_for=NOW
        )
        assert silent.status == "empty" and slack_fake.posted("C2") == []
        with session_scope(engine) as session:
            channels.update_channel(session, channel_id="C2", quiet_day_notice=True)
        later = NOW + timedelta(days=1)
        quiet = run_digest(
            settings, engine, SlackPoster(client), channel_id="C2", scheduled_for=later
        )
        assert quiet.status == "posted"
        [notice] = slack_fake.posted("C2")
        assert "No new papers" in notice["text"] and len(notice["blocks"]) == 1

    def test_ingest_failure_gives_one_short_notice(
        self, settings: Settings, engine: Engine, slack_fake: Any
    ) -> None:
        s = slack_settings(settings, slack_fake)
        with session_scope(engine) as session:
            follow(session, channel_id="C3", topic_name="language models")
            session.add(IngestRun(source="arxiv", status="failed", error="arXiv answered 503"))
        client = make_web_client(s)
        result = run_digest(s, engine, SlackPoster(client), channel_id="C3", scheduled_for=NOW)
        again = run_digest(s, engine, SlackPoster(client), channel_id="C3", scheduled_for=NOW)
        assert (result.status, again.status) == ("posted", "done_before")
        [notice] = slack_fake.posted("C3")
        assert "could not fetch new papers" in notice["text"]
        assert len(notice["blocks"]) == 1 and "<!channel>" not in str(notice)

    def test_arxiv_failing_while_hugging_face_answers_still_gives_the_notice(
        self, settings: Settings, engine: Engine, slack_fake: Any
    ) -> None:
        # The sources run one after the other: arXiv fails, then Hugging Face brings a few
        # papers, none about this channel's topic.
        s = slack_settings(settings, slack_fake)
        with session_scope(engine) as session:
            follow(session, channel_id="C4", topic_name="language models")
            session.add_all([
                IngestRun(source="arxiv", status="failed", error="arXiv answered 503",
                          started_at=NOW - timedelta(minutes=30)),
                IngestRun(source="hf", status="ok", started_at=NOW - timedelta(minutes=29)),
            ])  # fmt: skip
            add_paper(session, "2501.77777", "Protein folding with diffusion")
        result = run_digest(
            s, engine, SlackPoster(make_web_client(s)), channel_id="C4", scheduled_for=NOW
        )
        assert result.status == "posted"
        [notice] = slack_fake.posted("C4")
        assert "could not fetch new papers" in notice["text"]

    def test_a_failure_a_later_ingest_recovered_from_posts_nothing(
        self, settings: Settings, engine: Engine, slack_fake: Any
    ) -> None:
        s = slack_settings(settings, slack_fake)
        with session_scope(engine) as session:
            follow(session, channel_id="C5", topic_name="language models")
            session.add_all([
                IngestRun(source="arxiv", status="failed", error="arXiv answered 503",
                          started_at=NOW - timedelta(hours=2)),
                IngestRun(source="arxiv", status="ok", started_at=NOW - timedelta(hours=1)),
                IngestRun(source="hf", status="running", started_at=NOW - timedelta(hours=1)),
            ])  # fmt: skip
        result = run_digest(
            s, engine, SlackPoster(make_web_client(s)), channel_id="C5", scheduled_for=NOW
        )
        assert result.status == "empty" and slack_fake.posted("C5") == []

    def test_a_channel_with_papers_gets_its_digest_not_the_notice(
        self, env: tuple[Settings, Any], engine: Engine, slack_fake: Any
    ) -> None:
        settings, client = env
        with session_scope(engine) as session:
            session.add(IngestRun(source="arxiv", status="failed", error="arXiv answered 503"))
        run_digest(settings, engine, SlackPoster(client), channel_id="C1", scheduled_for=NOW)
        messages = slack_fake.posted("C1")
        assert posted_papers(slack_fake, "C1") == PAPERS
        assert not any("could not fetch" in m["text"] for m in messages)


def test_one_channel_failing_does_not_stop_the_others(
    env: tuple[Settings, Any], engine: Engine, slack_fake: Any
) -> None:
    settings, client = env
    with session_scope(engine) as session:
        follow(session, channel_id="C2", topic_name="language models")
        for channel_id in ("C1", "C2"):
            channels.set_schedule(session, channel_id=channel_id, cron="0 * * * *", timezone="UTC")
    slack_fake.error_next("chat.postMessage", "channel_not_found")  # whichever posts first
    results = {
        r.channel_id: r for r in run_due_digests(settings, engine, SlackPoster(client), now=NOW)
    }
    statuses = sorted(r.status for r in results.values())
    assert statuses == ["failed", "posted"]
    failed = next(r for r in results.values() if r.status == "failed")
    ok = next(r for r in results.values() if r.status == "posted")
    assert (failed.error or "").startswith("slack: channel_not_found; ")
    assert posted_papers(slack_fake, ok.channel_id) == PAPERS
    # Slack refused the channel: not retried, its papers owed (tests/test_digest_owed.py)
    assert runs(engine, failed.channel_id)[0].status == "undelivered"


def test_each_channel_is_paced_while_channels_post_in_parallel(
    env: tuple[Settings, Any], engine: Engine, slack_fake: Any
) -> None:
    settings, client = env
    paced = settings.model_copy(update={"slack_channel_interval_seconds": 0.4})
    slack_fake.enforce_channel_rate, slack_fake.channel_interval = True, 0.4  # 429 if faster
    with session_scope(engine) as session:
        follow(session, channel_id="C2", topic_name="language models")
        for channel_id in ("C1", "C2"):
            channels.set_schedule(session, channel_id=channel_id, cron="0 * * * *", timezone="UTC")
    started = time.monotonic()
    results = run_due_digests(paced, engine, SlackPoster(client), now=NOW)
    wall = time.monotonic() - started
    assert sorted(r.status for r in results) == ["posted", "posted"]
    assert slack_fake.rate_limited == 0
    for channel_id in ("C1", "C2"):
        arrivals = [c.at for c in slack_fake.calls_to("chat.postMessage")
                    if c.args["channel"] == channel_id]  # fmt: skip
        assert len(arrivals) == 4
        assert min(b - a for a, b in zip(arrivals, arrivals[1:], strict=False)) >= 0.38
    assert wall < 2 * 3 * 0.4  # one channel's 3 gaps, not both channels' 6 in a row
