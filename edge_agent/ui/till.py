"""The till: open carts per login session, manager approvals and login lockouts.

Routes stay thin: they parse the request, call one method here, and render the
result. This is the shell around the sale domain: it keeps the current
(immutable) cart of each session, asks the store for products and writes what
the domain returns through the store's repositories.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from edge_agent.domain.approval import ManagerApproval
from edge_agent.domain.discount import AmountDiscount, Discount, PercentDiscount
from edge_agent.domain.errors import ApprovalRequired, SaleError
from edge_agent.domain.returns import (
    CompletedReturn,
    Disposition,
    ReturnQuote,
    ReturnRequestLine,
)
from edge_agent.domain.rounding import BP_PER_WHOLE
from edge_agent.domain.sale import Cart, VoidRecord
from edge_agent.domain.shift import Shift, ShiftClosure
from edge_agent.domain.tender import Tender, TenderKind
from edge_agent.store.cashiers import CashierView, Role
from edge_agent.store.errors import AuthError, StoreError
from edge_agent.store.facade import EdgeStore
from edge_agent.store.returns import BlindItem
from edge_agent.store.sales import SaleResult
from protocol.money import Money

_LOGGER = logging.getLogger(__name__)

DEFAULT_DISCOUNT_WITHOUT_APPROVAL_BP = 1000  # a cashier may give up to 10 % on their own


class TillError(StoreError):
    """A till request that cannot be done as asked (no shift open, bad input)."""

    code = "till_error"


class LockedOut(AuthError):
    """Too many wrong PINs for this cashier id; try again later."""

    code = "locked_out"


@dataclass(slots=True)
class _Failures:
    count: int = 0
    locked_until: float = 0.0


@dataclass(slots=True)
class LoginGuard:
    """Counts wrong PINs per cashier id and locks the id for a while after too many."""

    max_failures: int = 5
    lockout_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, _Failures] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, cashier_id: str) -> None:
        """Raise LockedOut while the id is locked."""
        with self._lock:
            entry = self._failures.get(cashier_id)
            if entry is not None and entry.locked_until > self.clock():
                left = int(entry.locked_until - self.clock()) + 1
                raise LockedOut(f"too many wrong PINs; try again in {left} s or ask a manager")

    def failed(self, cashier_id: str) -> None:
        """Count a wrong PIN."""
        with self._lock:
            entry = self._failures.setdefault(cashier_id, _Failures())
            entry.count += 1
            if entry.count >= self.max_failures:
                entry.locked_until = self.clock() + self.lockout_s
                entry.count = 0
                _LOGGER.warning("cashier id %s locked after repeated wrong PINs", cashier_id)

    def succeeded(self, cashier_id: str) -> None:
        """Forget the failures of an id after a good PIN."""
        with self._lock:
            self._failures.pop(cashier_id, None)


def make_discount(kind: str, value: int, reason: str, currency: str) -> Discount:
    """Build a discount from API fields (percent in basis points, or an amount in minor units)."""
    if kind == "percent":
        return PercentDiscount(value, reason)
    if kind == "amount":
        return AmountDiscount(Money(value, currency), reason)
    raise TillError(f"discount kind must be 'percent' or 'amount', not {kind!r}")


def make_tender(kind: str, amount_minor: int, reference: str | None, currency: str) -> Tender:
    """Build a tender from API fields."""
    try:
        tender_kind = TenderKind(kind)
    except ValueError:
        raise TillError(f"tender kind must be cash, card or other, not {kind!r}") from None
    return Tender(tender_kind, Money(amount_minor, currency), reference)


class Till:
    """One till's shell: carts per session and every cashier action."""

    def __init__(
        self,
        store: EdgeStore,
        *,
        guard: LoginGuard | None = None,
        discount_without_approval_bp: int = DEFAULT_DISCOUNT_WITHOUT_APPROVAL_BP,
    ) -> None:
        self.store = store
        self.guard = guard or LoginGuard()
        self._discount_limit_bp = discount_without_approval_bp
        self._carts: dict[str, Cart] = {}
        self._lock = threading.RLock()

    # -- people ---------------------------------------------------------------------------

    def login(self, cashier_id: str, pin: str) -> CashierView:
        """Check a PIN (with lockout after repeated failures)."""
        self.guard.check(cashier_id)
        try:
            cashier = self.store.cashiers.verify(cashier_id, pin)
        except AuthError:
            self.guard.failed(cashier_id)
            raise
        self.guard.succeeded(cashier_id)
        return cashier

    def approval(self, manager_id: str | None, pin: str | None) -> ManagerApproval | None:
        """Turn a manager id and PIN from a request into an approval (None if none given)."""
        if not manager_id and not pin:
            return None
        if not manager_id or not pin:
            raise AuthError("a manager approval needs the manager's id and PIN")
        self.guard.check(manager_id)
        try:
            manager = self.store.cashiers.verify(manager_id, pin, role=Role.MANAGER)
        except AuthError:
            self.guard.failed(manager_id)
            raise
        self.guard.succeeded(manager_id)
        return ManagerApproval(manager.id)

    # -- carts ----------------------------------------------------------------------------

    def cart(self, session_id: str) -> Cart:
        """Return the session's open cart, starting one if needed."""
        with self._lock:
            cart = self._carts.get(session_id)
            if cart is None:
                cart = Cart.start(uuid.uuid4(), self.store.policy)
                self._carts[session_id] = cart
            return cart

    def _update(self, session_id: str, change: Callable[[Cart], Cart]) -> Cart:
        with self._lock:
            cart = change(self.cart(session_id))
            self._carts[session_id] = cart
            return cart

    def drop_session(self, session_id: str) -> None:
        """Forget a session's cart (logout)."""
        with self._lock:
            self._carts.pop(session_id, None)

    def scan(self, session_id: str, code: str, qty: int = 1) -> Cart:
        """Add the product of a scanned code; an invalid or unknown code changes nothing."""
        product = self.store.catalog.lookup_barcode(code)
        item = product.as_item(self.store.currency)
        return self._update(session_id, lambda cart: cart.add(item, qty))

    def add_sku(self, session_id: str, sku: str, qty: int = 1) -> Cart:
        """Add a product found by search."""
        item = self.store.catalog.get(sku).as_item(self.store.currency)
        return self._update(session_id, lambda cart: cart.add(item, qty))

    def set_quantity(self, session_id: str, line_no: int, qty: int) -> Cart:
        """Change a line's quantity."""
        return self._update(session_id, lambda cart: cart.set_quantity(line_no, qty))

    def remove_line(self, session_id: str, line_no: int) -> Cart:
        """Take a line off the cart."""
        return self._update(session_id, lambda cart: cart.remove(line_no))

    def _check_discount(self, cart: Cart, before: Cart, approval: ManagerApproval | None) -> None:
        if approval is not None:
            return
        priced, base = cart.priced(), before.priced()
        extra = priced.discounts.amount_minor - base.discounts.amount_minor
        if extra <= 0 or base.subtotal.amount_minor == 0:
            return
        if extra * BP_PER_WHOLE > self._discount_limit_bp * base.subtotal.amount_minor:
            limit = self._discount_limit_bp / 100
            raise ApprovalRequired(f"a discount above {limit:g} % of the sale")

    def discount_line(
        self, session_id: str, line_no: int, discount: Discount, approval: ManagerApproval | None
    ) -> Cart:
        """Discount one line; above the cashier's limit a manager must approve."""

        def change(cart: Cart) -> Cart:
            updated = cart.discount_line(line_no, discount)
            self._check_discount(updated, cart.clear_line_discount(line_no), approval)
            return updated

        return self._update(session_id, change)

    def discount_cart(
        self, session_id: str, discount: Discount, approval: ManagerApproval | None
    ) -> Cart:
        """Discount the whole cart; above the cashier's limit a manager must approve."""

        def change(cart: Cart) -> Cart:
            updated = cart.discount_cart(discount)
            self._check_discount(updated, cart.clear_cart_discount(), approval)
            return updated

        return self._update(session_id, change)

    def clear_discounts(self, session_id: str, line_no: int | None) -> Cart:
        """Remove a line's discount, or the cart discount when no line is given."""
        if line_no is None:
            return self._update(session_id, lambda cart: cart.clear_cart_discount())
        return self._update(session_id, lambda cart: cart.clear_line_discount(line_no))

    def override_price(
        self,
        session_id: str,
        line_no: int,
        unit_price_minor: int,
        approval: ManagerApproval | None,
        reason: str,
    ) -> Cart:
        """Charge another unit price on a line (the domain insists on a manager)."""
        price = Money(unit_price_minor, self.store.currency)
        return self._update(
            session_id,
            lambda cart: cart.override_price(line_no, price, approval, reason),  # type: ignore[arg-type]
        )

    def void(
        self, session_id: str, cashier_id: str, reason: str, approval: ManagerApproval | None
    ) -> VoidRecord:
        """Void the open cart (audit + event) and start a new one."""
        with self._lock:
            cart = self.cart(session_id)
            shift = self.store.shifts.current()
            record = self.store.sales.void(
                cart,
                cashier_id=cashier_id,
                reason=reason,
                shift_id=shift.shift_id if shift else None,
                manager_id=approval.manager_id if approval else None,
            )
            self._carts.pop(session_id, None)
        return record

    def complete(
        self,
        session_id: str,
        cashier_id: str,
        tenders: Sequence[Tender],
        *,
        cart_id: str | None = None,
    ) -> SaleResult:
        """Take payment for the open cart; a repeated request for the same cart returns its sale.

        ``cart_id`` guards against a double tap: when the session's cart has
        already moved on, the sale of the given cart is returned instead of
        charging the new one.
        """
        with self._lock:
            if cart_id is not None:
                done = self.store.sales.completed(cart_id)
                if done is not None:
                    record = self.store.sales.get(cart_id)
                    assert record is not None
                    return SaleResult(record, done, duplicate=True)
            cart = self.cart(session_id)
            if cart_id is not None and cart_id != str(cart.cart_id):
                raise TillError("this sale is no longer open on the till; refresh the screen")
            shift = self.require_shift()
            result = self.store.sales.complete(
                cart, cashier_id=cashier_id, tenders=tenders, shift_id=shift.shift_id
            )
            self._carts.pop(session_id, None)
        return result

    # -- shifts and returns -----------------------------------------------------------------

    def require_shift(self) -> Shift:
        """Return the open shift or ask the cashier to open one."""
        shift = self.store.shifts.current()
        if shift is None:
            raise TillError("no shift is open; open a shift (count the float) before selling")
        return shift

    def open_shift(self, cashier_id: str, opening_float_minor: int) -> Shift:
        """Open the till's shift."""
        return self.store.shifts.open(cashier_id, opening_float_minor)

    def close_shift(self, counted_cash_minor: int) -> ShiftClosure:
        """Close the open shift with the counted drawer."""
        shift = self.require_shift()
        return self.store.shifts.close(shift.shift_id, counted_cash_minor)

    def quote_return(self, receipt_no: str, lines: Sequence[ReturnRequestLine]) -> ReturnQuote:
        """Preview a return against a receipt."""
        return self.store.returns.quote(receipt_no, lines)

    def return_items(
        self,
        *,
        return_id: uuid.UUID,
        cashier_id: str,
        receipt_no: str | None,
        lines: Sequence[ReturnRequestLine],
        blind_items: Sequence[BlindItem],
        refund_kind: TenderKind,
        refund_reference: str | None,
        approval: ManagerApproval | None,
        reason: str,
    ) -> tuple[CompletedReturn, bool]:
        """Record a return against a receipt, or a blind one (manager approval required)."""
        shift = self.require_shift()
        if receipt_no:
            result = self.store.returns.against_receipt(
                receipt_no,
                lines,
                return_id=return_id,
                cashier_id=cashier_id,
                refund_kind=refund_kind,
                refund_reference=refund_reference,
                shift_id=shift.shift_id,
                approval=approval,
                reason=reason,
            )
        else:
            if approval is None:
                raise ApprovalRequired("return without a receipt")
            result = self.store.returns.blind(
                blind_items,
                return_id=return_id,
                approval=approval,
                reason=reason,
                cashier_id=cashier_id,
                refund_kind=refund_kind,
                refund_reference=refund_reference,
                shift_id=shift.shift_id,
            )
        return result.completed, result.duplicate


def parse_disposition(value: object) -> Disposition:
    """Read a return line's disposition ("restock" by default, or "write_off")."""
    if value is None:
        return Disposition.RESTOCK
    try:
        return Disposition(str(value))
    except ValueError:
        raise TillError("disposition must be 'restock' or 'write_off'") from None


__all__ = [
    "LockedOut",
    "LoginGuard",
    "SaleError",
    "Till",
    "TillError",
    "make_discount",
    "make_tender",
    "parse_disposition",
]
