"""Returns: against the original receipt (partial, pro-rata refunds) or blind with a manager.

**Against a receipt.** The customer brings back some units of some lines of a
:class:`~edge_agent.domain.sale.CompletedSale`. Each line can only give back
what was sold less what earlier returns took. The refund of a line is its share
of what the customer actually paid for it (after line and cart discounts, tax
included), and so is its tax. Shares are computed cumulatively: returning k
units after j were returned refunds ``share(j + k) - share(j)``, with
``share(n) = round_half_up(line_total * n / qty_sold)``. So however a line is
returned in parts, the refunds add up to the line's total exactly, and the tax
refunded to its tax exactly.

**Blind** (no receipt): needs a :class:`ManagerApproval` and a reason. The
refund is priced at the price the shell supplies (normally today's shelf price)
and taxed under the store's current policy like a sale without discounts.

Each line says whether the goods go back on the shelf (``RESTOCK``) or are
written off (``WRITE_OFF``: damaged, opened); the store layer applies the stock
effect. Refund tenders must add up to the refund exactly (no change).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from edge_agent.domain.approval import ManagerApproval
from edge_agent.domain.business_day import ensure_utc
from edge_agent.domain.errors import (
    ApprovalRequired,
    CurrencyMismatch,
    InvalidPrice,
    InvalidReturn,
    ReasonRequired,
    ReturnExceedsSold,
)
from edge_agent.domain.rounding import pro_rata_part, sum_money
from edge_agent.domain.sale import CompletedSale, check_quantity
from edge_agent.domain.tax import (
    StoreTaxPolicy,
    TaxableLine,
    TaxRate,
    TaxSummaryRow,
    compute_tax,
    sum_tax_summaries,
)
from edge_agent.domain.tender import AppliedTender, Tender, settle_refund
from protocol.money import Money


class Disposition(StrEnum):
    """What happens to returned goods."""

    RESTOCK = "restock"  # back on the shelf: on-hand goes up
    WRITE_OFF = "write_off"  # damaged or opened: on-hand unchanged, the loss is recorded


@dataclass(frozen=True, slots=True)
class ReturnRequestLine:
    """Units of one line of the original sale that the customer brings back."""

    line_no: int
    qty: int
    disposition: Disposition = Disposition.RESTOCK


@dataclass(frozen=True, slots=True)
class BlindReturnLine:
    """An item returned without a receipt, at the unit price the shell looked up."""

    sku: str
    name: str
    qty: int
    unit_price: Money  # in the store's pricing mode: tax included if prices include tax
    tax_class: str
    gtin: str | None = None
    disposition: Disposition = Disposition.RESTOCK


@dataclass(frozen=True, slots=True)
class ReturnedLine:
    """One refunded line: ``refund`` (tax included) == ``net`` + ``tax``."""

    sku: str
    gtin: str | None
    name: str
    qty: int
    tax_class: str
    tax_rate: TaxRate
    refund: Money
    tax: Money
    net: Money
    disposition: Disposition
    original_line_no: int | None

    @property
    def restock(self) -> bool:
        """True when the goods go back into stock (the wire's ``restock``)."""
        return self.disposition is Disposition.RESTOCK


@dataclass(frozen=True, slots=True)
class CompletedReturn:
    """A completed return: everything the receipt, the stock update and return.completed need."""

    return_id: UUID
    receipt_no: str
    original_receipt_no: str | None
    original_sale_id: UUID | None
    cashier_id: str
    manager_id: str | None
    shift_id: str | None
    business_day: date
    completed_at: datetime
    currency: str
    reason: str
    lines: tuple[ReturnedLine, ...]
    refund_total: Money
    net: Money
    tax: Money
    tax_summary: tuple[TaxSummaryRow, ...]
    tenders: tuple[AppliedTender, ...]

    @property
    def is_blind(self) -> bool:
        """True for a return without a receipt."""
        return self.original_sale_id is None

    @property
    def items_count(self) -> int:
        """Units returned across all lines."""
        return sum(line.qty for line in self.lines)

    def restocked(self) -> tuple[tuple[str, int], ...]:
        """(sku, qty) pairs that go back on the shelf."""
        return tuple((line.sku, line.qty) for line in self.lines if line.restock)


def returned_so_far(sale: CompletedSale, returns: Iterable[CompletedReturn]) -> dict[int, int]:
    """Return units already returned per line number of ``sale`` (other sales' returns ignored)."""
    done: dict[int, int] = {}
    for ret in returns:
        if ret.original_sale_id != sale.sale_id:
            continue
        for line in ret.lines:
            if line.original_line_no is not None:
                done[line.original_line_no] = done.get(line.original_line_no, 0) + line.qty
    return done


@dataclass(frozen=True, slots=True)
class ReturnQuote:
    """What a return would refund, line by line, before the refund is paid (for the screen)."""

    currency: str
    lines: tuple[ReturnedLine, ...]
    refund_total: Money
    net: Money
    tax: Money
    tax_summary: tuple[TaxSummaryRow, ...]


def _quote(currency: str, lines: Sequence[ReturnedLine]) -> ReturnQuote:
    return ReturnQuote(
        currency=currency,
        lines=tuple(lines),
        refund_total=sum_money((line.refund for line in lines), currency),
        net=sum_money((line.net for line in lines), currency),
        tax=sum_money((line.tax for line in lines), currency),
        tax_summary=sum_tax_summaries(
            currency,
            (
                TaxSummaryRow(line.tax_rate, (line.tax_class,), line.net, line.tax, line.refund)
                for line in lines
            ),
        ),
    )


def quote_return(
    original: CompletedSale,
    request: Sequence[ReturnRequestLine],
    *,
    prior_returns: Iterable[CompletedReturn],
) -> ReturnQuote:
    """Work out the refund for units of an original sale's lines (pro-rata, see the module doc).

    ``prior_returns`` are the earlier returns against the same sale; returns of
    other sales among them are ignored.
    """
    if not request:
        raise InvalidReturn("Choose at least one line to return.")
    seen: set[int] = set()
    for req in request:
        if req.line_no in seen:
            raise InvalidReturn(f"Line {req.line_no} is listed twice; give its quantity once.")
        seen.add(req.line_no)
    done = returned_so_far(original, prior_returns)
    lines: list[ReturnedLine] = []
    for req in request:
        check_quantity(req.qty)
        sold = original.line(req.line_no)
        before = done.get(req.line_no, 0)
        if before + req.qty > sold.qty:
            raise ReturnExceedsSold(
                line_no=sold.line_no,
                sku=sold.sku,
                sold=sold.qty,
                already_returned=before,
                requested=req.qty,
            )
        after = before + req.qty
        refund = pro_rata_part(sold.total, after, sold.qty) - pro_rata_part(
            sold.total, before, sold.qty
        )
        tax = pro_rata_part(sold.tax, after, sold.qty) - pro_rata_part(sold.tax, before, sold.qty)
        lines.append(
            ReturnedLine(
                sku=sold.sku,
                gtin=sold.gtin,
                name=sold.name,
                qty=req.qty,
                tax_class=sold.tax_class,
                tax_rate=sold.tax_rate,
                refund=refund,
                tax=tax,
                net=refund - tax,
                disposition=req.disposition,
                original_line_no=sold.line_no,
            )
        )
    return _quote(original.currency, lines)


def quote_blind_return(policy: StoreTaxPolicy, items: Sequence[BlindReturnLine]) -> ReturnQuote:
    """Work out the refund for items without a receipt, taxed under the store's policy."""
    if not items:
        raise InvalidReturn("Scan at least one item to return.")
    currency = policy.currency
    taxable = []
    for key, item in enumerate(items):
        check_quantity(item.qty)
        if item.unit_price.currency != currency:
            raise CurrencyMismatch(currency, item.unit_price.currency)
        if item.unit_price.amount_minor < 0:
            raise InvalidPrice(item.unit_price)
        taxable.append(TaxableLine(key, item.tax_class, item.unit_price * item.qty))
    breakdown = compute_tax(policy, taxable)
    lines = [
        ReturnedLine(
            sku=item.sku,
            gtin=item.gtin,
            name=item.name,
            qty=item.qty,
            tax_class=item.tax_class,
            tax_rate=lt.rate,
            refund=lt.gross,
            tax=lt.tax,
            net=lt.net,
            disposition=item.disposition,
            original_line_no=None,
        )
        for item, lt in zip(items, breakdown.lines, strict=True)
    ]
    return _quote(currency, lines)


def _complete(
    quote: ReturnQuote,
    *,
    refund_tenders: Sequence[Tender],
    return_id: UUID,
    receipt_no: str,
    original: CompletedSale | None,
    cashier_id: str,
    manager_id: str | None,
    shift_id: str | None,
    business_day: date,
    now_utc: datetime,
    reason: str,
) -> CompletedReturn:
    completed_at = ensure_utc("now_utc", now_utc)
    tenders = settle_refund(quote.refund_total, refund_tenders)
    return CompletedReturn(
        return_id=return_id,
        receipt_no=receipt_no,
        original_receipt_no=original.receipt_no if original else None,
        original_sale_id=original.sale_id if original else None,
        cashier_id=cashier_id,
        manager_id=manager_id,
        shift_id=shift_id,
        business_day=business_day,
        completed_at=completed_at,
        currency=quote.currency,
        reason=reason.strip(),
        lines=quote.lines,
        refund_total=quote.refund_total,
        net=quote.net,
        tax=quote.tax,
        tax_summary=quote.tax_summary,
        tenders=tenders,
    )


def return_against_sale(
    original: CompletedSale,
    request: Sequence[ReturnRequestLine],
    *,
    prior_returns: Iterable[CompletedReturn],
    refund_tenders: Sequence[Tender],
    return_id: UUID,
    receipt_no: str,
    cashier_id: str,
    now_utc: datetime,
    business_day: date,
    shift_id: str | None = None,
    approval: ManagerApproval | None = None,
    reason: str = "",
) -> CompletedReturn:
    """Complete a return against the original sale; refund tenders must match the quote exactly.

    A manager's approval, when the shell's store policy asked for one, is recorded.
    """
    return _complete(
        quote_return(original, request, prior_returns=prior_returns),
        refund_tenders=refund_tenders,
        return_id=return_id,
        receipt_no=receipt_no,
        original=original,
        cashier_id=cashier_id,
        manager_id=approval.manager_id if isinstance(approval, ManagerApproval) else None,
        shift_id=shift_id,
        business_day=business_day,
        now_utc=now_utc,
        reason=reason,
    )


def blind_return(
    policy: StoreTaxPolicy,
    items: Sequence[BlindReturnLine],
    *,
    approval: ManagerApproval,
    reason: str,
    refund_tenders: Sequence[Tender],
    return_id: UUID,
    receipt_no: str,
    cashier_id: str,
    now_utc: datetime,
    business_day: date,
    shift_id: str | None = None,
) -> CompletedReturn:
    """Complete a return without a receipt; needs a manager's approval and a reason."""
    if not isinstance(approval, ManagerApproval):
        raise ApprovalRequired("return without a receipt")
    if not reason.strip():
        raise ReasonRequired("return without a receipt")
    return _complete(
        quote_blind_return(policy, items),
        refund_tenders=refund_tenders,
        return_id=return_id,
        receipt_no=receipt_no,
        original=None,
        cashier_id=cashier_id,
        manager_id=approval.manager_id,
        shift_id=shift_id,
        business_day=business_day,
        now_utc=now_utc,
        reason=reason,
    )
