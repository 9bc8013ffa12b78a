"""Schema migrations: a newer agent opens an older file; an older agent refuses a newer one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge_agent.store.db import open_database
from edge_agent.store.errors import SchemaTooNew, StoreError
from edge_agent.store.facade import open_store
from edge_agent.store.migrations import LATEST_VERSION, MIGRATIONS, current_version, migrate
from edge_agent.store.models import ALL_MODELS


def test_fresh_file_is_migrated_to_latest(tmp_path: Path) -> None:
    store = open_store(tmp_path / "edge.db", "s-001")
    assert current_version(store.db) == LATEST_VERSION
    versions = [v for (v,) in store.db.execute_sql("SELECT version FROM schema_version")]
    assert versions == [m.version for m in MIGRATIONS]
    assert store.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_older_file_keeps_its_data_when_a_newer_agent_opens_it(tmp_path: Path) -> None:
    """GIVEN a file written by an agent that knew only migration 1, with a product and events
    WHEN the current agent opens it
    THEN the later migrations run and the old rows are intact."""
    path = tmp_path / "old.db"
    db = open_database(path, bind=False)
    assert migrate(db, target=1) == [1]
    db.execute_sql(
        "INSERT INTO product (sku, name, price_minor, tax_class, active, catalog_version, "
        "updated_at) VALUES ('OLD', 'Old thing', 100, 'standard', 1, 3, "
        "'2026-01-01T00:00:00.000000Z')"
    )
    db.execute_sql(
        "INSERT INTO outbox (seq, id, type, envelope, created_at) VALUES "
        "(1, 'e1', 'stock.counted', '{}', '2026-01-01T00:00:00.000000Z')"
    )
    db.execute_sql("INSERT INTO counter (name, value) VALUES ('outbox_seq', 1)")
    db.close()

    store = open_store(path, "s-001")
    assert current_version(store.db) == LATEST_VERSION
    assert store.catalog.get("OLD").name == "Old thing"
    assert store.outbox.stats().depth == 1
    assert store.last_seq() == 1
    assert {"sale", "routed_order"} <= set(store.db.get_tables())
    store.close()


def test_file_from_a_newer_agent_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    open_store(path, "s-001").close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO schema_version VALUES (?, 'from the future', '2030-01-01T00:00:00Z')",
            (LATEST_VERSION + 1,),
        )
    with pytest.raises(SchemaTooNew, match="upgrade the agent"):
        open_store(path, "s-001")


def test_database_of_another_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    open_store(path, "s-001").close()
    with pytest.raises(StoreError, match="belongs to store 's-001'"):
        open_store(path, "s-002")


def test_models_match_the_migrated_schema(tmp_path: Path) -> None:
    """Every model's columns exist in the migrated schema and nothing there is unmodelled."""
    store = open_store(tmp_path / "edge.db", "s-001")
    for model in ALL_MODELS:
        table = model._meta.table_name
        columns = {c.name for c in store.db.get_columns(table)}
        fields = {f.column_name for f in model._meta.sorted_fields}
        assert fields == columns, f"{table}: model {sorted(fields)} vs schema {sorted(columns)}"
    modelled = {m._meta.table_name for m in ALL_MODELS}
    tables = {t for t in store.db.get_tables() if not t.startswith("sqlite_")}
    assert tables == modelled
    store.close()
