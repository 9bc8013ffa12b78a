"""The whole agent wired by ``EdgeAgent``: UI server, devices (a file-sink printer), no broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edge_agent.app import EdgeAgent
from edge_agent.store.facade import open_store
from tests.edge.store.helpers import MILK_EAN
from tests.edge.ui.conftest import make_settings
from tests.fixtures.util import wait_until


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[EdgeAgent]:
    store = open_store(tmp_path / "edge.db", "s-001")
    store.catalog.upsert("MILK-1L", "Milk 1L", 129, "zero", barcodes=[MILK_EAN])
    store.cashiers.add("ann", "Ann", "1357")
    store.close()
    settings = make_settings(
        tmp_path,
        devices={
            "printer": {"kind": "filesink", "directory": str(tmp_path / "paper")},
            "scanner": {"kind": "none"},
        },
        receipt={"address_lines": ["1 High Street"], "footer_lines": ["See you soon"]},
    )
    (tmp_path / "paper").mkdir()
    running = EdgeAgent(settings)
    running.start()
    yield running
    running.stop()


def test_sale_prints_its_receipt_and_reprint_marks_a_copy(agent: EdgeAgent, tmp_path: Path) -> None:
    client = httpx.Client(base_url=agent.ui_url, timeout=10)
    assert client.get("/healthz").text == "ok\n"
    assert client.post("/api/login", json={"cashier_id": "ann", "pin": "1357"}).is_success
    client.post("/api/shift/open", json={"opening_float_minor": 5000})
    client.post("/api/cart/scan", json={"code": MILK_EAN, "qty": 2})
    done = client.post(
        "/api/cart/complete", json={"tenders": [{"kind": "cash", "amount_minor": 500}]}
    ).json()
    receipt_no = done["sale"]["receipt_no"]
    assert done["print_job"] is not None

    def printed() -> list[str]:
        return [p.read_text() for p in (tmp_path / "paper").glob("*.txt")]

    paper = wait_until(
        lambda: [t for t in printed() if receipt_no in t], 15, message="receipt printed"
    )[0]
    assert "Milk 1L" in paper
    assert "1 High Street" in paper
    assert "2.42" in paper  # change due on 5.00 for 2 x 1.29
    reprint = client.post(f"/api/sales/{receipt_no}/reprint")
    assert reprint.status_code == 202
    wait_until(lambda: any("COPY" in t for t in printed()), 15, message="copy printed")
    status = client.get("/api/status").json()
    assert status["devices"]["printer"]["online"] is True
    assert client.get("/api/devices/status").status_code == 200
    closed = client.post("/api/shift/close", json={"counted_cash_minor": 5258})
    assert closed.json()["print_job"] is not None
    z = wait_until(
        lambda: [t for t in printed() if "Z REPORT" in t], 15, message="Z report printed"
    )[0]
    assert "52.58" in z  # counted cash: float 50.00 + 2.58 taken
    client.close()
