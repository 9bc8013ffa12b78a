"""Tax by rate per store and period (pure): net, tax and gross of sales and returns per rate.

The till works the tax out (edge_agent/domain/tax.py) and sends it with every sale
line: the rate (``tax_rate_ppm``, or ``tax_rate_bp`` from older tills), the line's
tax and its total. A line's total is what the customer pays for it, tax included, in
both pricing modes, so per line ``gross = total`` and ``net = total - tax``:

* **inclusive** prices (VAT, Japanese consumption tax at 10 % and the reduced 8 %):
  the tax is inside the shelf price, ``tax = gross * r / (1 + r)``;
* **exclusive** prices (US sales tax): the tax is added at the till,
  ``tax = net * r``.

The hub does not recompute the tax (the till rounds once per rate and receipt, as
the tax rules ask); it adds up what the tills charged, per store, currency, pricing
mode and rate, and takes returns off in the period they were made, as a Z report does.

A return line carries its refund and its tax but no rate. Its rate is the rate of the
same SKU on the original sale when that sale is known to the report; otherwise the
rate among the store's rates that is closest to the line's own tax-to-net ratio;
a return whose till sent no tax lands in a row with the rate unknown.
:func:`split_inclusive` and :func:`split_exclusive` are the formulas above, for checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

PPM = 1_000_000
PPM_PER_BP = 100


def _round_half_up(numerator: int, denominator: int) -> int:
    sign = -1 if (numerator < 0) != (denominator < 0) else 1
    q, r = divmod(abs(numerator), abs(denominator))
    return sign * (q + (1 if 2 * r >= abs(denominator) else 0))


def split_inclusive(gross_minor: int, rate_ppm: int) -> tuple[int, int]:
    """Split a tax-inclusive amount into (net, tax), tax rounded half up."""
    tax = _round_half_up(gross_minor * rate_ppm, PPM + rate_ppm)
    return gross_minor - tax, tax


def split_exclusive(net_minor: int, rate_ppm: int) -> tuple[int, int]:
    """Add tax to a tax-exclusive amount: (tax, gross), tax rounded half up."""
    tax = _round_half_up(net_minor * rate_ppm, PPM)
    return tax, net_minor + tax


def rate_text(rate_ppm: int | None) -> str:
    """A rate as people write it: "10%", "8.875%", "unknown"."""
    if rate_ppm is None:
        return "unknown"
    text = format((Decimal(rate_ppm) / 10_000).normalize(), "f")
    return f"{text}%"


def line_rate_ppm(line: Mapping[str, Any]) -> int | None:
    """The rate of a wire sale line: ``tax_rate_ppm``, else ``tax_rate_bp`` in ppm."""
    if line.get("tax_rate_ppm") is not None:
        return int(line["tax_rate_ppm"])
    if line.get("tax_rate_bp") is not None:
        return int(line["tax_rate_bp"]) * PPM_PER_BP
    return None


@dataclass(frozen=True, slots=True)
class TaxLine:
    """One taxed line: sales positive, returns negative (gross and tax both)."""

    store_id: str
    currency: str
    inclusive: bool
    rate_ppm: int | None
    gross_minor: int
    tax_minor: int
    is_return: bool = False


def sale_tax_lines(store_id: str, body: Mapping[str, Any]) -> list[TaxLine]:
    """The taxed lines of a ``sale.completed`` body."""
    inclusive = bool(body.get("prices_include_tax"))
    return [
        TaxLine(
            store_id,
            str(body["currency"]),
            inclusive,
            line_rate_ppm(line),
            int(line["total_minor"]),
            int(line["tax_minor"]),
        )
        for line in body["lines"]
    ]


def sale_rates_by_sku(body: Mapping[str, Any]) -> dict[str, int]:
    """SKU to rate of a ``sale.completed`` body (to give returns of that sale their rate)."""
    out: dict[str, int] = {}
    for line in body["lines"]:
        rate = line_rate_ppm(line)
        if rate is not None:
            out.setdefault(str(line["sku"]), rate)
    return out


def nearest_rate(net_minor: int, tax_minor: int, known_rates: Iterable[int]) -> int | None:
    """The known rate closest to tax / net (None when there is no rate to choose from)."""
    rates = sorted(set(known_rates))
    if not rates:
        return None
    if net_minor == 0:
        return 0 if tax_minor == 0 and 0 in rates else None
    # Compare tax*PPM with rate*net in integers: no floats, no rounding.
    return min(rates, key=lambda r: (abs(tax_minor * PPM - r * net_minor), r))


def return_tax_lines(
    store_id: str,
    body: Mapping[str, Any],
    *,
    inclusive: bool,
    original_rates: Mapping[str, int] | None,
    known_rates: Iterable[int],
) -> list[TaxLine]:
    """The taxed lines of a ``return.completed`` body (negative), each given its rate."""
    currency = str(body["currency"])
    rates = list(known_rates)
    out = []
    for line in body["lines"]:
        refund = int(line["refund_minor"])
        tax_value = line.get("tax_minor")
        if tax_value is None:
            out.append(TaxLine(store_id, currency, inclusive, None, -refund, 0, True))
            continue
        tax = int(tax_value)
        rate = (original_rates or {}).get(str(line["sku"]))
        if rate is None:
            rate = nearest_rate(refund - tax, tax, rates)
        out.append(TaxLine(store_id, currency, inclusive, rate, -refund, -tax, True))
    return out


@dataclass(frozen=True, slots=True)
class TaxRateRow:
    """Per store, currency, pricing mode and rate: sales, returns and the period's total."""

    store_id: str
    currency: str
    inclusive: bool
    rate_ppm: int | None
    sales_gross_minor: int
    sales_tax_minor: int
    returns_gross_minor: int
    returns_tax_minor: int
    lines: int

    @property
    def mode(self) -> str:
        """inclusive (VAT, consumption tax) or exclusive (US sales tax)."""
        return "inclusive" if self.inclusive else "exclusive"

    @property
    def rate(self) -> str:
        """The rate as text."""
        return rate_text(self.rate_ppm)

    @property
    def sales_net_minor(self) -> int:
        """Sales without their tax."""
        return self.sales_gross_minor - self.sales_tax_minor

    @property
    def returns_net_minor(self) -> int:
        """Returns (negative) without their tax."""
        return self.returns_gross_minor - self.returns_tax_minor

    @property
    def gross_minor(self) -> int:
        """Sales less returns, tax included."""
        return self.sales_gross_minor + self.returns_gross_minor

    @property
    def tax_minor(self) -> int:
        """The tax of the period at this rate: on sales, less on returns."""
        return self.sales_tax_minor + self.returns_tax_minor

    @property
    def net_minor(self) -> int:
        """Sales less returns, without tax."""
        return self.gross_minor - self.tax_minor


def summarise_tax(lines: Iterable[TaxLine]) -> list[TaxRateRow]:
    """Add taxed lines up per (store, currency, pricing mode, rate)."""
    acc: dict[tuple[str, str, bool, int | None], list[int]] = {}
    for line in lines:
        key = (line.store_id, line.currency, line.inclusive, line.rate_ppm)
        sums = acc.setdefault(key, [0, 0, 0, 0, 0])
        if line.is_return:
            sums[2] += line.gross_minor
            sums[3] += line.tax_minor
        else:
            sums[0] += line.gross_minor
            sums[1] += line.tax_minor
        sums[4] += 1
    rows = [TaxRateRow(*key, *sums) for key, sums in acc.items()]
    rows.sort(key=lambda r: (r.store_id, r.currency, not r.inclusive, -(r.rate_ppm or -1)))
    return rows


TAX_CSV_HEADER = [
    "store",
    "currency",
    "pricing",
    "rate",
    "rate_ppm",
    "sales_net",
    "sales_tax",
    "sales_gross",
    "returns_net",
    "returns_tax",
    "returns_gross",
    "net",
    "tax",
    "gross",
    "lines",
]
