"""Routing decisions: every filter, sort and no-fill action, holds, re-routing and reasons."""

from __future__ import annotations

import json

import pytest

from hub.domain.routing import (
    DEFAULT_RULES,
    LocationKind,
    LocationState,
    Outcome,
    ReasonCode,
    RoutingDecision,
    RoutingError,
    RuleResult,
    ShipTo,
    route,
)
from tests.hub.routing.kit import loc, one_rule, order, ruleset


def reasons_of(decision: RoutingDecision, location_id: str, rule: int = -1) -> list[str]:
    report = decision.rules[rule]
    for c in report.candidates:
        if c.location_id == location_id:
            return [r.text for r in c.reasons]
    raise AssertionError(f"{location_id} not in the report of rule {report.rule}")


def codes_of(decision: RoutingDecision, location_id: str, rule: int = -1) -> set[ReasonCode]:
    report = decision.rules[rule]
    return {r.code for c in report.candidates if c.location_id == location_id for r in c.reasons}


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("filters", "location", "code", "text"),
    [
        pytest.param(
            ["stock"],
            loc("s-001", 1, {"SKU-1": 0}),
            ReasonCode.NO_STOCK,
            "no stock of SKU SKU-1 (has 0, needs 2)",
            id="stock-none",
        ),
        pytest.param(
            ["stock"],
            loc("s-001", 1, {"SKU-1": 1}),
            ReasonCode.NO_STOCK,
            "short of SKU SKU-1 (has 1, needs 2)",
            id="stock-short",
        ),
        pytest.param(
            ["stock"],
            loc("s-001", 1, {"SKU-1": 3}, safety_stock=2),
            ReasonCode.NO_STOCK,
            "short of SKU SKU-1 (has 1 after safety stock 2, needs 2)",
            id="stock-safety",
        ),
        pytest.param(
            ["stock"],
            loc("s-001", 1, {"SKU-1": 5}, safety_stock_by_sku={"SKU-1": 4}),
            ReasonCode.NO_STOCK,
            "short of SKU SKU-1 (has 1 after safety stock 4, needs 2)",
            id="stock-safety-per-sku",
        ),
        pytest.param(
            ["online"],
            loc("s-001", 1, {"SKU-1": 5}, online=False),
            ReasonCode.OFFLINE,
            "offline",
            id="online",
        ),
        pytest.param(
            ["capacity"],
            loc("s-001", 1, {"SKU-1": 5}, daily_capacity=40, current_load=40),
            ReasonCode.CAPACITY,
            "at capacity 40/40",
            id="capacity",
        ),
        pytest.param(
            [{"type": "distance", "max_km": 300}],
            loc("s-001", 412.5, {"SKU-1": 5}),
            ReasonCode.DISTANCE,
            "beyond 300 km (412.5 km)",
            id="distance",
        ),
        pytest.param(
            [{"type": "kind", "kinds": ["store"]}],
            loc("w-001", 1, {"SKU-1": 5}, kind="warehouse"),
            ReasonCode.KIND,
            "warehouse not allowed by this rule (store)",
            id="kind",
        ),
    ],
)
def test_each_filter_removes_a_location_with_its_reason(
    filters: list[object], location: LocationState, code: ReasonCode, text: str
) -> None:
    backup = loc("s-999", 50, {"SKU-1": 5})
    rules = ruleset(one_rule(filters=filters))
    decision = route(order([("SKU-1", 2)]), [location, backup], rules)
    assert decision.outcome is Outcome.ROUTED
    assert decision.location_ids == ("s-999",)
    assert codes_of(decision, location.location_id) == {code}
    assert reasons_of(decision, location.location_id) == [text]
    assert decision.rules[0].filtered == 1


@pytest.mark.parametrize(
    ("location", "filters"),
    [
        pytest.param(loc("s-001", 1, {"SKU-1": 2}), ["stock"], id="stock-exact"),
        pytest.param(loc("s-001", 1, {"SKU-1": 4}, safety_stock=2), ["stock"], id="safety-exact"),
        pytest.param(
            loc("s-001", 1, {"SKU-1": 2}, safety_stock=5),
            [{"type": "stock", "safety_stock": False}],
            id="stock-ignoring-safety",
        ),
        pytest.param(
            loc("s-001", 1, {"SKU-1": 2}, daily_capacity=40, current_load=39),
            ["capacity"],
            id="capacity-one-left",
        ),
        pytest.param(
            loc("s-001", 1, {"SKU-1": 2}, daily_capacity=None, current_load=500),
            ["capacity"],
            id="capacity-unlimited",
        ),
        pytest.param(
            loc("s-001", 299.9, {"SKU-1": 2}),
            [{"type": "distance", "max_km": 300}],
            id="distance-inside",
        ),
    ],
)
def test_each_filter_lets_a_location_through_at_its_limit(
    location: LocationState, filters: list[object]
) -> None:
    decision = route(order([("SKU-1", 2)]), [location], ruleset(one_rule(filters=filters)))
    assert decision.outcome is Outcome.ROUTED
    assert decision.location_ids == ("s-001",)


def test_offline_location_is_excluded_even_when_nearest() -> None:
    near = loc("s-001", 0.5, {"SKU-1": 5}, online=False)
    far = loc("s-002", 20, {"SKU-1": 5})
    decision = route(order([("SKU-1", 1)]), [near, far], DEFAULT_RULES)
    assert decision.location_ids == ("s-002",)
    assert reasons_of(decision, "s-001") == ["offline"]


def test_location_at_capacity_loses_to_a_farther_one() -> None:
    full = loc("s-001", 1, {"SKU-1": 5}, daily_capacity=40, current_load=40)
    free = loc("s-002", 10, {"SKU-1": 5}, daily_capacity=40, current_load=0)
    decision = route(order([("SKU-1", 1)]), [full, free], DEFAULT_RULES)
    assert decision.location_ids == ("s-002",)
    assert reasons_of(decision, "s-001") == ["at capacity 40/40"]


def test_channel_eligibility_is_always_applied() -> None:
    other = loc("s-001", 1, {"SKU-1": 5}, channels=frozenset({"ebay-uk"}))
    allowed = loc("s-002", 5, {"SKU-1": 5}, channels=frozenset({"amazon-uk"}))
    anyone = loc("s-003", 9, {"SKU-1": 5})
    rules = ruleset(one_rule(filters=[]))  # no filters at all: the channel still counts
    decision = route(order([("SKU-1", 1)]), [other, allowed, anyone], rules)
    assert decision.location_ids == ("s-002",)
    assert reasons_of(decision, "s-001") == ["does not ship for channel amazon-uk"]


def test_every_failed_filter_is_listed() -> None:
    bad = loc("s-001", 1, {"SKU-1": 0}, online=False, daily_capacity=1, current_load=1)
    decision = route(order([("SKU-1", 1)]), [bad], DEFAULT_RULES)
    assert reasons_of(decision, "s-001", rule=0) == [
        "offline",
        "at capacity 1/1",
        "no stock of SKU SKU-1 (has 0, needs 1)",
    ]


# --------------------------------------------------------------------------- sorts


def test_nearest_wins_and_the_loser_says_by_how_much() -> None:
    near = loc("s-002", 4.1, {"SKU-1": 5})
    far = loc("s-001", 12.3, {"SKU-1": 5})
    decision = route(order([("SKU-1", 1)]), [far, near], DEFAULT_RULES)
    assert decision.outcome is Outcome.ROUTED
    assert decision.location_ids == ("s-002",)
    assert reasons_of(decision, "s-001") == ["farther than s-002 (12.3 km vs 4.1 km)"]
    ranked = [c.location_id for c in decision.rules[0].candidates]
    assert ranked == ["s-002", "s-001"]
    assert decision.assignments[0].distance_km == pytest.approx(4.1, abs=0.01)


def test_nearly_equal_distances_show_enough_digits_to_differ() -> None:
    a = loc("s-001", 4.1049, {"SKU-1": 5})
    b = loc("s-002", 4.1001, {"SKU-1": 5})
    decision = route(order([("SKU-1", 1)]), [a, b], DEFAULT_RULES)
    assert decision.location_ids == ("s-002",)
    assert reasons_of(decision, "s-001") == ["farther than s-002 (4.105 km vs 4.100 km)"]


def test_load_breaks_a_distance_tie() -> None:
    busy = loc("s-001", 5, {"SKU-1": 5}, daily_capacity=40, current_load=12)
    quiet = loc("s-002", 5, {"SKU-1": 5}, daily_capacity=40, current_load=3)
    decision = route(order([("SKU-1", 1)]), [busy, quiet], DEFAULT_RULES)
    assert decision.location_ids == ("s-002",)
    assert reasons_of(decision, "s-001") == ["busier than s-002 (load 12/40 vs 3/40)"]


def test_load_compares_utilisation_not_raw_counts() -> None:
    small = loc("s-001", 5, {"SKU-1": 5}, daily_capacity=10, current_load=5)  # 50 %
    big = loc("w-001", 5, {"SKU-1": 5}, kind="warehouse", daily_capacity=100, current_load=20)
    decision = route(order([("SKU-1", 1)]), [small, big], DEFAULT_RULES)
    assert decision.location_ids == ("w-001",)


def test_full_tie_is_broken_by_location_id() -> None:
    twins = [loc(f"s-00{i}", 5, {"SKU-1": 5}) for i in (3, 1, 2)]
    decision = route(order([("SKU-1", 1)]), twins, DEFAULT_RULES)
    assert decision.location_ids == ("s-001",)
    assert reasons_of(decision, "s-003") == [
        "tied with s-001 on every sort; s-001 comes first by location id"
    ]
    # Same answer whatever order the candidates come in.
    again = route(order([("SKU-1", 1)]), list(reversed(twins)), DEFAULT_RULES)
    assert again.as_dict() == decision.as_dict()


def test_most_stock_sort_prefers_the_deepest_shelf() -> None:
    shallow = loc("s-001", 1, {"SKU-1": 2})
    deep = loc("s-002", 50, {"SKU-1": 40})
    rules = ruleset(one_rule(sorts=["most_stock", "distance"]))
    decision = route(order([("SKU-1", 2)]), [shallow, deep], rules)
    assert decision.location_ids == ("s-002",)
    assert reasons_of(decision, "s-001") == [
        "less stock of the order's SKUs than s-002 (2 vs 40 units)"
    ]


def test_kind_sort_puts_the_preferred_kind_first() -> None:
    store = loc("s-001", 1, {"SKU-1": 5})
    warehouse = loc("w-001", 80, {"SKU-1": 5}, kind="warehouse")
    rules = ruleset(
        one_rule(sorts=[{"type": "kind", "prefer": ["warehouse", "store"]}, "distance"])
    )
    decision = route(order([("SKU-1", 1)]), [store, warehouse], rules)
    assert decision.location_ids == ("w-001",)
    assert reasons_of(decision, "s-001") == ["store ranks after warehouse w-001"]


def test_sort_order_matters_load_before_distance() -> None:
    near_busy = loc("s-001", 1, {"SKU-1": 5}, daily_capacity=10, current_load=9)
    far_idle = loc("s-002", 30, {"SKU-1": 5}, daily_capacity=10, current_load=0)
    by_distance = route(order([("SKU-1", 1)]), [near_busy, far_idle], DEFAULT_RULES)
    by_load = route(
        order([("SKU-1", 1)]), [near_busy, far_idle], ruleset(one_rule(sorts=["load", "distance"]))
    )
    assert by_distance.location_ids == ("s-001",)
    assert by_load.location_ids == ("s-002",)


# --------------------------------------------------------------------------- single vs split


def test_single_shipment_is_preferred_over_a_nearer_split() -> None:
    has_a = loc("s-001", 1, {"SKU-A": 5})
    has_b = loc("s-002", 2, {"SKU-B": 5})
    has_both = loc("s-003", 40, {"SKU-A": 5, "SKU-B": 5})
    rules = ruleset(one_rule(on_no_fill="split"))
    decision = route(order([("SKU-A", 1), ("SKU-B", 1)]), [has_a, has_b, has_both], rules)
    assert decision.outcome is Outcome.ROUTED
    assert decision.location_ids == ("s-003",)
    assert reasons_of(decision, "s-001") == [
        "cannot ship the whole order: no stock of SKU SKU-B (has 0, needs 1)"
    ]


def test_split_when_no_single_location_has_everything() -> None:
    has_a = loc("s-001", 1, {"SKU-A": 5})
    has_b = loc("s-002", 2, {"SKU-B": 5})
    also_a = loc("s-003", 3, {"SKU-A": 5})
    rules = ruleset(one_rule(on_no_fill="split"))
    decision = route(order([("SKU-A", 2), ("SKU-B", 1)]), [has_a, has_b, also_a], rules)
    assert decision.outcome is Outcome.SPLIT
    assert {a.location_id: dict(a.lines) for a in decision.assignments} == {
        "s-001": {"SKU-A": 2},
        "s-002": {"SKU-B": 1},
    }
    assert decision.rules[0].result is RuleResult.SPLIT
    assert reasons_of(decision, "s-003") == ["not needed: s-001, s-002 cover the order"]
    assert "split over 2 locations" in decision.summary


def test_split_may_divide_one_line_between_locations() -> None:
    two = loc("s-001", 1, {"SKU-A": 2})
    three = loc("s-002", 2, {"SKU-A": 3})
    rules = ruleset(one_rule(on_no_fill="split"))
    decision = route(order([("SKU-A", 4)]), [two, three], rules)
    assert decision.outcome is Outcome.SPLIT
    # s-002 can ship more of the order, so it goes first and takes 3; s-001 adds the last one.
    assert [(a.location_id, a.lines[0].qty) for a in decision.assignments] == [
        ("s-002", 3),
        ("s-001", 1),
    ]
    assert sum(a.lines[0].qty for a in decision.assignments) == 4


def test_split_takes_the_location_covering_most_of_what_is_left() -> None:
    # s-001 is nearest but has only A; s-002 has B and C. Greedy by coverage picks s-002
    # first, then one more parcel for A: two shipments, not three.
    only_a = loc("s-001", 1, {"SKU-A": 1})
    b_and_c = loc("s-002", 5, {"SKU-B": 1, "SKU-C": 1})
    only_b = loc("s-003", 2, {"SKU-B": 1})
    only_c = loc("s-004", 3, {"SKU-C": 1})
    rules = ruleset(one_rule(on_no_fill="split"))
    decision = route(
        order([("SKU-A", 1), ("SKU-B", 1), ("SKU-C", 1)]), [only_a, b_and_c, only_b, only_c], rules
    )
    assert decision.outcome is Outcome.SPLIT
    assert sorted(decision.location_ids) == ["s-001", "s-002"]


def test_split_respects_max_shipments() -> None:
    parts = [loc(f"s-00{i}", i, {f"SKU-{i}": 1}) for i in (1, 2, 3)]
    lines = [("SKU-1", 1), ("SKU-2", 1), ("SKU-3", 1)]
    capped = ruleset(one_rule(on_no_fill="split", max_shipments=2))
    decision = route(order(lines), parts, capped)
    assert decision.outcome is Outcome.UNROUTABLE
    assert "needs 3 shipments (at most 2)" in decision.rules[0].note
    assert route(order(lines), parts, ruleset(one_rule(on_no_fill="split"))).outcome is (
        Outcome.SPLIT
    )


def test_order_that_may_not_split_is_not_split() -> None:
    has_a = loc("s-001", 1, {"SKU-A": 5})
    has_b = loc("s-002", 2, {"SKU-B": 5})
    rules = ruleset(one_rule(on_no_fill="split"))
    decision = route(order([("SKU-A", 1), ("SKU-B", 1)], allow_split=False), [has_a, has_b], rules)
    assert decision.outcome is Outcome.UNROUTABLE
    assert "the order may not be split" in decision.summary
    # Without a split, a partial location fails the stock filter itself.
    assert reasons_of(decision, "s-001") == ["no stock of SKU SKU-B (has 0, needs 1)"]


def test_split_short_of_stock_says_how_short() -> None:
    a = loc("s-001", 1, {"SKU-A": 1})
    b = loc("s-002", 2, {"SKU-A": 1})
    decision = route(order([("SKU-A", 5)]), [a, b], ruleset(one_rule(on_no_fill="split")))
    assert decision.outcome is Outcome.UNROUTABLE
    assert "a split is short of SKU SKU-A by 3" in decision.summary


# --------------------------------------------------------------------------- no-fill actions


def test_next_rule_action_moves_on_and_the_later_rule_fills() -> None:
    far = loc("s-001", 450, {"SKU-1": 5})
    rules = ruleset(
        one_rule(name="near", filters=["stock", {"type": "distance", "max_km": 300}]),
        one_rule(name="anywhere"),
    )
    decision = route(order([("SKU-1", 1)]), [far], rules)
    assert decision.outcome is Outcome.ROUTED
    assert decision.rule == "anywhere"
    assert [r.result for r in decision.rules] == [RuleResult.NO_FILL, RuleResult.FILLED]
    assert decision.rules[0].note == "no eligible location (1 distance); on to the next rule"
    assert reasons_of(decision, "s-001", rule=0) == ["beyond 300 km (450.0 km)"]


def test_unroutable_action_parks_without_trying_later_rules() -> None:
    far = loc("s-001", 450, {"SKU-1": 5})
    rules = ruleset(
        one_rule(
            name="near only", filters=[{"type": "distance", "max_km": 300}], on_no_fill="unroutable"
        ),
        one_rule(name="anywhere"),
    )
    decision = route(order([("SKU-1", 1)]), [far], rules)
    assert decision.outcome is Outcome.UNROUTABLE
    assert [r.rule for r in decision.rules] == ["near only"]
    assert decision.summary.endswith("the rule parks the order as unroutable")
    assert decision.assignments == ()


def test_split_action_falls_through_to_the_next_rule_when_the_split_is_short() -> None:
    near_a = loc("s-001", 1, {"SKU-A": 1})
    far_both = loc("s-002", 500, {"SKU-A": 1, "SKU-B": 1})
    rules = ruleset(
        one_rule(
            name="near split",
            filters=["stock", {"type": "distance", "max_km": 100}],
            on_no_fill="split",
        ),
        one_rule(name="far single"),
    )
    decision = route(order([("SKU-A", 1), ("SKU-B", 1)]), [near_a, far_both], rules)
    assert decision.outcome is Outcome.ROUTED
    assert decision.rule == "far single"
    assert "a split is short of SKU SKU-B by 1" in decision.rules[0].note


def test_nothing_anywhere_is_unroutable_with_the_reasons() -> None:
    empty = loc("s-001", 1, {"SKU-1": 0})
    decision = route(order([("SKU-1", 1)]), [empty], DEFAULT_RULES)
    assert decision.outcome is Outcome.UNROUTABLE
    assert decision.summary == "unroutable: no eligible location (1 no_stock); no rule left"
    assert len(decision.rules) == 2
    assert reasons_of(decision, "s-001") == ["no stock of SKU SKU-1 (has 0, needs 1)"]


def test_no_candidates_at_all_is_unroutable() -> None:
    decision = route(order([("SKU-1", 1)]), [], DEFAULT_RULES)
    assert decision.outcome is Outcome.UNROUTABLE
    assert "no candidates" in decision.summary


# --------------------------------------------------------------------------- manual review


@pytest.mark.parametrize(
    ("value_minor", "currency", "flags", "held", "reason"),
    [
        pytest.param(100_000, "GBP", frozenset(), False, None, id="at-threshold"),
        pytest.param(100_001, "GBP", frozenset(), True, "value 1000.01 GBP is over 1000.00 GBP"),
        pytest.param(5_000, "GBP", frozenset({"address_mismatch"}), True, "risk flag"),
        pytest.param(5_000, "GBP", frozenset({"gift"}), False, None, id="flag-not-held"),
        pytest.param(
            5_000, "EUR", frozenset(), True, "no manual-review threshold is set for EUR orders"
        ),
    ],
)
def test_manual_review_holds(
    value_minor: int, currency: str, flags: frozenset[str], held: bool, reason: str | None
) -> None:
    rules = ruleset(
        one_rule(),
        manual_review_over={"GBP": "1000.00"},
        hold_on_risk_flags=["address_mismatch", "fraud_score_high"],
    )
    store = loc("s-001", 1, {"SKU-1": 5})
    decision = route(
        order([("SKU-1", 1)], value_minor=value_minor, currency=currency, risk_flags=flags),
        [store],
        rules,
    )
    if held:
        assert decision.outcome is Outcome.MANUAL_REVIEW
        assert decision.assignments == ()
        assert decision.proposed_outcome is Outcome.ROUTED
        assert [a.location_id for a in decision.proposed] == ["s-001"]
        assert reason is not None
        assert any(reason in r for r in decision.review_reasons)
        assert decision.summary.startswith("held for manual review")
    else:
        assert decision.outcome is Outcome.ROUTED
        assert decision.review_reasons == ()


def test_any_risk_flag_holds_by_default_and_approval_routes() -> None:
    store = loc("s-001", 1, {"SKU-1": 5})
    flagged = order([("SKU-1", 1)], risk_flags=frozenset({"new_customer"}))
    held = route(flagged, [store], DEFAULT_RULES)
    assert held.outcome is Outcome.MANUAL_REVIEW
    assert held.review_reasons == ("risk flag: new_customer",)
    approved = route(flagged, [store], DEFAULT_RULES, skip_review=True)
    assert approved.outcome is Outcome.ROUTED


def test_default_thresholds_per_currency() -> None:
    store = loc("s-001", 1, {"SKU-1": 5})
    jp = route(order([("SKU-1", 1)], value_minor=150_001, currency="JPY"), [store], DEFAULT_RULES)
    us = route(order([("SKU-1", 1)], value_minor=99_999, currency="USD"), [store], DEFAULT_RULES)
    assert jp.outcome is Outcome.MANUAL_REVIEW
    assert us.outcome is Outcome.ROUTED


# --------------------------------------------------------------------------- re-routing


def test_reroute_with_exclude_goes_to_the_next_candidate() -> None:
    first = loc("s-001", 1, {"SKU-1": 5})
    second = loc("s-002", 3, {"SKU-1": 5})
    third = loc("s-003", 9, {"SKU-1": 5})
    cands = [first, second, third]
    assert route(order([("SKU-1", 1)]), cands, DEFAULT_RULES).location_ids == ("s-001",)
    again = route(order([("SKU-1", 1)]), cands, DEFAULT_RULES, exclude=frozenset({"s-001"}))
    assert again.location_ids == ("s-002",)
    assert reasons_of(again, "s-001") == ["excluded: already rejected or timed out on this order"]
    last = route(order([("SKU-1", 1)]), cands, DEFAULT_RULES, exclude=frozenset({"s-001", "s-002"}))
    assert last.location_ids == ("s-003",)
    none = route(
        order([("SKU-1", 1)]), cands, DEFAULT_RULES, exclude=frozenset({"s-001", "s-002", "s-003"})
    )
    assert none.outcome is Outcome.UNROUTABLE


# --------------------------------------------------------------------------- ship-to and inputs


def test_ship_to_from_the_postal_table_when_no_coordinates() -> None:
    from hub.data import load_postal_codes

    munich = LocationState("s-muc", LocationKind.STORE, 48.1372, 11.5755, {"SKU-1": 5})
    berlin = LocationState("s-ber", LocationKind.STORE, 52.5200, 13.4050, {"SKU-1": 5})
    to_berlin = order([("SKU-1", 1)], ship_to=ShipTo("DE", "10117"), currency="EUR")
    decision = route(to_berlin, [munich, berlin], DEFAULT_RULES, postal=load_postal_codes())
    assert decision.location_ids == ("s-ber",)
    assert decision.ship_to_source == "postal table: DE 10117 via 10 (Berlin)"
    assert reasons_of(decision, "s-muc", rule=0)[0].startswith("beyond 300 km (50")


def test_unknown_ship_to_fails_distance_filters_and_says_so() -> None:
    store = loc("s-001", 1, {"SKU-1": 5})
    nowhere = order([("SKU-1", 1)], ship_to=ShipTo("GB", "ZE9 9ZZ"))
    decision = route(nowhere, [store], DEFAULT_RULES, postal=None)
    assert decision.ship_to is None
    assert "no postal table" in decision.ship_to_source
    assert codes_of(decision, "s-001", rule=0) == {ReasonCode.POSITION_UNKNOWN}
    # The rule without a distance limit still ships it.
    assert decision.outcome is Outcome.ROUTED
    assert decision.rule == "anywhere, split if needed"


def test_unreadable_postal_code_is_reported() -> None:
    from hub.data import load_postal_codes

    store = loc("s-001", 1, {"SKU-1": 5})
    bad = order([("SKU-1", 1)], ship_to=ShipTo("US", "1234"), currency="USD")
    decision = route(bad, [store], DEFAULT_RULES, postal=load_postal_codes())
    assert decision.ship_to_source == "postal code unreadable: '1234' is not a valid US postal code"


def test_duplicate_sku_lines_are_summed() -> None:
    store = loc("s-001", 1, {"SKU-1": 3})
    decision = route(order([("SKU-1", 2), ("SKU-1", 2)]), [store], DEFAULT_RULES)
    assert decision.outcome is Outcome.UNROUTABLE
    assert "needs 4" in reasons_of(decision, "s-001")[0]


@pytest.mark.parametrize(
    "lines", [[], [("SKU-1", 0)], [("SKU-1", -1)], [("", 1)], [("SKU-1", True)]]
)
def test_bad_order_lines_are_refused(lines: list[tuple[str, int]]) -> None:
    with pytest.raises(RoutingError):
        order(lines)


def test_a_location_listed_twice_is_refused() -> None:
    with pytest.raises(RoutingError, match="listed twice"):
        route(order([("SKU-1", 1)]), [loc("s-001", 1, {}), loc("s-001", 2, {})], DEFAULT_RULES)


def test_negative_stock_counts_as_none() -> None:
    oversold = loc("s-001", 1, {"SKU-1": -3})
    decision = route(order([("SKU-1", 1)]), [oversold], DEFAULT_RULES)
    assert decision.outcome is Outcome.UNROUTABLE
    assert reasons_of(decision, "s-001") == ["no stock of SKU SKU-1 (has 0, needs 1)"]


# --------------------------------------------------------------------------- explanation


def test_explanation_lists_every_loser_with_its_reason() -> None:
    cands = [
        loc("s-002", 4.1, {"SKU-X": 5}, daily_capacity=40, current_load=1),
        loc("s-001", 12.3, {"SKU-X": 5}),
        loc("s-003", 0.5, {"SKU-X": 5}, online=False),
        loc("s-004", 0.7, {"SKU-X": 0}),
        loc("s-005", 0.9, {"SKU-X": 5}, daily_capacity=40, current_load=40),
        loc("w-001", 350, {"SKU-X": 5}, kind="warehouse"),
    ]
    decision = route(order([("SKU-X", 2)], order_id="A-1001"), cands, DEFAULT_RULES)
    text = decision.explain()
    assert text.splitlines()[0] == (
        'order A-1001: routed to s-002 (store, 4.1 km) by rule "nearby, one parcel"'
    )
    for expected in [
        "farther than s-002 (12.3 km vs 4.1 km)",
        "offline",
        "no stock of SKU SKU-X (has 0, needs 2)",
        "at capacity 40/40",
        "beyond 300 km (350.0 km)",
        "#1 s-002 store 4.1 km load 1/40: chosen",
    ]:
        assert expected in text
    report = decision.rules[0]
    assert (report.eligible, report.filtered) == (2, 4)
    chosen = [c for c in report.candidates if c.chosen]
    assert [(c.location_id, c.rank, c.covers_order, c.units_available) for c in chosen] == [
        ("s-002", 1, True, 2)
    ]


def test_explanation_is_trimmed_to_explain_top_and_counts_the_rest() -> None:
    cands = [loc(f"s-{i:03d}", i, {"SKU-1": 5}) for i in range(1, 31)]
    cands += [loc(f"x-{i:03d}", i, {"SKU-1": 5}, online=False) for i in range(1, 11)]
    rules = ruleset(one_rule(), explain_top=5)
    decision = route(order([("SKU-1", 1)]), cands, rules)
    report = decision.rules[0]
    assert len(report.candidates) == 10
    assert report.omitted == {"ranked_lower": 25, "offline": 5}
    assert "(+ 30 more not listed: 5 offline, 25 ranked_lower)" in decision.explain()


def test_decision_is_json_ready() -> None:
    cands = [loc("s-001", 1, {"SKU-1": 5}), loc("s-002", 2, {"SKU-1": 0})]
    decision = route(order([("SKU-1", 1)]), cands, DEFAULT_RULES)
    data = json.loads(json.dumps(decision.as_dict()))
    assert data["outcome"] == "routed"
    assert data["assignments"] == [
        {"location_id": "s-001", "lines": [{"sku": "SKU-1", "qty": 1}], "distance_km": 1.0}
    ]
    reasons = data["rules"][0]["candidates"][1]["reasons"]
    assert reasons == [{"code": "no_stock", "text": "no stock of SKU SKU-1 (has 0, needs 1)"}]


def test_hard_limits_are_the_only_reason_given_and_are_listed_last() -> None:
    # Excluded or wrong-channel locations are out whatever the rule says, so their other
    # shortcomings are not listed; the rule's own rejections come first, nearest first.
    cands = [
        loc("s-001", 1, {"SKU-1": 0}, online=False, channels=frozenset({"ebay-uk"})),
        loc("s-002", 9, {"SKU-1": 0}),
        loc("s-003", 5, {"SKU-1": 5}),
        loc("s-004", 2, {"SKU-1": 0}, online=False),
    ]
    decision = route(order([("SKU-1", 1)]), cands, DEFAULT_RULES, exclude=frozenset({"s-003"}))
    report = decision.rules[0]
    assert [c.location_id for c in report.candidates] == ["s-004", "s-002", "s-001", "s-003"]
    assert reasons_of(decision, "s-001", rule=0) == ["does not ship for channel amazon-uk"]
    assert reasons_of(decision, "s-003", rule=0) == [
        "excluded: already rejected or timed out on this order"
    ]


def test_trimmed_filtered_list_counts_only_what_it_leaves_out() -> None:
    cands = [loc(f"x-{i:03d}", i, {"SKU-1": 5}, online=False) for i in range(1, 4)]
    cands += [loc(f"y-{i:03d}", 100 + i, {"SKU-1": 0}) for i in range(1, 4)]
    decision = route(order([("SKU-1", 1)]), cands, ruleset(one_rule(), explain_top=3))
    report = decision.rules[0]
    assert [c.location_id for c in report.candidates] == ["x-001", "x-002", "x-003"]
    assert report.omitted == {"no_stock": 3}
    assert (report.eligible, report.filtered) == (0, 6)


def test_greedy_split_can_use_one_parcel_more_than_needed() -> None:
    """The documented limit of the greedy cover (docs/routing.md): the nearest location
    covering A and C is taken first, so B and D need a parcel each."""
    near = loc("s-001", 1, {"A": 1, "C": 1})
    ab = loc("s-002", 5, {"A": 1, "B": 1})
    cd = loc("s-003", 6, {"C": 1, "D": 1})
    lines = [("A", 1), ("B", 1), ("C", 1), ("D", 1)]
    decision = route(order(lines), [near, ab, cd], ruleset(one_rule(on_no_fill="split")))
    assert decision.outcome is Outcome.SPLIT
    assert decision.location_ids == ("s-001", "s-002", "s-003")
    capped = ruleset(one_rule(on_no_fill="split", max_shipments=2))
    assert route(order(lines), [near, ab, cd], capped).outcome is Outcome.UNROUTABLE
