"""Sellable quantity per marketplace channel: the ledger's arithmetic plus the channel's policy.

ARCHITECTURE.md stock model: for a channel, the sum over the locations allowed to
ship for it of max(0, on_hand - reserved - safety stock), then the channel's share
and buffer (``hub.domain.ledger.sellable_quantity``). A channel may also cap what it
lists (``max_quantity``), so one store's big delivery does not put hundreds of units
on a marketplace. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hub.domain.ledger import LocationStock, sellable_quantity


@dataclass(frozen=True, slots=True)
class ChannelStockPolicy:
    """How much of the stock a channel may sell."""

    share_bp: int = 10_000
    """Share of the pooled sellable stock, in basis points (10000 = all of it), rounded down."""
    buffer: int = 0
    """Units held back after the share (against overselling while a push is in flight)."""
    max_quantity: int | None = None
    """Never list more than this (None: no cap)."""
    allowed_locations: frozenset[str] | None = None
    """Locations that ship for the channel (None: every location)."""

    def __post_init__(self) -> None:
        if not 0 <= self.share_bp <= 10_000:
            raise ValueError("share_bp must be between 0 and 10000")
        if self.buffer < 0:
            raise ValueError("buffer must not be negative")
        if self.max_quantity is not None and self.max_quantity < 0:
            raise ValueError("max_quantity must not be negative")


def channel_sellable(stocks: Iterable[LocationStock], policy: ChannelStockPolicy) -> int:
    """The quantity a channel may list for one SKU."""
    quantity = sellable_quantity(
        stocks,
        allowed_locations=policy.allowed_locations,
        share_bp=policy.share_bp,
        buffer=policy.buffer,
    )
    if policy.max_quantity is not None:
        quantity = min(quantity, policy.max_quantity)
    return quantity


def channel_quantities(
    stock_by_sku: Mapping[str, Iterable[LocationStock]], policy: ChannelStockPolicy
) -> dict[str, int]:
    """Sellable quantity of every SKU for a channel."""
    return {sku: channel_sellable(stocks, policy) for sku, stocks in stock_by_sku.items()}


def changed_quantities(previous: Mapping[str, int], current: Mapping[str, int]) -> dict[str, int]:
    """SKUs whose channel quantity changed; a SKU that disappeared drops to zero."""
    changed = {sku: qty for sku, qty in current.items() if previous.get(sku) != qty}
    for sku, qty in previous.items():
        if sku not in current and qty != 0:
            changed[sku] = 0
    return changed
