"""Rule sets from TOML-shaped mappings: defaults, round trip, and errors that name the setting."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from hub.domain.routing import (
    ANY_RISK_FLAG,
    DEFAULT_RULES,
    DEFAULT_RULES_MAPPING,
    FilterKind,
    LocationKind,
    NoFillAction,
    RoutingRules,
    Rule,
    RulesError,
    SortKind,
    rules_from_mapping,
    rules_to_mapping,
)
from protocol.money import Money

TOML = """
[routing]
manual_review_over = { USD = "750.00", JPY = 100000 }
hold_on_risk_flags = ["fraud_suspected"]
explain_top = 5

[[routing.rules]]
name = "stores within 50 km"
filters = [
  "online",
  "capacity",
  { type = "stock", safety_stock = true },
  { type = "distance", max_km = 50 },
  { type = "kind", kinds = ["store"] },
]
sorts = ["single_shipment", "distance", "load"]
on_no_fill = "next_rule"

[[routing.rules]]
name = "warehouses first, then stores, split up to 2"
filters = ["online", "stock"]
sorts = [{ type = "kind", prefer = ["warehouse", "store"] }, "most_stock", "distance"]
on_no_fill = "split"
max_shipments = 2

[[routing.rules]]
name = "last resort: dip into safety stock"
filters = ["online", { type = "stock", safety_stock = false }]
sorts = ["distance"]
on_no_fill = "unroutable"
"""


def test_rules_from_toml() -> None:
    rules = rules_from_mapping(tomllib.loads(TOML)["routing"])
    assert [r.name for r in rules.rules] == [
        "stores within 50 km",
        "warehouses first, then stores, split up to 2",
        "last resort: dip into safety stock",
    ]
    first, second, third = rules.rules
    assert [f.kind for f in first.filters] == [
        FilterKind.ONLINE,
        FilterKind.CAPACITY,
        FilterKind.STOCK,
        FilterKind.DISTANCE,
        FilterKind.KIND,
    ]
    assert first.filters[3].max_km == 50.0
    assert first.filters[4].kinds == frozenset({LocationKind.STORE})
    assert first.uses_safety_stock
    assert [s.kind for s in second.sorts] == [SortKind.KIND, SortKind.MOST_STOCK, SortKind.DISTANCE]
    assert second.sorts[0].prefer == (LocationKind.WAREHOUSE, LocationKind.STORE)
    assert (second.on_no_fill, second.max_shipments) == (NoFillAction.SPLIT, 2)
    assert not third.uses_safety_stock
    assert third.on_no_fill is NoFillAction.UNROUTABLE
    assert rules.manual_review_over == {"USD": Money(75_000, "USD"), "JPY": Money(100_000, "JPY")}
    assert rules.hold_on_risk_flags == frozenset({"fraud_suspected"})
    assert rules.explain_top == 5


def test_rules_round_trip_through_a_mapping() -> None:
    rules = rules_from_mapping(tomllib.loads(TOML)["routing"])
    assert rules_from_mapping(rules_to_mapping(rules)) == rules
    assert rules_from_mapping(rules_to_mapping(DEFAULT_RULES)) == DEFAULT_RULES


def test_default_rules() -> None:
    assert [r.name for r in DEFAULT_RULES.rules] == [
        "nearby, one parcel",
        "anywhere, split if needed",
    ]
    assert DEFAULT_RULES.rules[0].filters[-1].max_km == 300
    assert DEFAULT_RULES.rules[-1].on_no_fill is NoFillAction.SPLIT
    assert DEFAULT_RULES.hold_on_risk_flags == frozenset({ANY_RISK_FLAG})
    assert DEFAULT_RULES.manual_review_over["USD"] == Money(100_000, "USD")
    assert set(DEFAULT_RULES_MAPPING) == {
        "manual_review_over",
        "hold_on_risk_flags",
        "explain_top",
        "rules",
    }


@pytest.mark.parametrize(
    ("flags", "expected"), [(True, {"*"}), (False, set()), (["a", "b"], {"a", "b"})]
)
def test_risk_flag_settings(flags: object, expected: set[str]) -> None:
    rules = rules_from_mapping({"rules": [{"name": "r"}], "hold_on_risk_flags": flags})
    assert rules.hold_on_risk_flags == expected


def _with_rule(**rule: Any) -> dict[str, Any]:
    return {"rules": [{"name": "r", **rule}]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "rules: at least one rule is needed"),
        ({"rules": []}, "rules: at least one rule is needed"),
        ({"rules": "fast"}, "rules: expected a list, got str"),
        ({"rules": [{"name": "r"}], "speed": 1}, "routing: unknown setting 'speed'"),
        ({"rules": [{}]}, "rules[0].name: a rule needs a name"),
        ({"rules": [{"name": "r"}, {"name": "r"}]}, "rules[1].name: duplicate rule name 'r'"),
        (_with_rule(filter=["online"]), "rules[0]: unknown setting 'filter'"),
        (_with_rule(filters=["fast"]), "rules[0].filters[0].type: unknown value 'fast'"),
        (_with_rule(filters=[{"max_km": 5}]), "rules[0].filters[0].type: expected a string"),
        (_with_rule(filters=["distance"]), "rules[0].filters[0].max_km: the distance filter"),
        (
            _with_rule(filters=[{"type": "distance", "max_km": -5}]),
            "rules[0].filters[0].max_km: the distance filter needs max_km, a positive number",
        ),
        (
            _with_rule(filters=[{"type": "distance", "max_km": "300"}]),
            "rules[0].filters[0].max_km",
        ),
        (
            _with_rule(filters=[{"type": "online", "max_km": 5}]),
            "rules[0].filters[0]: unknown setting 'max_km'",
        ),
        (
            _with_rule(filters=[{"type": "stock", "safety_stock": "yes"}]),
            "rules[0].filters[0].safety_stock: expected true or false",
        ),
        (
            _with_rule(filters=[{"type": "kind", "kinds": ["shop"]}]),
            "rules[0].filters[0].kinds[0]: unknown value 'shop' (one of: store, warehouse)",
        ),
        (_with_rule(filters=["kind"]), "rules[0].filters[0].kinds: the kind filter needs"),
        (_with_rule(filters=["online", "online"]), "rules[0].filters: the online filter is listed"),
        (_with_rule(sorts=["nearest"]), "rules[0].sorts[0].type: unknown value 'nearest'"),
        (_with_rule(sorts=["distance", "distance"]), "rules[0].sorts: a sort is listed twice"),
        (_with_rule(sorts=["kind"]), "rules[0].sorts[0].prefer: the kind sort needs"),
        (
            _with_rule(sorts=[{"type": "kind", "prefer": ["store", "store"]}]),
            "rules[0].sorts[0].prefer: a location kind is listed twice",
        ),
        (_with_rule(on_no_fill="cancel"), "rules[0].on_no_fill: unknown value 'cancel'"),
        (
            _with_rule(on_no_fill="split", max_shipments=1),
            "rules[0].max_shipments: a split has at least 2 shipments",
        ),
        (_with_rule(max_shipments=3), "rules[0].max_shipments: only applies with on_no_fill"),
        (
            {"rules": [{"name": "r"}], "manual_review_over": {"XXX": "10"}},
            "manual_review_over.XXX: unknown or unsupported currency code 'XXX'",
        ),
        (
            {"rules": [{"name": "r"}], "manual_review_over": {"USD": 10.5}},
            "manual_review_over.USD: write the amount as a decimal string",
        ),
        (
            {"rules": [{"name": "r"}], "manual_review_over": {"JPY": "10.5"}},
            "manual_review_over.JPY: '10.5' has more decimal places than JPY allows",
        ),
        (
            {"rules": [{"name": "r"}], "manual_review_over": {"USD": "-1"}},
            "manual_review_over.USD: must not be negative",
        ),
        ({"rules": [{"name": "r"}], "hold_on_risk_flags": [""]}, "hold_on_risk_flags[0]"),
        ({"rules": [{"name": "r"}], "hold_on_risk_flags": "any"}, "hold_on_risk_flags: expected"),
        ({"rules": [{"name": "r"}], "explain_top": 0}, "explain_top: must be at least 1"),
    ],
)
def test_invalid_rules_name_the_setting(data: dict[str, Any], message: str) -> None:
    with pytest.raises(RulesError) as info:
        rules_from_mapping(data)
    assert str(info.value).startswith(message)


def test_rules_built_in_code_are_validated_too() -> None:
    with pytest.raises(RulesError, match="at least one rule"):
        RoutingRules(())
    with pytest.raises(RulesError, match="amount is in EUR"):
        RoutingRules((Rule("r", (), ()),), manual_review_over={"USD": Money(1, "EUR")})
