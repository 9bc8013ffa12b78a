"""What the routing walk-in hook costs the ingest: applier events per CPU-second, with and without.

Run: .venv/bin/python bench/routing_ingest_hook.py [--stores 4] [--events 1000]
                                                   [--open-orders 20] [--profile N]

In this process (no broker), on a fresh SQLite file (or, with ``--db postgres``, a
fresh database of a throw-away PostgreSQL cluster; only this process's CPU counts
then, not the server's), the hub's ``BatchApplier``
applies the same stream of two-line ``sale.completed`` events (500 SKUs per store,
the stream of ``bench/hub_ingest.py``) three times:

1. ``no hook``: the ingest alone;
2. ``hook, no open orders``: ``hub.routing_service``'s event hook attached, as
   ``acorn hub serve`` attaches it, and no online order open at any store;
3. ``hook, open orders``: the hook attached and ``--open-orders`` routed orders
   open at every store (each reserving one unit of one of the stream's SKUs), so the
   walk-in rule has something to look at on every batch.

Figures are events per CPU-second of this process (the load of a shared machine
blurs wall time less this way), the best of ``--repeat`` interleaved runs.
``--profile N`` prints the top N functions of a cProfile run of each case. Timing
lives here, never in the tests.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import add_quick, apply_defaults, figure, load_line  # noqa: E402

from bench.hub_ingest import _payloads, seeded_engine  # noqa: E402
from hub.db.engine import make_sessionmaker  # noqa: E402
from hub.db.models_routing import AssignmentState, RoutingAssignment  # noqa: E402
from hub.db.orders import route_order  # noqa: E402
from hub.ingest.apply import BatchApplier, InboundMessage  # noqa: E402
from hub.routing_service import StoreEvent, on_events  # noqa: E402
from protocol.messages import OrderLine, OrderMessage  # noqa: E402


def _setup(url: str, stores_n: int, open_orders: int) -> tuple[BatchApplier, Engine]:
    engine = seeded_engine(url, stores_n)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    with sessions.begin() as s:
        for i in range(stores_n):
            store = f"b-{i:03d}"
            for n in range(open_orders):
                order_id = f"O-{store}-{n}"
                item = f"SKU-{(n * 37) % 500:04d}"
                message = OrderMessage(
                    id=uuid.uuid4(),
                    store=store,
                    kind="routed",
                    order_id=order_id,
                    channel="bench",
                    lines=[OrderLine(sku=item, name="Item", qty=1)],
                    at=now,
                )
                route_order(s, message, now=now)
                s.add(
                    RoutingAssignment(
                        order_id=order_id,
                        location_id=store,
                        state=AssignmentState.ROUTED.value,
                        note="",
                        routed_at=now,
                        accept_by=now,
                        updated_at=now,
                    )
                )
    return BatchApplier(sessions), engine


def _hook(
    session: Session, events: list[tuple[str, str, dict[str, Any], datetime]], now: datetime
) -> None:
    on_events(session, [StoreEvent(*e) for e in events], now=now)


def measure(
    tmp: str,
    *,
    hook: bool,
    open_orders: int,
    stores_n: int,
    events: int,
    profile: int,
    new_url: Any = None,
) -> float:
    """Events per CPU-second of the applier for one case."""
    url = new_url() if new_url is not None else f"sqlite:///{tmp}/hook-{uuid.uuid4().hex[:6]}.db"
    applier, engine = _setup(url, stores_n, open_orders)
    if hook:
        applier.event_hooks.append(_hook)
    messages = [InboundMessage(t, p) for t, p in _payloads(stores_n, events, 10)]
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    for i in range(0, len(messages), 20):
        applier.apply(messages[i : i + 20])
    if profiler is not None:
        profiler.disable()
    cpu = time.process_time() - started
    engine.dispose()
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(profile)
        print(out.getvalue())
    return stores_n * events / cpu


def main() -> None:
    """Run the three cases and print events per CPU-second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick(parser)
    parser.add_argument("--stores", type=int, help="stores (4)")
    parser.add_argument("--events", type=int, help="events per store (1,000)")
    parser.add_argument("--open-orders", type=int, help="open orders per store (20)")
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions")
    parser.add_argument("--repeat", type=int, help="runs per case; the best is shown (3)")
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    args = apply_defaults(
        parser.parse_args(),
        {"stores": 4, "events": 1000, "open_orders": 20, "repeat": 3},
        {"stores": 2, "events": 100, "open_orders": 5, "repeat": 1},
    )
    cases = [
        ("no hook", False, 0),
        ("hook, no open orders", True, 0),
        (f"hook, {args.open_orders} open orders per store", True, args.open_orders),
    ]
    print(
        f"applier in process, {args.db}: {args.stores} stores x {args.events} two-line sale "
        "events, 20 messages of 10 events per batch"
    )
    best: dict[str, float] = {}
    pg = None
    new_url = None
    if args.db == "postgres":
        from tests.fixtures.postgres import start_pg_server

        pg = start_pg_server()

        def new_url() -> str:
            assert pg is not None
            return str(pg.url(pg.create_database(f"hook_{uuid.uuid4().hex[:8]}")))

    try:
        with tempfile.TemporaryDirectory(prefix="bench-hook-") as tmp:
            for _ in range(max(1, args.repeat)):  # interleaved: a busy moment hits every case
                for name, hook, open_orders in cases:
                    rate = measure(
                        tmp,
                        hook=hook,
                        open_orders=open_orders,
                        stores_n=args.stores,
                        events=args.events,
                        profile=args.profile,
                        new_url=new_url,
                    )
                    best[name] = max(best.get(name, 0.0), rate)
    finally:
        if pg is not None:
            pg.destroy()
    base = best["no hook"]
    for name, _, _ in cases:
        print(
            f"  {name:36s} {best[name]:8,.0f} events per CPU-second "
            f"({best[name] / base:4.0%} of no hook)"
        )
    worst = f"hook, {args.open_orders} open orders per store"
    figure(
        "applier with the walk-in hook and open orders",
        best[worst],
        "events/CPU-s",
        ceiling="the same applier without the hook",
        ceiling_value=base,
    )
    print(f"best of {args.repeat}")
    print(load_line("at the end"))


if __name__ == "__main__":
    main()
