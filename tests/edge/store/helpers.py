"""Helpers shared by the edge store, sync and UI tests: a real edge database and a small catalog."""

from __future__ import annotations

import uuid
from pathlib import Path

from edge_agent.domain.sale import Cart
from edge_agent.domain.tender import Tender
from edge_agent.store.db import Synchronous
from edge_agent.store.facade import EdgeStore, open_store
from protocol.gtin import gs1_check_digit
from protocol.money import Money

STORE_ID = "s-001"


def ean13(body12: str) -> str:
    """Return a valid EAN-13 for 12 body digits."""
    return body12 + str(gs1_check_digit(body12))


def upc_a(body11: str) -> str:
    """Return a valid UPC-A for 11 body digits."""
    return body11 + str(gs1_check_digit(body11))


MILK_EAN = ean13("500000000001")
BREAD_EAN = ean13("500000000002")
BREAD_UPC = upc_a("04000000002")
APPLES_EAN = ean13("500000000003")

#: sku -> (name, price_minor, tax_class, barcodes)
CATALOG: dict[str, tuple[str, int, str, list[str]]] = {
    "MILK-1L": ("Milk 1L", 129, "zero", [MILK_EAN]),
    "BREAD": ("Sourdough bread", 249, "zero", [BREAD_EAN, BREAD_UPC]),
    "APPLES": ("Apples 6 pack", 199, "zero", [APPLES_EAN]),
    "WINE-RED": ("Red wine 75cl", 899, "standard", [ean13("500000000004")]),
    "SOAP": ("Hand soap", 350, "standard", [ean13("500000000005")]),
}


def make_store(
    path: Path,
    store_id: str = STORE_ID,
    *,
    synchronous: Synchronous = Synchronous.FULL,
    busy_timeout_ms: int = 2000,
) -> EdgeStore:
    """Open (and migrate) a real edge database file."""
    return open_store(path, store_id, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms)


def seed_catalog(store: EdgeStore, *, on_hand: int = 0) -> None:
    """Load the small test catalog, optionally with stock on hand (no outbox events)."""
    from edge_agent.store.models import Stock

    for sku, (name, price, tax_class, codes) in CATALOG.items():
        store.catalog.upsert(sku, name, price, tax_class, barcodes=codes)
    if on_hand:
        Stock.update(on_hand=on_hand).execute()


def cart_of(store: EdgeStore, *items: tuple[str, int]) -> Cart:
    """A cart with (sku, qty) items at catalog prices."""
    cart = Cart.start(uuid.uuid4(), store.policy)
    for sku, qty in items:
        cart = cart.add(store.catalog.get(sku).as_item(store.currency), qty)
    return cart


def cash(store: EdgeStore, amount_minor: int) -> Tender:
    """A cash tender in the store's currency."""
    return Tender.cash(Money(amount_minor, store.currency))
