"""The attempt limiter: a sliding window per key (pure, clock passed in)."""

from __future__ import annotations

import pytest

from provisioning.ratelimit import AttemptLimiter


@pytest.mark.parametrize(
    ("attempts_at", "asked_at", "expected"),
    [
        ([], 0.0, None),
        ([0.0, 1.0], 2.0, None),  # under the limit
        ([0.0, 1.0, 2.0], 3.0, 57.0),  # full: the oldest leaves the window at 60
        ([0.0, 1.0, 2.0], 60.0, None),  # the oldest has left
        ([10.0, 30.0, 59.0], 61.0, 9.0),
        ([0.0, 30.0, 59.0], 61.0, None),  # 0.0 left the window at 60
    ],
)
def test_retry_after(attempts_at: list[float], asked_at: float, expected: float | None) -> None:
    limiter = AttemptLimiter(limit=3, window_s=60.0)
    for t in attempts_at:
        limiter.record("10.0.0.7", t)
    assert limiter.retry_after("10.0.0.7", asked_at) == expected
    assert limiter.retry_after("10.0.0.8", asked_at) is None  # keys are independent


def test_idle_keys_are_forgotten() -> None:
    limiter = AttemptLimiter(limit=1, window_s=10.0)
    for n in range(100):
        limiter.record(f"10.0.0.{n}", 0.0)
    for n in range(100):
        assert limiter.retry_after(f"10.0.0.{n}", 20.0) is None
    assert limiter._hits == {}
