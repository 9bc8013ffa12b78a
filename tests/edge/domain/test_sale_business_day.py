"""Business day: local midnight (or a later day start) in the store's IANA zone, across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.domain.business_day import (
    business_day,
    business_day_bounds,
    business_day_start,
    utc_now,
)
from edge_agent.domain.errors import NaiveDateTime

LONDON = ZoneInfo("Europe/London")
LA = ZoneInfo("America/Los_Angeles")
MIDNIGHT = time(0, 0)
LATE = time(4, 0)


def _z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("at", "tz", "day_start", "expected"),
    [
        # Europe/London, spring forward 2026-03-29 01:00 GMT -> 02:00 BST.
        ("2026-03-28T23:59:59Z", LONDON, MIDNIGHT, date(2026, 3, 28)),
        ("2026-03-29T00:00:00Z", LONDON, MIDNIGHT, date(2026, 3, 29)),
        ("2026-03-29T01:00:00Z", LONDON, MIDNIGHT, date(2026, 3, 29)),  # 02:00 BST
        ("2026-03-29T22:59:59Z", LONDON, MIDNIGHT, date(2026, 3, 29)),  # 23:59:59 BST
        ("2026-03-29T23:00:00Z", LONDON, MIDNIGHT, date(2026, 3, 30)),  # 00:00 BST
        ("2026-03-29T02:59:59Z", LONDON, LATE, date(2026, 3, 28)),  # 03:59:59 BST
        ("2026-03-29T03:00:00Z", LONDON, LATE, date(2026, 3, 29)),  # 04:00 BST
        # Europe/London, fall back 2026-10-25 02:00 BST -> 01:00 GMT.
        ("2026-10-24T22:59:59Z", LONDON, MIDNIGHT, date(2026, 10, 24)),
        ("2026-10-24T23:00:00Z", LONDON, MIDNIGHT, date(2026, 10, 25)),  # 00:00 BST
        ("2026-10-25T00:30:00Z", LONDON, MIDNIGHT, date(2026, 10, 25)),  # 01:30 BST
        ("2026-10-25T01:30:00Z", LONDON, MIDNIGHT, date(2026, 10, 25)),  # 01:30 GMT
        ("2026-10-25T23:59:59Z", LONDON, MIDNIGHT, date(2026, 10, 25)),
        ("2026-10-26T00:00:00Z", LONDON, MIDNIGHT, date(2026, 10, 26)),
        ("2026-10-25T03:59:59Z", LONDON, LATE, date(2026, 10, 24)),
        ("2026-10-25T04:00:00Z", LONDON, LATE, date(2026, 10, 25)),
        # America/Los_Angeles, spring forward 2026-03-08 02:00 PST -> 03:00 PDT.
        ("2026-03-08T07:59:59Z", LA, MIDNIGHT, date(2026, 3, 7)),
        ("2026-03-08T08:00:00Z", LA, MIDNIGHT, date(2026, 3, 8)),
        ("2026-03-08T10:00:00Z", LA, MIDNIGHT, date(2026, 3, 8)),  # 03:00 PDT
        ("2026-03-09T06:59:59Z", LA, MIDNIGHT, date(2026, 3, 8)),  # 23:59:59 PDT
        ("2026-03-09T07:00:00Z", LA, MIDNIGHT, date(2026, 3, 9)),
        ("2026-03-08T09:59:59Z", LA, time(2, 30), date(2026, 3, 7)),  # 01:59:59 PST
        ("2026-03-08T10:00:00Z", LA, time(2, 30), date(2026, 3, 8)),  # 03:00 PDT: past 02:30
        # America/Los_Angeles, fall back 2026-11-01 02:00 PDT -> 01:00 PST.
        ("2026-11-01T06:59:59Z", LA, MIDNIGHT, date(2026, 10, 31)),
        ("2026-11-01T07:00:00Z", LA, MIDNIGHT, date(2026, 11, 1)),
        ("2026-11-01T08:30:00Z", LA, MIDNIGHT, date(2026, 11, 1)),  # 01:30 PDT
        ("2026-11-01T09:30:00Z", LA, MIDNIGHT, date(2026, 11, 1)),  # 01:30 PST
        ("2026-11-02T07:59:59Z", LA, MIDNIGHT, date(2026, 11, 1)),
        ("2026-11-02T08:00:00Z", LA, MIDNIGHT, date(2026, 11, 2)),
        ("2026-11-01T08:29:59Z", LA, time(1, 30), date(2026, 10, 31)),  # 01:29:59 PDT
        ("2026-11-01T08:30:00Z", LA, time(1, 30), date(2026, 11, 1)),  # 01:30 PDT
        ("2026-11-01T09:10:00Z", LA, time(1, 30), date(2026, 11, 1)),  # 01:10 PST, 2nd pass
        ("2026-11-01T11:59:59Z", LA, LATE, date(2026, 10, 31)),  # 03:59:59 PST
        ("2026-11-01T12:00:00Z", LA, LATE, date(2026, 11, 1)),
    ],
)
def test_business_day_table(at: str, tz: ZoneInfo, day_start: time, expected: date) -> None:
    assert business_day(_z(at), tz, day_start) == expected


@pytest.mark.parametrize(
    ("day", "tz", "day_start", "start", "hours"),
    [
        (date(2026, 3, 29), LONDON, MIDNIGHT, "2026-03-29T00:00:00Z", 23),
        (date(2026, 3, 30), LONDON, MIDNIGHT, "2026-03-29T23:00:00Z", 24),
        (date(2026, 10, 25), LONDON, MIDNIGHT, "2026-10-24T23:00:00Z", 25),
        (date(2026, 3, 28), LONDON, LATE, "2026-03-28T04:00:00Z", 23),
        (date(2026, 3, 8), LA, MIDNIGHT, "2026-03-08T08:00:00Z", 23),
        (date(2026, 11, 1), LA, MIDNIGHT, "2026-11-01T07:00:00Z", 25),
        (date(2026, 11, 2), LA, MIDNIGHT, "2026-11-02T08:00:00Z", 24),
        (date(2026, 3, 8), LA, time(2, 30), "2026-03-08T10:00:00Z", 23.5),  # starts at the jump
        (date(2026, 11, 1), LA, time(1, 30), "2026-11-01T08:30:00Z", 25),  # first 01:30
    ],
)
def test_business_day_bounds(
    day: date, tz: ZoneInfo, day_start: time, start: str, hours: float
) -> None:
    begin, end = business_day_bounds(day, tz, day_start)
    assert begin == _z(start)
    assert end - begin == timedelta(hours=hours)
    assert business_day(begin, tz, day_start) == day
    assert business_day(end - timedelta(seconds=1), tz, day_start) == day
    assert business_day(end, tz, day_start) == day + timedelta(days=1)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(NaiveDateTime, match="time-zone aware"):
        business_day(datetime(2026, 3, 29, 1, 0), LONDON)  # noqa: DTZ001


def test_utc_now_is_the_clock_seam() -> None:
    with freeze_time("2026-10-25T01:30:00Z"):
        now = utc_now()
        assert now == _z("2026-10-25T01:30:00Z")
        assert now.tzinfo is UTC
        assert business_day(now, LONDON) == date(2026, 10, 25)
        assert business_day(now, LA) == date(2026, 10, 24)


# The four 2026 transitions of both zones, and instants up to 30 hours either side of them.
_TRANSITIONS = [
    _z("2026-03-29T01:00:00Z"),
    _z("2026-10-25T01:00:00Z"),
    _z("2026-03-08T10:00:00Z"),
    _z("2026-11-01T09:00:00Z"),
]
_instants = st.one_of(
    st.builds(
        lambda t, s: t + timedelta(seconds=s),
        st.sampled_from(_TRANSITIONS),
        st.integers(-30 * 3600, 30 * 3600),
    ),
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
    ),
)
_starts = st.sampled_from(
    [MIDNIGHT, LATE, time(1, 0), time(1, 30), time(2, 0), time(2, 30), time(23, 0)]
)


@given(a=_instants, b=_instants, tz=st.sampled_from([LONDON, LA]), day_start=_starts)
def test_business_day_contains_its_instant_and_never_goes_back(
    a: datetime, b: datetime, tz: ZoneInfo, day_start: time
) -> None:
    day = business_day(a, tz, day_start)
    begin, end = business_day_bounds(day, tz, day_start)
    assert begin <= a < end
    assert business_day_start(day, tz, day_start) == begin
    first, second = sorted([a, b])
    assert business_day(first, tz, day_start) <= business_day(second, tz, day_start)
