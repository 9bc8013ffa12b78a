"""The outbox: events waiting for the hub's ack, each with the store's next gap-free seq.

``append`` is called by repositories inside the business change's transaction,
so the change and its event commit together or not at all. The sync pump reads
rows in seq order and deletes them only when the hub acks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import peewee
from pydantic import BaseModel

from edge_agent.store.counters import CounterName, next_value, raise_to, read_value
from edge_agent.store.db import execute, write_transaction
from edge_agent.store.models import OutboxEvent, from_utc_text, to_utc_text
from protocol.codec import MAX_PAYLOAD_BYTES, encode
from protocol.envelope import Envelope, new_envelope

_LOGGER = logging.getLogger(__name__)

DEFAULT_BATCH_EVENTS = 100


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An outbox row as the pump sends it: seq and the encoded envelope (UTF-8 JSON)."""

    seq: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """What the birth message and the screen show about the outbox."""

    depth: int
    oldest_unsynced_age_s: float | None
    last_seq: int
    acked_seq: int


class Outbox:
    """The store's outbox in the edge database."""

    def __init__(self, db: peewee.SqliteDatabase, store_id: str) -> None:
        self._db = db
        self._store_id = store_id

    @property
    def store_id(self) -> str:
        """The store whose events this outbox carries."""
        return self._store_id

    def append(
        self, event_type: str, body: BaseModel | dict[str, Any], *, at: datetime | None = None
    ) -> Envelope:
        """Write one event with the next seq; must run inside the business change's transaction."""
        seq = next_value(self._db, CounterName.OUTBOX_SEQ)
        when = at or datetime.now(UTC)
        envelope = new_envelope(self._store_id, seq, event_type, body, at=when)
        execute(
            self._db,
            "INSERT INTO outbox (seq, id, type, envelope, created_at) VALUES (?, ?, ?, ?, ?)",
            (
                seq,
                str(envelope.id),
                event_type,
                encode(envelope).decode("utf-8"),
                to_utc_text(when),
            ),
        )
        _LOGGER.debug("outbox +%s seq=%d", event_type, seq)
        return envelope

    def pending(
        self,
        after_seq: int,
        *,
        limit: int = DEFAULT_BATCH_EVENTS,
        max_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> list[PendingEvent]:
        """Return the next events after ``after_seq`` in seq order that fit one batch payload."""
        rows = execute(
            self._db,
            "SELECT seq, envelope FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        batch: list[PendingEvent] = []
        size = 2  # the brackets of the JSON array
        for seq, text in rows:
            payload = str(text).encode("utf-8")
            if batch and size + len(payload) + 1 > max_bytes:
                break
            batch.append(PendingEvent(int(seq), payload))
            size += len(payload) + 1
        return batch

    def acked_seq(self) -> int:
        """Return the highest seq the hub has acked."""
        return read_value(self._db, CounterName.ACKED_SEQ)

    def first_seq(self) -> int | None:
        """Return the lowest seq still waiting for an ack, or None when empty."""
        value = OutboxEvent.select(peewee.fn.MIN(OutboxEvent.seq)).scalar()
        return None if value is None else int(value)

    def acknowledge(self, seq: int) -> int:
        """Delete every event with seq <= the acked seq; return how many were deleted.

        An ack beyond the last seq ever written is clamped (the hub cannot have
        applied events this store never wrote); an old ack changes nothing.
        """
        with write_transaction(self._db):
            last = read_value(self._db, CounterName.OUTBOX_SEQ)
            if seq > last:
                _LOGGER.warning("hub acked seq %d beyond the last written seq %d", seq, last)
                seq = last
            raise_to(self._db, CounterName.ACKED_SEQ, seq)
            deleted = OutboxEvent.delete().where(OutboxEvent.seq <= seq).execute()
        if deleted:
            _LOGGER.debug("acked through seq=%d, %d events removed", seq, deleted)
        return int(deleted)

    def stats(self, *, now: datetime | None = None) -> OutboxStats:
        """Return depth, age of the oldest unsynced event, last seq and acked seq."""
        # The rows left are always the contiguous seqs (acked, last]: depth and the oldest
        # row come from the primary key's ends, never from a scan of the (large) rows.
        # One statement, so one consistent snapshot even while the pump deletes rows.
        row = execute(
            self._db,
            "SELECT (SELECT MAX(seq) FROM outbox), seq, created_at FROM outbox "
            "ORDER BY seq LIMIT 1",
        ).fetchone()
        depth = 0
        age: float | None = None
        if row is not None:
            last, first, created = row
            depth = int(last) - int(first) + 1
            moment = now or datetime.now(UTC)
            age = max(0.0, (moment - from_utc_text(created)).total_seconds())
        return OutboxStats(
            depth=depth,
            oldest_unsynced_age_s=age,
            last_seq=read_value(self._db, CounterName.OUTBOX_SEQ),
            acked_seq=read_value(self._db, CounterName.ACKED_SEQ),
        )


def join_batch(events: list[PendingEvent]) -> bytes:
    """Join encoded envelopes into the JSON-array batch payload of ``up/events``."""
    return b"[" + b",".join(e.payload for e in events) + b"]"
