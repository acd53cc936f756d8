"""When the jobs of ``shoal daemon`` run: ``every = "15m"`` or a cron expression, plus jitter.

A job's schedule is exactly one of:

``every`` (:class:`Every`, from :func:`parse_duration`)
    A fixed period, anchored at the Unix epoch (1970-01-01T00:00:00Z): runs land on the instants
    ``epoch + k * period``. So ``every = "15m"`` runs at :00, :15, :30 and :45 UTC whenever the
    daemon was started, and ``"1h"`` on the hour, ``"1d"`` at midnight UTC. Anchoring (instead of
    counting from the daemon's start) keeps runs where they were across restarts, so a restart
    neither runs a job early nor pushes it late, and "missed runs" have a definite meaning. A
    period that does not divide a day (``"7m"``) still lands on multiples since the epoch, not
    on multiples within each hour or day. ``every`` is always UTC: it is a duration, time zones
    do not apply (:func:`parse_schedule` refuses a ``tz`` with it).

``cron`` (:class:`Cron`)
    Five fields, ``minute hour day-of-month month day-of-week``, evaluated on the wall clock of
    ``tz`` (an IANA name such as ``Europe/Berlin``; UTC when not given).

    * Each field is a comma-separated list of ``*``, ``N``, ``A-B``, with an optional step
      ``/S`` on ``*`` or a range (``*/5``, ``1-10/2``). ``N/S`` means ``N-max/S`` (an extension
      that Vixie cron refuses, written by people used to Quartz). Ranges may not wrap
      (``fri-mon`` is an error, write ``fri-sat,sun-mon``).
    * Ranges: minute 0-59, hour 0-23, day-of-month 1-31, month 1-12, day-of-week 0-7 where both
      0 and 7 are Sunday. Month names ``jan``-``dec`` and day names ``sun``-``sat`` (three
      letters, any case) stand for their numbers, also in ranges (``mon-fri``). ``sun`` ending
      a range that starts later in the week is 7, so ``mon-sun`` is the whole week.
    * Macros: ``@yearly``/``@annually`` = ``0 0 1 1 *``, ``@monthly`` = ``0 0 1 * *``,
      ``@weekly`` = ``0 0 * * 0``, ``@daily``/``@midnight`` = ``0 0 * * *``, ``@hourly`` =
      ``0 * * * *``. ``@reboot`` is not a schedule and is refused.
    * Day-of-month and day-of-week follow Vixie cron: if both are restricted, a day matching
      *either* matches (``0 0 1 * mon`` = the 1st and every Monday); otherwise a day must match
      both. As in Vixie cron, a field counts as unrestricted exactly when its text starts with
      ``*``, so ``*/2`` is "unrestricted" (``0 0 */2 * mon`` = odd-numbered days that are
      Mondays) while ``1-31`` is restricted (``0 0 1-31 * mon`` = every day).
    * Daylight saving time: a local time that does not exist (clocks spring forward over it)
      runs once, at the first instant after the gap (for Berlin's 02:00-03:00 gap that is 03:00
      CEST, however many matching minutes fell in the gap and even if 03:00 matches too). A
      local time that happens twice (clocks fall back) runs once, at its first occurrence; the
      second pass through the repeated hour has no runs, so ``*/15 * * * *`` in
      ``Europe/Berlin`` pauses for an hour once a year. Use UTC (the default) for interval-like
      schedules.
    * A schedule that can never run (``0 0 30 2 *``) is refused when parsed. The Gregorian
      calendar repeats every 400 years, so a 400-year search decides it exactly (8 years would
      cover 29 February, but not ``0 0 */30 2 mon``, 1 February on a Monday, 11 years apart).

:func:`runs_between` lists the scheduled instants in ``(after, until]``; the daemon uses it to
apply its missed-run policy (skip, run once, run all) after downtime. :func:`jitter_for` gives
the delay to add to a run: a hash of the job's name and the scheduled instant, so it differs
between jobs (spreading them) but not between restarts (no re-roll).

All instants going in must be timezone-aware; instants coming out are UTC.
"""

from __future__ import annotations

import bisect
import calendar
import collections
import hashlib
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import UsageError

__all__ = [
    "Cron",
    "Every",
    "Schedule",
    "ScheduleError",
    "jitter_for",
    "parse_duration",
    "parse_schedule",
    "runs_between",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)
_ONE_US = timedelta(microseconds=1)


class ScheduleError(UsageError, ValueError):
    """A job's ``every``, ``cron`` or ``tz`` cannot be used; the message says what and why."""


# ---------------------------------------------------------------------------------- durations

# Largest first, each at most once: "1h30m" reads unambiguously, "30m1h" is probably a typo.
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_UNIT_ORDER = list(_UNITS)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)([a-zA-Z]*)")


def parse_duration(text: str) -> float:
    """``'90s'``, ``'15m'``, ``'1h'``, ``'1h30m'``, ``'2d'``, ``'500ms'``, ``'1.5h'`` -> seconds.

    Units: ``d``, ``h``, ``m``, ``s``, ``ms`` (lower case: ``M`` could be months), largest first,
    each at most once. A bare number is refused: ``"15"`` could mean seconds or minutes. The
    result is finite and > 0; anything else raises :class:`ScheduleError` with a one-line reason.
    """
    s = text.strip()
    if not s:
        raise ScheduleError("empty duration: expected e.g. '90s', '15m', '1h30m'")
    total = 0.0
    last_rank = -1
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None:
            raise ScheduleError(
                f"duration {text!r}: expected numbers with units, e.g. '90s', '15m', '1h30m'"
            )
        number, unit = m.groups()
        if not unit:
            raise ScheduleError(
                f"duration {text!r}: {number!r} needs a unit (d, h, m, s, ms), e.g. '{number}m'"
            )
        if unit not in _UNITS:
            raise ScheduleError(f"duration {text!r}: unknown unit {unit!r} (use d, h, m, s, ms)")
        rank = _UNIT_ORDER.index(unit)
        if rank <= last_rank:
            raise ScheduleError(
                f"duration {text!r}: units must go from largest to smallest, each once"
            )
        last_rank = rank
        total += float(number) * _UNITS[unit]
        pos = m.end()
    if not math.isfinite(total) or total <= 0:
        raise ScheduleError(f"duration {text!r} must be greater than zero")
    return total


def _require_aware(t: datetime, name: str) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {t.isoformat()}")


# -------------------------------------------------------------------------------------- every


class Every:
    """Every ``seconds`` seconds, on the instants ``epoch + k * period`` (see the module doc)."""

    __slots__ = ("_period_us", "seconds")

    def __init__(self, seconds: float) -> None:
        if not math.isfinite(seconds) or seconds <= 0:
            raise ScheduleError(f"every: the period must be a positive duration, got {seconds!r}")
        # Integer microseconds (datetime's resolution) keep the anchoring exact: float seconds
        # since 1970 would drift off the multiples by rounding.
        self._period_us = round(seconds * 1_000_000)
        if self._period_us < 1:
            raise ScheduleError(f"every: the period must be at least 1 microsecond, got {seconds}")
        self.seconds = seconds

    def next_after(self, t: datetime) -> datetime:
        """The first run strictly after ``t`` (aware), in UTC."""
        _require_aware(t, "t")
        elapsed_us = (t - _EPOCH) // _ONE_US
        k = elapsed_us // self._period_us + 1
        return _EPOCH + timedelta(microseconds=k * self._period_us)

    def _between(self, after: datetime, until: datetime, limit: int) -> list[datetime]:
        # Direct arithmetic: a short period ("1s") over a long downtime is too many to walk.
        first = ((after - _EPOCH) // _ONE_US) // self._period_us + 1
        last = ((until - _EPOCH) // _ONE_US) // self._period_us
        first = max(first, last - limit + 1)
        return [
            _EPOCH + timedelta(microseconds=k * self._period_us) for k in range(first, last + 1)
        ]

    def __repr__(self) -> str:
        return f"Every({self.seconds!r})"


# --------------------------------------------------------------------------------------- cron

_MONTH_NAMES = {n.lower(): i for i, n in enumerate(calendar.month_abbr) if n}
# calendar.day_abbr starts on Monday (0); cron numbers Sunday 0.
_DAY_NAMES = {n.lower(): (i + 1) % 7 for i, n in enumerate(calendar.day_abbr)}

# (name, low, high, names) per field, in expression order.
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTH_NAMES),
    ("day-of-week", 0, 7, _DAY_NAMES),
)

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# The Gregorian calendar (dates and weekdays together) repeats every 400 years, so a schedule
# with no run in 400 consecutive years never runs.
_CYCLE_YEARS = 400


def _field_error(index: int, message: str) -> ScheduleError:
    return ScheduleError(f"cron field {index + 1} ({_FIELDS[index][0]}): {message}")


def _parse_value(index: int, token: str) -> int:
    _name, low, high, names = _FIELDS[index]
    if not token:
        raise _field_error(index, "a number is missing")
    if token.isdigit() and token.isascii():
        value = int(token)
    elif token.lower() in names:
        return names[token.lower()]
    elif token.isalpha():
        kind = "month" if index == 3 else "day" if index == 4 else "name"
        hint = " (names are allowed only in month and day-of-week)" if not names else ""
        raise _field_error(index, f"unknown {kind} {token!r}{hint}")
    else:
        raise _field_error(index, f"{token!r} is not a number")
    if not low <= value <= high:
        raise _field_error(index, f"{value} is out of range {low}-{high}")
    return value


def _parse_field(index: int, text: str) -> set[int]:
    _name, low, high, _names = _FIELDS[index]
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _field_error(index, f"empty list item in {text!r}")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or not step_text.isascii():
                raise _field_error(index, f"step {step_text!r} is not a number")
            step = int(step_text)
            if step < 1:
                raise _field_error(index, "step must be at least 1")
        if base == "*":
            start, stop = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, stop = _parse_value(index, first), _parse_value(index, last)
            if index == 4 and stop == 0 < start and not last.isdigit():
                # "mon-sun": sun ends a range as 7, its other number, where 0 would go backwards.
                stop = 7
            if start > stop:
                raise _field_error(index, f"range {base!r} goes backwards (ranges do not wrap)")
        else:
            start = _parse_value(index, base)
            # "N/S" means N-max/S; without a step, N is just N.
            stop = high if slash else start
        values.update(range(start, stop + 1, step))
    if index == 4 and 7 in values:
        values.discard(7)
        values.add(0)
    return values


class Cron:
    """A five-field cron expression on the wall clock of ``tz`` (see the module doc)."""

    __slots__ = (
        "_dom_or_dow",
        "_dom_set",
        "_doms",
        "_dow_set",
        "_hours",
        "_minutes",
        "_month_set",
        "_months",
        "_tz",
        "expr",
        "tz",
    )

    def __init__(self, expr: str, tz: str | None = None) -> None:
        self.expr = expr.strip()
        self.tz = "UTC" if tz is None else tz
        self._tz = _load_tz(tz)
        text = self.expr
        if text.startswith("@"):
            macro = _MACROS.get(text.lower())
            if macro is None:
                known = ", ".join(_MACROS)
                raise ScheduleError(f"cron: unknown macro {text!r} (known: {known})")
            text = macro
        fields = text.split()
        if len(fields) != len(_FIELDS):
            names = " ".join(f[0] for f in _FIELDS)
            raise ScheduleError(
                f"cron {self.expr!r}: expected {len(_FIELDS)} fields ({names}), got {len(fields)}"
            )
        sets = [_parse_field(i, f) for i, f in enumerate(fields)]
        self._minutes = sorted(sets[0])
        self._hours = sorted(sets[1])
        self._doms = sorted(sets[2])
        self._dom_set = frozenset(sets[2])
        self._months = sorted(sets[3])
        self._month_set = frozenset(sets[3])
        self._dow_set = frozenset(sets[4])
        # Vixie cron: a field is "unrestricted" when its text starts with '*' (see module doc).
        self._dom_or_dow = not fields[2].startswith("*") and not fields[4].startswith("*")
        if self._next_local(datetime(2000, 1, 1), 2000 + _CYCLE_YEARS) is None:
            raise ScheduleError(
                f"cron {self.expr!r} never runs: no date matches its day and month fields"
            )

    def __repr__(self) -> str:
        return f"Cron({self.expr!r}, tz={self.tz!r})"

    def next_after(self, t: datetime) -> datetime:
        """The first run strictly after ``t`` (aware), in UTC."""
        _require_aware(t, "t")
        local = t.astimezone(self._tz).replace(tzinfo=None, second=0, microsecond=0)
        # Wall minutes up to the one holding t run at or before t (the wall clock-to-instant
        # mapping never goes backwards, see _instant), so start at the next wall minute.
        candidate = local + _MINUTE
        while True:
            horizon = min(candidate.year + _CYCLE_YEARS, datetime.max.year - 1)
            wall = self._next_local(candidate, horizon)
            if wall is None:
                # Only reachable near year 9999: the schedule itself was checked when parsed.
                raise ValueError(f"cron {self.expr!r}: no run after {t.isoformat()} before 9999")
            instant = self._instant(wall)
            if instant > t:
                return instant
            # t is in the second pass of a repeated (fall-back) hour: the wall times of that
            # hour already ran in the first pass. Keep going; at most an hour or so of minutes.
            candidate = wall + _MINUTE

    # -- wall-clock search

    def _next_local(self, start: datetime, horizon_year: int) -> datetime | None:
        """The first matching wall-clock minute at or after ``start`` (naive), by field.

        ``None`` when there is none up to the end of ``horizon_year``. Each step skips to the
        next value of the first field that does not match, so a year costs at most a few dozen
        steps per listed month.
        """
        y, mo, d, h, mi = start.year, start.month, start.day, start.hour, start.minute
        if start.second or start.microsecond:
            # Round up to the minute.
            mi += 1
        while y <= horizon_year:
            if mi > 59:
                mi, h = 0, h + 1
            if h > 23:
                h, d = 0, d + 1
            if mo not in self._month_set:
                i = bisect.bisect_right(self._months, mo)
                if i == len(self._months):
                    y, mo = y + 1, self._months[0]
                else:
                    mo = self._months[i]
                d, h, mi = 1, 0, 0
                continue
            day = self._next_day(y, mo, d)
            if day is None:
                y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
                d, h, mi = 1, 0, 0
                continue
            if day != d:
                d, h, mi = day, 0, 0
            i = bisect.bisect_left(self._hours, h)
            if i == len(self._hours):
                d, h, mi = d + 1, 0, 0
                continue
            if self._hours[i] != h:
                h, mi = self._hours[i], 0
            j = bisect.bisect_left(self._minutes, mi)
            if j == len(self._minutes):
                h, mi = h + 1, 0
                continue
            return datetime(y, mo, d, h, self._minutes[j])
        return None

    def _next_day(self, year: int, month: int, day: int) -> int | None:
        """The first matching day of the month at or after ``day``, or ``None``."""
        first_weekday, ndays = calendar.monthrange(year, month)  # Monday = 0
        # Cron's weekday of day d (Sunday = 0) is (first_weekday + d) % 7.
        if self._dom_or_dow:
            # Either field: some weekday in the list comes within 7 days, so this is short.
            for d in range(day, ndays + 1):
                if d in self._dom_set or (first_weekday + d) % 7 in self._dow_set:
                    return d
            return None
        # Both fields: walk the listed days of the month, check their weekday.
        for d in self._doms[bisect.bisect_left(self._doms, day) :]:
            if d > ndays:
                return None
            if (first_weekday + d) % 7 in self._dow_set:
                return d
        return None

    # -- wall clock to instant

    def _instant(self, wall: datetime) -> datetime:
        """The UTC instant at which the wall-clock time ``wall`` (naive) runs.

        An existing time maps to itself, an ambiguous one to its first occurrence (fold=0), a
        missing one to the end of its gap. This mapping never decreases as ``wall`` grows, which
        is what lets :meth:`next_after` search wall-clock minutes in order.
        """
        tz = self._tz
        if tz is UTC:
            return wall.replace(tzinfo=UTC)
        first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
        if first.astimezone(tz).replace(tzinfo=None) == wall:
            return first
        # In a gap, fold=0 reads the wall time with the offset before the transition, which
        # lands after it, and fold=1 with the offset after, which lands before it (PEP 495).
        # The transition is the first instant whose wall time is past `wall`; tz transitions
        # fall on whole seconds, so bisect over seconds.
        lo = int(wall.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
        hi = int(first.timestamp())
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) > wall:
                hi = mid
            else:
                lo = mid
        return datetime.fromtimestamp(hi, UTC)


def _load_tz(name: str | None) -> timezone | ZoneInfo:
    # UTC without the tz database, so the default works where tzdata is not installed.
    if name is None or name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: a malformed key such as an absolute path; OSError: a directory ("Europe").
        raise ScheduleError(
            f"tz: unknown time zone {name!r} (expected e.g. 'Europe/Berlin')"
        ) from None


# ----------------------------------------------------------------------------------- schedule

Schedule = Every | Cron


def parse_schedule(every: str | None, cron: str | None, tz: str | None = None) -> Schedule:
    """A job's schedule from its ``every``, ``cron`` and ``tz`` settings.

    Exactly one of ``every`` and ``cron``; ``tz`` only with ``cron`` (an ``every`` period is
    anchored in UTC, see the module doc, so a time zone there would silently mean nothing).
    Raises :class:`ScheduleError` (a ``ValueError``) naming what is wrong.
    """
    if every is not None and cron is not None:
        raise ScheduleError("a schedule takes either every or cron, not both")
    if every is None and cron is None:
        raise ScheduleError("a schedule needs every (e.g. '15m') or cron (e.g. '*/15 * * * *')")
    if cron is not None:
        return Cron(cron, tz)
    if tz is not None:
        raise ScheduleError("tz applies to cron schedules only; every is anchored in UTC")
    assert every is not None  # for mypy: checked above
    return Every(parse_duration(every))


def runs_between(
    schedule: Schedule, after: datetime, until: datetime, limit: int = 1000
) -> list[datetime]:
    """The scheduled instants ``t`` with ``after < t <= until``, oldest first.

    At most ``limit`` of them, the latest ones kept. Cost grows with ``limit``, not with the
    length of the interval: a year of downtime under ``* * * * *`` does not walk half a million
    minutes.
    """
    _require_aware(after, "after")
    _require_aware(until, "until")
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if limit == 0 or until <= after:
        return []
    if isinstance(schedule, Every):
        return schedule._between(after, until, limit)
    # Walk forward from a start just before `until`, widening the window (x4) until it holds
    # `limit` runs or reaches `after`: cron can only be walked forward, and the walk from `after`
    # itself could be arbitrarily long. Cron runs are at least a minute apart, so the first
    # window (an hour) holds at most 60 and the last at most about 4 * limit.
    window = timedelta(hours=1)
    while True:
        start = after if until - after <= window else until - window
        runs: collections.deque[datetime] = collections.deque(maxlen=limit)
        t = schedule.next_after(start)
        count = 0
        while t <= until:
            runs.append(t)
            count += 1
            t = schedule.next_after(t)
        if count >= limit or start == after:
            return list(runs)
        window *= 4


def jitter_for(job_name: str, max_jitter_s: float, scheduled: datetime) -> float:
    """A delay in ``[0, max_jitter_s)`` for the run of ``job_name`` scheduled at ``scheduled``.

    A hash of the two (the instant in UTC, so the same instant in another zone gives the same
    delay): stable across restarts, different between jobs, and between runs of one job. 0 when
    ``max_jitter_s`` is 0.
    """
    _require_aware(scheduled, "scheduled")
    if not math.isfinite(max_jitter_s) or max_jitter_s < 0:
        raise ValueError(f"max_jitter_s must be finite and >= 0, got {max_jitter_s!r}")
    if max_jitter_s == 0:
        return 0.0
    key = f"{job_name}\0{scheduled.astimezone(UTC).isoformat()}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    # 53 bits: a float in [0, 1) exactly, no rounding up to 1.0.
    fraction = (int.from_bytes(digest, "big") >> 11) / float(1 << 53)
    return min(fraction * max_jitter_s, math.nextafter(max_jitter_s, 0.0))
