"""Small database helpers shared by the repositories: dialect-aware upserts, row locks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Select, Table, bindparam, or_
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


def bulk_upsert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] = (),
    compare: Sequence[str] = (),
) -> None:
    """INSERT rows; on a key conflict update ``update`` columns where a ``compare`` column differs.

    PostgreSQL goes through COPY into a temporary table and one INSERT ... SELECT ...
    ON CONFLICT: per-row statements cost about 70 µs there, COPY a few. SQLite takes
    an executemany of INSERT ... ON CONFLICT, which is native speed already. With no
    ``update`` columns, conflicting rows are left alone.
    """
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        _pg_copy_upsert(session, table, rows, key=key, update=update, compare=compare)
        return
    ins = sqlite.insert(table)
    if update:
        where = None
        if compare:
            where = or_(*(table.c[c].is_distinct_from(ins.excluded[c]) for c in compare))
        stmt = ins.on_conflict_do_update(
            index_elements=list(key), set_={c: ins.excluded[c] for c in update}, where=where
        )
    else:
        stmt = ins.on_conflict_do_nothing()
    session.connection().execute(stmt, list(rows))


def _pg_values(table: Table, columns: Sequence[str], row: dict[str, Any]) -> list[Any]:
    """A row for COPY: JSON columns serialised, everything else as psycopg adapts it."""
    out = []
    for c in columns:
        value = row[c]
        if value is not None and isinstance(table.c[c].type, JSON):
            value = json.dumps(value, separators=(",", ":"))
        out.append(value)
    return out


def _pg_copy(
    cur: Any, target: str, table: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    with cur.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(_pg_values(table, columns, row))


def _pg_stage(cur: Any, table: Table) -> str:
    stage = f"_stage_{table.name}"
    # CREATE TABLE AS copies the columns but no NOT NULL: rows may fill a subset.
    cur.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DROP "
        f"AS SELECT * FROM {table.name} WITH NO DATA"
    )
    cur.execute(f"TRUNCATE {stage}")
    return stage


def _raw(session: Session) -> Any:
    raw = session.connection().connection.driver_connection
    assert raw is not None
    return raw


def _pg_copy_upsert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str],
    compare: Sequence[str],
) -> None:
    columns = list(rows[0].keys())
    names = ", ".join(columns)
    with _raw(session).cursor() as cur:
        stage = _pg_stage(cur, table)
        _pg_copy(cur, stage, table, columns, rows)
        if update:
            sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
            action = f"DO UPDATE SET {sets}"
            if compare:
                differs = " OR ".join(
                    f"{table.name}.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in compare
                )
                action += f" WHERE {differs}"
        else:
            action = "DO NOTHING"
        cur.execute(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} "
            f"ON CONFLICT ({', '.join(key)}) {action}"
        )


def bulk_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Plain INSERT of many rows: COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        with _raw(session).cursor() as cur:
            _pg_copy(cur, table.name, table, list(rows[0].keys()), rows)
        return
    session.connection().execute(table.insert(), list(rows))


def bulk_insert_new(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, key: Sequence[str]
) -> set[tuple[Any, ...]]:
    """INSERT ... ON CONFLICT DO NOTHING of many rows; return the keys actually inserted."""
    if not rows:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        columns = list(rows[0].keys())
        names = ", ".join(columns)
        with _raw(session).cursor() as cur:
            stage = _pg_stage(cur, table)
            _pg_copy(cur, stage, table, columns, rows)
            # ORDER BY: rows are claimed in key order, so concurrent claims lock alike.
            cur.execute(
                f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} "
                f"ORDER BY {', '.join(key)} ON CONFLICT DO NOTHING RETURNING {', '.join(key)}"
            )
            return {tuple(r) for r in cur.fetchall()}
    ins = sqlite.insert(table).on_conflict_do_nothing().returning(*(table.c[k] for k in key))
    return {tuple(r) for r in session.connection().execute(ins, list(rows))}


def bulk_update(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
) -> None:
    """UPDATE many rows by primary key (every non-key column of the dicts is set)."""
    if not rows:
        return
    columns = list(rows[0].keys())
    values = [c for c in columns if c not in key]
    if session.get_bind().dialect.name == "postgresql":
        with _raw(session).cursor() as cur:
            stage = _pg_stage(cur, table)
            _pg_copy(cur, stage, table, columns, rows)
            sets = ", ".join(f"{c} = s.{c}" for c in values)
            match = " AND ".join(f"t.{k} = s.{k}" for k in key)
            cur.execute(f"UPDATE {table.name} AS t SET {sets} FROM {stage} AS s WHERE {match}")
        return
    stmt = (
        table.update()
        .where(*(table.c[k] == bindparam(f"k_{k}", type_=table.c[k].type) for k in key))
        .values({c: bindparam(c, type_=table.c[c].type) for c in values})
    )
    params = [{**{f"k_{k}": r[k] for k in key}, **{c: r[c] for c in values}} for r in rows]
    session.connection().execute(stmt, params)
