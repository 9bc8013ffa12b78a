"""Catalog import/export through the CLI and the repository; snapshot and delta messages."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hub.db.catalog import catalog_messages, current_version, import_csv
from hub.db.models import Barcode, Price, Product
from protocol.gtin import gs1_check_digit
from tests.hub.conftest import NOW


def acorn(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "acorn.cli", "hub", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def ean13(n: int) -> str:
    body = f"400{n:09d}"
    return body + str(gs1_check_digit(body))


def write_catalog(path: Path, rows: int, *, bad_every: int = 0) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["sku", "name", "price", "barcodes", "tax_class", "active"])
        for i in range(rows):
            price = "x" if bad_every and i % bad_every == 0 else f"{1 + i % 50}.{i % 100:02d}"
            w.writerow([f"SKU-{i:06d}", f"Product {i}", price, ean13(i), "standard", "true"])


def test_cli_import_of_a_large_file_reports_bad_rows_and_imports_the_rest(
    hub_db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "catalog.csv"
    write_catalog(path, 3_000, bad_every=1000)
    report = tmp_path / "refused.csv"
    result = acorn(
        "catalog", "import", str(path), "--database-url", hub_db_url, "--report", str(report)
    )
    assert result.returncode == 1, result.stderr
    assert "3000 rows read, 2997 imported, 3 refused" in result.stdout
    assert "line 2: SKU-000000: price: not a decimal amount" in result.stderr
    refused = list(csv.DictReader(report.open()))
    assert [r["line"] for r in refused] == ["2", "1002", "2002"]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Product)) == 2_997
        assert s.scalar(select(func.count()).select_from(Barcode)) == 2_997
        assert s.get(Price, ("default", "SKU-000001")).price_minor == 201  # type: ignore[union-attr]
    # Export, then import the export again: nothing changes.
    out = tmp_path / "export.csv"
    exported = acorn("catalog", "export", str(out), "--database-url", hub_db_url)
    assert exported.returncode == 0, exported.stderr
    assert "2997 rows exported" in exported.stderr
    again = acorn("catalog", "import", str(out), "--database-url", hub_db_url)
    assert again.returncode == 0, again.stderr
    assert "0 products and 0 prices changed (no change)" in again.stdout


def test_cli_import_refuses_a_file_without_the_required_columns(
    hub_db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("sku,title\nA,B\n")
    result = acorn("catalog", "import", str(path), "--database-url", hub_db_url)
    assert result.returncode == 2
    assert "missing column(s): name, price" in result.stderr


def test_snapshot_for_a_new_store_then_deltas(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        import_csv(
            s,
            io.StringIO(
                "sku,name,price,price_list\nTEA,Tea,3.50,default\nMUG,Mug,7.00,default\n"
                "TEA,Tea,3.00,members\n"
            ),
            now=NOW,
            default_currency="EUR",
        )
    with sessions() as s:
        v1, snapshot = catalog_messages(s, "s-001", since=0, now=NOW)
    assert v1 >= 1
    assert [(m.kind, [p.sku for p in m.products]) for m in snapshot] == [
        ("snapshot", ["MUG", "TEA"])
    ]
    assert snapshot[0].model_extra == {"part": 1, "parts": 1}
    with sessions.begin() as s:
        import_csv(
            s,
            io.StringIO("sku,name,price\nTEA,Tea,3.90\nMUG,Mug,7.00\n"),
            now=NOW,
            default_currency="EUR",
        )
        assert current_version(s) == v1 + 1
    with sessions() as s:
        v2, delta = catalog_messages(s, "s-001", since=v1, now=NOW)
        _, nothing = catalog_messages(s, "s-001", since=v2, now=NOW)
    assert v2 == v1 + 1
    assert [(m.kind, [(p.sku, p.price_minor) for p in m.products]) for m in delta] == [
        ("delta", [("TEA", 390)])
    ]
    assert nothing == []


def test_large_snapshot_is_split_into_parts(sessions: sessionmaker[Session]) -> None:
    rows = "".join(f"P{i:05d},Product {i},1.00\n" for i in range(1200))
    with sessions.begin() as s:
        import_csv(s, io.StringIO("sku,name,price\n" + rows), now=NOW, default_currency="EUR")
    with sessions() as s:
        _, parts = catalog_messages(s, "s-002", since=0, now=NOW)
    assert [len(m.products) for m in parts] == [500, 500, 200]
    assert [m.model_extra["part"] for m in parts] == [1, 2, 3]
    assert len({m.version for m in parts}) == 1
