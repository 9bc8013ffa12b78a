"""Reconciliation (pure): marketplace orders against settlements, Z reports against sales.

**Orders.** For every marketplace order the *expected* amount is what the buyer was
charged, as our imported order says (``OrderTotal``: item prices, item tax, shipping,
shipping tax, less promotions). The *settled* side comes from the settlement lines of
that order (every settlement that mentions it, so a refund settled weeks later is
counted too):

* ``charged``: the order rows' principal, tax, shipping, shipping tax and promotion;
  this is what is compared with the expected amount;
* ``fees``: every fee row (commission, FBA fees, refund commission, fee reversals);
* ``withheld_tax``: tax the marketplace collected and remits itself (US marketplace
  facilitator tax); it is not ours, so it is neither a shortfall nor a fee;
* ``refunds``: refund rows other than fees;
* ``other``: adjustments and rows that are none of the above;
* ``net`` = the sum of every row: what the marketplace paid out for the order.

Flags, each with a reason a person can act on:

* ``short_paid`` / ``over_paid``: charged differs from expected (per component when
  the order lines say what each component should be);
* ``not_settled``: shipped and in no settlement. It is a discrepancy when a settlement
  of the same account and marketplace closed after the order shipped (so the order
  should have been in it), and only a note (``awaiting_settlement``) otherwise;
* ``refunded``: refund rows exist (a note with the amount, not an error);
* ``unknown_order``: a settlement names an order we never imported;
* ``cancelled_settled``: a cancelled order was charged;
* ``currency_mismatch``: the settlement's currency is not the order's;
* ``fee_above_rate``: the commission is above the referral rate (15 % by default,
  Amazon's rate for most categories) of the settled item price plus shipping, with one
  minor unit of rounding allowed per commission row. Only the ``Commission`` rows are
  checked: per-unit FBA fees and fixed fees have no rate to compare with.

**Shifts.** A till's ``shift.closed`` carries its Z report; the sales and returns the
hub received with the same ``shift_id`` are added up the way the till does
(edge_agent/domain/zreport.py) and each figure compared: sales count, gross (before
discounts), discounts, tax (sales less returns), returns (refunds paid) and, when the
Z report names its opening float, the expected cash. Counted cash against expected is
the drawer's over/short; a Z report whose over/short is not counted - expected is
flagged as inconsistent.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from protocol.money import Money

DEFAULT_REFERRAL_RATE_PPM = 150_000
"""15 %: Amazon's referral fee for most categories (some are 8 %, a few more than 15 %)."""
PPM = 1_000_000
CHARGED_COMPONENTS = ("principal", "tax", "shipping", "shipping_tax", "promotion")
COMMISSION_DESCRIPTIONS = frozenset({"commission"})


class Severity(enum.StrEnum):
    """How a flag is shown: a discrepancy someone must look at, or a note."""

    DISCREPANCY = "discrepancy"
    NOTE = "note"


class OrderFlagCode(enum.StrEnum):
    """Why an order's settlement does not simply match."""

    SHORT_PAID = "short_paid"
    OVER_PAID = "over_paid"
    NOT_SETTLED = "not_settled"
    AWAITING_SETTLEMENT = "awaiting_settlement"
    REFUNDED = "refunded"
    UNKNOWN_ORDER = "unknown_order"
    CANCELLED_SETTLED = "cancelled_settled"
    CURRENCY_MISMATCH = "currency_mismatch"
    FEE_ABOVE_RATE = "fee_above_rate"
    NO_EXPECTED_TOTAL = "no_expected_total"


class ShiftFlagCode(enum.StrEnum):
    """Why a shift does not simply match."""

    Z_MISMATCH = "z_mismatch"
    CASH_SHORT = "cash_short"
    CASH_OVER = "cash_over"
    Z_INCONSISTENT = "z_inconsistent"
    NO_SALES_SYNCED = "no_sales_synced"


@dataclass(frozen=True, slots=True)
class Flag:
    """One reason, with the amount it is about (minor units; 0 when none)."""

    code: str
    message: str
    severity: Severity = Severity.DISCREPANCY
    amount_minor: int = 0


# --- orders ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpectedOrder:
    """Our imported order: what the buyer was charged, per component when the lines say."""

    order_pk: int
    account: str
    account_id: int
    marketplace_id: str
    marketplace_order_id: str
    currency: str | None
    total_minor: int | None
    components: Mapping[str, int] | None
    """principal/tax/shipping/shipping_tax/promotion from the order lines (None: no lines)."""
    cancelled: bool
    shipped_at: datetime | None
    """When the order left (handed over, confirmed, or shipped by Amazon); None: not yet."""
    store_id: str | None
    purchased_at: datetime
    status: str = ""

    @property
    def expected_minor(self) -> int | None:
        """The order total, or the sum of the line components when the total is missing."""
        if self.total_minor is not None:
            return self.total_minor
        if self.components is not None:
            return sum(self.components.values())
        return None


@dataclass(frozen=True, slots=True)
class SettledLine:
    """One settlement line of an order (or of an order id we do not know)."""

    settlement_id: str
    currency: str
    kind: str
    component: str
    description: str
    amount_minor: int
    order_id: str | None
    order_pk: int | None
    posted_at: datetime | None = None
    account_id: int | None = None
    marketplace_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrderReconciliation:
    """One order's expected and settled amounts and every flag raised."""

    marketplace_order_id: str
    order_pk: int | None
    account: str
    store_id: str | None
    currency: str
    expected_minor: int | None
    charged_minor: int
    fees_minor: int
    withheld_tax_minor: int
    refunds_minor: int
    other_minor: int
    net_minor: int
    settled_components: Mapping[str, int]
    settlements: tuple[str, ...]
    flags: tuple[Flag, ...]
    purchased_at: datetime | None = None
    status: str = ""

    @property
    def difference_minor(self) -> int | None:
        """Charged less expected (negative: short paid); None when nothing is expected."""
        if self.expected_minor is None:
            return None
        return self.charged_minor - self.expected_minor

    @property
    def settled(self) -> bool:
        """True when at least one settlement mentions the order."""
        return bool(self.settlements)

    @property
    def has_discrepancy(self) -> bool:
        """True when a flag needs a person (notes do not)."""
        return any(f.severity is Severity.DISCREPANCY for f in self.flags)

    @property
    def outcome(self) -> str:
        """One word for lists: the first discrepancy, else the first note, else matched/open."""
        for flag in self.flags:
            if flag.severity is Severity.DISCREPANCY:
                return flag.code
        if self.flags:
            return self.flags[0].code
        return "matched" if self.settled else "open"


@dataclass(slots=True)
class _Sums:
    components: dict[str, int] = field(default_factory=dict)
    fees: int = 0
    commission: int = 0
    commission_rows: int = 0
    withheld: int = 0
    refunds: int = 0
    other: int = 0
    net: int = 0
    order_rows: int = 0
    settlements: list[str] = field(default_factory=list)
    currencies: set[str] = field(default_factory=set)

    @property
    def charged(self) -> int:
        return sum(self.components.values())


def _add(sums: _Sums, line: SettledLine) -> None:
    sums.net += line.amount_minor
    sums.currencies.add(line.currency)
    if line.kind == "order":
        sums.order_rows += 1
    if line.settlement_id not in sums.settlements:
        sums.settlements.append(line.settlement_id)
    if line.component == "fee":
        sums.fees += line.amount_minor
        if line.kind == "order" and line.description.strip().lower() in COMMISSION_DESCRIPTIONS:
            sums.commission -= line.amount_minor
            sums.commission_rows += 1
    elif line.component == "withheld_tax":
        sums.withheld += line.amount_minor
    elif line.kind == "order" and line.component in CHARGED_COMPONENTS:
        sums.components[line.component] = sums.components.get(line.component, 0) + line.amount_minor
    elif line.kind == "refund":
        sums.refunds += line.amount_minor
    else:
        sums.other += line.amount_minor


def _fmt(amount_minor: int, currency: str) -> str:
    try:
        return f"{Money(amount_minor, currency).format()} {currency}"
    except ValueError:
        return f"{amount_minor} (minor units) {currency}"


def _component_gaps(
    expected: Mapping[str, int], settled: Mapping[str, int], currency: str
) -> list[str]:
    gaps = []
    for name in CHARGED_COMPONENTS:
        want, got = expected.get(name, 0), settled.get(name, 0)
        if want != got:
            word = "short" if got < want else "over"
            gaps.append(f"{name.replace('_', ' ')} {word} by {_fmt(abs(got - want), currency)}")
    return gaps


def _order_flags(
    order: ExpectedOrder,
    sums: _Sums | None,
    *,
    settled_through: datetime | None,
    referral_rate_ppm: int,
) -> list[Flag]:
    currency = order.currency or ""
    if sums is None or not sums.order_rows:
        # The sale itself is in no imported settlement (fees or a refund may be).
        unsettled = _unsettled_flags(order, settled_through)
        if sums is not None and sums.refunds:
            unsettled.append(_refunded(sums.refunds, currency or min(sums.currencies)))
        return unsettled
    flags: list[Flag] = []
    if order.currency and sums.currencies - {order.currency}:
        others = ", ".join(sorted(sums.currencies - {order.currency}))
        return [
            Flag(
                OrderFlagCode.CURRENCY_MISMATCH,
                f"the order is in {order.currency}, its settlement in {others}",
            )
        ]
    if not currency:
        currency = next(iter(sorted(sums.currencies)), "")
    charged = sums.charged
    expected = order.expected_minor
    if order.cancelled:
        if charged:
            flags.append(
                Flag(
                    OrderFlagCode.CANCELLED_SETTLED,
                    f"cancelled, yet {_fmt(charged, currency)} was charged",
                    amount_minor=charged,
                )
            )
    elif expected is None:
        flags.append(
            Flag(
                OrderFlagCode.NO_EXPECTED_TOTAL,
                "the imported order has no total to compare with",
                Severity.NOTE,
            )
        )
    elif charged != expected:
        diff = charged - expected
        detail = (
            _component_gaps(order.components, sums.components, currency)
            if order.components is not None
            else []
        )
        word = "short paid" if diff < 0 else "over paid"
        text = (
            f"{word} by {_fmt(abs(diff), currency)}: settled {_fmt(charged, currency)}, "
            f"order total {_fmt(expected, currency)}"
        )
        if detail:
            text += " (" + "; ".join(detail) + ")"
        code = OrderFlagCode.SHORT_PAID if diff < 0 else OrderFlagCode.OVER_PAID
        flags.append(Flag(code, text, amount_minor=diff))
    if sums.commission_rows and referral_rate_ppm >= 0:
        base = sums.components.get("principal", 0) + sums.components.get("shipping", 0)
        allowed = -(-max(base, 0) * referral_rate_ppm // PPM) + sums.commission_rows
        if sums.commission > allowed:
            share = f"{sums.commission * 100 / base:.1f} %" if base > 0 else "more than the sale"
            flags.append(
                Flag(
                    OrderFlagCode.FEE_ABOVE_RATE,
                    f"commission {_fmt(sums.commission, currency)} is {share} of "
                    f"{_fmt(base, currency)} (referral rate {referral_rate_ppm / 10_000:g} %)",
                    amount_minor=sums.commission - allowed + sums.commission_rows,
                )
            )
    if sums.refunds:
        flags.append(_refunded(sums.refunds, currency))
    return flags


def _refunded(refunds_minor: int, currency: str) -> Flag:
    return Flag(
        OrderFlagCode.REFUNDED,
        f"refunded {_fmt(-refunds_minor, currency)}",
        Severity.NOTE,
        refunds_minor,
    )


def _unsettled_flags(order: ExpectedOrder, settled_through: datetime | None) -> list[Flag]:
    if order.cancelled or order.shipped_at is None:
        return []
    if settled_through is not None and order.shipped_at < settled_through:
        return [
            Flag(
                OrderFlagCode.NOT_SETTLED,
                f"shipped {order.shipped_at:%Y-%m-%d %H:%M} UTC but missing from the "
                f"settlements closed up to {settled_through:%Y-%m-%d %H:%M} UTC",
                amount_minor=order.expected_minor or 0,
            )
        ]
    return [
        Flag(
            OrderFlagCode.AWAITING_SETTLEMENT,
            "shipped; not settled yet (no settlement has closed since it shipped)",
            Severity.NOTE,
            order.expected_minor or 0,
        )
    ]


def reconcile_orders(
    orders: Iterable[ExpectedOrder],
    lines: Iterable[SettledLine],
    *,
    settled_through: Mapping[tuple[int, str], datetime] | None = None,
    referral_rate_ppm: int = DEFAULT_REFERRAL_RATE_PPM,
) -> list[OrderReconciliation]:
    """Reconcile each order with its settlement lines; lines of unknown orders are reported too.

    ``settled_through`` maps (account id, marketplace id) to the end of the newest
    settlement imported for it: a shipped order older than that and missing from every
    settlement is a discrepancy, a younger one is only awaiting its settlement. Lines
    are matched to orders by ``order_pk`` first, then by the marketplace order id.
    """
    by_pk: dict[int, ExpectedOrder] = {}
    by_id: dict[str, ExpectedOrder] = {}
    for order in orders:
        by_pk[order.order_pk] = order
        by_id.setdefault(order.marketplace_order_id, order)
    sums: dict[int, _Sums] = {}
    unknown: dict[str, _Sums] = {}
    for line in lines:
        match = by_pk.get(line.order_pk) if line.order_pk is not None else None
        if match is None and line.order_id:
            match = by_id.get(line.order_id)
        if match is not None:
            _add(sums.setdefault(match.order_pk, _Sums()), line)
        elif line.order_id and line.order_pk is None:
            _add(unknown.setdefault(line.order_id, _Sums()), line)
    through = settled_through or {}
    out: list[OrderReconciliation] = []
    for order in by_pk.values():
        s = sums.get(order.order_pk)
        flags = _order_flags(
            order,
            s,
            settled_through=through.get((order.account_id, order.marketplace_id)),
            referral_rate_ppm=referral_rate_ppm,
        )
        s = s or _Sums()
        out.append(
            OrderReconciliation(
                marketplace_order_id=order.marketplace_order_id,
                order_pk=order.order_pk,
                account=order.account,
                store_id=order.store_id,
                currency=order.currency or next(iter(sorted(s.currencies)), ""),
                expected_minor=order.expected_minor,
                charged_minor=s.charged,
                fees_minor=s.fees,
                withheld_tax_minor=s.withheld,
                refunds_minor=s.refunds,
                other_minor=s.other,
                net_minor=s.net,
                settled_components=dict(s.components),
                settlements=tuple(s.settlements),
                flags=tuple(flags),
                purchased_at=order.purchased_at,
                status=order.status,
            )
        )
    for order_id, s in sorted(unknown.items()):
        currency = next(iter(sorted(s.currencies)), "")
        out.append(
            OrderReconciliation(
                marketplace_order_id=order_id,
                order_pk=None,
                account="",
                store_id=None,
                currency=currency,
                expected_minor=None,
                charged_minor=s.charged,
                fees_minor=s.fees,
                withheld_tax_minor=s.withheld,
                refunds_minor=s.refunds,
                other_minor=s.other,
                net_minor=s.net,
                settled_components=dict(s.components),
                settlements=tuple(s.settlements),
                flags=(
                    Flag(
                        OrderFlagCode.UNKNOWN_ORDER,
                        f"in settlement {', '.join(s.settlements)} but never imported "
                        f"(net {_fmt(s.net, currency)})",
                        amount_minor=s.net,
                    ),
                ),
            )
        )
    out.sort(key=lambda r: (not r.has_discrepancy, r.marketplace_order_id))
    return out


def expected_components(lines: Sequence[Mapping[str, Any]] | None) -> dict[str, int] | None:
    """The charged components of an imported order's lines (``order_to_dict`` shape)."""
    if lines is None:
        return None
    out = dict.fromkeys(CHARGED_COMPONENTS, 0)
    for line in lines:
        for name, key, sign in (
            ("principal", "line_price", 1),
            ("tax", "item_tax", 1),
            ("shipping", "shipping_price", 1),
            ("shipping_tax", "shipping_tax", 1),
            ("promotion", "promotion_discount", -1),
        ):
            value = line.get(key)
            if value is not None:
                out[name] += sign * int(value[0])
    return out


# --- shifts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZReportFigures:
    """The figures of a ``shift.closed`` event."""

    store_id: str
    shift_id: str
    cashier_id: str
    business_day: date
    currency: str
    opened_at: datetime | None
    closed_at: datetime | None
    sales_count: int
    gross_minor: int
    discounts_minor: int
    tax_minor: int
    returns_minor: int
    expected_cash_minor: int
    counted_cash_minor: int
    over_short_minor: int
    opening_float_minor: int | None = None

    @classmethod
    def from_body(cls, store_id: str, body: Mapping[str, Any]) -> ZReportFigures:
        """Read the figures from a ``shift.closed`` body (canonical JSON)."""

        def when(key: str) -> datetime | None:
            value = body.get(key)
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None

        opening = body.get("opening_float_minor")
        return cls(
            store_id=store_id,
            shift_id=str(body["shift_id"]),
            cashier_id=str(body.get("cashier_id", "")),
            business_day=date.fromisoformat(str(body["business_day"])),
            currency=str(body["currency"]),
            opened_at=when("opened_at"),
            closed_at=when("closed_at"),
            sales_count=int(body["sales_count"]),
            gross_minor=int(body["gross_minor"]),
            discounts_minor=int(body["discounts_minor"]),
            tax_minor=int(body["tax_minor"]),
            returns_minor=int(body["returns_minor"]),
            expected_cash_minor=int(body["expected_cash_minor"]),
            counted_cash_minor=int(body["counted_cash_minor"]),
            over_short_minor=int(body["over_short_minor"]),
            opening_float_minor=None if opening is None else int(opening),
        )


@dataclass(frozen=True, slots=True)
class SyncedTotals:
    """The synced sales and returns of a shift, added up as the till's Z report does."""

    sales_count: int = 0
    returns_count: int = 0
    gross_minor: int = 0
    discounts_minor: int = 0
    tax_minor: int = 0
    returns_minor: int = 0
    cash_net_minor: int = 0
    return_tax_known: bool = True


def _sale_discounts(body: Mapping[str, Any]) -> int:
    if body.get("discounts_minor") is not None:
        return int(body["discounts_minor"])
    return sum(int(d.get("amount_minor", 0)) for d in body.get("discounts") or [])


def return_tax_minor(body: Mapping[str, Any]) -> int | None:
    """The tax refunded by a ``return.completed`` (None when the till did not send it)."""
    if body.get("tax_minor") is not None:
        return int(body["tax_minor"])
    taxes = [line.get("tax_minor") for line in body.get("lines") or []]
    if taxes and all(t is not None for t in taxes):
        return sum(int(t) for t in taxes if t is not None)
    return None if taxes else 0


def totals_from_events(
    sales: Iterable[Mapping[str, Any]], returns: Iterable[Mapping[str, Any]]
) -> SyncedTotals:
    """Add up ``sale.completed`` and ``return.completed`` bodies the way the Z report does."""
    n_sales = n_returns = gross = discounts = tax = refunds = cash = 0
    known = True
    for body in sales:
        n_sales += 1
        gross += int(body["subtotal_minor"])
        discounts += _sale_discounts(body)
        tax += int(body["tax_minor"])
        for tender in body.get("tenders") or []:
            if tender.get("kind") == "cash":
                cash += int(tender["amount_minor"]) - int(tender.get("change_minor") or 0)
    for body in returns:
        n_returns += 1
        refunds += int(body["refund_total_minor"])
        refunded_tax = return_tax_minor(body)
        if refunded_tax is None:
            known = False
        else:
            tax -= refunded_tax
        for tender in body.get("tenders") or []:
            if tender.get("kind") == "cash":
                cash -= abs(int(tender["amount_minor"]))
    return SyncedTotals(n_sales, n_returns, gross, discounts, tax, refunds, cash, known)


@dataclass(frozen=True, slots=True)
class FigureCheck:
    """One Z report figure against the synced events."""

    name: str
    z_minor: int
    synced_minor: int
    is_money: bool = True

    @property
    def difference(self) -> int:
        """Synced less Z report."""
        return self.synced_minor - self.z_minor

    @property
    def matches(self) -> bool:
        """True when the two agree."""
        return self.difference == 0


@dataclass(frozen=True, slots=True)
class ShiftReconciliation:
    """One shift: its Z report, the synced totals, each figure's check, and the flags."""

    z: ZReportFigures
    synced: SyncedTotals
    checks: tuple[FigureCheck, ...]
    flags: tuple[Flag, ...]

    @property
    def over_short_minor(self) -> int:
        """Counted less expected cash, as the Z report states it."""
        return self.z.over_short_minor

    @property
    def has_discrepancy(self) -> bool:
        """True when a flag needs a person."""
        return any(f.severity is Severity.DISCREPANCY for f in self.flags)

    @property
    def outcome(self) -> str:
        """One word for lists."""
        return self.flags[0].code if self.flags else "matched"


def reconcile_shift(z: ZReportFigures, synced: SyncedTotals) -> ShiftReconciliation:
    """Compare a shift's Z report with its synced sales and returns, and its cash count."""
    checks = [
        FigureCheck("sales_count", z.sales_count, synced.sales_count, is_money=False),
        FigureCheck("gross", z.gross_minor, synced.gross_minor),
        FigureCheck("discounts", z.discounts_minor, synced.discounts_minor),
        FigureCheck("returns", z.returns_minor, synced.returns_minor),
    ]
    if synced.return_tax_known:
        checks.append(FigureCheck("tax", z.tax_minor, synced.tax_minor))
    if z.opening_float_minor is not None:
        checks.append(
            FigureCheck(
                "expected_cash",
                z.expected_cash_minor,
                z.opening_float_minor + synced.cash_net_minor,
            )
        )
    cur = z.currency
    flags: list[Flag] = []
    if synced.sales_count == 0 and synced.returns_count == 0 and z.sales_count > 0:
        flags.append(
            Flag(
                ShiftFlagCode.NO_SALES_SYNCED,
                f"the Z report counts {z.sales_count} sales; none of them reached the hub",
                amount_minor=-z.gross_minor,
            )
        )
    else:
        for check in checks:
            if check.matches:
                continue
            if check.is_money:
                text = (
                    f"{check.name.replace('_', ' ')}: Z report {_fmt(check.z_minor, cur)}, "
                    f"synced {_fmt(check.synced_minor, cur)}"
                )
            else:
                text = f"Z report counts {check.z_minor} sales, {check.synced_minor} synced"
            flags.append(Flag(ShiftFlagCode.Z_MISMATCH, text, amount_minor=check.difference))
    if z.counted_cash_minor - z.expected_cash_minor != z.over_short_minor:
        flags.append(
            Flag(
                ShiftFlagCode.Z_INCONSISTENT,
                f"over/short {_fmt(z.over_short_minor, cur)} is not counted "
                f"{_fmt(z.counted_cash_minor, cur)} less expected "
                f"{_fmt(z.expected_cash_minor, cur)}",
            )
        )
    if z.over_short_minor < 0:
        flags.append(
            Flag(
                ShiftFlagCode.CASH_SHORT,
                f"drawer short by {_fmt(-z.over_short_minor, cur)}",
                amount_minor=z.over_short_minor,
            )
        )
    elif z.over_short_minor > 0:
        flags.append(
            Flag(
                ShiftFlagCode.CASH_OVER,
                f"drawer over by {_fmt(z.over_short_minor, cur)}",
                amount_minor=z.over_short_minor,
            )
        )
    return ShiftReconciliation(z, synced, tuple(checks), tuple(flags))
