"""Catalog reads (scan, search) and the idempotent application of the hub's catalog messages."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import peewee

from edge_agent.domain.sale import CatalogItem
from edge_agent.store.db import execute, write_transaction
from edge_agent.store.errors import UnknownBarcode, UnknownProduct
from edge_agent.store.models import Barcode, MetaEntry, Product, Stock
from protocol.gtin import normalize_gtin
from protocol.messages import CatalogMessage
from protocol.money import Money

_LOGGER = logging.getLogger(__name__)

CATALOG_VERSION_KEY = "catalog_version"
CATALOG_PARTS_KEY = "catalog_parts"
SNAPSHOT_VERSION_KEY = "catalog_snapshot_version"
_LOOKUP_SQL = (
    "SELECT p.sku, p.name, p.price_minor, p.tax_class, COALESCE(s.on_hand, 0), "
    "COALESCE(s.reserved, 0) FROM barcode b JOIN product p ON p.sku = b.sku "
    "LEFT JOIN stock s ON s.sku = p.sku WHERE b.gtin14 = ? AND p.active = 1"
)
DEFAULT_SEARCH_LIMIT = 20


@dataclass(frozen=True, slots=True)
class ProductView:
    """A product as the till sees it: price, tax class, stock and the barcode that found it."""

    sku: str
    name: str
    price_minor: int
    tax_class: str
    active: bool
    on_hand: int
    reserved: int
    gtin14: str | None = None

    def as_item(self, currency: str) -> CatalogItem:
        """Return the domain's view of this product for adding it to a cart."""
        return CatalogItem(
            sku=self.sku,
            name=self.name,
            unit_price=Money(self.price_minor, currency),
            tax_class=self.tax_class,
            gtin=self.gtin14,
        )


@dataclass(frozen=True, slots=True)
class CatalogApplyResult:
    """What applying one catalog message changed."""

    version: int
    upserted: int
    skipped_older: int
    deactivated: int


def _view(product: Product, gtin14: str | None = None) -> ProductView:
    stock = Stock.get_or_none(Stock.sku == product.sku)
    return ProductView(
        sku=product.sku,
        name=product.name,
        price_minor=product.price_minor,
        tax_class=product.tax_class,
        active=bool(product.active),
        on_hand=0 if stock is None else stock.on_hand,
        reserved=0 if stock is None else stock.reserved,
        gtin14=gtin14,
    )


class CatalogRepository:
    """Products, barcodes and catalog versions in the edge database."""

    def __init__(self, db: peewee.SqliteDatabase) -> None:
        self._db = db

    def lookup_barcode(self, code: str) -> ProductView:
        """Find the active product of a scanned code; GtinError or UnknownBarcode if none."""
        gtin14 = normalize_gtin(code)
        # One indexed query (barcode PK -> product PK -> stock PK): the scan path is hot.
        row = execute(self._db, _LOOKUP_SQL, (gtin14,)).fetchone()
        if row is None:
            raise UnknownBarcode(gtin14)
        sku, name, price_minor, tax_class, on_hand, reserved = row
        return ProductView(sku, name, price_minor, tax_class, True, on_hand, reserved, gtin14)

    def get(self, sku: str, *, include_inactive: bool = False) -> ProductView:
        """Return one product by SKU; UnknownProduct if missing (or inactive unless asked)."""
        product = Product.get_or_none(Product.sku == sku)
        if product is None or (not product.active and not include_inactive):
            raise UnknownProduct(sku)
        return _view(product)

    def search(self, query: str, *, limit: int = DEFAULT_SEARCH_LIMIT) -> list[ProductView]:
        """Find active products whose SKU or name matches, exact SKU and name prefixes first."""
        text = query.strip()
        if not text:
            return []
        pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = execute(
            self._db,
            "SELECT sku FROM product WHERE active = 1 AND (sku = ? OR name LIKE ? ESCAPE '\\' "
            "OR name LIKE ? ESCAPE '\\') "
            "ORDER BY (sku = ?) DESC, (name LIKE ? ESCAPE '\\') DESC, name LIMIT ?",
            (text, pattern + "%", "%" + pattern + "%", text, pattern + "%", limit),
        ).fetchall()
        products = {p.sku: p for p in Product.select().where(Product.sku.in_([r[0] for r in rows]))}
        return [_view(products[r[0]]) for r in rows]

    def barcodes(self, sku: str) -> list[str]:
        """Return the GTIN-14s of a product."""
        return [
            b.gtin14 for b in Barcode.select().where(Barcode.sku == sku).order_by(Barcode.gtin14)
        ]

    def version(self) -> int:
        """Return the highest catalog version applied so far (0 before the first)."""
        row = MetaEntry.get_or_none(MetaEntry.key == CATALOG_VERSION_KEY)
        return 0 if row is None else int(row.value)

    def upsert(
        self,
        sku: str,
        name: str,
        price_minor: int,
        tax_class: str,
        *,
        barcodes: Sequence[str] = (),
        active: bool = True,
        version: int = 0,
    ) -> None:
        """Create or replace one product and its barcodes (field set-up and tests)."""
        with write_transaction(self._db):
            self._upsert_product(sku, name, price_minor, tax_class, active, version, barcodes)

    def _upsert_product(
        self,
        sku: str,
        name: str,
        price_minor: int,
        tax_class: str,
        active: bool,
        version: int,
        barcodes: Sequence[str],
    ) -> None:
        now = datetime.now(UTC)
        Product.insert(
            sku=sku,
            name=name,
            price_minor=price_minor,
            tax_class=tax_class,
            active=active,
            catalog_version=version,
            updated_at=now,
        ).on_conflict(
            conflict_target=[Product.sku],
            update={
                Product.name: name,
                Product.price_minor: price_minor,
                Product.tax_class: tax_class,
                Product.active: active,
                Product.catalog_version: version,
                Product.updated_at: now,
            },
        ).execute()
        Stock.insert(sku=sku, on_hand=0, reserved=0, updated_at=now).on_conflict_ignore().execute()
        normalized = {normalize_gtin(code) for code in barcodes}
        Barcode.delete().where(
            Barcode.sku == sku, Barcode.gtin14.not_in(list(normalized))
        ).execute()
        for gtin14 in sorted(normalized):
            # A barcode moves to the product that now claims it (re-labelled stock).
            Barcode.insert(gtin14=gtin14, sku=sku).on_conflict(
                conflict_target=[Barcode.gtin14], update={Barcode.sku: sku}
            ).execute()

    def apply(self, message: CatalogMessage) -> CatalogApplyResult:
        """Apply a catalog snapshot or delta (or one part of one); only a newer version wins.

        Versions are compared per product, so deltas that arrive out of order
        still leave each product at its newest version, and a replayed message
        changes nothing. The hub splits a large catalog into parts that share
        the version (extra fields ``part`` and ``parts``). Once every part of a
        snapshot has arrived, the products none of them listed (still older than
        it) are deactivated; only then, for deltas too, does the store report
        the new version in its birth, so the hub never skips a missing part.

        Out-of-order delivery cannot bring a product back: a message older than the
        last complete snapshot changes nothing (the snapshot already said what exists),
        and removing a SKU the store does not know yet leaves an inactive placeholder
        at that version, so an older delta listing it arrives too late to add it.
        """
        upserted = skipped = deactivated = 0
        version = message.version
        with write_transaction(self._db):
            floor_row = MetaEntry.get_or_none(MetaEntry.key == SNAPSHOT_VERSION_KEY)
            floor = 0 if floor_row is None else int(floor_row.value)
            if version < floor:
                _LOGGER.info(
                    "catalog v%d (%s) is older than the complete snapshot v%d: skipped",
                    version,
                    message.kind,
                    floor,
                )
                return CatalogApplyResult(version, 0, len(message.products), 0)
            current: dict[str, int] = {
                row.sku: row.catalog_version
                for row in Product.select(Product.sku, Product.catalog_version)
            }
            for item in message.products:
                if current.get(item.sku, -1) >= version:
                    skipped += 1
                    continue
                self._upsert_product(
                    item.sku,
                    item.name,
                    item.price_minor,
                    item.tax_class,
                    item.active,
                    version,
                    list(item.barcodes),
                )
                upserted += 1
            now = datetime.now(UTC)
            for sku in sorted(set(message.removed_skus)):
                if sku not in current:
                    # a tombstone: inactive, at this version, never sold (no barcode, no stock)
                    Product.insert(
                        sku=sku,
                        name=sku,
                        price_minor=0,
                        tax_class="",
                        active=False,
                        catalog_version=version,
                        updated_at=now,
                    ).on_conflict_ignore().execute()
                elif current[sku] < version:
                    deactivated += (
                        Product.update(active=False, catalog_version=version, updated_at=now)
                        .where(Product.sku == sku)
                        .execute()
                    )
            if self._all_parts_arrived(message):
                if message.kind == "snapshot":
                    # Every product of any part of this snapshot now has its version.
                    deactivated += (
                        Product.update(active=False, catalog_version=version, updated_at=now)
                        .where(Product.catalog_version < version)
                        .execute()
                    )
                    if version > floor:
                        self._set_meta(SNAPSHOT_VERSION_KEY, str(version))
                if version > self.version():
                    self._set_meta(CATALOG_VERSION_KEY, str(version))
        _LOGGER.info(
            "catalog v%d (%s): %d upserted, %d older skipped, %d deactivated",
            version,
            message.kind,
            upserted,
            skipped,
            deactivated,
        )
        return CatalogApplyResult(version, upserted, skipped, deactivated)

    def _set_meta(self, key: str, value: str) -> None:
        MetaEntry.insert(key=key, value=value).on_conflict(
            conflict_target=[MetaEntry.key], update={MetaEntry.value: value}
        ).execute()

    def _all_parts_arrived(self, message: CatalogMessage) -> bool:
        """Record this message's part; True once every part of its version has arrived."""
        extra = message.model_extra or {}
        part, parts = extra.get("part", 1), extra.get("parts", 1)
        if not (isinstance(parts, int) and isinstance(part, int) and 1 <= part <= parts):
            part, parts = 1, 1
        if parts == 1:
            return True
        key = f"{CATALOG_PARTS_KEY}:{message.kind}:{message.version}"
        row = MetaEntry.get_or_none(MetaEntry.key == key)
        received = set(json.loads(row.value)) if row is not None else set()
        received.add(part)
        if len(received) < parts:
            self._set_meta(key, json.dumps(sorted(received)))
            return False
        MetaEntry.delete().where(MetaEntry.key == key).execute()  # complete: forget the parts
        return True
