"""Builders for routing tests: locations on a line north of a ship-to point, orders, rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hub.domain.routing import (
    LocationKind,
    LocationState,
    OrderLine,
    OrderToRoute,
    RoutingRules,
    ShipTo,
    rules_from_mapping,
)
from protocol.money import Money

# Charing Cross, London. One hundredth of a degree of latitude is about 1.11 km.
HOME_LAT = 51.5074
HOME_LON = -0.1278
KM_PER_DEG_LAT = 111.195


def north(km: float) -> float:
    """Latitude of the point ``km`` due north of HOME."""
    return HOME_LAT + km / KM_PER_DEG_LAT


def loc(
    location_id: str,
    km: float,
    stock: Mapping[str, int],
    *,
    kind: str = "store",
    **kw: Any,
) -> LocationState:
    """A location ``km`` north of HOME."""
    return LocationState(location_id, LocationKind(kind), north(km), HOME_LON, dict(stock), **kw)


def order(
    lines: Sequence[tuple[str, int]],
    *,
    order_id: str = "A-1",
    channel: str = "amazon-uk",
    value_minor: int = 5_000,
    currency: str = "GBP",
    ship_to: ShipTo | None = None,
    risk_flags: frozenset[str] = frozenset(),
    allow_split: bool = True,
) -> OrderToRoute:
    """An order shipping to HOME unless ``ship_to`` says otherwise."""
    return OrderToRoute(
        order_id=order_id,
        channel=channel,
        lines=tuple(OrderLine(s, q) for s, q in lines),
        ship_to=ship_to or ShipTo("GB", "WC2N 5DU", HOME_LAT, HOME_LON),
        value=Money(value_minor, currency),
        risk_flags=risk_flags,
        allow_split=allow_split,
    )


def one_rule(
    *,
    filters: Sequence[object] = ("online", "capacity", "stock"),
    sorts: Sequence[object] = ("single_shipment", "distance", "load"),
    on_no_fill: str = "next_rule",
    **extra: Any,
) -> dict[str, Any]:
    """A rule mapping with sensible defaults."""
    return {
        "name": extra.pop("name", "rule"),
        "filters": list(filters),
        "sorts": list(sorts),
        "on_no_fill": on_no_fill,
        **extra,
    }


def ruleset(*rules: Mapping[str, Any], **top: Any) -> RoutingRules:
    """Rules without review holds unless asked for."""
    data: dict[str, Any] = {"manual_review_over": {}, "hold_on_risk_flags": False, **top}
    data["rules"] = [dict(r) for r in rules] or [one_rule()]
    return rules_from_mapping(data)
