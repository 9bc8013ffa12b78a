"""The cashier JSON API under ``/api``: the UI's only way in, and the tests' too.

Every error is JSON ``{"error": <code>, "message": <sentence>}`` with a status
that says who must act: 400 a malformed request, 401 log in, 403 a manager is
needed, 404 unknown, 409 conflicts with the till's state, 422 a business rule
refused it (the sentence is for the cashier), 503 the store database could not
be written (nothing was saved).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, jsonify, request, session

from edge_agent.domain.errors import ApprovalRequired, SaleError
from edge_agent.domain.returns import ReturnRequestLine
from edge_agent.domain.tender import TenderKind
from edge_agent.store.cashiers import Role
from edge_agent.store.documents import DocumentError
from edge_agent.store.errors import (
    AuthError,
    Conflict,
    NotFound,
    StoreError,
    StoreUnavailable,
    UnknownBarcode,
)
from edge_agent.store.returns import BlindItem
from edge_agent.store.shifts import z_report_dict
from edge_agent.ui.context import UiContext
from edge_agent.ui.till import LockedOut, TillError, make_discount, make_tender, parse_disposition
from edge_agent.ui.views import (
    cart_view,
    product_view,
    quote_view,
    return_view,
    sale_view,
    shift_view,
)
from protocol.errors import GtinError

_LOGGER = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

api = Blueprint("api", __name__, url_prefix="/api")


class BadRequest(Exception):
    """The request body is not what the endpoint takes."""


class NotLoggedIn(Exception):
    """No cashier is logged in on this browser (or the session went idle)."""


class Forbidden(Exception):
    """The logged-in cashier's role does not allow this."""


def ctx() -> UiContext:
    """The app's wiring (store, till, sync, devices)."""
    context: UiContext = current_app.extensions["acorn_edge"]
    return context


def _error(code: str, message: str, status: int, **extra: Any) -> tuple[Response, int]:
    return jsonify(error=code, message=message, **extra), status


@api.errorhandler(BadRequest)
def _bad_request(err: BadRequest) -> tuple[Response, int]:
    return _error("bad_request", str(err), 400)


@api.errorhandler(NotLoggedIn)
def _not_logged_in(err: NotLoggedIn) -> tuple[Response, int]:
    return _error("not_logged_in", str(err), 401)


@api.errorhandler(Forbidden)
def _forbidden(err: Forbidden) -> tuple[Response, int]:
    return _error("forbidden", str(err), 403)


@api.errorhandler(GtinError)
def _invalid_barcode(err: GtinError) -> tuple[Response, int]:
    return _error("invalid_barcode", f"Invalid barcode: {err}. Nothing was added.", 422)


@api.errorhandler(UnknownBarcode)
def _unknown_barcode(err: UnknownBarcode) -> tuple[Response, int]:
    return _error(
        "unknown_barcode",
        f"Unknown barcode {err.gtin14}: not in this store's catalog. Nothing was added.",
        404,
        gtin14=err.gtin14,
    )


@api.errorhandler(ApprovalRequired)
def _approval_required(err: ApprovalRequired) -> tuple[Response, int]:
    return _error("approval_required", str(err), 403, action=err.action)


@api.errorhandler(SaleError)
def _sale_error(err: SaleError) -> tuple[Response, int]:
    return _error(err.code, str(err), 422)


@api.errorhandler(LockedOut)
def _locked_out(err: LockedOut) -> tuple[Response, int]:
    return _error(err.code, str(err), 429)


@api.errorhandler(AuthError)
def _auth_error(err: AuthError) -> tuple[Response, int]:
    return _error(err.code, str(err), 403 if session.get("cashier_id") else 401)


@api.errorhandler(StoreUnavailable)
def _unavailable(err: StoreUnavailable) -> tuple[Response, int]:
    return _error(err.code, str(err), 503)


@api.errorhandler(NotFound)
def _not_found(err: NotFound) -> tuple[Response, int]:
    return _error(err.code, str(err), 404)


@api.errorhandler(Conflict)
def _conflict(err: Conflict) -> tuple[Response, int]:
    return _error(err.code, str(err), 409)


@api.errorhandler(TillError)
def _till_error(err: TillError) -> tuple[Response, int]:
    return _error(err.code, str(err), 409)


@api.errorhandler(StoreError)
def _store_error(err: StoreError) -> tuple[Response, int]:
    return _error(err.code, str(err), 422)


@api.errorhandler(DocumentError)
def _document_error(err: DocumentError) -> tuple[Response, int]:
    _LOGGER.error("damaged stored record: %s", err)
    return _error("damaged_record", "A stored record could not be read; call support.", 500)


# -- request helpers ---------------------------------------------------------------------


def body() -> dict[str, Any]:
    """The JSON object of a POST/PATCH (JSON only: a cross-site form cannot send it)."""
    if not request.is_json:
        raise BadRequest("send a JSON body with Content-Type: application/json")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def _int(data: dict[str, Any], key: str, default: int | None = None, *, minimum: int = 0) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{key} must be a whole number")
    if value < minimum:
        raise BadRequest(f"{key} must be at least {minimum}")
    return value


def _str(data: dict[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be text")
    return value


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be text")
    return value


def _approval(data: dict[str, Any]) -> Any:
    raw = data.get("approval")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadRequest('approval must be {"manager_id": ..., "pin": ...}')
    return ctx().till.approval(_opt_str(raw, "manager_id"), _opt_str(raw, "pin"))


def _touch_session() -> None:
    idle_s = ctx().settings.ui.session_idle_timeout_s
    now = time.time()
    seen = session.get("seen", 0.0)
    if session.get("cashier_id") and now - seen > idle_s:
        ctx().till.drop_session(session.get("sid", ""))
        session.clear()
        raise NotLoggedIn("the session went idle; log in again")
    session["seen"] = now


def login_required(role: Role | None = None) -> Callable[[F], F]:
    """Require a logged-in cashier (and a role, when given)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not session.get("cashier_id"):
                raise NotLoggedIn("log in with your cashier id and PIN")
            _touch_session()
            if role is Role.MANAGER and session.get("role") != Role.MANAGER:
                raise Forbidden("only a manager can do this")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def sid() -> str:
    """This login session's id (its cart)."""
    return str(session["sid"])


def cashier_id() -> str:
    """The logged-in cashier."""
    return str(session["cashier_id"])


# -- login -------------------------------------------------------------------------------


@api.post("/login")
def login() -> Response:
    """Log in with a cashier id and PIN."""
    data = body()
    cashier = ctx().till.login(_str(data, "cashier_id").strip(), _str(data, "pin"))
    old = session.get("sid")
    if old:
        ctx().till.drop_session(old)
    session.clear()
    session.update(
        cashier_id=cashier.id,
        name=cashier.name,
        role=str(cashier.role),
        sid=uuid.uuid4().hex,
        seen=time.time(),
    )
    _LOGGER.info("cashier %s logged in", cashier.id)
    return jsonify(cashier={"id": cashier.id, "name": cashier.name, "role": str(cashier.role)})


@api.post("/logout")
def logout() -> Response:
    """Log out (the open cart is dropped; nothing was sold)."""
    if session.get("sid"):
        ctx().till.drop_session(session["sid"])
    session.clear()
    return jsonify(ok=True)


@api.get("/me")
@login_required()
def me() -> Response:
    """Who is logged in."""
    return jsonify(
        cashier={"id": session["cashier_id"], "name": session["name"], "role": session["role"]}
    )


# -- status ------------------------------------------------------------------------------


@api.get("/status")
def status() -> Response:
    """Online/offline, queued events and the open shift (shown on every screen)."""
    context = ctx()
    sync = context.sync_status()
    return jsonify(
        store_id=context.store.store_id,
        store_name=context.settings.store_name,
        currency=context.store.currency,
        business_day=context.store.sales.business_day().isoformat(),
        sync=sync,
        online=sync["online"],
        queued_events=sync["outbox_depth"],
        oldest_unsynced_age_s=sync["oldest_unsynced_age_s"],
        shift=shift_view(context.store.shifts.current()),
        devices=context.device_status(),
        logged_in=bool(session.get("cashier_id")),
    )


@api.post("/sync/retry")
@login_required(Role.MANAGER)
def sync_retry() -> Response:
    """Try to reach the broker again now (after credentials were fixed)."""
    if ctx().sync is not None:
        ctx().sync.retry()  # type: ignore[union-attr]
    return jsonify(ctx().sync_status())


@api.get("/dead-letters")
@login_required(Role.MANAGER)
def dead_letters() -> Response:
    """Inbound messages that could not be applied, newest first."""
    rows = ctx().store.inbound.dead_letters(limit=100)
    return jsonify(
        dead_letters=[
            {
                "id": d.id,
                "received_at": d.received_at.isoformat(),
                "topic": d.topic,
                "reason": d.reason,
                "detail": d.detail,
                "payload_excerpt": d.payload_excerpt,
                "payload_size": d.payload_size,
            }
            for d in rows
        ]
    )


# -- catalog -----------------------------------------------------------------------------


@api.get("/products/lookup")
@login_required()
def lookup() -> Response:
    """Find a product by barcode without touching the cart."""
    code = request.args.get("code", "")
    product = ctx().store.catalog.lookup_barcode(code)
    return jsonify(product=product_view(product, ctx().store.currency))


@api.get("/products")
@login_required()
def search() -> Response:
    """Search products by name or SKU."""
    found = ctx().store.catalog.search(request.args.get("q", ""))
    return jsonify(products=[product_view(p, ctx().store.currency) for p in found])


# -- cart --------------------------------------------------------------------------------


@api.get("/cart")
@login_required()
def get_cart() -> Response:
    """The open cart."""
    return jsonify(cart=cart_view(ctx().till.cart(sid())))


@api.post("/cart/scan")
@login_required()
def scan() -> Response:
    """Add a scanned barcode (from the scan field or a scanner)."""
    data = body()
    cart = ctx().till.scan(sid(), _str(data, "code"), _int(data, "qty", 1, minimum=1))
    return jsonify(cart=cart_view(cart))


@api.post("/cart/items")
@login_required()
def add_item() -> Response:
    """Add a product by SKU (from search)."""
    data = body()
    cart = ctx().till.add_sku(sid(), _str(data, "sku"), _int(data, "qty", 1, minimum=1))
    return jsonify(cart=cart_view(cart))


@api.patch("/cart/lines/<int:line_no>")
@login_required()
def set_qty(line_no: int) -> Response:
    """Set a line's quantity."""
    cart = ctx().till.set_quantity(sid(), line_no, _int(body(), "qty", minimum=1))
    return jsonify(cart=cart_view(cart))


@api.delete("/cart/lines/<int:line_no>")
@login_required()
def remove_line(line_no: int) -> Response:
    """Remove a line."""
    return jsonify(cart=cart_view(ctx().till.remove_line(sid(), line_no)))


@api.post("/cart/lines/<int:line_no>/discount")
@login_required()
def discount_line(line_no: int) -> Response:
    """Discount a line (percent in basis points or an amount in minor units)."""
    data = body()
    discount = make_discount(
        _str(data, "kind"),
        _int(data, "value", minimum=1),
        _str(data, "reason", ""),
        ctx().store.currency,
    )
    cart = ctx().till.discount_line(sid(), line_no, discount, _approval(data))
    return jsonify(cart=cart_view(cart))


@api.delete("/cart/lines/<int:line_no>/discount")
@login_required()
def clear_line_discount(line_no: int) -> Response:
    """Remove a line's discount."""
    return jsonify(cart=cart_view(ctx().till.clear_discounts(sid(), line_no)))


@api.post("/cart/discount")
@login_required()
def discount_cart() -> Response:
    """Discount the whole cart."""
    data = body()
    discount = make_discount(
        _str(data, "kind"),
        _int(data, "value", minimum=1),
        _str(data, "reason", ""),
        ctx().store.currency,
    )
    cart = ctx().till.discount_cart(sid(), discount, _approval(data))
    return jsonify(cart=cart_view(cart))


@api.delete("/cart/discount")
@login_required()
def clear_cart_discount() -> Response:
    """Remove the cart discount."""
    return jsonify(cart=cart_view(ctx().till.clear_discounts(sid(), None)))


@api.post("/cart/lines/<int:line_no>/price")
@login_required()
def override_price(line_no: int) -> Response:
    """Charge another unit price on a line (manager approval required)."""
    data = body()
    cart = ctx().till.override_price(
        sid(), line_no, _int(data, "unit_price_minor"), _approval(data), _str(data, "reason", "")
    )
    return jsonify(cart=cart_view(cart))


@api.post("/cart/void")
@login_required()
def void_cart() -> Response:
    """Void the open cart before payment."""
    data = body()
    record = ctx().till.void(sid(), cashier_id(), _str(data, "reason", ""), _approval(data))
    return jsonify(
        voided={"sale_id": str(record.sale_id), "total_minor": record.total.amount_minor},
        cart=cart_view(ctx().till.cart(sid())),
    )


@api.post("/cart/complete")
@login_required()
def complete() -> tuple[Response, int]:
    """Take payment and complete the sale; the response has the change due."""
    data = body()
    raw_tenders = data.get("tenders")
    if not isinstance(raw_tenders, list):
        raise BadRequest('tenders must be a list of {"kind", "amount_minor", "reference"}')
    currency = ctx().store.currency
    tenders = []
    for raw in raw_tenders:
        if not isinstance(raw, dict):
            raise BadRequest("each tender must be an object")
        tenders.append(
            make_tender(
                _str(raw, "kind"),
                _int(raw, "amount_minor", minimum=1),
                _opt_str(raw, "reference"),
                currency,
            )
        )
    result = ctx().till.complete(sid(), cashier_id(), tenders, cart_id=_opt_str(data, "cart_id"))
    job = None if result.duplicate else ctx().print_sale(result.completed)
    return jsonify(
        sale=sale_view(result.completed, duplicate=result.duplicate),
        cart=cart_view(ctx().till.cart(sid())),
        print_job=job,
    ), (200 if result.duplicate else 201)


# -- sales, receipts ---------------------------------------------------------------------


@api.get("/sales")
@login_required()
def recent_sales() -> Response:
    """The latest sales of this till."""
    limit = min(100, max(1, request.args.get("limit", 20, type=int) or 20))
    records = ctx().store.sales.recent(limit=limit)
    return jsonify(
        sales=[
            {
                "sale_id": r.sale_id,
                "receipt_no": r.receipt_no,
                "total_minor": r.total_minor,
                "currency": r.currency,
                "completed_at": r.completed_at.isoformat(),
                "cashier_id": r.cashier_id,
            }
            for r in records
        ]
    )


def _sale_by_receipt(receipt_no: str) -> Any:
    record = ctx().store.sales.by_receipt(receipt_no)
    if record is None:
        raise NotFound(f"no sale with receipt number {receipt_no!r} at this till")
    completed = ctx().store.sales.completed(record.sale_id)
    assert completed is not None
    return completed


@api.get("/sales/<receipt_no>")
@login_required()
def get_sale(receipt_no: str) -> Response:
    """One sale by receipt number (for reprints and returns)."""
    return jsonify(sale=sale_view(_sale_by_receipt(receipt_no)))


@api.post("/sales/<receipt_no>/reprint")
@login_required()
def reprint(receipt_no: str) -> tuple[Response, int]:
    """Print a sale's receipt again (marked as a copy when the printer layer supports it)."""
    sale = _sale_by_receipt(receipt_no)
    job = ctx().print_sale(sale, copy=True)
    return jsonify(sale=sale_view(sale), print_job=job), (202 if job else 200)


# -- returns -----------------------------------------------------------------------------


def _return_lines(data: dict[str, Any]) -> list[ReturnRequestLine]:
    raw_lines = data.get("lines", [])
    if not isinstance(raw_lines, list):
        raise BadRequest('lines must be a list of {"line_no", "qty", "disposition"}')
    lines = []
    for raw in raw_lines:
        if not isinstance(raw, dict):
            raise BadRequest("each line must be an object")
        lines.append(
            ReturnRequestLine(
                line_no=_int(raw, "line_no", minimum=1),
                qty=_int(raw, "qty", minimum=1),
                disposition=parse_disposition(raw.get("disposition")),
            )
        )
    return lines


@api.post("/returns/quote")
@login_required()
def quote_return() -> Response:
    """What a return against a receipt would refund."""
    data = body()
    quote = ctx().till.quote_return(_str(data, "receipt_no"), _return_lines(data))
    return jsonify(quote=quote_view(quote))


@api.post("/returns")
@login_required()
def make_return() -> tuple[Response, int]:
    """Refund goods against a receipt, or without one (blind: a manager approves)."""
    data = body()
    receipt_no = _opt_str(data, "receipt_no")
    blind_items = []
    raw_items = data.get("items", [])
    if not isinstance(raw_items, list):
        raise BadRequest('items must be a list of {"sku" or "code", "qty", "disposition"}')
    for raw in raw_items:
        if not isinstance(raw, dict):
            raise BadRequest("each item must be an object")
        sku = _opt_str(raw, "sku")
        if sku is None:
            sku = ctx().store.catalog.lookup_barcode(_str(raw, "code")).sku
        blind_items.append(
            BlindItem(sku, _int(raw, "qty", minimum=1), parse_disposition(raw.get("disposition")))
        )
    try:
        return_id = uuid.UUID(_str(data, "return_id", str(uuid.uuid4())))
        refund_kind = TenderKind(_str(data, "refund_kind", "cash"))
    except ValueError as err:
        raise BadRequest(
            f"return_id must be a UUID and refund_kind cash/card/other ({err})"
        ) from None
    completed, duplicate = ctx().till.return_items(
        return_id=return_id,
        cashier_id=cashier_id(),
        receipt_no=receipt_no,
        lines=_return_lines(data),
        blind_items=blind_items,
        refund_kind=refund_kind,
        refund_reference=_opt_str(data, "refund_reference"),
        approval=_approval(data),
        reason=_str(data, "reason", ""),
    )
    return jsonify(**{"return": return_view(completed, duplicate=duplicate)}), (
        200 if duplicate else 201
    )


# -- shifts and reports ------------------------------------------------------------------


@api.get("/shift")
@login_required()
def current_shift() -> Response:
    """The open shift of this till."""
    return jsonify(shift=shift_view(ctx().store.shifts.current()))


@api.post("/shift/open")
@login_required()
def open_shift() -> tuple[Response, int]:
    """Open the till's shift with the counted float."""
    data = body()
    shift = ctx().till.open_shift(cashier_id(), _int(data, "opening_float_minor", 0))
    return jsonify(shift=shift_view(shift)), 201


@api.post("/shift/close")
@login_required()
def close_shift() -> Response:
    """Close the shift with the counted cash; returns its Z report."""
    data = body()
    closure = ctx().till.close_shift(_int(data, "counted_cash_minor"))
    job = ctx().print_z_report(closure)
    return jsonify(
        shift_id=closure.shift.shift_id,
        closed_at=closure.closed_at.isoformat(),
        report=z_report_dict(closure.report),
        print_job=job,
    )


@api.get("/shifts/<shift_id>")
@login_required()
def get_shift(shift_id: str) -> Response:
    """A shift and, once closed, its Z report."""
    view = ctx().store.shifts.get(shift_id)
    return jsonify(shift=shift_view(view.shift), closed=view.closed, report=view.report)


@api.get("/reports/z")
@login_required(Role.MANAGER)
def z_report() -> Response:
    """The Z report of a business day (today by default)."""
    raw = request.args.get("day")
    try:
        day = date.fromisoformat(raw) if raw else ctx().store.sales.business_day()
    except ValueError:
        raise BadRequest("day must be YYYY-MM-DD") from None
    return jsonify(report=z_report_dict(ctx().store.shifts.z_report_for_day(day)))
