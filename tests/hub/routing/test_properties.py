"""Invariants of routing over random stock, orders and rule sets (Hypothesis)."""

from __future__ import annotations

import random
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.routing import (
    DEFAULT_RULES,
    FilterKind,
    LocationState,
    NoFillAction,
    Outcome,
    RoutingRules,
    route,
)
from tests.hub.routing.kit import loc, one_rule, order, ruleset

SKUS = ("A", "B", "C", "D")

RULE_SETS = {
    "default": DEFAULT_RULES.__class__(
        DEFAULT_RULES.rules, manual_review_over={}, hold_on_risk_flags=frozenset()
    ),
    "split-no-safety": ruleset(
        one_rule(
            filters=["online", {"type": "stock", "safety_stock": False}],
            on_no_fill="split",
            max_shipments=2,
        )
    ),
    "near-then-park": ruleset(
        one_rule(
            name="near",
            filters=["online", "capacity", "stock", {"type": "distance", "max_km": 100}],
            sorts=["distance"],
            on_no_fill="unroutable",
        ),
        one_rule(name="never reached"),
    ),
    "no-filters-split": ruleset(one_rule(filters=[], sorts=["load"], on_no_fill="split")),
}


@st.composite
def locations(draw: st.DrawFn) -> list[LocationState]:
    n = draw(st.integers(min_value=0, max_value=7))
    out = []
    for i in range(n):
        stock = draw(st.dictionaries(st.sampled_from(SKUS), st.integers(-2, 6), max_size=4))
        cap = draw(st.one_of(st.none(), st.integers(0, 5)))
        out.append(
            loc(
                f"s-{i:03d}",
                draw(st.floats(0, 600, allow_nan=False)),
                stock,
                kind=draw(st.sampled_from(["store", "warehouse"])),
                online=draw(st.booleans()),
                daily_capacity=cap,
                current_load=draw(st.integers(0, 6)),
                channels=draw(
                    st.one_of(st.none(), st.sampled_from([frozenset({"amazon-uk"}), frozenset()]))
                ),
                safety_stock=draw(st.integers(0, 2)),
            )
        )
    return out


orders = st.builds(
    lambda lines, split: order(lines, allow_split=split),
    st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 5)), min_size=1, max_size=4),
    st.booleans(),
)


def _passes(location: LocationState, rules: RoutingRules, rule_name: str, km: float) -> bool:
    rule = next(r for r in rules.rules if r.name == rule_name)
    for f in rule.filters:
        if f.kind is FilterKind.ONLINE and not location.online:
            return False
        if (
            f.kind is FilterKind.CAPACITY
            and location.daily_capacity is not None
            and location.current_load >= location.daily_capacity
        ):
            return False
        if f.kind is FilterKind.DISTANCE and f.max_km is not None and km > f.max_km:
            return False
    return True


@settings(max_examples=150, deadline=None)
@given(
    cands=locations(),
    o=orders,
    rules_name=st.sampled_from(sorted(RULE_SETS)),
    excluded=st.sets(st.sampled_from([f"s-{i:03d}" for i in range(8)]), max_size=3),
)
def test_decisions_never_oversell_and_always_cover_or_explain(
    cands: list[LocationState], o: object, rules_name: str, excluded: set[str]
) -> None:
    from hub.domain.routing import OrderToRoute

    assert isinstance(o, OrderToRoute)
    rules = RULE_SETS[rules_name]
    decision = route(o, cands, rules, exclude=frozenset(excluded))
    by_id = {c.location_id: c for c in cands}
    assert decision.outcome is not Outcome.MANUAL_REVIEW

    if decision.outcome in (Outcome.ROUTED, Outcome.SPLIT):
        assert decision.rule is not None
        rule = next(r for r in rules.rules if r.name == decision.rule)
        assert (len(decision.assignments) == 1) == (decision.outcome is Outcome.ROUTED)
        if decision.outcome is Outcome.SPLIT:
            assert o.allow_split
            assert rule.on_no_fill is NoFillAction.SPLIT
            assert rule.max_shipments is None or len(decision.assignments) <= rule.max_shipments
        assert len(set(decision.location_ids)) == len(decision.location_ids)
        shipped: dict[str, int] = defaultdict(int)
        for a in decision.assignments:
            location = by_id[a.location_id]
            assert a.location_id not in excluded
            assert location.channels is None or o.channel in location.channels
            assert a.distance_km is not None
            assert _passes(location, rules, decision.rule, a.distance_km)
            for sku, qty in a.lines:
                assert qty > 0
                # Never more than the location's sellable stock (after safety stock when
                # the rule keeps it).
                assert qty <= location.sellable(sku, safety_stock=rule.uses_safety_stock)
                shipped[sku] += qty
        # Every line covered, exactly.
        assert dict(shipped) == o.demand
    else:
        assert decision.outcome is Outcome.UNROUTABLE
        assert decision.assignments == ()
        assert decision.summary.startswith("unroutable: ")
        assert decision.rules
        assert all(r.note for r in decision.rules)
        for report in decision.rules:
            for c in report.candidates:
                assert not c.chosen
                assert c.reasons
        if rules_name == "default":
            # Completeness: if one eligible location could ship everything, it is not unroutable.
            for cand in cands:
                if (
                    cand.location_id not in excluded
                    and (cand.channels is None or o.channel in cand.channels)
                    and cand.online
                    and (cand.daily_capacity is None or cand.current_load < cand.daily_capacity)
                ):
                    assert any(cand.sellable(s) < q for s, q in o.demand.items()), cand


@settings(max_examples=50, deadline=None)
@given(cands=locations(), o=orders, seed=st.integers(0, 2**32 - 1))
def test_decisions_do_not_depend_on_candidate_order(
    cands: list[LocationState], o: object, seed: int
) -> None:
    from hub.domain.routing import OrderToRoute

    assert isinstance(o, OrderToRoute)
    shuffled = list(cands)
    random.Random(seed).shuffle(shuffled)
    rules = RULE_SETS["default"]
    assert route(o, shuffled, rules).as_dict() == route(o, cands, rules).as_dict()
