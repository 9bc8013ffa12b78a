"""Marketplace buyers and store staff: orders placed in the Amazon sandbox, picked in stores.

Buyers place merchant-fulfilled orders through the sandbox's scenario API
(``POST /_sandbox/sellers/{id}/orders``), stamped four minutes in the past: the hub's
import reads up to three minutes before now (Amazon's two-minute rule plus margin),
so a fresh order would otherwise wait for the next window. Staff at each store work
the till's online-orders API: accept (one store rejects some as out of stock),
print the pick list, scan every unit, pack and hand over with a tracking number.
Counters only, like the shoppers.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from acorn.demo.setup import CASHIER_PIN, SELLER_ID, DemoProduct

_LOGGER = logging.getLogger(__name__)

BASE_ORDER_INTERVAL_S = 20.0
STAFF_POLL_S = 2.0
BACKDATE = timedelta(minutes=4)
_SHIP_TO = {
    "US": {"city": "SEATTLE", "state": "WA", "postal_code": "98121", "country": "US"},
    "UK": {"city": "LONDON", "state": "", "postal_code": "SW1A 1AA", "country": "GB"},
    "DE": {"city": "BERLIN", "state": "", "postal_code": "10115", "country": "DE"},
}
_CURRENCY = {"US": "USD", "UK": "GBP", "DE": "EUR"}


@dataclass
class OrderCounters:
    """What the buyers and the staff did."""

    placed: int = 0
    accepted: int = 0
    rejected: int = 0
    handed_over: int = 0
    failed: int = 0


class Buyer(threading.Thread):
    """Places marketplace orders in the sandbox until stopped."""

    def __init__(
        self,
        *,
        sandbox_url: str,
        marketplaces: list[str],
        products: list[DemoProduct],
        seed: int,
        speed: float,
        stop: threading.Event,
        counters: OrderCounters,
    ) -> None:
        super().__init__(name="marketplace-buyer", daemon=True)
        self.sandbox_url = sandbox_url
        self.marketplaces = marketplaces
        self.products = products
        self.rng = random.Random(f"{seed}:buyer")
        self.interval = BASE_ORDER_INTERVAL_S / speed
        self.stop_event = stop
        self.counters = counters

    def place(self, client: httpx.Client) -> None:
        """One order of one or two products in a random marketplace."""
        mkt = self.rng.choice(self.marketplaces)
        at = (datetime.now(UTC) - BACKDATE).strftime("%Y-%m-%dT%H:%M:%SZ")
        items = []
        for p in self.rng.sample(self.products, k=self.rng.randint(1, 2)):
            minor = p.prices[_CURRENCY[mkt]]
            items.append(
                {
                    "seller_sku": p.sku,
                    "quantity": 1,
                    "unit_price": f"{minor // 100}.{minor % 100:02d}",
                }
            )
        answer = client.post(
            f"/_sandbox/sellers/{SELLER_ID}/orders",
            json={
                "marketplace": mkt,
                "items": items,
                "status": "Unshipped",
                "fulfillment_channel": "MFN",
                "purchase_date": at,
                "last_update_date": at,
                "ship_to": _SHIP_TO[mkt],
            },
        )
        answer.raise_for_status()
        self.counters.placed += 1

    def run(self) -> None:
        """Place orders at a rate set by ``speed``."""
        with httpx.Client(base_url=self.sandbox_url, timeout=10) as client:
            while not self.stop_event.wait(self.rng.expovariate(1.0 / self.interval)):
                try:
                    self.place(client)
                except httpx.HTTPError as err:
                    self.counters.failed += 1
                    _LOGGER.info("marketplace order not placed: %s", err)


class Staff(threading.Thread):
    """Works one store's online orders through its till API until stopped."""

    def __init__(
        self,
        *,
        store_id: str,
        ui_url: str,
        barcodes: dict[str, str],
        reject_share: float,
        seed: int,
        stop: threading.Event,
        counters: OrderCounters,
    ) -> None:
        super().__init__(name=f"staff-{store_id}", daemon=True)
        self.store_id = store_id
        self.ui_url = ui_url
        self.barcodes = barcodes
        self.reject_share = reject_share
        self.rng = random.Random(f"{seed}:staff:{store_id}")
        self.stop_event = stop
        self.counters = counters

    def _login(self, client: httpx.Client) -> None:
        client.post("/api/login", json={"cashier_id": "max", "pin": CASHIER_PIN}).raise_for_status()

    def work(self, client: httpx.Client, order: dict[str, object]) -> None:
        """Take one order one step further (or all the way)."""
        oid = str(order["order_id"])
        status = order["status"]
        if status == "routed":
            if self.rng.random() < self.reject_share:
                client.post(
                    f"/api/orders/{oid}/reject", json={"reason": "out_of_stock"}
                ).raise_for_status()
                self.counters.rejected += 1
                return
            client.post(f"/api/orders/{oid}/accept", json={}).raise_for_status()
            self.counters.accepted += 1
            status = "accepted"
        if status == "accepted":
            client.post(f"/api/orders/{oid}/print", json={})
            lines = order.get("lines") or []
            for line in lines:  # type: ignore[attr-defined]
                for _ in range(int(line["qty"]) - int(line.get("picked") or 0)):
                    client.post(
                        f"/api/orders/{oid}/scan", json={"code": self.barcodes[line["sku"]]}
                    ).raise_for_status()
            status = "picked"
        if status == "picked":
            client.post(f"/api/orders/{oid}/pack", json={"parcels": 1}).raise_for_status()
            status = "packed"
        if status == "packed":
            client.post(
                f"/api/orders/{oid}/hand-over",
                json={"carrier": "DHL", "tracking_number": f"DEMO{self.rng.randrange(10**9):09d}"},
            ).raise_for_status()
            self.counters.handed_over += 1

    def run(self) -> None:
        """Poll the till's online orders and work the open ones."""
        with httpx.Client(base_url=self.ui_url, timeout=10) as client:
            while not self.stop_event.wait(STAFF_POLL_S):
                try:
                    answer = client.get("/api/orders")
                    if answer.status_code == 401:
                        self._login(client)
                        answer = client.get("/api/orders")
                    answer.raise_for_status()
                    for order in answer.json().get("orders", []):
                        if order.get("active"):
                            self.work(client, order)
                except (httpx.HTTPError, KeyError, ValueError, TypeError) as err:
                    self.counters.failed += 1
                    _LOGGER.info("staff at %s: %s", self.store_id, err)


def hub_order_counts(hub_db: object) -> dict[str, int]:
    """Marketplace orders at the hub: imported, routed, handed over, confirmed."""
    import sqlite3

    conn = sqlite3.connect(f"file:{hub_db}?mode=ro", uri=True, timeout=10)
    try:
        rows = dict(
            conn.execute(
                "SELECT routing_state, COUNT(*) FROM marketplace_orders GROUP BY routing_state"
            ).fetchall()
        )
    finally:
        with contextlib.suppress(Exception):
            conn.close()
    imported = sum(rows.values())
    confirmed = rows.get("confirmed", 0)
    handed = rows.get("handed_over", 0) + confirmed
    routed = rows.get("routed", 0) + handed
    return {
        "imported": imported,
        "routed": routed,
        "handed_over": handed,
        "confirmed": confirmed,
        "unroutable": rows.get("unroutable", 0),
        "manual_review": rows.get("manual_review", 0),
    }
