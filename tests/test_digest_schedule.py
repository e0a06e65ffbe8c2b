"""Scheduled digests: each channel's cron in its own time zone, posted once per slot."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from digest_helpers import add_paper, posted_papers, runs, slack_settings
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import channels
from app.db.engine import session_scope
from app.digest import due_channels, run_due_digests
from app.scheduler import build_scheduler, job_specs
from app.slack.poster import SlackPoster, make_web_client
from app.sources import build_sources
from app.topics import follow
from tests.deps import embedder

# Monday 10 March 2025, 09:00 in Berlin (CET, UTC+1) is 08:00 UTC.
BERLIN_NINE = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)


def berlin_channel(session: Session, channel_id: str = "CBERLIN") -> None:
    follow(session, channel_id=channel_id, topic_name="language models")
    channels.set_schedule(
        session, channel_id=channel_id, cron="0 9 * * 1-5", timezone="Europe/Berlin"
    )


class TestDueChannels:
    def test_due_at_nine_in_the_channels_zone_not_utc(self, session: Session) -> None:
        berlin_channel(session)
        at = {
            "07:59Z": BERLIN_NINE - timedelta(minutes=1),
            "08:00Z": BERLIN_NINE,
            "08:30Z": BERLIN_NINE + timedelta(minutes=30),
            "09:00Z": BERLIN_NINE + timedelta(hours=1),
            "20:01Z": BERLIN_NINE + timedelta(hours=12, minutes=1),
        }
        due = {k: [(d.channel_id, d.scheduled_for) for d in due_channels(session, now=v)]
               for k, v in at.items()}  # fmt: skip
        assert due["07:59Z"] == []  # Sunday 09:00 is not a weekday
        assert due["08:00Z"] == [("CBERLIN", BERLIN_NINE)]
        assert due["08:30Z"] == [("CBERLIN", BERLIN_NINE)]  # late scheduler: still today's slot
        assert due["09:00Z"] == [("CBERLIN", BERLIN_NINE)]  # a late digest beats a silent day
        assert due["20:01Z"] == []  # past the 12-hour grace window

    def test_summer_time_moves_the_utc_instant(self, session: Session) -> None:
        berlin_channel(session)
        summer_nine = datetime(2025, 7, 7, 7, 0, tzinfo=UTC)  # CEST, UTC+2
        assert [d.scheduled_for for d in due_channels(session, now=summer_nine)] == [summer_nine]
        assert due_channels(session, now=summer_nine + timedelta(hours=12, minutes=1)) == []

    def test_weekends_channels_without_topics_and_paused_channels_are_not_due(
        self, session: Session
    ) -> None:
        berlin_channel(session)
        saturday = datetime(2025, 3, 8, 8, 0, tzinfo=UTC)
        assert due_channels(session, now=saturday) == []
        channels.set_schedule(session, channel_id="CEMPTY", cron="0 9 * * *", timezone="UTC")
        channels.update_channel(session, channel_id="CBERLIN", active=False)
        assert due_channels(session, now=BERLIN_NINE) == []


def test_scheduled_digest_posts_once_at_its_local_time(
    settings: Settings, engine: Engine, slack_fake: Any
) -> None:
    s = slack_settings(settings, slack_fake)
    client = make_web_client(s)
    with session_scope(engine) as session:
        berlin_channel(session)
        add_paper(session, "2503.00001", "Language models in Berlin")
    assert run_due_digests(s, engine, SlackPoster(client), BERLIN_NINE - timedelta(minutes=1)) == []
    [result] = run_due_digests(s, engine, SlackPoster(client), BERLIN_NINE)
    assert (result.status, result.scheduled_for) == ("posted", BERLIN_NINE)
    assert run_due_digests(s, engine, SlackPoster(client), BERLIN_NINE + timedelta(minutes=1)) == []
    assert posted_papers(slack_fake, "CBERLIN") == ["2503.00001"]
    header = slack_fake.posted("CBERLIN")[0]
    assert "Mon 10 Mar 2025" in header["blocks"][0]["text"]["text"]


def test_running_schedulers_post_a_digest_once_at_the_channels_local_minute(
    settings: Settings, engine: Engine, db_url: str, slack_fake: Any
) -> None:
    """The real scheduler drives it: two replicas run Paperboy's digest job (ticking every second
    instead of every minute, so the test does not wait); a channel in Asia/Kolkata (UTC+05:30)
    whose cron names the current local minute gets its digest once; a UTC channel with the same
    cron does not (for it that minute is 5.5 hours away)."""
    s = slack_settings(settings, slack_fake)
    client = make_web_client(s)
    local = datetime.now(ZoneInfo("Asia/Kolkata")).replace(second=0, microsecond=0)
    cron = f"{local.minute} {local.hour} * * *"
    with session_scope(engine) as session:
        for channel_id, zone in (("CKOLKATA", "Asia/Kolkata"), ("CUTC", "UTC")):
            follow(session, channel_id=channel_id, topic_name="language models")
            channels.set_schedule(session, channel_id=channel_id, cron=cron, timezone=zone)
        add_paper(session, "2503.00002", "Language models in Kolkata")
    digest = next(
        spec
        for spec in job_specs(s, engine, SlackPoster(client), build_sources(s), embedder())
        if spec.id == "digest"
    )
    every_second = dataclasses.replace(digest, trigger=CronTrigger(second="*", timezone=UTC))
    other = create_engine(db_url)  # the second replica's own pool
    replicas = [
        build_scheduler(engine, [every_second], owner="a"),
        build_scheduler(other, [every_second], owner="b"),
    ]
    try:
        for replica in replicas:
            replica.start()
        deadline = time.monotonic() + 20
        while len(slack_fake.posted("CKOLKATA")) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.5)  # a few more ticks on both replicas: nothing may be posted again
    finally:
        for replica in replicas:
            replica.shutdown(wait=True)
        other.dispose()
    assert posted_papers(slack_fake, "CKOLKATA") == ["2503.00002"]
    header = slack_fake.posted("CKOLKATA")[0]
    assert local.strftime("%a %d %b %Y") in header["blocks"][0]["text"]["text"]
    assert len(slack_fake.posted("CKOLKATA")) == 2
    assert slack_fake.posted("CUTC") == []
    [run] = runs(engine, "CKOLKATA")
    assert run.scheduled_for == local.astimezone(UTC)
