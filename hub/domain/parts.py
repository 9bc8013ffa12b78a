"""The parts of a split order: what is still to route, what each package holds, where it stands.

Pure: no I/O, no clock. An order routed to several locations has one *part* per
location (``routing_assignments`` at the hub): its lines, reserved there, and its
state at the store. Each part leaves as one package with its own carrier and
tracking, and the marketplace hears of each package on its own (one confirmShipment
per package).

* :func:`remaining` is what no live part holds yet: re-routing a rejected part
  routes only its lines, never the lines another location is already working on.
* :func:`package_items` spreads the SKUs of one package over the order's items
  (the marketplace counts items, the stores count SKUs).
* :func:`progress` says where the order stands as a whole: every package gone,
  some parts still open, or lines still to route.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

HANDED_OVER: Final = "handed_over"
RELEASED: Final = "released"


@dataclass(frozen=True, slots=True)
class Part:
    """One location's share of an order and its state there."""

    location_id: str
    lines: Mapping[str, int]
    """SKU -> units this location ships."""
    state: str
    """routed, accepted, picked, packed, handed_over or released."""

    @property
    def live(self) -> bool:
        """True unless released: the location holds or has shipped these units."""
        return self.state != RELEASED


@dataclass(frozen=True, slots=True)
class ItemLine:
    """One order item as the marketplace knows it."""

    order_item_id: str
    sku: str
    qty: int
    qty_shipped: int = 0


def remaining(
    ordered: Mapping[str, int], shipped: Mapping[str, int], parts: Iterable[Part]
) -> dict[str, int]:
    """Units per SKU that no live part holds: ordered − shipped − held by live parts.

    ``shipped`` is what the marketplace reports shipped. Once a package is confirmed
    the next import brings its units there too, so a handed-over part and ``shipped``
    may count the same units: the larger of the two is taken, never their sum.
    """
    handed: dict[str, int] = defaultdict(int)
    holding: dict[str, int] = defaultdict(int)
    for part in parts:
        if not part.live:
            continue
        target = handed if part.state == HANDED_OVER else holding
        for sku, qty in part.lines.items():
            target[sku] += qty
    out = {}
    for sku, qty in ordered.items():
        left = qty - max(shipped.get(sku, 0), handed[sku]) - holding[sku]
        if left > 0:
            out[sku] = left
    return out


def package_items(
    items: Sequence[ItemLine], handed: Mapping[str, int], packed: Mapping[str, int]
) -> list[tuple[str, int]]:
    """(order_item_id, quantity) of one package: its SKUs' units over the items in order.

    ``packed`` counts, per order item, the units already in the order's other
    packages; an item takes at most what neither those nor the marketplace's
    shipped quantity account for. Units of a SKU no item has room for are left out
    (the marketplace would refuse them).
    """
    left = dict(handed)
    out = []
    for item in items:
        room = item.qty - max(item.qty_shipped, packed.get(item.order_item_id, 0))
        take = min(room, left.get(item.sku, 0))
        if take > 0:
            out.append((item.order_item_id, take))
            left[item.sku] -= take
    return out


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a split order stands as a whole."""

    live: int
    handed_over: int
    left: Mapping[str, int]

    @property
    def all_gone(self) -> bool:
        """Every unit is in a package that left: the order is handed over."""
        return self.live > 0 and self.handed_over == self.live and not self.left


def progress(
    ordered: Mapping[str, int], shipped: Mapping[str, int], parts: Sequence[Part]
) -> Progress:
    """Count the live and handed-over parts and what is still to route."""
    live = [p for p in parts if p.live]
    return Progress(
        live=len(live),
        handed_over=sum(1 for p in live if p.state == HANDED_OVER),
        left=remaining(ordered, shipped, parts),
    )
