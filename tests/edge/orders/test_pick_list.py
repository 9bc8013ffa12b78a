"""The pick list goes to the store's printer through the device manager's print queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edge_agent.app import EdgeAgent
from edge_agent.store.facade import open_store
from tests.edge.orders.test_online_orders import deliver, routed
from tests.edge.store.helpers import MILK_EAN
from tests.edge.ui.conftest import make_settings
from tests.fixtures.util import wait_until


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[EdgeAgent]:
    """A store agent with a file-sink printer and no sync."""
    store = open_store(tmp_path / "edge.db", "s-001")
    store.catalog.upsert("MILK-1L", "Milk 1L", 129, "zero", barcodes=[MILK_EAN])
    store.cashiers.add("ann", "Ann", "1357")
    store.close()
    (tmp_path / "paper").mkdir()
    settings = make_settings(
        tmp_path,
        devices={
            "printer": {"kind": "filesink", "directory": str(tmp_path / "paper")},
            "scanner": {"kind": "none"},
        },
    )
    running = EdgeAgent(settings)
    running.start()
    yield running
    running.stop()


def test_the_pick_list_is_printed_with_the_order_and_its_lines(
    agent: EdgeAgent, tmp_path: Path
) -> None:
    deliver(agent.store, routed("s-001", "P-1", [("MILK-1L", 3)]))
    client = httpx.Client(base_url=agent.ui_url, timeout=10)
    assert client.post("/api/login", json={"cashier_id": "ann", "pin": "1357"}).is_success
    printed = client.post("/api/orders/P-1/print")
    assert printed.status_code == 200, printed.text
    assert printed.json()["order"]["printed"] is True

    def paper() -> list[str]:
        return [p.read_text() for p in (tmp_path / "paper").glob("*.txt")]

    text = wait_until(lambda: [t for t in paper() if "P-1" in t], 15, message="pick list")[0]
    assert "Milk-1L" in text  # the name the hub sent with the order
    assert "Units 3" in text
    client.close()
