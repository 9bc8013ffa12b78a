"""Apply a batch of inbound MQTT messages in one database transaction, exactly once.

For each batch:

1. decode every message (``protocol.codec``); what fails becomes a dead letter and
   never blocks the rest;
2. drop events from unknown or inactive stores (dead letters too);
3. in one transaction: lock the stores' sync rows in store order, insert one
   ``applied_events`` row per (store, seq) with INSERT ... ON CONFLICT DO NOTHING
   RETURNING, and apply the ledger changes of exactly the rows that were inserted;
   advance each store's contiguous seq; write the dead letters; commit.

If the batch transaction fails for an unexpected reason, every message is retried
alone, and a message that still fails is dead-lettered with reason
``apply_failed``; so one poison message never holds back the messages behind it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hub.db import downlink, stores
from hub.db.deadletters import SETTLING_REASONS, DeadLetterIn, add_dead_letters, settled_seqs
from hub.db.ledger import LedgerWriter, MovementContext
from hub.db.models import (
    AppliedEvent,
    OrderReservation,
    SaleFact,
    Store,
    StoreStatus,
    StoreSync,
)
from hub.db.util import bulk_insert, bulk_insert_new, for_update, table_of
from hub.domain.effects import EventPlan, OpKind, plan_event
from hub.domain.seqtrack import SeqState, advance, announce
from hub.logs import trace_id
from protocol.codec import (
    INT64_MAX,
    INT64_MIN,
    DecodedEvent,
    RejectedEvent,
    decode_event_batch,
    decode_status,
)
from protocol.errors import ProtocolError
from protocol.topics import parse_topic

_LOGGER = logging.getLogger(__name__)
MAX_RAW_EXCERPT = 8192
RETRYABLE_PG_CODES = frozenset({"40001", "40P01"})
MAX_ATTEMPTS = 4


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One MQTT message as received."""

    topic: str
    payload: bytes
    mid: int = 0
    received_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Birth:
    """A store came (or is) online: replay its pending messages and sync its catalog."""

    store_id: str
    catalog_version: int | None


@dataclass
class BatchResult:
    """What a batch did, and what to publish after its commit."""

    applied: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    statuses: int = 0
    acks: dict[str, int] = field(default_factory=dict)
    births: list[Birth] = field(default_factory=list)
    dead_reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    applied_per_store: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def merge(self, other: BatchResult) -> None:
        """Add another result (used when a failed batch is replayed message by message)."""
        self.applied += other.applied
        self.duplicates += other.duplicates
        self.dead_letters += other.dead_letters
        self.statuses += other.statuses
        self.acks.update(other.acks)
        self.births.extend(other.births)
        for k, v in other.dead_reasons.items():
            self.dead_reasons[k] += v
        for k, v in other.applied_per_store.items():
            self.applied_per_store[k] += v


@dataclass(frozen=True, slots=True)
class _Event:
    decoded: DecodedEvent
    topic: str
    item_index: int | None
    body: dict[str, Any]

    @property
    def key(self) -> tuple[str, int]:
        return (self.decoded.envelope.store, self.decoded.envelope.seq)


@dataclass(frozen=True, slots=True)
class _Status:
    topic: str
    store_id: str
    message: Any
    payload: bytes


Clock = Callable[[], datetime]
EventHook = Callable[[Session, list[tuple[str, str, dict[str, Any], datetime]], datetime], None]
"""Called in the batch transaction with the applied events: (store, type, body, at)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class BatchApplier:
    """Applies batches of inbound messages to the hub database."""

    def __init__(self, session_factory: sessionmaker[Session], *, clock: Clock = _utcnow) -> None:
        self._sessions = session_factory
        self._clock = clock
        self.event_hooks: list[EventHook] = []

    def apply(self, messages: Sequence[InboundMessage]) -> BatchResult:
        """Apply a batch; on an unexpected failure fall back to one message at a time."""
        if not messages:
            return BatchResult()
        try:
            return self._apply_with_retry(messages)
        except Exception as err:
            if len(messages) == 1:
                return self._apply_items_alone(messages[0], err)
            _LOGGER.exception(
                "batch of %d messages failed; applying them one by one", len(messages)
            )
        result = BatchResult()
        for message in messages:
            try:
                result.merge(self._apply_with_retry([message]))
            except Exception as err:  # noqa: BLE001 - a poison message must not stop the others
                result.merge(self._apply_items_alone(message, err))
        return result

    def _apply_items_alone(self, message: InboundMessage, err: Exception) -> BatchResult:
        """A message that fails on its own: apply the events of its batch one by one.

        One poison event must not take the good events of the same payload with it
        (they would be dead-lettered, never acked, and resent with it forever). Only
        the event that still fails alone is dead-lettered, with its seq and index.
        """
        items = _split_events(message)
        if items is None:
            return self._dead_letter_failed(message, err)
        _LOGGER.warning(
            "message on %s failed; applying its %d events one by one", message.topic, len(items)
        )
        result = BatchResult()
        for index, raw, single in items:
            try:
                result.merge(self._apply_with_retry([single]))
            except Exception as item_err:  # noqa: BLE001 - a poison event must not stop the others
                result.merge(self._dead_letter_failed(single, item_err, raw=raw, index=index))
        return result

    def _apply_with_retry(self, messages: Sequence[InboundMessage]) -> BatchResult:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return self._apply_once(messages)
            except (OperationalError, DBAPIError) as err:
                code = getattr(getattr(err, "orig", None), "sqlstate", None)
                if code not in RETRYABLE_PG_CODES or attempt == MAX_ATTEMPTS:
                    raise
                _LOGGER.warning("batch hit %s (attempt %d); retrying", code, attempt)
                time.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    def _dead_letter_failed(
        self,
        message: InboundMessage,
        err: Exception,
        *,
        raw: Any = None,
        index: int | None = None,
    ) -> BatchResult:
        _LOGGER.error(
            "message on %s could not be applied; dead-lettered",
            message.topic,
            exc_info=(type(err), err, err.__traceback__),
        )
        now = self._clock()
        with self._sessions.begin() as session:
            add_dead_letters(
                session,
                [
                    DeadLetterIn(
                        topic=message.topic,
                        reason="apply_failed",
                        detail=f"the hub failed to apply this message: {err!r}"[:500],
                        payload=message.payload,
                        store_id=_topic_store(message.topic),
                        seq=_readable_seq(raw),
                        event_id=_readable_id(raw),
                        item_index=index,
                    )
                ],
                now=now,
            )
        result = BatchResult(dead_letters=1)
        result.dead_reasons["apply_failed"] += 1
        return result

    # --- the batch ----------------------------------------------------------------------

    def _apply_once(self, messages: Sequence[InboundMessage]) -> BatchResult:
        now = self._clock()
        result = BatchResult()
        dead: list[DeadLetterIn] = []
        events: list[_Event] = []
        statuses: list[_Status] = []
        for message in messages:
            self._decode(message, events, statuses, dead)

        with self._sessions.begin() as session:
            candidates: set[str] = {
                d.store_id
                for d in dead
                if d.store_id and d.seq is not None and d.reason in SETTLING_REASONS
            }
            known = self._known_stores(
                session,
                {e.key[0] for e in events} | {s.store_id for s in statuses} | candidates,
            )
            events = self._drop_unknown(events, known, dead)
            statuses = [s for s in statuses if self._status_store_ok(s, known, dead)]
            settling = {store_id for store_id in candidates if known.get(store_id)}
            touched = {e.key[0] for e in events} | {s.store_id for s in statuses} | settling
            sync = self._lock_sync(session, touched)
            fresh, duplicates = self._claim(session, events, dead, now)
            result.duplicates = duplicates
            self._apply_events(session, fresh, now, result)
            for status in statuses:
                self._apply_status(session, status, sync, now, result)
            add_dead_letters(session, dead, now=now)
            self._advance(session, sync, {e.key[0] for e in events} | settling, now, result)
            stores.touch(session, touched, now=now)
        result.dead_letters = len(dead)
        for letter in dead:
            result.dead_reasons[letter.reason] += 1
            _LOGGER.warning(
                "dead letter: %s from %s seq %s: %s",
                letter.reason,
                letter.store_id,
                letter.seq,
                letter.detail[:200],
                extra={"trace_id": letter.event_id},
            )
        return result

    def _decode(
        self,
        message: InboundMessage,
        events: list[_Event],
        statuses: list[_Status],
        dead: list[DeadLetterIn],
    ) -> None:
        try:
            parsed = parse_topic(message.topic)
        except ProtocolError as err:
            dead.append(_dead(message.topic, err, message.payload, None))
            return
        if parsed.direction != "up":
            dead.append(
                DeadLetterIn(
                    message.topic, "invalid_topic", "not an up topic", message.payload, parsed.store
                )
            )
            return
        if parsed.channel == "status":
            if not message.payload:
                # a zero-length retained payload clears the topic (docs/protocol.md): nothing to do
                _LOGGER.info("status of %s cleared (empty retained payload)", parsed.store)
                return
            try:
                status = decode_status(message.topic, message.payload)
            except ProtocolError as err:
                dead.append(_dead(message.topic, err, message.payload, parsed.store))
                return
            statuses.append(_Status(message.topic, parsed.store, status, message.payload))
            return
        if parsed.channel != "events":
            dead.append(
                DeadLetterIn(
                    message.topic,
                    "invalid_topic",
                    f"unknown up channel {parsed.channel!r}",
                    message.payload,
                    parsed.store,
                )
            )
            return
        for item in decode_event_batch(message.topic, message.payload):
            if isinstance(item, RejectedEvent):
                dead.append(_dead_item(message.topic, item, message.payload, parsed.store))
                continue
            body = item.body.model_dump(mode="json")
            events.append(_Event(item, message.topic, None, body))

    def _known_stores(self, session: Session, store_ids: set[str]) -> dict[str, bool]:
        if not store_ids:
            return {}
        rows = session.execute(
            select(Store.id, Store.active).where(Store.id.in_(sorted(store_ids)))
        )
        return {sid: bool(active) for sid, active in rows}

    def _drop_unknown(
        self, events: list[_Event], known: dict[str, bool], dead: list[DeadLetterIn]
    ) -> list[_Event]:
        kept = []
        for event in events:
            store_id = event.key[0]
            if store_id in known and known[store_id]:
                kept.append(event)
                continue
            reason = "unknown_store" if store_id not in known else "store_inactive"
            detail = (
                f"store {store_id!r} is not known to the hub"
                if store_id not in known
                else f"store {store_id!r} is deactivated"
            )
            dead.append(_dead_event(event, reason, detail))
        return kept

    def _status_store_ok(
        self, status: _Status, known: dict[str, bool], dead: list[DeadLetterIn]
    ) -> bool:
        if known.get(status.store_id):
            return True
        reason = "unknown_store" if status.store_id not in known else "store_inactive"
        dead.append(
            DeadLetterIn(
                status.topic,
                reason,
                f"status from store {status.store_id!r}",
                status.payload,
                status.store_id,
            )
        )
        return False

    def _lock_sync(self, session: Session, store_ids: set[str]) -> dict[str, StoreSync]:
        """Lock the stores' sync rows in store order: serialises workers per store."""
        if not store_ids:
            return {}
        stmt = (
            select(StoreSync)
            .where(StoreSync.store_id.in_(sorted(store_ids)))
            .order_by(StoreSync.store_id)
            .execution_options(populate_existing=True)
        )
        rows = {row.store_id: row for row in session.scalars(for_update(session, stmt))}
        for store_id in sorted(store_ids - rows.keys()):
            row = StoreSync(
                store_id=store_id, contiguous_seq=0, highest_seen=0, catalog_version_sent=0
            )
            session.add(row)
            rows[store_id] = row
        session.flush()
        return rows

    def _claim(
        self, session: Session, events: list[_Event], dead: list[DeadLetterIn], now: datetime
    ) -> tuple[list[_Event], int]:
        """Insert the exactly-once rows; return the events that were new, and the duplicates."""
        by_key: dict[tuple[str, int], _Event] = {}
        duplicates = 0
        for event in sorted(events, key=lambda e: e.key):
            if event.key in by_key:
                if by_key[event.key].decoded.envelope.id == event.decoded.envelope.id:
                    duplicates += 1
                else:
                    dead.append(
                        _dead_event(
                            event, "seq_conflict", "another event in this batch has the same seq"
                        )
                    )
                continue
            by_key[event.key] = event
        ordered = list(by_key.values())
        if not ordered:
            return [], duplicates
        rows = [
            {
                "store_id": e.key[0],
                "seq": e.key[1],
                "event_id": e.decoded.envelope.id,
                "type": e.decoded.envelope.type,
                "at": e.decoded.envelope.at,
                "applied_at": now,
                "body": e.body,
            }
            for e in ordered
        ]
        inserted = {
            (str(sid), int(seq))
            for sid, seq in bulk_insert_new(
                session, table_of(AppliedEvent), rows, key=["store_id", "seq"]
            )
        }
        fresh = [e for e in ordered if e.key in inserted]
        rest = [e for e in ordered if e.key not in inserted]
        if rest:
            existing = {
                (sid, int(seq)): eid
                for sid, seq, eid in session.execute(
                    select(AppliedEvent.store_id, AppliedEvent.seq, AppliedEvent.event_id).where(
                        tuple_(AppliedEvent.store_id, AppliedEvent.seq).in_([e.key for e in rest])
                    )
                )
            }
            for event in rest:
                if existing.get(event.key) == event.decoded.envelope.id:
                    duplicates += 1
                elif event.key in existing:
                    dead.append(
                        _dead_event(
                            event,
                            "seq_conflict",
                            f"seq {event.key[1]} was already applied with event id "
                            f"{existing[event.key]}",
                        )
                    )
                else:
                    dead.append(
                        _dead_event(
                            event,
                            "duplicate_event_id",
                            f"event id {event.decoded.envelope.id} was already applied "
                            "under another seq",
                        )
                    )
        return fresh, duplicates

    def _apply_events(
        self, session: Session, fresh: list[_Event], now: datetime, result: BatchResult
    ) -> None:
        if not fresh:
            return
        plans = [(e, plan_event(e.decoded.envelope.type, e.body)) for e in fresh]
        reservations = self._load_reservations(session, plans)
        ledger = LedgerWriter(session, now=now)
        keys = {
            (e.key[0], op.sku)
            for e, plan in plans
            for op in plan.stock
            if op.op != OpKind.RELEASE_ORDER
        }
        keys |= {(r.location_id, r.sku) for rows in reservations.values() for r in rows}
        ledger.load(keys)
        facts: list[dict[str, Any]] = []
        acks: dict[str, list[Any]] = defaultdict(list)
        devices: dict[str, dict[str, Any]] = defaultdict(dict)
        for event, plan in plans:
            env = event.decoded.envelope
            with trace_id(str(env.id)):
                _LOGGER.debug("apply %s %s seq %d", env.type, env.store, env.seq)
                ctx = MovementContext(
                    at=env.at,
                    store_id=env.store,
                    seq=env.seq,
                    event_id=env.id,
                    event_type=env.type,
                    cashier_id=plan.cashier_id,
                )
                self._apply_stock(ledger, env.store, plan, ctx, reservations, now)
                facts.extend(_fact_rows(env.store, env.seq, env.at, plan))
                acks[env.store].extend(plan.acks)
                for update in plan.devices:
                    devices[env.store][update.device] = update.state
            result.applied += 1
            result.applied_per_store[env.store] += 1
        ledger.flush()
        if self.event_hooks:
            applied = [
                (e.key[0], e.decoded.envelope.type, e.body, e.decoded.envelope.at) for e, _ in plans
            ]
            for hook in self.event_hooks:
                hook(session, applied, now)
        if facts:
            bulk_insert(session, table_of(SaleFact), facts)
        for store_id, keys_ in acks.items():
            downlink.acknowledge(session, store_id, keys_, now=now, note="store event")
        for store_id, states in devices.items():
            status = session.get(StoreStatus, store_id)
            if status is not None:
                status.devices = {**(status.devices or {}), **states}

    def _load_reservations(
        self, session: Session, plans: list[tuple[_Event, EventPlan]]
    ) -> dict[tuple[str, str], list[OrderReservation]]:
        wanted = sorted({(e.key[0], p.order_id) for e, p in plans if p.order_id})
        if not wanted:
            return {}
        stmt = (
            select(OrderReservation)
            .where(tuple_(OrderReservation.location_id, OrderReservation.order_id).in_(wanted))
            .order_by(OrderReservation.order_id, OrderReservation.location_id, OrderReservation.sku)
        )
        found: dict[tuple[str, str], list[OrderReservation]] = defaultdict(list)
        for row in session.scalars(for_update(session, stmt)):
            found[(row.location_id, row.order_id)].append(row)
        return found

    def _apply_stock(
        self,
        ledger: LedgerWriter,
        location_id: str,
        plan: EventPlan,
        ctx: MovementContext,
        reservations: dict[tuple[str, str], list[OrderReservation]],
        now: datetime,
    ) -> None:
        for op in plan.stock:
            op_ctx = MovementContext(**{**_ctx_dict(ctx), "reference": op.reference})
            if op.op == OpKind.DELTA:
                ledger.delta(location_id, op.sku, op.qty, op.kind, op_ctx)
            elif op.op == OpKind.COUNT:
                ledger.count(location_id, op.sku, op.qty, op_ctx)
            elif op.op == OpKind.HAND_OVER:
                rows = reservations.get((location_id, op.order_id or ""), [])
                open_row = next((r for r in rows if r.sku == op.sku and r.status == "open"), None)
                if open_row is not None:
                    ledger.hand_over(location_id, op.sku, op.qty, op_ctx)
                    open_row.status = "handed_over"
                    open_row.updated_at = now
                else:
                    # Nothing reserved here (order routed elsewhere or unknown): plain delta.
                    ledger.delta(location_id, op.sku, -op.qty, op.kind, op_ctx)
            elif op.op == OpKind.RELEASE_ORDER:
                for row in reservations.get((location_id, op.order_id or ""), []):
                    if row.status == "open":
                        ledger.release(location_id, row.sku, row.qty, op_ctx)
                        row.status = "released"
                        row.updated_at = now

    def _apply_status(
        self,
        session: Session,
        status: _Status,
        sync: dict[str, StoreSync],
        now: datetime,
        result: BatchResult,
    ) -> None:
        msg = status.message
        result.statuses += 1
        if msg.online:
            extra = msg.model_extra or {}
            catalog_version = extra.get("catalog_version")
            if not isinstance(catalog_version, int):
                catalog_version = None
            stores.apply_birth(
                session,
                status.store_id,
                bd_seq=msg.bdSeq,
                at=msg.at,
                now=now,
                agent_version=msg.agent_version,
                outbox_depth=msg.outbox_depth,
                oldest_unsynced_age_s=msg.oldest_unsynced_age_s,
                last_seq=msg.last_seq,
                devices=msg.devices,
                catalog_version=catalog_version,
            )
            row = sync[status.store_id]
            state = announce(_state(row), msg.last_seq, now=now)
            _store_state(row, state, now)
            result.births.append(Birth(status.store_id, catalog_version))
            _LOGGER.info("store %s online (bdSeq %d)", status.store_id, msg.bdSeq)
        else:
            change = stores.apply_death(
                session, status.store_id, bd_seq=msg.bdSeq, at=msg.at, now=now
            )
            if change.applied:
                _LOGGER.warning(
                    "store %s offline (Last Will, bdSeq %d)", status.store_id, msg.bdSeq
                )
            else:
                _LOGGER.info("store %s: death ignored: %s", status.store_id, change.note)

    def _advance(
        self,
        session: Session,
        sync: dict[str, StoreSync],
        store_ids: Iterable[str],
        now: datetime,
        result: BatchResult,
    ) -> None:
        for store_id in sorted(store_ids):
            row = sync[store_id]
            above = session.scalars(
                select(AppliedEvent.seq)
                .where(AppliedEvent.store_id == store_id, AppliedEvent.seq > row.contiguous_seq)
                .order_by(AppliedEvent.seq)
            ).all()
            before = row.contiguous_seq
            seqs = [int(s) for s in above] + settled_seqs(session, store_id, row.contiguous_seq)
            state = advance(_state(row), seqs, now=now)
            _store_state(row, state, now)
            if state.contiguous > before:
                downlink.acknowledge_resends(session, store_id, state.contiguous, now=now)
            result.acks[store_id] = state.contiguous


def _state(row: StoreSync) -> SeqState:
    return SeqState(
        contiguous=row.contiguous_seq,
        highest_seen=row.highest_seen,
        gap_since=row.gap_since,
        last_resend_at=row.last_resend_at,
    )


def _store_state(row: StoreSync, state: SeqState, now: datetime) -> None:
    row.contiguous_seq = state.contiguous
    row.highest_seen = state.highest_seen
    row.gap_since = state.gap_since
    row.last_resend_at = state.last_resend_at
    row.updated_at = now


def _ctx_dict(ctx: MovementContext) -> dict[str, Any]:
    return {
        "at": ctx.at,
        "store_id": ctx.store_id,
        "seq": ctx.seq,
        "event_id": ctx.event_id,
        "event_type": ctx.event_type,
        "cashier_id": ctx.cashier_id,
        "reference": ctx.reference,
    }


def _fact_rows(store_id: str, seq: int, at: datetime, plan: EventPlan) -> list[dict[str, Any]]:
    return [
        {
            "kind": f.kind,
            "store_id": store_id,
            "channel": "store",
            "business_day": f.business_day,
            "at": at,
            "document_id": uuid.UUID(f.document_id),
            "receipt_no": f.receipt_no,
            "line_no": f.line_no,
            "sku": f.sku,
            "qty": f.qty,
            "amount_minor": f.amount_minor,
            "tax_minor": f.tax_minor,
            "currency": f.currency,
            "cashier_id": f.cashier_id,
            "seq": seq,
        }
        for f in plan.facts
    ]


def _topic_store(topic: str) -> str | None:
    try:
        return parse_topic(topic).store
    except ProtocolError:
        return None


def _dead(topic: str, err: ProtocolError, payload: bytes, store_id: str | None) -> DeadLetterIn:
    return DeadLetterIn(
        topic=topic,
        reason=err.reason,
        detail=str(err),
        payload=_kept(err.reason, payload),
        store_id=store_id,
    )


def _kept(reason: str, payload: bytes) -> bytes:
    """What a dead letter keeps: an oversized payload cannot be replayed, so only its head."""
    return payload[:MAX_RAW_EXCERPT] if reason == "too_large" else payload


def _readable_seq(raw: Any) -> int | None:
    """The seq of a raw event, when it is an integer a dead letter can store (64 bits)."""
    if not isinstance(raw, dict):
        return None
    seq = raw.get("seq")
    if isinstance(seq, int) and not isinstance(seq, bool) and INT64_MIN <= seq <= INT64_MAX:
        return seq
    return None


def _readable_id(raw: Any) -> str | None:
    if isinstance(raw, dict) and raw.get("id") is not None:
        return str(raw.get("id"))[:64]
    return None


def _split_events(message: InboundMessage) -> list[tuple[int, Any, InboundMessage]] | None:
    """The events of an ``up/events`` batch of several, each as a message of its own."""
    try:
        if parse_topic(message.topic).channel != "events":
            return None
        items = json.loads(message.payload)
        if not isinstance(items, list) or len(items) < 2:
            return None
        return [
            (
                index,
                raw,
                InboundMessage(
                    message.topic,
                    b"[" + _item_bytes(raw) + b"]",
                    message.mid,
                    message.received_at,
                ),
            )
            for index, raw in enumerate(items)
        ]
    except (ProtocolError, ValueError):  # not a batch we can split: dead-letter it whole
        return None


def _item_bytes(raw: Any) -> bytes:
    """One item of a batch as JSON bytes; escaped where it is not Unicode (lone surrogates)."""
    try:
        return json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(raw, separators=(",", ":")).encode("ascii")


def _dead_item(
    topic: str, item: RejectedEvent, payload: bytes, store_id: str | None
) -> DeadLetterIn:
    raw = item.raw
    seq, event_id = _readable_seq(raw), _readable_id(raw)
    if isinstance(raw, bytes | bytearray):
        data = bytes(raw)
    elif item.index is None:
        data = payload
    else:
        data = _item_bytes(raw)
    return DeadLetterIn(
        topic=topic,
        reason=item.error.reason,
        detail=str(item.error),
        payload=_kept(item.error.reason, data),
        store_id=store_id,
        seq=seq,
        event_id=event_id,
        item_index=item.index,
    )


def _dead_event(event: _Event, reason: str, detail: str) -> DeadLetterIn:
    env = event.decoded.envelope
    return DeadLetterIn(
        topic=event.topic,
        reason=reason,
        detail=detail,
        payload=env.model_dump_json().encode("utf-8"),
        store_id=env.store,
        seq=env.seq,
        event_id=str(env.id),
    )
