"""Digest schedules: the one place for cron rules. A leaf: no database, no Slack.

A channel's schedule is a 5-field crontab line plus an IANA time zone. Everything that reads or
writes one goes through here: the CLI (`paperboy schedule`), `/papers schedule`, the settings
modal, the stored row (app/db/channels.py) and the scheduler's digest tick.

The rules, as crontab(5) has them:
- Weekdays count 0 (and 7) as Sunday. APScheduler's `from_crontab` counts 0 as Monday, so the
  weekday field is stored by name ("1-5" -> "mon-fri"), which both read the same way.
- A weekday range may wrap the week ("fri-mon" = fri,sat,sun,mon); duplicates collapse; the
  stored field is written Monday first ("0,6" -> "sat,sun", every day -> "*").
- A step needs a range or `*` ("1-5/2", "*/2"), as in cron itself.
- Quartz's `?` and anything else cron would not read is refused with one line saying why.
And Paperboy's own rules for what people type (`validate`):
- At most one digest an hour: the minute is one number, so `*/5 * * * *` is refused.
- Day of month and weekday are not both restricted: crontab fires when either matches, APScheduler
  only when both do, so such a line would not mean what it says.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from app.errors import UserInputError
from app.safety import escape_mrkdwn

DEFAULT_CRON = "0 9 * * mon-fri"
# What a cron line is, for hints next to an input (the settings modal, CLI help).
CRON_HINT = 'minute hour day month weekday, e.g. "0 9 * * 1-5" = weekdays at 09:00'

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # index = crontab number
_FULL_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONDAY_FIRST = (1, 2, 3, 4, 5, 6, 0)  # the order a stored weekday field is written in


def check_timezone(name: str) -> ZoneInfo:
    """The zone for an IANA name; UserInputError (the line Slack and the CLI show) otherwise."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserInputError(
            f"`{_shown(name)}` isn't a time zone I know. Use an IANA name like Europe/Berlin."
        ) from None


def validate(cron: str, timezone: str | None = None) -> str:
    """Check a schedule someone typed (and its zone, when given); return the cron to store.

    Everything `normalize` checks, plus Paperboy's own limits (at most hourly, no day-of-month
    together with weekdays). Raises UserInputError with one line for the user.
    """
    if timezone is not None:
        check_timezone(timezone)
    normalised = normalize(cron)
    minute, _hour, day, _month, weekday = normalised.split()
    if not minute.isdigit():
        raise UserInputError(
            f"`{_shown(cron)}` would post more than once an hour; digests post at most hourly, "
            "so give one minute, like `0 9 * * 1-5`."
        )
    if day != "*" and weekday != "*":
        raise UserInputError(
            f"`{_shown(cron)}` restricts both the day of the month and the weekday; "
            "use one of them (e.g. `0 9 1 * *` or `0 9 * * mon`)."
        )
    return normalised


def normalize(cron: str) -> str:
    """A crontab line in its stored form: lower case, weekdays by name, minute as a number.

    Raises UserInputError for anything cron would not read. Stored schedules go through this
    again when a trigger is built, so it must stay idempotent.
    """
    fields = cron.strip().strip("\"'").lower().split()
    if len(fields) != 5:
        raise UserInputError(
            f"`{_shown(cron)}` has {len(fields)} field{'s' if len(fields) != 1 else ''}; "
            "cron needs 5: minute hour day month weekday, like `0 9 * * 1-5`."
        )
    if any("?" in field for field in fields):
        raise UserInputError(f"`{_shown(cron)}`: `?` isn't cron; use `*` for any value.")
    if fields[0].isdigit():
        fields[0] = str(int(fields[0]))
    fields[4] = weekdays(fields[4])
    text = " ".join(fields)
    try:
        CronTrigger.from_crontab(text, timezone=UTC)
    except ValueError as exc:
        raise UserInputError(f"`{_shown(cron)}` isn't a valid cron expression: {exc}.") from None
    return text


def weekdays(field: str) -> str:
    """A crontab weekday field in its stored form: "1-5" -> "mon-fri", "fri-mon" ->
    "mon,fri-sun", "mon,1" -> "mon", every day -> "*". Raises UserInputError."""
    days: set[int] = set()
    for item in field.lower().split(","):
        days |= _weekday_item(item)
    if len(days) == 7:
        return "*"
    runs: list[list[int]] = []
    for day in (d for d in _MONDAY_FIRST if d in days):
        if runs and _MONDAY_FIRST.index(runs[-1][-1]) + 1 == _MONDAY_FIRST.index(day):
            runs[-1].append(day)
        else:
            runs.append([day])
    names = [[DAY_NAMES[d] for d in run] for run in runs]
    return ",".join(f"{run[0]}-{run[-1]}" if len(run) > 2 else ",".join(run) for run in names)


def _weekday_item(item: str) -> set[int]:
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) < 1:
            raise UserInputError(f"weekday step `{_shown(step_text)}` must be a whole number ≥ 1.")
        step = int(step_text)
    if base == "*":
        sequence = list(range(7))
    elif "-" in base:
        first_text, _, last_text = base.partition("-")
        first, last = _day(first_text), _day(last_text)
        # Walk forward from `first` to `last`, wrapping past Saturday; 0-7 is the whole week.
        length = 8 if first != last and first % 7 == last % 7 else (last - first) % 7 + 1
        sequence = [(first + i) % 7 for i in range(length)]
    elif slash:
        raise UserInputError(
            f"weekday `{_shown(item)}`: a step needs a range, like `1-5/2` or `*/2`."
        )
    else:
        sequence = [_day(base)]
    return {day % 7 for day in sequence[::step]}


def _day(token: str) -> int:
    if token in DAY_NAMES:
        return DAY_NAMES.index(token)
    if token in _FULL_NAMES:
        return _FULL_NAMES.index(token)
    if token.isdigit() and int(token) <= 7:
        return int(token)
    raise UserInputError(
        f"weekday `{_shown(token)}` isn't 0-7 (0 and 7 are Sunday) or a day name like mon."
    )


@functools.lru_cache(maxsize=1024)  # the digest tick asks for every channel every minute
def trigger(cron: str, timezone: str) -> CronTrigger:
    """The APScheduler trigger for a schedule; UserInputError when it is not a valid one.

    Only `normalize`'s rules apply, not `validate`'s, so a row stored before a limit existed
    still runs.
    """
    return CronTrigger.from_crontab(normalize(cron), timezone=check_timezone(timezone))


def next_fire_time(cron: str, timezone: str, *, after: datetime) -> datetime | None:
    """The schedule's next time after `after`, in the schedule's own zone (None: never)."""
    return trigger(cron, timezone).get_next_fire_time(None, after)


def latest_fire_time(job: BaseTrigger, *, now: datetime, within: timedelta) -> datetime | None:
    """The trigger's latest fire time in (now - within, now], in UTC; None when it did not fire.

    Every caller gets the same answer for the same `now` whatever its start-up delay, which is
    what makes a run's slot a real key (job_runs, digest_runs).
    """
    # Look back in widening windows: a dense trigger is settled in the first, a daily one a few
    # windows later, and neither walks hours of slots one by one.
    window = min(timedelta(minutes=2), within)
    while True:
        fire = job.get_next_fire_time(None, now - window)
        if fire is not None and fire <= now:
            latest = fire
            while fire is not None and fire <= now:
                latest = fire
                fire = job.get_next_fire_time(fire, fire + timedelta(microseconds=1))
            return latest.astimezone(UTC) if latest > now - within else None
        if window >= within:
            return None
        window = min(window * 4, within)


def _shown(text: str, limit: int = 60) -> str:
    """User text echoed back: short, and never markup (no mentions, no links)."""
    text = text.replace("`", "'")
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return escape_mrkdwn(text)
