"""Replay a dead letter after a fix: the store exists now, the code is fixed, or a new payload."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from hub.db.deadletters import get_dead_letter
from hub.db.models import DeadLetter
from hub.ingest.apply import BatchApplier, BatchResult, InboundMessage


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    """``resolved`` when the message applied (or already had), else ``open`` and the reason."""

    status: str
    result: BatchResult
    reason: str | None = None
    detail: str | None = None


def replay_dead_letter(
    sessions: sessionmaker[Session],
    dead_letter_id: int,
    *,
    now: datetime,
    payload: bytes | None = None,
) -> ReplayOutcome:
    """Run the stored (or corrected) payload through ingest again.

    Success marks the dead letter resolved. A failure does not add a second dead
    letter: the original one gets the new reason and its replay count goes up.
    """
    with sessions() as session:
        letter = get_dead_letter(session, dead_letter_id)
        topic, stored = letter.topic, letter.payload
        mark = int(session.scalar(select(func.coalesce(func.max(DeadLetter.id), 0))) or 0)
    data = stored if payload is None else payload
    result = BatchApplier(sessions, clock=lambda: now).apply([InboundMessage(topic, data)])
    with sessions.begin() as session:
        letter = get_dead_letter(session, dead_letter_id)
        letter.replay_count += 1
        if payload is not None:
            letter.payload = payload
        if result.dead_letters == 0:
            letter.status = "resolved"
            letter.resolved_at = now
            return ReplayOutcome("resolved", result)
        fresh = session.scalars(
            select(DeadLetter)
            .where(DeadLetter.id > mark, DeadLetter.topic == topic, DeadLetter.payload == data)
            .order_by(DeadLetter.id)
        ).all()
        if fresh:
            letter.reason = fresh[0].reason
            letter.detail = fresh[0].detail
            session.execute(delete(DeadLetter).where(DeadLetter.id.in_([f.id for f in fresh])))
        return ReplayOutcome("open", result, letter.reason, letter.detail)
