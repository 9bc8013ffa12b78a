"""The Amazon channel on the hub database: one account's import, push, confirmation, health.

:class:`AccountRunner` holds one account's SP-API client (its token cache and rate
buckets live as long as the runner) and runs the jobs the channel worker schedules
(hub/channels/worker.py) and ``acorn hub channel sync`` runs at once:

- ``import_orders``: the incremental import of every marketplace into
  ``marketplace_orders``; an MFN order that needs more than the channel's sellable
  stock raises an ``oversell`` alarm;
- ``push_quantities``: reads the stock movements after the account's watermark,
  recomputes the channel quantity of the mapped SKUs they touch and hands the
  changes to :class:`QuantityPusher` (zeros first, coalesced, within usage plans);
- ``confirm_shipments``: confirmShipment for handed-over orders, with retries;
- ``evaluate_health``: channel_auth, import_lag and feed_errors alarms.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hub import alarms
from hub.channels.amazon.account import CredentialCipher
from hub.channels.amazon.client import SpApiClient
from hub.channels.amazon.health import (
    ChannelHealth,
    Severity,
    TokenState,
    evaluate_health,
    health_input,
)
from hub.channels.amazon.importer import (
    ImportPolicy,
    ImportReport,
    OrderEvent,
    OrderEventKind,
    OrderImporter,
)
from hub.channels.amazon.mapping import SkuMap
from hub.channels.amazon.orders import order_source
from hub.channels.amazon.push import PushPolicy, PushReport, QuantityChange, QuantityPusher
from hub.channels.amazon.shipments import (
    ConfirmOutcome,
    ShipmentConfirmation,
    ShipmentConfirmer,
    ShipmentError,
    ShippedItem,
)
from hub.channels.amazon.state import PushOutcome
from hub.channels.amazon.states import RoutingState, ShipmentState
from hub.db import channels as repo
from hub.db.models import StockMovement
from hub.db.models_channels import (
    ChannelAccount,
    ChannelHealthState,
    ChannelImportState,
    ChannelPushCursor,
    ChannelPushRecord,
    MarketplaceOrder,
)

_LOGGER = logging.getLogger(__name__)

ClientFactory = Callable[..., SpApiClient]
Clock = Callable[[], datetime]

ALARM_AUTH = "channel_auth"
ALARM_IMPORT_LAG = "import_lag"
ALARM_FEED_ERRORS = "feed_errors"
ALARM_OVERSELL = "oversell"
_HEALTH_ALARMS = {
    "refresh_token_revoked": ALARM_AUTH,
    "token_failing": ALARM_AUTH,
    "import_lag": ALARM_IMPORT_LAG,
    "feed_errors": ALARM_FEED_ERRORS,
}


@dataclass(frozen=True, slots=True)
class RunnerPolicy:
    """Tuning of the account jobs."""

    movement_lookback: int = 1000
    """Movement ids below the watermark read again: on PostgreSQL, ids commit out of order."""
    full_push_interval: timedelta = timedelta(minutes=10)
    """Every mapped SKU is recomputed this often (safety stock, policy and mapping changes)."""
    revoked_pause: timedelta = timedelta(minutes=5)
    """After Amazon refused the refresh token, SP-API calls wait this long (or new credentials)."""
    import_policy: ImportPolicy = ImportPolicy()
    push_policy: PushPolicy = PushPolicy()


@dataclass
class PushCycle:
    """What one push job did."""

    skus_checked: int = 0
    changes: int = 0
    report: PushReport | None = None
    skipped: str = ""


class AccountRunner:
    """One account's SP-API client and the jobs that use it."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        row: ChannelAccount,
        cipher: CredentialCipher,
        *,
        client_factory: ClientFactory = SpApiClient,
        clock: Clock = lambda: datetime.now(UTC),
        policy: RunnerPolicy | None = None,
    ) -> None:
        self.sessions = sessions
        self.account_id = row.id
        self.name = row.name
        self.version = row.updated_at
        self.account = repo.seller_account(row, cipher)
        self.client = client_factory(self.account)
        self.clock = clock
        self.policy = policy or RunnerPolicy()
        self.store = repo.DbChannelStore(sessions)
        self.revoked_at: datetime | None = None

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def _sku_map(self) -> SkuMap:
        with self.sessions() as session:
            sku_map = repo.load_sku_map(session, self.account_id)
        self.store.use_sku_map(self.name, sku_map)
        return sku_map

    @property
    def paused(self) -> bool:
        """True while a revoked refresh token pauses SP-API calls."""
        if self.client.stats.token_state is not TokenState.REVOKED:
            self.revoked_at = None
            return False
        now = self.clock()
        if self.revoked_at is None:
            self.revoked_at = now
        if now - self.revoked_at >= self.policy.revoked_pause:
            self.revoked_at = now  # one try per pause
            return False
        return True

    # --- import -------------------------------------------------------------------------------

    def import_orders(
        self, progress: Callable[[ImportReport], None] | None = None
    ) -> list[ImportReport]:
        """One incremental import of every marketplace of the account."""
        self._sku_map()
        events: list[OrderEvent] = []
        importer = OrderImporter(
            order_source(self.client),
            self.store,
            self.store,
            account=self.name,
            policy=self.policy.import_policy,
            clock=self.clock,
            on_event=events.append,
            progress=progress,
        )
        reports = []
        for mid in self.account.marketplace_ids:
            report = importer.run(mid)
            reports.append(report)
            self._record_run(mid, report)
            if report.auth_revoked:
                break
        self._check_oversell([e for e in events if e.kind is OrderEventKind.ROUTE])
        return reports

    def _record_run(self, marketplace_id: str, report: ImportReport) -> None:
        with self.sessions.begin() as session:
            row = session.get(ChannelImportState, (self.account_id, marketplace_id))
            if row is None:
                row = ChannelImportState(
                    account_id=self.account_id, marketplace_id=marketplace_id, pages_done=0
                )
                session.add(row)
            row.last_run_at = report.finished_at or self.clock()
            row.last_error = report.error[:2000]
            if report.completed:
                row.last_success_at = row.last_run_at

    def _check_oversell(self, routed: list[OrderEvent]) -> None:
        """Raise ``oversell`` for an order needing more of a SKU than the channel may sell."""
        if not routed:
            return
        now = self.clock()
        with self.sessions.begin() as session:
            account = session.get(ChannelAccount, self.account_id)
            assert account is not None
            for event in routed:
                order = session.scalar(
                    select(MarketplaceOrder).where(
                        MarketplaceOrder.account_id == self.account_id,
                        MarketplaceOrder.marketplace_order_id == event.order.order_id,
                    )
                )
                if order is None:
                    continue
                need: dict[str, int] = {}
                for line in repo.order_lines(session, order.id):
                    if line.canonical_sku is not None:
                        need[line.canonical_sku] = need.get(line.canonical_sku, 0) + line.qty
                have = repo.channel_quantities(session, account, need)
                short = {sku: (qty, have[sku]) for sku, qty in need.items() if qty > have[sku]}
                key = f"{self.name}:{order.marketplace_order_id}"
                if short:
                    detail = ", ".join(
                        f"{sku} needs {qty}, sellable {avail}"
                        for sku, (qty, avail) in short.items()
                    )
                    alarms.raise_alarm(
                        session,
                        kind=ALARM_OVERSELL,
                        key=key,
                        message=f"{self.name} order {order.marketplace_order_id}: {detail}",
                        severity="critical",
                        now=now,
                    )
                    _LOGGER.warning("oversell: %s %s", key, detail)

    # --- push ---------------------------------------------------------------------------------

    def push_quantities(self, *, full: bool = False) -> PushCycle:
        """Push the channel quantity of mapped SKUs touched by new stock movements."""
        cycle = PushCycle()
        now = self.clock()
        sku_map = self._sku_map()
        mapped = {m.canonical_sku for m in sku_map}
        with self.sessions.begin() as session:
            account = session.get(ChannelAccount, self.account_id)
            assert account is not None
            cursor = session.get(ChannelPushCursor, self.account_id)
            if cursor is None:
                cursor = ChannelPushCursor(
                    account_id=self.account_id, last_movement_id=0, updated_at=now
                )
                session.add(cursor)
            top = session.scalar(select(func.max(StockMovement.id))) or 0
            full = (
                full
                or cursor.last_full_at is None
                or now - cursor.last_full_at >= self.policy.full_push_interval
            )
            if full:
                skus = set(mapped)
            else:
                floor = max(0, cursor.last_movement_id - self.policy.movement_lookback)
                touched = session.scalars(
                    select(StockMovement.sku).where(StockMovement.id > floor).distinct()
                )
                skus = {s for s in touched if s in mapped}
            quantities = repo.channel_quantities(session, account, skus) if skus else {}
        cycle.skus_checked = len(quantities)
        changes = [
            QuantityChange(sku, mid, qty, now)
            for sku, qty in quantities.items()
            for mid in self.account.marketplace_ids
            if sku_map.for_canonical(sku, mid) is not None
        ]
        cycle.changes = len(changes)
        pusher = QuantityPusher(
            self.client, self.store, sku_map, policy=self.policy.push_policy, clock=self.clock
        )
        cycle.report = pusher.push(changes)
        with self.sessions.begin() as session:
            cursor = session.get(ChannelPushCursor, self.account_id)
            assert cursor is not None
            cursor.last_movement_id = max(cursor.last_movement_id, top)
            if full:
                cursor.last_full_at = now
            cursor.updated_at = now
        return cycle

    def has_push_work(self) -> bool:
        """Pending quantities or feeds waiting for their report."""
        with self.sessions() as session:
            return bool(
                session.scalar(
                    select(func.count())
                    .select_from(ChannelPushRecord)
                    .where(
                        ChannelPushRecord.account_id == self.account_id,
                        ChannelPushRecord.outcome.in_(
                            (PushOutcome.PENDING.value, PushOutcome.IN_FEED.value)
                        ),
                    )
                )
            )

    def push_due(self) -> bool:
        """New stock movements after the watermark, or a full recomputation due."""
        with self.sessions() as session:
            top = session.scalar(select(func.max(StockMovement.id))) or 0
            cursor = session.get(ChannelPushCursor, self.account_id)
            return (
                cursor is None
                or top > cursor.last_movement_id
                or cursor.last_full_at is None
                or self.clock() - cursor.last_full_at >= self.policy.full_push_interval
            )

    # --- shipments ----------------------------------------------------------------------------

    def confirm_shipments(self) -> int:
        """Send the confirmations that are due; returns how many Amazon accepted."""
        now = self.clock()
        with self.sessions() as session:
            due = [
                (order, repo.order_lines(session, order.id))
                for order in repo.due_confirmations(session, self.account_id, now=now)
            ]
        confirmer = ShipmentConfirmer(self.client)
        accepted = 0
        for order, lines in due:
            items = tuple(
                ShippedItem(line.order_item_id, qty)
                for line in lines
                for qty in [
                    line.qty_handed_over
                    if line.qty_handed_over is not None
                    else line.qty - line.qty_shipped
                ]
                if qty > 0
            )
            confirmation = ShipmentConfirmation(
                order_id=order.marketplace_order_id,
                marketplace_id=order.marketplace_id,
                package_reference_id=str(order.id),
                carrier_code=order.carrier_code or "",
                tracking_number=order.tracking_number or "",
                ship_date=order.handed_over_at or now,
                items=items,
                carrier_name=order.carrier_name or "",
                shipping_method=order.shipping_method or "",
            )
            try:
                result = confirmer.confirm(
                    confirmation, now=now, attempts_before=order.shipment_attempts
                )
            except ShipmentError as err:
                self._record_confirmation(order.id, ShipmentState.REJECTED, str(err), None, now)
                continue
            if result.outcome is ConfirmOutcome.CONFIRMED:
                accepted += 1
                self._record_confirmation(order.id, ShipmentState.ACCEPTED, "", None, now)
            elif result.outcome is ConfirmOutcome.RETRY:
                self._record_confirmation(
                    order.id, ShipmentState.RETRY, result.message, result.retry_at, now
                )
            else:
                self._record_confirmation(
                    order.id, ShipmentState.REJECTED, result.message, None, now
                )
        # Orders split over several locations: one confirmShipment per package (routing's).
        from hub.routing_service import confirm_due_packages

        accepted += confirm_due_packages(self.sessions, self.account_id, confirmer, now=now)
        return accepted

    def _record_confirmation(
        self,
        order_id: int,
        state: ShipmentState,
        message: str,
        next_at: datetime | None,
        now: datetime,
    ) -> None:
        with self.sessions.begin() as session:
            order = session.get(MarketplaceOrder, order_id)
            if order is None or order.routing_state != RoutingState.HANDED_OVER.value:
                return  # cancelled or changed meanwhile
            order.shipment_state = state.value
            order.shipment_error = message[:2000]
            order.shipment_next_at = next_at
            order.updated_at = now
            if state is ShipmentState.ACCEPTED:
                order.shipment_confirmed_at = now
                order.routing_state = RoutingState.CONFIRMED.value
                order.routing_state_at = now
            else:
                order.shipment_attempts += 1

    # --- health -------------------------------------------------------------------------------

    def evaluate_health(self) -> ChannelHealth:
        """Store the client's counters, judge them, raise and clear the channel's alarms."""
        now = self.clock()
        stats = self.client.stats
        with self.sessions.begin() as session:
            runs = list(
                session.scalars(
                    select(ChannelImportState).where(
                        ChannelImportState.account_id == self.account_id,
                        ChannelImportState.marketplace_id.in_(self.account.marketplace_ids),
                    )
                )
            )
            done = [r.last_success_at for r in runs]
            last_import = (
                None
                if len(done) < len(self.account.marketplace_ids) or None in done
                else min(d for d in done if d is not None)
            )
            feed_errors = (
                session.scalar(
                    select(func.count())
                    .select_from(ChannelPushRecord)
                    .where(
                        ChannelPushRecord.account_id == self.account_id,
                        ChannelPushRecord.outcome == PushOutcome.INVALID.value,
                    )
                )
                or 0
            )
            health = evaluate_health(
                health_input(
                    self.name, stats, now=now, last_import_at=last_import, feed_errors=feed_errors
                )
            )
            row = session.get(ChannelHealthState, self.account_id)
            if row is None:
                row = ChannelHealthState(account_id=self.account_id, since=now)
                session.add(row)
            row.token_state = stats.token_state.value
            row.calls, row.throttled, row.errors = stats.calls, stats.throttled, stats.errors
            row.operations = {op: vars(s).copy() for op, s in stats.operations.items()}
            row.last_success_at = stats.last_success_at
            row.last_error = stats.last_error[:2000]
            row.status = health.status.value
            row.alarms = [[a.code, a.severity.value, a.message] for a in health.alarms]
            row.evaluated_at = now
            raised: dict[str, tuple[str, str]] = {}
            for alarm in health.alarms:
                kind = _HEALTH_ALARMS.get(alarm.code)
                if kind is None:
                    continue
                severity = "critical" if alarm.severity is Severity.CRITICAL else "warning"
                if kind not in raised or severity == "critical":
                    raised[kind] = (severity, alarm.message)
            for kind in (ALARM_AUTH, ALARM_IMPORT_LAG, ALARM_FEED_ERRORS):
                if kind in raised:
                    severity, message = raised[kind]
                    alarms.raise_alarm(
                        session,
                        kind=kind,
                        key=self.name,
                        message=message,
                        severity=severity,
                        now=now,
                    )
                else:
                    alarms.clear_alarm(session, kind=kind, key=self.name, now=now)
        return health
