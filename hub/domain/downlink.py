"""Which pending down messages (routed orders, commands) a store's event acknowledges.

Protocol v1 has no explicit acknowledgement for orders or commands, so the hub reads
them from the store's events:

- a routed order is acknowledged by any ``order.*`` event for its order id (the
  store accepted, rejected, picked, packed or handed it over);
- a cancellation is acknowledged by ``order.rejected`` for its order id;
- ``stock_count`` is acknowledged by a ``stock.counted`` for the SKU it asked for;
- ``resend_from`` is acknowledged when the hub's contiguous seq reaches the seq it
  asked for (checked by the sync bookkeeping, not here);
- ``ping`` and ``config`` have no answer event: they are replayed on the store's
  next birth once and then count as delivered.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class DownKind(enum.StrEnum):
    """Kinds of down messages kept until the store acknowledges them."""

    ORDER_ROUTED = "order.routed"
    ORDER_CANCELLED = "order.cancelled"
    CMD_RESEND_FROM = "cmd.resend_from"
    CMD_STOCK_COUNT = "cmd.stock_count"
    CMD_CONFIG = "cmd.config"
    CMD_PING = "cmd.ping"


ACK_ON_REPLAY = frozenset({DownKind.CMD_CONFIG, DownKind.CMD_PING})


@dataclass(frozen=True, slots=True)
class AckKey:
    """Identifies the down messages one event acknowledges: all with this kind and ref."""

    kind: DownKind
    ref: str


def acks_for_event(event_type: str, body: Mapping[str, Any]) -> list[AckKey]:
    """The down messages that an applied event acknowledges."""
    if event_type.startswith("order.") and isinstance(body.get("order_id"), str):
        order_id = body["order_id"]
        keys = [AckKey(DownKind.ORDER_ROUTED, order_id)]
        if event_type == "order.rejected":
            keys.append(AckKey(DownKind.ORDER_CANCELLED, order_id))
        return keys
    if event_type == "stock.counted" and isinstance(body.get("sku"), str):
        return [AckKey(DownKind.CMD_STOCK_COUNT, body["sku"])]
    return []
