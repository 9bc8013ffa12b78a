"""Down messages (routed orders, commands) kept until the store acknowledges them.

The hub writes a down message in the same transaction as the decision that causes
it, then publishes it after commit (a transactional outbox). Unpublished messages
are picked up by the scheduler; on every birth the store gets all its
unacknowledged ones again. Stores handle them idempotently by message id.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, select, tuple_, update
from sqlalchemy.orm import Session

from hub.db.models import DownMessage
from hub.domain.downlink import ACK_ON_REPLAY, AckKey, DownKind


def enqueue(
    session: Session,
    *,
    message_id: uuid.UUID,
    store_id: str,
    kind: DownKind,
    ref: str,
    channel: str,
    payload: str,
    now: datetime,
) -> DownMessage:
    """Record a down message to publish after commit."""
    row = DownMessage(
        id=message_id,
        store_id=store_id,
        kind=kind.value,
        ref=ref,
        channel=channel,
        payload=payload,
        created_at=now,
        publish_count=0,
    )
    session.add(row)
    session.flush()
    return row


def pending_for_store(session: Session, store_id: str) -> list[DownMessage]:
    """Every unacknowledged down message of a store, oldest first."""
    return list(
        session.scalars(
            select(DownMessage)
            .where(DownMessage.store_id == store_id, DownMessage.acked_at.is_(None))
            .order_by(DownMessage.created_at, DownMessage.id)
        )
    )


def unpublished(session: Session, *, limit: int = 500) -> list[DownMessage]:
    """Down messages written but never published (the worker died before publishing)."""
    return list(
        session.scalars(
            select(DownMessage)
            .where(DownMessage.published_at.is_(None), DownMessage.acked_at.is_(None))
            .order_by(DownMessage.created_at)
            .limit(limit)
        )
    )


def mark_published(
    session: Session, ids: Iterable[uuid.UUID], *, now: datetime, replay: bool = False
) -> None:
    """Record a publish; a replay on birth also acknowledges the kinds that have no answer."""
    ids = list(ids)
    if not ids:
        return
    session.execute(
        update(DownMessage)
        .where(DownMessage.id.in_(ids))
        .values(published_at=now, publish_count=DownMessage.publish_count + 1)
        .execution_options(synchronize_session=False)
    )
    if replay:
        session.execute(
            update(DownMessage)
            .where(
                DownMessage.id.in_(ids),
                DownMessage.kind.in_([k.value for k in ACK_ON_REPLAY]),
                DownMessage.acked_at.is_(None),
            )
            .values(acked_at=now, ack_note="replayed on birth")
            .execution_options(synchronize_session=False)
        )


def acknowledge(
    session: Session, store_id: str, keys: Iterable[AckKey], *, now: datetime, note: str
) -> int:
    """Mark the store's pending messages matching ``keys`` acknowledged; return how many."""
    pairs = sorted({(k.kind.value, k.ref) for k in keys})
    if not pairs:
        return 0
    result = session.execute(
        update(DownMessage)
        .where(
            DownMessage.store_id == store_id,
            DownMessage.acked_at.is_(None),
            tuple_(DownMessage.kind, DownMessage.ref).in_(pairs),
        )
        .values(acked_at=now, ack_note=note[:64])
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def acknowledge_resends(session: Session, store_id: str, contiguous: int, *, now: datetime) -> None:
    """Resend requests whose seq the contiguous seq has reached are done."""
    pending = session.scalars(
        select(DownMessage).where(
            DownMessage.store_id == store_id,
            DownMessage.kind == DownKind.CMD_RESEND_FROM.value,
            DownMessage.acked_at.is_(None),
        )
    )
    for row in pending:
        if int(row.ref) <= contiguous:
            row.acked_at = now
            row.ack_note = "gap closed"


def supersede_resends(session: Session, store_id: str, *, now: datetime) -> None:
    """A new resend request replaces the older ones still open."""
    session.execute(
        update(DownMessage)
        .where(
            DownMessage.store_id == store_id,
            DownMessage.kind == DownKind.CMD_RESEND_FROM.value,
            or_(DownMessage.acked_at.is_(None)),
        )
        .values(acked_at=now, ack_note="superseded")
        .execution_options(synchronize_session=False)
    )
