"""Small database helpers shared by the repositories: dialect-aware upserts, row locks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(session: Session, table: Any) -> Any:
    """A dialect INSERT that supports ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def for_update(session: Session, stmt: Select[Any]) -> Select[Any]:
    """Lock the selected rows on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises writers).

    Callers select in primary-key order so every worker takes row locks in one order.
    """
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update()
    return stmt


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """Split a sequence into chunks of at most ``size`` items."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def table_of(model: Any) -> Table:
    """The Core table of a mapped class (for fast executemany without the ORM bulk path)."""
    table: Table = model.__table__
    return table
