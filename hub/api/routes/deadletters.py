"""/api/v1/dead-letters: what ingest could not apply, and replay after a fix."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from hub.api.deps import NowDep, Operator, SessionDep
from hub.api.schemas import DeadLetterPublic, PagePublic, ReplayRequest, ReplayResult
from hub.db import queries
from hub.db.deadletters import discard_dead_letter, get_dead_letter
from hub.db.models import DeadLetter
from hub.ingest.replay import replay_dead_letter

router = APIRouter(prefix="/dead-letters", tags=["dead letters"])
MAX_PAYLOAD_CHARS = 65536


def _public(row: DeadLetter) -> DeadLetterPublic:
    return DeadLetterPublic(
        id=row.id,
        received_at=row.received_at,
        topic=row.topic,
        store_id=row.store_id,
        seq=row.seq,
        event_id=row.event_id,
        item_index=row.item_index,
        reason=row.reason,
        detail=row.detail,
        status=row.status,
        replay_count=row.replay_count,
        resolved_at=row.resolved_at,
        payload=row.payload[:MAX_PAYLOAD_CHARS].decode("utf-8", errors="replace"),
    )


@router.get("", response_model=PagePublic[DeadLetterPublic])
def list_dead_letters(
    session: SessionDep,
    status: str | None = Query(None, pattern="^(open|resolved|discarded)$"),
    reason: str | None = None,
    store: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> PagePublic[DeadLetterPublic]:
    """Dead letters, newest first."""
    page = queries.dead_letters_page(
        session, limit=limit, offset=offset, status=status, reason=reason, store_id=store
    )
    return PagePublic(
        items=[_public(r[0]) for r in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{dead_letter_id}", response_model=DeadLetterPublic)
def get_one(dead_letter_id: int, session: SessionDep) -> DeadLetterPublic:
    """One dead letter with its payload."""
    return _public(get_dead_letter(session, dead_letter_id))


@router.post("/{dead_letter_id}/replay", response_model=ReplayResult)
def replay(
    dead_letter_id: int,
    request: Request,
    now: NowDep,
    _: Operator,
    body: ReplayRequest | None = None,
) -> ReplayResult:
    """Apply the dead letter again (optionally with a corrected payload)."""
    payload = None if body is None or body.payload is None else body.payload.encode("utf-8")
    outcome = replay_dead_letter(
        request.app.state.sessions, dead_letter_id, now=now, payload=payload
    )
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        for store_id, seq in outcome.result.acks.items():
            worker.publish_ack(store_id, seq)
    return ReplayResult(
        status=outcome.status,
        applied=outcome.result.applied,
        duplicates=outcome.result.duplicates,
        reason=outcome.reason,
        detail=outcome.detail,
    )


@router.post("/{dead_letter_id}/discard", response_model=DeadLetterPublic)
def discard(dead_letter_id: int, session: SessionDep, now: NowDep, _: Operator) -> DeadLetterPublic:
    """Mark a dead letter as handled without applying it."""
    return _public(discard_dead_letter(session, dead_letter_id, now=now))
