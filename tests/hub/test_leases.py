"""The scheduler lease: one holder at a time, renewal, take-over after expiry, release."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from hub.db import leases
from tests.hub.conftest import NOW

TTL = timedelta(seconds=15)


def acquire(sessions: sessionmaker[Session], holder: str, at_s: float) -> bool:
    with sessions.begin() as s:
        return leases.try_acquire(
            s, "hub-scheduler", holder=holder, now=NOW + timedelta(seconds=at_s), ttl=TTL
        )


def test_one_holder_at_a_time_and_take_over_after_expiry(sessions: sessionmaker[Session]) -> None:
    assert acquire(sessions, "w1", 0)
    assert not acquire(sessions, "w2", 1), "a live lease is not taken"
    assert acquire(sessions, "w1", 10), "the holder renews"
    assert not acquire(sessions, "w2", 20), "renewed until 25 s"
    assert acquire(sessions, "w2", 26), "expired: another worker takes over"
    assert not acquire(sessions, "w1", 27)
    with sessions.begin() as s:
        leases.release(s, "hub-scheduler", holder="w2", now=NOW + timedelta(seconds=28))
    assert acquire(sessions, "w1", 29), "a released lease is free at once"
