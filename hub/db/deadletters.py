"""Dead letters: what could not be applied, why, and the raw payload to replay after a fix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, tuple_
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


SETTLING_REASONS = frozenset({"invalid_message", "unknown_type", "unsupported_version"})
"""Reasons for which a store's (store, seq) counts as received for the ack.

The event came over the store's own topic with a readable seq, and is kept whole for a
replay after the fix; holding the ack back for it would only make the store resend
the same event forever and keep its outbox from draining.
"""


def add_dead_letters(session: Session, letters: list[DeadLetterIn], *, now: datetime) -> None:
    """Insert dead letters (in the caller's transaction), once per open (store, seq, reason)."""
    if not letters:
        return
    keyed = {(d.store_id, d.seq) for d in letters if d.store_id and d.seq is not None}
    if keyed:
        existing = set(
            session.execute(
                select(DeadLetter.store_id, DeadLetter.seq, DeadLetter.reason).where(
                    DeadLetter.status == "open",
                    tuple_(DeadLetter.store_id, DeadLetter.seq).in_(sorted(keyed)),
                )
            ).all()
        )
        letters = [d for d in letters if (d.store_id, d.seq, d.reason) not in existing]
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


def settled_seqs(session: Session, store_id: str, above: int) -> list[int]:
    """The store's dead-lettered seqs above ``above`` that count as received (see above)."""
    return [
        seq
        for seq in session.scalars(
            select(DeadLetter.seq).where(
                DeadLetter.store_id == store_id,
                DeadLetter.seq > above,
                DeadLetter.reason.in_(sorted(SETTLING_REASONS)),
            )
        )
        if seq is not None
    ]
