"""Gap-free counters kept in the ``counter`` table (outbox seq, receipt numbers, bdSeq).

``next_value`` must run inside a write transaction: the increment commits or
rolls back together with the business change, so a rolled-back sale never
burns a seq and numbers stay gap-free.
"""

from __future__ import annotations

from enum import StrEnum

import peewee

from edge_agent.store.db import execute
from edge_agent.store.errors import StoreError


class CounterName(StrEnum):
    """The counters the edge keeps."""

    OUTBOX_SEQ = "outbox_seq"
    ACKED_SEQ = "acked_seq"
    RECEIPT_NO = "receipt_no"
    RETURN_NO = "return_no"
    BD_SEQ = "bd_seq"


def require_transaction(db: peewee.Database) -> None:
    """Raise unless the caller is inside a transaction (the invariant of every outbox write)."""
    if db.transaction_depth() == 0:
        raise StoreError("outbox writes must run inside the business change's transaction")


def next_value(db: peewee.Database, name: CounterName) -> int:
    """Increment a counter and return its new value (1 for the first)."""
    require_transaction(db)
    row = execute(
        db,
        "INSERT INTO counter (name, value) VALUES (?, 1) "
        "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
        (str(name),),
    ).fetchone()
    return int(row[0])


def read_value(db: peewee.Database, name: CounterName) -> int:
    """Return a counter's value (0 when it never moved)."""
    row = execute(db, "SELECT value FROM counter WHERE name = ?", (str(name),)).fetchone()
    return 0 if row is None else int(row[0])


def raise_to(db: peewee.Database, name: CounterName, value: int) -> int:
    """Set a counter to ``value`` if that is higher; return the resulting value."""
    row = execute(
        db,
        "INSERT INTO counter (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = MAX(value, excluded.value) RETURNING value",
        (str(name), value),
    ).fetchone()
    return int(row[0])
