"""Hub test fixtures: a migrated database (SQLite and PostgreSQL), stores, event builders."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.db import stores
from hub.db.engine import make_engine, make_sessionmaker
from hub.db.migrate import upgrade
from hub.db.models import Base
from tests.fixtures.postgres import PgServer

STORES = ("s-001", "s-002", "s-003")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def hub_pg_database(pg_server: PgServer) -> str:
    """One migrated PostgreSQL database for the session; tests empty it instead of recreating.

    CREATE DATABASE plus the migration costs about a second on this machine; deleting
    every row costs a few milliseconds, and the schema under test is the same.
    """
    name = pg_server.create_database("hub_tests")
    url = pg_server.url(name)
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def hub_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (a copy is faster than migrating)."""
    path = tmp_path_factory.mktemp("hub-template") / "hub.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return path


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def hub_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated hub database: a fresh SQLite file, then PostgreSQL (emptied)."""
    if request.param == "sqlite":
        template = request.getfixturevalue("hub_sqlite_template")
        shutil.copyfile(template, tmp_path / "hub.db")
        return f"sqlite:///{tmp_path}/hub.db"
    url = str(request.getfixturevalue("hub_pg_database"))
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    finally:
        engine.dispose()
    return url


@pytest.fixture
def hub_engine(hub_db_url: str) -> Iterator[Engine]:
    """A migrated hub database (writer engine), once on SQLite and once on PostgreSQL."""
    engine = make_engine(hub_db_url, writer=True)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sessions(hub_engine: Engine) -> sessionmaker[Session]:
    """Session factory on the migrated database, with stores s-001..s-003 created."""
    factory = make_sessionmaker(hub_engine)
    with factory.begin() as session:
        for store_id in STORES:
            stores.create_store(
                session,
                store_id=store_id,
                name=f"Store {store_id}",
                timezone="Europe/Berlin",
                currency="EUR",
                now=NOW,
            )
    return factory
