"""Token buckets, the model SP-API uses for rate limits (pure: every method takes ``now``).

The client reserves a token before each call and sleeps for the wait it is given;
the sandbox takes a token or answers 429. ``now`` is any monotonic number of seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hub.channels.amazon.usage_plans import UsagePlan, usage_plan


@dataclass(slots=True)
class TokenBucket:
    """A bucket of at most ``burst`` tokens refilled at ``rate`` tokens per second."""

    rate: float
    burst: int
    tokens: float
    updated_at: float

    @classmethod
    def full(cls, plan: UsagePlan, now: float, *, rate_scale: float = 1.0) -> TokenBucket:
        """A bucket for ``plan`` that starts full, as Amazon's do."""
        return cls(plan.rate * rate_scale, plan.burst, float(plan.burst), now)

    def _refill(self, now: float) -> None:
        if now > self.updated_at:
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated_at) * self.rate)
            self.updated_at = now

    def available(self, now: float) -> float:
        """Tokens in the bucket at ``now`` (negative while reservations are outstanding)."""
        self._refill(now)
        return self.tokens

    def try_take(self, now: float) -> bool:
        """Take one token if there is one; False means the caller must be refused (429)."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def reserve(self, now: float) -> float:
        """Reserve the next token and return how long to wait before using it (0 when free)."""
        self._refill(now)
        self.tokens -= 1.0
        if self.tokens >= 0.0:
            return 0.0
        return -self.tokens / self.rate if self.rate > 0 else float("inf")

    def seconds_until_available(self, now: float) -> float:
        """How long until one token is available, without taking it."""
        self._refill(now)
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) / self.rate if self.rate > 0 else float("inf")

    def drain(self, now: float) -> None:
        """Empty the bucket: Amazon said 429, so its bucket is empty whatever ours believed."""
        self._refill(now)
        self.tokens = min(self.tokens, 0.0)

    def set_rate(self, rate: float) -> None:
        """Adopt a rate that Amazon reported for this seller (``x-amzn-RateLimit-Limit``)."""
        if rate > 0:
            self.rate = rate


@dataclass(slots=True)
class RateLimiter:
    """One token bucket per operation, created from the usage plans on first use."""

    plans: Mapping[str, UsagePlan] | None = None
    rate_scale: float = 1.0
    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def bucket(self, operation: str, now: float) -> TokenBucket:
        """The bucket of ``operation`` (created full on first use)."""
        found = self.buckets.get(operation)
        if found is None:
            plan = (self.plans or {}).get(operation) or usage_plan(operation)
            found = TokenBucket.full(plan, now, rate_scale=self.rate_scale)
            self.buckets[operation] = found
        return found

    def reserve(self, operation: str, now: float) -> float:
        """Reserve a token of ``operation``; returns the seconds to wait before calling."""
        return self.bucket(operation, now).reserve(now)

    def available(self, operation: str, now: float) -> int:
        """Whole tokens of ``operation`` available right now (never negative)."""
        return max(0, int(self.bucket(operation, now).available(now)))

    def budget(self, operation: str, now: float, within_s: float) -> int:
        """How many calls of ``operation`` fit in the next ``within_s`` seconds."""
        bucket = self.bucket(operation, now)
        tokens = bucket.available(now) + bucket.rate * within_s
        return max(0, int(min(tokens, bucket.burst + bucket.rate * within_s)))
