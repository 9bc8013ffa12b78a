"""What the demo did, counted from the stores' SQLite files and the hub's database.

The check that matters: every sale rung at a till appears exactly once at the hub.
A sale is *lost* when a till recorded it (or a shopper saw it accepted) and the hub
has no ``sale.completed`` for it once the outboxes drained; it is *duplicated* when
the hub applied it more than once or holds its lines twice. The files are opened
read-only; the demo's processes may still be running.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from acorn.demo.setup import Layout, StoreSpec
from acorn.demo.simulate import TillCounters


@dataclass
class StoreSummary:
    """One store's figures."""

    store_id: str
    tz: str
    rung_by_shoppers: int = 0
    failed_attempts: int = 0
    sales_at_till: int = 0
    events_written: int = 0
    outbox_depth: int = 0
    events_synced: int = 0
    sales_at_hub: int = 0
    lost: int = 0
    duplicated: int = 0


@dataclass
class DemoSummary:
    """Every store's figures, the orders, and the totals the exit code depends on."""

    stores: list[StoreSummary]
    orders: dict[str, int | str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Sales lost over all stores."""
        return sum(s.lost for s in self.stores)

    @property
    def duplicated(self) -> int:
        """Sales duplicated over all stores."""
        return sum(s.duplicated for s in self.stores)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (written to DATA_DIR/summary.json)."""
        return {
            "stores": [asdict(s) for s in self.stores],
            "orders": self.orders,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "notes": self.notes,
        }

    def text(self) -> str:
        """The summary as printed at the end of a run."""
        out = ["", "Summary"]
        out.append(
            f"  {'store':16} {'zone':20} {'rung':>6} {'at till':>8} {'at hub':>7} "
            f"{'events':>7} {'synced':>7} {'queued':>7} {'lost':>5} {'dup':>4}"
        )
        for s in self.stores:
            out.append(
                f"  {s.store_id:16} {s.tz:20} {s.rung_by_shoppers:>6} {s.sales_at_till:>8} "
                f"{s.sales_at_hub:>7} {s.events_written:>7} {s.events_synced:>7} "
                f"{s.outbox_depth:>7} {s.lost:>5} {s.duplicated:>4}"
            )
        out.append(
            f"  total: {sum(s.rung_by_shoppers for s in self.stores)} sales rung, "
            f"{sum(s.events_synced for s in self.stores)} events synced"
        )
        out.append("  marketplace orders: " + ", ".join(f"{k} {v}" for k, v in self.orders.items()))
        out += [f"  note: {n}" for n in self.notes]
        verdict = "OK" if self.lost == 0 and self.duplicated == 0 else "FAILED"
        out.append(f"  lost {self.lost}, duplicated {self.duplicated}: {verdict}")
        return "\n".join(out)


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        yield conn
    finally:
        conn.close()


def _norm(raw: object) -> str:
    try:
        return uuid.UUID(str(raw)).hex
    except ValueError:
        return str(raw)


@dataclass(frozen=True, slots=True)
class _EdgeFacts:
    sale_ids: set[str]
    last_seq: int
    outbox_depth: int


def edge_facts(db: Path) -> _EdgeFacts:
    """Sale ids, last seq written and outbox depth of one store's database."""
    with _read_only(db) as conn:
        sale_ids = {_norm(r[0]) for r in conn.execute("SELECT id FROM sale")}
        row = conn.execute("SELECT value FROM counter WHERE name = 'outbox_seq'").fetchone()
        depth = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    return _EdgeFacts(sale_ids, int(row[0]) if row else 0, int(depth))


@dataclass(frozen=True, slots=True)
class _HubFacts:
    events: int
    contiguous_seq: int
    sale_events: list[str]
    duplicate_lines: int


def hub_facts(db: Path, store_id: str) -> _HubFacts:
    """Applied events, contiguous seq, sale ids (one per applied event) and doubled lines."""
    with _read_only(db) as conn:
        events = conn.execute(
            "SELECT COUNT(*) FROM applied_events WHERE store_id = ?", (store_id,)
        ).fetchone()[0]
        row = conn.execute(
            "SELECT contiguous_seq FROM store_sync WHERE store_id = ?", (store_id,)
        ).fetchone()
        sale_events = [
            _norm(json.loads(body).get("sale_id") if isinstance(body, str) else None)
            for (body,) in conn.execute(
                "SELECT body FROM applied_events WHERE store_id = ? AND type = 'sale.completed'",
                (store_id,),
            )
        ]
        dup_lines = conn.execute(
            "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM sales_facts "
            "WHERE store_id = ? GROUP BY kind, document_id, line_no HAVING COUNT(*) > 1)",
            (store_id,),
        ).fetchone()[0]
    return _HubFacts(int(events), int(row[0]) if row else 0, sale_events, int(dup_lines))


def drained(layout: Layout, specs: list[StoreSpec]) -> bool:
    """Whether every store's outbox is empty and the hub has applied all it wrote."""
    for spec in specs:
        edge = edge_facts(layout.store_dir(spec.store_id) / "edge.db")
        hub = hub_facts(layout.hub_db, spec.store_id)
        if edge.outbox_depth or hub.contiguous_seq < edge.last_seq:
            return False
    return True


def wait_drained(layout: Layout, specs: list[StoreSpec], timeout_s: float) -> bool:
    """Poll until drained or the deadline; True when drained."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(sqlite3.Error):
            if drained(layout, specs):
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)


def collect(
    layout: Layout,
    specs: list[StoreSpec],
    counters: dict[str, TillCounters],
    *,
    orders: dict[str, int | str],
    notes: list[str],
) -> DemoSummary:
    """Count everything; lost and duplicated per store."""
    stores = []
    for spec in specs:
        edge = edge_facts(layout.store_dir(spec.store_id) / "edge.db")
        hub = hub_facts(layout.hub_db, spec.store_id)
        till = counters.get(spec.store_id, TillCounters(spec.store_id))
        hub_ids = set(hub.sale_events)
        lost = len(edge.sale_ids - hub_ids) + max(0, till.rung - len(edge.sale_ids))
        duplicated = (len(hub.sale_events) - len(hub_ids)) + hub.duplicate_lines
        stores.append(
            StoreSummary(
                store_id=spec.store_id,
                tz=spec.tz,
                rung_by_shoppers=till.rung,
                failed_attempts=till.failed,
                sales_at_till=len(edge.sale_ids),
                events_written=edge.last_seq,
                outbox_depth=edge.outbox_depth,
                events_synced=hub.events,
                sales_at_hub=len(hub_ids),
                lost=lost,
                duplicated=duplicated,
            )
        )
    return DemoSummary(stores=stores, orders=orders, notes=notes)
