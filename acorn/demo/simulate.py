"""Simulated people: shoppers at every store's till, through the edge agent's JSON API.

Each store gets one shopper thread with its own seeded random stream, so a given
``--seed`` rings the same baskets in the same order at each till (timing, and so
interleaving across stores, still varies). Shoppers scan the barcodes as the
browser's keyboard-wedge scanner would (``POST /api/cart/scan``) and pay by card or
cash (``POST /api/cart/complete``); receipts come out of the store's file-sink
printer. Counters only: the simulation keeps no per-sale history, so it runs for
hours in constant memory.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from acorn.demo.setup import CASHIER_PIN, DemoProduct

_LOGGER = logging.getLogger(__name__)

BASE_SALE_INTERVAL_S = 3.0
OPENING_FLOAT_MINOR = 10_000
RECEIPTS_KEPT = 400
READY_TIMEOUT_S = 60.0


@dataclass
class TillCounters:
    """What one store's shopper did."""

    store_id: str
    rung: int = 0
    failed: int = 0
    items: int = 0
    last_error: str = ""


class Shopper(threading.Thread):
    """Rings sales at one store's till until stopped."""

    def __init__(
        self,
        *,
        store_id: str,
        ui_url: str,
        products: list[DemoProduct],
        seed: int,
        speed: float,
        receipts: Path,
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"shopper-{store_id}", daemon=True)
        self.store_id = store_id
        self.ui_url = ui_url
        self.products = products
        self.rng = random.Random(f"{seed}:{store_id}")
        self.speed = speed
        self.receipts = receipts
        self.stop_event = stop
        self.counters = TillCounters(store_id)
        self.paused = threading.Event()
        self._client = httpx.Client(base_url=ui_url, timeout=10)

    # -- the till ---------------------------------------------------------------------

    def _login(self) -> None:
        answer = self._client.post("/api/login", json={"cashier_id": "ann", "pin": CASHIER_PIN})
        answer.raise_for_status()
        shift = self._client.get("/api/shift").json().get("shift")
        if not shift:
            self._client.post(
                "/api/shift/open", json={"opening_float_minor": OPENING_FLOAT_MINOR}
            ).raise_for_status()

    def wait_for_catalog(self, timeout_s: float = READY_TIMEOUT_S) -> bool:
        """Log in and wait until the hub's catalog reached the till (a barcode resolves)."""
        deadline = time.monotonic() + timeout_s
        code = self.products[0].ean13
        while time.monotonic() < deadline and not self.stop_event.is_set():
            with contextlib.suppress(httpx.HTTPError):
                self._login()
                if (
                    self._client.get("/api/products/lookup", params={"code": code}).status_code
                    == 200
                ):
                    return True
            self.stop_event.wait(0.3)
        return False

    def ring_sale(self) -> bool:
        """Scan a basket and pay; True when the till recorded a new sale."""
        basket = self.rng.sample(self.products, k=self.rng.randint(1, 4))
        qtys = [self.rng.choice((1, 1, 1, 2, 3)) for _ in basket]
        pay_cash = self.rng.random() < 0.3
        cart: dict[str, object] = {}
        for product, qty in zip(basket, qtys, strict=True):
            answer = self._client.post("/api/cart/scan", json={"code": product.ean13, "qty": qty})
            if answer.status_code == 401:
                self._login()
                answer = self._client.post(
                    "/api/cart/scan", json={"code": product.ean13, "qty": qty}
                )
            answer.raise_for_status()
            cart = answer.json()["cart"]
        total = int(cart["total"]["minor"])  # type: ignore[index]
        if pay_cash:
            tendered = ((total + 499) // 500) * 500  # a note or two, change due
            tender = {"kind": "cash", "amount_minor": tendered}
        else:
            tender = {
                "kind": "card",
                "amount_minor": total,
                "reference": f"demo-{self.rng.randrange(10**8):08d}",
            }
        answer = self._client.post(
            "/api/cart/complete", json={"tenders": [tender], "cart_id": cart["cart_id"]}
        )
        answer.raise_for_status()
        if answer.status_code == 201:
            self.counters.items += sum(qtys)
            return True
        return False

    def _prune_receipts(self) -> None:
        """Keep the newest receipts only, so the demo folder stays bounded."""
        with contextlib.suppress(OSError):
            files = sorted(self.receipts.glob("*.*"), key=lambda p: p.stat().st_mtime)
            for old in files[: max(0, len(files) - RECEIPTS_KEPT)]:
                old.unlink(missing_ok=True)

    def run(self) -> None:
        """Ring sales at a rate set by ``speed`` until the stop event."""
        interval = BASE_SALE_INTERVAL_S / self.speed
        while not self.stop_event.is_set():
            if self.stop_event.wait(self.rng.expovariate(1.0 / interval)):
                break
            if self.paused.is_set():
                continue
            try:
                if self.ring_sale():
                    self.counters.rung += 1
                    if self.counters.rung % 50 == 0:
                        self._prune_receipts()
            except (httpx.HTTPError, KeyError, ValueError) as err:
                self.counters.failed += 1
                self.counters.last_error = str(err)[:200]
                _LOGGER.info("till %s: sale not completed: %s", self.store_id, err)
                with contextlib.suppress(httpx.HTTPError):
                    self._client.post("/api/cart/void", json={"reason": "demo retry"})
        self._client.close()


@dataclass
class Simulation:
    """All shoppers, started and stopped together."""

    shoppers: list[Shopper]
    stop_event: threading.Event
    others: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        """Start every shopper thread (and the buyers and staff, if any)."""
        for s in [*self.shoppers, *self.others]:
            s.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the shoppers and wait for the sale in hand to finish."""
        self.stop_event.set()
        deadline = time.monotonic() + timeout_s
        for s in [*self.shoppers, *self.others]:
            if s.is_alive():
                s.join(max(0.1, deadline - time.monotonic()))

    def counters(self) -> dict[str, TillCounters]:
        """Counters per store."""
        return {s.store_id: s.counters for s in self.shoppers}
