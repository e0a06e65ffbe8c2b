"""The CLI does what Slack does: channels given the way people copy them, `channel set`,
`topic remove`, checked categories, `--version`, and a demo that subscribes nothing. Run as
subprocesses against the test database and the fake Slack."""

from __future__ import annotations

import json
from typing import Any

import pytest
from digest_helpers import add_paper, slack_settings
from sqlalchemy import Engine

from app.config import Settings
from app.db.engine import session_scope
from tests.deps import run_cli as run

TEAM = "C0TEAM00002"


def channels(cfg: Settings) -> dict[str, dict[str, Any]]:
    listed = run(cfg, "channels", "--json")
    assert listed.returncode == 0, listed.stderr
    return {c["channel"]: c for c in json.loads(listed.stdout)}


@pytest.fixture
def cfg(settings: Settings, engine: Engine, slack_fake: Any) -> Settings:
    with session_scope(engine) as session:
        add_paper(session, "2501.00001", "Language models that read papers", hf_upvotes=5)
    slack_fake.add_channel(TEAM, "ml-papers")
    return slack_settings(settings, slack_fake)


class TestChannelInput:
    @pytest.mark.parametrize(
        "typed",
        [
            f"https://team.slack.com/archives/{TEAM}",
            f"https://team.slack.com/archives/{TEAM}/p1712345678901234",
            f"<#{TEAM}|ml-papers>",
            "#ml-papers",
            "ml-papers",
        ],
    )
    def test_links_mentions_and_names_become_the_channel_id(self, cfg: Settings, typed: str):
        followed = run(cfg, "follow", "--channel", typed, "language models")
        assert followed.returncode == 0, followed.stderr
        assert followed.stdout.startswith(f"{TEAM} follows language models")
        assert list(channels(cfg)) == [TEAM]

    @pytest.mark.parametrize(
        "typed", ["C123", "c0123456789", "#general", "https://example.com/archives/C0123456789"]
    )
    def test_a_bad_channel_is_refused_and_nothing_is_stored(self, cfg: Settings, typed: str):
        for args in (
            ("follow", "--channel", typed, "language models"),
            ("schedule", "--channel", typed, "0 9 * * 1-5", "America/New_York"),
            ("channel", "set", "--channel", typed, "--max-papers", "5"),
            ("digest", "--channel", typed, "--dry-run"),
        ):
            refused = run(cfg, *args)
            assert refused.returncode == 1, refused.stdout
            [line] = refused.stderr.splitlines()
            assert line.startswith("error: ") and "bottom of the About tab" in line
        assert channels(cfg) == {}

    def test_schedule_takes_a_link_and_an_iana_zone(self, cfg: Settings) -> None:
        link = f"https://team.slack.com/archives/{TEAM}"
        done = run(cfg, "schedule", "--channel", link, "0 9 * * 1-5", "America/New_York")
        assert done.returncode == 0, done.stderr
        assert channels(cfg)[TEAM]["timezone"] == "America/New_York"
        bad = run(cfg, "schedule", "--channel", link, "0 9 * * 1-5", "America/NYC")
        assert bad.returncode == 1 and "isn't a time zone I know" in bad.stderr


class TestChannelSet:
    def test_sets_size_style_quiet_days_and_relevance(self, cfg: Settings) -> None:
        done = run(
            cfg, "channel", "set", "--channel", TEAM, "--max-papers", "5", "--style", "thread",
            "--quiet-days", "on", "--min-relevance", "0.4",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "5 papers a digest, style thread, quiet-day notices on" in done.stdout
        row = channels(cfg)[TEAM]
        assert (row["max_papers"], row["style"], row["quiet_day_notice"]) == (5, "thread", True)
        assert row["min_relevance"] == pytest.approx(0.4)

        off = run(cfg, "channel", "set", "--channel", TEAM, "--quiet-days", "off")
        assert off.returncode == 0, off.stderr
        assert channels(cfg)[TEAM]["quiet_day_notice"] is False
        assert channels(cfg)[TEAM]["max_papers"] == 5  # what was not given is kept

    def test_turns_the_recommendations_section_off_and_on(self, cfg: Settings) -> None:
        off = run(cfg, "channel", "set", "--channel", TEAM, "--recommendations", "off")
        assert off.returncode == 0, off.stderr
        assert "recommendations off" in off.stdout
        assert channels(cfg)[TEAM]["recommendations"] is False
        on = run(cfg, "channel", "set", "--channel", TEAM, "--recommendations", "on")
        assert on.returncode == 0 and channels(cfg)[TEAM]["recommendations"] is True

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            ((), "nothing to change"),
            (("--max-papers", "40"), "between 1 and 25"),
            (("--min-relevance", "2"), "between 0 and 1"),
        ],
    )
    def test_refuses_bad_values_in_one_line(self, cfg: Settings, args: tuple[str, ...], message):
        refused = run(cfg, "channel", "set", "--channel", TEAM, *args)
        assert refused.returncode == 1
        [line] = refused.stderr.splitlines()
        assert message in line


class TestTopics:
    def test_remove_is_refused_while_channels_follow_unless_forced(self, cfg: Settings) -> None:
        run(cfg, "follow", "--channel", TEAM, "language models")
        run(cfg, "follow", "--channel", TEAM, "agents")
        refused = run(cfg, "topic", "remove", "Language", "Models")
        assert refused.returncode == 1
        assert refused.stderr.strip() == (
            f"error: topic 'language models' is followed by {TEAM}: unfollow it there first, "
            "or use --force"
        )
        forced = run(cfg, "topic", "remove", "language models", "--force")
        assert forced.returncode == 0, forced.stderr
        assert f"removed topic 'language models'; {TEAM} no longer follow it" in forced.stdout
        assert channels(cfg)[TEAM]["topics"] == ["agents"]
        listed = run(cfg, "topic", "list")
        assert "language models" not in listed.stdout and "agents" in listed.stdout

    def test_remove_an_unfollowed_topic_and_an_unknown_one(self, cfg: Settings) -> None:
        assert run(cfg, "topic", "add", "agents").returncode == 0
        assert run(cfg, "topic", "remove", "agents").stdout.strip() == "removed topic 'agents'"
        unknown = run(cfg, "topic", "remove", "agents")
        assert (
            unknown.returncode == 1
            and unknown.stderr.strip() == "error: there is no topic 'agents'"
        )

    def test_categories_are_checked_against_arxivs_taxonomy(self, cfg: Settings) -> None:
        refused = run(cfg, "topic", "add", "parsing", "--categories", "cs.CL,foo")
        assert refused.returncode == 1
        assert "'foo' is not an arXiv category" in refused.stderr
        near = run(cfg, "topic", "add", "parsing", "--categories", "cs.CLL")
        assert "did you mean cs.CL?" in near.stderr
        added = run(cfg, "topic", "add", "parsing", "--categories", "cs.cl,stat.ML,hep-th,q-bio.NC")
        assert added.returncode == 0, added.stderr
        assert "in cs.CL,stat.ML,hep-th,q-bio.NC" in added.stdout


def test_version(settings: Settings) -> None:
    shown = run(settings, "--version")
    assert shown.returncode == 0
    assert shown.stdout.startswith("paperboy ") and shown.stdout.split()[1][0].isdigit()


def test_the_demo_leaves_no_subscription_and_nothing_scheduled(
    settings: Settings, slack_fake: Any
) -> None:
    offline = settings.model_copy(update={"paperboy_offline": True})
    assert run(offline, "demo").returncode == 0
    assert channels(offline) == {}  # the preview's placeholder channel is gone

    slack_fake.add_channel(TEAM, "papers-demo")
    live = slack_settings(offline, slack_fake, paperboy_demo_channel="#papers-demo")
    run(live, "follow", "--channel", TEAM, "language models")  # the team's own topic
    posted = run(live, "demo")
    assert posted.returncode == 0, posted.stderr
    assert f"posted to {TEAM}" in posted.stdout
    assert slack_fake.posted(TEAM)
    after = channels(live)
    assert list(after) == [TEAM] and after[TEAM]["topics"] == ["language models"]

    run(live, "unfollow", "--channel", TEAM, "language models")
    again = run(live, "demo")
    assert again.returncode == 0, again.stderr
    after = channels(live)
    assert after[TEAM]["topics"] == [] and after[TEAM]["next_digest"] == "none (no topics)"
