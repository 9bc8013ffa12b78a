# ruff: noqa: F811  (the ``world`` fixture is imported from test_routing_wiring)
"""The dashboard's Warehouses page: a warehouse's staff take its part of an order from
accept to hand-over in the browser's forms (over HTTP, on SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from hub.app import create_app
from hub.config import HubSettings
from hub.dashboard.users import create_user
from hub.db import stock as stock_repo
from hub.db import stores
from hub.db.models_dashboard import AuditEntry
from hub.routing_service import set_location
from tests.hub.dashboard.conftest import PASSWORD, sign_in
from tests.routing_e2e.helpers import assignment
from tests.routing_e2e.test_routing_wiring import World, world  # noqa: F401  (fixture)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_a_warehouse_part_goes_from_accept_to_hand_over_on_the_page(world: World) -> None:
    with world.sessions.begin() as session:
        stores.create_warehouse(session, location_id="w-001", name="Hamburg DC", now=world.now)
        stock_repo.set_stock(session, "w-001", [("SKU-W", 3)], now=world.now, reference="test")
        set_location(session, "w-001", lat=53.5511, lon=9.9937, daily_capacity=None, now=world.now)
        create_user(session, username="ops", password=PASSWORD, roles="hq", now=world.now)
        create_user(session, username="look", password=PASSWORD, roles="viewer", now=world.now)
    world.order("W-9", [("SKU-W", 2)])
    world.run()
    engine = world.sessions.kw["bind"]
    assert isinstance(engine, Engine)
    settings = HubSettings(database_url=str(engine.url), ingest_enabled=False, alarms_enabled=False)
    with TestClient(create_app(settings, engine=engine)) as hq:
        sign_in(hq, "ops")
        page = hq.get("/dashboard/warehouses")
        assert page.status_code == 200
        assert "Hamburg DC" in page.text
        assert "2 × SKU-W" in page.text
        base = "/dashboard/warehouses/w-001/orders/W-9"
        for step, state in (("accept", "accepted"), ("pick", "picked"), ("pack", "packed")):
            answer = hq.post(f"{base}/{step}", data={"csrf_token": _csrf(page.text)})
            assert answer.status_code == 200, answer.text  # (redirect followed)
            assert f"W-9 at w-001: {state}" in answer.text
            page = answer
        assert assignment(world.sessions, "W-9", "w-001").state == "packed"
        refused = hq.post(
            f"{base}/hand-over", data={"csrf_token": _csrf(page.text), "carrier": "DHL"}
        )
        assert "carrier and the tracking number" in refused.text
        done = hq.post(
            f"{base}/hand-over",
            data={"csrf_token": _csrf(page.text), "carrier": "DHL", "tracking_number": "W-TRK"},
        )
        assert "W-9 at w-001: handed_over" in done.text
        assert "Nothing to ship." in done.text
        forged = hq.post(f"{base}/accept", data={"csrf_token": "forged"})
        assert forged.status_code == 403
    assert assignment(world.sessions, "W-9", "w-001").state == "handed_over"
    order = world.state("W-9")
    assert (order.routing_state, order.tracking_number) == ("handed_over", "W-TRK")
    assert world.level("w-001", "SKU-W") == (1, 0), "the hand-over consumed the reserved units"
    with world.sessions() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.actor == "ops").order_by(AuditEntry.id)
        ).all()
    assert [a for a in actions if a.startswith("warehouse.")] == [
        "warehouse.accept",
        "warehouse.pick",
        "warehouse.pack",
        "warehouse.hand-over",
        "warehouse.hand-over",
    ]
    with TestClient(create_app(settings, engine=engine)) as viewer:
        sign_in(viewer, "look")
        seen = viewer.get("/dashboard/warehouses")
        assert seen.status_code == 200
        assert "Hand over" not in seen.text
        token = _csrf(viewer.get("/dashboard/alarms").text)
        assert viewer.post(f"{base}/accept", data={"csrf_token": token}).status_code == 403
