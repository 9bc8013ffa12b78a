"""Inbound message bookkeeping: ids already applied, and dead letters with their reason."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import peewee

from edge_agent.store.db import execute, write_transaction
from edge_agent.store.models import DeadLetter, InboundMessage, to_utc_text

_LOGGER = logging.getLogger(__name__)

# A dead letter keeps at most this much of the payload (the size is kept too).
MAX_DEAD_LETTER_PAYLOAD_BYTES = 64 * 1024
MAX_DETAIL_CHARS = 2000


@dataclass(frozen=True, slots=True)
class DeadLetterView:
    """A dead letter as the UI and the CLI list it."""

    id: int
    received_at: datetime
    topic: str
    reason: str
    detail: str
    payload_excerpt: str
    payload_size: int


class InboundRepository:
    """Dedupe inbound messages by id and keep the ones that could not be applied."""

    def __init__(self, db: peewee.SqliteDatabase) -> None:
        self._db = db

    def seen(self, message_id: str) -> bool:
        """Return True when a message with this id was applied before."""
        return InboundMessage.get_or_none(InboundMessage.id == message_id) is not None

    def mark_applied(self, message_id: str, topic: str, kind: str) -> bool:
        """Record an applied id inside the caller's transaction; False if it was already there."""
        cursor = execute(
            self._db,
            "INSERT OR IGNORE INTO inbound_message (id, topic, kind, received_at) "
            "VALUES (?, ?, ?, ?)",
            (message_id, topic, kind, to_utc_text(datetime.now(UTC))),
        )
        return bool(cursor.rowcount == 1)

    def dead_letter(self, topic: str, payload: bytes, reason: str, detail: str) -> int:
        """Keep a message that could not be applied; return the dead letter's id."""
        with write_transaction(self._db):
            row = DeadLetter.create(
                received_at=datetime.now(UTC),
                topic=topic[:512],
                reason=reason,
                detail=detail[:MAX_DETAIL_CHARS],
                payload=payload[:MAX_DEAD_LETTER_PAYLOAD_BYTES],
                payload_size=len(payload),
            )
        _LOGGER.warning("dead letter #%s on %s: %s (%s)", row.id, topic, reason, detail[:200])
        return int(row.id)

    def dead_letters(self, *, limit: int = 100) -> list[DeadLetterView]:
        """Return the most recent dead letters, newest first."""
        rows = DeadLetter.select().order_by(DeadLetter.id.desc()).limit(limit)
        return [
            DeadLetterView(
                id=r.id,
                received_at=r.received_at,
                topic=r.topic,
                reason=r.reason,
                detail=r.detail,
                payload_excerpt=bytes(r.payload[:500]).decode("utf-8", errors="replace"),
                payload_size=r.payload_size,
            )
            for r in rows
        ]

    def dead_letter_count(self) -> int:
        """Return how many dead letters are kept."""
        return int(DeadLetter.select().count())
