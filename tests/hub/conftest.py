"""Hub test fixtures: a migrated database (SQLite and PostgreSQL), stores, event builders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.db import stores
from hub.db.engine import make_sessionmaker

STORES = ("s-001", "s-002", "s-003")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


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
