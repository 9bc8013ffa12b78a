"""Routing throughput and latency: 1,000 locations, 100,000 SKUs, orders of 1-4 lines.

Run: .venv/bin/python bench/routing.py [--orders 5000] [--naive-orders 300] [--seed 7] [--quick]

Builds a chain across the demo countries (stores clustered around the cities of the
shipped postal table, a few warehouses per country), with sparse, skewed stock:
popular SKUs are stocked widely, the long tail only in warehouses. Each country's
locations ship for that country's marketplace only. Orders draw SKUs by the same
popularity among the SKUs the channel lists (stocked by one of its locations: a
marketplace only sells what has a sellable quantity) and ship to a postal code of the
country (half with coordinates, half resolved through the postal table).

Measured per order: candidate selection through the in-memory SKU index (what the
database's index on stock_levels(sku) provides: the locations with any stock of the
order's SKUs, the ``route`` contract), and ``route`` itself with the default rules.
Then the same orders with every location passed as a candidate (no pre-filter), to
show what the index saves. Prints decisions per second and p50/p99/max per order.
The ceiling is the candidate selection alone (the SKU index lookup, no rules), timed
on the same orders in the same loop: routing can never decide faster than it finds
the candidates.

The generated stock (millions of Python objects) is frozen out of the garbage
collector after set-up: in the hub it lives in the database, not on the heap, and
collector passes over it would be an artefact of the benchmark.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence

from _common import add_quick, apply_defaults, figure, load_line

from hub.data import load_postal_codes
from hub.domain.geo import PostalCodeTable, PostalPlace
from hub.domain.routing import (
    DEFAULT_RULES,
    LocationKind,
    LocationState,
    OrderLine,
    OrderToRoute,
    ShipTo,
    StockIndex,
    route,
)
from protocol.money import Money

CURRENCY = {"US": "USD", "GB": "GBP", "DE": "EUR", "JP": "JPY"}
PRICE_MINOR = {"USD": 2_500, "GBP": 2_000, "EUR": 2_200, "JPY": 3_000}
COUNTRY_SHARE = {"US": 0.4, "GB": 0.2, "DE": 0.2, "JP": 0.2}


def popular_sku(rng: random.Random, n_skus: int) -> int:
    """A SKU index with a long tail: low indexes are the best sellers."""
    return int(n_skus * rng.random() ** 3)


def build_locations(
    rng: random.Random, table: PostalCodeTable, n_locations: int, n_skus: int
) -> list[LocationState]:
    by_country: dict[str, list[PostalPlace]] = {}
    for place in table:
        by_country.setdefault(place.country, []).append(place)
    n_warehouses = max(4, n_locations // 20)
    skus = [f"SKU-{i:06d}" for i in range(n_skus)]
    locations = []
    for i in range(n_locations):
        country = rng.choices(list(COUNTRY_SHARE), weights=list(COUNTRY_SHARE.values()))[0]
        anchor = rng.choice(by_country[country])
        warehouse = i < n_warehouses
        if warehouse:
            picks = {popular_sku(rng, n_skus) for _ in range(rng.randint(15_000, 30_000))}
            picks |= {rng.randrange(n_skus) for _ in range(5_000)}  # the long tail
            stock = {skus[k]: rng.randint(5, 200) for k in picks}
            capacity, load = 5_000, rng.randint(0, 3_000)
        else:
            picks = {popular_sku(rng, n_skus // 5) for _ in range(rng.randint(800, 2_500))}
            stock = {skus[k]: rng.randint(0, 12) for k in picks}
            capacity = rng.randint(20, 80)
            load = rng.randint(0, capacity)
        locations.append(
            LocationState(
                location_id=f"{'w' if warehouse else 's'}-{i:04d}",
                kind=LocationKind.WAREHOUSE if warehouse else LocationKind.STORE,
                lat=max(-90.0, min(90.0, anchor.lat + rng.uniform(-0.15, 0.15))),
                lon=max(-180.0, min(180.0, anchor.lon + rng.uniform(-0.15, 0.15))),
                stock=stock,
                online=rng.random() > 0.03,
                daily_capacity=capacity,
                current_load=load,
                channels=frozenset({f"amazon-{country.lower()}"}),
                safety_stock=0 if warehouse else rng.choice((0, 0, 1)),
            )
        )
    return locations


def listed_sku(rng: random.Random, index: StockIndex, channel: str, n_skus: int) -> str:
    """A popular SKU that the channel lists (some location of the channel has it)."""
    for _ in range(1_000):
        sku = f"SKU-{popular_sku(rng, n_skus):06d}"
        if index.location_ids_for([sku], channel=channel):
            return sku
    raise RuntimeError(f"no stocked SKU found for {channel}")


def ship_to_code(place: PostalPlace) -> str:
    """A full postal code under a table row (the row's own code when it is one)."""
    if place.country == "GB":
        if " " in place.code and len(place.code.split()[1]) == 3:
            return place.code
        outward = place.code if any(ch.isdigit() for ch in place.code) else place.code + "1"
        return f"{outward.split()[0]} 1AA"
    width = 7 if place.country == "JP" else 5
    return place.code.ljust(width, "1")


def build_orders(
    rng: random.Random, table: PostalCodeTable, index: StockIndex, n_orders: int, n_skus: int
) -> list[OrderToRoute]:
    places = list(table)
    orders = []
    for i in range(n_orders):
        place = rng.choice(places)
        channel = f"amazon-{place.country.lower()}"
        n_lines = rng.choices((1, 2, 3, 4), weights=(60, 25, 10, 5))[0]
        lines = {
            listed_sku(rng, index, channel, n_skus): rng.choice((1, 1, 1, 2))
            for _ in range(n_lines)
        }
        currency = CURRENCY[place.country]
        value = sum(lines.values()) * PRICE_MINOR[currency]
        with_coordinates = rng.random() < 0.5
        orders.append(
            OrderToRoute(
                order_id=f"B-{i:07d}",
                channel=channel,
                lines=tuple(OrderLine(s, q) for s, q in lines.items()),
                ship_to=ShipTo(
                    place.country,
                    ship_to_code(place),
                    place.lat if with_coordinates else None,
                    place.lon if with_coordinates else None,
                ),
                value=Money(value, currency),
                risk_flags=frozenset({"address_unverified"})
                if rng.random() < 0.01
                else frozenset(),
                allow_split=rng.random() < 0.8,
            )
        )
    return orders


class Timings:
    """Per-order figures of one run: wall and CPU time of selection and routing."""

    def __init__(self) -> None:
        self.select_ns: list[int] = []
        self.route_ns: list[int] = []
        self.cpu_ns: list[int] = []
        self.candidates: list[int] = []
        self.results: list[tuple[str, tuple[str, ...]]] = []
        self.json_sizes: list[int] = []


def measure(
    orders: Sequence[OrderToRoute],
    candidates_for: Callable[[OrderToRoute], list[LocationState]],
    table: PostalCodeTable,
) -> Timings:
    out = Timings()
    for order in orders:
        c0 = time.thread_time_ns()
        t0 = time.perf_counter_ns()
        cands = candidates_for(order)
        t1 = time.perf_counter_ns()
        decision = route(order, cands, DEFAULT_RULES, postal=table)
        t2 = time.perf_counter_ns()
        c1 = time.thread_time_ns()
        out.select_ns.append(t1 - t0)
        out.route_ns.append(t2 - t1)
        out.cpu_ns.append(c1 - c0)
        out.candidates.append(len(cands))
        # Keep only what the report needs: holding thousands of decisions would make
        # the collector's full passes, not routing, the slowest "orders".
        out.results.append((decision.outcome.value, decision.location_ids))
        if len(out.json_sizes) < 500:
            out.json_sizes.append(len(json.dumps(decision.as_dict())))
    return out


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def report(label: str, t: Timings) -> None:
    wall = [a + b for a, b in zip(t.select_ns, t.route_ns, strict=True)]
    print(label)
    print(
        f"  candidates per order: mean {statistics.fmean(t.candidates):.0f}, "
        f"p99 {pct(t.candidates, 99):.0f}, max {max(t.candidates)}"
    )
    for name, values in (("wall", wall), ("CPU ", t.cpu_ns)):
        ms = [v / 1e6 for v in values]
        print(
            f"  {name}: {len(values) / (sum(values) / 1e9):,.0f} decisions/s   per order: "
            f"p50 {pct(ms, 50):.2f} ms  p99 {pct(ms, 99):.2f} ms  max {max(ms):.2f} ms"
        )
    print(
        f"  wall split: candidate selection p50 {pct(t.select_ns, 50) / 1e6:.3f} ms, "
        f"route p50 {pct(t.route_ns, 50) / 1e6:.2f} ms / p99 {pct(t.route_ns, 99) / 1e6:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick(parser)
    parser.add_argument("--locations", type=int, help="stores and warehouses (1,000)")
    parser.add_argument("--skus", type=int, help="SKUs (100,000)")
    parser.add_argument("--orders", type=int, help="orders to route (5,000)")
    parser.add_argument("--naive-orders", type=int, help="orders routed without the index (300)")
    parser.add_argument("--seed", type=int, default=7)
    args = apply_defaults(
        parser.parse_args(),
        {"locations": 1_000, "skus": 100_000, "orders": 5_000, "naive_orders": 300},
        {"locations": 100, "skus": 10_000, "orders": 300, "naive_orders": 30},
    )

    rng = random.Random(args.seed)
    table = load_postal_codes()
    t0 = time.perf_counter()
    locations = build_locations(rng, table, args.locations, args.skus)
    index = StockIndex(locations)
    orders = build_orders(rng, table, index, args.orders, args.skus)
    setup_s = time.perf_counter() - t0
    gc.collect()
    gc.freeze()

    rows = sum(len(loc.stock) for loc in locations)
    warehouses = sum(1 for loc in locations if loc.kind is LocationKind.WAREHOUSE)
    print(
        f"routing benchmark: {len(locations):,} locations ({len(locations) - warehouses} stores, "
        f"{warehouses} warehouses), {args.skus:,} SKUs, {rows:,} stock rows, "
        f"{len(orders):,} orders of 1-4 lines; set-up {setup_s:.1f} s"
    )
    load1, _, _ = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load1:.1f} at start "
        "(wall times include waiting for a CPU; CPU times do not)"
    )

    # Warm-up: first calls pay for imports and caches.
    measure(orders[:50], lambda o: index.candidates_for(o.demand, channel=o.channel), table)

    run = measure(orders, lambda o: index.candidates_for(o.demand, channel=o.channel), table)
    report("with the SKU index (the candidates contract):", run)
    outcomes = Counter(outcome for outcome, _ in run.results)
    print(
        "  outcomes: "
        + ", ".join(
            f"{k} {v} ({100 * v / len(run.results):.1f} %)" for k, v in outcomes.most_common()
        )
    )
    sizes = run.json_sizes
    print(
        f"  stored explanation (JSON): mean {statistics.fmean(sizes) / 1024:.1f} KiB, "
        f"max {max(sizes) / 1024:.1f} KiB"
    )

    if args.naive_orders:
        sample = orders[: args.naive_orders]
        naive = measure(sample, lambda o: locations, table)
        report(
            f"without the index (all {len(locations):,} locations, {len(sample)} orders):", naive
        )
        same = sum(1 for a, b in zip(naive.results, run.results, strict=False) if a == b)
        print(f"  same decision as with the index: {same}/{len(sample)}")
    print(load_line("at the end"))
    wall_s = (sum(run.select_ns) + sum(run.route_ns)) / 1e9
    figure(
        f"routing decisions, {len(locations):,} locations, {args.skus:,} SKUs",
        len(orders) / wall_s,
        "decisions/s",
        ceiling="candidate selection alone (SKU index), same orders",
        ceiling_value=len(orders) / (sum(run.select_ns) / 1e9),
    )


if __name__ == "__main__":
    main()
