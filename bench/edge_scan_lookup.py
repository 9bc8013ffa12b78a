"""Scan-to-cart lookup on an edge database with 100,000 products.

Run: .venv/bin/python bench/edge_scan_lookup.py [--products 100000] [--scans 20000] [--quick]

Builds a real edge database (WAL, migrations) with N products and 1-2 barcodes
each (EAN-13 and sometimes UPC-A), then times, per scan:

- lookup: ``CatalogRepository.lookup_barcode`` (normalise + check digit + indexed join);
- scan-to-cart: lookup plus ``Cart.add`` (the domain reprices the cart), the work
  behind ``POST /api/cart/scan`` without HTTP; the cart is restarted every 20 items;
- unknown: a valid barcode that is not in the catalog (the "unknown barcode" path);
- ceiling: the same indexed query on a bare ``sqlite3`` connection to the same file,
  with the GTIN-14 already normalised (what SQLite alone costs per scan).

Prints p50 / p99 / max in microseconds. No assertions: figures only.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from _common import add_quick, apply_defaults, figure, load_line

from edge_agent.domain.sale import Cart
from edge_agent.store.catalog import _LOOKUP_SQL
from edge_agent.store.db import execute
from edge_agent.store.errors import UnknownBarcode
from edge_agent.store.facade import open_store
from protocol.gtin import gs1_check_digit


def ean13(n: int) -> str:
    body = f"50{n:010d}"
    return body + str(gs1_check_digit(body))


def upc_a(n: int) -> str:
    body = f"7{n:010d}"
    return body + str(gs1_check_digit(body))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def build(path: Path, n: int) -> None:
    store = open_store(path, "s-001")
    now = "2026-11-27T00:00:00.000000Z"
    classes = ["standard", "reduced", "zero"]
    with store.db.atomic():
        cursor = store.db.cursor()  # type: ignore[no-untyped-call]
        cursor.executemany(
            "INSERT INTO product (sku, name, price_minor, tax_class, active, catalog_version, "
            "updated_at) VALUES (?, ?, ?, ?, 1, 1, ?)",
            [
                (f"SKU-{i:06d}", f"Product number {i}", 99 + i % 5000, classes[i % 3], now)
                for i in range(n)
            ],
        )
        cursor.executemany(
            "INSERT INTO stock (sku, on_hand, reserved, updated_at) VALUES (?, 100, 0, ?)",
            [(f"SKU-{i:06d}", now) for i in range(n)],
        )
        codes = [(ean13(i).zfill(14), f"SKU-{i:06d}") for i in range(n)]
        codes += [(upc_a(i).zfill(14), f"SKU-{i:06d}") for i in range(0, n, 3)]
        cursor.executemany("INSERT INTO barcode (gtin14, sku) VALUES (?, ?)", codes)
    execute(store.db, "ANALYZE")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick(parser)
    parser.add_argument("--products", type=int, help="products in the catalog (100,000)")
    parser.add_argument("--scans", type=int, help="scans to time (20,000)")
    args = apply_defaults(
        parser.parse_args(),
        {"products": 100_000, "scans": 20_000},
        {"products": 5_000, "scans": 2_000},
    )

    folder = Path(tempfile.mkdtemp(prefix="edge-scan-bench-"))
    path = folder / "edge.db"
    t0 = time.perf_counter()
    build(path, args.products)
    built_s = time.perf_counter() - t0
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6

    store = open_store(path, "s-001")
    rng = random.Random(42)
    codes = [
        ean13(i) if rng.random() < 0.7 else upc_a(i - i % 3)
        for i in (rng.randrange(args.products) for _ in range(args.scans))
    ]
    for code in codes[:500]:  # warm the page cache and the statement cache
        store.catalog.lookup_barcode(code)

    lookup_us = []
    for code in codes:
        t = time.perf_counter()
        store.catalog.lookup_barcode(code)
        lookup_us.append((time.perf_counter() - t) * 1e6)

    cart_us = []
    cart = Cart.start(uuid.uuid4(), store.policy)
    for i, code in enumerate(codes):
        if i % 20 == 0:
            cart = Cart.start(uuid.uuid4(), store.policy)
        t = time.perf_counter()
        item = store.catalog.lookup_barcode(code).as_item(store.currency)
        cart = cart.add(item)
        cart_us.append((time.perf_counter() - t) * 1e6)

    unknown_us = []
    for i in range(2000):
        code = ean13(args.products + 10 + i)
        t = time.perf_counter()
        try:
            store.catalog.lookup_barcode(code)
        except UnknownBarcode:
            pass
        unknown_us.append((time.perf_counter() - t) * 1e6)
    store.close()

    raw = sqlite3.connect(path, isolation_level=None)
    gtins = [code.zfill(14) for code in codes]
    for gtin in gtins[:500]:
        raw.execute(_LOOKUP_SQL, (gtin,)).fetchone()
    raw_us = []
    for gtin in gtins:
        t = time.perf_counter()
        raw.execute(_LOOKUP_SQL, (gtin,)).fetchone()
        raw_us.append((time.perf_counter() - t) * 1e6)
    raw.close()

    print(
        f"edge scan lookup: {args.products} products, {args.products + args.products // 3 + 1} "
        f"barcodes, database {size_mb:.1f} MB (built in {built_s:.1f} s)"
    )
    print(f"{'path':<28}{'n':>7}{'p50 us':>10}{'p99 us':>10}{'max us':>10}{'mean us':>10}")
    for name, values in (
        ("lookup_barcode", lookup_us),
        ("scan-to-cart (lookup+add)", cart_us),
        ("unknown barcode", unknown_us),
        ("ceiling: bare sqlite3 query", raw_us),
    ):
        print(
            f"{name:<28}{len(values):>7}{pct(values, 0.50):>10.0f}{pct(values, 0.99):>10.0f}"
            f"{max(values):>10.0f}{statistics.fmean(values):>10.0f}"
        )
    print(load_line("at the end"))
    figure(
        "scan-to-cart (lookup + cart add), p50",
        pct(cart_us, 0.5),
        "us",
        ceiling="the same query on bare sqlite3, p50",
        ceiling_value=pct(raw_us, 0.5),
        higher_is_better=False,
    )
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()


if __name__ == "__main__":
    main()
