"""Schedules of ``shoal daemon`` jobs: durations, every, cron (fields, DOM/DOW, DST), jitter."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.engine._schedule import (
    Cron,
    Every,
    ScheduleError,
    jitter_for,
    parse_duration,
    parse_schedule,
    runs_between,
)
from shoal.engine.errors import UsageError


def _t(text: str) -> datetime:
    """An aware instant from ISO text; a bare time means UTC."""
    t = datetime.fromisoformat(text)
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("2d", 172800.0),
        ("500ms", 0.5),
        ("1.5h", 5400.0),
        (".5s", 0.5),
        (" 10s ", 10.0),
        ("1d2h3m4s5ms", 86400 + 7200 + 180 + 4 + 0.005),
        ("0.001s", 0.001),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty duration"),
        ("   ", "empty duration"),
        ("15", "'15' needs a unit"),
        ("1h30", "'30' needs a unit"),
        ("15x", "unknown unit 'x'"),
        ("1H", "unknown unit 'H'"),
        ("2w", "unknown unit 'w'"),
        ("0s", "must be greater than zero"),
        ("0h0m", "must be greater than zero"),
        ("-5m", "expected numbers with units"),
        ("1 h", "'1' needs a unit"),
        ("1e3s", "unknown unit 'e'"),
        ("abc", "expected numbers with units"),
        ("30m1h", "largest to smallest"),
        ("1h1h", "largest to smallest"),
    ],
)
def test_parse_duration_refuses(text: str, reason: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(reason)) as info:
        parse_duration(text)
    assert "\n" not in str(info.value)


# --- every ------------------------------------------------------------------------------------


def test_every_is_anchored_at_the_epoch() -> None:
    fifteen = Every(900)
    assert fifteen.next_after(_t("2024-05-06T10:07:13.5")) == _t("2024-05-06T10:15")
    # Strictly after: a run instant gives the one after it.
    assert fifteen.next_after(_t("2024-05-06T10:15")) == _t("2024-05-06T10:30")
    assert fifteen.next_after(_t("2024-05-06T10:59:59.999999")) == _t("2024-05-06T11:00")
    assert Every(86400).next_after(_t("2024-05-06T10:00")) == _t("2024-05-07T00:00")
    # A period that does not divide the hour lands on multiples since 1970, not per hour.
    seven = Every(420)
    assert seven.next_after(_t("1970-01-01T00:00")) == _t("1970-01-01T00:07")
    nxt = seven.next_after(_t("2024-05-06T10:00"))
    assert (nxt - _t("1970-01-01T00:00")) % timedelta(minutes=7) == timedelta(0)
    assert timedelta(0) < nxt - _t("2024-05-06T10:00") <= timedelta(minutes=7)
    assert Every(0.5).next_after(_t("2024-05-06T10:00:00.25")) == _t("2024-05-06T10:00:00.5")


def test_every_takes_any_zone_and_answers_in_utc() -> None:
    nxt = Every(3600).next_after(_t("2024-05-06T12:30+05:30"))  # 07:00 UTC
    assert nxt == _t("2024-05-06T08:00") and nxt.tzinfo is UTC


def test_every_refuses_bad_periods_and_naive_times() -> None:
    for bad in (0.0, -1.0, float("inf"), float("nan"), 1e-9):
        with pytest.raises(ScheduleError):
            Every(bad)
    with pytest.raises(ValueError, match="timezone-aware"):
        Every(60).next_after(datetime(2024, 1, 1))


@given(
    seconds=st.floats(min_value=0.001, max_value=10 * 86400),
    t=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)),
)
@settings(max_examples=200, deadline=None, derandomize=True, database=None)
def test_every_property(seconds: float, t: datetime) -> None:
    t = t.replace(tzinfo=UTC)
    every = Every(seconds)
    nxt = every.next_after(t)
    period = timedelta(microseconds=round(seconds * 1_000_000))
    assert t < nxt <= t + period
    assert (nxt - datetime(1970, 1, 1, tzinfo=UTC)) % period == timedelta(0)


# --- cron: parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 25 * * *", "cron field 2 (hour): 25 is out of range 0-23"),
        ("60 * * * *", "cron field 1 (minute): 60 is out of range 0-59"),
        ("* * 0 * *", "cron field 3 (day-of-month): 0 is out of range 1-31"),
        ("* * 32 * *", "cron field 3 (day-of-month): 32 is out of range 1-31"),
        ("* * * 13 *", "cron field 4 (month): 13 is out of range 1-12"),
        ("* * * 0 *", "cron field 4 (month): 0 is out of range 1-12"),
        ("* * * * 8", "cron field 5 (day-of-week): 8 is out of range 0-7"),
        ("* * * foo *", "cron field 4 (month): unknown month 'foo'"),
        ("* * * * funday", "cron field 5 (day-of-week): unknown day 'funday'"),
        ("* * * * monday", "cron field 5 (day-of-week): unknown day 'monday'"),
        ("jan * * * *", "cron field 1 (minute): unknown name 'jan' (names are allowed only in"),
        ("* * * mon *", "cron field 4 (month): unknown month 'mon'"),
        ("*/0 * * * *", "cron field 1 (minute): step must be at least 1"),
        ("*/x * * * *", "cron field 1 (minute): step 'x' is not a number"),
        ("*/ * * * *", "cron field 1 (minute): step '' is not a number"),
        ("10-5 * * * *", "cron field 1 (minute): range '10-5' goes backwards"),
        ("* * * * fri-mon", "cron field 5 (day-of-week): range 'fri-mon' goes backwards"),
        ("1,,2 * * * *", "cron field 1 (minute): empty list item in '1,,2'"),
        ("5- * * * *", "cron field 1 (minute): a number is missing"),
        ("-5 * * * *", "cron field 1 (minute): a number is missing"),
        ("1.5 * * * *", "cron field 1 (minute): '1.5' is not a number"),
        ("? * * * *", "cron field 1 (minute): '?' is not a number"),
        ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
        ("0 * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 6"),
        ("", "expected 5 fields"),
        ("@reboot", "cron: unknown macro '@reboot'"),
        ("@every 5m", "cron: unknown macro '@every 5m'"),
        ("0 0 30 2 *", "cron '0 0 30 2 *' never runs"),
        ("0 0 31 2,4,6,9,11 *", "never runs"),
        ("0 0 30,31 feb *", "never runs"),
    ],
)
def test_cron_refuses_with_a_message(expr: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(message)) as info:
        Cron(expr)
    assert "\n" not in str(info.value)
    # A usage error: the CLI prints it on one line and exits 2.
    assert isinstance(info.value, ValueError) and isinstance(info.value, UsageError)


@pytest.mark.parametrize(
    "expr",
    [
        "0 0 29 2 *",  # leap years only
        "0 0 31 2 mon",  # both restricted: any Monday in February
        "0 0 */30 2 mon",  # day-of-month starts with '*': 1 February on a Monday, years apart
        "0 0 * * 7",
        "0 0 * * mon-sun",
        "@annually",
        "@MIDNIGHT",
    ],
)
def test_cron_accepts(expr: str) -> None:
    Cron(expr)


def test_cron_refuses_unknown_time_zones() -> None:
    for tz in ("Mars/Base", "Europe", "", "/etc/passwd", "europe/berlin"):
        with pytest.raises(ScheduleError, match="unknown time zone"):
            Cron("* * * * *", tz)


# --- cron: next run ---------------------------------------------------------------------------

# (expression, tz, after, expected next run); offsets in the ISO text say which wall clock.
_NEXT: list[tuple[str, str | None, str, str]] = [
    # basics and strictness
    ("* * * * *", None, "2024-01-01T00:00", "2024-01-01T00:01"),
    ("* * * * *", None, "2024-01-01T00:00:30", "2024-01-01T00:01"),
    ("* * * * *", None, "2024-12-31T23:59:59.999999", "2025-01-01T00:00"),
    ("0 0 * * *", None, "2024-12-31T23:59", "2025-01-01T00:00"),
    ("59 23 31 12 *", None, "2024-12-31T23:59", "2025-12-31T23:59"),
    ("30 9 * * *", None, "2024-06-01T12:00+05:30", "2024-06-01T09:30"),  # 06:30 UTC
    # steps
    ("*/15 * * * *", None, "2024-01-01T10:14:59", "2024-01-01T10:15"),
    ("*/15 * * * *", None, "2024-01-01T10:15", "2024-01-01T10:30"),
    ("*/15 * * * *", None, "2024-01-01T10:59", "2024-01-01T11:00"),
    ("1-10/3 * * * *", None, "2024-01-01T10:04", "2024-01-01T10:07"),
    ("1-10/3 * * * *", None, "2024-01-01T10:10", "2024-01-01T11:01"),
    ("5/20 * * * *", None, "2024-01-01T10:45", "2024-01-01T11:05"),
    ("0 */6 * * *", None, "2024-01-01T05:00", "2024-01-01T06:00"),
    ("0 */6 * * *", None, "2024-01-01T18:00", "2024-01-02T00:00"),
    ("0 0 */10 * *", None, "2024-01-21T00:00", "2024-01-31T00:00"),
    ("0 0 */10 * *", None, "2024-01-31T00:00", "2024-02-01T00:00"),
    ("0 0 1 */4 *", None, "2024-02-01T00:00", "2024-05-01T00:00"),
    ("0,30 8-9 * * *", None, "2024-01-01T09:30", "2024-01-02T08:00"),
    # month ends
    ("0 0 31 * *", None, "2024-01-31T00:00", "2024-03-31T00:00"),
    ("0 0 31 * *", None, "2024-03-31T00:00", "2024-05-31T00:00"),
    ("0 0 30 * *", None, "2024-01-30T00:00", "2024-03-30T00:00"),
    ("0 0 28-31 2 *", None, "2023-02-28T00:00", "2024-02-28T00:00"),
    # leap years: 2100 is not one
    ("0 0 29 2 *", None, "2023-06-01T00:00", "2024-02-29T00:00"),
    ("0 0 29 2 *", None, "2024-02-29T00:00", "2028-02-29T00:00"),
    ("0 0 29 2 *", None, "2096-03-01T00:00", "2104-02-29T00:00"),
    # day-of-month OR day-of-week when both are restricted (September 2024 starts on a Sunday)
    ("0 0 13 * fri", None, "2024-09-01T00:00", "2024-09-06T00:00"),
    ("0 0 13 * fri", None, "2024-09-06T00:00", "2024-09-13T00:00"),
    ("0 0 13 * fri", None, "2024-09-13T00:00", "2024-09-20T00:00"),
    ("0 0 1 * mon", None, "2024-01-01T00:00", "2024-01-08T00:00"),
    ("0 0 1 * mon", None, "2024-01-29T00:00", "2024-02-01T00:00"),
    ("0 0 31 * mon", None, "2024-01-29T00:00", "2024-01-31T00:00"),
    ("0 0 1-31 * mon", None, "2024-01-02T00:00", "2024-01-03T00:00"),  # restricted: every day
    # ... AND when one starts with '*' (Vixie): odd days that are Mondays (January 2024)
    ("0 0 */2 * mon", None, "2024-01-01T00:00", "2024-01-15T00:00"),
    ("0 0 * * mon", None, "2024-01-01T00:00", "2024-01-08T00:00"),
    ("0 0 13 * *", None, "2024-01-13T00:00", "2024-02-13T00:00"),
    ("0 0 13 * */1", None, "2024-01-13T00:00", "2024-02-13T00:00"),
    # names, any case; 0 and 7 are Sunday (2024-01-01 is a Monday)
    ("0 9 * jan,JUL Mon-Fri", None, "2024-02-01T00:00", "2024-07-01T09:00"),
    ("0 0 * * SUN", None, "2024-01-01T00:00", "2024-01-07T00:00"),
    ("0 0 * * 7", None, "2024-01-01T00:00", "2024-01-07T00:00"),
    ("0 0 * * 0", None, "2024-01-01T00:00", "2024-01-07T00:00"),
    ("0 0 * * 5-7", None, "2024-01-01T00:00", "2024-01-05T00:00"),
    ("0 0 * * 6-7", None, "2024-01-06T00:00", "2024-01-07T00:00"),
    ("0 0 * * fri-sun", None, "2024-01-06T00:00", "2024-01-07T00:00"),
    ("0 0 * * sat-7", None, "2024-01-07T00:00", "2024-01-13T00:00"),
    ("0 0 * * mon-sun", None, "2024-01-01T00:00", "2024-01-02T00:00"),
    ("0 0 * * sun-sun", None, "2024-01-01T00:00", "2024-01-07T00:00"),
    ("0 0 * * 0-sun", None, "2024-01-01T00:00", "2024-01-07T00:00"),
    ("0 0 1 dec-DEC *", None, "2024-01-01T00:00", "2024-12-01T00:00"),
    # macros
    ("@hourly", None, "2024-01-01T10:30", "2024-01-01T11:00"),
    ("@daily", None, "2024-01-01T10:30", "2024-01-02T00:00"),
    ("@midnight", None, "2024-01-01T10:30", "2024-01-02T00:00"),
    ("@weekly", None, "2024-01-01T00:00", "2024-01-07T00:00"),
    ("@monthly", None, "2024-01-15T00:00", "2024-02-01T00:00"),
    ("@yearly", None, "2024-01-01T00:00", "2025-01-01T00:00"),
    ("@annually", None, "2023-12-31T23:59", "2024-01-01T00:00"),
    # time zones without DST in play
    ("0 9 * * *", "Europe/Berlin", "2024-01-15T12:00+01:00", "2024-01-16T09:00+01:00"),
    ("0 9 * * *", "Asia/Kolkata", "2024-01-15T00:00", "2024-01-15T09:00+05:30"),
    ("0 0 * * *", "America/New_York", "2024-01-01T04:59", "2024-01-01T00:00-05:00"),
    # DST, Berlin, spring forward 2024-03-31: 02:00 CET -> 03:00 CEST
    ("30 2 * * *", "Europe/Berlin", "2024-03-30T12:00+01:00", "2024-03-31T03:00+02:00"),
    ("30 2 * * *", "Europe/Berlin", "2024-03-31T03:00+02:00", "2024-04-01T02:30+02:00"),
    ("0 3 * * *", "Europe/Berlin", "2024-03-30T12:00+01:00", "2024-03-31T03:00+02:00"),
    ("*/15 * * * *", "Europe/Berlin", "2024-03-31T01:45+01:00", "2024-03-31T03:00+02:00"),
    ("*/15 * * * *", "Europe/Berlin", "2024-03-31T03:00+02:00", "2024-03-31T03:15+02:00"),
    ("*/15 * * * *", "Europe/Berlin", "2024-03-31T01:59:59+01:00", "2024-03-31T03:00+02:00"),
    ("0 2 31 3 *", "Europe/Berlin", "2024-01-01T00:00", "2024-03-31T03:00+02:00"),
    # DST, Berlin, fall back 2024-10-27: 03:00 CEST -> 02:00 CET; 02:xx runs at its first pass
    ("30 2 * * *", "Europe/Berlin", "2024-10-26T12:00+02:00", "2024-10-27T02:30+02:00"),
    ("30 2 * * *", "Europe/Berlin", "2024-10-27T02:30+02:00", "2024-10-28T02:30+01:00"),
    ("30 2 * * *", "Europe/Berlin", "2024-10-27T02:10+01:00", "2024-10-28T02:30+01:00"),
    ("*/15 * * * *", "Europe/Berlin", "2024-10-27T02:45+02:00", "2024-10-27T03:00+01:00"),
    ("*/15 * * * *", "Europe/Berlin", "2024-10-27T02:10+01:00", "2024-10-27T03:00+01:00"),
    ("0 * * * *", "Europe/Berlin", "2024-10-27T02:00+02:00", "2024-10-27T03:00+01:00"),
    ("0 3 * * *", "Europe/Berlin", "2024-10-27T02:59+02:00", "2024-10-27T03:00+01:00"),
    # DST, New York, spring forward 2024-03-10: 02:00 EST -> 03:00 EDT
    ("30 2 * * *", "America/New_York", "2024-03-09T12:00-05:00", "2024-03-10T03:00-04:00"),
    ("0 2 * * *", "America/New_York", "2024-03-10T03:00-04:00", "2024-03-11T02:00-04:00"),
    ("*/30 * * * *", "America/New_York", "2024-03-10T01:30-05:00", "2024-03-10T03:00-04:00"),
    # DST, New York, fall back 2024-11-03: 02:00 EDT -> 01:00 EST
    ("30 1 * * *", "America/New_York", "2024-11-02T12:00-04:00", "2024-11-03T01:30-04:00"),
    ("30 1 * * *", "America/New_York", "2024-11-03T01:30-04:00", "2024-11-04T01:30-05:00"),
    ("*/30 * * * *", "America/New_York", "2024-11-03T01:30-04:00", "2024-11-03T02:00-05:00"),
    ("*/30 * * * *", "America/New_York", "2024-11-03T01:00-05:00", "2024-11-03T02:00-05:00"),
    ("0 2 * * *", "America/New_York", "2024-11-02T12:00-04:00", "2024-11-03T02:00-05:00"),
    # Lord Howe moves by half an hour: 2024-10-06 02:00 -> 02:30 (+10:30 -> +11)
    ("15 2 * * *", "Australia/Lord_Howe", "2024-10-05T12:00+10:30", "2024-10-06T02:30+11:00"),
    # Samoa skipped 30 December 2011 altogether
    ("0 12 * * *", "Pacific/Apia", "2011-12-29T12:00-10:00", "2011-12-31T00:00+14:00"),
    ("0 12 * * *", "Pacific/Apia", "2011-12-31T00:00+14:00", "2011-12-31T12:00+14:00"),
]


@pytest.mark.parametrize(("expr", "tz", "after", "expected"), _NEXT)
def test_cron_next_after(expr: str, tz: str | None, after: str, expected: str) -> None:
    nxt = Cron(expr, tz).next_after(_t(after))
    assert nxt == _t(expected), f"{nxt.astimezone(ZoneInfo(tz or 'UTC')).isoformat()}"
    assert nxt.tzinfo is UTC


def test_cron_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Cron("* * * * *").next_after(datetime(2024, 1, 1))


def test_cron_is_fast_on_sparse_schedules() -> None:
    # Skipping by field: a rare schedule costs no more than a few hundred steps per call.
    leap = Cron("0 0 29 2 *")
    t = _t("2001-01-01T00:00")
    for _ in range(25):
        t = leap.next_after(t)
    assert t == _t("2104-02-29T00:00")  # 2100 skipped


# --- runs_between -----------------------------------------------------------------------------


def test_runs_between_counts_a_day_of_quarter_hours() -> None:
    runs = runs_between(Cron("*/15 * * * *"), _t("2024-01-01T00:00"), _t("2024-01-02T00:00"))
    assert len(runs) == 96
    assert runs[0] == _t("2024-01-01T00:15") and runs[-1] == _t("2024-01-02T00:00")
    assert runs == sorted(set(runs))
    assert len(runs_between(Every(900), _t("2024-01-01T00:00"), _t("2024-01-02T00:00"))) == 96


def test_runs_between_over_dst_days() -> None:
    berlin = Cron("*/15 * * * *", "Europe/Berlin")
    # 23 hours of wall clock on the spring day; 25 on the autumn day, but the repeated hour
    # runs once, so 24 hours of runs.
    spring = runs_between(berlin, _t("2024-03-31T00:00+01:00"), _t("2024-04-01T00:00+02:00"))
    autumn = runs_between(berlin, _t("2024-10-27T00:00+02:00"), _t("2024-10-28T00:00+01:00"))
    assert len(spring) == 92 and len(autumn) == 96
    assert len(set(spring)) == len(spring) and len(set(autumn)) == len(autumn)


def test_runs_between_keeps_the_latest() -> None:
    minutely = Cron("* * * * *")
    after, until = _t("2000-01-01T00:00"), _t("2024-01-01T00:00")
    runs = runs_between(minutely, after, until, limit=1000)
    assert len(runs) == 1000
    assert runs[-1] == until and runs[0] == until - timedelta(minutes=999)
    every = runs_between(Every(0.001), after, until, limit=3)
    assert every == [until - timedelta(milliseconds=2), until - timedelta(milliseconds=1), until]
    assert runs_between(minutely, after, until, limit=0) == []
    assert runs_between(minutely, until, after) == []
    assert runs_between(minutely, until, until) == []
    with pytest.raises(ValueError, match="limit"):
        runs_between(minutely, after, until, limit=-1)


@pytest.mark.parametrize(
    ("schedule", "after", "until", "limit"),
    [
        (Cron("*/7 9-17 * * mon-fri", "Europe/Berlin"), "2024-03-01T00:00", "2024-04-02T00:00", 50),
        (
            Cron("*/7 9-17 * * mon-fri", "Europe/Berlin"),
            "2024-03-01T00:00",
            "2024-04-02T00:00",
            5000,
        ),
        (Cron("0 0 1 * *"), "2020-01-01T00:00", "2024-01-01T00:00", 7),
        (Every(3600 * 5), "2024-01-01T00:00", "2024-03-01T00:00", 10),
        (Every(3600 * 5), "2024-01-01T00:00:00.5", "2024-01-01T05:00", 10),
    ],
)
def test_runs_between_is_the_tail_of_the_walk(
    schedule: Cron | Every, after: str, until: str, limit: int
) -> None:
    walk: list[datetime] = []
    t = _t(after)
    while (t := schedule.next_after(t)) <= _t(until):
        walk.append(t)
    assert runs_between(schedule, _t(after), _t(until), limit) == walk[-limit:]


# --- parse_schedule ---------------------------------------------------------------------------


def test_parse_schedule() -> None:
    every = parse_schedule("15m", None)
    assert isinstance(every, Every) and every.seconds == 900
    cron = parse_schedule(None, "*/5 * * * *", "Europe/Berlin")
    assert isinstance(cron, Cron) and cron.tz == "Europe/Berlin"
    assert repr(cron) == "Cron('*/5 * * * *', tz='Europe/Berlin')"
    assert isinstance(parse_schedule(None, "@daily"), Cron)


@pytest.mark.parametrize(
    ("every", "cron", "tz", "message"),
    [
        ("15m", "* * * * *", None, "either every or cron, not both"),
        (None, None, None, "needs every (e.g. '15m') or cron"),
        ("15m", None, "Europe/Berlin", "tz applies to cron schedules only"),
        ("15", None, None, "duration '15': '15' needs a unit"),
        (None, "0 25 * * *", None, "cron field 2 (hour): 25 is out of range 0-23"),
        (None, "* * * * *", "Nowhere/Land", "unknown time zone 'Nowhere/Land'"),
    ],
)
def test_parse_schedule_refuses(
    every: str | None, cron: str | None, tz: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_schedule(every, cron, tz)


# --- jitter -----------------------------------------------------------------------------------


def test_jitter_is_deterministic_and_in_range() -> None:
    at = _t("2024-01-01T10:15")
    assert jitter_for("feeds", 30, at) == jitter_for("feeds", 30, at)
    # The same instant written in another zone is the same run.
    assert jitter_for("feeds", 30, at) == jitter_for("feeds", 30, _t("2024-01-01T11:15+01:00"))
    values = [jitter_for(f"job-{i}", 30, at) for i in range(500)]
    assert all(0 <= v < 30 for v in values)
    # Spread apart: distinct, over the whole range.
    assert len(set(values)) == 500
    assert min(values) < 3 and max(values) > 27
    # Runs of one job differ too.
    runs = [jitter_for("feeds", 30, at + timedelta(minutes=15 * i)) for i in range(50)]
    assert len(set(runs)) == 50
    assert jitter_for("feeds", 0, at) == 0.0
    assert all(0 <= jitter_for(f"j{i}", 1e-300, at) < 1e-300 for i in range(100))


def test_jitter_refuses_bad_input() -> None:
    at = _t("2024-01-01T10:15")
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="max_jitter_s"):
            jitter_for("feeds", bad, at)
    with pytest.raises(ValueError, match="timezone-aware"):
        jitter_for("feeds", 30, datetime(2024, 1, 1))


# --- property: next_after against a minute-by-minute oracle ------------------------------------

_MINUTE = timedelta(minutes=1)
_SPAN = timedelta(days=1)  # how far the oracle walks

# Zones with their transitions (UTC) near which t is drawn half of the time.
_ZONES: dict[str | None, list[str]] = {
    None: [],
    "Europe/Berlin": ["2024-03-31T01:00", "2024-10-27T01:00"],
    "America/New_York": ["2024-03-10T07:00", "2024-11-03T06:00"],
    "Australia/Lord_Howe": ["2024-04-06T15:00", "2024-10-05T15:30"],
    "America/Sao_Paulo": ["2018-11-04T03:00", "2019-02-17T02:00"],  # at local midnight
    "Pacific/Apia": ["2011-12-30T10:00"],  # a whole day skipped
    "Asia/Kolkata": [],
}


@dataclass
class _Expr:
    text: str
    sets: list[set[int]]
    either_day: bool  # both day fields restricted: a day matching either matches

    def matches(self, wall: datetime) -> bool:
        minute, hour, dom, month, dow = self.sets
        if wall.minute not in minute or wall.hour not in hour or wall.month not in month:
            return False
        in_dom = wall.day in dom
        in_dow = (wall.weekday() + 1) % 7 in dow  # Python's Monday=0 to cron's Sunday=0
        return in_dom or in_dow if self.either_day else in_dom and in_dow


_LIMITS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
_NAMES = {3: ["", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
              "dec"],
          4: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]}  # fmt: skip


@st.composite
def _item(draw: st.DrawFn, index: int) -> tuple[str, set[int]]:
    low, high = _LIMITS[index]

    def show(n: int) -> str:
        names = _NAMES.get(index)
        if names and n < len(names) and names[n] and draw(st.booleans()):
            name = names[n]
            return name.upper() if draw(st.booleans()) else name
        return str(n)

    kind = draw(st.sampled_from(["*", "*/s", "n", "a-b", "a-b/s"]))
    if kind == "*":
        return "*", set(range(low, high + 1))
    step = draw(st.integers(1, max(1, (high - low) // 2)))
    if kind == "*/s":
        return f"*/{step}", set(range(low, high + 1, step))
    a = draw(st.integers(low, high))
    if kind == "n":
        return show(a), {a}
    b = draw(st.integers(a, high))
    if kind == "a-b":
        return f"{show(a)}-{show(b)}", set(range(a, b + 1))
    return f"{show(a)}-{show(b)}/{step}", set(range(a, b + 1, step))


@st.composite
def _field(draw: st.DrawFn, index: int) -> tuple[str, set[int]]:
    # Mostly '*' in the slow fields, so that most schedules run within the oracle's span.
    if index in (1, 2, 3) and draw(st.integers(0, 2)) == 0:
        return "*", set(range(_LIMITS[index][0], _LIMITS[index][1] + 1))
    items = draw(st.lists(_item(index), min_size=1, max_size=3))
    values = set().union(*(s for _, s in items))
    if index == 4 and 7 in values:
        values = (values - {7}) | {0}
    return ",".join(text for text, _ in items), values


@st.composite
def _exprs(draw: st.DrawFn) -> _Expr:
    fields = [draw(_field(i)) for i in range(5)]
    texts = [text for text, _ in fields]
    either = not texts[2].startswith("*") and not texts[4].startswith("*")
    return _Expr(" ".join(texts), [s for _, s in fields], either)


@st.composite
def _times(draw: st.DrawFn, tz: str | None) -> datetime:
    transitions = _ZONES[tz]
    near_a_transition = draw(st.booleans())
    if transitions and near_a_transition:
        base = _t(draw(st.sampled_from(transitions)))
        return base + timedelta(seconds=draw(st.integers(-3 * 3600, 3 * 3600)))
    naive = draw(st.datetimes(min_value=datetime(2005, 1, 1), max_value=datetime(2035, 1, 1)))
    return naive.replace(tzinfo=UTC)


def _run_minutes(expr: _Expr, zone: ZoneInfo, start: datetime, stop: datetime) -> list[datetime]:
    """The whole UTC minutes ``u`` in ``[start, stop]`` that are runs, minute by minute.

    ``u`` is a run when its wall time matches (on the first pass through a repeated hour only),
    or when a gap ends at ``u`` and a wall minute inside the gap matches.
    """
    runs = []
    before = (start - _MINUTE).astimezone(zone).replace(tzinfo=None)
    u = start
    while u <= stop:
        local = u.astimezone(zone)
        wall = local.replace(tzinfo=None)
        gap = (before + _MINUTE * k for k in range(1, (wall - before) // _MINUTE))
        if (expr.matches(wall) and local.fold == 0) or any(expr.matches(w) for w in gap):
            runs.append(u)
        before = wall
        u += _MINUTE
    return runs


@given(data=st.data())
@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_next_after_against_a_minute_by_minute_oracle(data: st.DataObject) -> None:
    tz = data.draw(st.sampled_from(list(_ZONES)), label="tz")
    expr = data.draw(_exprs(), label="expr")
    try:
        cron = Cron(expr.text, tz)
    except ScheduleError as exc:
        assert "never runs" in str(exc)
        return
    t = data.draw(_times(tz), label="t")
    nxt = cron.next_after(t)
    zone = ZoneInfo(tz or "UTC")
    assert nxt > t
    assert nxt.tzinfo is UTC and nxt.second == 0 and nxt.microsecond == 0
    assert _run_minutes(expr, zone, nxt, nxt) == [nxt], f"{expr.text!r}: no run at {nxt}"
    # No run skipped: no whole minute strictly between t and nxt (within the span) is one.
    first = t.replace(second=0, microsecond=0) + _MINUTE
    skipped = _run_minutes(expr, zone, first, min(nxt - _MINUTE, t + _SPAN))
    assert not skipped, f"{expr.text!r} after {t} skipped {skipped[0].astimezone(zone)}"
