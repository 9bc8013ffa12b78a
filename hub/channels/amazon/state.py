"""The persistence seam of the channel: checkpoints, page tokens, pushed quantities, orders.

:class:`ChannelStateStore` and :class:`OrderSink` are what the importer and the
quantity pusher need; ``hub.db.channels.DbChannelStore`` implements both on the hub
database.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from hub.channels.amazon.model import AmazonOrder
from hub.channels.amazon.orders import RejectedOrder


@dataclass(frozen=True, slots=True)
class PageState:
    """An import interrupted between pages: its window and the token of the next page."""

    window_after: datetime
    window_before: datetime | None
    next_token: str
    pages_done: int


class PushOutcome(enum.StrEnum):
    """Where a seller SKU's quantity stands with Amazon."""

    PENDING = "pending"
    """To be sent: new, deferred by the usage plan, failed, or to re-send after a late feed."""
    IN_FEED = "in_feed"
    """Sent in a feed whose processing report is not read yet."""
    ACCEPTED = "accepted"
    """Amazon accepted it (it shows on the listing after a while)."""
    INVALID = "invalid"
    """Amazon refused it; ``issues`` say why. Not re-sent until the quantity changes."""


@dataclass(frozen=True, slots=True)
class PushRecord:
    """The last quantity pushed for a seller SKU in a marketplace, and Amazon's answer."""

    seller_sku: str
    marketplace_id: str
    quantity: int
    outcome: PushOutcome
    reference: str
    at: datetime
    issues: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PendingFeed:
    """A JSON_LISTINGS_FEED submitted and not yet reported on."""

    feed_id: str
    marketplace_id: str
    submitted_at: datetime
    messages: tuple[tuple[int, str, int], ...]
    """(messageId, seller SKU, quantity) of every message."""


class ChannelStateStore(Protocol):
    """Checkpoints and page state per (account, marketplace); push records; pending feeds."""

    def get_checkpoint(self, account: str, marketplace_id: str) -> datetime | None:
        """The LastUpdated instant up to which orders are imported."""
        ...

    def set_checkpoint(self, account: str, marketplace_id: str, at: datetime) -> None:
        """Move the checkpoint (the caller never moves it backwards)."""
        ...

    def get_page_state(self, account: str, marketplace_id: str) -> PageState | None:
        """The interrupted import to resume, if any."""
        ...

    def set_page_state(self, account: str, marketplace_id: str, state: PageState | None) -> None:
        """Remember (or clear) the interrupted import."""
        ...

    def push_records(self, account: str, marketplace_id: str) -> dict[str, PushRecord]:
        """The last push record of every seller SKU of a marketplace."""
        ...

    def record_pushes(self, account: str, records: Iterable[PushRecord]) -> None:
        """Store push records (replacing the previous one of each SKU and marketplace)."""
        ...

    def pending_feeds(self, account: str) -> list[PendingFeed]:
        """Feeds submitted and not yet reported on, oldest first."""
        ...

    def add_pending_feed(self, account: str, feed: PendingFeed) -> None:
        """Remember a submitted feed."""
        ...

    def remove_pending_feed(self, account: str, feed_id: str) -> None:
        """Forget a feed whose report was read."""
        ...


class OrderSink(Protocol):
    """Where imported orders go; deduplication by AmazonOrderId happens on the way in."""

    def stored_order(self, account: str, order_id: str) -> AmazonOrder | None:
        """The order as stored, or None when it is new."""
        ...

    def save_order(self, account: str, order: AmazonOrder) -> None:
        """Insert or replace the order."""
        ...

    def reject_order(self, account: str, rejected: RejectedOrder) -> None:
        """Keep an order that could not be parsed, with the reason (dead letter)."""
        ...
