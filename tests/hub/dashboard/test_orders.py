"""Orders and channels pages against the channel and routing tables: the review queue with its
reasons, approval from the dashboard (CSRF, audit), the unroutable queue, each order's routing
explanation, the orders CSV, and the channel account's health."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from hub.app import create_app
from hub.config import HubSettings
from hub.db.models_channels import MarketplaceOrder
from hub.db.models_dashboard import AuditEntry
from hub.ingest.apply import BatchApplier
from hub.routing_service import RoutingService, RoutingSettings, set_location
from tests.hub.conftest import NOW
from tests.hub.dashboard.conftest import csrf_of, sign_in
from tests.routing_e2e.helpers import POSITIONS, StorePlayer, make_account, make_order

ROUTING = {"accept_timeout_s": 600, "manual_review_over": {"EUR": "900.00"}}


@pytest.fixture
def orders_world(users: sessionmaker[Session]) -> dict[str, int]:
    """Three stores online with SKU-A; one order held for review, one unroutable, one routed."""
    player = StorePlayer(BatchApplier(users, clock=lambda: NOW))
    with users.begin() as s:
        account = make_account(s, now=NOW)
        for store, (lat, lon) in POSITIONS.items():
            set_location(s, store, lat=lat, lon=lon, daily_capacity=None, now=NOW)
    for store in POSITIONS:
        player.status(store, online=True, at=NOW)
        player.send(store, "stock.counted", {"sku": "SKU-A", "counted": 5}, at=NOW)
    with users.begin() as s:
        held = make_order(s, account.id, "A-9", [("SKU-A", 1)], now=NOW, total_minor=120_000)
        lost = make_order(s, account.id, "A-404", [("SKU-NONE", 1)], now=NOW)
        fine = make_order(s, account.id, "A-1", [("SKU-A", 2)], now=NOW)
        ids = {"held": held.id, "lost": lost.id, "fine": fine.id}
    RoutingService(users, RoutingSettings.from_mapping(ROUTING)).run_once(NOW)
    return ids


@pytest.fixture
def hq(hub_engine: Engine, orders_world: dict[str, int]) -> Iterator[TestClient]:
    """An HQ user signed in to a hub with the routing settings above."""
    settings = HubSettings(
        database_url=str(hub_engine.url),
        ingest_enabled=False,
        alarms_enabled=False,
        routing=ROUTING,
    )
    with TestClient(create_app(settings, engine=hub_engine)) as client:
        yield sign_in(client, "hq")


def test_review_queue_approval_and_explanation(
    hq: TestClient, orders_world: dict[str, int], users: sessionmaker[Session]
) -> None:
    """GIVEN an order held for review WHEN HQ approves it THEN it is routed, the decision and its
    explanation show on the order page, and the approval is in the audit log."""
    page = hq.get("/dashboard/orders")
    assert page.status_code == 200
    review = page.text.split('id="review-queue"')[1].split("</table>")[0]
    assert "A-9" in review
    unroutable = page.text.split('id="unroutable-queue"')[1].split("</table>")[0]
    assert "A-404" in unroutable
    assert "A-1<" not in review + unroutable
    held = orders_world["held"]
    refused = hq.post(f"/dashboard/orders/{held}/approve", data={"csrf_token": "nope"})
    assert refused.status_code == 403
    done = hq.post(
        f"/dashboard/orders/{held}/approve",
        data={"csrf_token": csrf_of(hq)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with users() as s:
        order = s.get(MarketplaceOrder, held)
        assert order is not None
        assert order.routing_state == "routed"
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "order.approve")).one()
        assert (entry.actor, entry.target, entry.outcome) == ("hq", "A-9", "ok")
    detail = hq.get(f"/dashboard/orders/{held}")
    assert "Routing decisions" in detail.text
    assert f"→ {order.routed_location}" in detail.text
    assert "Full explanation" in detail.text


def test_orders_csv_and_channels_page(hq: TestClient, orders_world: dict[str, int]) -> None:
    """The orders CSV has every order with its routing state; the channels page has the account."""
    rows = list(csv.DictReader(io.StringIO(hq.get("/dashboard/export/orders.csv").text)))
    states = {r["order_id"]: r["routing_state"] for r in rows}
    assert states == {"A-9": "manual_review", "A-404": "unroutable", "A-1": "routed"}
    assert {r["lines"] for r in rows if r["order_id"] == "A-1"} == {"SKU-A x2"}
    only_routed = hq.get("/dashboard/export/orders.csv", params={"state": "routed"}).text
    assert [r["order_id"] for r in csv.DictReader(io.StringIO(only_routed))] == ["A-1"]
    channels = hq.get("/dashboard/channels")
    assert channels.status_code == 200
    assert 'data-account="amazon-eu"' in channels.text


def test_the_order_list_pages_instead_of_cutting_off(
    hq: TestClient, orders_world: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN more orders than a page holds THEN page 2 shows the rest, and each page links
    to the other; a page number out of range is refused."""
    from hub.dashboard import orders_views

    monkeypatch.setattr(orders_views, "ORDER_LIMIT", 2)
    first = hq.get("/dashboard/orders").text.split("<h2>All orders", 1)[1]
    second = hq.get("/dashboard/orders", params={"p": 2}).text.split("<h2>All orders", 1)[1]
    on_first = {o for o in ("A-9", "A-404", "A-1") if f">{o}<" in first.split("pager")[0]}
    on_second = {o for o in ("A-9", "A-404", "A-1") if f">{o}<" in second.split("pager")[0]}
    assert len(on_first) == 2
    assert on_first | on_second == {"A-9", "A-404", "A-1"}
    assert not on_first & on_second
    assert "page 1 of 2" in first
    assert 'href="/dashboard/orders?p=2"' in first
    assert "page 2 of 2" in second
    assert hq.get("/dashboard/orders", params={"p": 0}).status_code == 422
