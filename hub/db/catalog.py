"""Catalog persistence: CSV import with a row-level report, export, and catalog messages to stores.

Every import or edit that changes something creates one catalog version; products
and prices remember the version that last changed them, so a store that has
version N gets a delta of everything newer (a full snapshot when it has nothing).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from hub.db.models import Barcode, CatalogVersion, Price, PriceList, Product, Store
from hub.db.util import bulk_upsert, chunks, table_of
from hub.domain.catalog import (
    ALL_COLUMNS,
    CatalogRow,
    RowError,
    check_header,
    format_minor,
    parse_row,
)
from protocol.messages import CatalogMessage, CatalogProduct

CHUNK_ROWS = 5000
SNAPSHOT_PART_PRODUCTS = 500
"""Products per catalog message: keeps each payload far below the protocol's size limit."""


@dataclass
class ImportReport:
    """What an import did: rows read, rows imported, every refused row with its reasons."""

    rows: int = 0
    imported: int = 0
    changed_products: int = 0
    changed_prices: int = 0
    version: int | None = None
    errors: list[RowError] = field(default_factory=list)


def import_csv(
    session: Session,
    stream: IO[str],
    *,
    now: datetime,
    default_currency: str,
    source: str = "import",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a catalog CSV into the session's transaction; bad rows are reported, not fatal."""
    reader = csv.DictReader(stream)
    check_header(reader.fieldnames)
    report = ImportReport()
    version_row = CatalogVersion(created_at=now, source=source[:64], rows=0)
    session.add(version_row)
    session.flush()
    version = version_row.version
    seen: dict[tuple[str, str], int] = {}
    gtin_owner: dict[str, str] = {}
    price_lists = {p.id: p.currency for p in session.scalars(select(PriceList))}
    with_barcodes = "barcodes" in {c.strip().lower() for c in reader.fieldnames or []}
    barcode_sets: dict[str, set[str]] = {}
    # Every barcode's owner, read once: one streaming scan beats thousands of IN lookups.
    owners: dict[str, str] = {}
    for gtin, sku in session.execute(
        select(Barcode.gtin, Barcode.sku).execution_options(yield_per=10_000)
    ):
        owners[gtin] = sku
    batch: list[tuple[int, CatalogRow]] = []
    for row_dict in reader:
        report.rows += 1
        line = reader.line_num
        parsed = parse_row(row_dict, line=line, default_currency=default_currency)
        if isinstance(parsed, CatalogRow):
            parsed = _cross_checks(parsed, line, seen, gtin_owner, price_lists)
        if isinstance(parsed, RowError):
            report.errors.append(parsed)
        else:
            batch.append((line, parsed))
        if len(batch) >= CHUNK_ROWS:
            _write_chunk(session, batch, version, now, report, barcode_sets, owners)
            batch = []
        if progress is not None and report.rows % 1000 == 0:
            progress(1000)
    if batch:
        _write_chunk(session, batch, version, now, report, barcode_sets, owners)
    if with_barcodes and barcode_sets:
        # Barcodes are synced once for the whole file: a SKU's rows may be far apart.
        _sync_barcodes(session, barcode_sets, owners, version, now)
    # The version is new: every product or price carrying it was changed by this import.
    report.changed_products = _count_version(session, Product, version)
    report.changed_prices = _count_version(session, Price, version)
    if progress is not None:
        progress(report.rows % 1000)
    for price_list_id, currency in price_lists.items():
        if session.get(PriceList, price_list_id) is None:
            session.add(PriceList(id=price_list_id, name=price_list_id, currency=currency))
    report.errors.sort(key=lambda e: e.line)
    if report.changed_products or report.changed_prices:
        version_row.rows = report.imported
        report.version = version
    else:
        session.delete(version_row)
    session.flush()
    return report


def _cross_checks(
    row: CatalogRow,
    line: int,
    seen: dict[tuple[str, str], int],
    gtin_owner: dict[str, str],
    price_lists: dict[str, str],
) -> CatalogRow | RowError:
    reasons = []
    key = (row.sku, row.price_list)
    if key in seen:
        reasons.append(
            f"sku {row.sku!r} is already priced in {row.price_list!r} on line {seen[key]}"
        )
    known_currency = price_lists.get(row.price_list)
    if known_currency is not None and known_currency != row.currency:
        reasons.append(
            f"price list {row.price_list!r} is in {known_currency}, the row in {row.currency}"
        )
    for gtin in row.barcodes:
        owner = gtin_owner.get(gtin)
        if owner is not None and owner != row.sku:
            reasons.append(f"barcode {gtin} belongs to sku {owner!r} earlier in the file")
    if reasons:
        return RowError(line=line, sku=row.sku, reasons=tuple(reasons))
    seen[key] = line
    price_lists.setdefault(row.price_list, row.currency)
    for gtin in row.barcodes:
        gtin_owner[gtin] = row.sku
    return row


def _write_chunk(
    session: Session,
    lines: list[tuple[int, CatalogRow]],
    version: int,
    now: datetime,
    report: ImportReport,
    barcode_sets: dict[str, set[str]],
    owners: dict[str, str],
) -> None:
    # Barcodes owned by another SKU in the database refuse the row.
    good: list[CatalogRow] = []
    for line, row in lines:
        clash = [g for g in row.barcodes if owners.get(g, row.sku) != row.sku]
        if clash:
            report.errors.append(
                RowError(
                    line=line,
                    sku=row.sku,
                    reasons=tuple(f"barcode {g} belongs to sku {owners[g]!r}" for g in clash),
                )
            )
        else:
            good.append(row)
    if not good:
        return
    # Price lists must exist before prices refer to them.
    for pl_id, currency in sorted({(r.price_list, r.currency) for r in good}):
        if session.get(PriceList, pl_id) is None:
            session.add(PriceList(id=pl_id, name=pl_id, currency=currency))
    session.flush()
    products: dict[str, CatalogRow] = {}
    for row in good:
        products[row.sku] = row
    product_rows = [
        {
            "sku": r.sku,
            "name": r.name,
            "tax_class": r.tax_class,
            "cost_minor": r.cost_minor,
            "active": r.active,
            "version": version,
            "updated_at": now,
        }
        for r in products.values()
    ]
    bulk_upsert(
        session,
        table_of(Product),
        product_rows,
        key=["sku"],
        update=["name", "tax_class", "cost_minor", "active", "version", "updated_at"],
        compare=["name", "tax_class", "cost_minor", "active"],
    )
    for row in good:
        barcode_sets.setdefault(row.sku, set()).update(row.barcodes)
    price_rows = [
        {
            "price_list_id": r.price_list,
            "sku": r.sku,
            "price_minor": r.price_minor,
            "version": version,
        }
        for r in good
    ]
    bulk_upsert(
        session,
        table_of(Price),
        price_rows,
        key=["price_list_id", "sku"],
        update=["price_minor", "version"],
        compare=["price_minor"],
    )
    report.imported += len(good)


def _count_version(session: Session, model: type[Product] | type[Price], version: int) -> int:
    return int(
        session.scalar(select(func.count()).select_from(model).where(model.version == version)) or 0
    )


def _sync_barcodes(
    session: Session,
    wanted_sets: dict[str, set[str]],
    owners: dict[str, str],
    version: int,
    now: datetime,
) -> None:
    """Make each product's barcodes exactly the file's list; a change bumps its version."""
    skus = sorted(wanted_sets)
    current: dict[str, set[str]] = {s: set() for s in skus}
    for gtin, sku in owners.items():
        if sku in current:
            current[sku].add(gtin)
    to_delete: list[str] = []
    to_add: list[dict[str, str]] = []
    changed: list[str] = []
    for sku in skus:
        wanted = wanted_sets[sku]
        if wanted != current[sku]:
            changed.append(sku)
            to_delete.extend(current[sku] - wanted)
            to_add.extend({"gtin": g, "sku": sku} for g in sorted(wanted - current[sku]))
    for part in chunks(sorted(to_delete), 1000):
        session.execute(delete(Barcode).where(Barcode.gtin.in_(part)))
    bulk_upsert(session, table_of(Barcode), to_add, key=["gtin"])
    for part in chunks(changed, 1000):
        session.execute(
            update(Product)
            .where(Product.sku.in_(part))
            .values(version=version, updated_at=now)
            .execution_options(synchronize_session=False)
        )


def export_rows(session: Session) -> Iterator[dict[str, str]]:
    """Every (product, price list) as a CSV row in the import format, ordered by SKU."""
    barcodes: dict[str, list[str]] = {}
    for gtin, sku in session.execute(select(Barcode.gtin, Barcode.sku).order_by(Barcode.gtin)):
        barcodes.setdefault(sku, []).append(gtin)
    stmt = (
        select(Product, Price, PriceList.currency)
        .join(Price, Price.sku == Product.sku, isouter=True)
        .join(PriceList, PriceList.id == Price.price_list_id, isouter=True)
        .order_by(Product.sku, Price.price_list_id)
    )
    for product, price, currency in session.execute(stmt.execution_options(yield_per=2000)):
        cur = currency or ""
        yield {
            "sku": product.sku,
            "name": product.name,
            "price": format_minor(price.price_minor, cur) if price is not None else "",
            "currency": cur,
            "price_list": price.price_list_id if price is not None else "",
            "barcodes": ";".join(barcodes.get(product.sku, [])),
            "tax_class": product.tax_class,
            "cost": format_minor(product.cost_minor, cur)
            if product.cost_minor is not None and cur
            else "",
            "active": "true" if product.active else "false",
        }


def write_csv(rows: Iterable[dict[str, str]], out: IO[str]) -> int:
    """Write rows in the import format; return how many."""
    writer = csv.DictWriter(out, fieldnames=list(ALL_COLUMNS), lineterminator="\n")
    writer.writeheader()
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
    return n


def export_csv_text(session: Session) -> str:
    """The whole catalog as CSV text (for the API)."""
    buffer = io.StringIO()
    write_csv(export_rows(session), buffer)
    return buffer.getvalue()


def current_version(session: Session) -> int:
    """The newest catalog version (0 when the catalog is empty)."""
    return int(session.scalar(select(func.coalesce(func.max(CatalogVersion.version), 0))) or 0)


def catalog_messages(
    session: Session, store_id: str, *, since: int, now: datetime
) -> tuple[int, list[CatalogMessage]]:
    """The messages that bring a store from catalog version ``since`` to the current one.

    ``since`` 0 gives a snapshot; otherwise a delta of the products and prices changed
    after ``since``. Large catalogs are split into parts of ``SNAPSHOT_PART_PRODUCTS``
    products; the parts of one version carry ``part`` and ``parts`` (extra fields) and
    the same version, so the store knows when it has all of a snapshot.
    """
    store = session.get(Store, store_id)
    if store is None:
        return since, []
    version = current_version(session)
    if version == 0 or (since >= version and since > 0):
        return since, []
    currency = session.scalar(select(PriceList.currency).where(PriceList.id == store.price_list_id))
    stmt = (
        select(Product, Price.price_minor)
        .join(Price, (Price.sku == Product.sku) & (Price.price_list_id == store.price_list_id))
        .order_by(Product.sku)
    )
    kind = "snapshot" if since <= 0 else "delta"
    if kind == "delta":
        stmt = stmt.where(or_(Product.version > since, Price.version > since))
    rows = session.execute(stmt).all()
    skus = [p.sku for p, _ in rows]
    barcodes: dict[str, list[str]] = {}
    for part in chunks(skus, 1000):
        for gtin, sku in session.execute(
            select(Barcode.gtin, Barcode.sku).where(Barcode.sku.in_(part)).order_by(Barcode.gtin)
        ):
            barcodes.setdefault(sku, []).append(gtin)
    products = [
        CatalogProduct(
            sku=p.sku,
            name=p.name,
            price_minor=price_minor,
            tax_class=p.tax_class,
            active=p.active,
            barcodes=barcodes.get(p.sku, []),
            cost_minor=p.cost_minor,
        )
        for p, price_minor in rows
    ]
    if kind == "delta" and not products:
        return version, []
    parts = chunks(products, SNAPSHOT_PART_PRODUCTS) or [[]]
    messages = [
        CatalogMessage.model_validate(
            {
                "id": uuid.uuid4(),
                "store": store_id,
                "version": version,
                "kind": kind,
                "currency": currency or store.currency,
                "products": list(part),
                "at": now,
                "part": i,
                "parts": len(parts),
            }
        )
        for i, part in enumerate(parts, start=1)
    ]
    return version, messages
