"""peewee models of the persistent print queue, bound through a ``DatabaseProxy``.

The edge agent's database layer calls ``bind(db)`` with its own SQLite database
(WAL mode); standalone use (tests, tools) can call ``open_database(path)``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import peewee

database_proxy: Final = peewee.DatabaseProxy()

SQLITE_PRAGMAS: Final[dict[str, Any]] = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "busy_timeout": 5000,
    "foreign_keys": 1,
}
_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"


class UtcDateTimeField(peewee.Field):
    """An aware UTC datetime stored as fixed-width ISO 8601 text (sorts as it compares)."""

    field_type = "TEXT"

    def db_value(self, value: datetime | None) -> str | None:
        """Convert an aware datetime to its stored text."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UtcDateTimeField needs an aware datetime")
        return value.astimezone(UTC).strftime(_FORMAT)

    def python_value(self, value: str | None) -> datetime | None:
        """Parse stored text back into an aware UTC datetime."""
        if value is None:
            return None
        return datetime.strptime(value, _FORMAT).replace(tzinfo=UTC)


class BaseModel(peewee.Model):
    """Base of the device layer's tables."""

    class Meta:
        database = database_proxy


class PrintJob(BaseModel):
    """One print or drawer job; ``job_id`` makes every device action idempotent."""

    id = peewee.AutoField()
    job_id = peewee.CharField(max_length=200, unique=True)
    kind = peewee.CharField(max_length=32)
    payload_format = peewee.CharField(max_length=16)  # "commands" (JSON) or "raw" (bytes)
    payload = peewee.BlobField()
    state = peewee.CharField(max_length=16, index=True)
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = UtcDateTimeField()
    created_at = UtcDateTimeField()
    printed_at = UtcDateTimeField(null=True)
    last_error = peewee.TextField(default="")
    meta = peewee.TextField(default="{}")

    class Meta:
        table_name = "device_print_job"


DEVICE_MODELS: Final[list[type[peewee.Model]]] = [PrintJob]


def bind(db: peewee.Database) -> None:
    """Point the device models at ``db`` and create their tables if missing."""
    database_proxy.initialize(db)
    db.create_tables(DEVICE_MODELS, safe=True)


def open_database(path: str | Path) -> peewee.SqliteDatabase:
    """Open (or create) a SQLite file in WAL mode and bind the device models to it."""
    db = peewee.SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    bind(db)
    return db
