"""The cron rules (app/schedule.py), pure: no database, no Slack.

The first table pins the cases where the two earlier copies of these rules disagreed
(`/papers schedule` and the stored row): each input has one answer now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from app import schedule
from app.errors import UserInputError


class TestWeekdays:
    @pytest.mark.parametrize(
        ("field", "expected"),
        [
            # Where the two old copies disagreed:
            ("mon,1", "mon"),  # duplicates collapse (was "mon" in one, "mon,mon" in the other)
            ("fri-mon", "mon,fri-sun"),  # a range wraps the week (was an error in one)
            ("6-0", "sat,sun"),  # numbers wrap the same way (was "runs backwards" in one)
            ("5-1", "mon,fri-sun"),
            # Crontab numbering: 0 and 7 are Sunday.
            ("0", "sun"),
            ("7", "sun"),
            ("1-5", "mon-fri"),
            ("1-7", "*"),
            ("0-7", "*"),
            ("0-6", "*"),
            ("7-1", "mon,sun"),
            ("5-7", "fri-sun"),
            ("0,6", "sat,sun"),
            ("1,3,5", "mon,wed,fri"),
            ("5,3,1,3", "mon,wed,fri"),
            # Names, ranges of names, steps over ranges.
            ("mon-fri", "mon-fri"),
            ("MON-Fri", "mon-fri"),
            ("sat-sun", "sat,sun"),
            ("monday,friday", "mon,fri"),
            ("*/2", "tue,thu,sat,sun"),
            ("1-5/2", "mon,wed,fri"),
            ("fri-mon/2", "fri,sun"),
            ("*", "*"),
            ("tue,wed,thu,mon", "mon-thu"),
        ],
    )
    def test_weekday_fields_have_one_canonical_form(self, field: str, expected: str) -> None:
        assert schedule.weekdays(field) == expected

    @pytest.mark.parametrize(
        "field", ["8", "mon-9", "funday", "", "mon,", "1/2", "*/0", "L", "5#2"]
    )
    def test_garbage_weekdays_are_refused(self, field: str) -> None:
        with pytest.raises(UserInputError):
            schedule.weekdays(field)

    def test_a_step_without_a_range_says_so(self) -> None:
        with pytest.raises(UserInputError, match="a step needs a range"):
            schedule.weekdays("1/2")

    @pytest.mark.parametrize("field", ["1-5", "fri-mon", "0,6", "*/2", "7"])
    def test_normalising_twice_changes_nothing(self, field: str) -> None:
        once = schedule.weekdays(field)
        assert schedule.weekdays(once) == once


class TestNormalize:
    @pytest.mark.parametrize(
        ("cron", "expected"),
        [
            ("0 9 * * 1-5", "0 9 * * mon-fri"),
            ("30 7 * * 0", "30 7 * * sun"),
            ("00 9 * * 7", "0 9 * * sun"),
            ('"0 9 * * 1,3,5"', "0 9 * * mon,wed,fri"),
            ("0 9 * JAN-MAR *", "0 9 * jan-mar *"),
            ("0 9 * * 0-6", "0 9 * * *"),
            ("  0   9 * *   mon,1 ", "0 9 * * mon"),
        ],
    )
    def test_crontab_lines_are_stored_in_one_form(self, cron: str, expected: str) -> None:
        assert schedule.normalize(cron) == expected

    @pytest.mark.parametrize(
        ("cron", "message"),
        [
            ("0 9 * *", "has 4 fields; cron needs 5"),
            ("0 9 * * * *", "has 6 fields"),
            ("0 9 ? * mon", "`?` isn't cron"),
            ("0 9 * * ?", "`?` isn't cron"),
            ("0 25 * * *", "isn't a valid cron expression"),
            ("0 9 32 * *", "isn't a valid cron expression"),
            ("0 9 * * 8", "weekday `8` isn't 0-7"),
            ("banana", "has 1 field;"),
        ],
    )
    def test_bad_lines_are_one_clear_line(self, cron: str, message: str) -> None:
        with pytest.raises(UserInputError, match=message) as caught:
            schedule.normalize(cron)
        assert "\n" not in str(caught.value)

    def test_user_text_in_a_message_is_never_markup(self) -> None:
        with pytest.raises(UserInputError) as caught:
            schedule.normalize("<!channel> `x` * *")
        assert "<!channel>" not in str(caught.value) and "&lt;!channel&gt;" in str(caught.value)


class TestValidate:
    @pytest.mark.parametrize(
        "cron", ["* * * * *", "*/5 * * * *", "0,30 9 * * *", "0-59 * * * *", "*/30 9 * * 1-5"]
    )
    def test_more_often_than_hourly_is_refused(self, cron: str) -> None:
        with pytest.raises(UserInputError, match="more than once an hour") as caught:
            schedule.validate(cron)
        assert "\n" not in str(caught.value)

    @pytest.mark.parametrize(
        ("cron", "expected"),
        [
            ("0 * * * *", "0 * * * *"),  # hourly is the most allowed
            ("15 9,17 * * 1-5", "15 9,17 * * mon-fri"),
            ("0 9 1 * *", "0 9 1 * *"),
        ],
    )
    def test_hourly_and_slower_is_accepted(self, cron: str, expected: str) -> None:
        assert schedule.validate(cron, "Europe/Berlin") == expected

    def test_day_of_month_with_weekdays_is_refused(self) -> None:
        # crontab fires on either, APScheduler only on both: the line would not mean what it says.
        with pytest.raises(UserInputError, match="both the day of the month and the weekday"):
            schedule.validate("0 9 1 * mon")

    def test_unknown_time_zones_are_refused(self) -> None:
        with pytest.raises(UserInputError, match="isn't a time zone I know"):
            schedule.validate("0 9 * * *", "Mars/Olympus")


class TestFireTimes:
    def test_weekdays_fire_monday_to_friday_in_their_zone(self) -> None:
        berlin = ZoneInfo("Europe/Berlin")
        fires = []
        after = datetime(2025, 3, 8, tzinfo=berlin)  # a Saturday
        for _ in range(6):
            fire = schedule.next_fire_time("0 9 * * 1-5", "Europe/Berlin", after=after)
            assert fire is not None
            fires.append(fire)
            after = fire + timedelta(seconds=1)
        assert [f.strftime("%a %H:%M") for f in fires] == [
            "Mon 09:00", "Tue 09:00", "Wed 09:00", "Thu 09:00", "Fri 09:00", "Mon 09:00",
        ]  # fmt: skip
        assert fires[0].astimezone(UTC) == datetime(2025, 3, 10, 8, 0, tzinfo=UTC)

    def test_sunday_as_0_and_7_fires_on_sunday(self) -> None:
        saturday = datetime(2025, 3, 8, 12, tzinfo=UTC)
        for cron in ("0 9 * * 0", "0 9 * * 7", "0 9 * * sun"):
            fire = schedule.next_fire_time(cron, "UTC", after=saturday)
            assert fire == datetime(2025, 3, 9, 9, tzinfo=UTC)

    def test_a_wrapping_range_fires_over_the_weekend(self) -> None:
        thursday = datetime(2025, 3, 6, 12, tzinfo=UTC)
        days, after = [], thursday
        for _ in range(5):
            fire = schedule.next_fire_time("0 9 * * fri-mon", "UTC", after=after)
            assert fire is not None
            days.append(fire.strftime("%a"))
            after = fire + timedelta(seconds=1)
        assert days == ["Fri", "Sat", "Sun", "Mon", "Fri"]

    def test_latest_fire_time_is_the_last_slot_at_or_before_now(self) -> None:
        every_minute = CronTrigger(minute="*", second=0, timezone=UTC)
        now = datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC)
        assert schedule.latest_fire_time(every_minute, now=now, within=timedelta(days=1)) == (
            datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
        )
        exactly = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
        assert schedule.latest_fire_time(every_minute, now=exactly, within=timedelta(hours=1)) == (
            exactly
        )

    def test_latest_fire_time_looks_back_as_far_as_allowed_and_no_further(self) -> None:
        weekdays = schedule.trigger("0 9 * * 1-5", "Europe/Berlin")
        monday_noon = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)  # 12:00 in Berlin
        nine_berlin = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
        assert schedule.latest_fire_time(weekdays, now=monday_noon, within=timedelta(hours=12)) == (
            nine_berlin
        )
        assert (
            schedule.latest_fire_time(weekdays, now=monday_noon, within=timedelta(hours=2)) is None
        )
        sunday = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)  # Friday's digest is two days back
        assert schedule.latest_fire_time(weekdays, now=sunday, within=timedelta(hours=12)) is None
        friday_nine = datetime(2026, 2, 27, 8, 0, tzinfo=UTC)
        assert schedule.latest_fire_time(weekdays, now=sunday, within=timedelta(days=64)) == (
            friday_nine
        )

    def test_a_stored_line_from_before_the_hourly_limit_still_runs(self) -> None:
        assert schedule.trigger("* * * * *", "UTC") is not None
