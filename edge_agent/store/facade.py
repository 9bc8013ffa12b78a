"""``EdgeStore``: the opened edge database with every repository the agent uses."""

from __future__ import annotations

import logging
import secrets
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

import peewee

from edge_agent.domain.tax import StoreTaxPolicy, TaxRate
from edge_agent.store.cashiers import CashierRepository
from edge_agent.store.catalog import CatalogRepository
from edge_agent.store.counters import CounterName, next_value, raise_to, read_value
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
from edge_agent.store.orders import OrderRepository
from edge_agent.store.outbox import Outbox
from edge_agent.store.returns import ReturnsRepository
from edge_agent.store.sales import SalesRepository
from edge_agent.store.shifts import ShiftRepository
from edge_agent.store.stock import StockRepository

_LOGGER = logging.getLogger(__name__)

STORE_ID_KEY = "store_id"
SESSION_SECRET_KEY = "ui_session_secret"


def default_policy(currency: str = "GBP") -> StoreTaxPolicy:
    """A VAT-style policy (prices include tax; standard 20 %, reduced 5 %, zero 0 %)."""
    return StoreTaxPolicy(
        currency=currency,
        prices_include_tax=True,
        rates={
            "standard": TaxRate.from_bp(2000),
            "reduced": TaxRate.from_bp(500),
            "zero": TaxRate(0),
        },
    )


class EdgeStore:
    """The edge database of one store, migrated and bound, with its repositories."""

    def __init__(
        self,
        db: peewee.SqliteDatabase,
        store_id: str,
        *,
        policy: StoreTaxPolicy | None = None,
        tz: ZoneInfo | None = None,
        day_start: time = time(0, 0),
    ) -> None:
        self.db = db
        self.store_id = store_id
        self.policy = policy or default_policy()
        self.currency = self.policy.currency
        self.tz = tz or ZoneInfo("Europe/London")
        self.day_start = day_start
        self.outbox = Outbox(db, store_id)
        self.catalog = CatalogRepository(db)
        self.stock = StockRepository(db, self.outbox)
        self.inbound = InboundRepository(db)
        self.cashiers = CashierRepository(db)
        self.orders = OrderRepository(db, self.outbox)
        self.sales = SalesRepository(db, self.outbox, tz=self.tz, day_start=day_start)
        self.returns = ReturnsRepository(db, self.outbox, self.sales, self.catalog, self.policy)
        self.shifts = ShiftRepository(
            db,
            self.outbox,
            self.sales,
            self.returns,
            currency=self.currency,
            tz=self.tz,
            day_start=day_start,
        )

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
    policy: StoreTaxPolicy | None = None,
    tz: ZoneInfo | None = None,
    day_start: time = time(0, 0),
) -> EdgeStore:
    """Open the database file, apply pending migrations and check it belongs to ``store_id``."""
    db = open_database(path, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms)
    db.connect(reuse_if_open=True)
    migrate(db)
    store = EdgeStore(db, store_id, policy=policy, tz=tz, day_start=day_start)
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
