"""The sale domain's exception tree: one root, subclasses that carry what went wrong.

``str(error)`` is a sentence a cashier can read on the till; ``code`` is a short
machine code for logs, the UI and tests. Each subclass keeps the values that
caused it as attributes, so the shell can show or log them without parsing text.
"""

from __future__ import annotations

from datetime import datetime

from protocol.money import Money


def format_money(amount: Money) -> str:
    """Format an amount for a cashier, e.g. "12.50 GBP" or "1200 JPY"."""
    return f"{amount.format()} {amount.currency}"


class SaleError(Exception):
    """Root of every sale-domain error; ``code`` is a short machine code, str() a sentence."""

    code: str = "sale_error"


class CurrencyMismatch(SaleError):
    """Two amounts that must share a currency do not."""

    code = "currency_mismatch"

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(f"This amount is in {got} but the sale is in {expected}.")
        self.expected = expected
        self.got = got


class NaiveDateTime(SaleError):
    """A timestamp came without a time zone; the domain only takes aware UTC instants."""

    code = "naive_datetime"

    def __init__(self, field: str, value: datetime) -> None:
        super().__init__(f"{field} must be a time-zone aware instant, got {value.isoformat()}.")
        self.field = field
        self.value = value


class InvalidQuantity(SaleError):
    """A quantity is zero, negative or beyond the per-line limit."""

    code = "invalid_quantity"

    def __init__(self, qty: int, limit: int) -> None:
        super().__init__(f"Quantity must be between 1 and {limit}; {qty} is not allowed.")
        self.qty = qty
        self.limit = limit


class InvalidPrice(SaleError):
    """A unit price is negative."""

    code = "invalid_price"

    def __init__(self, price: Money) -> None:
        super().__init__(f"A price cannot be negative ({format_money(price)}).")
        self.price = price


class UnknownLine(SaleError):
    """The cart has no line with this number."""

    code = "unknown_line"

    def __init__(self, line_no: int) -> None:
        super().__init__(f"There is no line {line_no} on this sale.")
        self.line_no = line_no


class UnknownTaxClass(SaleError):
    """An item's tax class is not configured for this store."""

    code = "unknown_tax_class"

    def __init__(self, tax_class: str, known: tuple[str, ...]) -> None:
        listed = ", ".join(known) or "none"
        super().__init__(
            f"Tax class {tax_class!r} is not set up for this store (known: {listed}); "
            "ask the office to fix the item."
        )
        self.tax_class = tax_class
        self.known = known


class ReasonRequired(SaleError):
    """An action that is audited (void, return without receipt) was given no reason."""

    code = "reason_required"

    def __init__(self, action: str) -> None:
        super().__init__(f"A {action} needs a reason.")
        self.action = action


class InvalidDiscount(SaleError):
    """A discount is zero, above 100 %, negative or has no reason."""

    code = "invalid_discount"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class DiscountTooLarge(SaleError):
    """A discount is larger than what it applies to."""

    code = "discount_too_large"

    def __init__(self, discount: Money, limit: Money, *, line_no: int | None = None) -> None:
        target = f"line {line_no}" if line_no is not None else "the sale"
        super().__init__(
            f"A discount of {format_money(discount)} is more than {target} "
            f"({format_money(limit)}); remove or reduce the discount first."
        )
        self.discount = discount
        self.limit = limit
        self.line_no = line_no


class ApprovalRequired(SaleError):
    """The action needs a manager's approval (PIN) and none was given."""

    code = "approval_required"

    def __init__(self, action: str) -> None:
        super().__init__(f"A manager must approve this: {action}.")
        self.action = action


class EmptyCart(SaleError):
    """The cart has no lines, so it cannot be completed or voided."""

    code = "empty_cart"

    def __init__(self, action: str) -> None:
        super().__init__(f"The sale has no items; nothing to {action}.")
        self.action = action


class InvalidTender(SaleError):
    """A tender amount is not positive, or a tender came after the sale was already paid."""

    code = "invalid_tender"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class TenderReferenceRequired(SaleError):
    """A card payment has no reference from the payment terminal."""

    code = "tender_reference_required"

    def __init__(self, kind: str) -> None:
        super().__init__(
            f"A {kind} payment needs the payment terminal's reference; "
            "take it from the terminal slip."
        )
        self.kind = kind


class NonCashOverDue(SaleError):
    """A card or other non-cash tender exceeds what is still due (change is cash only)."""

    code = "non_cash_over_due"

    def __init__(self, kind: str, amount: Money, remaining: Money) -> None:
        super().__init__(
            f"A {kind} payment of {format_money(amount)} is more than the "
            f"{format_money(remaining)} still due; change can only be given on cash."
        )
        self.kind = kind
        self.amount = amount
        self.remaining = remaining


class InsufficientTender(SaleError):
    """The tenders add up to less than the amount due."""

    code = "insufficient_tender"

    def __init__(self, due: Money, tendered: Money) -> None:
        short = due - tendered
        super().__init__(
            f"{format_money(tendered)} tendered for {format_money(due)} due; "
            f"{format_money(short)} is still to pay."
        )
        self.due = due
        self.tendered = tendered
        self.short = short


class RefundMismatch(SaleError):
    """Refund tenders do not add up to the refund total exactly."""

    code = "refund_mismatch"

    def __init__(self, refund_total: Money, tendered: Money) -> None:
        super().__init__(
            f"The refund is {format_money(refund_total)} but the refund payments add up to "
            f"{format_money(tendered)}; they must match exactly."
        )
        self.refund_total = refund_total
        self.tendered = tendered


class InvalidReturn(SaleError):
    """A return request is malformed (no lines, a line asked twice, a wrong sale)."""

    code = "invalid_return"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ReturnExceedsSold(SaleError):
    """More units are being returned than were sold on the line, less those already returned."""

    code = "return_exceeds_sold"

    def __init__(
        self, *, line_no: int, sku: str, sold: int, already_returned: int, requested: int
    ) -> None:
        left = sold - already_returned
        super().__init__(
            f"Line {line_no} ({sku}): {requested} to return but only {left} can be "
            f"({sold} sold, {already_returned} already returned)."
        )
        self.line_no = line_no
        self.sku = sku
        self.sold = sold
        self.already_returned = already_returned
        self.requested = requested


class ShiftError(SaleError):
    """A shift cannot be opened or closed as asked (negative cash, closing before opening)."""

    code = "shift_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
