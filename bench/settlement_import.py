"""Settlement import: parse a V2 flat file and store it on SQLite, rows per second.

Run: .venv/bin/python bench/settlement_import.py [--rows 50000] [--quick]

Builds a US settlement file in the V2 layout (24 columns, tab-separated; each order
has principal, tax, shipping, commission and a fixed fee row, with thousands
separators) and times, in this process:

1. ``parse_settlement`` alone (decoding, columns by header, exact minor units,
   classification, the sum check);
2. parse + ``import_settlement`` into a migrated SQLite file (one transaction;
   the order links look up orders the database does not have).

The ceiling, in the same run: Python's ``csv`` module reading the same file into
tuples (what any parser must at least do). Figures are rows per second of wall time.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import add_quick, apply_defaults, figure, load_line

from hub.db.engine import make_engine, make_sessionmaker
from hub.db.migrate import upgrade
from hub.finance.importer import import_settlement
from hub.finance.settlement import parse_settlement

HEADER = (
    "settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\t"
    "currency\ttransaction-type\torder-id\tmerchant-order-id\tadjustment-id\tshipment-id\t"
    "marketplace-name\tamount-type\tamount-description\tamount\tfulfillment-id\tposted-date\t"
    "posted-date-time\torder-item-code\tmerchant-order-item-id\tmerchant-adjustment-item-id\t"
    "sku\tquantity-purchased\tpromotion-id"
)
COMPONENTS = (
    ("ItemPrice", "Principal", 124_998),
    ("ItemPrice", "Tax", 10_312),
    ("ItemPrice", "Shipping", 599),
    ("ItemFees", "Commission", -18_750),
    ("ItemFees", "FixedClosingFee", -180),
)


def _money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def settlement_file(rows: int) -> bytes:
    """A US settlement of about ``rows`` amount rows (five per order)."""
    orders = max(1, rows // len(COMPONENTS))
    total = orders * sum(amount for _, _, amount in COMPONENTS)
    sid = "12000000001"
    lines = [
        HEADER,
        "\t".join(
            [
                sid,
                "2026-11-01 00:00:00 UTC",
                "2026-11-15 00:00:00 UTC",
                "2026-11-17 00:00:00 UTC",
                _money(total),
                "USD",
            ]
            + [""] * 18
        ),
    ]
    for n in range(orders):
        order = f"111-{n:07d}-{n % 9999:07d}"
        for atype, desc, amount in COMPONENTS:
            lines.append(
                "\t".join(
                    [sid, "", "", "", "", "", "Order", order, f"ACORN-{n}", "", f"S{n}"]
                    + ["Amazon.com", atype, desc, _money(amount), "MFN", "2026-11-05"]
                    + ["2026-11-05 10:00:00 UTC", f"{n:014d}", "", "", f"SKU-{n % 500:04d}"]
                    + ["1", ""]
                )
            )
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    """Build the file, time the three passes, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick(parser)
    parser.add_argument("--rows", type=int, help="amount rows in the file (50,000)")
    args = apply_defaults(parser.parse_args(), {"rows": 50_000}, {"rows": 2_000})
    data = settlement_file(args.rows)
    newlines = data.count(b"\n")
    print(f"settlement file: {newlines - 2:,} amount rows, {len(data) / 1e6:.1f} MB")

    t0 = time.perf_counter()
    raw = list(csv.reader(io.StringIO(data.decode()), delimiter="\t"))
    csv_s = time.perf_counter() - t0
    rows = len(raw) - 2

    t0 = time.perf_counter()
    parsed = parse_settlement(data)
    parse_s = time.perf_counter() - t0
    assert len(parsed.lines) == rows, (len(parsed.lines), rows)

    with tempfile.TemporaryDirectory(prefix="bench-settle-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'hub.db'}", writer=True)
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        t0 = time.perf_counter()
        parsed = parse_settlement(data)
        with sessions.begin() as session:
            import_settlement(
                session,
                parsed,
                sha256=hashlib.sha256(data).hexdigest(),
                source="file",
                source_name="bench.tsv",
                account_id=None,
                now=datetime.now(UTC),
            )
        import_s = time.perf_counter() - t0
        engine.dispose()

    print(f"  csv module alone:        {rows / csv_s:10,.0f} rows/s ({csv_s:.2f} s)")
    print(f"  parse_settlement:        {rows / parse_s:10,.0f} rows/s ({parse_s:.2f} s)")
    print(f"  parse + import (SQLite): {rows / import_s:10,.0f} rows/s ({import_s:.2f} s)")
    figure(
        "settlement parse + import into SQLite",
        rows / import_s,
        "rows/s",
        ceiling="csv module reading the same file",
        ceiling_value=rows / csv_s,
    )
    print(load_line("at the end"))


if __name__ == "__main__":
    main()
