"""Reports 2021-06-30 emulation and the V2 settlement flat file (made by the scenario API).

Settlement reports cannot be requested (createReport refuses them), are listed by
getReports whatever ``marketplaceIds`` says, and come as tab-separated text in
the 24-column layout. US files use ``2026-03-06 08:52:26 UTC`` and ``12.34``;
files of the euro marketplaces use ``06.03.2026 08:52:26 UTC``, a decimal comma
and Windows-1252, the traps a parser must survive.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from hub.channels.amazon.marketplaces import MARKETPLACES_BY_ID
from hub.channels.amazon.sandbox.listings_api import document_url
from hub.channels.amazon.sandbox.state import (
    Document,
    Order,
    Report,
    SandboxState,
    Seller,
    invalid_input,
    iso,
    multi_values,
    not_found,
    parse_iso,
    single,
)
from protocol.money import minor_unit_exponent

SETTLEMENT_REPORT: Final = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
SETTLEMENT_COLUMNS: Final = (
    "settlement-id",
    "settlement-start-date",
    "settlement-end-date",
    "deposit-date",
    "total-amount",
    "currency",
    "transaction-type",
    "order-id",
    "merchant-order-id",
    "adjustment-id",
    "shipment-id",
    "marketplace-name",
    "amount-type",
    "amount-description",
    "amount",
    "fulfillment-id",
    "posted-date",
    "posted-date-time",
    "order-item-code",
    "merchant-order-item-id",
    "merchant-adjustment-item-id",
    "sku",
    "quantity-purchased",
    "promotion-id",
)
PROCESSING_STATUSES: Final = frozenset({"CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE"})
COMMISSION_RATE: Final = Decimal("0.15")
FBA_FEE_PER_UNIT: Final = Decimal("3.22")
SUBSCRIPTION_FEE: Final = Decimal("39.99")
SHIPPING_LABEL_FEE: Final = Decimal("3.20")
REFUND_COMMISSION_RATE: Final = Decimal("0.20")
REFUND_COMMISSION_CAP: Final = Decimal("5.00")
RESERVE_RATE: Final = Decimal("0.05")
_EU_STYLE: Final = frozenset({"DE", "FR", "IT", "ES", "NL", "BE", "PL", "SE"})


def _fmt_amount(value: Decimal, currency: str, comma: bool) -> str:
    places = minor_unit_exponent(currency)
    text = f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"
    return text.replace(".", ",") if comma else text


def _fmt_time(at: datetime, eu: bool) -> str:
    return at.strftime("%d.%m.%Y %H:%M:%S UTC" if eu else "%Y-%m-%d %H:%M:%S UTC")


def _fmt_day(at: datetime, eu: bool) -> str:
    return at.strftime("%d.%m.%Y" if eu else "%Y-%m-%d")


def _settled(order: Order, start: datetime, end: datetime) -> datetime | None:
    """When an order's sale is settled: its first package (MFN) or its shipping (AFN)."""
    at = _settled_at(order)
    return at if at is not None and start <= at < end else None


def _settled_at(order: Order) -> datetime | None:
    if order.fulfillment_channel == "MFN" and order.packages:
        return min(p.confirmed_at for p in order.packages)
    if order.fulfillment_channel == "AFN" and order.status == "Shipped":
        return order.last_update_date
    return None


@dataclass(frozen=True, slots=True)
class SettlementOptions:
    """What a closed settlement period holds besides its orders (the scenario API's body)."""

    refund: tuple[str, ...] = ()
    """Order ids refunded in full in this settlement (each must have been settled)."""
    refund_every: int = 0
    """Also refund every n-th order settled in this period (0: none)."""
    adjust: tuple[tuple[str, str, str], ...] = ()
    """Reimbursements: (order id or "", amount, description)."""
    adjust_every: int = 0
    """Also reimburse every n-th order settled in this period (WAREHOUSE_DAMAGE, 1 unit)."""
    short_pay: tuple[tuple[str, Decimal], ...] = ()
    """(order id, amount): that order's Principal is paid short by the amount."""
    reserve_rate: Decimal = RESERVE_RATE
    """Share of the period's order principal held back as Current Reserve Amount Balance."""
    total_offset: Decimal = Decimal(0)
    """Added to total-amount only: a document whose rows do not add up (a broken report)."""

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> SettlementOptions:
        """Read the options from a scenario request body; a bad value is InvalidInput."""
        try:
            short = spec.get("short_pay") or {}
            if isinstance(short, dict):
                short = [{"order_id": k, "amount": v} for k, v in short.items()]
            return cls(
                refund=tuple(str(o) for o in spec.get("refund") or ()),
                refund_every=int(spec.get("refund_every") or 0),
                adjust=tuple(
                    (
                        str(a.get("order_id") or ""),
                        str(a.get("amount") or "0"),
                        str(a.get("description") or "REVERSAL_REIMBURSEMENT"),
                    )
                    for a in spec.get("adjust") or ()
                ),
                adjust_every=int(spec.get("adjust_every") or 0),
                short_pay=tuple((str(s["order_id"]), Decimal(str(s["amount"]))) for s in short),
                reserve_rate=Decimal(str(spec.get("reserve_rate", RESERVE_RATE))),
                total_offset=Decimal(str(spec.get("total_offset") or "0")),
            )
        except (ArithmeticError, AttributeError, KeyError, TypeError, ValueError) as err:
            raise invalid_input(f"bad settlement options: {err}") from err


@dataclass
class _Sheet:
    """The rows of a settlement being built, and their running total."""

    settlement_id: str
    marketplace_id: str
    currency: str
    eu: bool
    rows: list[list[str]] = field(default_factory=list)
    total: Decimal = Decimal(0)

    def add(
        self,
        order: Order | None,
        at: datetime,
        tx: str,
        amount_type: str,
        desc: str,
        amount: Decimal,
        *,
        sku: str = "",
        item_code: str = "",
        qty: str = "",
        adjustment_id: str = "",
        promotion_id: str = "",
    ) -> None:
        """Append one amount row (rounded to the currency like Amazon's own rows)."""
        places = Decimal(1).scaleb(-minor_unit_exponent(self.currency))
        amount = amount.quantize(places, rounding=ROUND_HALF_UP)
        self.total += amount
        mp = MARKETPLACES_BY_ID[self.marketplace_id]
        self.rows.append(
            [
                self.settlement_id,
                "",
                "",
                "",
                "",
                "",
                tx,
                order.order_id if order else "",
                order.seller_order_id if order else "",
                adjustment_id,
                f"D{self.settlement_id[-6:]}" if order and tx == "Order" else "",
                mp.sales_channel if order or adjustment_id else "",
                amount_type,
                desc,
                _fmt_amount(amount, self.currency, self.eu),
                ("AFN" if order.fulfillment_channel == "AFN" else "MFN") if order else "",
                _fmt_day(at, self.eu),
                _fmt_time(at, self.eu),
                item_code,
                "",
                "",
                sku,
                qty,
                promotion_id,
            ]
        )


def _order_rows(
    sheet: _Sheet, order: Order, at: datetime, short: Decimal, settlement_id: str
) -> Decimal:
    """The rows of one settled order; returns its principal (for the reserve)."""
    principal_total = Decimal(0)
    for pos, item in enumerate(order.items):
        line = Decimal(item.unit_price) * item.quantity_ordered
        principal_total += line
        common: dict[str, Any] = {
            "sku": item.seller_sku,
            "item_code": item.order_item_id,
            "qty": str(item.quantity_ordered),
        }
        paid = line - short if pos == 0 else line
        sheet.add(order, at, "Order", "ItemPrice", "Principal", paid, **common)
        for desc, value in (
            ("Tax", item.item_tax),
            ("Shipping", item.shipping_price),
            ("ShippingTax", item.shipping_tax),
        ):
            if Decimal(value):
                sheet.add(order, at, "Order", "ItemPrice", desc, Decimal(value), **common)
        if Decimal(item.promotion_discount):
            sheet.add(
                order,
                at,
                "Order",
                "Promotion",
                "Principal",
                -Decimal(item.promotion_discount),
                promotion_id=f"PROMO-{settlement_id[-4:]}",
                **common,
            )
        sheet.add(order, at, "Order", "ItemFees", "Commission", -line * COMMISSION_RATE, **common)
        if order.fulfillment_channel == "AFN":
            sheet.add(
                order,
                at,
                "Order",
                "ItemFees",
                "FBAPerUnitFulfillmentFee",
                -FBA_FEE_PER_UNIT * item.quantity_ordered,
                **common,
            )
    if order.fulfillment_channel == "MFN":
        # Buy Shipping: one label per confirmed package, charged against the order.
        for _package in order.packages:
            sheet.add(
                order,
                at,
                "other-transaction",
                "other-transaction",
                "Shipping label purchase",
                -_scaled(SHIPPING_LABEL_FEE, sheet.currency),
            )
    return principal_total


def _refund_rows(sheet: _Sheet, order: Order, at: datetime) -> None:
    """A full refund: the sale reversed, the commission returned less the refund commission."""
    for item in order.items:
        line = Decimal(item.unit_price) * item.quantity_ordered
        common: dict[str, Any] = {
            "sku": item.seller_sku,
            "item_code": item.order_item_id,
            "qty": str(item.quantity_ordered),
        }
        sheet.add(order, at, "Refund", "ItemPrice", "Principal", -line, **common)
        for desc, value in (
            ("Tax", item.item_tax),
            ("Shipping", item.shipping_price),
            ("ShippingTax", item.shipping_tax),
        ):
            if Decimal(value):
                sheet.add(order, at, "Refund", "ItemPrice", desc, -Decimal(value), **common)
        if Decimal(item.promotion_discount):
            sheet.add(
                order,
                at,
                "Refund",
                "Promotion",
                "Principal",
                Decimal(item.promotion_discount),
                **common,
            )
        commission = line * COMMISSION_RATE
        sheet.add(order, at, "Refund", "ItemFees", "Commission", commission, **common)
        refund_commission = min(
            commission * REFUND_COMMISSION_RATE, _scaled(REFUND_COMMISSION_CAP, sheet.currency)
        )
        sheet.add(order, at, "Refund", "ItemFees", "RefundCommission", -refund_commission, **common)


def _scaled(amount: Decimal, currency: str) -> Decimal:
    """A fixed fee in a currency without minor units is about 100 times larger (JPY)."""
    return amount if minor_unit_exponent(currency) else amount * 100


def _previous_settlement(state: SandboxState, seller: Seller, marketplace_id: str) -> Report | None:
    earlier = [
        r
        for r in state.reports.values()
        if r.seller_id == seller.seller_id
        and r.report_type == SETTLEMENT_REPORT
        and r.marketplace_ids == [marketplace_id]
    ]
    return max(earlier, key=lambda r: (r.created, r.report_id), default=None)


def settlement_rows(
    state: SandboxState,
    seller: Seller,
    marketplace_id: str,
    start: datetime,
    end: datetime,
    settlement_id: str,
    options: SettlementOptions | None = None,
) -> tuple[list[list[str]], Decimal, str, bool, Decimal]:
    """The rows of a settlement (without the summary row): rows, total, currency, style and
    the reserve it holds."""
    options = options or SettlementOptions()
    mp = MARKETPLACES_BY_ID[marketplace_id]
    sheet = _Sheet(settlement_id, marketplace_id, mp.currency, mp.code in _EU_STYLE)
    last = end - timedelta(seconds=1)
    mine = {
        o.order_id: o
        for o in state.orders.values()
        if o.seller_id == seller.seller_id and o.marketplace_id == marketplace_id
    }
    short = dict(options.short_pay)
    settled: list[tuple[Order, datetime]] = []
    for order in sorted(mine.values(), key=lambda o: o.order_id):
        at = _settled(order, start, end)
        if at is not None:
            settled.append((order, at))
    settled_ids = {o.order_id for o, _ in settled}
    for order_id in short:
        if order_id not in settled_ids:
            raise invalid_input(f"short_pay: order {order_id} is not settled in this period")
    principal = Decimal(0)
    for order, at in settled:
        principal += _order_rows(
            sheet, order, at, short.get(order.order_id, Decimal(0)), settlement_id
        )
    refunds = list(options.refund)
    if options.refund_every > 0:
        refunds += [
            o.order_id for o, _ in settled[options.refund_every - 1 :: options.refund_every]
        ]
    for order_id in dict.fromkeys(refunds):
        refunded = mine.get(order_id)
        settled_at = _settled_at(refunded) if refunded is not None else None
        if refunded is None or settled_at is None or settled_at >= end:
            raise invalid_input(f"refund: order {order_id} was never settled for this seller")
        _refund_rows(sheet, refunded, last)
    adjustments = list(options.adjust)
    if options.adjust_every > 0:
        for order, _at in settled[options.adjust_every - 1 :: options.adjust_every]:
            unit = Decimal(order.items[0].unit_price) if order.items else Decimal(0)
            adjustments.append((order.order_id, str(unit), "WAREHOUSE_DAMAGE"))
    for pos, (order_id, amount, desc) in enumerate(adjustments, start=1):
        adjusted = mine.get(order_id) if order_id else None
        if order_id and adjusted is None:
            raise invalid_input(f"adjust: unknown order {order_id}")
        sheet.add(
            adjusted,
            last,
            "other-transaction",
            "FBA Inventory Reimbursement",
            desc,
            Decimal(amount),
            sku=adjusted.items[0].seller_sku if adjusted and adjusted.items else "",
            qty="1" if adjusted else "",
            adjustment_id=f"ADJ{settlement_id[-6:]}{pos:03d}",
        )
    sheet.add(
        None,
        last,
        "other-transaction",
        "other-transaction",
        "Subscription Fee",
        -_scaled(SUBSCRIPTION_FEE, sheet.currency),
    )
    previous = _previous_settlement(state, seller, marketplace_id)
    if previous is not None and Decimal(previous.reserve_held):
        sheet.add(
            None,
            start,
            "other-transaction",
            "other-transaction",
            "Previous Reserve Amount Balance",
            Decimal(previous.reserve_held),
        )
    places = Decimal(1).scaleb(-minor_unit_exponent(sheet.currency))
    reserve = (principal * options.reserve_rate).quantize(places, rounding=ROUND_HALF_UP)
    if reserve:
        sheet.add(
            None,
            last,
            "other-transaction",
            "other-transaction",
            "Current Reserve Amount Balance",
            -reserve,
        )
    if sheet.total < 0:
        # A negative balance is charged to the seller's card (a transfer row).
        sheet.add(
            None, last, "other-transaction", "other-transaction", "Successful charge", -sheet.total
        )
    return sheet.rows, sheet.total, sheet.currency, sheet.eu, reserve


def create_settlement(
    state: SandboxState, seller: Seller, spec: dict[str, Any], now: datetime
) -> Report:
    """Scenario: close a settlement period of one marketplace and publish its report.

    The period starts where the previous settlement of the marketplace ended (or 14
    days before ``end``) unless ``start`` is given. ``SettlementOptions`` lists the rest.
    """
    marketplace_id = spec.get("marketplace_id") or seller.marketplace_ids[0]
    if marketplace_id not in seller.marketplace_ids:
        raise invalid_input(f"seller {seller.seller_id} does not sell in {marketplace_id}")
    options = SettlementOptions.from_spec(spec)
    end = parse_iso(spec["end"], "end") if spec.get("end") else now
    previous = _previous_settlement(state, seller, marketplace_id)
    if spec.get("start"):
        start = parse_iso(spec["start"], "start")
    elif previous is not None and previous.data_end is not None and previous.data_end < end:
        start = previous.data_end
    else:
        start = end - timedelta(days=14)
    number = state.next_number()
    settlement_id = f"{10_000_000_000 + number}"
    rows, total, currency, eu, reserve = settlement_rows(
        state, seller, marketplace_id, start, end, settlement_id, options
    )
    summary = [
        settlement_id,
        _fmt_time(start, eu),
        _fmt_time(end, eu),
        _fmt_time(end + timedelta(days=2), eu),
        _fmt_amount(total + options.total_offset, currency, eu),
        currency,
    ]
    summary += [""] * (len(SETTLEMENT_COLUMNS) - len(summary))
    lines = ["\t".join(SETTLEMENT_COLUMNS), "\t".join(summary)] + ["\t".join(r) for r in rows]
    text = "\n".join(lines) + "\n"
    charset = "Cp1252" if eu else "UTF-8"
    doc = Document(
        document_id=f"amzn1.spdoc.1.4.na.{number:012d}",
        seller_id=seller.seller_id,
        kind="report",
        content_type=f"text/plain; charset={charset}",
        expires_at=now,
        content_b64=base64.b64encode(text.encode("cp1252" if eu else "utf-8")).decode("ascii"),
    )
    state.documents[doc.document_id] = doc
    report = Report(
        report_id=str(90_000_000_000 + number),
        seller_id=seller.seller_id,
        report_type=SETTLEMENT_REPORT,
        marketplace_ids=[marketplace_id],
        created=now,
        status="DONE",
        data_start=start,
        data_end=end,
        document_id=doc.document_id,
        reserve_held=str(reserve),
    )
    state.reports[report.report_id] = report
    state.dirty = True
    return report


def render_report(report: Report) -> dict[str, Any]:
    """A Report object."""
    out: dict[str, Any] = {
        "reportId": report.report_id,
        "reportType": report.report_type,
        "marketplaceIds": report.marketplace_ids,
        "createdTime": iso(report.created),
        "processingStatus": report.status,
        "processingStartTime": iso(report.created),
    }
    if report.status in ("DONE", "FATAL", "CANCELLED"):
        out["processingEndTime"] = iso(report.created)
    if report.data_start:
        out["dataStartTime"] = iso(report.data_start)
    if report.data_end:
        out["dataEndTime"] = iso(report.data_end)
    if report.document_id:
        out["reportDocumentId"] = report.document_id
    return out


def get_reports(
    state: SandboxState, seller: Seller, params: dict[str, list[str]], now: datetime
) -> dict[str, Any]:
    """getReports: by type, status and creation time; ``nextToken`` must come alone."""
    token = single(params, "nextToken")
    if token:
        if any(k != "nextToken" for k in params):
            raise invalid_input("nextToken must be the only parameter when it is given.")
        data = state.decode_token(token, now)
        if data.get("seller") != seller.seller_id or data.get("api") != "reports":
            raise invalid_input("We could not decode your NextToken.")
        types, statuses, mids = data["types"], data["statuses"], data["mids"]
        since, until = parse_iso(data["since"], "nextToken"), parse_iso(data["until"], "nextToken")
        size, offset = int(data["size"]), int(data["offset"])
    else:
        types = multi_values(params, "reportTypes")
        if not types:
            raise invalid_input("Either reportTypes or nextToken is required.")
        statuses = multi_values(params, "processingStatuses")
        if any(s not in PROCESSING_STATUSES for s in statuses):
            raise invalid_input("Invalid processingStatuses value.")
        mids = multi_values(params, "marketplaceIds")
        raw_size = single(params, "pageSize") or "10"
        if not raw_size.isdigit() or not 1 <= int(raw_size) <= 100:
            raise invalid_input("pageSize must be between 1 and 100.")
        size, offset = int(raw_size), 0
        since_raw, until_raw = single(params, "createdSince"), single(params, "createdUntil")
        since = parse_iso(since_raw, "createdSince") if since_raw else now - timedelta(days=90)
        until = parse_iso(until_raw, "createdUntil") if until_raw else now
    found = sorted(
        (
            r
            for r in state.reports.values()
            if r.seller_id == seller.seller_id
            and r.report_type in types
            and (not statuses or r.status in statuses)
            # settlement reports ignore the marketplace filter (selling-partner-api-models#2911)
            and (
                not mids or r.report_type == SETTLEMENT_REPORT or set(mids) & set(r.marketplace_ids)
            )
            and since <= r.created <= until
        ),
        key=lambda r: (r.created, r.report_id),
        reverse=True,
    )
    page = found[offset : offset + size]
    out: dict[str, Any] = {"reports": [render_report(r) for r in page]}
    if offset + size < len(found):
        out["nextToken"] = state.encode_token(
            {
                "api": "reports",
                "seller": seller.seller_id,
                "types": types,
                "statuses": statuses,
                "mids": mids,
                "since": iso(since),
                "until": iso(until),
                "size": size,
                "offset": offset + size,
                "issued": iso(now),
            }
        )
    return out


def get_report(state: SandboxState, seller: Seller, report_id: str) -> dict[str, Any]:
    """getReport."""
    report = state.reports.get(report_id)
    if report is None or report.seller_id != seller.seller_id:
        raise not_found(f"Report {report_id} was not found.")
    return render_report(report)


def create_report(state: SandboxState, seller: Seller, body: Any, now: datetime) -> dict[str, Any]:
    """createReport: settlement reports cannot be requested; other types fail (FATAL) here."""
    if not isinstance(body, dict) or not body.get("reportType") or not body.get("marketplaceIds"):
        raise invalid_input("reportType and marketplaceIds are required.")
    if body["reportType"] == SETTLEMENT_REPORT:
        raise invalid_input(
            f"Report type {SETTLEMENT_REPORT} cannot be requested; Amazon creates it for each "
            "settlement period."
        )
    report = Report(
        report_id=str(90_000_000_000 + state.next_number()),
        seller_id=seller.seller_id,
        report_type=str(body["reportType"]),
        marketplace_ids=[str(m) for m in body["marketplaceIds"]],
        created=now,
        status="FATAL",
    )
    state.reports[report.report_id] = report
    state.dirty = True
    return {"reportId": report.report_id}


def get_report_document(
    state: SandboxState, seller: Seller, document_id: str, now: datetime, base_url: str
) -> dict[str, Any]:
    """getReportDocument: a presigned URL valid for five minutes."""
    doc = state.documents.get(document_id)
    if doc is None or doc.seller_id != seller.seller_id or doc.kind != "report":
        raise not_found(f"Report document {document_id} was not found.")
    doc.expires_at = now + timedelta(seconds=state.settings.document_url_ttl_s)
    out = {"reportDocumentId": doc.document_id, "url": document_url(state, doc, base_url)}
    if doc.compression:
        out["compressionAlgorithm"] = doc.compression
    return out
