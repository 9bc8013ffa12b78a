"""``EdgeStore``: the opened edge database with every repository the agent uses."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import peewee

from edge_agent.store.cashiers import CashierRepository
from edge_agent.store.catalog import CatalogRepository
from edge_agent.store.counters import CounterName, raise_to, read_value
from edge_agent.store.db import (
    DEFAULT_BUSY_TIMEOUT_MS,
    Synchronous,
    open_database,
    write_transaction,
)
from edge_agent.store.errors import StoreError
from edge_agent.store.inbound import InboundRepository
from edge_agent.store.migrations import migrate
from edge_agent.store.models import MetaEntry
from edge_agent.store.outbox import Outbox
from edge_agent.store.stock import StockRepository

_LOGGER = logging.getLogger(__name__)

STORE_ID_KEY = "store_id"
SESSION_SECRET_KEY = "ui_session_secret"


class EdgeStore:
    """The edge database of one store, migrated and bound, with its repositories."""

    def __init__(self, db: peewee.SqliteDatabase, store_id: str) -> None:
        self.db = db
        self.store_id = store_id
        self.outbox = Outbox(db, store_id)
        self.catalog = CatalogRepository(db)
        self.stock = StockRepository(db, self.outbox)
        self.inbound = InboundRepository(db)
        self.cashiers = CashierRepository(db)

    def meta(self, key: str) -> str | None:
        """Return a value of the meta table."""
        row = MetaEntry.get_or_none(MetaEntry.key == key)
        return None if row is None else str(row.value)

    def set_meta(self, key: str, value: str) -> None:
        """Write a value of the meta table."""
        with write_transaction(self.db):
            MetaEntry.insert(key=key, value=value).on_conflict(
                conflict_target=[MetaEntry.key], update={MetaEntry.value: value}
            ).execute()

    def session_secret(self) -> str:
        """Return the UI's cookie-signing secret, created once per database and kept in it."""
        with write_transaction(self.db):
            row = MetaEntry.get_or_none(MetaEntry.key == SESSION_SECRET_KEY)
            if row is not None:
                return str(row.value)
            value = secrets.token_hex(32)
            MetaEntry.create(key=SESSION_SECRET_KEY, value=value)
            return value

    def next_bd_seq(self) -> int:
        """Take the bdSeq for a new MQTT connection (persisted, so it rises across restarts)."""
        from edge_agent.store.counters import next_value

        with write_transaction(self.db):
            return next_value(self.db, CounterName.BD_SEQ)

    def start_seq_at(self, first_seq: int) -> None:
        """Make the next outbox seq at least ``first_seq`` (a replacement box for a store)."""
        with write_transaction(self.db):
            raise_to(self.db, CounterName.OUTBOX_SEQ, first_seq - 1)
            raise_to(self.db, CounterName.ACKED_SEQ, first_seq - 1)

    def last_seq(self) -> int:
        """Return the last seq written to the outbox."""
        return read_value(self.db, CounterName.OUTBOX_SEQ)

    def close(self) -> None:
        """Close this thread's connection."""
        if not self.db.is_closed():
            self.db.close()


def open_store(
    path: str | Path,
    store_id: str,
    *,
    synchronous: Synchronous = Synchronous.FULL,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
) -> EdgeStore:
    """Open the database file, apply pending migrations and check it belongs to ``store_id``."""
    db = open_database(path, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms)
    db.connect(reuse_if_open=True)
    migrate(db)
    store = EdgeStore(db, store_id)
    with write_transaction(db):
        owner = MetaEntry.get_or_none(MetaEntry.key == STORE_ID_KEY)
        if owner is None:
            MetaEntry.create(key=STORE_ID_KEY, value=store_id)
        elif owner.value != store_id:
            raise StoreError(
                f"the edge database {path} belongs to store {owner.value!r}, not {store_id!r}; "
                "check store_id in the config or the database path",
                code="wrong_store",
            )
    return store
