"""The Online orders screen: accept or reject, pick list, scan to pick, pack, hand over.

Pages ``/orders`` and ``/orders/<id>``; JSON under ``/api/orders``. Every step
calls ``edge_agent.store.orders.OrderRepository``, which writes the change and its
outbox event in one transaction, so the screen works offline and the steps sync
later, in order. Times are shown in the store's zone.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, redirect, render_template, request, session, url_for
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response as WerkzeugResponse

from edge_agent.domain.receipt import PickLine, PickListDoc
from edge_agent.store.errors import NotFound, StoreError, StoreUnavailable
from edge_agent.store.orders import (
    ACTIVE,
    REJECT_REASONS,
    OrderStepError,
    OrderView,
    WrongItem,
    walk_in_warning,
)
from edge_agent.ui.api import NotLoggedIn, ctx, login_required

_LOGGER = logging.getLogger(__name__)

online_orders = Blueprint("online_orders", __name__, template_folder="templates")

REJECT_LABELS = {
    "out_of_stock": "Out of stock",
    "damaged": "Damaged",
    "no_capacity": "No capacity",
    "other": "Other",
}


def _error(code: str, message: str, status: int) -> tuple[Response, int]:
    return jsonify(error=code, message=message), status


@online_orders.errorhandler(NotLoggedIn)
def _not_logged_in(err: NotLoggedIn) -> tuple[Response, int]:
    return _error("not_logged_in", str(err), 401)


@online_orders.errorhandler(BadRequest)
def _bad_request(err: BadRequest) -> tuple[Response, int]:
    return _error("bad_request", str(err.description), 400)


@online_orders.errorhandler(WrongItem)
def _wrong_item(err: WrongItem) -> tuple[Response, int]:
    return _error(err.code or "wrong_item", str(err), 422)


@online_orders.errorhandler(OrderStepError)
def _step_error(err: OrderStepError) -> tuple[Response, int]:
    return _error(err.code or "wrong_status", str(err), 409)


@online_orders.errorhandler(NotFound)
def _not_found(err: NotFound) -> tuple[Response, int]:
    return _error("not_found", str(err), 404)


@online_orders.errorhandler(StoreUnavailable)
def _unavailable(err: StoreUnavailable) -> tuple[Response, int]:
    return _error("store_unavailable", str(err), 503)


@online_orders.errorhandler(StoreError)
def _store_error(err: StoreError) -> tuple[Response, int]:
    return _error(err.code or "store_error", str(err), 400)


def _zone() -> ZoneInfo:
    zone: ZoneInfo = ctx().store.tz
    return zone


def _local(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.astimezone(_zone()).strftime("%a %d %b %H:%M")


def _public(view: OrderView) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "order_id": view.order_id,
        "marketplace_order_id": view.marketplace_order_id,
        "status": view.status.value,
        "active": view.status in ACTIVE,
        "channel": view.channel,
        "ship_by_utc": None if view.ship_by_utc is None else view.ship_by_utc.isoformat(),
        "ship_by_local": _local(view.ship_by_utc),
        "overdue": view.ship_by_utc is not None and view.ship_by_utc < now,
        "timezone": str(_zone()),
        "received_local": _local(view.received_at),
        "lines": [
            {
                "sku": ln.sku,
                "name": ln.name,
                "qty": ln.qty,
                "picked": ln.picked,
                "location": ln.location,
            }
            for ln in view.lines
        ],
        "fully_picked": view.fully_picked,
        "ship_to": view.ship_to,
        "note": view.note,
        "reject_reason": view.reject_reason,
        "carrier": view.carrier,
        "tracking_number": view.tracking_number,
        "printed": view.printed,
    }


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadRequest("send a JSON object")
    return data


# -- pages -------------------------------------------------------------------------------


@online_orders.get("/orders")
def orders_page() -> str | WerkzeugResponse:
    """The list of online orders (new ones announce themselves with a sound)."""
    if not session.get("cashier_id"):
        return redirect(url_for("pages.login"))
    return render_template(
        "online_orders.html",
        cashier_name=session.get("name", ""),
        timezone=str(_zone()),
    )


@online_orders.get("/orders/<order_id>")
def order_page(order_id: str) -> str | WerkzeugResponse:
    """One order: accept or reject, print, scan to pick, pack, hand over."""
    if not session.get("cashier_id"):
        return redirect(url_for("pages.login"))
    return render_template(
        "online_orders_detail.html",
        order_id=order_id,
        cashier_name=session.get("name", ""),
        reasons=[(r, REJECT_LABELS[r]) for r in REJECT_REASONS],
        timezone=str(_zone()),
    )


# -- JSON --------------------------------------------------------------------------------


@online_orders.get("/api/orders")
@login_required()
def list_orders() -> Response:
    """Routed orders, open ones first; ``active=1`` for the open ones only."""
    active = request.args.get("active") in ("1", "true")
    views = ctx().store.orders.list_orders(active_only=active)
    return jsonify(
        orders=[_public(v) for v in views],
        open=sum(1 for v in views if v.status in ACTIVE),
        timezone=str(_zone()),
    )


@online_orders.get("/api/orders/<order_id>")
@login_required()
def get_order(order_id: str) -> Response:
    """One order with its lines and how many units are picked."""
    return jsonify(_public(ctx().store.orders.get(order_id)))


@online_orders.post("/api/orders/<order_id>/accept")
@login_required()
def accept(order_id: str) -> Response:
    """Accept the order (order.accepted)."""
    return jsonify(_public(ctx().store.orders.accept(order_id)))


@online_orders.post("/api/orders/<order_id>/reject")
@login_required()
def reject(order_id: str) -> Response:
    """Reject with a reason; for out of stock, optional shelf counts per SKU."""
    data = _body()
    reason = data.get("reason")
    if not isinstance(reason, str):
        raise BadRequest(f"give a reason: one of {', '.join(REJECT_REASONS)}")
    counts = data.get("shelf_counts")
    if counts is not None and (
        not isinstance(counts, dict)
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in counts.values())
    ):
        raise BadRequest("shelf_counts: an object of SKU -> units on the shelf")
    note = data.get("note")
    view = ctx().store.orders.reject(
        order_id,
        reason,
        note=note if isinstance(note, str) else None,
        shelf_counts=counts,
    )
    return jsonify(_public(view))


@online_orders.post("/api/orders/<order_id>/print")
@login_required()
def print_pick_list(order_id: str) -> tuple[Response, int] | Response:
    """Print the pick list on the store's printer."""
    context = ctx()
    view = context.store.orders.get(order_id)
    if view.status not in ACTIVE:
        raise OrderStepError(
            f"order {order_id} is {view.status.value.replace('_', ' ')}: nothing to pick",
            code="wrong_status",
        )
    if context.devices is None:
        return _error("no_printer", "no printer is configured on this till", 409)
    doc = PickListDoc(
        order_id=view.order_id,
        store=context.receipt.header(),
        channel=view.channel,
        printed_at_utc=datetime.now(UTC),
        lines=tuple(
            PickLine(sku=ln.sku, name=ln.name, location=ln.location or "", quantity=ln.qty)
            for ln in view.lines
        ),
        ship_by_utc=view.ship_by_utc,
        notes=tuple(n for n in (view.note,) if n),
    )
    info = context.devices.print_pick_list(doc)
    context.store.orders.mark_printed(order_id)
    return jsonify(job=info.as_dict(), order=_public(context.store.orders.get(order_id)))


@online_orders.post("/api/orders/<order_id>/scan")
@login_required()
def scan(order_id: str) -> Response:
    """Confirm one picked unit by its barcode; a wrong item is refused (422)."""
    code = _body().get("code")
    if not isinstance(code, str) or not code.strip():
        raise BadRequest("scan or type the item's barcode")
    result = ctx().store.orders.scan(order_id, code)
    return jsonify(
        sku=result.sku,
        name=result.name,
        picked=result.picked,
        qty=result.qty,
        order_complete=result.order_complete,
        order=_public(ctx().store.orders.get(order_id)),
    )


@online_orders.post("/api/orders/<order_id>/pack")
@login_required()
def pack(order_id: str) -> Response:
    """The order is boxed (order.packed)."""
    parcels = _body().get("parcels", 1)
    if not isinstance(parcels, int) or isinstance(parcels, bool):
        raise BadRequest("parcels: a whole number")
    return jsonify(_public(ctx().store.orders.pack(order_id, parcels=parcels)))


@online_orders.post("/api/orders/<order_id>/hand-over")
@login_required()
def hand_over(order_id: str) -> Response:
    """The carrier took the parcel (order.handed_over with carrier and tracking)."""
    data = _body()
    carrier = data.get("carrier")
    tracking = data.get("tracking_number")
    if not isinstance(carrier, str) or not isinstance(tracking, str):
        raise BadRequest("enter the carrier and the tracking number")
    view = ctx().store.orders.hand_over(order_id, carrier=carrier, tracking_number=tracking)
    return jsonify(_public(view))


@online_orders.get("/api/orders/walk-in-check")
@login_required()
def walk_in_check() -> Response:
    """The till's walk-in warnings: for ``sku``/``qty`` when given, else for the open cart.

    The sale always goes through; the warning tells the cashier that units reserved
    for online orders are being sold, and that those orders will go to another store.
    """
    from edge_agent.ui.api import sid

    store = ctx().store
    wanted: dict[str, int] = {}
    if request.args.get("sku"):
        try:
            wanted[request.args["sku"]] = int(request.args.get("qty", "1"))
        except ValueError as err:
            raise BadRequest("qty: a whole number") from err
    else:
        for line in ctx().till.cart(sid()).lines:
            wanted[line.sku] = wanted.get(line.sku, 0) + line.qty
    warnings: list[str] = []
    for sku, qty in sorted(wanted.items()):
        level = store.stock.level(sku)
        warning = walk_in_warning(
            sku,
            qty,
            on_hand=level.on_hand,
            reserved=level.reserved,
            order_ids=store.orders.reserved_for(sku),
        )
        if warning is not None:
            warnings.append(warning.message)
    return jsonify(warnings=warnings)
