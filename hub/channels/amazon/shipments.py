"""Shipment confirmation: when a store hands an order over, tell Amazon (carrier, tracking, items).

:func:`build_confirm_request` (pure) checks and builds the confirmShipment body;
:class:`ShipmentConfirmer` sends it. Throttling, 5xx and network failures are
retried inside the client; what still fails comes back as RETRY with the time of
the next attempt (:func:`next_attempt_at`), so the caller keeps the confirmation
queued until Amazon accepts it. A refusal (400/404) comes back as REJECTED with
Amazon's message, for a person to look at.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from hub.channels.amazon.client import SpApiClient, iso_utc
from hub.channels.amazon.errors import (
    AmazonChannelError,
    AuthError,
    InvalidInputError,
    NotFoundError,
    SpApiError,
)

_LOGGER = logging.getLogger(__name__)

RETRY_SCHEDULE: Final = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
)


class ShipmentError(AmazonChannelError, ValueError):
    """A confirmation that cannot be sent as it is (missing carrier, bad quantities...)."""


@dataclass(frozen=True, slots=True)
class ShippedItem:
    """An order item and how many of its units are in the package."""

    order_item_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class ShipmentConfirmation:
    """One package handed over to a carrier."""

    order_id: str
    marketplace_id: str
    package_reference_id: str
    carrier_code: str
    tracking_number: str
    ship_date: datetime
    items: tuple[ShippedItem, ...]
    carrier_name: str = ""
    shipping_method: str = ""


def build_confirm_request(confirmation: ShipmentConfirmation) -> dict[str, Any]:
    """The ConfirmShipmentRequest body; raises ShipmentError when something is missing."""
    c = confirmation
    problems = []
    if not c.package_reference_id.isdigit() or int(c.package_reference_id) < 1:
        problems.append("packageReferenceId must be a positive number (as text)")
    if not c.carrier_code:
        problems.append("carrier code is required")
    if c.carrier_code == "Other" and not c.carrier_name:
        problems.append("carrier name is required when the carrier code is Other")
    if not c.tracking_number:
        problems.append("tracking number is required")
    if not c.items:
        problems.append("at least one item is required")
    if any(i.quantity < 1 for i in c.items):
        problems.append("item quantities must be positive")
    if c.ship_date.tzinfo is None:
        problems.append("ship date must be timezone-aware")
    if problems:
        raise ShipmentError(f"order {c.order_id}: " + "; ".join(problems))
    package: dict[str, Any] = {
        "packageReferenceId": c.package_reference_id,
        "carrierCode": c.carrier_code,
        "trackingNumber": c.tracking_number,
        "shipDate": iso_utc(c.ship_date),
        "orderItems": [{"orderItemId": i.order_item_id, "quantity": i.quantity} for i in c.items],
    }
    if c.carrier_name:
        package["carrierName"] = c.carrier_name
    if c.shipping_method:
        package["shippingMethod"] = c.shipping_method
    return {"marketplaceId": c.marketplace_id, "packageDetail": package}


def next_attempt_at(
    attempts: int, now: datetime, schedule: Sequence[timedelta] = RETRY_SCHEDULE
) -> datetime:
    """When to try again after ``attempts`` failed attempts (the last step repeats)."""
    step = schedule[min(max(attempts, 1), len(schedule)) - 1]
    return now + step


class ConfirmOutcome(enum.StrEnum):
    """What became of a confirmation attempt."""

    CONFIRMED = "confirmed"
    RETRY = "retry"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class ConfirmResult:
    """The outcome of one attempt; ``retry_at`` is set for RETRY."""

    outcome: ConfirmOutcome
    message: str = ""
    request_id: str | None = None
    retry_at: datetime | None = None


class ShipmentConfirmer:
    """Sends shipment confirmations of one account."""

    def __init__(self, client: SpApiClient) -> None:
        self.client = client

    def confirm(
        self, confirmation: ShipmentConfirmation, *, now: datetime, attempts_before: int = 0
    ) -> ConfirmResult:
        """Send one confirmation; Amazon's 204 means confirmed."""
        body = build_confirm_request(confirmation)
        try:
            self.client.confirm_shipment(confirmation.order_id, body)
        except (InvalidInputError, NotFoundError) as err:
            _LOGGER.error("Amazon refused the shipment of %s: %s", confirmation.order_id, err)
            return ConfirmResult(ConfirmOutcome.REJECTED, str(err), err.request_id)
        except (SpApiError, AuthError, AmazonChannelError) as err:
            request_id = err.request_id if isinstance(err, SpApiError) else None
            retry_at = next_attempt_at(attempts_before + 1, now)
            _LOGGER.warning(
                "shipment of %s not confirmed yet (%s); next try at %s",
                confirmation.order_id,
                err,
                retry_at.isoformat(),
            )
            return ConfirmResult(ConfirmOutcome.RETRY, str(err), request_id, retry_at)
        _LOGGER.info(
            "shipment of %s confirmed (package %s, %s %s)",
            confirmation.order_id,
            confirmation.package_reference_id,
            confirmation.carrier_code,
            confirmation.tracking_number,
        )
        return ConfirmResult(ConfirmOutcome.CONFIRMED, request_id=self.client.stats.last_request_id)
