"""Tax: rates per class, inclusive and exclusive pricing, rounding, the receipt's tax summary.

Two pricing modes, chosen per store by :class:`StoreTaxPolicy`:

* **Inclusive** (VAT in the UK and EU, consumption tax in Japan): shelf prices
  contain the tax. For each rate the tax is taken out of the gross total of the
  lines at that rate: ``tax = gross * r / (1 + r)``.
* **Exclusive** (US sales tax): shelf prices are net; for each rate the tax is
  added to the taxable subtotal of the lines at that rate: ``tax = net * r``.

Rounding happens once per rate on the invoice totals by default
(:attr:`TaxRounding.INVOICE`): UK VAT allows it, EU invoices state the tax per
rate, Japan's qualified-invoice rules require it, and US states levy sales tax on
the taxable total of the sale. That rate's tax is then spread over its lines
with :meth:`Money.allocate`, so the line taxes always add up to the rate's tax to
the minor unit. :attr:`TaxRounding.LINE` (round each line, sum the lines) is
there for stores whose tax adviser wants line-level VAT.

Rates are integers in parts per million (ppm) of the amount: 200_000 is 20 %,
88_750 is NYC's 8.875 %. Basis points (1/100 of a percent) cannot express
8.875 %, so :class:`TaxRate` keeps ppm and offers ``from_bp``/``bp`` for the
whole-basis-point rates of VAT countries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from edge_agent.domain.errors import CurrencyMismatch, UnknownTaxClass
from edge_agent.domain.rounding import RoundingMode, round_ratio, sum_money
from protocol.money import Money, check_currency

PPM_PER_WHOLE = 1_000_000
PPM_PER_BP = 100

# Tax class names the catalog uses; a store maps each one it sells to a rate.
TAX_CLASS_STANDARD = "standard"
TAX_CLASS_REDUCED = "reduced"
TAX_CLASS_ZERO = "zero"  # zero-rated: taxable at 0 % (UK children's clothes, books)
TAX_CLASS_EXEMPT = "exempt"  # outside the tax (US groceries in many states, UK stamps)


@dataclass(frozen=True, slots=True, order=True)
class TaxRate:
    """A tax rate as an integer number of parts per million (200_000 = 20 %)."""

    ppm: int

    def __post_init__(self) -> None:
        if isinstance(self.ppm, bool) or not isinstance(self.ppm, int):
            raise TypeError(f"a tax rate is an integer of ppm, got {self.ppm!r}")
        if not 0 <= self.ppm < PPM_PER_WHOLE:
            raise ValueError(f"a tax rate must be between 0 and 100 %, got {self.ppm} ppm")

    @classmethod
    def from_bp(cls, bp: int) -> TaxRate:
        """Return the rate for a whole number of basis points (2000 = 20 %)."""
        return cls(bp * PPM_PER_BP)

    @classmethod
    def from_percent(cls, percent: str | Decimal) -> TaxRate:
        """Return the rate for a decimal percentage such as "8.875"; at most four decimals."""
        scaled = Decimal(percent).scaleb(4)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{percent!r} has more than four decimal places")
        return cls(int(scaled))

    @property
    def bp(self) -> Decimal:
        """The rate in basis points, exact (Decimal("887.5") for 8.875 %)."""
        return Decimal(self.ppm) / PPM_PER_BP

    @property
    def is_whole_bp(self) -> bool:
        """True when the rate is a whole number of basis points (every VAT rate is)."""
        return self.ppm % PPM_PER_BP == 0

    def percent_text(self) -> str:
        """Return the rate as a receipt shows it: "20%", "8.875%"."""
        text = format((Decimal(self.ppm) / 10_000).normalize(), "f")
        return f"{text}%"


class TaxRounding(StrEnum):
    """Where tax is rounded to the minor unit."""

    INVOICE = "invoice"  # once per rate on the sale's totals, then spread over its lines
    LINE = "line"  # on every line, the sale's tax is the sum of the lines


@dataclass(frozen=True, slots=True)
class StoreTaxPolicy:
    """A store's tax set-up: currency, inclusive or exclusive prices, rates per class, rounding."""

    currency: str
    prices_include_tax: bool
    rates: Mapping[str, TaxRate]
    rounding: TaxRounding = TaxRounding.INVOICE
    rounding_mode: RoundingMode = RoundingMode.HALF_UP

    def __post_init__(self) -> None:
        check_currency(self.currency)
        # A private copy (a plain dict, so carts stay picklable): the policy is shared by
        # every cart of the store and must not change under them.
        object.__setattr__(self, "rates", dict(self.rates))

    def rate_for(self, tax_class: str) -> TaxRate:
        """Return the rate of a tax class, or raise UnknownTaxClass."""
        try:
            return self.rates[tax_class]
        except KeyError:
            raise UnknownTaxClass(tax_class, tuple(sorted(self.rates))) from None

    def tax_in(self, amount_minor: int, rate: TaxRate) -> int:
        """Return the tax contained in (inclusive) or due on (exclusive) an amount, rounded."""
        if self.prices_include_tax:
            return round_ratio(
                amount_minor * rate.ppm, PPM_PER_WHOLE + rate.ppm, self.rounding_mode
            )
        return round_ratio(amount_minor * rate.ppm, PPM_PER_WHOLE, self.rounding_mode)


@dataclass(frozen=True, slots=True)
class TaxableLine:
    """One line's amount after discounts (gross if prices include tax, else net) and its class."""

    key: int
    tax_class: str
    amount: Money


@dataclass(frozen=True, slots=True)
class LineTax:
    """The tax of one line: net + tax == gross, all in the store's currency."""

    key: int
    tax_class: str
    rate: TaxRate
    net: Money
    tax: Money
    gross: Money


@dataclass(frozen=True, slots=True)
class TaxSummaryRow:
    """One rate of the receipt's tax summary: net, tax and gross of the lines at that rate."""

    rate: TaxRate
    tax_classes: tuple[str, ...]
    net: Money
    tax: Money
    gross: Money

    def negated(self) -> TaxSummaryRow:
        """Return the row with every amount's sign flipped (a refund's share)."""
        return TaxSummaryRow(self.rate, self.tax_classes, -self.net, -self.tax, -self.gross)


@dataclass(frozen=True, slots=True)
class TaxBreakdown:
    """Line taxes, the per-rate summary and totals; every figure reconciles to the minor unit."""

    lines: tuple[LineTax, ...]
    summary: tuple[TaxSummaryRow, ...]
    net: Money
    tax: Money
    gross: Money
    by_key: Mapping[int, LineTax] = field(repr=False, compare=False)


def compute_tax(policy: StoreTaxPolicy, lines: Sequence[TaxableLine]) -> TaxBreakdown:
    """Compute every line's tax and the per-rate summary under the store's policy.

    Line amounts must be non-negative and in the policy's currency. With invoice
    rounding the lines of each rate are added up first, the rate's tax is
    rounded once, then spread over those lines in proportion to their amounts
    (largest remainder), so the line taxes add up to the summary exactly.
    """
    currency = policy.currency
    groups: dict[int, list[TaxableLine]] = {}
    rates: dict[int, TaxRate] = {}
    if len({line.key for line in lines}) != len(lines):
        raise ValueError("taxable lines need distinct keys")
    for line in lines:
        if line.amount.currency != currency:
            raise CurrencyMismatch(currency, line.amount.currency)
        if line.amount.amount_minor < 0:
            raise ValueError(f"line {line.key}: taxable amounts are never negative")
        rate = policy.rate_for(line.tax_class)
        groups.setdefault(rate.ppm, []).append(line)
        rates[rate.ppm] = rate

    tax_of: dict[int, int] = {}
    for ppm, group in groups.items():
        rate = rates[ppm]
        if policy.rounding is TaxRounding.LINE:
            for line in group:
                tax_of[line.key] = policy.tax_in(line.amount.amount_minor, rate)
            continue
        base = sum(line.amount.amount_minor for line in group)
        group_tax = Money(policy.tax_in(base, rate), currency)
        if base == 0:
            shares = [Money.zero(currency)] * len(group)
        else:
            shares = group_tax.allocate([line.amount.amount_minor for line in group])
        for line, share in zip(group, shares, strict=True):
            tax_of[line.key] = share.amount_minor

    line_taxes: list[LineTax] = []
    for line in lines:
        tax = Money(tax_of[line.key], currency)
        if policy.prices_include_tax:
            net, gross = line.amount - tax, line.amount
        else:
            net, gross = line.amount, line.amount + tax
        line_taxes.append(
            LineTax(line.key, line.tax_class, policy.rate_for(line.tax_class), net, tax, gross)
        )
    summary = _summarise(currency, line_taxes)
    return TaxBreakdown(
        lines=tuple(line_taxes),
        summary=summary,
        net=sum_money((row.net for row in summary), currency),
        tax=sum_money((row.tax for row in summary), currency),
        gross=sum_money((row.gross for row in summary), currency),
        by_key={lt.key: lt for lt in line_taxes},
    )


def sum_tax_summaries(currency: str, rows: Iterable[TaxSummaryRow]) -> tuple[TaxSummaryRow, ...]:
    """Add summary rows of several sales (and negated rows of refunds) rate by rate."""
    acc: dict[int, TaxSummaryRow] = {}
    for row in rows:
        if row.net.currency != currency:
            raise CurrencyMismatch(currency, row.net.currency)
        seen = acc.get(row.rate.ppm)
        if seen is None:
            acc[row.rate.ppm] = row
            continue
        classes = tuple(sorted(set(seen.tax_classes) | set(row.tax_classes)))
        acc[row.rate.ppm] = TaxSummaryRow(
            row.rate, classes, seen.net + row.net, seen.tax + row.tax, seen.gross + row.gross
        )
    return tuple(acc[ppm] for ppm in sorted(acc, reverse=True))


def _summarise(currency: str, line_taxes: Iterable[LineTax]) -> tuple[TaxSummaryRow, ...]:
    return sum_tax_summaries(
        currency,
        (TaxSummaryRow(lt.rate, (lt.tax_class,), lt.net, lt.tax, lt.gross) for lt in line_taxes),
    )
