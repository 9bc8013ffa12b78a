"""The parts of a split order: what is left to route, what each package holds, the whole order."""

from __future__ import annotations

from hub.domain.parts import ItemLine, Part, package_items, progress, remaining


def test_nothing_left_when_live_parts_hold_every_unit() -> None:
    parts = [Part("s-001", {"A": 1}, "accepted"), Part("s-002", {"B": 2}, "routed")]
    assert remaining({"A": 1, "B": 2}, {}, parts) == {}


def test_a_released_part_leaves_only_its_own_lines_to_route() -> None:
    parts = [
        Part("s-001", {"A": 1}, "picked"),
        Part("s-002", {"B": 2, "C": 1}, "released"),
        Part("s-003", {"C": 1}, "handed_over"),
    ]
    # B's two units were only at s-002; C's unit left from s-003 after s-002 let go.
    assert remaining({"A": 1, "B": 2, "C": 1}, {}, parts) == {"B": 2}


def test_marketplace_shipped_and_handed_over_units_are_not_counted_twice() -> None:
    parts = [Part("s-001", {"A": 2}, "handed_over"), Part("s-002", {"A": 1}, "released")]
    # The confirmed package's 2 units come back from the import as shipped.
    assert remaining({"A": 3}, {"A": 2}, parts) == {"A": 1}
    # Units shipped outside routing (the seller shipped one by hand) count as well.
    assert remaining({"A": 3}, {"A": 1}, []) == {"A": 2}


def test_package_items_spread_a_sku_over_the_order_items_in_order() -> None:
    items = [ItemLine("i-1", "A", 2), ItemLine("i-2", "B", 1), ItemLine("i-3", "A", 3)]
    assert package_items(items, {"A": 4}, {}) == [("i-1", 2), ("i-3", 2)]


def test_package_items_skip_units_earlier_packages_already_carry() -> None:
    items = [ItemLine("i-1", "A", 2), ItemLine("i-2", "A", 2, qty_shipped=1)]
    assert package_items(items, {"A": 2}, {"i-1": 2}) == [("i-2", 1)]
    # A SKU that is not on the order, or has no room left, is left out.
    assert package_items(items, {"Z": 1}, {}) == []


def test_progress_is_all_gone_only_when_every_part_left_and_nothing_is_to_route() -> None:
    ordered = {"A": 1, "B": 1}
    one_gone = [Part("s-001", {"A": 1}, "handed_over"), Part("s-002", {"B": 1}, "packed")]
    assert not progress(ordered, {}, one_gone).all_gone
    both = [Part("s-001", {"A": 1}, "handed_over"), Part("s-002", {"B": 1}, "handed_over")]
    state = progress(ordered, {}, both)
    assert (state.all_gone, state.live, state.handed_over) == (True, 2, 2)
    rerouting = [Part("s-001", {"A": 1}, "handed_over"), Part("s-002", {"B": 1}, "released")]
    state = progress(ordered, {}, rerouting)
    assert not state.all_gone
    assert state.left == {"B": 1}
    assert not progress(ordered, {}, []).all_gone
