"""Order routing wired to the database: route, reserve, publish, react, re-route.

The pure engine (``hub.domain.routing``) decides; this module is its imperative
shell. It reads marketplace orders in ``to_route`` (``hub.db.models_channels``),
builds the candidates from the stock ledger, store presence and
``routing_locations``, stores each decision with its explanation
(``routing_decisions``), reserves the units and queues the routed order for the
store through ``hub.db.orders.route_order`` (the scheduler publishes it after
commit), and follows the order at the store (``routing_assignments``).

Re-routing happens when the store rejects, does not accept within
``accept_timeout_s``, goes offline (its Last Will) before accepting, or a walk-in
sale takes units an order still needs. The released location is excluded from the
order's next decision. Cancellations from the marketplace release the
reservation and tell the store to stop. Hand-over sets the marketplace order to
``handed_over`` with carrier and tracking, for the channel's shipment confirmation.

Two entry points: ``RoutingService.run_once`` (a periodic job, run under the
scheduler lease) and ``on_events`` (called by the ingest batch, in its
transaction, for every store event it applied).
"""

from __future__ import annotations

import enum
import functools
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hub import alarms
from hub.channels.amazon.states import RoutingState, ShipmentState
from hub.db import downlink
from hub.db.ledger import LedgerWriter, MovementContext
from hub.db.models import Location, OrderReservation, StockLevel, Store, StoreStatus
from hub.db.models_alarms import Alarm
from hub.db.models_channels import ChannelAccount, MarketplaceOrder, MarketplaceOrderLine
from hub.db.models_routing import (
    OPEN_ASSIGNMENT_STATES,
    AssignmentState,
    ReviewState,
    RoutingAssignment,
    RoutingDecisionRow,
    RoutingLocation,
    RoutingReview,
)
from hub.db.orders import route_order
from hub.db.util import for_update
from hub.domain.business_day import business_day, day_bounds_utc
from hub.domain.downlink import AckKey, DownKind
from hub.domain.geo import PostalCodeTable
from hub.domain.parts import ItemLine, Part, package_items, progress, remaining
from hub.domain.reservations import Reservation, ReservationState, check_walk_in_sale
from hub.domain.routing import (
    DEFAULT_RULES_MAPPING,
    LocationKind,
    LocationState,
    OrderToRoute,
    Outcome,
    RoutingRules,
    ShipTo,
    route,
    rules_from_mapping,
    rules_to_mapping,
)
from hub.domain.routing import OrderLine as RouteLine
from protocol.codec import encode
from protocol.messages import OrderLine, OrderMessage
from protocol.money import Money

_LOGGER = logging.getLogger(__name__)

ALARM_KIND = "unroutable_order"
DEFAULT_ACCEPT_TIMEOUT_S = 900.0
DEFAULT_BATCH_ORDERS = 50
_RULE_KEYS = ("rules", "manual_review_over", "hold_on_risk_flags", "explain_top")
_SERVICE_KEYS = frozenset({"accept_timeout_s", "batch_orders", "default_currency", "allow_split"})
BY_PACKAGE = "by_package"
"""``marketplace_orders.shipment_state`` of a split order: confirmed package by package,
each package's state on its ``routing_assignments`` row (the channel's order-level
confirmation leaves it alone)."""

Clock = Callable[[], datetime]


class RoutingConfigError(ValueError):
    """The ``[hub.routing]`` table cannot be used; the message names the setting."""


class Trigger:
    """Why an order is being routed (stored with each decision)."""

    INITIAL = "initial"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    STORE_OFFLINE = "store_offline"
    WALK_IN = "walk_in"
    APPROVED = "approved"
    MANUAL_REROUTE = "manual_reroute"
    CANCELLED = "cancelled"
    SHIPPED_ELSEWHERE = "shipped_elsewhere"


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    """Routing rules plus the service's own settings (acceptance timeout, batch size)."""

    rules: RoutingRules
    accept_timeout: timedelta = timedelta(seconds=DEFAULT_ACCEPT_TIMEOUT_S)
    batch_orders: int = DEFAULT_BATCH_ORDERS
    default_currency: str = "EUR"
    rules_mapping: Mapping[str, Any] = field(default_factory=dict)
    allow_split: bool = True

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> RoutingSettings:
        """Read the ``[hub.routing]`` table: the engine's rule keys plus accept_timeout_s."""
        data = dict(data or {})
        unknown = sorted(set(data) - set(_RULE_KEYS) - _SERVICE_KEYS)
        if unknown:
            raise RoutingConfigError(
                f"routing: unknown setting(s) {', '.join(unknown)} (allowed: "
                f"{', '.join(sorted(set(_RULE_KEYS) | _SERVICE_KEYS))})"
            )
        rule_part = {k: data[k] for k in _RULE_KEYS if k in data}
        mapping = {**DEFAULT_RULES_MAPPING, **rule_part}
        rules = rules_from_mapping(mapping)
        timeout = data.get("accept_timeout_s", DEFAULT_ACCEPT_TIMEOUT_S)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise RoutingConfigError("routing.accept_timeout_s: a positive number of seconds")
        batch = data.get("batch_orders", DEFAULT_BATCH_ORDERS)
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise RoutingConfigError("routing.batch_orders: a positive integer")
        allow_split = data.get("allow_split", True)
        if not isinstance(allow_split, bool):
            raise RoutingConfigError("routing.allow_split: true or false")
        return cls(
            rules=rules,
            accept_timeout=timedelta(seconds=float(timeout)),
            batch_orders=batch,
            default_currency=str(data.get("default_currency", "EUR")),
            rules_mapping=rules_to_mapping(rules),
            allow_split=allow_split,
        )


@dataclass(frozen=True, slots=True)
class RoundReport:
    """What one periodic round did."""

    timed_out: int = 0
    offline: int = 0
    cancelled: int = 0
    routed: int = 0
    held: int = 0
    unroutable: int = 0
    split: int = 0


# --------------------------------------------------------------------------- helpers


def _channel_name(account: ChannelAccount | None, order: MarketplaceOrder) -> str:
    kind = account.kind if account is not None else "marketplace"
    return f"{kind}:{order.marketplace_id}"


def _order_rows(session: Session, order_id: str) -> list[MarketplaceOrder]:
    return list(
        session.scalars(
            select(MarketplaceOrder)
            .where(MarketplaceOrder.marketplace_order_id == order_id)
            .order_by(MarketplaceOrder.id)
        )
    )


def find_order(session: Session, order_id: str, *, lock: bool = False) -> MarketplaceOrder | None:
    """The marketplace order that travels to stores as ``order_id`` (its marketplace id)."""
    stmt = (
        select(MarketplaceOrder)
        .where(MarketplaceOrder.marketplace_order_id == order_id)
        .order_by(MarketplaceOrder.id)
        .limit(1)
    )
    if lock:
        stmt = for_update(session, stmt)
    return session.scalars(stmt).first()


def _set_state(order: MarketplaceOrder, state: RoutingState, *, now: datetime, note: str) -> None:
    order.routing_state = state.value
    order.routing_state_at = now
    order.routing_note = note[:2000]
    order.updated_at = now


def _assignments(session: Session, order_id: str) -> list[RoutingAssignment]:
    return list(
        session.scalars(
            select(RoutingAssignment)
            .where(RoutingAssignment.order_id == order_id)
            .order_by(RoutingAssignment.routed_at, RoutingAssignment.location_id)
        )
    )


def _enqueue_cancel(
    session: Session, order: MarketplaceOrder | None, order_id: str, store_id: str, *, now: datetime
) -> None:
    """Tell a store to stop working on an order, and stop replaying the routed copy."""
    message = OrderMessage(
        id=uuid.uuid4(),
        store=store_id,
        kind="cancelled",
        order_id=order_id,
        channel="marketplace" if order is None else f"marketplace:{order.marketplace_id}",
        marketplace_order_id=order_id,
        lines=[],
        note="this order no longer ships from this store",
        at=now,
    )
    downlink.acknowledge(
        session,
        store_id,
        [AckKey(DownKind.ORDER_ROUTED, order_id)],
        now=now,
        note="order moved on",
    )
    downlink.enqueue(
        session,
        message_id=message.id,
        store_id=store_id,
        kind=DownKind.ORDER_CANCELLED,
        ref=order_id,
        channel="orders",
        payload=encode(message).decode("utf-8"),
        now=now,
    )


def is_store(session: Session, location_id: str) -> bool:
    """True for a store's location (an edge agent to talk to); False for a warehouse."""
    location = session.get(Location, location_id)
    return location is not None and location.store_id is not None


def release_assignment(
    session: Session,
    assignment: RoutingAssignment,
    reason: str,
    *,
    now: datetime,
    notify_store: bool,
    note: str = "",
) -> bool:
    """Release an open assignment's reservation; tell the store to stop when asked."""
    if assignment.state not in OPEN_ASSIGNMENT_STATES:
        return False
    rows = list(
        session.scalars(
            for_update(
                session,
                select(OrderReservation)
                .where(
                    OrderReservation.order_id == assignment.order_id,
                    OrderReservation.location_id == assignment.location_id,
                    OrderReservation.status == "open",
                )
                .order_by(OrderReservation.sku),
            )
        )
    )
    if rows:
        ledger = LedgerWriter(session, now=now)
        ledger.load((r.location_id, r.sku) for r in rows)
        ctx = MovementContext(at=now, reference=assignment.order_id)
        for row in rows:
            ledger.release(row.location_id, row.sku, row.qty, ctx)
            row.status = "released"
            row.updated_at = now
        ledger.flush()
    assignment.state = AssignmentState.RELEASED.value
    assignment.release_reason = reason
    assignment.released_at = now
    assignment.updated_at = now
    if note:
        assignment.note = note[:2000]
    if notify_store and is_store(session, assignment.location_id):
        order = find_order(session, assignment.order_id)
        _enqueue_cancel(session, order, assignment.order_id, assignment.location_id, now=now)
    _LOGGER.info(
        "order %s released at %s (%s)", assignment.order_id, assignment.location_id, reason
    )
    return True


def _back_to_route(
    session: Session, assignment: RoutingAssignment, reason: str, *, now: datetime
) -> None:
    """After a release that calls for another location, queue the order for routing again."""
    order = find_order(session, assignment.order_id, lock=True)
    if order is None:
        return
    if order.routing_state == RoutingState.ROUTED.value:
        # Only this part goes back: the order's other parts stay where they are.
        _set_state(
            order,
            RoutingState.TO_ROUTE,
            now=now,
            note=f"{assignment.location_id}: {reason}; routing again",
        )


# --------------------------------------------------------------------------- parts of an order


def part_lines(session: Session, assignment: RoutingAssignment) -> dict[str, int]:
    """SKU -> units this assignment ships (its reservations for rows older than ``lines``)."""
    if assignment.lines is not None:
        out: dict[str, int] = defaultdict(int)
        for line in assignment.lines:
            out[str(line["sku"])] += int(line["qty"])
        return dict(out)
    rows = session.execute(
        select(OrderReservation.sku, OrderReservation.qty).where(
            OrderReservation.order_id == assignment.order_id,
            OrderReservation.location_id == assignment.location_id,
        )
    ).all()
    return {str(sku): int(qty) for sku, qty in rows}


def _live_parts(assignments: Iterable[RoutingAssignment]) -> list[RoutingAssignment]:
    return [a for a in assignments if a.state != AssignmentState.RELEASED.value]


def _parts(session: Session, assignments: Iterable[RoutingAssignment]) -> list[Part]:
    return [Part(a.location_id, part_lines(session, a), a.state) for a in assignments]


def _ordered_shipped(
    lines: Sequence[MarketplaceOrderLine],
) -> tuple[dict[str, int], dict[str, int]]:
    ordered: dict[str, int] = defaultdict(int)
    shipped: dict[str, int] = defaultdict(int)
    for ln in lines:
        if ln.canonical_sku is not None:
            ordered[str(ln.canonical_sku)] += ln.qty
            shipped[str(ln.canonical_sku)] += ln.qty_shipped
    return ordered, shipped


def remaining_demand(
    session: Session,
    lines: Sequence[MarketplaceOrderLine],
    assignments: Sequence[RoutingAssignment],
) -> dict[str, int]:
    """Units per SKU no live part of the order holds yet (``hub.domain.parts.remaining``)."""
    ordered, shipped = _ordered_shipped(lines)
    return remaining(ordered, shipped, _parts(session, assignments))


# --------------------------------------------------------------------------- candidates


def _local_day_start(tz_name: str, now: datetime) -> datetime:
    return day_bounds_utc(business_day(now, tz_name), tz_name)[0]


def load_candidates(
    session: Session,
    skus: Sequence[str],
    *,
    allowed: Iterable[str] | None,
    now: datetime,
) -> list[LocationState]:
    """Stores and warehouses holding sellable stock of any of ``skus``, with status and load.

    A warehouse has no edge agent and no Last Will: it counts as online. Its load is
    counted from midnight UTC (a store's from midnight in its own zone).
    """
    if not skus:
        return []
    rows = session.execute(
        select(
            StockLevel.location_id,
            StockLevel.sku,
            StockLevel.on_hand,
            StockLevel.reserved,
            StockLevel.safety_stock,
            Location.kind,
        )
        .join(Location, Location.id == StockLevel.location_id)
        .where(
            StockLevel.sku.in_(sorted(set(skus))),
            StockLevel.on_hand - StockLevel.reserved > 0,
            Location.active.is_(True),
            Location.ships_online.is_(True),
        )
    ).all()
    allowed_set = None if allowed is None else set(allowed)
    stock: dict[str, dict[str, int]] = defaultdict(dict)
    safety: dict[str, dict[str, int]] = defaultdict(dict)
    kinds: dict[str, LocationKind] = {}
    for location_id, sku, on_hand, reserved, safety_stock, kind in rows:
        if allowed_set is not None and location_id not in allowed_set:
            continue
        kinds[location_id] = (
            LocationKind.WAREHOUSE if kind == LocationKind.WAREHOUSE.value else LocationKind.STORE
        )
        stock[location_id][sku] = int(on_hand) - int(reserved)
        if safety_stock:
            safety[location_id][sku] = int(safety_stock)
    if not stock:
        return []
    ids = sorted(stock)
    geo = {
        r.location_id: r
        for r in session.scalars(
            select(RoutingLocation).where(RoutingLocation.location_id.in_(ids))
        )
    }
    online = dict(
        session.execute(
            select(StoreStatus.store_id, StoreStatus.online).where(StoreStatus.store_id.in_(ids))
        ).all()
    )
    zones = dict(session.execute(select(Store.id, Store.timezone).where(Store.id.in_(ids))).all())
    result: list[LocationState] = []
    for location_id in ids:
        where = geo.get(location_id)
        if where is None:
            _LOGGER.debug("location %s has no position in routing_locations; skipped", location_id)
            continue
        start = _local_day_start(zones.get(location_id, "UTC"), now)
        load = session.scalar(
            select(func.count())
            .select_from(RoutingAssignment)
            .where(
                RoutingAssignment.location_id == location_id,
                RoutingAssignment.routed_at >= start,
                RoutingAssignment.state != AssignmentState.RELEASED.value,
            )
        )
        warehouse = kinds[location_id] is LocationKind.WAREHOUSE
        result.append(
            LocationState(
                location_id=location_id,
                kind=kinds[location_id],
                lat=where.lat,
                lon=where.lon,
                stock=stock[location_id],
                online=warehouse or bool(online.get(location_id, False)),
                daily_capacity=where.daily_capacity,
                current_load=int(load or 0),
                safety_stock_by_sku=safety.get(location_id, {}),
            )
        )
    return result


# --------------------------------------------------------------------------- routing one order


@functools.lru_cache(maxsize=1)
def shipped_postal_codes() -> PostalCodeTable:
    """The postal-code table shipped with the hub, loaded once per process."""
    from hub.data import load_postal_codes

    return load_postal_codes()


def _trigger_for(assignments: Sequence[RoutingAssignment]) -> str:
    released = [a for a in assignments if a.state == AssignmentState.RELEASED.value]
    if not released:
        return Trigger.INITIAL
    latest = max(released, key=lambda a: (a.released_at or a.updated_at, a.location_id))
    return latest.release_reason or Trigger.INITIAL


def _store_decision(
    session: Session,
    order: MarketplaceOrder,
    *,
    trigger: str,
    outcome: str,
    location_id: str | None,
    rule: str | None,
    summary: str,
    excluded: Sequence[str],
    explanation: dict[str, Any],
    rules: Mapping[str, Any],
    now: datetime,
) -> RoutingDecisionRow:
    attempt = (
        session.scalar(
            select(func.count())
            .select_from(RoutingDecisionRow)
            .where(RoutingDecisionRow.order_id == order.marketplace_order_id)
        )
        or 0
    ) + 1
    row = RoutingDecisionRow(
        order_id=order.marketplace_order_id,
        marketplace_order_pk=order.id,
        attempt=attempt,
        trigger=trigger,
        outcome=outcome,
        location_id=location_id,
        rule=rule,
        summary=summary[:4000],
        excluded=sorted(excluded),
        explanation=explanation,
        rules=dict(rules),
        decided_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _unroutable(session: Session, order: MarketplaceOrder, summary: str, *, now: datetime) -> None:
    _set_state(order, RoutingState.UNROUTABLE, now=now, note=summary)
    alarms.raise_alarm(
        session,
        kind=ALARM_KIND,
        key=order.marketplace_order_id,
        message=f"order {order.marketplace_order_id} cannot be routed: {summary}"[:1000],
        severity="warning",
        now=now,
    )
    _LOGGER.warning("order %s unroutable: %s", order.marketplace_order_id, summary)


def route_one(
    session: Session,
    order: MarketplaceOrder,
    settings: RoutingSettings,
    *,
    now: datetime,
    postal: PostalCodeTable | None = None,
    skip_review: bool = False,
    trigger: str | None = None,
) -> RoutingDecisionRow:
    """Route one marketplace order now: decide, store the decision, reserve and publish."""
    order_id = order.marketplace_order_id
    lines = list(
        session.scalars(
            select(MarketplaceOrderLine)
            .where(MarketplaceOrderLine.order_id == order.id)
            .order_by(MarketplaceOrderLine.id)
        )
    )
    history = _assignments(session, order_id)
    trigger = trigger or _trigger_for(history)
    excluded = sorted({a.location_id for a in history})
    rules_map = settings.rules_mapping or rules_to_mapping(settings.rules)
    unmapped = sorted(
        {ln.seller_sku for ln in lines if ln.canonical_sku is None and ln.qty > ln.qty_shipped}
    )
    # Only what no live part holds: a re-routed part of a split order is just its lines.
    wanted = remaining_demand(session, lines, history)
    live = _live_parts(history)
    if not unmapped and not wanted and live:
        summary = "nothing left to route: " + ", ".join(
            f"{a.location_id} ({a.state})" for a in live
        )
        row = _store_decision(
            session,
            order,
            trigger=trigger,
            outcome=Outcome.ROUTED.value,
            location_id=live[0].location_id,
            rule=None,
            summary=summary,
            excluded=excluded,
            explanation={"outcome": Outcome.ROUTED.value, "summary": summary, "rules": []},
            rules=rules_map,
            now=now,
        )
        refresh_split_order(session, order, now=now)
        return row
    if unmapped or not wanted:
        summary = (
            f"seller SKU(s) {', '.join(unmapped)} not mapped to a product"
            if unmapped
            else "no unshipped units left on the order"
        )
        row = _store_decision(
            session,
            order,
            trigger=trigger,
            outcome=Outcome.UNROUTABLE.value,
            location_id=None,
            rule=None,
            summary=summary,
            excluded=excluded,
            explanation={"outcome": Outcome.UNROUTABLE.value, "summary": summary, "rules": []},
            rules=rules_map,
            now=now,
        )
        _unroutable(session, order, summary, now=now)
        return row
    account = session.get(ChannelAccount, order.account_id)
    allowed = None if account is None else account.allowed_locations
    channel = _channel_name(account, order)
    currency = order.currency or settings.default_currency
    to_route = OrderToRoute(
        order_id=order_id,
        channel=channel,
        lines=tuple(RouteLine(sku, qty) for sku, qty in sorted(wanted.items())),
        ship_to=ShipTo(order.ship_to_country or "", order.ship_to_postal_code or ""),
        value=Money(int(order.total_minor or 0), currency),
        allow_split=settings.allow_split,
    )
    skus = sorted(to_route.demand)
    candidates = load_candidates(session, skus, allowed=allowed, now=now)
    decision = route(
        to_route,
        candidates,
        settings.rules,
        exclude=frozenset(excluded),
        postal=postal if postal is not None else shipped_postal_codes(),
        skip_review=skip_review,
    )
    outcome = decision.outcome
    if outcome is Outcome.SPLIT and not settings.allow_split:  # the engine never does this
        outcome = Outcome.UNROUTABLE
    parts = decision.assignments if outcome in (Outcome.ROUTED, Outcome.SPLIT) else ()
    location = parts[0].location_id if parts else None
    row = _store_decision(
        session,
        order,
        trigger=trigger,
        outcome=outcome.value,
        location_id=location,
        rule=decision.rule,
        summary=decision.summary,
        excluded=excluded,
        explanation=decision.as_dict(),
        rules=rules_map,
        now=now,
    )
    review = session.get(RoutingReview, order_id)
    if parts and location is not None:
        names = {
            str(ln.canonical_sku): (ln.title or str(ln.canonical_sku))
            for ln in lines
            if ln.canonical_sku is not None
        }
        for part in parts:
            _send_part(
                session, order, part.location_id, part.lines, names, channel, row, settings, now=now
            )
        order.routed_location = location
        _set_state(order, RoutingState.ROUTED, now=now, note=decision.summary)
        if review is not None and review.state == ReviewState.PENDING.value:
            review.state = ReviewState.APPROVED.value
            review.decided_at = review.decided_at or now
        alarms.clear_alarm(session, kind=ALARM_KIND, key=order_id, now=now)
        _LOGGER.info(
            "order %s routed to %s (%s)", order_id, ", ".join(p.location_id for p in parts), trigger
        )
    elif outcome is Outcome.MANUAL_REVIEW:
        _set_state(order, RoutingState.MANUAL_REVIEW, now=now, note=decision.summary)
        if review is None:
            review = RoutingReview(order_id=order_id, opened_at=now, note="")
            session.add(review)
        review.marketplace_order_pk = order.id
        review.state = ReviewState.PENDING.value
        review.reasons = list(decision.review_reasons)
        review.decision_id = row.id
        review.opened_at = now
        review.decided_at = None
        review.decided_by = None
        _LOGGER.info("order %s held for review: %s", order_id, "; ".join(decision.review_reasons))
    else:
        _unroutable(session, order, decision.summary, now=now)
    session.flush()
    return row


def reserve_at_location(
    session: Session,
    order_id: str,
    location_id: str,
    lines: Sequence[tuple[str, int]],
    *,
    now: datetime,
) -> None:
    """Reserve an order's lines in the ledger at a location no message goes to (a warehouse)."""
    wanted: dict[str, int] = defaultdict(int)
    for sku, qty in lines:
        wanted[sku] += qty
    ledger = LedgerWriter(session, now=now)
    ledger.load((location_id, sku) for sku in wanted)
    ctx = MovementContext(at=now, reference=order_id)
    for sku, qty in sorted(wanted.items()):
        ledger.reserve(location_id, sku, qty, ctx)
        session.add(
            OrderReservation(
                order_id=order_id,
                location_id=location_id,
                sku=sku,
                qty=qty,
                status="open",
                created_at=now,
                updated_at=now,
            )
        )
    ledger.flush()


def _send_part(
    session: Session,
    order: MarketplaceOrder,
    location_id: str,
    lines: Sequence[tuple[str, int]],
    names: Mapping[str, str],
    channel: str,
    decision: RoutingDecisionRow,
    settings: RoutingSettings,
    *,
    now: datetime,
) -> RoutingAssignment:
    """Reserve one part (the whole order, or its lines at one location) and queue its message."""
    order_id = order.marketplace_order_id
    message = OrderMessage(
        id=uuid.uuid4(),
        store=location_id,
        kind="routed",
        order_id=order_id,
        channel=channel,
        marketplace_order_id=order.marketplace_order_id,
        ship_by=order.ship_by_at,
        lines=[OrderLine(sku=sku, name=names.get(sku, sku)[:200], qty=qty) for sku, qty in lines],
        ship_to={
            "country": order.ship_to_country,
            "postal_code": order.ship_to_postal_code,
            "city": order.ship_to_city,
        },
        note=order.ship_service_level or None,
        at=now,
    )
    if is_store(session, location_id):
        route_order(session, message, now=now)
    else:
        # A warehouse has no agent: the hub's own staff fulfil it (fulfil_at_hub).
        reserve_at_location(session, order_id, location_id, lines, now=now)
    assignment = RoutingAssignment(
        order_id=order_id,
        location_id=location_id,
        marketplace_order_pk=order.id,
        decision_id=decision.id,
        state=AssignmentState.ROUTED.value,
        note="",
        routed_at=now,
        accept_by=now + settings.accept_timeout,
        updated_at=now,
        lines=[{"sku": sku, "qty": qty} for sku, qty in lines],
        shipment_state="none",
        shipment_attempts=0,
        shipment_error="",
    )
    session.add(assignment)
    return assignment


# --------------------------------------------------------------------------- store events


@dataclass(frozen=True, slots=True)
class StoreEvent:
    """One applied store event, as the routing reactions need it."""

    store_id: str
    type: str
    body: Mapping[str, Any]
    at: datetime


_FORWARD = {
    "order.accepted": AssignmentState.ACCEPTED,
    "order.picked": AssignmentState.PICKED,
    "order.packed": AssignmentState.PACKED,
}
_RANK = {
    AssignmentState.ROUTED.value: 0,
    AssignmentState.ACCEPTED.value: 1,
    AssignmentState.PICKED.value: 2,
    AssignmentState.PACKED.value: 3,
    AssignmentState.HANDED_OVER.value: 4,
}


def on_events(session: Session, events: Sequence[StoreEvent], *, now: datetime) -> None:
    """React to applied store events inside the ingest transaction (order steps, walk-in sales)."""
    for event in events:
        if event.type.startswith("order."):
            _on_order_event(session, event, now=now)
    sales = [e for e in events if e.type == "sale.completed"]
    if sales:
        _walk_in(session, sales, now=now)


def _on_order_event(session: Session, event: StoreEvent, *, now: datetime) -> None:
    order_id = str(event.body.get("order_id", ""))
    assignment = session.get(RoutingAssignment, (order_id, event.store_id))
    if assignment is None:
        _LOGGER.info("%s for %s from %s: not routed there", event.type, order_id, event.store_id)
        return
    if event.type in _FORWARD:
        target = _FORWARD[event.type]
        if assignment.state == AssignmentState.RELEASED.value:
            _LOGGER.warning(
                "%s for %s from %s after its release (%s); the store was told to stop",
                event.type,
                order_id,
                event.store_id,
                assignment.release_reason,
            )
            return
        if _RANK.get(assignment.state, 9) < _RANK[target.value]:
            assignment.state = target.value
            assignment.updated_at = now
            if target is AssignmentState.ACCEPTED or assignment.accepted_at is None:
                assignment.accepted_at = assignment.accepted_at or event.at
        return
    if event.type == "order.rejected":
        reason = str(event.body.get("reason", "other"))
        note = str(event.body.get("note") or "")
        if assignment.state not in OPEN_ASSIGNMENT_STATES:
            return  # the answer to our cancellation, or a duplicate
        # The reservation itself was released by the ingest (effects: release_order).
        assignment.state = AssignmentState.RELEASED.value
        assignment.release_reason = Trigger.REJECTED
        assignment.reject_reason = reason[:32]
        assignment.note = note[:2000]
        assignment.released_at = now
        assignment.updated_at = now
        _back_to_route(session, assignment, f"rejected ({reason})", now=now)
        _LOGGER.info("order %s rejected by %s: %s", order_id, event.store_id, reason)
        return
    if event.type == "order.handed_over":
        _on_handed_over(session, assignment, event, now=now)


def _on_handed_over(
    session: Session, assignment: RoutingAssignment, event: StoreEvent, *, now: datetime
) -> None:
    order_id = assignment.order_id
    late = assignment.state == AssignmentState.RELEASED.value
    released_at = assignment.released_at
    if assignment.state == AssignmentState.HANDED_OVER.value:
        return
    assignment.state = AssignmentState.HANDED_OVER.value
    assignment.handed_over_at = event.at
    assignment.updated_at = now
    order = find_order(session, order_id, lock=True)
    if order is None:
        return
    if order.routing_state == RoutingState.CANCELLED.value:
        _LOGGER.warning(
            "order %s handed over at %s after its cancellation; a return will follow",
            order_id,
            event.store_id,
        )
        return
    history = _assignments(session, order_id)
    if late:
        # The parcel left after we moved this part on: cancel the re-routed copy (the
        # parts routed since), not the order's other parts.
        for other in history:
            if other.location_id != assignment.location_id and (
                released_at is None or other.routed_at >= released_at
            ):
                release_assignment(
                    session, other, Trigger.SHIPPED_ELSEWHERE, now=now, notify_store=True
                )
        _LOGGER.warning(
            "order %s handed over at %s after its release; the re-routed copy is cancelled",
            order_id,
            event.store_id,
        )
    handed: dict[str, int] = defaultdict(int)
    for line in event.body.get("lines", []):
        handed[str(line["sku"])] += int(line["qty"])
    if not handed:
        handed.update(part_lines(session, assignment))
    carrier = str(event.body.get("carrier", ""))[:64]
    tracking = str(event.body.get("tracking_number", ""))[:64]
    order_lines = list(
        session.scalars(
            select(MarketplaceOrderLine)
            .where(MarketplaceOrderLine.order_id == order.id)
            .order_by(MarketplaceOrderLine.id)
        )
    )
    if _ships_whole_order(session, assignment, history, order_lines):
        _hand_over_whole(
            session, order, assignment, order_lines, handed, carrier, tracking, event, now=now
        )
        return
    # One package of a split order: confirmed on its own (confirm_due_packages).
    others = [a for a in history if a is not assignment and a.package_items is not None]
    assignment.carrier = carrier
    assignment.tracking_number = tracking
    assignment.package_ref = str(1 + max((int(a.package_ref or 0) for a in others), default=0))
    assignment.package_items = _package_items(order_lines, handed, others)
    assignment.shipment_state = ShipmentState.PENDING.value
    assignment.shipment_next_at = now
    assignment.shipment_error = ""
    _LOGGER.info(
        "order %s: package %s handed over at %s (%s %s)",
        order_id,
        assignment.package_ref,
        assignment.location_id,
        carrier,
        tracking,
    )
    refresh_split_order(session, order, now=now)


def _ships_whole_order(
    session: Session,
    assignment: RoutingAssignment,
    history: Sequence[RoutingAssignment],
    order_lines: Sequence[MarketplaceOrderLine],
) -> bool:
    """True when this location ships every unshipped unit and no other package left before."""
    if any(a is not assignment and a.state == AssignmentState.HANDED_OVER.value for a in history):
        return False
    mine = part_lines(session, assignment)
    unshipped: dict[str, int] = defaultdict(int)
    for ln in order_lines:
        unshipped[str(ln.canonical_sku)] += ln.qty - ln.qty_shipped
    return all(mine.get(sku, 0) >= qty for sku, qty in unshipped.items() if qty > 0)


def _hand_over_whole(
    session: Session,
    order: MarketplaceOrder,
    assignment: RoutingAssignment,
    order_lines: Sequence[MarketplaceOrderLine],
    handed: dict[str, int],
    carrier: str,
    tracking: str,
    event: StoreEvent,
    *,
    now: datetime,
) -> None:
    """The whole order left in one parcel: the channel confirms it at order level."""
    order_id = order.marketplace_order_id
    review = session.get(RoutingReview, order_id)
    if review is not None and review.state == ReviewState.PENDING.value:
        review.state = ReviewState.CANCELLED.value
        review.decided_at = now
        review.note = "shipped by the store"
    alarms.clear_alarm(session, kind=ALARM_KIND, key=order_id, now=now)
    for line in order_lines:
        due = line.qty - line.qty_shipped
        take = min(due, handed.get(str(line.canonical_sku), 0))
        handed[str(line.canonical_sku)] -= take
        line.qty_handed_over = None if take == due else take
    order.carrier_code = carrier
    order.carrier_name = carrier
    order.tracking_number = tracking
    order.handed_over_at = event.at
    order.routed_location = assignment.location_id
    order.shipment_state = ShipmentState.PENDING.value
    order.shipment_next_at = now
    _set_state(
        order,
        RoutingState.HANDED_OVER,
        now=now,
        note=f"handed over at {assignment.location_id} to {carrier}",
    )
    _LOGGER.info("order %s handed over at %s", order_id, assignment.location_id)


def _package_items(
    order_lines: Sequence[MarketplaceOrderLine],
    handed: Mapping[str, int],
    others: Sequence[RoutingAssignment],
) -> list[dict[str, Any]]:
    """The order items in one package (``hub.domain.parts.package_items``)."""
    packed: dict[str, int] = defaultdict(int)
    for other in others:
        for item in other.package_items or []:
            packed[str(item["order_item_id"])] += int(item["quantity"])
    items = [
        ItemLine(ln.order_item_id, str(ln.canonical_sku), ln.qty, ln.qty_shipped)
        for ln in order_lines
    ]
    return [
        {"order_item_id": item_id, "quantity": qty}
        for item_id, qty in package_items(items, handed, packed)
    ]


def refresh_split_order(session: Session, order: MarketplaceOrder, *, now: datetime) -> None:
    """A split order's state from its parts: handed over when every package has left."""
    if order.routing_state in (RoutingState.CANCELLED.value, RoutingState.CONFIRMED.value):
        return
    history = _assignments(session, order.marketplace_order_id)
    live = _live_parts(history)
    if not live:
        return
    order_lines = list(
        session.scalars(
            select(MarketplaceOrderLine).where(MarketplaceOrderLine.order_id == order.id)
        )
    )
    ordered, shipped = _ordered_shipped(order_lines)
    state = progress(ordered, shipped, _parts(session, history))
    left = state.left
    handed = [a for a in live if a.state == AssignmentState.HANDED_OVER.value]
    parts = ", ".join(f"{a.location_id} {a.state}" for a in live)
    if not state.all_gone:
        note = f"{len(handed)} of {len(live)} part(s) handed over ({parts})"
        if left:
            note += "; still to route: " + ", ".join(f"{q} x {s}" for s, q in sorted(left.items()))
        elif order.routing_state in (RoutingState.TO_ROUTE.value, RoutingState.UNROUTABLE.value):
            _set_state(order, RoutingState.ROUTED, now=now, note=note)
            return
        order.routing_note = note[:2000]
        order.updated_at = now
        return
    last = max(handed, key=lambda a: (a.handed_over_at or now, a.location_id))
    order.carrier_code = last.carrier
    order.carrier_name = last.carrier
    order.tracking_number = last.tracking_number
    order.handed_over_at = last.handed_over_at
    order.routed_location = last.location_id
    note = f"{len(handed)} packages handed over ({parts})"
    alarms.clear_alarm(session, kind=ALARM_KIND, key=order.marketplace_order_id, now=now)
    if all(a.shipment_state == ShipmentState.ACCEPTED.value for a in handed):
        order.shipment_state = ShipmentState.ACCEPTED.value
        order.shipment_confirmed_at = now
        _set_state(order, RoutingState.CONFIRMED, now=now, note=note + "; all confirmed")
        return
    refused = [a for a in handed if a.shipment_state == ShipmentState.REJECTED.value]
    if refused:
        order.shipment_state = ShipmentState.REJECTED.value
        order.shipment_error = "; ".join(
            f"package {a.package_ref} ({a.location_id}): {a.shipment_error}" for a in refused
        )[:2000]
    else:
        order.shipment_state = BY_PACKAGE
    _set_state(order, RoutingState.HANDED_OVER, now=now, note=note)


# --------------------------------------------------------------------------- package confirmations


@dataclass(frozen=True, slots=True)
class _DuePackage:
    order_pk: int
    order_id: str
    location_id: str
    attempts: int
    confirmation: Any


def confirm_due_packages(
    sessions: sessionmaker[Session], account_id: int, confirmer: Any, *, now: datetime
) -> int:
    """Confirm the due packages of split orders, one confirmShipment each; returns accepted."""
    from hub.channels.amazon.shipments import (
        ConfirmOutcome,
        ShipmentConfirmation,
        ShipmentError,
        ShippedItem,
    )

    with sessions() as session:
        rows = session.execute(
            select(RoutingAssignment, MarketplaceOrder)
            .join(MarketplaceOrder, MarketplaceOrder.id == RoutingAssignment.marketplace_order_pk)
            .where(
                MarketplaceOrder.account_id == account_id,
                RoutingAssignment.state == AssignmentState.HANDED_OVER.value,
                RoutingAssignment.shipment_state.in_(
                    (ShipmentState.PENDING.value, ShipmentState.RETRY.value)
                ),
                MarketplaceOrder.routing_state != RoutingState.CANCELLED.value,
            )
            .order_by(RoutingAssignment.handed_over_at, RoutingAssignment.order_id)
        ).all()
        due = [
            _DuePackage(
                order.id,
                order.marketplace_order_id,
                part.location_id,
                part.shipment_attempts,
                ShipmentConfirmation(
                    order_id=order.marketplace_order_id,
                    marketplace_id=order.marketplace_id,
                    package_reference_id=part.package_ref or "1",
                    carrier_code=part.carrier or "",
                    tracking_number=part.tracking_number or "",
                    ship_date=part.handed_over_at or now,
                    items=tuple(
                        ShippedItem(str(i["order_item_id"]), int(i["quantity"]))
                        for i in part.package_items or []
                    ),
                    carrier_name=part.carrier or "",
                    shipping_method=order.shipping_method or "",
                ),
            )
            for part, order in rows
            if part.shipment_next_at is None or part.shipment_next_at <= now
        ]
    accepted = 0
    for package in due:
        try:
            result = confirmer.confirm(
                package.confirmation, now=now, attempts_before=package.attempts
            )
            state, message, retry_at = result.outcome, result.message, result.retry_at
        except ShipmentError as err:
            state, message, retry_at = ConfirmOutcome.REJECTED, str(err), None
        shipment = {
            ConfirmOutcome.CONFIRMED: ShipmentState.ACCEPTED,
            ConfirmOutcome.RETRY: ShipmentState.RETRY,
        }.get(state, ShipmentState.REJECTED)
        accepted += shipment is ShipmentState.ACCEPTED
        with sessions.begin() as session:
            record_package(
                session,
                package.order_id,
                package.location_id,
                shipment,
                message=message,
                next_at=retry_at,
                now=now,
            )
    return accepted


def record_package(
    session: Session,
    order_id: str,
    location_id: str,
    state: ShipmentState,
    *,
    message: str = "",
    next_at: datetime | None = None,
    now: datetime,
) -> None:
    """Store what the marketplace said about one package; the order follows its packages."""
    part = session.get(RoutingAssignment, (order_id, location_id))
    if part is None:
        return
    part.shipment_state = state.value
    part.shipment_error = message[:2000]
    part.shipment_next_at = next_at
    part.updated_at = now
    if state is ShipmentState.ACCEPTED:
        part.shipment_confirmed_at = now
    else:
        part.shipment_attempts += 1
    if state is ShipmentState.REJECTED:
        _LOGGER.error("package %s of %s refused: %s", part.package_ref, order_id, message)
    order = find_order(session, order_id, lock=True)
    if order is not None:
        refresh_split_order(session, order, now=now)


def _walk_in(session: Session, sales: Sequence[StoreEvent], *, now: datetime) -> None:
    """Walk-in rule: a till sale that digs into reserved units re-routes the newest orders."""
    sold: dict[tuple[str, str], int] = defaultdict(int)
    for sale in sales:
        for line in sale.body.get("lines", []):
            sold[(sale.store_id, str(line["sku"]))] += int(line["qty"])
    if not sold:
        return
    # On ingest's hot path: one query per batch finds the (store, SKU) pairs the batch
    # sold that an open online order holds and that are now below their reservations.
    # Usually there are none. It starts from the open assignments (few, indexed by
    # state) and reaches reservations and stock levels by their primary keys.
    open_states = [s.value for s in OPEN_ASSIGNMENT_STATES]
    short = session.execute(
        select(StockLevel.location_id, StockLevel.sku, StockLevel.on_hand)
        .select_from(RoutingAssignment)
        .join(
            OrderReservation,
            (OrderReservation.order_id == RoutingAssignment.order_id)
            & (OrderReservation.location_id == RoutingAssignment.location_id),
        )
        .join(
            StockLevel,
            (StockLevel.location_id == OrderReservation.location_id)
            & (StockLevel.sku == OrderReservation.sku),
        )
        .where(
            RoutingAssignment.state.in_(open_states),
            RoutingAssignment.location_id.in_(sorted({loc for loc, _ in sold})),
            OrderReservation.status == "open",
            OrderReservation.sku.in_(sorted({sku for _, sku in sold})),
            StockLevel.on_hand - StockLevel.reserved < 0,
        )
        .distinct()
    ).all()
    for location_id, sku, on_hand in sorted(short):
        qty = sold.get((location_id, sku), 0)
        if qty <= 0:
            continue  # another store's pair, matched by the SKU and store lists
        holding = list(
            session.execute(
                select(RoutingAssignment, OrderReservation.qty)
                .join(
                    OrderReservation,
                    (OrderReservation.order_id == RoutingAssignment.order_id)
                    & (OrderReservation.location_id == RoutingAssignment.location_id),
                )
                .where(
                    RoutingAssignment.location_id == location_id,
                    RoutingAssignment.state.in_(open_states),
                    OrderReservation.sku == sku,
                    OrderReservation.status == "open",
                )
                .order_by(RoutingAssignment.routed_at, RoutingAssignment.order_id)
            ).all()
        )
        if not holding:
            continue
        reservations = [
            Reservation(
                order_id=a.order_id,
                location_id=location_id,
                lines=(RouteLine(sku, int(q)),),
                state=_reservation_state(a.state),
            )
            for a, q in holding
        ]
        check = check_walk_in_sale(sku, qty, on_hand=int(on_hand) + qty, reservations=reservations)
        if check.warning:
            _LOGGER.warning("walk-in sale at %s: %s", location_id, check.warning)
        by_order = {a.order_id: a for a, _ in holding}
        for order_id in check.reroute_order_ids:
            assignment = by_order[order_id]
            if release_assignment(
                session,
                assignment,
                Trigger.WALK_IN,
                now=now,
                notify_store=True,
                note=check.warning or "",
            ):
                _back_to_route(session, assignment, "walk-in sale took the units", now=now)


def _reservation_state(state: str) -> ReservationState:
    return {
        AssignmentState.ROUTED.value: ReservationState.RESERVED,
        AssignmentState.ACCEPTED.value: ReservationState.ACCEPTED,
        AssignmentState.PICKED.value: ReservationState.PICKED,
        AssignmentState.PACKED.value: ReservationState.PACKED,
    }.get(state, ReservationState.RELEASED)


# --------------------------------------------------------------------------- warehouses


class HubStep(enum.StrEnum):
    """A fulfilment step the hub's own staff record for a warehouse (API or dashboard)."""

    ACCEPT = "accept"
    PICK = "pick"
    PACK = "pack"
    HAND_OVER = "hand-over"
    REJECT = "reject"


_STEP_EVENT = {
    HubStep.ACCEPT: "order.accepted",
    HubStep.PICK: "order.picked",
    HubStep.PACK: "order.packed",
}


def fulfil_at_hub(
    session: Session,
    order_id: str,
    location_id: str,
    step: HubStep,
    *,
    now: datetime,
    who: str = "",
    reason: str = "other",
    note: str = "",
    carrier: str = "",
    tracking_number: str = "",
) -> RoutingAssignment:
    """One step of a warehouse's part of an order, as a store's event would do it.

    Accept, pick and pack move the part forward; reject releases its reservation and
    routes the part again elsewhere; hand-over consumes the reserved units (the whole
    part: the hub has no scanner to count a short one), records carrier and tracking,
    and hands the shipment to the channel's confirmation like a store's hand-over.
    """
    location = session.get(Location, location_id)
    if location is None:
        raise RoutingActionError(f"no location {location_id!r}")
    if location.store_id is not None:
        raise RoutingActionError(
            f"{location_id} is a store: its staff use the Online orders screen of its till"
        )
    assignment = session.get(RoutingAssignment, (order_id, location_id))
    if assignment is None:
        raise RoutingActionError(f"order {order_id} was never routed to {location_id}")
    if assignment.state not in OPEN_ASSIGNMENT_STATES:
        raise RoutingActionError(
            f"order {order_id} is {assignment.state} at {location_id}"
            + (f" ({assignment.release_reason})" if assignment.release_reason else "")
        )
    by = f" by {who}" if who else ""
    if step in _STEP_EVENT:
        event = StoreEvent(location_id, _STEP_EVENT[step], {"order_id": order_id}, now)
        _on_order_event(session, event, now=now)
    elif step is HubStep.REJECT:
        release_assignment(
            session,
            assignment,
            Trigger.REJECTED,
            now=now,
            notify_store=False,
            note=(note or f"rejected at the hub{by}"),
        )
        assignment.reject_reason = reason[:32]
        _back_to_route(session, assignment, f"rejected ({reason})", now=now)
    else:
        if not carrier or not tracking_number:
            raise RoutingActionError("a hand-over needs the carrier and the tracking number")
        rows = list(
            session.scalars(
                for_update(
                    session,
                    select(OrderReservation)
                    .where(
                        OrderReservation.order_id == order_id,
                        OrderReservation.location_id == location_id,
                        OrderReservation.status == "open",
                    )
                    .order_by(OrderReservation.sku),
                )
            )
        )
        ledger = LedgerWriter(session, now=now)
        ledger.load((location_id, r.sku) for r in rows)
        ctx = MovementContext(at=now, reference=order_id, event_type="order.handed_over")
        for row in rows:
            ledger.hand_over(location_id, row.sku, row.qty, ctx)
            row.status = "handed_over"
            row.updated_at = now
        ledger.flush()
        body = {
            "order_id": order_id,
            "carrier": carrier,
            "tracking_number": tracking_number,
            "lines": [{"sku": r.sku, "qty": r.qty} for r in rows],
        }
        _on_handed_over(
            session, assignment, StoreEvent(location_id, "order.handed_over", body, now), now=now
        )
    _LOGGER.info("order %s at warehouse %s: %s%s", order_id, location_id, step.value, by)
    session.flush()
    return assignment


def hub_queue(session: Session, location_id: str) -> list[RoutingAssignment]:
    """The open parts at a location, oldest first (a warehouse's work list)."""
    return list(
        session.scalars(
            select(RoutingAssignment)
            .where(
                RoutingAssignment.location_id == location_id,
                RoutingAssignment.state.in_([s.value for s in OPEN_ASSIGNMENT_STATES]),
            )
            .order_by(RoutingAssignment.routed_at, RoutingAssignment.order_id)
        )
    )


# --------------------------------------------------------------------------- periodic work


def expire_assignments(session: Session, *, now: datetime) -> tuple[int, int]:
    """Release orders not accepted in time, or whose store went offline before accepting."""
    timed_out = offline = 0
    late = session.scalars(
        select(RoutingAssignment)
        .where(
            RoutingAssignment.state == AssignmentState.ROUTED.value,
            RoutingAssignment.accept_by < now,
        )
        .order_by(RoutingAssignment.accept_by)
    ).all()
    for assignment in late:
        if release_assignment(session, assignment, Trigger.TIMED_OUT, now=now, notify_store=True):
            _back_to_route(session, assignment, "not accepted in time", now=now)
            timed_out += 1
    gone = session.scalars(
        select(RoutingAssignment)
        .join(StoreStatus, StoreStatus.store_id == RoutingAssignment.location_id)
        .where(
            RoutingAssignment.state == AssignmentState.ROUTED.value,
            StoreStatus.online.is_(False),
        )
        .order_by(RoutingAssignment.routed_at)
    ).all()
    for assignment in gone:
        if release_assignment(
            session, assignment, Trigger.STORE_OFFLINE, now=now, notify_store=True
        ):
            _back_to_route(session, assignment, "store went offline", now=now)
            offline += 1
    return timed_out, offline


OVERSELL_ALARM = "oversell"  # raised by the channel import (hub/channels/amazon/runner.py)
_OVERSELL_RESOLVED = frozenset(
    {
        RoutingState.ROUTED.value,
        RoutingState.HANDED_OVER.value,
        RoutingState.CONFIRMED.value,
        RoutingState.CANCELLED.value,
    }
)


def clear_resolved_oversells(session: Session, *, now: datetime) -> int:
    """Close ``oversell`` alarms whose order was since routed (stock was found), shipped or
    cancelled; an unroutable or held order keeps its alarm. Returns how many closed."""
    cleared = 0
    open_alarms = session.scalars(
        select(Alarm).where(Alarm.kind == OVERSELL_ALARM, Alarm.status.in_(alarms.OPEN_STATES))
    ).all()
    for alarm in open_alarms:
        account, _, order_id = alarm.key.partition(":")
        state = session.scalars(
            select(MarketplaceOrder.routing_state)
            .join(ChannelAccount, ChannelAccount.id == MarketplaceOrder.account_id)
            .where(
                ChannelAccount.name == account,
                MarketplaceOrder.marketplace_order_id == order_id,
            )
        ).first()
        if state in _OVERSELL_RESOLVED:
            cleared += alarms.clear_alarm(session, kind=OVERSELL_ALARM, key=alarm.key, now=now)
            _LOGGER.info("oversell alarm of %s cleared: the order is %s", alarm.key, state)
    return cleared


def apply_cancellations(session: Session, *, now: datetime) -> int:
    """Marketplace cancellations: release open assignments, stop the store, close reviews."""
    count = 0
    rows = session.scalars(
        select(RoutingAssignment)
        .join(MarketplaceOrder, MarketplaceOrder.id == RoutingAssignment.marketplace_order_pk)
        .where(
            MarketplaceOrder.routing_state == RoutingState.CANCELLED.value,
            RoutingAssignment.state.in_([s.value for s in OPEN_ASSIGNMENT_STATES]),
        )
    ).all()
    for assignment in rows:
        if release_assignment(session, assignment, Trigger.CANCELLED, now=now, notify_store=True):
            count += 1
    reviews = session.scalars(
        select(RoutingReview)
        .join(MarketplaceOrder, MarketplaceOrder.id == RoutingReview.marketplace_order_pk)
        .where(
            MarketplaceOrder.routing_state == RoutingState.CANCELLED.value,
            RoutingReview.state == ReviewState.PENDING.value,
        )
    ).all()
    for review in reviews:
        review.state = ReviewState.CANCELLED.value
        review.decided_at = now
        review.note = "cancelled by the marketplace"
    return count


class RoutingService:
    """The periodic routing job: timeouts, Last Wills, cancellations, then orders to route."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: RoutingSettings,
        *,
        postal: PostalCodeTable | None = None,
    ) -> None:
        self._sessions = session_factory
        self.settings = settings
        self._postal = postal

    @property
    def postal(self) -> PostalCodeTable:
        """The postal-code table (the shipped one unless another was given)."""
        if self._postal is None:
            self._postal = shipped_postal_codes()
        return self._postal

    def run_once(self, now: datetime | None = None) -> RoundReport:
        """One round; each order is routed in its own transaction."""
        now = now or datetime.now(UTC)
        with self._sessions.begin() as session:
            timed_out, offline = expire_assignments(session, now=now)
            cancelled = apply_cancellations(session, now=now)
            clear_resolved_oversells(session, now=now)
        with self._sessions() as session:
            ids = session.scalars(
                select(MarketplaceOrder.id)
                .where(MarketplaceOrder.routing_state == RoutingState.TO_ROUTE.value)
                .order_by(MarketplaceOrder.routing_state_at, MarketplaceOrder.id)
                .limit(self.settings.batch_orders)
            ).all()
        counts: dict[str, int] = defaultdict(int)
        for pk in ids:
            outcome = self.route_by_pk(pk, now=now)
            if outcome is not None:
                counts[outcome] += 1
        return RoundReport(
            timed_out=timed_out,
            offline=offline,
            cancelled=cancelled,
            routed=counts[Outcome.ROUTED.value] + counts[Outcome.SPLIT.value],
            held=counts[Outcome.MANUAL_REVIEW.value],
            unroutable=counts[Outcome.UNROUTABLE.value],
            split=counts[Outcome.SPLIT.value],
        )

    def route_by_pk(
        self, pk: int, *, now: datetime, skip_review: bool = False, trigger: str | None = None
    ) -> str | None:
        """Route one order (by ``marketplace_orders.id``) if it is still to be routed."""
        with self._sessions.begin() as session:
            order = session.scalars(
                for_update(session, select(MarketplaceOrder).where(MarketplaceOrder.id == pk))
            ).first()
            if order is None or order.routing_state != RoutingState.TO_ROUTE.value:
                return None
            row = route_one(
                session,
                order,
                self.settings,
                now=now,
                postal=self.postal,
                skip_review=skip_review,
                trigger=trigger,
            )
            return row.outcome


# --------------------------------------------------------------------------- manual actions


class RoutingActionError(ValueError):
    """A manual routing action the order's state does not allow."""


def approve_review(
    session: Session,
    order_id: str,
    settings: RoutingSettings,
    *,
    who: str,
    now: datetime,
    postal: PostalCodeTable | None = None,
) -> RoutingDecisionRow:
    """A person approves a held order: route it now, skipping the review."""
    order = find_order(session, order_id, lock=True)
    if order is None:
        raise RoutingActionError(f"no marketplace order {order_id!r}")
    if order.routing_state != RoutingState.MANUAL_REVIEW.value:
        raise RoutingActionError(f"order {order_id} is {order.routing_state}, not held for review")
    review = session.get(RoutingReview, order_id)
    if review is not None:
        review.state = ReviewState.APPROVED.value
        review.decided_at = now
        review.decided_by = who[:100]
    order.routing_state = RoutingState.TO_ROUTE.value
    return route_one(
        session,
        order,
        settings,
        now=now,
        postal=postal,
        skip_review=True,
        trigger=Trigger.APPROVED,
    )


def reroute(
    session: Session,
    order_id: str,
    settings: RoutingSettings,
    *,
    who: str,
    now: datetime,
    postal: PostalCodeTable | None = None,
    release_current: bool = False,
) -> RoutingDecisionRow:
    """Route an unroutable or held order again; with release_current, move a routed one."""
    order = find_order(session, order_id, lock=True)
    if order is None:
        raise RoutingActionError(f"no marketplace order {order_id!r}")
    state = order.routing_state
    if state == RoutingState.ROUTED.value and release_current:
        # Only parts no store accepted yet move; a split order's accepted parts stay.
        parts = [a for a in _assignments(session, order_id) if a.state in OPEN_ASSIGNMENT_STATES]
        movable = [a for a in parts if a.state == AssignmentState.ROUTED.value]
        if not movable:
            busy = next(iter(parts), None)
            raise RoutingActionError(
                f"order {order_id} is already {busy.state} at {busy.location_id}"
                if busy is not None
                else f"order {order_id} has no part waiting for a store"
            )
        for assignment in movable:
            release_assignment(
                session, assignment, Trigger.MANUAL_REROUTE, now=now, notify_store=True
            )
    elif state not in (RoutingState.UNROUTABLE.value, RoutingState.MANUAL_REVIEW.value):
        raise RoutingActionError(
            f"order {order_id} is {state}; only unroutable or held orders are routed again "
            "(or a routed one not yet accepted, with release_current)"
        )
    review = session.get(RoutingReview, order_id)
    if review is not None and review.state == ReviewState.PENDING.value:
        review.state = ReviewState.REROUTED.value
        review.decided_at = now
        review.decided_by = who[:100]
    order.routing_state = RoutingState.TO_ROUTE.value
    return route_one(
        session,
        order,
        settings,
        now=now,
        postal=postal,
        skip_review=state == RoutingState.MANUAL_REVIEW.value,
        trigger=Trigger.MANUAL_REROUTE,
    )


def set_location(
    session: Session,
    location_id: str,
    *,
    lat: float,
    lon: float,
    daily_capacity: int | None,
    now: datetime,
) -> RoutingLocation:
    """Record where a location is and its daily online-order capacity."""
    row = session.get(RoutingLocation, location_id)
    if row is None:
        row = RoutingLocation(location_id=location_id, lat=lat, lon=lon, updated_at=now)
        session.add(row)
    row.lat = lat
    row.lon = lon
    row.daily_capacity = daily_capacity
    row.updated_at = now
    session.flush()
    return row


def attach(worker: Any, hub_settings: Any, engine: Any) -> RoutingService:
    """Wire routing into an ingest worker: its periodic job and its event reactions."""
    from hub.db.engine import make_sessionmaker

    settings = RoutingSettings.from_mapping(getattr(hub_settings, "routing", None))
    service = RoutingService(make_sessionmaker(engine), settings)

    def _job(now: datetime) -> None:
        service.run_once(now)

    def _hook(
        session: Session, events: list[tuple[str, str, dict[str, Any], datetime]], now: datetime
    ) -> None:
        on_events(session, [StoreEvent(*e) for e in events], now=now)

    worker.scheduled_jobs.append(_job)
    worker.event_hooks.append(_hook)
    return service
