"""Durable sale commit on the edge database: SQLite synchronous=FULL against NORMAL (WAL).

Run: .venv/bin/python bench/edge_sale_commit.py [--sales 2000] [--rounds 3] [--quick]

Each timed call is one ``SalesRepository.complete``: receipt number, sale row,
3 lines, tender, stock for 3 SKUs and the sale.completed event with its seq, all
in one IMMEDIATE transaction, committed. The database lives on the same disk as
this checkout (not tmpfs). Rounds alternate FULL and NORMAL on fresh files so
both see the same machine noise. Also times a bare one-row commit on a plain
``sqlite3`` connection, same disk, same mode (the ceiling: what the fsync itself
costs). Prints p50 / p99 in microseconds and sales per second.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from _common import add_quick, apply_defaults, figure, load_line

from edge_agent.domain.sale import Cart
from edge_agent.domain.tender import Tender
from edge_agent.store.db import Synchronous
from edge_agent.store.facade import open_store
from edge_agent.store.models import Stock
from protocol.money import Money

SKUS = [("MILK", 129, "zero"), ("WINE", 899, "standard"), ("SOAP", 350, "standard")]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ring(folder: Path, mode: Synchronous, n: int) -> list[float]:
    store = open_store(folder / f"edge-{mode}.db", "s-001", synchronous=mode)
    for sku, price, tax_class in SKUS:
        store.catalog.upsert(sku, sku.title(), price, tax_class)
    Stock.update(on_hand=1_000_000).execute()
    items = [store.catalog.get(sku).as_item("GBP") for sku, _, _ in SKUS]
    tender = [Tender.cash(Money(5000, "GBP"))]
    times = []
    for _ in range(n):
        cart = Cart.start(uuid.uuid4(), store.policy)
        for item in items:
            cart = cart.add(item)
        t = time.perf_counter()
        store.sales.complete(cart, cashier_id="c1", tenders=tender)
        times.append((time.perf_counter() - t) * 1e6)
    store.close()
    return times


def bare_commit(folder: Path, mode: Synchronous, n: int) -> list[float]:
    conn = sqlite3.connect(folder / f"bare-{mode}.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute(f"PRAGMA synchronous={mode}")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    times = []
    for i in range(n):
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (v) VALUES (?)", (f"row {i}",))
        conn.execute("COMMIT")
        times.append((time.perf_counter() - t) * 1e6)
    conn.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick(parser)
    parser.add_argument("--sales", type=int, help="sales per round and mode (2000)")
    parser.add_argument("--rounds", type=int, help="rounds (3)")
    args = apply_defaults(
        parser.parse_args(), {"sales": 2000, "rounds": 3}, {"sales": 200, "rounds": 1}
    )
    base = Path(__file__).resolve().parent.parent
    results: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for mode in (Synchronous.FULL, Synchronous.NORMAL):
            folder = Path(tempfile.mkdtemp(prefix="edge-commit-", dir=base))
            try:
                results.setdefault(f"sale {mode}", []).extend(ring(folder, mode, args.sales))
                results.setdefault(f"bare commit {mode}", []).extend(
                    bare_commit(folder, mode, args.sales)
                )
            finally:
                shutil.rmtree(folder, ignore_errors=True)
    print(
        f"edge sale commit: {args.rounds} rounds x {args.sales} sales per mode, WAL, "
        f"3 lines per sale, database on {base}"
    )
    print(f"{'what':<22}{'n':>7}{'p50 us':>9}{'p99 us':>9}{'mean us':>9}{'per s':>9}")
    for name, values in results.items():
        mean = statistics.fmean(values)
        print(
            f"{name:<22}{len(values):>7}{pct(values, 0.5):>9.0f}{pct(values, 0.99):>9.0f}"
            f"{mean:>9.0f}{1e6 / mean:>9.0f}"
        )
    print(load_line("at the end"))
    full = f"{Synchronous.FULL}"
    figure(
        f"durable sale commit (synchronous={full}), p50",
        pct(results[f"sale {full}"], 0.5),
        "us",
        ceiling=f"bare sqlite3 one-row commit ({full}, same disk), p50",
        ceiling_value=pct(results[f"bare commit {full}"], 0.5),
        higher_is_better=False,
    )


if __name__ == "__main__":
    main()
