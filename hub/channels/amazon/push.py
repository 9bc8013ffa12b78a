"""Quantity push: a pure planner (coalesce, zeros first, patches or a feed, within the usage
plan) and the executor that sends the plan and reads the feeds' processing reports.

Per seller SKU and marketplace a :class:`PushRecord` says where the quantity stands
(PENDING, IN_FEED, ACCEPTED, INVALID). A change that differs from the record becomes
PENDING; every cycle sends PENDING records. Because the backlog lives in the store,
a quantity deferred by the usage plan, or whose call failed after all retries, is
sent in a later cycle, also after a restart.

A feed is processed minutes after it was sent; a patch sent meanwhile for the same
SKU would be overwritten when the feed applies. When a feed's report is read, a SKU
whose record moved on since (patched while the feed was pending) is set PENDING
again, so the newer quantity is sent once more after the feed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from hub.channels.amazon.client import SpApiClient
from hub.channels.amazon.errors import AmazonChannelError
from hub.channels.amazon.mapping import DEFAULT_PRODUCT_TYPE, SkuMap
from hub.channels.amazon.state import ChannelStateStore, PendingFeed, PushOutcome, PushRecord

_LOGGER = logging.getLogger(__name__)

FULFILLMENT_PATH: Final = "/attributes/fulfillment_availability"
FEED_TYPE: Final = "JSON_LISTINGS_FEED"
PATCH_OPERATION: Final = "listings/patchListingsItem"
FEED_OPERATIONS: Final = ("feeds/createFeedDocument", "feeds/createFeed")


@dataclass(frozen=True, slots=True)
class QuantityChange:
    """A channel's new sellable quantity of a canonical SKU in a marketplace."""

    canonical_sku: str
    marketplace_id: str
    quantity: int
    at: datetime


@dataclass(frozen=True, slots=True)
class ListingUpdate:
    """A quantity to send for one seller SKU in one marketplace."""

    seller_sku: str
    marketplace_id: str
    quantity: int
    product_type: str = DEFAULT_PRODUCT_TYPE


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """Updates sent together in one JSON_LISTINGS_FEED."""

    marketplace_id: str
    updates: tuple[ListingUpdate, ...]


@dataclass(frozen=True, slots=True)
class PushBudget:
    """Calls the usage plan allows this cycle: single patches and whole feeds."""

    patches: int
    feeds: int


@dataclass(frozen=True, slots=True)
class PushPolicy:
    """When to use a feed rather than single patches."""

    feed_threshold: int = 25
    """This many updates pending in a marketplace go as one feed (if a feed call is free)."""
    max_feed_messages: int = 10_000
    cycle_s: float = 2.0
    """Patches planned per cycle: the bucket's tokens plus what refills in this time."""


@dataclass(frozen=True, slots=True)
class PushPlan:
    """What one cycle sends."""

    patches: tuple[ListingUpdate, ...]
    feeds: tuple[FeedBatch, ...]
    deferred: tuple[ListingUpdate, ...]


# --- pure planning --------------------------------------------------------------------------


def coalesce(changes: Iterable[QuantityChange]) -> dict[tuple[str, str], QuantityChange]:
    """The latest change per (canonical SKU, marketplace); later input wins a tie."""
    latest: dict[tuple[str, str], QuantityChange] = {}
    for change in changes:
        key = (change.canonical_sku, change.marketplace_id)
        current = latest.get(key)
        if current is None or change.at >= current.at:
            latest[key] = change
    return latest


def new_pending(
    latest: Mapping[tuple[str, str], QuantityChange],
    sku_map: SkuMap,
    records: Mapping[str, Mapping[str, PushRecord]],
    at: datetime,
) -> tuple[list[PushRecord], list[tuple[str, str]]]:
    """PENDING records for changes that differ from what Amazon has (or was sent).

    Returns the records to write and the (canonical SKU, marketplace) pairs that have
    no listing mapping. ``records`` is by marketplace id, then seller SKU.
    """
    pending: list[PushRecord] = []
    unmapped: list[tuple[str, str]] = []
    for (canonical, marketplace_id), change in latest.items():
        mapping = sku_map.for_canonical(canonical, marketplace_id)
        if mapping is None:
            unmapped.append((canonical, marketplace_id))
            continue
        quantity = max(0, change.quantity)
        record = records.get(marketplace_id, {}).get(mapping.seller_sku)
        if record is not None and record.quantity == quantity:
            continue  # already sent, in a feed, pending, or refused for this very quantity
        pending.append(
            PushRecord(mapping.seller_sku, marketplace_id, quantity, PushOutcome.PENDING, "", at)
        )
    return pending, sorted(unmapped)


def plan_push(updates: Iterable[ListingUpdate], budget: PushBudget, policy: PushPolicy) -> PushPlan:
    """Split pending updates into patches, feeds and what must wait for the next cycle.

    Zeros go first (the last unit sold must leave the listing before anything else),
    as single patches while the patch budget lasts. What remains in a marketplace goes
    as one feed when there are at least ``feed_threshold`` updates and a feed call is
    free, else as patches up to the budget. Nothing beyond the budget is planned.
    """
    ordered = sorted(updates, key=lambda u: u.quantity != 0)  # stable: zeros first
    patches: list[ListingUpdate] = []
    feeds: list[FeedBatch] = []
    deferred: list[ListingUpdate] = []
    patch_left, feed_left = max(0, budget.patches), max(0, budget.feeds)
    rest: list[ListingUpdate] = []
    for update in ordered:
        if update.quantity == 0 and patch_left > 0:
            patches.append(update)
            patch_left -= 1
        else:
            rest.append(update)
    by_marketplace: dict[str, list[ListingUpdate]] = {}
    for update in rest:
        by_marketplace.setdefault(update.marketplace_id, []).append(update)
    for marketplace_id, group in by_marketplace.items():
        while len(group) >= policy.feed_threshold and feed_left > 0:
            chunk, group = group[: policy.max_feed_messages], group[policy.max_feed_messages :]
            feeds.append(FeedBatch(marketplace_id, tuple(chunk)))
            feed_left -= 1
        for update in group:
            if patch_left > 0:
                patches.append(update)
                patch_left -= 1
            else:
                deferred.append(update)
    return PushPlan(tuple(patches), tuple(feeds), tuple(deferred))


def patch_body(update: ListingUpdate) -> dict[str, Any]:
    """The patchListingsItem body that sets the merchant-fulfilled quantity."""
    return {
        "productType": update.product_type,
        "patches": [
            {
                "op": "replace",
                "path": FULFILLMENT_PATH,
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": update.quantity}],
            }
        ],
    }


def build_feed_document(
    seller_id: str, batch: FeedBatch
) -> tuple[bytes, tuple[tuple[int, str, int], ...]]:
    """The JSON_LISTINGS_FEED document of a batch and its (messageId, SKU, quantity) list."""
    messages = []
    index: list[tuple[int, str, int]] = []
    for number, update in enumerate(batch.updates, start=1):
        body = patch_body(update)
        messages.append(
            {
                "messageId": number,
                "sku": update.seller_sku,
                "operationType": "PATCH",
                "productType": body["productType"],
                "patches": body["patches"],
            }
        )
        index.append((number, update.seller_sku, update.quantity))
    document = {
        "header": {"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"},
        "messages": messages,
    }
    return json.dumps(document).encode("utf-8"), tuple(index)


def read_processing_report(
    report: Mapping[str, Any], message_ids: Iterable[int], *, fatal: bool
) -> dict[int, tuple[bool, tuple[str, ...]]]:
    """Per message: accepted or not, and the issue texts (ERROR issues refuse a message).

    A FATAL feed, or an ERROR issue without a messageId, refuses every message.
    """
    ids = list(message_ids)
    issues: dict[int, list[str]] = {i: [] for i in ids}
    refused: set[int] = set()
    general: list[str] = []
    for issue in report.get("issues") or []:
        if not isinstance(issue, Mapping):
            continue
        text = f"{issue.get('code', '')} {issue.get('message', '')}".strip()
        error = issue.get("severity") == "ERROR"
        message_id = issue.get("messageId")
        if isinstance(message_id, int) and message_id in issues:
            issues[message_id].append(text)
            if error:
                refused.add(message_id)
        elif error:
            general.append(text)
    everything_refused = fatal or bool(general)
    return {
        i: (not everything_refused and i not in refused, tuple(issues[i] + general)) for i in ids
    }


# --- the executor ---------------------------------------------------------------------------


@dataclass
class PushReport:
    """What one push cycle did."""

    recorded_pending: int = 0
    patched: int = 0
    feeds_submitted: list[str] = field(default_factory=list)
    feeds_finished: list[str] = field(default_factory=list)
    deferred: int = 0
    accepted: int = 0
    invalid: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    """(seller SKU, marketplace, issues) refused by a patch or a feed report."""
    unmapped: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class QuantityPusher:
    """Sends channel quantities of one account to Amazon, within its usage plans."""

    def __init__(
        self,
        client: SpApiClient,
        store: ChannelStateStore,
        sku_map: SkuMap,
        *,
        policy: PushPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.store = store
        self.sku_map = sku_map
        self.policy = policy or PushPolicy()
        self.clock = clock
        self.account = client.account.name

    def _records(self) -> dict[str, dict[str, PushRecord]]:
        return {
            mid: self.store.push_records(self.account, mid)
            for mid in self.client.account.marketplace_ids
        }

    def push(self, changes: Iterable[QuantityChange] = ()) -> PushReport:
        """One cycle: read finished feeds, record the changes, send what is pending."""
        report = PushReport()
        self.finish_feeds(report)
        now = self.clock()
        pending, report.unmapped = new_pending(
            coalesce(changes), self.sku_map, self._records(), now
        )
        if pending:
            self.store.record_pushes(self.account, pending)
            report.recorded_pending = len(pending)
        updates = [
            ListingUpdate(r.seller_sku, r.marketplace_id, r.quantity, self._product_type(r))
            for records in self._records().values()
            for r in records.values()
            if r.outcome is PushOutcome.PENDING
        ]
        if not updates:
            return report
        limiter, tick = self.client.limiter, self.client.monotonic()
        budget = PushBudget(
            patches=limiter.budget(PATCH_OPERATION, tick, self.policy.cycle_s),
            feeds=min(limiter.available(op, tick) for op in FEED_OPERATIONS),
        )
        plan = plan_push(updates, budget, self.policy)
        for update in plan.patches:
            self._patch(update, report)
        for batch in plan.feeds:
            self._submit_feed(batch, report)
        report.deferred = len(plan.deferred)
        return report

    def _product_type(self, record: PushRecord) -> str:
        mapping = self.sku_map.for_seller_sku(record.seller_sku, record.marketplace_id)
        return mapping.product_type if mapping else DEFAULT_PRODUCT_TYPE

    def _patch(self, update: ListingUpdate, report: PushReport) -> None:
        try:
            answer = self.client.patch_listings_item(
                update.seller_sku, [update.marketplace_id], patch_body(update)
            )
        except AmazonChannelError as err:
            report.errors.append(f"{update.seller_sku}: {err}")
            return  # stays PENDING: sent again next cycle
        report.patched += 1
        status = answer.get("status")
        issues = tuple(
            f"{i.get('code', '')} {i.get('message', '')}".strip()
            for i in answer.get("issues") or []
            if isinstance(i, dict)
        )
        outcome = PushOutcome.ACCEPTED if status == "ACCEPTED" else PushOutcome.INVALID
        if outcome is PushOutcome.INVALID:
            report.invalid.append((update.seller_sku, update.marketplace_id, issues))
            _LOGGER.warning(
                "Amazon refused quantity %d for %s: %s", update.quantity, update.seller_sku, issues
            )
        else:
            report.accepted += 1
        self.store.record_pushes(
            self.account,
            [
                PushRecord(
                    update.seller_sku,
                    update.marketplace_id,
                    update.quantity,
                    outcome,
                    str(answer.get("submissionId", "")),
                    self.clock(),
                    issues,
                )
            ],
        )

    def _submit_feed(self, batch: FeedBatch, report: PushReport) -> None:
        content, messages = build_feed_document(self.client.account.seller_id, batch)
        try:
            document = self.client.create_feed_document()
            self.client.upload_document(document["url"], content)
            feed_id = self.client.create_feed(
                FEED_TYPE, [batch.marketplace_id], document["feedDocumentId"]
            )
        except AmazonChannelError as err:
            report.errors.append(f"feed of {len(messages)} SKUs: {err}")
            return  # the updates stay PENDING
        now = self.clock()
        self.store.add_pending_feed(
            self.account, PendingFeed(feed_id, batch.marketplace_id, now, messages)
        )
        self.store.record_pushes(
            self.account,
            [
                PushRecord(
                    u.seller_sku, u.marketplace_id, u.quantity, PushOutcome.IN_FEED, feed_id, now
                )
                for u in batch.updates
            ],
        )
        report.feeds_submitted.append(feed_id)
        _LOGGER.info(
            "feed %s sent with %d quantities for %s", feed_id, len(messages), batch.marketplace_id
        )

    def finish_feeds(self, report: PushReport | None = None) -> PushReport:
        """Read the processing report of every finished feed and record per-SKU results."""
        report = report or PushReport()
        for pending in self.store.pending_feeds(self.account):
            try:
                feed = self.client.get_feed(pending.feed_id)
                status = feed.get("processingStatus")
                if status in ("IN_QUEUE", "IN_PROGRESS"):
                    continue
                result: Mapping[str, Any] = {}
                if feed.get("resultFeedDocumentId"):
                    result = json.loads(self.client.get_feed_result(feed["resultFeedDocumentId"]))
            except (AmazonChannelError, ValueError) as err:
                report.errors.append(f"feed {pending.feed_id}: {err}")
                continue
            self._record_feed(pending, result, fatal=status != "DONE", report=report)
            self.store.remove_pending_feed(self.account, pending.feed_id)
            report.feeds_finished.append(pending.feed_id)
        return report

    def _record_feed(
        self, pending: PendingFeed, result: Mapping[str, Any], *, fatal: bool, report: PushReport
    ) -> None:
        verdicts = read_processing_report(result, (m for m, _, _ in pending.messages), fatal=fatal)
        current = self.store.push_records(self.account, pending.marketplace_id)
        now = self.clock()
        out: list[PushRecord] = []
        for message_id, sku, quantity in pending.messages:
            ok, issues = verdicts[message_id]
            record = current.get(sku)
            if record is not None and record.reference != pending.feed_id:
                if record.outcome is PushOutcome.ACCEPTED:
                    # patched while the feed waited: the feed applies later and would win
                    out.append(
                        PushRecord(
                            sku,
                            pending.marketplace_id,
                            record.quantity,
                            PushOutcome.PENDING,
                            "",
                            now,
                        )
                    )
                continue
            if ok:
                report.accepted += 1
                out.append(
                    PushRecord(
                        sku,
                        pending.marketplace_id,
                        quantity,
                        PushOutcome.ACCEPTED,
                        pending.feed_id,
                        now,
                        issues,
                    )
                )
            elif fatal and not issues:
                out.append(
                    PushRecord(sku, pending.marketplace_id, quantity, PushOutcome.PENDING, "", now)
                )
            else:
                report.invalid.append((sku, pending.marketplace_id, issues))
                out.append(
                    PushRecord(
                        sku,
                        pending.marketplace_id,
                        quantity,
                        PushOutcome.INVALID,
                        pending.feed_id,
                        now,
                        issues,
                    )
                )
        self.store.record_pushes(self.account, out)

    def pending_feed_count(self) -> int:
        """Feeds still waiting for their processing report."""
        return len(self.store.pending_feeds(self.account))
