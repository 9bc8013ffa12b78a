"""Sliding-window attempt limiter (pure: the caller passes the clock)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field


@dataclass
class AttemptLimiter:
    """At most ``limit`` attempts per key within ``window_s`` seconds."""

    limit: int
    window_s: float
    _hits: dict[str, deque[float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def retry_after(self, key: str, now: float) -> float | None:
        """Seconds until ``key`` may try again, or None when it may try now (not counted)."""
        with self._lock:
            hits = self._trim(key, now)
            if not hits:
                # forget idle keys so a scan of many addresses cannot grow the table forever
                del self._hits[key]
                return None
            if len(hits) < self.limit:
                return None
            return max(0.0, hits[0] + self.window_s - now)

    def record(self, key: str, now: float) -> None:
        """Count one attempt for ``key``."""
        with self._lock:
            self._trim(key, now).append(now)

    def _trim(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        return hits
