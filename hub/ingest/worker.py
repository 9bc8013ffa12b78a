"""The ingest worker: batches from the MQTT inbox, applies them, PUBACKs, acks stores.

Threads: paho's network thread fills the inbox; the batch thread drains it, applies
a batch in one transaction, PUBACKs the batch's messages, then publishes the acks,
birth replays and catalog updates. The scheduler thread runs the jobs that must run
once across all workers (resend requests for old gaps, unpublished down messages,
catalog pushes, the hub's birth refresh) only while it holds the database lease.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub.config import HubSettings
from hub.db import catalog as catalog_repo
from hub.db import downlink, leases
from hub.db.models import StoreStatus, StoreSync
from hub.domain.downlink import DownKind
from hub.domain.seqtrack import SeqState, resend_due
from hub.ingest.apply import BatchApplier, BatchResult, Birth, InboundMessage
from hub.ingest.mqtt import Delivery, HubMqtt
from hub.metrics import IngestMetrics, Registry
from protocol import topics
from protocol.codec import encode
from protocol.messages import AckMessage, CommandMessage, HubStatus

_LOGGER = logging.getLogger(__name__)
SCHEDULER_LEASE = "hub-scheduler"
HUB_BIRTH_REFRESH_S = 30.0

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class IngestWorker:
    """One hub ingest worker: MQTT in, database out, acks and commands back."""

    def __init__(
        self,
        settings: HubSettings,
        session_factory: sessionmaker[Session],
        *,
        registry: Registry | None = None,
        clock: Clock = _utcnow,
    ) -> None:
        self._settings = settings
        self._sessions = session_factory
        self._clock = clock
        self.registry = registry or Registry()
        self.metrics = IngestMetrics(self.registry)
        self._applier = BatchApplier(session_factory, clock=clock)
        self.event_hooks = self._applier.event_hooks
        self.scheduled_jobs: list[Callable[[datetime], None]] = []
        self._bd_seq = int(time.time() * 1000) % 2**31
        self.mqtt = HubMqtt(settings, will=(topics.HUB_STATUS, self._hub_status(online=False)))
        self.mqtt.on_connected.append(self._publish_hub_birth)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._is_leader = False
        self._last_birth_refresh = 0.0
        self.last_batch_at: float | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Connect to the broker and start the batch and scheduler threads."""
        self.mqtt.start()
        self.metrics.connected.set(1)
        for name, target in (
            ("hub-ingest", self._batch_loop),
            ("hub-scheduler", self._scheduler_loop),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Unsubscribe, apply what is in hand, give up the lease, say offline, disconnect."""
        self.mqtt.unsubscribe()
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        if self._is_leader:
            try:
                with self._sessions.begin() as session:
                    leases.release(
                        session, SCHEDULER_LEASE, holder=self._settings.worker_id, now=self._clock()
                    )
            except Exception:  # noqa: BLE001 - best effort on the way out
                _LOGGER.warning("could not release the scheduler lease", exc_info=True)
        self.mqtt.stop(final=(topics.HUB_STATUS, self._hub_status(online=False)))
        self.metrics.connected.set(0)

    @property
    def is_leader(self) -> bool:
        """True while this worker runs the singleton jobs."""
        return self._is_leader

    @property
    def healthy(self) -> bool:
        """Connected and its threads alive."""
        return self.mqtt.connected and all(t.is_alive() for t in self._threads)

    # --- batches --------------------------------------------------------------------------

    def _next_batch(self) -> list[Delivery]:
        try:
            first = self.mqtt.inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self._settings.ingest_batch_max_wait_ms / 1000
        while len(batch) < self._settings.ingest_batch_max_messages:
            remaining = deadline - time.monotonic()
            try:
                item = (
                    self.mqtt.inbox.get_nowait()
                    if remaining <= 0
                    else self.mqtt.inbox.get(timeout=remaining)
                )
            except queue.Empty:
                break
            batch.append(item)
        return batch

    def _batch_loop(self) -> None:
        # On stop, keep going until the inbox is empty: those messages are not PUBACKed yet.
        while not (self._stop.is_set() and self.mqtt.inbox.empty()):
            batch = self._next_batch()
            if not batch:
                continue
            try:
                self.process(batch)
            except Exception:
                # Not acknowledged: the broker redelivers after a reconnect. Back off a little.
                _LOGGER.exception(
                    "batch of %d messages not applied; will be redelivered", len(batch)
                )
                time.sleep(1.0)

    def process(self, batch: list[Delivery]) -> BatchResult:
        """Apply one batch, PUBACK it, then publish acks, replays and catalog updates."""
        started = time.perf_counter()
        result = self._applier.apply(
            [InboundMessage(d.topic, d.payload, d.mid, d.received_at) for d in batch]
        )
        self.mqtt.ack(batch)
        self.metrics.messages.inc(len(batch))
        self.metrics.batches.inc()
        self.metrics.batch_seconds.inc(time.perf_counter() - started)
        self.metrics.duplicates.inc(result.duplicates)
        for store_id, n in result.applied_per_store.items():
            self.metrics.applied.inc(n, store=store_id)
        for reason, n in result.dead_reasons.items():
            self.metrics.dead_letters.inc(n, reason=reason)
        for store_id, seq in sorted(result.acks.items()):
            self.publish_ack(store_id, seq)
        for birth in result.births:
            self._on_birth(birth)
        self.last_batch_at = time.monotonic()
        return result

    def publish_ack(self, store_id: str, seq: int) -> None:
        """Tell a store the highest contiguous seq the hub has applied."""
        message = AckMessage(store=store_id, seq=seq)
        self.mqtt.publish(topics.down_ack(store_id), encode(message), qos=1)

    # --- births: replay and catalog -----------------------------------------------------

    def _on_birth(self, birth: Birth) -> None:
        now = self._clock()
        with self._sessions.begin() as session:
            pending = downlink.pending_for_store(session, birth.store_id)
            for row in pending:
                self.mqtt.publish(
                    _down_topic(row.store_id, row.channel), row.payload.encode(), qos=1
                )
            downlink.mark_published(session, [r.id for r in pending], now=now, replay=True)
            sync = session.get(StoreSync, birth.store_id)
            contiguous = sync.contiguous_seq if sync is not None else 0
        if pending:
            _LOGGER.info(
                "store %s: replayed %d unacknowledged messages", birth.store_id, len(pending)
            )
        self.publish_ack(birth.store_id, contiguous)
        self._push_catalog(birth.store_id, reported=birth.catalog_version)

    def _push_catalog(self, store_id: str, *, reported: int | None) -> None:
        now = self._clock()
        with self._sessions.begin() as session:
            sync = session.get(StoreSync, store_id)
            if sync is None:
                return
            since = reported if reported is not None else sync.catalog_version_sent
            version, messages = catalog_repo.catalog_messages(
                session, store_id, since=since, now=now
            )
            for message in messages:
                self.mqtt.publish(topics.down_catalog(store_id), encode(message), qos=1)
            if version != sync.catalog_version_sent:
                sync.catalog_version_sent = version
        if messages:
            _LOGGER.info(
                "store %s: sent catalog version %d (%s, %d messages)",
                store_id,
                version,
                messages[0].kind,
                len(messages),
            )

    # --- hub presence ---------------------------------------------------------------------

    def _hub_status(self, *, online: bool) -> bytes:
        return encode(HubStatus(online=online, bdSeq=self._bd_seq, at=self._clock()))

    def _publish_hub_birth(self) -> None:
        self.mqtt.publish(topics.HUB_STATUS, self._hub_status(online=True), qos=1, retain=True)
        self._last_birth_refresh = time.monotonic()

    # --- singleton jobs -------------------------------------------------------------------

    def _scheduler_loop(self) -> None:
        interval = self._settings.scheduler_interval_s
        while not self._stop.wait(interval):
            try:
                self.run_scheduled()
            except Exception:
                _LOGGER.exception("scheduled jobs failed; trying again in %.1f s", interval)

    def run_scheduled(self) -> None:
        """One round of the singleton jobs, if this worker holds the lease."""
        now = self._clock()
        ttl = timedelta(seconds=self._settings.lease_ttl_s)
        with self._sessions.begin() as session:
            leader = leases.try_acquire(
                session, SCHEDULER_LEASE, holder=self._settings.worker_id, now=now, ttl=ttl
            )
        if leader != self._is_leader:
            _LOGGER.info("scheduler lease %s", "taken" if leader else "lost")
        self._is_leader = leader
        self.metrics.leader.set(1 if leader else 0)
        if not leader or not self.mqtt.connected:
            return
        self._request_resends(now)
        for job in self.scheduled_jobs:  # other parts' singleton jobs (routing, ...)
            job(now)
        self._publish_unpublished(now)
        self._push_catalog_updates()
        if time.monotonic() - self._last_birth_refresh > HUB_BIRTH_REFRESH_S:
            # Another worker's Last Will may have said "offline": the leader says otherwise.
            self._publish_hub_birth()

    def _request_resends(self, now: datetime) -> None:
        after = timedelta(seconds=self._settings.resend_after_s)
        with self._sessions.begin() as session:
            rows = session.scalars(
                select(StoreSync)
                .where(StoreSync.highest_seen > StoreSync.contiguous_seq)
                .order_by(StoreSync.store_id)
            ).all()
            to_send: list[tuple[str, bytes]] = []
            for row in rows:
                state = SeqState(
                    row.contiguous_seq, row.highest_seen, row.gap_since, row.last_resend_at
                )
                seq = resend_due(state, now=now, after=after)
                if seq is None:
                    continue
                command = CommandMessage(
                    id=uuid.uuid4(),
                    store=row.store_id,
                    kind="resend_from",
                    args={"seq": seq},
                    at=now,
                )
                payload = encode(command)
                downlink.supersede_resends(session, row.store_id, now=now)
                downlink.enqueue(
                    session,
                    message_id=command.id,
                    store_id=row.store_id,
                    kind=DownKind.CMD_RESEND_FROM,
                    ref=str(seq),
                    channel="cmd",
                    payload=payload.decode(),
                    now=now,
                )
                row.last_resend_at = now
                to_send.append((row.store_id, payload))
                _LOGGER.warning(
                    "store %s: gap after seq %d open since %s; asked to resend from %d",
                    row.store_id,
                    row.contiguous_seq,
                    row.gap_since,
                    seq,
                )
        for store_id, payload in to_send:
            self.mqtt.publish(topics.down_cmd(store_id), payload, qos=1)

    def _publish_unpublished(self, now: datetime) -> None:
        with self._sessions.begin() as session:
            rows = downlink.unpublished(session)
            for row in rows:
                self.mqtt.publish(
                    _down_topic(row.store_id, row.channel), row.payload.encode(), qos=1
                )
            downlink.mark_published(session, [r.id for r in rows], now=now)

    def _push_catalog_updates(self) -> None:
        with self._sessions() as session:
            version = catalog_repo.current_version(session)
            if version == 0:
                return
            behind = session.scalars(
                select(StoreSync.store_id)
                .join(StoreStatus, StoreStatus.store_id == StoreSync.store_id)
                .where(StoreStatus.online.is_(True), StoreSync.catalog_version_sent < version)
                .order_by(StoreSync.store_id)
            ).all()
        for store_id in behind:
            self._push_catalog(store_id, reported=None)


def _down_topic(store_id: str, channel: str) -> str:
    return {
        "orders": topics.down_orders,
        "cmd": topics.down_cmd,
        "catalog": topics.down_catalog,
    }[channel](store_id)
