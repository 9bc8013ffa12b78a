"""Dead letters: what could not be applied, why, and the raw payload to replay after a fix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.db.models import DeadLetter
from hub.db.stores import NotFound
from hub.db.util import table_of

MAX_DETAIL_CHARS = 4000


@dataclass(frozen=True, slots=True)
class DeadLetterIn:
    """A dead letter to record."""

    topic: str
    reason: str
    detail: str
    payload: bytes
    store_id: str | None = None
    seq: int | None = None
    event_id: str | None = None
    item_index: int | None = None


def add_dead_letters(session: Session, letters: list[DeadLetterIn], *, now: datetime) -> None:
    """Insert dead letters (in the caller's transaction)."""
    if not letters:
        return
    session.execute(
        table_of(DeadLetter).insert(),
        [
            {
                "received_at": now,
                "topic": d.topic[:256],
                "store_id": (d.store_id or None) and d.store_id[:64],
                "seq": d.seq,
                "event_id": d.event_id and d.event_id[:64],
                "item_index": d.item_index,
                "reason": d.reason[:64],
                "detail": d.detail[:MAX_DETAIL_CHARS],
                "payload": d.payload,
                "status": "open",
                "replay_count": 0,
            }
            for d in letters
        ],
    )


def get_dead_letter(session: Session, dead_letter_id: int) -> DeadLetter:
    """The dead letter or NotFound."""
    row = session.get(DeadLetter, dead_letter_id)
    if row is None:
        raise NotFound(f"no dead letter {dead_letter_id}")
    return row


def open_counts_by_reason(session: Session) -> dict[str, int]:
    """Open dead letters per reason."""
    rows = session.execute(
        select(DeadLetter.reason, func.count())
        .where(DeadLetter.status == "open")
        .group_by(DeadLetter.reason)
    )
    return {reason: int(n) for reason, n in rows}


def discard_dead_letter(session: Session, dead_letter_id: int, *, now: datetime) -> DeadLetter:
    """Mark a dead letter handled without applying it."""
    row = get_dead_letter(session, dead_letter_id)
    row.status = "discarded"
    row.resolved_at = now
    return row
