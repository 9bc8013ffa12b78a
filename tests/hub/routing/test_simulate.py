"""Simulation: rules over past orders with no side effects, and the candidate index."""

from __future__ import annotations

import copy

from hub.domain.routing import (
    DEFAULT_RULES,
    Outcome,
    StockIndex,
    route,
    simulate,
)
from tests.hub.routing.kit import loc, one_rule, order, ruleset


def test_simulation_sees_earlier_orders_but_leaves_inputs_untouched() -> None:
    near = loc("s-001", 1, {"SKU-1": 2}, daily_capacity=10, current_load=0)
    far = loc("s-002", 20, {"SKU-1": 5}, daily_capacity=10, current_load=0)
    stores = [near, far]
    before = copy.deepcopy(stores)
    orders = [order([("SKU-1", 1)], order_id=f"A-{i}") for i in range(1, 5)]
    result = simulate(orders, stores, DEFAULT_RULES)
    # The near store ships the first two units, then the far one takes over.
    assert [d.location_ids for d in result.decisions] == [
        ("s-001",),
        ("s-001",),
        ("s-002",),
        ("s-002",),
    ]
    assert stores == before
    summary = result.summary
    assert summary.orders == 4
    assert summary.by_outcome == {"routed": 4}
    assert summary.by_rule == {"nearby, one parcel": 4}
    assert summary.shipments == 4
    assert summary.shipments_by_location == {"s-001": 2, "s-002": 2}
    assert summary.mean_distance_km is not None
    assert 10 < summary.mean_distance_km < 11
    assert summary.unroutable_order_ids == ()


def test_simulation_counts_load_against_capacity() -> None:
    tiny = loc("s-001", 1, {"SKU-1": 50}, daily_capacity=2, current_load=1)
    other = loc("s-002", 30, {"SKU-1": 50}, daily_capacity=100, current_load=0)
    orders = [order([("SKU-1", 1)], order_id=f"A-{i}") for i in range(3)]
    result = simulate(orders, [tiny, other], DEFAULT_RULES)
    assert [d.location_ids[0] for d in result.decisions] == ["s-001", "s-002", "s-002"]
    assert "at capacity 2/2" in result.decisions[1].explain()


def test_simulation_without_consume_routes_each_order_alone() -> None:
    near = loc("s-001", 1, {"SKU-1": 1})
    orders = [order([("SKU-1", 1)], order_id=f"A-{i}") for i in range(3)]
    result = simulate(orders, [near], DEFAULT_RULES, consume=False)
    assert [d.location_ids for d in result.decisions] == [("s-001",)] * 3


def test_simulation_summary_of_mixed_outcomes() -> None:
    a = loc("s-001", 1, {"SKU-A": 1})
    b = loc("s-002", 2, {"SKU-B": 1})
    c = loc("s-003", 3, {"SKU-C": 1})
    orders = [
        order([("SKU-A", 1), ("SKU-B", 1)], order_id="split"),
        order([("SKU-A", 1)], order_id="gone"),  # the split took the only unit
        order([("SKU-C", 1)], order_id="held", risk_flags=frozenset({"fraud"})),
        order([("SKU-C", 1)], order_id="after-held"),  # the held order reserved nothing
        order([("SKU-Z", 1)], order_id="unknown-sku"),
    ]
    result = simulate(orders, [a, b, c], DEFAULT_RULES)
    outcomes = {d.order_id: d.outcome for d in result.decisions}
    assert outcomes == {
        "split": Outcome.SPLIT,
        "gone": Outcome.UNROUTABLE,
        "held": Outcome.MANUAL_REVIEW,
        "after-held": Outcome.ROUTED,
        "unknown-sku": Outcome.UNROUTABLE,
    }
    assert result.summary.by_outcome == {
        "manual_review": 1,
        "routed": 1,
        "split": 1,
        "unroutable": 2,
    }
    assert result.summary.unroutable_order_ids == ("gone", "unknown-sku")
    assert result.summary.shipments == 3
    held = next(d for d in result.decisions if d.order_id == "held")
    assert [p.location_id for p in held.proposed] == ["s-003"]
    assert held.proposed_outcome is Outcome.ROUTED


def test_simulation_matches_route_for_a_single_order() -> None:
    cands = [loc("s-001", 5, {"SKU-1": 3}), loc("s-002", 2, {"SKU-1": 3}), loc("s-003", 1, {})]
    o = order([("SKU-1", 2)])
    simulated = simulate([o], cands, DEFAULT_RULES).decisions[0]
    direct = route(o, [c for c in cands if c.stock], DEFAULT_RULES)
    assert simulated.as_dict() == direct.as_dict()


def test_stock_index_selects_locations_with_any_of_the_skus() -> None:
    index = StockIndex(
        [
            loc("s-003", 1, {"SKU-A": 1, "SKU-B": 0}),
            loc("s-001", 1, {"SKU-B": 2}),
            loc("s-002", 1, {"SKU-C": 4}),
            loc("s-004", 1, {}),
        ]
    )
    assert len(index) == 4
    assert index.location_ids_for(["SKU-A", "SKU-B"]) == ["s-001", "s-003"]
    assert [c.location_id for c in index.candidates_for(["SKU-C"])] == ["s-002"]
    assert index.candidates_for(["SKU-Z"]) == []


def test_simulation_compares_two_rule_sets() -> None:
    stores = [
        loc("s-001", 1, {"SKU-1": 10}, daily_capacity=100, current_load=90),
        loc("s-002", 15, {"SKU-1": 10}, daily_capacity=100, current_load=0),
    ]
    orders = [order([("SKU-1", 1)], order_id=f"A-{i}") for i in range(4)]
    nearest = simulate(orders, stores, ruleset(one_rule(sorts=["distance", "load"])))
    balanced = simulate(orders, stores, ruleset(one_rule(sorts=["load", "distance"])))
    assert nearest.summary.shipments_by_location == {"s-001": 4}
    assert balanced.summary.shipments_by_location == {"s-002": 4}
    assert nearest.summary.mean_distance_km is not None
    assert balanced.summary.mean_distance_km is not None
    assert nearest.summary.mean_distance_km < balanced.summary.mean_distance_km


def test_stock_index_can_preselect_by_channel() -> None:
    index = StockIndex(
        [
            loc("s-001", 1, {"SKU-A": 1}, channels=frozenset({"amazon-de"})),
            loc("s-002", 1, {"SKU-A": 1}, channels=frozenset({"amazon-uk", "ebay-uk"})),
            loc("w-001", 1, {"SKU-A": 1}, kind="warehouse"),  # every channel
        ]
    )
    assert index.location_ids_for(["SKU-A"], channel="amazon-uk") == ["s-002", "w-001"]
    assert index.location_ids_for(["SKU-A"], channel="amazon-de") == ["s-001", "w-001"]
    assert index.location_ids_for(["SKU-A"]) == ["s-001", "s-002", "w-001"]
