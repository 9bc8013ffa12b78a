"""The store's business day, and the one place the sale domain reads the clock.

A business day is a local calendar date in the store's IANA time zone that
starts at ``day_start`` local wall time (midnight by default; a late shop may
choose 04:00 so its 01:00 sales still belong to the evening before).

Formally, business day D runs from the first instant whose local wall time on
date D is at or after ``day_start`` up to the same instant of D + 1. So:

* on a spring-forward day, a ``day_start`` inside the skipped hour starts the
  day at the transition (the first wall time past it);
* on a fall-back day, a ``day_start`` inside the repeated hour starts the day at
  its first occurrence, and the second pass of that hour stays in the new day;
* days are 23, 24 or 25 hours long; ``business_day_bounds`` gives the instants.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from edge_agent.domain.errors import NaiveDateTime

DEFAULT_DAY_START = time(0, 0)


def utc_now() -> datetime:
    """Return the current instant in UTC: the shell's single clock read (freezegun freezes it)."""
    return datetime.now(UTC)


def ensure_utc(field: str, value: datetime) -> datetime:
    """Return ``value`` converted to UTC; NaiveDateTime if it has no time zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDateTime(field, value)
    return value.astimezone(UTC)


def business_day(at_utc: datetime, tz: ZoneInfo, day_start: time = DEFAULT_DAY_START) -> date:
    """Return the store's business day that contains the instant ``at_utc``."""
    at_utc = ensure_utc("at_utc", at_utc)
    local = at_utc.astimezone(tz)
    today = local.date()
    if local.time() >= day_start:
        return today
    # The second pass of a repeated (fall-back) hour: the day may already have started
    # at the first pass of day_start, even though the wall clock now reads earlier.
    if local.fold == 1 and business_day_start(today, tz, day_start) <= at_utc:
        return today
    return today - timedelta(days=1)


def business_day_start(day: date, tz: ZoneInfo, day_start: time = DEFAULT_DAY_START) -> datetime:
    """Return the UTC instant at which business day ``day`` starts."""
    wall = datetime.combine(day, day_start)
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first  # the wall time exists; fold=0 picks its first occurrence
    # day_start falls into a skipped (spring-forward) gap: the day starts at the
    # transition, the first instant whose wall time is past day_start. fold=1 reads
    # the wall time with the offset after the gap, which lands before the gap.
    # Transitions fall on whole seconds, so a binary search over seconds finds it exactly.
    lo = int(wall.replace(tzinfo=tz, fold=1).timestamp())  # wall time still before day_start
    hi = int(first.timestamp())  # wall time already past day_start
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def business_day_bounds(
    day: date, tz: ZoneInfo, day_start: time = DEFAULT_DAY_START
) -> tuple[datetime, datetime]:
    """Return the UTC instants [start, end) of business day ``day``."""
    return (
        business_day_start(day, tz, day_start),
        business_day_start(day + timedelta(days=1), tz, day_start),
    )
