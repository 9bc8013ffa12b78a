"""A locked database or a full disk refuses the change cleanly: nothing is half written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge_agent.store.errors import DatabaseLocked, DiskFull
from edge_agent.store.models import OutboxEvent
from tests.edge.store.helpers import make_store, seed_catalog


def test_locked_database_refuses_the_change(tmp_path: Path) -> None:
    """GIVEN another process holds the write lock longer than the busy timeout
    WHEN stock is booked THEN it is refused with a clear message and nothing is written."""
    store = make_store(tmp_path / "edge.db", busy_timeout_ms=100)
    seed_catalog(store)
    other = sqlite3.connect(tmp_path / "edge.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseLocked, match="nothing was saved"):
            store.stock.receive("MILK-1L", 5)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.stock.level("MILK-1L").on_hand == 0
    assert OutboxEvent.select().count() == 0
    assert store.stock.receive("MILK-1L", 5).seq == 1  # no seq was burnt
    store.close()


def test_full_disk_refuses_the_change(tmp_path: Path) -> None:
    """GIVEN the database cannot grow (SQLite's page limit stands in for a full disk)
    WHEN a change needs new pages THEN it is refused and the stock row is rolled back too."""
    store = make_store(tmp_path / "edge.db")
    seed_catalog(store)
    pages = store.db.execute_sql("PRAGMA page_count").fetchone()[0]
    store.db.execute_sql(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(DiskFull, match="disk is full"):
        store.stock.receive("BREAD", 3, reference="r" * 20_000)
    store.db.execute_sql("PRAGMA max_page_count = 1073741823")
    assert store.stock.level("BREAD").on_hand == 0
    assert OutboxEvent.select().count() == 0
    assert store.stock.receive("BREAD", 3).seq == 1
    assert store.db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()
