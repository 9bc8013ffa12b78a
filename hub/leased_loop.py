"""A background thread that does its work only while this process holds a lease.

Work that must run once across hub workers (channel jobs, the settlement import) takes a
named lease (hub/db/leases.py, docs/scale-out.md) on every tick and works only while it
holds it; whoever stops cleanly gives the lease up so another worker takes over at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from hub.db import leases

_LOGGER = logging.getLogger(__name__)


class LeasedLoop:
    """Calls ``work`` every ``tick_s`` in a daemon thread; ``hold`` takes or renews the lease."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        lease: str,
        holder: str,
        ttl_s: float,
        tick_s: float,
        clock: Callable[[], datetime],
        work: Callable[[], object],
        thread_name: str,
    ) -> None:
        self.sessions = sessions
        self.lease = lease
        self.holder = holder
        self.ttl_s = ttl_s
        self.tick_s = tick_s
        self.clock = clock
        self.work = work
        self.thread_name = thread_name
        self.is_leader = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        """True once ``stop`` was called: long work should return early."""
        return self._stop.is_set()

    def hold(self) -> bool:
        """Take or renew the lease; True while this worker holds it (changes are logged)."""
        with self.sessions.begin() as session:
            leader = leases.try_acquire(
                session,
                self.lease,
                holder=self.holder,
                now=self.clock(),
                ttl=timedelta(seconds=self.ttl_s),
            )
        if leader != self.is_leader:
            _LOGGER.info("%s lease %s", self.lease, "taken" if leader else "lost")
        self.is_leader = leader
        return leader

    def start(self) -> None:
        """Start the thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread and give the lease up (best effort)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.is_leader:
            try:
                with self.sessions.begin() as session:
                    leases.release(session, self.lease, holder=self.holder, now=self.clock())
            except Exception:  # noqa: BLE001 - best effort on the way out
                _LOGGER.warning("could not release the %s lease", self.lease, exc_info=True)
            self.is_leader = False

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.work()
            except Exception:
                _LOGGER.exception("%s: work failed; trying again", self.thread_name)
            self._stop.wait(self.tick_s)
