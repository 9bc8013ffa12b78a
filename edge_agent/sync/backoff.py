"""Reconnect delays: exponential backoff with jitter, so tills never reconnect in step."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

DEFAULT_INITIAL_DELAY_S = 1.0
DEFAULT_MAX_DELAY_S = 60.0


@dataclass(slots=True)
class Backoff:
    """Delays that double per attempt up to a cap, each drawn in [d/2, d] ("equal jitter")."""

    initial_s: float = DEFAULT_INITIAL_DELAY_S
    max_s: float = DEFAULT_MAX_DELAY_S
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def ceiling(self) -> float:
        """Return the upper bound of the next delay."""
        return min(self.max_s, self.initial_s * float(1 << min(self.attempts, 30)))

    def next_delay(self) -> float:
        """Return the next delay in seconds and count the attempt."""
        top = self.ceiling()
        self.attempts += 1
        return top / 2 + self.rng.uniform(0, top / 2)

    def reset(self) -> None:
        """Start again from the initial delay (after a successful connection)."""
        self.attempts = 0
