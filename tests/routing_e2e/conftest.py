"""Routing wiring fixtures: the hub's migrated databases (SQLite and PostgreSQL), stores, orders."""

from __future__ import annotations

import pytest

from hub.db.engine import make_engine
from hub.db.migrate import upgrade
from tests.fixtures.postgres import PgServer
from tests.hub.conftest import (  # noqa: F401  (fixtures reused from the hub suite)
    hub_db_url,
    hub_engine,
    hub_sqlite_template,
    sessions,
)


@pytest.fixture(scope="session")
def hub_pg_database(pg_server: PgServer) -> str:
    """A migrated PostgreSQL database of this suite's own (the hub suite has its own too)."""
    name = pg_server.create_database("routing_tests")
    url = pg_server.url(name)
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url
