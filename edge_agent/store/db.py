"""Opening the edge database (SQLite in WAL mode) and running writes that never half-happen.

One edge database per process: the peewee models are bound to ``database_proxy``
when ``open_database`` runs. Every connection (one per thread) gets the same
pragmas: WAL, the configured ``synchronous`` level, foreign keys and a busy
timeout, so a sale waits briefly for a lock and is then refused cleanly.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

import peewee

from edge_agent.store.errors import DatabaseLocked, DiskFull, StoreUnavailable

_LOGGER = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT_MS = 2000

database_proxy = peewee.DatabaseProxy()


class Synchronous(StrEnum):
    """SQLite ``synchronous`` levels the agent accepts (see docs/edge.md for the measurements)."""

    FULL = "FULL"
    NORMAL = "NORMAL"


def open_database(
    path: str | Path,
    *,
    synchronous: Synchronous = Synchronous.FULL,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    bind: bool = True,
) -> peewee.SqliteDatabase:
    """Open (creating if needed) the SQLite file and bind the models to it.

    Transactions begin IMMEDIATE: a writer takes the write lock at BEGIN, so the
    next seq is read and written under the same lock and two writers can never
    interleave.
    """
    db_path = Path(path)
    if str(db_path) != ":memory:":
        db_path.parent.mkdir(parents=True, exist_ok=True)
    db = peewee.SqliteDatabase(
        str(db_path),
        pragmas=[
            ("journal_mode", "wal"),
            ("synchronous", str(synchronous)),
            ("foreign_keys", 1),
            ("busy_timeout", busy_timeout_ms),
        ],
        lock_type="IMMEDIATE",
        # The busy timeout lives in the pragma; sqlite3's own timeout is in seconds.
        timeout=busy_timeout_ms / 1000,
        check_same_thread=False,
    )
    if bind:
        database_proxy.initialize(db)
    _LOGGER.debug("opened edge database %s (synchronous=%s)", db_path, synchronous)
    return db


def _classify(err: BaseException) -> StoreUnavailable | None:
    # SQLite rolls a transaction back by itself on SQLITE_FULL; peewee's own ROLLBACK
    # then fails with "no transaction is active", so look down the exception chain.
    seen: BaseException | None = err
    while seen is not None:
        text = str(seen).lower()
        if "locked" in text or "busy" in text:
            return DatabaseLocked(
                "the store database is busy (locked by another process); nothing was saved, "
                "try again"
            )
        if "full" in text:
            return DiskFull(
                "the disk is full; nothing was saved. Free space on the POS box, then retry"
            )
        if "disk i/o" in text or "readonly" in text or "read-only" in text:
            return StoreUnavailable(
                f"the store database cannot be written ({seen}); nothing was saved"
            )
        seen = seen.__cause__ or seen.__context__
    return None


def execute(
    db: peewee.Database | peewee.DatabaseProxy, statement: str, params: Sequence[Any] = ()
) -> Any:
    """Run one SQL statement on this thread's connection and return the cursor."""
    run: Callable[..., Any] = db.execute_sql
    return run(statement, params)


def connection_cursor(db: peewee.Database) -> sqlite3.Cursor:
    """A raw cursor on this thread's connection (for executemany on hot paths)."""
    make: Callable[[], sqlite3.Cursor] = db.cursor
    return make()


@contextmanager
def write_transaction(db: peewee.SqliteDatabase) -> Iterator[None]:
    """Run a block in one IMMEDIATE transaction; translate lock/disk errors into StoreUnavailable.

    Either the whole block commits or nothing does: peewee rolls back on any
    exception, including a failing COMMIT. Nested calls become savepoints.
    """
    try:
        with db.atomic():
            yield
    except (peewee.DatabaseError, sqlite3.DatabaseError) as err:
        translated = _classify(err)
        if translated is None:
            raise
        _LOGGER.warning("write refused by SQLite: %s", translated)
        raise translated from err
