"""Fixtures of the cashier UI tests: the real Flask app on a werkzeug server on 127.0.0.1."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.serving import make_server

from edge_agent.app import open_store_for
from edge_agent.config import EdgeSettings, load_settings
from edge_agent.store.cashiers import Role
from edge_agent.store.facade import EdgeStore
from edge_agent.store.models import Stock
from edge_agent.ui.app import create_app
from tests.edge.store.helpers import seed_catalog

CASHIER = ("c1", "Ann", "1234")
MANAGER = ("m1", "Meg", "9876")


@dataclass
class Till:
    """A running cashier UI and what it runs on."""

    url: str
    settings: EdgeSettings
    store: EdgeStore

    def client(self) -> httpx.Client:
        """A fresh browser-like client (its own cookie jar)."""
        return httpx.Client(base_url=self.url, timeout=10.0)

    def login(self, who: tuple[str, str, str] = CASHIER) -> httpx.Client:
        """A client logged in as ``who``."""
        client = self.client()
        response = client.post("/api/login", json={"cashier_id": who[0], "pin": who[2]})
        assert response.status_code == 200, response.text
        return client


def make_settings(tmp_path: Path, **overrides: Any) -> EdgeSettings:
    """Settings of store s-001 with its database in tmp_path and sync off."""
    values: dict[str, Any] = {
        "store_id": "s-001",
        "store_name": "Acorn Market Test",
        "database": tmp_path / "edge.db",
        "sync": {"enabled": False},
        "ui": {"port": 0},
    }
    values.update(overrides)
    return load_settings(None, **values)


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the test catalog, stock, a cashier and a manager, made once.

    Hashing PINs with argon2 takes about 0.1 s each, so tests copy this file.
    """
    folder = tmp_path_factory.mktemp("seeded")
    settings = make_settings(folder)
    store = open_store_for(settings)
    seed_catalog(store)
    Stock.update(on_hand=50).execute()
    store.cashiers.add(*CASHIER)
    store.cashiers.add(*MANAGER, role=Role.MANAGER)
    store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return settings.database


@pytest.fixture
def till(tmp_path: Path, seeded_database: Path) -> Iterator[Till]:
    """The cashier UI of a store with the test catalog, stock, a cashier and a manager."""
    settings = make_settings(tmp_path, busy_timeout_ms=200)
    shutil.copyfile(seeded_database, settings.database)
    store = open_store_for(settings)
    app = create_app(settings, store=store)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield Till(f"http://127.0.0.1:{server.server_port}", settings, store)
    server.shutdown()
    server.server_close()
    thread.join(10)
    store.close()


@pytest.fixture
def cashier(till: Till) -> Iterator[httpx.Client]:
    """A logged-in cashier with the shift open (float 100.00)."""
    client = till.login()
    response = client.post("/api/shift/open", json={"opening_float_minor": 10_000})
    assert response.status_code == 201, response.text
    yield client
    client.close()
