"""Exactly-once apply of event batches, on SQLite and PostgreSQL (no broker: BatchApplier)."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hub.db import orders, stores
from hub.db.downlink import pending_for_store
from hub.db.models import (
    AppliedEvent,
    DeadLetter,
    SaleFact,
    StockLevel,
    StockMovement,
    StoreOutage,
    StoreStatus,
    StoreSync,
)
from hub.ingest.apply import MAX_RAW_EXCERPT, BatchApplier, InboundMessage
from hub.ingest.replay import replay_dead_letter
from protocol import topics
from protocol.codec import MAX_PAYLOAD_BYTES, encode, encode_batch
from protocol.messages import OrderMessage
from tests.hub import events as ev
from tests.hub.conftest import NOW


def msg(store: str, envelopes: list, *, topic_store: str | None = None) -> InboundMessage:
    return InboundMessage(topics.up_events(topic_store or store), encode_batch(envelopes))


def status_msg(status) -> InboundMessage:
    return InboundMessage(topics.up_status(status.store), encode(status))


def level(session: Session, location: str, sku: str) -> StockLevel | None:
    return session.get(StockLevel, (location, sku))


def sync_of(session: Session, store: str) -> StoreSync:
    row = session.get(StoreSync, store)
    assert row is not None
    return row


def test_duplicate_delivery_applies_once(sessions: sessionmaker[Session]) -> None:
    applier = BatchApplier(sessions, clock=lambda: NOW)
    batch = [ev.counted("s-001", 1, "TEA", 10), ev.sale("s-001", 2, [("TEA", 3)])]
    first = applier.apply([msg("s-001", batch)])
    again = applier.apply([msg("s-001", batch), msg("s-001", batch[1:])])
    assert (first.applied, first.duplicates) == (2, 0)
    assert (again.applied, again.duplicates) == (0, 3)
    assert again.acks == {"s-001": 2}, "duplicates are acked again so the store can trim"
    with sessions() as s:
        tea = level(s, "s-001", "TEA")
        assert tea is not None
        assert tea.on_hand == 7
        assert s.scalar(select(func.count()).select_from(StockMovement)) == 2
        assert s.scalar(select(func.sum(SaleFact.qty))) == 3


def test_reordered_delivery_gives_the_same_stock(sessions: sessionmaker[Session]) -> None:
    applier = BatchApplier(sessions, clock=lambda: NOW)
    e1 = ev.counted("s-001", 1, "TEA", 10)
    e2 = ev.sale("s-001", 2, [("TEA", 2)])
    e3 = ev.counted("s-001", 3, "TEA", 20)
    e4 = ev.sale("s-001", 4, [("TEA", 1)])
    # Arrival order 4, 2, 3, 1: the count at seq 3 includes sale 2 but not sale 4.
    for e in (e4, e2, e3, e1):
        applier.apply([msg("s-001", [e])])
    with sessions() as s:
        tea = level(s, "s-001", "TEA")
        assert tea is not None
        assert (tea.on_hand, tea.last_count, tea.count_key) == (19, 20, 3)
        stale = s.scalars(select(StockMovement).where(StockMovement.stale.is_(True))).all()
        assert [m.seq for m in stale] == [1], "the count older than seq 3 is recorded as stale"
        assert sync_of(s, "s-001").contiguous_seq == 4


def test_a_gap_holds_the_ack_until_the_resend_fills_it(sessions: sessionmaker[Session]) -> None:
    applier = BatchApplier(sessions, clock=lambda: NOW)
    r = applier.apply([msg("s-001", [ev.received("s-001", s, "A", 1) for s in (1, 2, 4, 5)])])
    assert r.acks == {"s-001": 2}
    with sessions() as s:
        row = sync_of(s, "s-001")
        assert (row.contiguous_seq, row.highest_seen, row.gap_since) == (2, 5, NOW)
    r = applier.apply([msg("s-001", [ev.received("s-001", 3, "A", 1)])])
    assert r.acks == {"s-001": 5}
    with sessions() as s:
        row = sync_of(s, "s-001")
        assert (row.contiguous_seq, row.gap_since) == (5, None)
        a = level(s, "s-001", "A")
        assert a is not None
        assert a.on_hand == 5


def test_malformed_and_spoofed_messages_are_dead_lettered_and_valid_ones_behind_apply(
    sessions: sessionmaker[Session],
) -> None:
    applier = BatchApplier(sessions, clock=lambda: NOW)
    good = ev.sale("s-001", 1, [("TEA", 1)])
    spoofed = ev.sale("s-002", 1, [("TEA", 50)])  # s-002's event on s-001's topic
    bad_item = json.loads(ev.sale("s-001", 2, [("TEA", 1)]).model_dump_json())
    bad_item["body"]["lines"] = []
    later = ev.sale("s-001", 3, [("TEA", 2)])
    batch_payload = json.dumps(
        [json.loads(good.model_dump_json()), json.loads(spoofed.model_dump_json()), bad_item]
    ).encode()
    result = applier.apply(
        [
            InboundMessage(topics.up_events("s-001"), b"\xff not json"),
            InboundMessage(topics.up_events("s-001"), batch_payload),
            InboundMessage(
                topics.up_events("s-999"), encode_batch([ev.sale("s-999", 1, [("X", 1)])])
            ),
            InboundMessage("acorn/v1/store/s-001/up/weird", b"{}"),
            msg("s-001", [later]),
        ]
    )
    assert result.applied == 2
    assert dict(result.dead_reasons) == {
        "invalid_json": 1,
        "store_mismatch": 1,
        "invalid_message": 1,
        "unknown_store": 1,
        "invalid_topic": 1,
    }
    with sessions() as s:
        tea = level(s, "s-001", "TEA")
        assert tea is not None
        assert tea.on_hand == -3
        letters = s.scalars(select(DeadLetter).order_by(DeadLetter.id)).all()
        assert all(d.status == "open" and d.payload for d in letters)
        invalid = next(d for d in letters if d.reason == "invalid_message")
        assert (invalid.store_id, invalid.seq, invalid.item_index) == ("s-001", 2, 2)
        assert "lines" in invalid.detail
        assert json.loads(invalid.payload)["seq"] == 2, "the item alone is kept, ready to replay"
        row = sync_of(s, "s-001")
        assert row.contiguous_seq == 3, "the dead-lettered seq 2 does not hold the ack back"
        assert row.gap_since is None
    again = applier.apply([InboundMessage(topics.up_events("s-001"), batch_payload)])
    assert again.duplicates == 1
    assert again.dead_letters == 2
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 5, (
            "the same invalid event resent is not dead-lettered twice"
        )


def test_an_oversized_payload_keeps_only_its_head_and_an_empty_status_clears_quietly(
    sessions: sessionmaker[Session],
) -> None:
    """GIVEN a payload over the limit and a zero-length retained status THEN the first is
    dead-lettered with its head only, the second is skipped, and a good batch behind applies."""
    applier = BatchApplier(sessions, clock=lambda: NOW)
    huge = b"[" + b" " * MAX_PAYLOAD_BYTES + b"]"
    result = applier.apply(
        [
            InboundMessage(topics.up_events("s-001"), huge),
            InboundMessage(topics.up_status("s-001"), b""),
            msg("s-001", [ev.sale("s-001", 1, [("TEA", 1)])]),
        ]
    )
    assert result.applied == 1
    assert dict(result.dead_reasons) == {"too_large": 1}
    with sessions() as s:
        letter = s.scalars(select(DeadLetter)).one()
        assert letter.reason == "too_large"
        assert letter.payload == huge[:MAX_RAW_EXCERPT]


def test_quantities_beyond_32_bits_apply(sessions: sessionmaker[Session]) -> None:
    """GIVEN a count and a sale in the billions (valid 64-bit protocol integers) THEN the
    ledger holds them on both databases (PostgreSQL's INTEGER once refused them)."""
    applier = BatchApplier(sessions, clock=lambda: NOW)
    big = 3_000_000_000
    result = applier.apply(
        [msg("s-001", [ev.counted("s-001", 1, "TEA", big), ev.sale("s-001", 2, [("TEA", big)])])]
    )
    assert (result.applied, result.dead_letters) == (2, 0)
    with sessions() as s:
        tea = level(s, "s-001", "TEA")
        assert tea is not None
        assert (tea.last_count, tea.on_hand) == (big, 0)
        assert s.scalar(select(func.sum(SaleFact.qty))) == big


def test_seq_reused_by_another_event_is_dead_lettered(sessions: sessionmaker[Session]) -> None:
    applier = BatchApplier(sessions, clock=lambda: NOW)
    applier.apply([msg("s-001", [ev.received("s-001", 1, "A", 1)])])
    result = applier.apply([msg("s-001", [ev.received("s-001", 1, "A", 5)])])
    assert dict(result.dead_reasons) == {"seq_conflict": 1}
    with sessions() as s:
        a = level(s, "s-001", "A")
        assert a is not None
        assert a.on_hand == 1


def test_inactive_store_is_dead_lettered_and_replayed_after_reactivation(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        stores.update_store(s, "s-002", active=False)
    applier = BatchApplier(sessions, clock=lambda: NOW)
    result = applier.apply([msg("s-002", [ev.received("s-002", 1, "A", 4)])])
    assert dict(result.dead_reasons) == {"store_inactive": 1}
    with sessions() as s:
        letter_id = s.scalars(select(DeadLetter.id)).one()
    still = replay_dead_letter(sessions, letter_id, now=NOW)
    assert still.status == "open"
    with sessions.begin() as s:
        stores.update_store(s, "s-002", active=True)
    fixed = replay_dead_letter(sessions, letter_id, now=NOW)
    assert (fixed.status, fixed.result.applied) == ("resolved", 1)
    with sessions() as s:
        letter = s.get(DeadLetter, letter_id)
        assert letter is not None
        assert (letter.status, letter.replay_count) == ("resolved", 2)
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 1
        a = level(s, "s-002", "A")
        assert a is not None
        assert a.on_hand == 4


def test_replay_with_a_corrected_payload(sessions: sessionmaker[Session]) -> None:
    applier = BatchApplier(sessions, clock=lambda: NOW)
    item = json.loads(ev.received("s-001", 1, "A", 2).model_dump_json())
    item["body"]["qty"] = 0
    applier.apply([InboundMessage(topics.up_events("s-001"), json.dumps([item]).encode())])
    with sessions() as s:
        letter = s.scalars(select(DeadLetter)).one()
    item["body"]["qty"] = 2
    outcome = replay_dead_letter(sessions, letter.id, now=NOW, payload=json.dumps(item).encode())
    assert outcome.status == "resolved"
    with sessions() as s:
        assert s.get(AppliedEvent, ("s-001", 1)) is not None


def test_birth_and_last_will_with_bdseq(sessions: sessionmaker[Session]) -> None:
    applier = BatchApplier(sessions, clock=lambda: NOW)
    r = applier.apply([status_msg(ev.birth("s-001", 7, last_seq=3))])
    assert [b.store_id for b in r.births] == ["s-001"]
    applier.apply([status_msg(ev.death("s-001", 6))])  # stale death of an older connection
    with sessions() as s:
        status = s.get(StoreStatus, "s-001")
        assert status is not None
        assert (status.online, status.bd_seq, status.outbox_depth) == (True, 7, 3)
        assert status.devices["printer"]["state"] == "ok"
        assert sync_of(s, "s-001").highest_seen == 3, "birth's last_seq reveals events not seen"
    applier.apply([status_msg(ev.death("s-001", 7))])
    applier.apply([status_msg(ev.birth("s-001", 8))])
    with sessions() as s:
        status = s.get(StoreStatus, "s-001")
        assert status is not None
        assert (status.online, status.bd_seq) == (True, 8)
        outages = s.scalars(select(StoreOutage)).all()
        assert len(outages) == 1
        assert outages[0].ended_at is not None


def test_routed_order_is_pending_until_the_store_answers_and_handover_releases(
    sessions: sessionmaker[Session],
) -> None:
    applier = BatchApplier(sessions, clock=lambda: NOW)
    applier.apply([msg("s-001", [ev.counted("s-001", 1, "TEA", 10)])])
    order = OrderMessage.model_validate(
        {
            "id": str(uuid.uuid4()),
            "store": "s-001",
            "kind": "routed",
            "order_id": "o-1",
            "channel": "amazon",
            "lines": [{"sku": "TEA", "name": "Tea", "qty": 2}],
            "at": NOW,
        }
    )
    with sessions.begin() as s:
        orders.route_order(s, order, now=NOW)
    with sessions() as s:
        tea = level(s, "s-001", "TEA")
        assert tea is not None
        assert (tea.on_hand, tea.reserved) == (10, 2)
        assert [m.ref for m in pending_for_store(s, "s-001")] == ["o-1"]
    applier.apply(
        [
            msg(
                "s-001",
                [
                    ev.event("s-001", 2, "order.accepted", {"order_id": "o-1"}),
                    ev.counted("s-001", 3, "TEA", 9),
                    ev.handed_over("s-001", 4, "o-1", [("TEA", 2)]),
                ],
            )
        ]
    )
    with sessions() as s:
        tea = level(s, "s-001", "TEA")
        assert tea is not None
        assert (tea.on_hand, tea.reserved) == (7, 0), (
            "count kept the reservation; handover released it"
        )
        assert pending_for_store(s, "s-001") == []


def test_device_status_event_updates_the_store(sessions: sessionmaker[Session]) -> None:
    applier = BatchApplier(sessions, clock=lambda: NOW)
    body = {"device": "printer", "kind": "printer", "state": "paper_out", "since": NOW.isoformat()}
    applier.apply([msg("s-003", [ev.event("s-003", 1, "device.status", body)])])
    with sessions() as s:
        status = s.get(StoreStatus, "s-003")
        assert status is not None
        assert status.devices["printer"]["state"] == "paper_out"


def test_returns_restock_and_are_kept_as_facts(sessions: sessionmaker[Session]) -> None:
    applier = BatchApplier(sessions, clock=lambda: NOW)
    applier.apply(
        [
            msg(
                "s-001",
                [
                    ev.sale("s-001", 1, [("TEA", 3)], cashier="c-9"),
                    ev.returned("s-001", 2, "TEA", 1),
                    ev.returned("s-001", 3, "TEA", 1, restock=False),
                ],
            )
        ]
    )
    with sessions() as s:
        tea = level(s, "s-001", "TEA")
        assert tea is not None
        assert tea.on_hand == -2
        facts = s.scalars(select(SaleFact).order_by(SaleFact.seq)).all()
        assert [(f.kind, f.qty, f.amount_minor) for f in facts] == [
            ("sale", 3, 300),
            ("return", -1, -100),
            ("return", -1, -100),
        ]
        sale_move = s.scalars(select(StockMovement).where(StockMovement.seq == 1)).one()
        assert (sale_move.cashier_id, sale_move.event_type, sale_move.delta) == (
            "c-9",
            "sale.completed",
            -3,
        )
