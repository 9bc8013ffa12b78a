"""Default SP-API usage plans (rate in requests per second, burst) of the operations we call.

Transcribed from the "Usage Plan" tables of the published models (ordersV0.json,
orders_2026-01-01.json, listingsItems_2021-08-01.json, feeds_2021-06-30.json,
reports_2021-06-30.json, sellers.json, tokens_2021-03-01.json); a test checks them
against the model files. Amazon may grant a seller more; the client then adopts the
rate it reads in ``x-amzn-RateLimit-Limit``.

Operations are keyed ``"<api>/<operationId>"`` because the two Orders API versions
both have a ``getOrder``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class UsagePlan:
    """A token bucket: ``rate`` tokens per second refill, at most ``burst`` tokens."""

    rate: float
    burst: int


# api name -> model file (the sandbox reads the plans straight from these files)
API_MODELS: Final[dict[str, str]] = {
    "ordersV0": "ordersV0.json",
    "orders2026": "orders_2026-01-01.json",
    "listings": "listingsItems_2021-08-01.json",
    "feeds": "feeds_2021-06-30.json",
    "reports": "reports_2021-06-30.json",
    "sellers": "sellers.json",
    "tokens": "tokens_2021-03-01.json",
}

USAGE_PLANS: Final[dict[str, UsagePlan]] = {
    "ordersV0/getOrders": UsagePlan(0.0167, 20),
    "ordersV0/getOrder": UsagePlan(0.5, 30),
    "ordersV0/getOrderItems": UsagePlan(0.5, 30),
    "ordersV0/getOrderAddress": UsagePlan(0.5, 30),
    "ordersV0/getOrderBuyerInfo": UsagePlan(0.5, 30),
    "ordersV0/updateShipmentStatus": UsagePlan(5.0, 15),
    "ordersV0/confirmShipment": UsagePlan(2.0, 10),
    "orders2026/searchOrders": UsagePlan(0.0056, 20),
    "orders2026/getOrder": UsagePlan(0.5, 30),
    "listings/getListingsItem": UsagePlan(5.0, 10),
    "listings/patchListingsItem": UsagePlan(5.0, 5),
    "listings/putListingsItem": UsagePlan(5.0, 10),
    "listings/deleteListingsItem": UsagePlan(5.0, 5),
    "listings/searchListingsItems": UsagePlan(5.0, 5),
    "feeds/createFeedDocument": UsagePlan(0.5, 15),
    "feeds/createFeed": UsagePlan(0.0083, 15),
    "feeds/getFeed": UsagePlan(2.0, 15),
    "feeds/getFeeds": UsagePlan(0.0222, 10),
    "feeds/cancelFeed": UsagePlan(2.0, 15),
    "feeds/getFeedDocument": UsagePlan(0.0222, 10),
    "reports/getReports": UsagePlan(0.0222, 10),
    "reports/createReport": UsagePlan(0.0167, 15),
    "reports/getReport": UsagePlan(2.0, 15),
    "reports/cancelReport": UsagePlan(0.0222, 10),
    "reports/getReportDocument": UsagePlan(0.0167, 15),
    "sellers/getMarketplaceParticipations": UsagePlan(0.016, 15),
    "sellers/getAccount": UsagePlan(0.016, 15),
    "tokens/createRestrictedDataToken": UsagePlan(1.0, 10),
}

# A plan for an operation missing from the table: the strictest common plan.
FALLBACK_PLAN: Final = UsagePlan(0.0167, 1)


def usage_plan(operation: str) -> UsagePlan:
    """The default plan of ``"<api>/<operationId>"``; unknown operations get a strict plan."""
    return USAGE_PLANS.get(operation, FALLBACK_PLAN)
