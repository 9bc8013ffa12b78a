"""Numbered, frozen schema migrations for the edge database and the runner that applies them.

A newer agent opens an older database file and brings it forward, one
migration per transaction, recording each in ``schema_version``. An agent
refuses a file whose schema is newer than it knows. Never edit a migration that
has shipped; add the next one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import peewee

from edge_agent.store.db import execute
from edge_agent.store.errors import SchemaTooNew
from edge_agent.store.models import to_utc_text

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its number, a name and the SQL statements it runs."""

    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "catalog, stock, outbox, inbound, cashiers",
        (
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
            """CREATE TABLE product (
                sku TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                price_minor INTEGER NOT NULL,
                tax_class TEXT NOT NULL,
                active INTEGER NOT NULL DEFAULT 1,
                catalog_version INTEGER NOT NULL DEFAULT 0,
                updated_at TEXT NOT NULL)""",
            "CREATE INDEX product_name ON product (name COLLATE NOCASE)",
            """CREATE TABLE barcode (
                gtin14 TEXT PRIMARY KEY CHECK (length(gtin14) = 14),
                sku TEXT NOT NULL REFERENCES product (sku))""",
            "CREATE INDEX barcode_sku ON barcode (sku)",
            """CREATE TABLE stock (
                sku TEXT PRIMARY KEY REFERENCES product (sku),
                on_hand INTEGER NOT NULL DEFAULT 0,
                reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
                updated_at TEXT NOT NULL)""",
            """CREATE TABLE outbox (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                type TEXT NOT NULL,
                envelope TEXT NOT NULL,
                created_at TEXT NOT NULL)""",
            """CREATE TABLE inbound_message (
                id TEXT PRIMARY KEY,
                topic TEXT NOT NULL,
                kind TEXT NOT NULL,
                received_at TEXT NOT NULL)""",
            """CREATE TABLE dead_letter (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                received_at TEXT NOT NULL,
                topic TEXT NOT NULL,
                reason TEXT NOT NULL,
                detail TEXT NOT NULL,
                payload BLOB NOT NULL,
                payload_size INTEGER NOT NULL)""",
            """CREATE TABLE cashier (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('cashier', 'manager')),
                pin_hash TEXT NOT NULL,
                active INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL)""",
        ),
    ),
    Migration(
        2,
        "shifts, sales, voids, returns",
        (
            """CREATE TABLE shift (
                id TEXT PRIMARY KEY,
                cashier_id TEXT NOT NULL,
                business_day TEXT NOT NULL,
                opened_at TEXT NOT NULL,
                closed_at TEXT,
                currency TEXT NOT NULL,
                opening_float_minor INTEGER NOT NULL DEFAULT 0,
                counted_cash_minor INTEGER,
                report TEXT)""",
            # At most one open shift per till (this database is one till).
            "CREATE UNIQUE INDEX shift_one_open ON shift ((closed_at IS NULL)) "
            "WHERE closed_at IS NULL",
            "CREATE INDEX shift_cashier_id ON shift (cashier_id)",
            """CREATE TABLE sale (
                id TEXT PRIMARY KEY,
                receipt_no TEXT NOT NULL UNIQUE,
                cashier_id TEXT NOT NULL,
                shift_id TEXT,
                business_day TEXT NOT NULL,
                currency TEXT NOT NULL,
                subtotal_minor INTEGER NOT NULL,
                discount_minor INTEGER NOT NULL,
                tax_minor INTEGER NOT NULL,
                total_minor INTEGER NOT NULL,
                completed_at TEXT NOT NULL,
                body TEXT NOT NULL,
                document TEXT NOT NULL)""",
            "CREATE INDEX sale_shift_id ON sale (shift_id)",
            "CREATE INDEX sale_business_day ON sale (business_day)",
            "CREATE INDEX sale_completed_at ON sale (completed_at)",
            """CREATE TABLE sale_line (
                id INTEGER PRIMARY KEY,
                sale_id TEXT NOT NULL REFERENCES sale (id),
                line_no INTEGER NOT NULL,
                sku TEXT NOT NULL,
                gtin TEXT,
                name TEXT NOT NULL,
                qty INTEGER NOT NULL,
                unit_price_minor INTEGER NOT NULL,
                discount_minor INTEGER NOT NULL,
                tax_class TEXT NOT NULL,
                tax_rate_bp INTEGER NOT NULL,
                tax_minor INTEGER NOT NULL,
                total_minor INTEGER NOT NULL,
                UNIQUE (sale_id, line_no))""",
            "CREATE INDEX sale_line_sale_id ON sale_line (sale_id)",
            """CREATE TABLE tender (
                id INTEGER PRIMARY KEY,
                sale_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                amount_minor INTEGER NOT NULL,
                reference TEXT,
                change_minor INTEGER NOT NULL DEFAULT 0)""",
            "CREATE INDEX tender_sale_id ON tender (sale_id)",
            """CREATE TABLE sale_void (
                id TEXT PRIMARY KEY,
                cashier_id TEXT NOT NULL,
                shift_id TEXT,
                business_day TEXT NOT NULL,
                reason TEXT NOT NULL,
                currency TEXT NOT NULL,
                total_minor INTEGER NOT NULL,
                lines_count INTEGER NOT NULL,
                voided_at TEXT NOT NULL,
                document TEXT NOT NULL)""",
            "CREATE INDEX sale_void_shift_id ON sale_void (shift_id)",
            "CREATE INDEX sale_void_business_day ON sale_void (business_day)",
            """CREATE TABLE sale_return (
                id TEXT PRIMARY KEY,
                receipt_no TEXT NOT NULL UNIQUE,
                original_sale_id TEXT,
                original_receipt_no TEXT,
                cashier_id TEXT NOT NULL,
                manager_id TEXT,
                shift_id TEXT,
                business_day TEXT NOT NULL,
                currency TEXT NOT NULL,
                refund_total_minor INTEGER NOT NULL,
                completed_at TEXT NOT NULL,
                body TEXT NOT NULL,
                document TEXT NOT NULL)""",
            "CREATE INDEX sale_return_original_sale_id ON sale_return (original_sale_id)",
            "CREATE INDEX sale_return_shift_id ON sale_return (shift_id)",
            "CREATE INDEX sale_return_business_day ON sale_return (business_day)",
            """CREATE TABLE return_line (
                id INTEGER PRIMARY KEY,
                return_id TEXT NOT NULL REFERENCES sale_return (id),
                sku TEXT NOT NULL,
                qty INTEGER NOT NULL CHECK (qty > 0),
                refund_minor INTEGER NOT NULL,
                restock INTEGER NOT NULL)""",
            "CREATE INDEX return_line_return_id ON return_line (return_id)",
        ),
    ),
    Migration(
        3,
        "routed orders",
        (
            """CREATE TABLE routed_order (
                order_id TEXT PRIMARY KEY,
                status TEXT NOT NULL,
                channel TEXT NOT NULL,
                payload TEXT NOT NULL,
                received_at TEXT NOT NULL,
                updated_at TEXT NOT NULL)""",
        ),
    ),
    Migration(
        4,
        "order fulfilment steps",
        (
            """CREATE TABLE order_fulfilment (
                order_id TEXT PRIMARY KEY REFERENCES routed_order (order_id),
                picked TEXT NOT NULL DEFAULT '{}',
                reject_reason TEXT,
                note TEXT,
                carrier TEXT,
                tracking_number TEXT,
                parcels INTEGER,
                accepted_at TEXT,
                picked_at TEXT,
                packed_at TEXT,
                handed_over_at TEXT,
                printed_at TEXT,
                updated_at TEXT NOT NULL)""",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def current_version(db: peewee.SqliteDatabase) -> int:
    """Return the highest applied migration (0 for a new, empty file)."""
    if "schema_version" not in db.get_tables():
        return 0
    row = execute(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(row[0])


def migrate(db: peewee.SqliteDatabase, *, target: int = LATEST_VERSION) -> list[int]:
    """Apply every migration above the file's version up to ``target``; return those applied."""
    execute(
        db,
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    found = current_version(db)
    if found > LATEST_VERSION:
        raise SchemaTooNew(found, LATEST_VERSION)
    applied: list[int] = []
    for migration in MIGRATIONS:
        if migration.version <= found or migration.version > target:
            continue
        with db.atomic():
            # Re-read under the write lock: another process may have just applied it.
            if current_version(db) >= migration.version:
                continue
            for statement in migration.statements:
                execute(db, statement)
            execute(
                db,
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, to_utc_text(datetime.now(UTC))),
            )
        _LOGGER.info("edge database migrated to v%d (%s)", migration.version, migration.name)
        applied.append(migration.version)
    return applied
