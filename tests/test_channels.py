"""Channel subscriptions: follow/unfollow, schedules with crontab semantics, settings."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from app.db import channels
from app.errors import UserInputError
from app.topics import follow


class TestFollow:
    def test_first_follow_creates_channel_with_default_schedule_and_topic(
        self, session: Session
    ) -> None:
        channel, topic, created = follow(
            session, channel_id="C1", topic_name="retrieval augmented generation",
            timezone="Europe/Berlin",
        )  # fmt: skip
        assert created is True
        assert topic.name == "retrieval augmented generation"
        assert (channel.cron, channel.timezone) == ("0 9 * * mon-fri", "Europe/Berlin")
        assert (channel.max_papers, channel.style) == (8, "messages")
        assert [t.name for t in channels.channel_topics(session, channel_id="C1")] == [
            "retrieval augmented generation"
        ]

    def test_following_twice_or_from_another_channel_reuses_the_topic(
        self, session: Session
    ) -> None:
        follow(session, channel_id="C1", topic_name="agents")
        _, topic_again, created_again = follow(session, channel_id="C1", topic_name="agents")
        _, topic_other, created_other = follow(session, channel_id="C2", topic_name="agents")
        assert not created_again and not created_other
        assert topic_again.id == topic_other.id
        assert len(channels.channel_topics(session, channel_id="C1")) == 1
        assert set(channels.topics_by_channel(session)) == {"C1", "C2"}

    def test_unfollow(self, session: Session) -> None:
        follow(session, channel_id="C1", topic_name="agents")
        assert channels.unfollow(session, channel_id="C1", topic_name="agents") is True
        assert channels.unfollow(session, channel_id="C1", topic_name="agents") is False
        assert channels.unfollow(session, channel_id="C1", topic_name="never heard of") is False
        assert channels.channel_topics(session, channel_id="C1") == []

    def test_blank_names_are_refused(self, session: Session) -> None:
        with pytest.raises(UserInputError, match="topic name"):
            follow(session, channel_id="C1", topic_name="   ")
        with pytest.raises(UserInputError, match="channel id"):
            follow(session, channel_id=" ", topic_name="agents")


class TestSchedule:
    """The rules themselves are tests/test_schedule.py; here: what a channel's row keeps."""

    def test_the_stored_schedule_is_the_normalised_line_in_its_zone(self, session: Session) -> None:
        channel = channels.set_schedule(
            session, channel_id="C1", cron="0 9 * * 1-5", timezone="Europe/Berlin"
        )
        assert (channel.cron, channel.timezone) == ("0 9 * * mon-fri", "Europe/Berlin")

    def test_without_a_zone_the_channels_own_zone_is_kept(self, session: Session) -> None:
        channels.set_schedule(session, channel_id="C1", cron="0 9 * * *", timezone="Asia/Tokyo")
        channel = channels.set_schedule(session, channel_id="C1", cron="0 7 * * 0", timezone=None)
        assert (channel.cron, channel.timezone) == ("0 7 * * sun", "Asia/Tokyo")
        new = channels.set_schedule(
            session, channel_id="C2", cron="0 7 * * 0", timezone=None,
            default_timezone="America/New_York",
        )  # fmt: skip
        assert new.timezone == "America/New_York"

    @pytest.mark.parametrize(
        ("cron", "tz", "message"),
        [
            ("0 9 * *", "UTC", "cron needs 5"),
            ("0 25 * * *", "UTC", "isn't a valid cron expression"),
            ("0 9 * * 9", "UTC", "weekday `9`"),
            ("*/5 * * * *", "UTC", "more than once an hour"),
            ("0 9 * * 1-5", "Mars/Olympus", "isn't a time zone I know"),
        ],
    )
    def test_bad_schedules_are_one_clear_line_and_change_nothing(
        self, session: Session, cron: str, tz: str, message: str
    ) -> None:
        with pytest.raises(UserInputError, match=message):
            channels.set_schedule(session, channel_id="C1", cron=cron, timezone=tz)
        assert channels.get_channel(session, channel_id="C1") is None


class TestSettings:
    def test_update_channel_validates(self, session: Session) -> None:
        follow(session, channel_id="C1", topic_name="agents")
        channel = channels.update_channel(
            session, channel_id="C1", max_papers=3, style="thread", quiet_day_notice=True,
            min_relevance=0.4, include_trending=False,
        )  # fmt: skip
        assert (channel.max_papers, channel.style, channel.quiet_day_notice) == (3, "thread", True)
        assert (channel.min_relevance, channel.include_trending) == (0.4, False)
        for bad in ({"max_papers": 0}, {"style": "carrier pigeon"}, {"min_relevance": 2},
                    {"colour": "blue"}):  # fmt: skip
            with pytest.raises(UserInputError):
                channels.update_channel(session, channel_id="C1", **bad)

    def test_list_channels(self, session: Session) -> None:
        follow(session, channel_id="C2", topic_name="agents")
        follow(session, channel_id="C1", topic_name="rag")
        assert [c.channel_id for c in channels.list_channels(session)] == ["C1", "C2"]
