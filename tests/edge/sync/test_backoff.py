"""Reconnect backoff: doubles to a cap, jittered within [d/2, d], resets after success."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.sync.backoff import Backoff


def test_delays_double_up_to_the_cap() -> None:
    backoff = Backoff(initial_s=1.0, max_s=8.0, rng=random.Random(1))
    ceilings = []
    for _ in range(6):
        ceilings.append(backoff.ceiling())
        backoff.next_delay()
    assert ceilings == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    backoff.reset()
    assert backoff.ceiling() == 1.0


@given(seed=st.integers(), attempts=st.integers(min_value=0, max_value=200))
def test_every_delay_is_within_half_and_full_ceiling(seed: int, attempts: int) -> None:
    backoff = Backoff(initial_s=0.5, max_s=60.0, rng=random.Random(seed))
    backoff.attempts = attempts
    top = backoff.ceiling()
    delay = backoff.next_delay()
    assert top / 2 <= delay <= top
    assert delay <= 60.0


def test_two_tills_do_not_retry_in_step() -> None:
    a = Backoff(rng=random.Random(1))
    b = Backoff(rng=random.Random(2))
    assert [a.next_delay() for _ in range(5)] != [b.next_delay() for _ in range(5)]
