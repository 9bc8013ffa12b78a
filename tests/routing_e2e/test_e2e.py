"""End to end: Amazon sandbox -> hub (import, routing, ingest) -> Mosquitto -> two edge agents.

Real parts, all on 127.0.0.1: a Mosquitto with passwords and the Acorn ACL, the hub's
ingest worker with routing attached (as ``acorn hub serve`` wires it) on a SQLite file,
two complete edge agents (store, sync over MQTT, cashier UI over HTTP), the SP-API
sandbox with the channel's account runner. Staff steps go through the Online orders
API of each store's UI. Every wait is a bounded poll.

Stores: s-001 in Berlin Mitte, s-002 in Potsdam (27 km); ship-to 10117 Berlin, so
s-001 wins whenever it can ship.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edge_agent.store.orders import OrderStatus
from hub.app import create_app
from hub.auth import Role
from hub.channels.amazon.mapping import SkuMapping
from hub.channels.amazon.runner import AccountRunner
from hub.channels.amazon.sandbox import SandboxServer, SandboxState, Settings
from hub.config import HubSettings
from hub.db import channels as channel_repo
from hub.db import stores
from hub.db.engine import make_engine, make_sessionmaker
from hub.db.models import StockLevel
from hub.db.models_channels import ChannelAccount, MarketplaceOrder
from hub.db.models_routing import RoutingAssignment
from hub.db.tokens import create_token
from hub.ingest.worker import IngestWorker
from hub.routing_service import RoutingService, attach, set_location
from tests.channels.amazon.conftest import CIPHER, Scenario, account_for, ago, fast_client
from tests.fixtures.brokers import BrokerInfo, make_mosquitto
from tests.fixtures.util import free_port, wait_until
from tests.routing_e2e.helpers import POSITIONS

DE = "A1PA6795UKMFR9"
WAIT_S = 15.0
T = TypeVar("T")
ACORN = Path(sys.executable).parent / "acorn"

#: sku -> (name, EAN-13)
PRODUCTS = {
    "MUG": ("Acorn mug", "4006381333931"),
    "CUP": ("Espresso cup", "4006381333948"),
    "PEN": ("Fountain pen", "4006381333955"),
    "LAMP": ("Desk lamp", "4006381333962"),
    "VASE": ("Glass vase", "4006381333979"),
    "TRAY": ("Serving tray", "4006381333986"),
    "BOWL": ("Salad bowl", "4006381333993"),
    "JAR": ("Storage jar", "4006381334006"),
}
#: (store, sku) -> units on the shelf at the start
STOCK = {
    ("s-001", "MUG"): 2,
    ("s-002", "MUG"): 5,
    ("s-001", "CUP"): 5,
    ("s-002", "CUP"): 5,
    ("s-001", "PEN"): 4,
    ("s-001", "LAMP"): 1,
    ("s-002", "LAMP"): 3,
    ("s-001", "VASE"): 2,
    ("s-001", "TRAY"): 2,
    ("s-002", "BOWL"): 3,
}


def poll(predicate: Callable[[], T], message: str, timeout: float = WAIT_S) -> T:
    """Bounded wait with a readable failure."""
    return wait_until(predicate, timeout=timeout, interval=0.05, message=message)


@dataclass
class Store:
    """One edge agent process (``acorn edge run``) and a logged-in staff browser."""

    store_id: str
    process: subprocess.Popen[bytes]
    staff: httpx.Client

    def status(self, order_id: str) -> OrderStatus | None:
        response = self.staff.get(f"/api/orders/{order_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return OrderStatus(response.json()["status"])

    def reserved(self, sku: str) -> int:
        response = self.staff.get("/api/products/lookup", params={"code": PRODUCTS[sku][1]})
        response.raise_for_status()
        return int(response.json()["product"]["reserved"])


@dataclass
class World:
    """Everything the scenarios drive."""

    tmp: Path
    broker: BrokerInfo
    sessions: sessionmaker[Session]
    worker: IngestWorker
    routing: RoutingService
    scenario: Scenario
    seller: dict[str, Any]
    runner: AccountRunner
    api: TestClient
    token: str
    stores: dict[str, Store] = field(default_factory=dict)

    # --- marketplace ---------------------------------------------------------------------

    def amazon_order(self, sku: str, qty: int = 1, *, unit_price: str = "19.99") -> str:
        """A paid MFN order in the sandbox, imported into the hub (to_route); its id."""
        return self.amazon_order_of([(sku, qty)], unit_price=unit_price)

    def amazon_order_of(self, lines: list[tuple[str, int]], *, unit_price: str = "19.99") -> str:
        """A paid MFN order of several items in the sandbox, imported into the hub; its id."""
        order = self.scenario.add_orders(
            self.seller["seller_id"],
            marketplace_id=DE,
            purchase_date=ago(minutes=30),
            # inside the importer's window: after checkpoint - overlap, before now - margin
            last_update_date=ago(minutes=5),
            ship_to={"city": "Berlin", "postal_code": "10117", "country": "DE"},
            items=[
                {"seller_sku": f"AZ-{sku}", "quantity": qty, "unit_price": unit_price}
                for sku, qty in lines
            ],
        )[0]
        self.runner.import_orders()
        order_id = str(order["AmazonOrderId"])
        poll(lambda: self.order(order_id) is not None, f"{order_id} imported")
        return order_id

    def order(self, order_id: str) -> MarketplaceOrder | None:
        with self.sessions() as session:
            return session.scalars(
                select(MarketplaceOrder).where(MarketplaceOrder.marketplace_order_id == order_id)
            ).first()

    def routed_to(self, order_id: str, store_id: str) -> None:
        """Wait until the hub routed the order to the store and the store has it."""

        def there() -> bool:
            row = self.order(order_id)
            return bool(row and row.routing_state == "routed" and row.routed_location == store_id)

        poll(there, f"{order_id} routed to {store_id}")
        store = self.stores[store_id]
        poll(lambda: store.status(order_id) is not None, f"{order_id} received at {store_id}")

    def assignment(self, order_id: str, store_id: str) -> RoutingAssignment | None:
        with self.sessions() as session:
            return session.get(RoutingAssignment, (order_id, store_id))

    def level(self, store_id: str, sku: str) -> tuple[int, int]:
        with self.sessions() as session:
            row = session.get(StockLevel, (store_id, sku))
            return (0, 0) if row is None else (row.on_hand, row.reserved)

    # --- stores ----------------------------------------------------------------------------

    def start_store(self, store_id: str) -> Store:
        """Start the store's agent as its own process and log a member of staff in."""
        port = free_port()
        config = self.tmp / f"{store_id}.toml"
        config.write_text(
            f"""store_id = "{store_id}"
store_name = "Store {store_id}"
tz = "Europe/Berlin"
currency = "EUR"
database = "{self.tmp / f"{store_id}.db"}"

[broker]
host = "{self.broker.host}"
port = {self.broker.port}
username = "{store_id}"
keepalive_s = 5
connect_timeout_s = 5.0
backoff_initial_s = 0.05
backoff_max_s = 0.5

[sync]
ack_timeout_s = 2.0
status_interval_s = 0.5

[ui]
port = {port}
""",
            encoding="utf-8",
        )
        env = {**os.environ, "ACORN_EDGE_BROKER__PASSWORD": self.broker.users[store_id]}
        log = (self.tmp / f"{store_id}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [str(ACORN), "edge", "run", "--config", str(config), "--log-level", "warning"],
            env=env,
            stdout=log,
            stderr=log,
        )
        log.close()
        staff = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0)

        def ready() -> bool:
            assert process.poll() is None, (self.tmp / f"{store_id}.log").read_text()[-3000:]
            try:
                return staff.get("/healthz").status_code == 200
            except httpx.TransportError:
                return False

        poll(ready, f"{store_id} agent up", timeout=30)
        login = staff.post("/api/login", json={"cashier_id": "ann", "pin": "1357"})
        assert login.status_code == 200, login.text
        store = Store(store_id, process, staff)
        self.stores[store_id] = store
        poll(lambda: self._online(store_id), f"{store_id} online at the hub")
        return store

    def stop_store(self, store_id: str, *, kill: bool = False) -> None:
        """SIGTERM (a clean stop that says offline) or SIGKILL (the broker sends its Last Will)."""
        store = self.stores.pop(store_id)
        store.staff.close()
        if kill:
            store.process.kill()
        else:
            store.process.terminate()
        try:
            store.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            store.process.kill()
            store.process.wait(timeout=10)

    def _online(self, store_id: str) -> bool:
        from hub.db.models import StoreStatus

        with self.sessions() as session:
            status = session.get(StoreStatus, store_id)
            return bool(status and status.online)

    def step(self, store_id: str, order_id: str, path: str, body: Any = None) -> httpx.Response:
        return self.stores[store_id].staff.post(f"/api/orders/{order_id}{path}", json=body or {})


def _level_is(w: World, store_id: str, sku: str, want: tuple[int, int]) -> bool:
    return w.level(store_id, sku) == want


def _seed_edge(tmp: Path, store_id: str) -> None:
    """Catalog, a staff account and shelf counts, as provisioning and a first count leave them.

    The counts are outbox events: they reach the hub's ledger when the agent first syncs.
    """
    from edge_agent.store.facade import open_store

    store = open_store(tmp / f"{store_id}.db", store_id)
    try:
        for sku, (name, ean) in PRODUCTS.items():
            store.catalog.upsert(sku, name, 1999, "standard", barcodes=[ean])
        store.cashiers.add("ann", "Ann", "1357")
        for (where, sku), qty in STOCK.items():
            if where == store_id:
                store.stock.count(sku, qty)
    finally:
        store.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, hub_sqlite_template: Path) -> Iterator[World]:
    """The hub, two stores with stock synced to the hub's ledger, and the sandbox seller."""
    tmp = tmp_path_factory.mktemp("routing-e2e")
    # A broker of its own: persistent sessions and queued messages that other suites left
    # on the shared broker for the same store ids must not reach these agents.
    mosquitto = make_mosquitto(tmp_path_factory.mktemp("routing-e2e-broker"))
    shutil.copyfile(hub_sqlite_template, tmp / "hub.db")
    url = f"sqlite:///{tmp}/hub.db"
    engine = make_engine(url, writer=True)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    sandbox = SandboxServer(SandboxState(settings=Settings.fast_mode()))
    sandbox.__enter__()
    scenario = Scenario(sandbox.url)
    seller = scenario.add_seller(["DE"])
    with sessions.begin() as session:
        for store_id, (lat, lon) in POSITIONS.items():
            stores.create_store(
                session,
                store_id=store_id,
                name=f"Store {store_id}",
                timezone="Europe/Berlin",
                currency="EUR",
                now=now,
            )
            set_location(session, store_id, lat=lat, lon=lon, daily_capacity=None, now=now)
        account = channel_repo.add_account(session, account_for(sandbox, seller), CIPHER, now=now)
        channel_repo.import_mappings(
            session,
            account.id,
            [SkuMapping(sku, DE, f"AZ-{sku}", f"B0{i:08d}") for i, sku in enumerate(PRODUCTS)],
            now=now,
        )
        _, token = create_token(session, name="hq-e2e", roles=frozenset({Role.OPERATOR}), now=now)
    with sessions() as session:
        row = session.get(ChannelAccount, account.id)
        assert row is not None
    runner = AccountRunner(sessions, row, CIPHER, client_factory=fast_client)
    settings = HubSettings(
        database_url=url,
        mqtt_host=mosquitto.host,
        mqtt_port=mosquitto.port,
        mqtt_username="hub",
        mqtt_password=mosquitto.users["hub"],
        worker_id=f"e2e-{uuid.uuid4().hex[:8]}",
        scheduler_interval_s=0.1,
        resend_after_s=0.5,
        routing={"accept_timeout_s": 60, "manual_review_over": {"EUR": "500.00"}},
    )
    worker = IngestWorker(settings, sessions)
    routing = attach(worker, settings, engine)
    worker.start()
    app = create_app(settings, engine=engine)
    api = TestClient(app)
    w = World(
        tmp, mosquitto, sessions, worker, routing, scenario, seller, runner, api, token.plaintext
    )
    try:
        for store_id in ("s-001", "s-002"):
            _seed_edge(tmp, store_id)
        for store_id in ("s-001", "s-002"):
            w.start_store(store_id)
        for (store_id, sku), qty in STOCK.items():
            poll(functools.partial(_level_is, w, store_id, sku, (qty, 0)), f"{sku} at {store_id}")
        yield w
    finally:
        for store_id in list(w.stores):
            w.stop_store(store_id)
        worker.stop()
        api.close()
        mosquitto.stop()
        runner.close()
        sandbox.__exit__(None, None, None)
        engine.dispose()


def test_imported_routed_accepted_picked_handed_over_and_confirmed(world: World) -> None:
    order_id = world.amazon_order("MUG")
    world.routed_to(order_id, "s-001")  # nearest with stock
    store = world.stores["s-001"]
    assert store.reserved("MUG") == 1  # the till sees it at once
    assert world.level("s-001", "MUG") == (2, 1)
    listing = store.staff.get("/api/orders").json()["orders"]
    assert [(o["order_id"], o["status"]) for o in listing] == [(order_id, "routed")]
    assert listing[0]["timezone"] == "Europe/Berlin"
    assert world.step("s-001", order_id, "/accept").status_code == 200
    wrong = world.step("s-001", order_id, "/scan", {"code": PRODUCTS["CUP"][1]})
    assert wrong.status_code == 422
    assert "wrong item: CUP is not on order" in wrong.json()["message"]
    scanned = world.step("s-001", order_id, "/scan", {"code": PRODUCTS["MUG"][1]}).json()
    assert scanned["order_complete"] is True
    assert world.step("s-001", order_id, "/pack", {"parcels": 1}).status_code == 200
    handed = world.step(
        "s-001", order_id, "/hand-over", {"carrier": "DHL", "tracking_number": "00340434161"}
    )
    assert handed.json()["status"] == "handed_over"
    poll(lambda: world.order(order_id).routing_state == "handed_over", "hub sees the hand-over")  # type: ignore[union-attr]
    assert world.level("s-001", "MUG") == (1, 0)
    assignment = world.assignment(order_id, "s-001")
    assert assignment is not None
    assert assignment.state == "handed_over"
    assert world.runner.confirm_shipments() == 1
    row = world.order(order_id)
    assert row is not None
    assert (row.routing_state, row.shipment_state) == ("confirmed", "accepted")
    shipments = world.scenario.call("GET", f"/sellers/{world.seller['seller_id']}/shipments")
    assert [
        (p["order_id"], p["carrier_code"], p["tracking_number"]) for p in shipments["shipments"]
    ] == [(order_id, "DHL", "00340434161")]


def test_reject_out_of_stock_reroutes_and_corrects_the_stores_stock(world: World) -> None:
    order_id = world.amazon_order("MUG")
    world.routed_to(order_id, "s-001")
    rejected = world.step(
        "s-001", order_id, "/reject", {"reason": "out_of_stock", "shelf_counts": {"MUG": 0}}
    )
    assert rejected.json()["status"] == "rejected"
    world.routed_to(order_id, "s-002")
    poll(lambda: world.level("s-001", "MUG") == (0, 0), "s-001's MUG count reaches the hub")
    assert world.level("s-002", "MUG") == (5, 1)
    released = world.assignment(order_id, "s-001")
    assert released is not None
    assert (released.state, released.reject_reason) == ("released", "out_of_stock")


def test_no_accept_in_time_reroutes(world: World) -> None:
    patient = world.routing.settings
    world.routing.settings = replace(patient, accept_timeout=timedelta(seconds=1.5))
    try:
        order_id = world.amazon_order("CUP")
        world.routed_to(order_id, "s-001")
        world.routed_to(order_id, "s-002")  # nobody at s-001 accepted it
    finally:
        world.routing.settings = patient
    store = world.stores["s-001"]
    poll(lambda: store.status(order_id) is OrderStatus.CANCELLED, "s-001 told to stop")
    assert store.reserved("CUP") == 0
    late = world.step("s-001", order_id, "/accept")
    assert late.status_code == 409
    assert late.json()["error"] == "order_cancelled"


def test_store_offline_before_accepting_reroutes(world: World) -> None:
    order_id = world.amazon_order("CUP")
    world.routed_to(order_id, "s-001")
    world.stop_store("s-001", kill=True)  # the broker publishes its Last Will
    world.routed_to(order_id, "s-002")
    released = world.assignment(order_id, "s-001")
    assert released is not None
    assert released.release_reason == "store_offline"
    # Back online: the hub replays the cancellation it kept for s-001.
    store = world.start_store("s-001")
    poll(lambda: store.status(order_id) is OrderStatus.CANCELLED, "cancellation replayed")
    assert store.reserved("CUP") == 0


def test_marketplace_cancellation_in_the_middle_of_a_pick(world: World) -> None:
    order_id = world.amazon_order("PEN", 2)
    world.routed_to(order_id, "s-001")
    assert world.step("s-001", order_id, "/accept").status_code == 200
    first = world.step("s-001", order_id, "/scan", {"code": PRODUCTS["PEN"][1]}).json()
    assert (first["picked"], first["qty"]) == (1, 2)
    world.scenario.call("POST", f"/orders/{order_id}/cancel", {"at": ago(minutes=4)})
    world.runner.import_orders()
    store = world.stores["s-001"]
    poll(lambda: store.status(order_id) is OrderStatus.CANCELLED, "the pick is stopped")
    stopped = world.step("s-001", order_id, "/scan", {"code": PRODUCTS["PEN"][1]})
    assert stopped.status_code == 409
    assert "was cancelled" in stopped.json()["message"]
    poll(lambda: world.level("s-001", "PEN") == (4, 0), "reservation released at the hub")
    assert store.reserved("PEN") == 0


def test_manual_review_hold_and_release_through_the_api(world: World) -> None:
    order_id = world.amazon_order("VASE", unit_price="650.00")
    poll(lambda: world.order(order_id).routing_state == "manual_review", "held")  # type: ignore[union-attr]
    assert world.level("s-001", "VASE") == (2, 0)
    headers = {"Authorization": f"Bearer {world.token}"}
    queue = world.api.get("/api/v1/routing/reviews", headers=headers).json()["items"]
    assert order_id in [r["order_id"] for r in queue]
    assert world.api.post(f"/api/v1/routing/orders/{order_id}/approve").status_code == 401
    approved = world.api.post(f"/api/v1/routing/orders/{order_id}/approve", headers=headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["routing_state"] == "routed"
    world.routed_to(order_id, "s-001")
    detail = world.api.get(f"/api/v1/routing/orders/{order_id}", headers=headers).json()
    assert [d["outcome"] for d in detail["decisions"]] == ["manual_review", "routed"]
    assert detail["review"]["state"] == "approved"


def test_walk_in_sale_of_the_last_unit_while_an_order_is_in_flight(world: World) -> None:
    order_id = world.amazon_order("LAMP")
    world.routed_to(order_id, "s-001")
    staff = world.stores["s-001"].staff
    assert staff.post("/api/shift/open", json={"opening_float_minor": 0}).status_code == 201
    assert staff.post("/api/cart/items", json={"sku": "LAMP", "qty": 1}).status_code == 200
    [warning] = staff.get("/api/orders/walk-in-check").json()["warnings"]
    assert f"reserved for online order(s) {order_id}" in warning
    sold = staff.post(
        "/api/cart/complete", json={"tenders": [{"kind": "cash", "amount_minor": 1999}]}
    )
    assert sold.status_code in (200, 201), sold.text  # the till never refuses the sale
    world.routed_to(order_id, "s-002")
    store = world.stores["s-001"]
    poll(lambda: store.status(order_id) is OrderStatus.CANCELLED, "s-001 told to stop")
    released = world.assignment(order_id, "s-001")
    assert released is not None
    assert released.release_reason == "walk_in"
    # No oversell: the lamp sold over the counter is not promised online any more.
    assert world.level("s-001", "LAMP") == (0, 0)
    assert world.level("s-002", "LAMP") == (3, 1)
    with world.sessions() as session:
        for level in session.scalars(select(StockLevel)):
            assert level.reserved <= max(0, level.on_hand), (level.location_id, level.sku)


def test_after_a_run_of_till_sales_the_hubs_stock_equals_each_stores(world: World) -> None:
    """GIVEN two real agents synced through Mosquitto, WHEN cashiers ring a run of sales
    (cash and card, several SKUs, one going below zero at the till), THEN the hub's
    on-hand for every (store, SKU) equals the store's own, once the outboxes drain."""
    sales = [("s-002", "CUP", 2), ("s-002", "MUG", 1), ("s-001", "PEN", 3), ("s-001", "PEN", 2)]
    for store_id in ("s-001", "s-002"):
        staff = world.stores[store_id].staff
        staff.post("/api/shift/open", json={"opening_float_minor": 0})  # may be open already
    for store_id, sku, qty in sales:
        staff = world.stores[store_id].staff
        added = staff.post("/api/cart/items", json={"sku": sku, "qty": qty})
        assert added.status_code == 200, added.text
        due = staff.get("/api/cart").json()["cart"]["total"]["minor"]
        sold = staff.post(
            "/api/cart/complete", json={"tenders": [{"kind": "cash", "amount_minor": due}]}
        )
        assert sold.status_code in (200, 201), sold.text

    def store_on_hand(store_id: str, sku: str) -> int:
        staff = world.stores[store_id].staff
        response = staff.get("/api/products/lookup", params={"code": PRODUCTS[sku][1]})
        response.raise_for_status()
        return int(response.json()["product"]["on_hand"])

    assert store_on_hand("s-001", "PEN") == -1  # 4 on the shelf, 5 sold: allowed at the till
    for store_id, sku in STOCK:
        poll(
            functools.partial(
                lambda s, k: world.level(s, k)[0] == store_on_hand(s, k), store_id, sku
            ),
            f"hub on-hand of {sku} at {store_id} equals the store's",
        )


def test_split_over_two_stores_each_ships_and_confirms_its_own_package(world: World) -> None:
    """GIVEN an order of a tray (only s-001 has trays) and two bowls (only s-002 has bowls),
    WHEN it is routed, THEN each store gets its own lines and reserves them; each accepts,
    picks with scans and hands over on its own; Amazon gets one confirmShipment per package
    with its items and tracking, and the order is confirmed when both are."""
    order_id = world.amazon_order_of([("TRAY", 1), ("BOWL", 2)])

    def split() -> bool:
        row = world.order(order_id)
        return bool(row and row.routing_state == "routed")

    poll(split, f"{order_id} routed")
    for store_id in ("s-001", "s-002"):
        store = world.stores[store_id]
        poll(functools.partial(lambda s: s.status(order_id) is not None, store), f"at {store_id}")
    lines = {
        store_id: [
            (ln["sku"], ln["qty"])
            for ln in world.stores[store_id].staff.get(f"/api/orders/{order_id}").json()["lines"]
        ]
        for store_id in ("s-001", "s-002")
    }
    assert lines == {"s-001": [("TRAY", 1)], "s-002": [("BOWL", 2)]}
    assert world.stores["s-001"].reserved("TRAY") == 1
    assert world.stores["s-002"].reserved("BOWL") == 2
    assert world.level("s-001", "TRAY") == (2, 1)
    assert world.level("s-002", "BOWL") == (3, 2)
    headers = {"Authorization": f"Bearer {world.token}"}
    detail = world.api.get(f"/api/v1/routing/orders/{order_id}", headers=headers).json()
    [decision] = detail["decisions"]
    assert decision["outcome"] == "split"
    assert "split over 2 locations" in decision["summary"]

    # s-002 is quicker: its package leaves and is confirmed on its own.
    assert world.step("s-002", order_id, "/accept").status_code == 200
    wrong = world.step("s-002", order_id, "/scan", {"code": PRODUCTS["TRAY"][1]})
    assert wrong.status_code == 422  # the tray is s-001's part
    for _ in range(2):
        assert world.step("s-002", order_id, "/scan", {"code": PRODUCTS["BOWL"][1]}).is_success
    assert world.step("s-002", order_id, "/pack", {"parcels": 1}).status_code == 200
    handed = world.step(
        "s-002", order_id, "/hand-over", {"carrier": "DHL", "tracking_number": "B-1"}
    )
    assert handed.json()["status"] == "handed_over"

    def part_gone(store_id: str) -> bool:
        part = world.assignment(order_id, store_id)
        return bool(part and part.state == "handed_over")

    poll(lambda: part_gone("s-002"), "the hub sees s-002's hand-over")
    assert world.order(order_id).routing_state == "routed"  # type: ignore[union-attr]
    assert world.runner.confirm_shipments() == 1
    seller = world.seller["seller_id"]

    def packages() -> list[tuple[str, str, list[tuple[str, int]], str]]:
        rows = world.scenario.call("GET", f"/sellers/{seller}/shipments")["shipments"]
        return [
            (
                p["package_reference_id"],
                p["tracking_number"],
                [(i["order_item_id"], i["quantity"]) for i in p["items"]],
                p["order_status"],
            )
            for p in rows
            if p["order_id"] == order_id
        ]

    [(ref, tracking, items, status)] = packages()
    assert (ref, tracking, status) == ("1", "B-1", "PartiallyShipped")
    assert [q for _, q in items] == [2]
    assert world.level("s-002", "BOWL") == (1, 0)

    # Then s-001's part.
    assert world.step("s-001", order_id, "/accept").status_code == 200
    assert world.step("s-001", order_id, "/scan", {"code": PRODUCTS["TRAY"][1]}).is_success
    assert world.step("s-001", order_id, "/pack", {"parcels": 1}).status_code == 200
    handed = world.step(
        "s-001", order_id, "/hand-over", {"carrier": "UPS", "tracking_number": "T-1"}
    )
    assert handed.json()["status"] == "handed_over"
    poll(lambda: world.order(order_id).routing_state == "handed_over", "all parts gone")  # type: ignore[union-attr]
    assert world.runner.confirm_shipments() == 1
    row = world.order(order_id)
    assert row is not None
    assert (row.routing_state, row.shipment_state) == ("confirmed", "accepted")
    both = packages()
    assert [(r, t) for r, t, _, _ in both] == [("1", "B-1"), ("2", "T-1")]
    assert both[-1][2][0][1] == 1
    assert both[-1][3] == "Shipped"
    assert world.level("s-001", "TRAY") == (1, 0)
    # A later import (Amazon now says Shipped) leaves the confirmed order alone.
    world.runner.import_orders()
    assert world.order(order_id).routing_state == "confirmed"  # type: ignore[union-attr]
    assert world.runner.confirm_shipments() == 0


def test_a_warehouse_ships_through_the_hub_api_and_confirms_in_the_sandbox(world: World) -> None:
    """GIVEN a warehouse (no agent) with jars in the hub's ledger, WHEN an order for a jar
    is imported, THEN it is routed there and reserved in the ledger, and the hub's staff
    accept, pick, pack and hand it over through the API; Amazon gets the confirmation."""
    headers = {"Authorization": f"Bearer {world.token}"}
    created = world.api.post(
        "/api/v1/locations", json={"id": "w-001", "name": "Hamburg DC"}, headers=headers
    )
    assert created.status_code == 201, created.text
    stocked = world.api.put(
        "/api/v1/locations/w-001/stock",
        json={"counts": [{"sku": "JAR", "on_hand": 4}]},
        headers=headers,
    )
    assert stocked.status_code == 200, stocked.text
    placed = world.api.put(
        "/api/v1/routing/locations/w-001",
        json={"lat": 53.5511, "lon": 9.9937, "daily_capacity": 100},
        headers=headers,
    )
    assert placed.status_code == 200, placed.text
    order_id = world.amazon_order_of([("JAR", 2)])
    poll(lambda: world.order(order_id).routing_state == "routed", f"{order_id} routed")  # type: ignore[union-attr]
    assert world.order(order_id).routed_location == "w-001"  # type: ignore[union-attr]
    assert world.level("w-001", "JAR") == (4, 2)
    queue = world.api.get("/api/v1/routing/locations/w-001/orders", headers=headers).json()
    assert [(o["order_id"], o["state"]) for o in queue["items"]] == [(order_id, "routed")]
    base = f"/api/v1/routing/orders/{order_id}/locations/w-001"
    assert world.api.post(f"{base}/accept", json={}).status_code == 401
    for step in ("accept", "pick", "pack"):
        done = world.api.post(f"{base}/{step}", json={}, headers=headers)
        assert done.status_code == 200, done.text
    assert done.json()["part"]["state"] == "packed"
    refused = world.api.post(f"{base}/hand-over", json={"carrier": "DHL"}, headers=headers)
    assert refused.status_code == 409
    assert "tracking number" in refused.json()["detail"]
    handed = world.api.post(
        f"{base}/hand-over", json={"carrier": "DHL", "tracking_number": "W-1"}, headers=headers
    )
    assert handed.status_code == 200, handed.text
    assert handed.json()["routing_state"] == "handed_over"
    assert world.level("w-001", "JAR") == (2, 0)
    assert world.runner.confirm_shipments() == 1
    row = world.order(order_id)
    assert row is not None
    assert (row.routing_state, row.tracking_number) == ("confirmed", "W-1")
    seller = world.seller["seller_id"]
    shipped = world.scenario.call("GET", f"/sellers/{seller}/shipments")["shipments"]
    assert [
        (p["tracking_number"], p["order_status"]) for p in shipped if p["order_id"] == order_id
    ] == [("W-1", "Shipped")]
    # No store was told anything about it.
    for store in world.stores.values():
        assert store.status(order_id) is None
