"""The local business day of a store: its IANA zone and the hour its day starts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DAY_START = time(0, 0)


class UnknownTimeZone(ValueError):
    """The name is not an IANA time zone known to this system."""


def zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name`` or raise UnknownTimeZone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise UnknownTimeZone(f"unknown time zone {name!r}") from err


def business_day(at_utc: datetime, tz_name: str, *, day_start: time = DEFAULT_DAY_START) -> date:
    """The business day that the instant ``at_utc`` belongs to in the store's zone.

    A store whose day starts at 04:00 books a sale at 01:30 local time on the previous day.
    """
    if at_utc.tzinfo is None:
        raise ValueError("at_utc must be timezone-aware")
    local = at_utc.astimezone(zone(tz_name))
    shifted = local - timedelta(hours=day_start.hour, minutes=day_start.minute)
    return shifted.date()


def day_bounds_utc(
    day: date, tz_name: str, *, day_start: time = DEFAULT_DAY_START
) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of a local business day (DST days are 23 or 25 hours)."""
    tz = zone(tz_name)
    start = datetime.combine(day, day_start, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), day_start, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)
