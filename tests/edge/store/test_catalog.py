"""Catalog: scan lookups by any GTIN form, search, and catalog messages applied by version."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from edge_agent.store.errors import UnknownBarcode, UnknownProduct
from edge_agent.store.facade import EdgeStore
from edge_agent.store.models import OutboxEvent, Product
from protocol.errors import GtinError
from protocol.messages import CatalogMessage, CatalogProduct
from tests.edge.store.helpers import BREAD_EAN, BREAD_UPC, MILK_EAN, ean13


def _catalog(version: int, products: list[CatalogProduct], **kw: object) -> CatalogMessage:
    return CatalogMessage(
        v=1,
        id=uuid.uuid4(),
        store="s-001",
        version=version,
        kind=kw.pop("kind", "delta"),
        currency="GBP",
        products=products,
        at=datetime.now(UTC),
        **kw,
    )


@pytest.mark.parametrize(
    ("code", "sku"),
    [
        (MILK_EAN, "MILK-1L"),
        (BREAD_EAN, "BREAD"),
        (BREAD_UPC, "BREAD"),  # UPC-A, 12 digits
        ("0" + BREAD_UPC, "BREAD"),  # the same code as EAN-13
        ("00" + BREAD_UPC, "BREAD"),  # and as GTIN-14
        (f"  {MILK_EAN}\r\n", "MILK-1L"),  # scanner suffixes
    ],
)
def test_lookup_normalises_every_gtin_form(store: EdgeStore, code: str, sku: str) -> None:
    found = store.catalog.lookup_barcode(code)
    assert found.sku == sku
    assert len(found.gtin14 or "") == 14


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "empty"),
        ("12345", "digits"),
        ("50000000000X", "not all digits"),
        (MILK_EAN[:-1] + str((int(MILK_EAN[-1]) + 1) % 10), "check digit"),
    ],
)
def test_invalid_barcode_is_refused_with_a_reason(
    store: EdgeStore, code: str, message: str
) -> None:
    with pytest.raises(GtinError, match=message):
        store.catalog.lookup_barcode(code)


def test_unknown_barcode_says_so(store: EdgeStore) -> None:
    code = ean13("999999999999")
    with pytest.raises(UnknownBarcode, match="not in the catalog"):
        store.catalog.lookup_barcode(code)


def test_search_by_name_and_sku(store: EdgeStore) -> None:
    assert [p.sku for p in store.catalog.search("sour")] == ["BREAD"]
    assert [p.sku for p in store.catalog.search("bread")] == ["BREAD"]
    assert store.catalog.search("SOAP")[0].sku == "SOAP"
    assert store.catalog.search("%") == []  # LIKE wildcards are literal
    assert store.catalog.search("  ") == []


def test_catalog_delta_applies_and_replay_changes_nothing(store: EdgeStore) -> None:
    new_code = ean13("500000000099")
    message = _catalog(
        5,
        [
            CatalogProduct(
                sku="MILK-1L",
                name="Milk 1L",
                price_minor=135,
                tax_class="zero",
                barcodes=["0" + MILK_EAN],
            ),
            CatalogProduct(
                sku="TEA",
                name="Tea 80 bags",
                price_minor=325,
                tax_class="standard",
                barcodes=["0" + new_code],
            ),
        ],
    )
    first = store.catalog.apply(message)
    assert (first.upserted, first.skipped_older) == (2, 0)
    assert store.catalog.lookup_barcode(MILK_EAN).price_minor == 135
    assert store.catalog.lookup_barcode(new_code).sku == "TEA"
    again = store.catalog.apply(message)
    assert (again.upserted, again.skipped_older) == (0, 2)
    assert store.catalog.version() == 5
    assert OutboxEvent.select().count() == 0  # catalog changes come from the hub; nothing goes up


def test_older_delta_arriving_late_does_not_win(store: EdgeStore) -> None:
    newer = _catalog(
        7, [CatalogProduct(sku="SOAP", name="Soap", price_minor=400, tax_class="standard")]
    )
    older = _catalog(
        6,
        [
            CatalogProduct(sku="SOAP", name="Soap", price_minor=380, tax_class="standard"),
            CatalogProduct(sku="BREAD", name="Bread", price_minor=260, tax_class="zero"),
        ],
    )
    store.catalog.apply(newer)
    result = store.catalog.apply(older)
    assert store.catalog.get("SOAP").price_minor == 400  # v7 stays
    assert store.catalog.get("BREAD").price_minor == 260  # v6 is newer than BREAD's v0
    assert (result.upserted, result.skipped_older) == (1, 1)
    assert store.catalog.version() == 7


def test_snapshot_deactivates_products_it_does_not_list(store: EdgeStore) -> None:
    snap = _catalog(
        10,
        [
            CatalogProduct(
                sku="MILK-1L",
                name="Milk 1L",
                price_minor=129,
                tax_class="zero",
                barcodes=["0" + MILK_EAN],
            )
        ],
        kind="snapshot",
    )
    result = store.catalog.apply(snap)
    assert result.deactivated == 4
    active = [p.sku for p in Product.select().where(Product.active == True)]  # noqa: E712
    assert active == ["MILK-1L"]
    with pytest.raises(UnknownBarcode):
        store.catalog.lookup_barcode(BREAD_EAN)


def test_removed_skus_are_deactivated(store: EdgeStore) -> None:
    store.catalog.apply(_catalog(3, [], removed_skus=["APPLES"]))
    assert not store.catalog.get("APPLES", include_inactive=True).active


def test_snapshot_in_parts_deactivates_only_once_complete(store: EdgeStore) -> None:
    """GIVEN the hub splits snapshot v20 into two parts (extra fields part/parts)
    THEN part 1 alone deactivates nothing and the store still reports its old version;
    after part 2 the products neither part listed are deactivated."""

    def product(sku: str, price: int) -> CatalogProduct:
        return CatalogProduct(sku=sku, name=sku.title(), price_minor=price, tax_class="zero")

    part1 = _catalog(20, [product("MILK-1L", 130)], kind="snapshot", part=1, parts=2)
    part2 = _catalog(20, [product("BREAD", 250)], kind="snapshot", part=2, parts=2)
    first = store.catalog.apply(part1)
    assert first.deactivated == 0
    assert store.catalog.get("BREAD").price_minor == 249  # still there and unchanged
    assert store.catalog.version() == 0  # not complete: the birth keeps the old version
    store.catalog.apply(part1)  # a replayed part changes nothing
    second = store.catalog.apply(part2)
    assert second.deactivated == 3  # APPLES, WINE-RED, SOAP
    assert store.catalog.get("BREAD").price_minor == 250
    assert store.catalog.get("MILK-1L").price_minor == 130
    assert store.catalog.version() == 20
    assert not store.catalog.get("SOAP", include_inactive=True).active


def test_a_late_delta_cannot_bring_back_what_a_newer_removal_or_snapshot_took_away(
    store: EdgeStore,
) -> None:
    """GIVEN deliveries out of order (MQTT does not promise order across reconnects)
    THEN a removal of a SKU the store never saw, and a complete snapshot, both stay
    in force when an older delta listing the product arrives afterwards."""
    tea = CatalogProduct(sku="TEA", name="Tea", price_minor=300, tax_class="standard")
    store.catalog.apply(_catalog(5, [], removed_skus=["TEA"]))
    late = store.catalog.apply(_catalog(4, [tea]))
    assert late.upserted == 0
    assert not store.catalog.get("TEA", include_inactive=True).active
    milk = CatalogProduct(sku="MILK-1L", name="Milk 1L", price_minor=129, tax_class="zero")
    store.catalog.apply(_catalog(10, [milk], kind="snapshot"))
    coffee = CatalogProduct(sku="COFFEE", name="Coffee", price_minor=700, tax_class="standard")
    older = store.catalog.apply(_catalog(9, [coffee]))
    assert (older.upserted, older.skipped_older) == (0, 1)
    with pytest.raises(UnknownProduct):
        store.catalog.get("COFFEE", include_inactive=True)
    newer = store.catalog.apply(_catalog(11, [coffee]))
    assert newer.upserted == 1
    assert store.catalog.get("COFFEE").active
