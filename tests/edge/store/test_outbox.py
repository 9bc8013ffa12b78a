"""The outbox: one event per business change, in the same transaction, with a gap-free seq."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time

from edge_agent.store.db import write_transaction
from edge_agent.store.errors import StoreError, UnknownProduct
from edge_agent.store.facade import EdgeStore
from edge_agent.store.models import OutboxEvent, Stock
from edge_agent.store.outbox import join_batch
from tests.edge.store.helpers import make_store


def _seqs(store: EdgeStore) -> list[int]:
    return [e.seq for e in OutboxEvent.select().order_by(OutboxEvent.seq)]


def test_stock_change_and_event_are_written_together(store: EdgeStore) -> None:
    envelope = store.stock.receive("MILK-1L", 24, reference="PO-1")
    assert envelope.seq == 1
    assert envelope.store == "s-001"
    assert Stock.get(Stock.sku == "MILK-1L").on_hand == 24
    row = OutboxEvent.get(OutboxEvent.seq == 1)
    data = json.loads(row.envelope)
    assert data["type"] == "stock.received"
    assert data["body"] == {"sku": "MILK-1L", "qty": 24, "reference": "PO-1"}
    assert data["id"] == str(envelope.id) == row.id
    assert data["at"].endswith("Z")


def test_seq_is_gap_free_across_change_kinds(store: EdgeStore) -> None:
    store.stock.receive("MILK-1L", 10)
    store.stock.adjust("MILK-1L", -2, reason="damaged")
    store.stock.count("MILK-1L", 7)
    assert _seqs(store) == [1, 2, 3]
    assert store.stock.level("MILK-1L").on_hand == 7
    body = json.loads(OutboxEvent.get(OutboxEvent.seq == 3).envelope)["body"]
    assert body == {"sku": "MILK-1L", "counted": 7}


def test_failed_change_writes_nothing_and_burns_no_seq(store: EdgeStore) -> None:
    store.stock.receive("MILK-1L", 1)
    with pytest.raises(UnknownProduct):
        store.stock.receive("NO-SUCH-SKU", 1)

    def crash_before_commit() -> None:
        with write_transaction(store.db):
            store.stock.adjust("BREAD", 5, reason="found")
            raise RuntimeError("crash after the event, before commit")

    with pytest.raises(RuntimeError):
        crash_before_commit()
    store.stock.receive("BREAD", 2)
    assert _seqs(store) == [1, 2]
    assert store.stock.level("BREAD").on_hand == 2


def test_append_outside_a_transaction_is_refused(store: EdgeStore) -> None:
    with pytest.raises(StoreError, match="inside the business change's transaction"):
        store.outbox.append("stock.counted", {"sku": "MILK-1L", "counted": 1})
    assert _seqs(store) == []


def test_acknowledge_deletes_through_the_acked_seq_only(store: EdgeStore) -> None:
    for _ in range(5):
        store.stock.receive("APPLES", 1)
    assert store.outbox.acknowledge(3) == 3
    assert _seqs(store) == [4, 5]
    assert store.outbox.acknowledge(2) == 0  # an old ack changes nothing
    stats = store.outbox.stats()
    assert (stats.depth, stats.last_seq, stats.acked_seq) == (2, 5, 3)
    # An ack beyond what was ever written is clamped to the last seq.
    assert store.outbox.acknowledge(99) == 2
    assert store.outbox.stats().acked_seq == 5
    store.stock.receive("APPLES", 1)
    assert _seqs(store) == [6]


def test_stats_report_depth_and_oldest_age(store: EdgeStore) -> None:
    start = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    with freeze_time(start):
        store.stock.receive("SOAP", 3)
    with freeze_time(start + timedelta(seconds=90)):
        store.stock.receive("SOAP", 3)
        stats = store.outbox.stats()
    assert stats.depth == 2
    assert stats.oldest_unsynced_age_s == pytest.approx(90.0)
    store.outbox.acknowledge(2)
    assert store.outbox.stats().oldest_unsynced_age_s is None


def test_pending_batches_fit_the_payload_limit(store: EdgeStore) -> None:
    for _ in range(10):
        store.stock.receive("SOAP", 1, reference="x" * 200)
    one = len(store.outbox.pending(0, limit=1)[0].payload)
    batch = store.outbox.pending(0, limit=100, max_bytes=3 * one + 10)
    assert [e.seq for e in batch] == [1, 2, 3]
    payload = join_batch(batch)
    assert [item["seq"] for item in json.loads(payload)] == [1, 2, 3]
    assert [e.seq for e in store.outbox.pending(7)] == [8, 9, 10]


def test_concurrent_writers_get_distinct_gap_free_seqs(tmp_path: Path) -> None:
    """GIVEN four threads (the UI's request threads) booking stock at once
    THEN every event gets its own seq, with no gap and no duplicate."""
    store = make_store(tmp_path / "edge.db")
    store.catalog.upsert("X", "X", 100, "standard")
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(25):
                store.stock.receive("X", 1)
        except BaseException as err:
            errors.append(err)
        finally:
            store.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert _seqs(store) == list(range(1, 101))
    assert store.stock.level("X").on_hand == 100
