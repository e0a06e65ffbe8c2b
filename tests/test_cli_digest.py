"""`paperboy follow|unfollow|channels|digest` as an operator runs them: subprocesses against the
test database and the fake Slack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_env
from digest_helpers import add_paper, posted_papers, recorded, slack_settings
from sqlalchemy import Engine

from app.config import Settings
from app.db.engine import session_scope
from tests.deps import PAPERBOY
from tests.deps import run_cli as run

PAPERS = ["2501.00001", "2501.00002", "2501.00003"]


@pytest.fixture
def cfg(settings: Settings, engine: Engine, slack_fake: Any) -> Settings:
    with session_scope(engine) as session:
        for i, arxiv_id in enumerate(PAPERS):
            add_paper(session, arxiv_id, f"Language models & friends, part {i}", hf_upvotes=9 - i)
    return slack_settings(settings, slack_fake)


def test_follow_channels_unfollow(cfg: Settings) -> None:
    followed = run(cfg, "follow", "--channel", "C0TEAM00001", "language", "models")
    assert followed.returncode == 0, followed.stderr
    assert "C0TEAM00001 follows language models (new topic)" in followed.stdout
    assert "0 9 * * mon-fri" in followed.stdout

    listed = run(cfg, "channels")
    assert listed.returncode == 0, listed.stderr
    assert "C0TEAM00001" in listed.stdout and "language models" in listed.stdout
    assert "0 9 * * mon-fri UTC" in listed.stdout

    as_json = json.loads(run(cfg, "channels", "--json").stdout)
    assert as_json[0]["channel"] == "C0TEAM00001" and as_json[0]["topics"] == ["language models"]

    gone = run(cfg, "unfollow", "--channel", "C0TEAM00001", "language models")
    assert gone.returncode == 0 and "no longer follows" in gone.stdout


def test_schedule_sets_when_a_channel_posts_and_refuses_more_than_hourly(cfg: Settings) -> None:
    done = run(cfg, "schedule", "--channel", "C0TEAM00001", "30 8 * * 1-5", "Europe/Berlin")
    assert done.returncode == 0, done.stderr
    assert "C0TEAM00001 digests post on '30 8 * * mon-fri' Europe/Berlin; next: " in done.stdout
    kept_zone = run(cfg, "schedule", "--channel", "C0TEAM00001", "0 7 * * 0")
    assert "'0 7 * * sun' Europe/Berlin" in kept_zone.stdout, kept_zone.stderr

    refused = run(cfg, "schedule", "--channel", "C0TEAM00001", "*/5 * * * *")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "more than once an hour" in refused.stderr
    bad_zone = run(cfg, "schedule", "--channel", "C0TEAM00001", "0 9 * * *", "Mars/Olympus")
    assert bad_zone.returncode == 1 and "isn't a time zone I know" in bad_zone.stderr
    listed = json.loads(run(cfg, "channels", "--json").stdout)
    assert (listed[0]["cron"], listed[0]["timezone"]) == ("0 7 * * sun", "Europe/Berlin")
    again = run(cfg, "unfollow", "--channel", "C0TEAM00001", "language models")
    assert again.returncode == 1
    assert again.stderr.strip() == "error: C0TEAM00001 does not follow 'language models'"


def test_digest_dry_run_json_prints_the_payloads_and_posts_nothing(
    cfg: Settings, slack_fake: Any
) -> None:
    run(cfg, "follow", "--channel", "C0TEAM00001", "language models")
    result = run(cfg, "digest", "--channel", "C0TEAM00001", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    payloads = json.loads(result.stdout)
    assert [p["channel"] for p in payloads] == ["C0TEAM00001"] * 4
    assert all(p["text"] and p["blocks"] for p in payloads)
    assert "&amp; friends" in json.dumps(payloads)
    assert slack_fake.calls_to("chat.postMessage") == []


def test_digest_posts_once_and_json_is_what_slack_got(
    cfg: Settings, slack_fake: Any, engine: Engine
) -> None:
    run(cfg, "follow", "--channel", "C0TEAM00001", "language models")
    result = run(cfg, "digest", "--channel", "C0TEAM00001", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [c.args for c in slack_fake.calls_to("chat.postMessage")]
    assert "posted 4 messages to C0TEAM00001" in result.stderr
    assert posted_papers(slack_fake, "C0TEAM00001") == PAPERS

    again = run(cfg, "digest", "--channel", "C0TEAM00001")
    assert again.returncode == 0 and "nothing new for C0TEAM00001" in again.stdout
    forced = run(cfg, "digest", "--channel", "C0TEAM00001", "--force", "--dry-run")
    assert "dry run: 4 messages, 3 papers" in forced.stdout
    assert len(slack_fake.posted("C0TEAM00001")) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["digest", "--channel", "C0NOPE0001", "--dry-run"], "C0NOPE0001 follows no topic"),
        (["follow", "--channel", "C0TEAM00001", "the"], "too common"),
    ],
)
def test_bad_input_is_one_line(cfg: Settings, args: list[str], message: str) -> None:
    result = run(cfg, *args)
    assert result.returncode == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_digest_without_a_token_says_so(cfg: Settings) -> None:
    run(cfg, "follow", "--channel", "C0TEAM00001", "language models")
    no_token = cfg.model_copy(update={"slack_bot_token": None})
    result = run(no_token, "digest", "--channel", "C0TEAM00001")
    assert result.returncode == 1
    assert "SLACK_BOT_TOKEN is not set" in result.stderr


def test_killed_mid_digest_then_rerun_finishes_without_repeats(
    cfg: Settings, slack_fake: Any, engine: Engine
) -> None:
    run(cfg, "follow", "--channel", "C0TEAM00001", "language models")
    paced = cfg.model_copy(update={"slack_channel_interval_seconds": 1.0})
    proc = subprocess.Popen(
        [PAPERBOY, "digest", "--channel", "C0TEAM00001"],
        env={**cli_env(paced), "COLUMNS": "200"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(slack_fake.posted("C0TEAM00001")) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # the second post is recorded; the third is a second away
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert len(slack_fake.posted("C0TEAM00001")) == 2

    rerun = run(cfg, "digest", "--channel", "C0TEAM00001")
    assert rerun.returncode == 0, rerun.stderr
    assert "finished 2 messages of an interrupted digest" in rerun.stdout
    assert posted_papers(slack_fake, "C0TEAM00001") == PAPERS
    assert len(slack_fake.posted("C0TEAM00001")) == 4
    assert [r.position for r in recorded(engine, "C0TEAM00001")] == [0, 1, 2, 3]


def test_killed_after_slack_accepted_a_message_it_had_not_recorded_is_not_repeated(
    cfg: Settings, slack_fake: Any, engine: Engine
) -> None:
    # The narrowest crash: Slack has the third message, the process dies before it hears so.
    run(cfg, "follow", "--channel", "C0TEAM00001", "language models")
    slack_fake.stall_answer("chat.postMessage", after=2, seconds=60)
    proc = subprocess.Popen(
        [PAPERBOY, "digest", "--channel", "C0TEAM00001"],
        env={**cli_env(cfg), "COLUMNS": "200"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(slack_fake.posted("C0TEAM00001")) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    slack_fake.heal()
    assert len(slack_fake.posted("C0TEAM00001")) == 3 and len(recorded(engine, "C0TEAM00001")) == 2

    rerun = run(cfg, "digest", "--channel", "C0TEAM00001")
    assert rerun.returncode == 0, rerun.stderr
    assert "finished 1 message of an interrupted digest" in rerun.stdout
    assert posted_papers(slack_fake, "C0TEAM00001") == PAPERS
    assert len(slack_fake.posted("C0TEAM00001")) == 4
    assert [r.position for r in recorded(engine, "C0TEAM00001")] == [0, 1, 2, 3]


def test_demo_shows_the_digest_writes_its_json_and_posts_it_only_when_asked(
    settings: Settings, slack_fake: Any
) -> None:
    offline = settings.model_copy(update={"paperboy_offline": True})
    shown = run(offline, "demo")
    assert shown.returncode == 0, shown.stderr
    digest = shown.stdout.split("The digest a channel")[-1]
    assert "Paperboy digest" in digest and "Summarize in depth" in digest
    assert "not posted: set SLACK_BOT_TOKEN and PAPERBOY_DEMO_CHANNEL" in shown.stdout
    path = Path(settings.paperboy_data_dir) / "demo_digest.json"
    payloads = json.loads(path.read_text())
    assert len(payloads) >= 2 and all(p["text"] and p["blocks"] for p in payloads)
    assert slack_fake.calls == []

    live = slack_settings(offline, slack_fake, paperboy_demo_channel="CDEMOLIVE")
    posted = run(live, "demo")
    assert posted.returncode == 0, posted.stderr
    assert "posted to CDEMOLIVE" in posted.stdout
    sent = [c.args for c in slack_fake.calls_to("chat.postMessage")]
    assert sent and {a["channel"] for a in sent} == {"CDEMOLIVE"}
    assert json.loads(path.read_text()) == sent  # the file holds exactly what Slack got
    assert len(slack_fake.posted("CDEMOLIVE")) == len(sent)
