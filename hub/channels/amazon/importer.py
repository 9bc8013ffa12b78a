"""Incremental order import: windows, checkpoints, resumable pages, dedup, routing events.

The window logic is pure (:func:`plan_window`, :func:`advance_checkpoint`,
:func:`classify`); :class:`OrderImporter` is the shell around an OrderSource, a
ChannelStateStore and an OrderSink.

Semantics (docs/amazon.md, "Order import"):

- per (account, marketplace) a checkpoint ``T``; each run reads
  ``LastUpdatedAfter = T - overlap`` up to ``LastUpdatedBefore = now - margin``. The
  overlap re-reads updates that Amazon made visible late or stamped with a clock
  behind ours; the margin (3 min) keeps clear of the two-minute rule with a minute
  of our clock running ahead. Should Amazon still refuse the window (our clock far
  ahead), the first page is asked again without ``LastUpdatedBefore`` and the bound
  Amazon echoes becomes the checkpoint.
- after every page the token of the next page is stored with the window; a run that
  died between pages resumes there. A token Amazon no longer accepts restarts the
  window from the checkpoint (deduplication makes re-reading harmless).
- orders are merged by AmazonOrderId: an older copy never overwrites a newer one.
- the checkpoint moves to the window's end only when the last page was read.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hub.channels.amazon.errors import (
    AmazonChannelError,
    InvalidInputError,
    RefreshTokenRevokedError,
)
from hub.channels.amazon.model import (
    AmazonOrder,
    ImportOutcome,
    MergeResult,
    OrderStatus,
    merge_order,
)
from hub.channels.amazon.orders import OrderSource, OrderWindow
from hub.channels.amazon.state import ChannelStateStore, OrderSink, PageState

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImportPolicy:
    """Tuning of the incremental import."""

    overlap: timedelta = timedelta(minutes=10)
    safety_margin: timedelta = timedelta(minutes=3)
    initial_lookback: timedelta = timedelta(days=3)
    page_size: int = 100
    max_pages_per_run: int = 200


def plan_window(
    checkpoint: datetime | None, now: datetime, policy: ImportPolicy
) -> OrderWindow | None:
    """The LastUpdated window of the next run, or None when nothing can be asked yet.

    ``after`` is the checkpoint minus the overlap (or ``now - initial_lookback`` for a
    first run); ``before`` is ``now - safety_margin``, safely older than Amazon's
    two-minute limit.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    before = now - policy.safety_margin
    after = (
        (checkpoint - policy.overlap) if checkpoint is not None else now - policy.initial_lookback
    )
    if before <= after:
        return None
    return OrderWindow(after.astimezone(UTC), before.astimezone(UTC))


def advance_checkpoint(
    current: datetime | None,
    window: OrderWindow,
    window_end: datetime | None,
    newest_seen: datetime | None,
) -> datetime:
    """The checkpoint after a fully read window; it never moves backwards.

    The end is the bound Amazon echoed, else the bound we sent, else (a window left
    open) the newest LastUpdateDate seen, else the window's start.
    """
    candidate = window_end or window.before or newest_seen or window.after
    return candidate if current is None else max(current, candidate)


class OrderEventKind(enum.StrEnum):
    """What an imported order asks of the rest of the hub."""

    ROUTE = "route"
    """A merchant-fulfilled order is ready to ship: routing picks a store."""
    CANCEL = "cancel"
    """A merchant-fulfilled order was cancelled: routing releases its reservation."""
    STATUS_CHANGED = "status_changed"
    """Any other status change of a merchant-fulfilled order."""
    FBA_RECORDED = "fba_recorded"
    """An FBA order was recorded (or changed) for reporting."""


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One consequence of importing an order."""

    kind: OrderEventKind
    order: AmazonOrder
    previous_status: OrderStatus | None


def classify(result: MergeResult) -> tuple[OrderEvent, ...]:
    """The events an import outcome produces (none for an unchanged or stale copy)."""
    if result.outcome in (ImportOutcome.UNCHANGED, ImportOutcome.STALE):
        return ()
    order, previous = result.order, result.previous_status
    if not order.is_merchant_fulfilled:
        return (OrderEvent(OrderEventKind.FBA_RECORDED, order, previous),)
    if not result.status_changed:
        return ()
    if order.status.awaits_shipment and (previous is None or not previous.awaits_shipment):
        return (OrderEvent(OrderEventKind.ROUTE, order, previous),)
    if previous is None:
        return ()  # new and not (yet) to ship: Pending, or already final; recorded only
    if order.status is OrderStatus.CANCELED:
        return (OrderEvent(OrderEventKind.CANCEL, order, previous),)
    return (OrderEvent(OrderEventKind.STATUS_CHANGED, order, previous),)


@dataclass
class ImportReport:
    """What one run did."""

    account: str
    marketplace_id: str
    api_version: str
    pages: int = 0
    orders_seen: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    events: list[OrderEvent] = field(default_factory=list)
    resumed: bool = False
    completed: bool = False
    checkpoint: datetime | None = None
    error: str = ""
    auth_revoked: bool = False
    finished_at: datetime | None = None

    def count(self, outcome: ImportOutcome) -> int:
        """How many orders had ``outcome``."""
        return self.outcomes.get(outcome.value, 0)


Progress = Callable[[ImportReport], None]


class OrderImporter:
    """Runs incremental imports of one account, marketplace by marketplace."""

    def __init__(
        self,
        source: OrderSource,
        store: ChannelStateStore,
        sink: OrderSink,
        *,
        account: str,
        policy: ImportPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_event: Callable[[OrderEvent], None] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.source = source
        self.store = store
        self.sink = sink
        self.account = account
        self.policy = policy or ImportPolicy()
        self.clock = clock
        self.on_event = on_event
        self.progress = progress

    def run(self, marketplace_id: str) -> ImportReport:
        """Import what changed since the checkpoint (or resume an interrupted run).

        SP-API failures end the run with ``report.error`` set and the state kept for
        the next run; a revoked refresh token sets ``report.auth_revoked``.
        """
        report = ImportReport(self.account, marketplace_id, self.source.api_version)
        try:
            self._run(marketplace_id, report)
        except RefreshTokenRevokedError as err:
            report.error, report.auth_revoked = str(err), True
            _LOGGER.error(
                "order import %s/%s stopped: refresh token revoked", self.account, marketplace_id
            )
        except AmazonChannelError as err:
            report.error = str(err)
            _LOGGER.warning(
                "order import %s/%s failed, will resume: %s", self.account, marketplace_id, err
            )
        report.checkpoint = self.store.get_checkpoint(self.account, marketplace_id)
        report.finished_at = self.clock()
        return report

    def _run(self, marketplace_id: str, report: ImportReport) -> None:
        checkpoint = self.store.get_checkpoint(self.account, marketplace_id)
        resume = self.store.get_page_state(self.account, marketplace_id)
        token: str | None = None
        pages_done = 0
        if resume is not None:
            window = OrderWindow(resume.window_after, resume.window_before)
            token, pages_done, report.resumed = resume.next_token, resume.pages_done, True
            _LOGGER.info(
                "order import %s/%s resumes after page %d", self.account, marketplace_id, pages_done
            )
        else:
            planned = plan_window(checkpoint, self.clock(), self.policy)
            if planned is None:
                report.completed = True
                return
            window = planned
        newest: datetime | None = None
        open_window_tried = False
        while report.pages < self.policy.max_pages_per_run:
            try:
                page = self.source.fetch_page(
                    marketplace_id, window, token, page_size=self.policy.page_size
                )
            except InvalidInputError as err:
                if token is not None:
                    # a token Amazon no longer takes (expired, or from before a restart)
                    _LOGGER.warning("page token refused (%s); restarting the window", err)
                    self.store.set_page_state(self.account, marketplace_id, None)
                    planned = plan_window(checkpoint, self.clock(), self.policy)
                    if planned is None:
                        return
                    window, token, pages_done = planned, None, 0
                    continue
                if window.before is not None and not open_window_tried:
                    # the two-minute rule by Amazon's clock: let Amazon choose the end
                    _LOGGER.warning("window refused (%s); asking without LastUpdatedBefore", err)
                    window, open_window_tried = OrderWindow(window.after, None), True
                    continue
                raise
            report.pages += 1
            pages_done += 1
            for rejected in page.rejected:
                self.sink.reject_order(self.account, rejected)
                report.rejected += 1
            for order in page.orders:
                self._import(order, report)
                if newest is None or order.last_updated_at > newest:
                    newest = order.last_updated_at
            if page.window_end is not None and window.before is None:
                window = OrderWindow(window.after, page.window_end)
            if page.next_token:
                token = page.next_token
                self.store.set_page_state(
                    self.account,
                    marketplace_id,
                    PageState(window.after, window.before, token, pages_done),
                )
                if self.progress:
                    self.progress(report)
                continue
            new_checkpoint = advance_checkpoint(checkpoint, window, page.window_end, newest)
            self.store.set_checkpoint(self.account, marketplace_id, new_checkpoint)
            self.store.set_page_state(self.account, marketplace_id, None)
            report.completed = True
            if self.progress:
                self.progress(report)
            return

    def _import(self, incoming: AmazonOrder, report: ImportReport) -> None:
        report.orders_seen += 1
        existing = self.sink.stored_order(self.account, incoming.order_id)
        unchanged = (
            existing is not None
            and existing.lines is not None
            and incoming.last_updated_at <= existing.last_updated_at
            and incoming.status is existing.status
        )
        if unchanged and existing is not None:
            result = merge_order(existing, existing)
        else:
            needs_lines = incoming.lines is None and (
                existing is None or existing.lines is None or existing.status is not incoming.status
            )
            if needs_lines:
                incoming = self.source.with_lines(incoming)
            result = merge_order(existing, incoming)
            if result.outcome in (ImportOutcome.CREATED, ImportOutcome.UPDATED):
                self.sink.save_order(self.account, result.order)
        report.outcomes[result.outcome.value] = report.outcomes.get(result.outcome.value, 0) + 1
        for event in classify(result):
            report.events.append(event)
            if self.on_event is not None:
                self.on_event(event)
