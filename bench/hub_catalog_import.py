"""Catalog CSV import speed: N rows (one price list, one barcode each) into SQLite and PostgreSQL.

Run: .venv/bin/python bench/hub_catalog_import.py [--rows 100000] [--db sqlite,postgres]

Runs `acorn hub catalog import FILE.csv` as a user would (a fresh process, progress bar
on stderr), twice: into an empty catalog, then the same file again (every row
checked, nothing changes). Prints wall-clock seconds and rows per second for each.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


def main() -> None:
    """Generate the file, import it twice per database, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgres")
    args = parser.parse_args()
    from tests.fixtures.postgres import start_pg_server

    print(
        f"catalog import: {args.rows} rows; nproc={os.cpu_count()}, load {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
        path = Path(tmp) / "catalog.csv"
        write_csv(path, args.rows)
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
                    print(f"  {db:9s} {label:16s} {seconds:6.1f} s  {rate:8,.0f} rows/s")
            finally:
                if pg is not None:
                    pg.destroy()


if __name__ == "__main__":
    main()
