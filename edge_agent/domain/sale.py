"""The cart and the completed sale: lines, quantities, discounts, price overrides and totals.

A :class:`Cart` is an immutable value: every operation (``add``, ``set_quantity``,
``discount_line``, ...) checks its input and returns a new cart, so the shell
keeps one reference to the current cart and replaces it; an operation that is
refused raises a :class:`~edge_agent.domain.errors.SaleError` and leaves the
old cart as it was. Every cart a method returns can be priced: a change that
would make a discount larger than what it applies to is refused.

Pricing (``Cart.priced``) works in this order, all in integer minor units:

1. line amount = quantity x unit price (the manager's override if any);
2. line discount (percent rounds half-up; never more than the line);
3. cart discount on the sum of the lines after their discounts, spread over
   the lines in proportion to those amounts with ``Money.allocate``, so the
   shares add up to the cart discount exactly and no line goes negative;
4. tax per :mod:`edge_agent.domain.tax` on what is left of each line.

Completing a cart checks the tenders (:mod:`edge_agent.domain.tender`) and
returns a :class:`CompletedSale` that holds everything the ``sale.completed``
event and the receipt need. Selling below zero stock is allowed: the item is in
the customer's hand. ``below_zero`` tells the shell which SKUs went negative so
it can emit ``stock.below_zero`` events for the hub's alarms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from edge_agent.domain.approval import ManagerApproval
from edge_agent.domain.business_day import ensure_utc
from edge_agent.domain.discount import (
    AppliedDiscount,
    Discount,
    DiscountScope,
    discount_amount,
)
from edge_agent.domain.errors import (
    ApprovalRequired,
    CurrencyMismatch,
    EmptyCart,
    InvalidPrice,
    InvalidQuantity,
    ReasonRequired,
    UnknownLine,
)
from edge_agent.domain.rounding import sum_money
from edge_agent.domain.tax import StoreTaxPolicy, TaxableLine, TaxRate, TaxSummaryRow, compute_tax
from edge_agent.domain.tender import AppliedTender, Tender, settle
from protocol.money import Money

# A quantity above this is almost always a barcode typed into the quantity field.
MAX_LINE_QTY = 9999


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """What the catalog knows about a product at the time it is scanned."""

    sku: str
    name: str
    unit_price: Money
    tax_class: str
    gtin: str | None = None


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """A unit price set by hand on a line, and the manager who approved it."""

    unit_price: Money
    manager_id: str
    reason: str = ""


def check_quantity(qty: int) -> int:
    """Return ``qty`` if it is a whole number from 1 to MAX_LINE_QTY, else raise InvalidQuantity."""
    if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= MAX_LINE_QTY:
        raise InvalidQuantity(qty, MAX_LINE_QTY)
    return qty


@dataclass(frozen=True, slots=True)
class CartLine:
    """One line of a cart: a product, a quantity, and optionally a discount and a price override."""

    line_no: int
    sku: str
    name: str
    qty: int
    unit_price: Money  # the catalog price when the item was scanned
    tax_class: str
    gtin: str | None = None
    discount: Discount | None = None
    price_override: PriceOverride | None = None

    def __post_init__(self) -> None:
        check_quantity(self.qty)

    @property
    def effective_unit_price(self) -> Money:
        """The unit price charged: the override if a manager set one, else the catalog price."""
        return self.price_override.unit_price if self.price_override else self.unit_price

    @property
    def amount(self) -> Money:
        """Quantity times the unit price charged, before discounts."""
        return self.effective_unit_price * self.qty


@dataclass(frozen=True, slots=True)
class PricedLine:
    """A line with its discounts and tax worked out; maps one to one onto the wire's SaleLine."""

    line_no: int
    sku: str
    gtin: str | None
    name: str
    qty: int
    unit_price: Money  # charged (after any override)
    catalog_unit_price: Money
    price_override: PriceOverride | None
    tax_class: str
    tax_rate: TaxRate
    amount: Money  # qty x unit_price, before discounts
    line_discount: AppliedDiscount | None
    cart_discount_share: Money
    discount: Money  # line discount + share of the cart discount
    net: Money
    tax: Money
    total: Money  # what the customer pays for the line, tax included

    @property
    def line_discount_amount(self) -> Money:
        """The line's own discount (zero when it has none)."""
        return self.line_discount.amount if self.line_discount else Money.zero(self.amount.currency)


def _all_discounts(
    lines: Iterable[PricedLine], cart_discount: AppliedDiscount | None
) -> tuple[AppliedDiscount, ...]:
    found = [line.line_discount for line in lines if line.line_discount]
    if cart_discount:
        found.append(cart_discount)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class PricedCart:
    """A cart's lines and totals: total == subtotal - discounts (+ tax when prices exclude it)."""

    currency: str
    prices_include_tax: bool
    lines: tuple[PricedLine, ...]
    cart_discount: AppliedDiscount | None
    subtotal: Money  # sum of line amounts, before discounts
    discounts: Money  # line discounts + cart discount
    net: Money  # after discounts, without tax
    tax: Money
    total: Money  # what the customer pays
    tax_summary: tuple[TaxSummaryRow, ...]

    @property
    def discounts_applied(self) -> tuple[AppliedDiscount, ...]:
        """Every discount of the sale: line discounts in line order, then the cart discount."""
        return _all_discounts(self.lines, self.cart_discount)


@dataclass(frozen=True, slots=True)
class StockShortfall:
    """A SKU whose on-hand goes below zero by this sale (the shell emits stock.below_zero)."""

    sku: str
    on_hand_before: int
    qty_sold: int
    on_hand_after: int


def stock_below_zero(
    sold: Iterable[tuple[str, int]], on_hand: Mapping[str, int]
) -> tuple[StockShortfall, ...]:
    """Return the SKUs whose on-hand is below zero after selling ``sold`` (sku, qty) pairs.

    Quantities of the same SKU on several lines are added up. A SKU missing from
    ``on_hand`` counts as zero on hand. A SKU already below zero that is sold
    again is reported again with its new, lower figure.
    """
    totals: dict[str, int] = {}
    for sku, qty in sold:
        totals[sku] = totals.get(sku, 0) + qty
    found = []
    for sku, qty in totals.items():
        before = on_hand.get(sku, 0)
        if before - qty < 0:
            found.append(StockShortfall(sku, before, qty, before - qty))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class VoidRecord:
    """A cart voided before completion: for the audit trail and the Z report; no stock effect."""

    sale_id: UUID
    cashier_id: str
    reason: str
    currency: str
    total: Money
    lines_count: int
    items_count: int
    voided_at: datetime
    business_day: date
    shift_id: str | None
    manager_id: str | None


@dataclass(frozen=True, slots=True)
class CompletedSale:
    """A paid sale: everything the receipt, the stock update and the sale.completed event need."""

    sale_id: UUID
    receipt_no: str
    cashier_id: str
    shift_id: str | None
    business_day: date
    completed_at: datetime
    currency: str
    prices_include_tax: bool
    lines: tuple[PricedLine, ...]
    cart_discount: AppliedDiscount | None
    subtotal: Money
    discounts: Money
    net: Money
    tax: Money
    total: Money
    tax_summary: tuple[TaxSummaryRow, ...]
    tenders: tuple[AppliedTender, ...]
    tendered: Money
    change: Money

    @property
    def items_count(self) -> int:
        """Units sold across all lines."""
        return sum(line.qty for line in self.lines)

    @property
    def discounts_applied(self) -> tuple[AppliedDiscount, ...]:
        """Every discount of the sale: line discounts in line order, then the cart discount."""
        return _all_discounts(self.lines, self.cart_discount)

    def line(self, line_no: int) -> PricedLine:
        """Return the line with this number, or raise UnknownLine."""
        for line in self.lines:
            if line.line_no == line_no:
                return line
        raise UnknownLine(line_no)

    def below_zero(self, on_hand: Mapping[str, int]) -> tuple[StockShortfall, ...]:
        """Return the SKUs this sale takes below zero, given on-hand before the sale."""
        return stock_below_zero(((line.sku, line.qty) for line in self.lines), on_hand)


def _require_approval(approval: ManagerApproval | None, action: str) -> ManagerApproval:
    # The type says ManagerApproval, but the shell may hold an Optional; refuse loudly.
    if not isinstance(approval, ManagerApproval):
        raise ApprovalRequired(action)
    return approval


@dataclass(frozen=True, slots=True)
class Cart:
    """A sale being rung up; immutable, every operation returns a new cart (see the module doc)."""

    cart_id: UUID
    policy: StoreTaxPolicy
    lines: tuple[CartLine, ...] = ()
    cart_discount: Discount | None = None
    next_line_no: int = 1

    @classmethod
    def start(cls, cart_id: UUID, policy: StoreTaxPolicy) -> Cart:
        """Return an empty cart; ``cart_id`` becomes the sale id on completion or void."""
        return cls(cart_id, policy)

    @property
    def currency(self) -> str:
        """The store's currency: every amount on the cart is in it."""
        return self.policy.currency

    @property
    def items_count(self) -> int:
        """Units on the cart across all lines."""
        return sum(line.qty for line in self.lines)

    def line(self, line_no: int) -> CartLine:
        """Return the line with this number, or raise UnknownLine."""
        for line in self.lines:
            if line.line_no == line_no:
                return line
        raise UnknownLine(line_no)

    def _same_currency(self, amount: Money) -> None:
        if amount.currency != self.currency:
            raise CurrencyMismatch(self.currency, amount.currency)

    def _checked(self) -> Cart:
        self.priced()  # refuse a change that leaves a discount larger than its base
        return self

    def _replace_line(self, updated: CartLine) -> Cart:
        lines = tuple(updated if ln.line_no == updated.line_no else ln for ln in self.lines)
        return dataclasses.replace(self, lines=lines)._checked()

    def add(self, item: CatalogItem, qty: int = 1) -> Cart:
        """Add ``qty`` of an item; a plain line of the same item and price is incremented instead.

        A line with a discount or a price override is never merged into, so a
        second unit scanned after a markdown is charged the catalog price.
        """
        check_quantity(qty)
        self._same_currency(item.unit_price)
        if item.unit_price.amount_minor < 0:
            raise InvalidPrice(item.unit_price)
        self.policy.rate_for(item.tax_class)  # an unknown tax class is refused at the scan
        for line in self.lines:
            if (
                line.sku == item.sku
                and line.unit_price == item.unit_price
                and line.tax_class == item.tax_class
                and line.discount is None
                and line.price_override is None
            ):
                return self.set_quantity(line.line_no, line.qty + qty)
        line = CartLine(
            line_no=self.next_line_no,
            sku=item.sku,
            name=item.name,
            qty=qty,
            unit_price=item.unit_price,
            tax_class=item.tax_class,
            gtin=item.gtin,
        )
        return dataclasses.replace(
            self, lines=(*self.lines, line), next_line_no=self.next_line_no + 1
        )._checked()

    def increment(self, line_no: int, by: int = 1) -> Cart:
        """Add ``by`` units to a line."""
        check_quantity(by)
        return self.set_quantity(line_no, self.line(line_no).qty + by)

    def set_quantity(self, line_no: int, qty: int) -> Cart:
        """Set a line's quantity (1..MAX_LINE_QTY); use ``remove`` to take a line off."""
        check_quantity(qty)
        return self._replace_line(dataclasses.replace(self.line(line_no), qty=qty))

    def remove(self, line_no: int) -> Cart:
        """Take a line off the cart."""
        self.line(line_no)
        lines = tuple(ln for ln in self.lines if ln.line_no != line_no)
        return dataclasses.replace(self, lines=lines)._checked()

    def discount_line(self, line_no: int, discount: Discount) -> Cart:
        """Set a line's discount (replacing any); refused if larger than the line."""
        return self._replace_line(dataclasses.replace(self.line(line_no), discount=discount))

    def clear_line_discount(self, line_no: int) -> Cart:
        """Remove a line's discount."""
        return self._replace_line(dataclasses.replace(self.line(line_no), discount=None))

    def discount_cart(self, discount: Discount) -> Cart:
        """Set the cart discount (replacing any); refused if larger than the lines after theirs."""
        return dataclasses.replace(self, cart_discount=discount)._checked()

    def clear_cart_discount(self) -> Cart:
        """Remove the cart discount."""
        return dataclasses.replace(self, cart_discount=None)._checked()

    def override_price(
        self,
        line_no: int,
        unit_price: Money,
        approval: ManagerApproval,
        reason: str = "",
    ) -> Cart:
        """Charge ``unit_price`` per unit on a line; needs a manager's approval."""
        approved = _require_approval(approval, "price override")
        self._same_currency(unit_price)
        if unit_price.amount_minor < 0:
            raise InvalidPrice(unit_price)
        override = PriceOverride(unit_price, approved.manager_id, reason.strip())
        line = dataclasses.replace(self.line(line_no), price_override=override)
        return self._replace_line(line)

    def clear_price_override(self, line_no: int) -> Cart:
        """Go back to the catalog price on a line (no approval needed to charge more)."""
        return self._replace_line(dataclasses.replace(self.line(line_no), price_override=None))

    def priced(self) -> PricedCart:
        """Work out discounts, tax and totals (see the module doc for the order)."""
        currency = self.currency
        zero = Money.zero(currency)
        line_discounts: list[AppliedDiscount | None] = []
        after_line: list[Money] = []
        for line in self.lines:
            amount = line.amount
            if line.discount is None:
                line_discounts.append(None)
                after_line.append(amount)
                continue
            off = discount_amount(line.discount, amount, line_no=line.line_no)
            line_discounts.append(
                AppliedDiscount(DiscountScope.LINE, line.line_no, line.discount, off)
            )
            after_line.append(amount - off)

        base = sum_money(after_line, currency)
        cart_applied: AppliedDiscount | None = None
        shares = [zero] * len(self.lines)
        if self.cart_discount is not None:
            off = discount_amount(self.cart_discount, base)
            cart_applied = AppliedDiscount(DiscountScope.CART, None, self.cart_discount, off)
            if not off.is_zero():  # off <= base, so base > 0 here
                shares = off.allocate([a.amount_minor for a in after_line])

        breakdown = compute_tax(
            self.policy,
            [
                TaxableLine(line.line_no, line.tax_class, left - share)
                for line, left, share in zip(self.lines, after_line, shares, strict=True)
            ],
        )
        priced_lines = []
        for line, applied, share in zip(self.lines, line_discounts, shares, strict=True):
            lt = breakdown.by_key[line.line_no]
            priced_lines.append(
                PricedLine(
                    line_no=line.line_no,
                    sku=line.sku,
                    gtin=line.gtin,
                    name=line.name,
                    qty=line.qty,
                    unit_price=line.effective_unit_price,
                    catalog_unit_price=line.unit_price,
                    price_override=line.price_override,
                    tax_class=line.tax_class,
                    tax_rate=lt.rate,
                    amount=line.amount,
                    line_discount=applied,
                    cart_discount_share=share,
                    discount=(applied.amount if applied else zero) + share,
                    net=lt.net,
                    tax=lt.tax,
                    total=lt.gross,
                )
            )
        subtotal = sum_money((line.amount for line in self.lines), currency)
        return PricedCart(
            currency=currency,
            prices_include_tax=self.policy.prices_include_tax,
            lines=tuple(priced_lines),
            cart_discount=cart_applied,
            subtotal=subtotal,
            discounts=subtotal - base + (cart_applied.amount if cart_applied else zero),
            net=breakdown.net,
            tax=breakdown.tax,
            total=breakdown.gross,
            tax_summary=breakdown.summary,
        )

    def below_zero(self, on_hand: Mapping[str, int]) -> tuple[StockShortfall, ...]:
        """Return the SKUs this cart would take below zero, given on-hand before the sale."""
        return stock_below_zero(((line.sku, line.qty) for line in self.lines), on_hand)

    def void(
        self,
        *,
        reason: str,
        cashier_id: str,
        now_utc: datetime,
        business_day: date,
        shift_id: str | None = None,
        approval: ManagerApproval | None = None,
    ) -> VoidRecord:
        """Void the cart before completion; returns the record for the audit trail and Z report.

        Whether a void needs a manager is store policy, checked by the shell; an
        approval given is recorded.
        """
        if not self.lines:
            raise EmptyCart("void")
        if not reason.strip():
            raise ReasonRequired("void")
        priced = self.priced()
        return VoidRecord(
            sale_id=self.cart_id,
            cashier_id=cashier_id,
            reason=reason.strip(),
            currency=self.currency,
            total=priced.total,
            lines_count=len(self.lines),
            items_count=self.items_count,
            voided_at=ensure_utc("now_utc", now_utc),
            business_day=business_day,
            shift_id=shift_id,
            manager_id=approval.manager_id if approval else None,
        )

    def complete(
        self,
        *,
        receipt_no: str,
        cashier_id: str,
        tenders: Sequence[Tender],
        now_utc: datetime,
        business_day: date,
        shift_id: str | None = None,
    ) -> CompletedSale:
        """Take payment and return the completed sale; the receipt number comes from the shell."""
        if not self.lines:
            raise EmptyCart("complete")
        completed_at = ensure_utc("now_utc", now_utc)
        priced = self.priced()
        settlement = settle(priced.total, tenders)
        return CompletedSale(
            sale_id=self.cart_id,
            receipt_no=receipt_no,
            cashier_id=cashier_id,
            shift_id=shift_id,
            business_day=business_day,
            completed_at=completed_at,
            currency=priced.currency,
            prices_include_tax=priced.prices_include_tax,
            lines=priced.lines,
            cart_discount=priced.cart_discount,
            subtotal=priced.subtotal,
            discounts=priced.discounts,
            net=priced.net,
            tax=priced.tax,
            total=priced.total,
            tax_summary=priced.tax_summary,
            tenders=settlement.tenders,
            tendered=settlement.tendered,
            change=settlement.change,
        )
