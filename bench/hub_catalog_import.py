"""Catalog CSV import speed: N rows (one price list, one barcode each) into SQLite and PostgreSQL.

Run: .venv/bin/python bench/hub_catalog_import.py [--rows 100000] [--db sqlite,postgres] [--quick]

Runs `acorn hub catalog import FILE.csv` as a user would (a fresh process, progress bar
on stderr), twice: into an empty catalog, then the same file again (every row
checked, nothing changes). Prints wall-clock seconds and rows per second for each.
The ceiling, in the same run and in this process (no interpreter start-up, which the
import's figure includes): ``csv`` parses the same file and a bare ``sqlite3``
connection inserts it (a product row and a barcode row per line) in one transaction,
with no validation, no price lists and no history.
"""

from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import add_quick, apply_defaults, figure, load_line  # noqa: E402

from hub.db.engine import make_engine  # noqa: E402
from hub.db.migrate import upgrade  # noqa: E402
from protocol.gtin import gs1_check_digit  # noqa: E402


def write_csv(path: Path, rows: int) -> None:
    """A catalog file with ``rows`` valid products."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["sku", "name", "price", "currency", "barcodes", "tax_class", "cost", "active"])
        for i in range(rows):
            body = f"400{i:09d}"
            w.writerow(
                [
                    f"SKU-{i:07d}",
                    f"Product number {i}",
                    f"{1 + i % 90}.{i % 100:02d}",
                    "EUR",
                    body + str(gs1_check_digit(body)),
                    "standard" if i % 3 else "reduced",
                    f"{i % 40}.50",
                    "true",
                ]
            )


def run_import(url: str, path: Path) -> float:
    """Seconds for one `acorn hub catalog import` process."""
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "acorn.cli",
            "hub",
            "catalog",
            "import",
            str(path),
            "--database-url",
            url,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"import failed: {result.stdout}{result.stderr[-2000:]}")
    print(f"    {result.stdout.strip()}")
    return elapsed


def raw_ceiling(path: Path, db: Path) -> float:
    """Seconds for csv parsing plus bare sqlite3 inserts of the same file (WAL, FULL)."""
    started = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE product (sku TEXT PRIMARY KEY, name TEXT, price_minor INTEGER, "
        "currency TEXT, tax_class TEXT, cost_minor INTEGER, active INTEGER)"
    )
    conn.execute("CREATE TABLE barcode (gtin TEXT PRIMARY KEY, sku TEXT)")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        rows = list(reader)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO product VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (r[0], r[1], round(float(r[2]) * 100), r[3], r[5], round(float(r[6]) * 100), 1)
            for r in rows
        ),
    )
    conn.executemany("INSERT INTO barcode VALUES (?, ?)", ((r[4], r[0]) for r in rows))
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - started


def main() -> None:
    """Generate the file, import it twice per database, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick(parser)
    parser.add_argument("--rows", type=int, help="rows in the CSV file (100,000)")
    parser.add_argument("--db", help="comma-separated: sqlite,postgres (both)")
    args = apply_defaults(
        parser.parse_args(),
        {"rows": 100_000, "db": "sqlite,postgres"},
        {"rows": 2_000, "db": "sqlite"},
    )
    from tests.fixtures.postgres import start_pg_server

    print(
        f"catalog import: {args.rows} rows; nproc={os.cpu_count()}, load {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
        path = Path(tmp) / "catalog.csv"
        write_csv(path, args.rows)
        raw_s = raw_ceiling(path, Path(tmp) / "raw.db")
        print(
            f"  ceiling: csv + bare sqlite3 inserts {raw_s:6.1f} s  "
            f"{args.rows / raw_s:8,.0f} rows/s"
        )
        first: dict[str, float] = {}
        for db in args.db.split(","):
            pg = None
            try:
                if db == "sqlite":
                    url = f"sqlite:///{tmp}/hub.db"
                else:
                    pg = start_pg_server()
                    url = pg.url(pg.create_database("bench"))
                engine = make_engine(url)
                upgrade(engine)
                engine.dispose()
                for label in ("empty catalog", "same file again"):
                    seconds = run_import(url, path)
                    rate = args.rows / seconds
                    first.setdefault(db, rate)
                    print(f"  {db:9s} {label:16s} {seconds:6.1f} s  {rate:8,.0f} rows/s")
            finally:
                if pg is not None:
                    pg.destroy()

        print("  " + load_line("at the end"))
        for db, rate in first.items():
            figure(
                f"catalog import of {args.rows:,} rows into an empty {db} catalog",
                rate,
                "rows/s",
                ceiling="csv + bare sqlite3 inserts, same file",
                ceiling_value=args.rows / raw_s,
            )


if __name__ == "__main__":
    main()
