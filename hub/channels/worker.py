"""The channel worker: marketplace import, quantity push, confirmations and health, once per hub.

Every hub process started by ``acorn hub serve`` with ingest runs a ChannelWorker; the
``channels`` lease (hub/db/leases.py) lets exactly one of them run the jobs. The
holder ticks every ``tick_s``: it pushes quantities as soon as the ledger has new
stock movements (or quantities wait), confirms shipments that are due, imports orders
every ``import_interval_s`` and evaluates channel health every ``health_interval_s``.
One account's failure never stops the others.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from hub.channels.amazon.account import CredentialCipher
from hub.channels.amazon.client import SpApiClient
from hub.channels.amazon.errors import ConfigError
from hub.channels.amazon.runner import AccountRunner, ClientFactory, RunnerPolicy
from hub.db import channels as repo
from hub.leased_loop import LeasedLoop

_LOGGER = logging.getLogger(__name__)

CHANNEL_LEASE = "channels"
KEY_ENV = "ACORN_HUB_SECRETS_KEY"


def credential_cipher(settings: object | None = None) -> CredentialCipher | None:
    """The cipher for channel credentials: the hub's ``secrets_key`` (ACORN_HUB_SECRETS_KEY)."""
    secret = getattr(settings, "secrets_key", None) if settings is not None else None
    key = secret.get_secret_value() if secret is not None else os.environ.get(KEY_ENV)
    return CredentialCipher(key) if key else None


@dataclass(frozen=True, slots=True)
class ChannelWorkerPolicy:
    """Intervals of the channel jobs."""

    tick_s: float = 0.5
    import_interval_s: float = 120.0
    push_retry_interval_s: float = 2.0
    """Pending quantities and feeds are looked at again this often without new movements."""
    health_interval_s: float = 30.0
    lease_ttl_s: float = 60.0
    runner: RunnerPolicy = field(default_factory=RunnerPolicy)


@dataclass
class _Due:
    next_import: float = 0.0
    next_push_retry: float = 0.0
    next_health: float = 0.0
    imported: bool = False


class ChannelWorker:
    """Runs the channel jobs of every enabled account while holding the channels lease."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        cipher: CredentialCipher | None,
        *,
        worker_id: str,
        policy: ChannelWorkerPolicy | None = None,
        client_factory: ClientFactory = SpApiClient,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.sessions = sessions
        self.cipher = cipher
        self.worker_id = worker_id
        self.policy = policy or ChannelWorkerPolicy()
        self.client_factory = client_factory
        self.clock = clock
        self.runners: dict[int, AccountRunner] = {}
        self._due: dict[int, _Due] = {}
        self._lease = LeasedLoop(
            sessions,
            lease=CHANNEL_LEASE,
            holder=worker_id,
            ttl_s=self.policy.lease_ttl_s,
            tick_s=self.policy.tick_s,
            clock=clock,
            work=self.tick,
            thread_name="hub-channels",
        )
        self._warned_no_key = False

    @property
    def is_leader(self) -> bool:
        """True while this worker holds the channels lease."""
        return self._lease.is_leader

    def start(self) -> None:
        """Start the worker thread."""
        self._lease.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread, give the lease up and close the clients."""
        self._lease.stop(timeout)
        for runner in self.runners.values():
            runner.close()
        self.runners.clear()

    def tick(self) -> None:
        """One round: take or renew the lease, then run what is due for every account."""
        if not self._lease.hold():
            return
        for runner in self._refresh_runners():
            if self._lease.stopping:
                return
            try:
                self._run_account(runner)
            except Exception:
                _LOGGER.exception("channel account %s: jobs failed", runner.name)

    def _refresh_runners(self) -> list[AccountRunner]:
        with self.sessions() as session:
            rows = repo.list_accounts(session, enabled_only=True)
        if rows and self.cipher is None:
            if not self._warned_no_key:
                _LOGGER.error(
                    "channel accounts exist but %s is not set: channel jobs cannot run", KEY_ENV
                )
                self._warned_no_key = True
            return []
        assert self.cipher is not None or not rows
        live = {row.id for row in rows}
        for gone in set(self.runners) - live:
            self.runners.pop(gone).close()
            self._due.pop(gone, None)
        for row in rows:
            runner = self.runners.get(row.id)
            if runner is not None and runner.version == row.updated_at:
                continue
            if runner is not None:
                runner.close()
            try:
                assert self.cipher is not None
                self.runners[row.id] = AccountRunner(
                    self.sessions,
                    row,
                    self.cipher,
                    client_factory=self.client_factory,
                    clock=self.clock,
                    policy=self.policy.runner,
                )
            except ConfigError as err:
                self.runners.pop(row.id, None)
                _LOGGER.error("channel account %s cannot be used: %s", row.name, err)
                continue
            self._due.setdefault(row.id, _Due())
        return [self.runners[r.id] for r in rows if r.id in self.runners]

    def _run_account(self, runner: AccountRunner) -> None:
        due = self._due.setdefault(runner.account_id, _Due())
        tick = time.monotonic()
        if runner.paused:
            if tick >= due.next_health and due.imported:
                due.next_health = tick + self.policy.health_interval_s
                runner.evaluate_health()
            return
        if runner.push_due() or (tick >= due.next_push_retry and runner.has_push_work()):
            due.next_push_retry = tick + self.policy.push_retry_interval_s
            runner.push_quantities()
        runner.confirm_shipments()
        if tick >= due.next_import:
            due.next_import = tick + self.policy.import_interval_s
            runner.import_orders()
            due.imported = True
            due.next_health = 0.0
        if due.imported and tick >= due.next_health:
            due.next_health = tick + self.policy.health_interval_s
            runner.evaluate_health()


def attach(ingest_worker: Any, settings: Any, engine: Any) -> ChannelWorker:
    """Run a ChannelWorker alongside an ingest worker: started and stopped with it."""
    from hub.db.engine import make_sessionmaker

    channels = ChannelWorker(
        make_sessionmaker(engine),
        credential_cipher(settings),
        worker_id=settings.worker_id,
        policy=ChannelWorkerPolicy(
            import_interval_s=getattr(settings, "channel_import_interval_s", 120.0)
        ),
    )
    start, stop = ingest_worker.start, ingest_worker.stop

    def _start() -> None:
        start()
        channels.start()

    def _stop(timeout: float = 10.0) -> None:
        channels.stop()
        stop(timeout)

    ingest_worker.start, ingest_worker.stop = _start, _stop
    ingest_worker.channels = channels
    return channels
