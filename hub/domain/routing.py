"""Order routing: which location ships a marketplace order, by ordered rules, with reasons.

Pure: no database, no MQTT, no clock. The adapter loads the order, the candidate
locations and the retailer's rules, calls :func:`route`, stores the returned
:class:`RoutingDecision` (``as_dict()`` is JSON-ready) and acts on it (reserve,
publish, queue).

**Candidates contract.** ``candidates`` are the locations that hold any sellable
stock of the order's SKUs (optionally narrowed to those allowed for the order's
channel), each with its capacity, load, online flag and channels
(:class:`StockIndex` does the same selection in memory for simulations and the
benchmark). ``stock`` is on hand minus open reservations per SKU; safety stock is
subtracted here, by the rules that ask for it. A location that is not passed in is
not considered, and is not mentioned in the explanation. Routing cost grows with
the number of candidates, so the pre-filter matters (see ``bench/routing.py``).

**Rules** are tried in order (HotWax-style brokering rules). For each rule:

1. Hard limits, whatever the rule says: locations in ``exclude`` (they already
   rejected or timed out on this order) and locations not allowed to ship for the
   order's channel are out.
2. The rule's filters remove locations (stock after safety stock, online, under
   capacity, within a distance, of a kind). Every failed filter is a reason.
3. The rule's sorts rank what is left; the location id breaks ties.
4. One parcel first: the best-ranked location that can ship every line wins.
5. Otherwise the rule's ``on_no_fill`` action: ``next_rule`` tries the next rule,
   ``unroutable`` parks the order, ``split`` first tries to cover the order from
   several of this rule's locations (greedy: at each step the best-ranked location
   for what is still missing; a line's quantity may be divided), then tries the
   next rule. A split needs the order's ``allow_split``.

After the last rule the order is unroutable. Orders over the value threshold or
with risk flags are held for manual review; the decision still carries what the
rules would have done (``proposed``).
"""

from __future__ import annotations

import enum
import heapq
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, NamedTuple, TypeAlias

from hub.domain.geo import GeoPoint, PostalCodeError, PostalCodeTable, check_coordinates
from hub.domain.geo import haversine_km as _haversine_km
from protocol.errors import MoneyError
from protocol.money import Money, check_currency

# --------------------------------------------------------------------------- errors


class RoutingError(Exception):
    """Root of the routing errors: the inputs cannot be routed as given."""


class RulesError(RoutingError, ValueError):
    """A routing rule set is invalid; ``path`` names the offending setting."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


# --------------------------------------------------------------------------- inputs


class OrderLine(NamedTuple):
    """A SKU and how many units of it."""

    sku: str
    qty: int


class LocationKind(enum.StrEnum):
    """What a location is: stores ship from the shop floor, warehouses from racks."""

    STORE = "store"
    WAREHOUSE = "warehouse"


@dataclass(frozen=True, slots=True)
class ShipTo:
    """Where the parcel goes; coordinates when the marketplace gave them."""

    country: str
    postal_code: str
    lat: float | None = None
    lon: float | None = None

    def __post_init__(self) -> None:
        if (self.lat is None) != (self.lon is None):
            raise RoutingError("ship_to needs both lat and lon, or neither")
        if self.lat is not None and self.lon is not None:
            check_coordinates(self.lat, self.lon)


def _lines(lines: Iterable[OrderLine | tuple[str, int]]) -> tuple[OrderLine, ...]:
    out = []
    for sku, qty in lines:
        if not isinstance(sku, str) or not sku:
            raise RoutingError(f"a line needs a SKU, got {sku!r}")
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            raise RoutingError(f"line {sku!r}: quantity must be a positive integer, got {qty!r}")
        out.append(OrderLine(sku, qty))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class OrderToRoute:
    """A marketplace order as routing sees it."""

    order_id: str
    channel: str
    lines: tuple[OrderLine, ...]
    ship_to: ShipTo
    value: Money
    risk_flags: frozenset[str] = frozenset()
    allow_split: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", _lines(self.lines))
        object.__setattr__(self, "risk_flags", frozenset(self.risk_flags))
        if not self.lines:
            raise RoutingError(f"order {self.order_id!r} has no lines")

    @property
    def demand(self) -> dict[str, int]:
        """Units wanted per SKU, in first-seen order (a SKU on two lines is summed)."""
        out: dict[str, int] = {}
        for sku, qty in self.lines:
            out[sku] = out.get(sku, 0) + qty
        return out


@dataclass(frozen=True, slots=True)
class LocationState:
    """A location that might ship the order: where it is, how busy, what it has.

    ``stock`` is the sellable quantity per SKU after open reservations (on hand minus
    reserved); safety stock is kept apart so that a rule may choose to dip into it.
    ``daily_capacity`` None means no limit; ``channels`` None means every channel.
    """

    location_id: str
    kind: LocationKind
    lat: float
    lon: float
    stock: Mapping[str, int]
    online: bool = True
    daily_capacity: int | None = None
    current_load: int = 0
    channels: frozenset[str] | None = None
    safety_stock: int = 0
    safety_stock_by_sku: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", LocationKind(self.kind))
        check_coordinates(self.lat, self.lon)
        if self.daily_capacity is not None and self.daily_capacity < 0:
            raise RoutingError(f"{self.location_id}: daily_capacity must not be negative")
        if self.current_load < 0 or self.safety_stock < 0:
            raise RoutingError(f"{self.location_id}: load and safety stock must not be negative")

    def safety_for(self, sku: str) -> int:
        """Safety stock kept back for a SKU (per-SKU setting, else the location's)."""
        return self.safety_stock_by_sku.get(sku, self.safety_stock)

    def sellable(self, sku: str, *, safety_stock: bool = True) -> int:
        """Units of a SKU this location may promise, never negative."""
        held = self.safety_for(sku) if safety_stock else 0
        return max(0, self.stock.get(sku, 0) - held)


Candidate: TypeAlias = LocationState


# --------------------------------------------------------------------------- rules


class FilterKind(enum.StrEnum):
    """What a rule's filter checks."""

    STOCK = "stock"
    ONLINE = "online"
    CAPACITY = "capacity"
    DISTANCE = "distance"
    KIND = "kind"


class SortKind(enum.StrEnum):
    """How a rule ranks the locations that passed its filters."""

    SINGLE_SHIPMENT = "single_shipment"
    DISTANCE = "distance"
    LOAD = "load"
    MOST_STOCK = "most_stock"
    KIND = "kind"


class NoFillAction(enum.StrEnum):
    """What to do when no single location of a rule can ship the whole order."""

    NEXT_RULE = "next_rule"
    SPLIT = "split"
    UNROUTABLE = "unroutable"


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter of a rule; ``max_km``, ``safety_stock`` and ``kinds`` apply to their kinds."""

    kind: FilterKind
    max_km: float | None = None
    safety_stock: bool = True
    kinds: frozenset[LocationKind] = frozenset()

    def __post_init__(self) -> None:
        if self.kind is FilterKind.DISTANCE and (
            self.max_km is None or not math.isfinite(self.max_km) or self.max_km <= 0
        ):
            raise RulesError("max_km", "the distance filter needs a positive max_km")
        if self.kind is FilterKind.KIND and not self.kinds:
            raise RulesError("kinds", "the kind filter needs at least one location kind")


@dataclass(frozen=True, slots=True)
class Sort:
    """One sort of a rule; ``prefer`` orders location kinds for the kind sort."""

    kind: SortKind
    prefer: tuple[LocationKind, ...] = ()

    def __post_init__(self) -> None:
        if self.kind is SortKind.KIND and not self.prefer:
            raise RulesError("prefer", "the kind sort needs prefer = [kinds, best first]")


@dataclass(frozen=True, slots=True)
class Rule:
    """Filters, sorts and the action for an order no single location can fill."""

    name: str
    filters: tuple[Filter, ...]
    sorts: tuple[Sort, ...]
    on_no_fill: NoFillAction = NoFillAction.NEXT_RULE
    max_shipments: int | None = None

    @property
    def uses_safety_stock(self) -> bool:
        """False when the rule's stock filter allows dipping into safety stock."""
        return not any(f.kind is FilterKind.STOCK and not f.safety_stock for f in self.filters)


ANY_RISK_FLAG: Final = "*"


@dataclass(frozen=True, slots=True)
class RoutingRules:
    """A retailer's routing configuration: ordered rules plus the manual-review holds."""

    rules: tuple[Rule, ...]
    manual_review_over: Mapping[str, Money] = field(default_factory=dict)
    hold_on_risk_flags: frozenset[str] = frozenset({ANY_RISK_FLAG})
    explain_top: int = 20

    def __post_init__(self) -> None:
        if not self.rules:
            raise RulesError("rules", "at least one rule is needed")
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if not rule.name.strip():
                raise RulesError(f"rules[{i}].name", "a rule needs a name")
            if rule.name in seen:
                raise RulesError(f"rules[{i}].name", f"duplicate rule name {rule.name!r}")
            seen.add(rule.name)
        for currency, money in self.manual_review_over.items():
            if money.currency != currency:
                raise RulesError(f"manual_review_over.{currency}", f"amount is in {money.currency}")
        if self.explain_top < 1:
            raise RulesError("explain_top", "must be at least 1")


# --------------------------------------------------------------------------- decisions


class Outcome(enum.StrEnum):
    """What routing decided for the order."""

    ROUTED = "routed"
    SPLIT = "split"
    MANUAL_REVIEW = "manual_review"
    UNROUTABLE = "unroutable"


class RuleResult(enum.StrEnum):
    """How one rule ended."""

    FILLED = "filled"
    SPLIT = "split"
    NO_FILL = "no_fill"


class ReasonCode(enum.StrEnum):
    """Why a location was not chosen, as a code to count and filter on."""

    EXCLUDED = "excluded"
    CHANNEL = "channel"
    OFFLINE = "offline"
    CAPACITY = "capacity"
    DISTANCE = "distance"
    POSITION_UNKNOWN = "position_unknown"
    KIND = "kind"
    NO_STOCK = "no_stock"
    PARTIAL = "partial"
    RANKED_LOWER = "ranked_lower"
    NOT_NEEDED = "not_needed"


class Reason(NamedTuple):
    """A coded, human-readable reason a location lost."""

    code: ReasonCode
    text: str


@dataclass(frozen=True, slots=True)
class Assignment:
    """The lines one location ships."""

    location_id: str
    lines: tuple[OrderLine, ...]
    distance_km: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "location_id": self.location_id,
            "lines": [{"sku": s, "qty": q} for s, q in self.lines],
            "distance_km": _round_km(self.distance_km),
        }


@dataclass(frozen=True, slots=True)
class CandidateReport:
    """One location as a rule saw it: score components, rank, and why it lost."""

    location_id: str
    kind: LocationKind
    rank: int | None
    """Position in the rule's ranking (1 = best); None when a filter removed it."""
    chosen: bool
    distance_km: float | None
    load: int
    capacity: int | None
    covers_order: bool
    units_available: int
    """Units of the order this location could ship (each line capped at its quantity)."""
    reasons: tuple[Reason, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "location_id": self.location_id,
            "kind": self.kind.value,
            "rank": self.rank,
            "chosen": self.chosen,
            "distance_km": _round_km(self.distance_km),
            "load": self.load,
            "capacity": self.capacity,
            "covers_order": self.covers_order,
            "units_available": self.units_available,
            "reasons": [{"code": r.code.value, "text": r.text} for r in self.reasons],
        }


@dataclass(frozen=True, slots=True)
class RuleReport:
    """What one rule did: its result, a one-line note, and the candidates it ranked."""

    rule: str
    result: RuleResult
    note: str
    eligible: int
    filtered: int
    candidates: tuple[CandidateReport, ...]
    omitted: Mapping[str, int] = field(default_factory=dict)
    """Candidates left out of ``candidates`` (beyond ``explain_top``), counted by reason code."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule": self.rule,
            "result": self.result.value,
            "note": self.note,
            "eligible": self.eligible,
            "filtered": self.filtered,
            "candidates": [c.as_dict() for c in self.candidates],
            "omitted": dict(self.omitted),
        }


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """The outcome for one order with the full explanation, ready to store."""

    order_id: str
    outcome: Outcome
    assignments: tuple[Assignment, ...]
    rule: str | None
    summary: str
    ship_to: GeoPoint | None
    ship_to_source: str
    rules: tuple[RuleReport, ...]
    review_reasons: tuple[str, ...] = ()
    proposed: tuple[Assignment, ...] = ()
    """For manual review: what the rules would have done."""
    proposed_outcome: Outcome | None = None

    @property
    def location_ids(self) -> tuple[str, ...]:
        """The locations that ship (empty unless routed or split)."""
        return tuple(a.location_id for a in self.assignments)

    def explain(self) -> str:
        """A multi-line, human-readable explanation (the dashboard's routing detail)."""
        out = [f"order {self.order_id}: {self.summary}"]
        if self.ship_to is not None:
            out.append(
                f"ship-to: {self.ship_to.lat:.4f}, {self.ship_to.lon:.4f} ({self.ship_to_source})"
            )
        else:
            out.append(f"ship-to: position unknown ({self.ship_to_source})")
        out.extend(f"held: {reason}" for reason in self.review_reasons)
        for i, report in enumerate(self.rules, start=1):
            out.append(f'rule {i} "{report.rule}": {report.result.value}: {report.note}')
            for c in report.candidates:
                rank = f"#{c.rank}" if c.rank is not None else "--"
                dist = f"{c.distance_km:.1f} km" if c.distance_km is not None else "? km"
                cap = "no limit" if c.capacity is None else str(c.capacity)
                why = "chosen" if c.chosen else "; ".join(r.text for r in c.reasons)
                out.append(
                    f"  {rank:>4} {c.location_id} {c.kind.value} {dist} load {c.load}/{cap}: {why}"
                )
            if report.omitted:
                counts = ", ".join(f"{n} {code}" for code, n in sorted(report.omitted.items()))
                out.append(f"  (+ {sum(report.omitted.values())} more not listed: {counts})")
        return "\n".join(out)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for the decision log."""
        return {
            "order_id": self.order_id,
            "outcome": self.outcome.value,
            "assignments": [a.as_dict() for a in self.assignments],
            "rule": self.rule,
            "summary": self.summary,
            "ship_to": None
            if self.ship_to is None
            else {"lat": self.ship_to.lat, "lon": self.ship_to.lon},
            "ship_to_source": self.ship_to_source,
            "rules": [r.as_dict() for r in self.rules],
            "review_reasons": list(self.review_reasons),
            "proposed": [a.as_dict() for a in self.proposed],
            "proposed_outcome": None
            if self.proposed_outcome is None
            else self.proposed_outcome.value,
        }


def _round_km(km: float | None) -> float | None:
    return None if km is None else round(km, 3)


# --------------------------------------------------------------------------- evaluation


class _Cand:
    """Per-order working state of one candidate (mutable, internal).

    Work is done lazily: the distance is computed when a filter, a sort or the
    report needs it, and reason texts only for the candidates the report shows.
    """

    __slots__ = ("_distance", "avail", "avail_safe", "demand", "hard", "loc", "point", "util")

    def __init__(
        self,
        loc: LocationState,
        point: GeoPoint | None,
        hard: tuple[ReasonCode, ...],
        demand: Mapping[str, int],
    ) -> None:
        self.loc = loc
        self.point = point
        self.hard = hard
        self.demand = demand
        self._distance: float | None = None
        self.avail: dict[str, int] | None = None
        self.avail_safe: dict[str, int] | None = None
        cap = loc.daily_capacity
        self.util = 0.0 if cap is None else (math.inf if cap == 0 else loc.current_load / cap)

    @property
    def distance(self) -> float | None:
        """Great-circle km from the ship-to, None when the ship-to is not located."""
        if self._distance is None and self.point is not None:
            p, loc = self.point, self.loc
            self._distance = _haversine_km(p.lat, p.lon, loc.lat, loc.lon)
        return self._distance

    def available(self, *, safety: bool) -> dict[str, int]:
        """Sellable units per SKU of the order, computed once per safety mode."""
        cached = self.avail_safe if safety else self.avail
        if cached is None:
            stock = self.loc.stock
            if safety:
                by_sku, default = self.loc.safety_stock_by_sku, self.loc.safety_stock
                cached = {
                    sku: max(0, stock.get(sku, 0) - by_sku.get(sku, default)) for sku in self.demand
                }
                self.avail_safe = cached
            else:
                cached = {sku: max(0, stock.get(sku, 0)) for sku in self.demand}
                self.avail = cached
        return cached


def _covers(avail: Mapping[str, int], need: Mapping[str, int]) -> bool:
    return all(avail.get(sku, 0) >= q for sku, q in need.items())


def _units(avail: Mapping[str, int], need: Mapping[str, int]) -> int:
    return sum(min(avail.get(sku, 0), q) for sku, q in need.items())


def _fmt_km(a: float, b: float) -> tuple[str, str]:
    places = 1 if f"{a:.1f}" != f"{b:.1f}" else 3
    return f"{a:.{places}f} km", f"{b:.{places}f} km"


def _load_text(loc: LocationState) -> str:
    cap = "no limit" if loc.daily_capacity is None else str(loc.daily_capacity)
    return f"{loc.current_load}/{cap}"


def _stock_text(c: _Cand, sku: str, have: int, need: int, *, safety: bool) -> str:
    what = "no stock" if have == 0 else "short"
    held = c.loc.safety_for(sku) if safety else 0
    after = f" after safety stock {held}" if held else ""
    return f"{what} of SKU {sku} (has {have}{after}, needs {need})"


def _short_texts(c: _Cand, demand: Mapping[str, int], *, safety: bool) -> str:
    avail = c.available(safety=safety)
    return "; ".join(
        _stock_text(c, sku, avail[sku], q, safety=safety)
        for sku, q in demand.items()
        if avail[sku] < q
    )


_S_SINGLE: Final = SortKind.SINGLE_SHIPMENT
_S_DISTANCE: Final = SortKind.DISTANCE
_S_LOAD: Final = SortKind.LOAD
_S_MOST_STOCK: Final = SortKind.MOST_STOCK


class _Ranker:
    """Sort keys for one rule, and the sentence that says why one location ranks below another."""

    def __init__(self, rule: Rule, *, safety: bool) -> None:
        self.sorts = rule.sorts
        self.safety = safety

    def key(self, c: _Cand, need: Mapping[str, int]) -> tuple[Any, ...]:
        avail = c.available(safety=self.safety)
        parts: list[Any] = []
        for s in self.sorts:
            kind = s.kind
            if kind is _S_SINGLE:
                full = sum(1 for sku, q in need.items() if avail.get(sku, 0) >= q)
                parts.append((0 if full == len(need) else 1, -full, -_units(avail, need)))
            elif kind is _S_DISTANCE:
                dist = c.distance
                parts.append(math.inf if dist is None else dist)
            elif kind is _S_LOAD:
                parts.append((c.util, c.loc.current_load))
            elif kind is _S_MOST_STOCK:
                parts.append(-sum(avail.get(sku, 0) for sku in need))
            else:  # SortKind.KIND
                prefer = s.prefer
                parts.append(prefer.index(c.loc.kind) if c.loc.kind in prefer else len(prefer))
        parts.append(c.loc.location_id)
        return tuple(parts)

    def why_below(
        self, loser: _Cand, lkey: tuple[Any, ...], winner: _Cand, wkey: tuple[Any, ...]
    ) -> str:
        """Explain the first sort on which ``loser`` ranks after ``winner``."""
        w = winner.loc.location_id
        for i, s in enumerate(self.sorts):
            if lkey[i] == wkey[i]:
                continue
            if s.kind is SortKind.SINGLE_SHIPMENT:
                return f"can ship fewer of the order's lines than {w}"
            if s.kind is SortKind.DISTANCE:
                ld, wd = loser.distance, winner.distance
                if ld is None or wd is None:
                    return f"distance unknown, {w} is located"
                a, b = _fmt_km(ld, wd)
                return f"farther than {w} ({a} vs {b})"
            if s.kind is SortKind.LOAD:
                return f"busier than {w} (load {_load_text(loser.loc)} vs {_load_text(winner.loc)})"
            if s.kind is SortKind.MOST_STOCK:
                return f"less stock of the order's SKUs than {w} ({-lkey[i]} vs {-wkey[i]} units)"
            return f"{loser.loc.kind.value} ranks after {winner.loc.kind.value} {w}"
        return f"tied with {w} on every sort; {w} comes first by location id"


@dataclass(slots=True)
class _RuleRun:
    """Result of evaluating one rule (internal)."""

    report: RuleReport
    assignments: tuple[Assignment, ...] = ()


# Enum members bound once: attribute access on an enum class is slow in the hot loop.
_F_ONLINE: Final = FilterKind.ONLINE
_F_CAPACITY: Final = FilterKind.CAPACITY
_F_DISTANCE: Final = FilterKind.DISTANCE
_F_KIND: Final = FilterKind.KIND
_R_OFFLINE: Final = ReasonCode.OFFLINE
_R_CAPACITY: Final = ReasonCode.CAPACITY
_R_DISTANCE: Final = ReasonCode.DISTANCE
_R_POSITION: Final = ReasonCode.POSITION_UNKNOWN
_R_KIND: Final = ReasonCode.KIND
_R_NO_STOCK: Final = ReasonCode.NO_STOCK


def _failed_filters(
    c: _Cand,
    filters: Sequence[Filter],
    demand: Mapping[str, int],
    *,
    may_split: bool,
    ship_to_known: bool,
) -> tuple[ReasonCode, ...]:
    """The codes of every filter the candidate fails (hard limits alone when they apply)."""
    if c.hard:
        return c.hard  # excluded or wrong channel: the rule's filters do not matter
    failed: list[ReasonCode] = []
    loc = c.loc
    for f in filters:
        kind = f.kind
        if kind is _F_ONLINE:
            if not loc.online:
                failed.append(_R_OFFLINE)
        elif kind is _F_CAPACITY:
            cap = loc.daily_capacity
            if cap is not None and loc.current_load >= cap:
                failed.append(_R_CAPACITY)
        elif kind is _F_DISTANCE:
            if not ship_to_known:
                failed.append(_R_POSITION)
            else:
                dist = c.distance
                if dist is not None and f.max_km is not None and dist > f.max_km:
                    failed.append(_R_DISTANCE)
        elif kind is _F_KIND:
            if loc.kind not in f.kinds:
                failed.append(_R_KIND)
        else:  # FilterKind.STOCK
            avail = c.available(safety=f.safety_stock)
            for sku, q in demand.items():
                if avail[sku] < q:
                    # A location that can ship part of the order stays in when the rule
                    # may split; otherwise only whole-order locations pass.
                    if not may_split or not any(avail.values()):
                        failed.append(_R_NO_STOCK)
                    break
    return tuple(failed)


def _filter_texts(
    c: _Cand, codes: Iterable[ReasonCode], rule: Rule, demand: Mapping[str, int], channel: str
) -> tuple[Reason, ...]:
    """The sentences for the filters a candidate failed (built only for reported candidates)."""
    out = []
    loc = c.loc
    for code in codes:
        if code is ReasonCode.EXCLUDED:
            text = "excluded: already rejected or timed out on this order"
        elif code is ReasonCode.CHANNEL:
            text = f"does not ship for channel {channel}"
        elif code is ReasonCode.OFFLINE:
            text = "offline"
        elif code is ReasonCode.CAPACITY:
            text = f"at capacity {loc.current_load}/{loc.daily_capacity}"
        elif code is ReasonCode.POSITION_UNKNOWN:
            text = "distance unknown: ship-to not located"
        elif code is ReasonCode.DISTANCE:
            max_km = next(f.max_km for f in rule.filters if f.kind is FilterKind.DISTANCE)
            text = f"beyond {max_km:g} km ({c.distance:.1f} km)"
        elif code is ReasonCode.KIND:
            kinds = next(f.kinds for f in rule.filters if f.kind is FilterKind.KIND)
            allowed = ", ".join(sorted(k.value for k in kinds))
            text = f"{loc.kind.value} not allowed by this rule ({allowed})"
        else:  # ReasonCode.NO_STOCK
            safety = next(f.safety_stock for f in rule.filters if f.kind is FilterKind.STOCK)
            text = _short_texts(c, demand, safety=safety)
        out.append(Reason(code, text))
    return tuple(out)


def _evaluate_rule(
    rule: Rule,
    cands: Sequence[_Cand],
    demand: Mapping[str, int],
    *,
    channel: str,
    allow_split: bool,
    ship_to_known: bool,
    explain_top: int,
) -> _RuleRun:
    safety = rule.uses_safety_stock
    may_split = rule.on_no_fill is NoFillAction.SPLIT and allow_split
    ranker = _Ranker(rule, safety=safety)
    filters = rule.filters

    eligible: list[tuple[tuple[Any, ...], _Cand]] = []
    filtered: list[tuple[_Cand, tuple[ReasonCode, ...]]] = []
    for c in cands:
        codes = _failed_filters(
            c, filters, demand, may_split=may_split, ship_to_known=ship_to_known
        )
        if codes:
            filtered.append((c, codes))
        else:
            eligible.append((ranker.key(c, demand), c))
    eligible.sort(key=lambda kc: kc[0])

    # One parcel: the best-ranked location that has every line.
    winner: tuple[tuple[Any, ...], _Cand] | None = None
    for kc in eligible:
        if _covers(kc[1].available(safety=safety), demand):
            winner = kc
            break

    chosen: dict[str, dict[str, int]] = {}
    if winner is not None:
        result = RuleResult.FILLED
        chosen[winner[1].loc.location_id] = dict(demand)
        note = f"{winner[1].loc.location_id} ships the whole order"
    elif not eligible:
        result = RuleResult.NO_FILL
        note = "no eligible location" + _reason_counts(filtered)
        if rule.on_no_fill is NoFillAction.SPLIT and not allow_split:
            note += "; the order may not be split"
    elif may_split:
        chosen, missing = _split(eligible, demand, ranker, safety=safety)
        limit = rule.max_shipments
        if not missing and (limit is None or len(chosen) <= limit):
            result = RuleResult.SPLIT
            parts = ", ".join(
                f"{loc} ({' '.join(f'{s}x{q}' for s, q in lines.items())})"
                for loc, lines in chosen.items()
            )
            note = f"no single location has the whole order; split: {parts}"
        else:
            result = RuleResult.NO_FILL
            if missing:
                gap = ", ".join(f"SKU {s} by {q}" for s, q in missing.items())
                note = f"no single location has the whole order, and a split is short of {gap}"
            else:
                note = (
                    f"no single location has the whole order, and a split needs "
                    f"{len(chosen)} shipments (at most {limit})"
                )
            chosen = {}
    else:
        result = RuleResult.NO_FILL
        why = "the order may not be split" if not allow_split else "this rule does not split"
        note = f"no single location has the whole order and {why}"

    kept, omitted = _reports(
        eligible, filtered, chosen, winner, demand, ranker, rule, channel, safety, explain_top
    )
    report = RuleReport(
        rule.name, result, note, len(eligible), len(filtered), tuple(kept), dict(+omitted)
    )
    by_id = {c.loc.location_id: c for _, c in eligible}
    assignments = tuple(
        Assignment(
            loc_id,
            tuple(OrderLine(s, q) for s, q in lines.items()),
            by_id[loc_id].distance,
        )
        for loc_id, lines in chosen.items()
    )
    return _RuleRun(report, assignments)


def _split(
    eligible: Sequence[tuple[tuple[Any, ...], _Cand]],
    demand: Mapping[str, int],
    ranker: _Ranker,
    *,
    safety: bool,
) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Greedy cover: take the best-ranked location for what is still missing, until covered.

    Keys are recomputed against the remaining demand at each step, so the
    single-shipment sort prefers the location that covers most of what is left.
    """
    remaining = dict(demand)
    chosen: dict[str, dict[str, int]] = {}
    while remaining:
        best: tuple[tuple[Any, ...], _Cand] | None = None
        for _, c in eligible:
            if c.loc.location_id in chosen:
                continue
            if _units(c.available(safety=safety), remaining) == 0:
                continue
            key = ranker.key(c, remaining)
            if best is None or key < best[0]:
                best = (key, c)
        if best is None:
            break
        avail = best[1].available(safety=safety)
        take = {sku: min(avail.get(sku, 0), q) for sku, q in remaining.items()}
        take = {sku: q for sku, q in take.items() if q > 0}
        chosen[best[1].loc.location_id] = take
        for sku, q in take.items():
            remaining[sku] -= q
            if remaining[sku] == 0:
                del remaining[sku]
    return chosen, remaining


def _reason_counts(filtered: Sequence[tuple[_Cand, tuple[ReasonCode, ...]]]) -> str:
    if not filtered:
        return " (no candidates)"
    counts = Counter(codes[0].value for _, codes in filtered)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))  # not candidate order
    return " (" + ", ".join(f"{n} {code}" for code, n in ordered) + ")"


def _reports(
    eligible: Sequence[tuple[tuple[Any, ...], _Cand]],
    filtered: Sequence[tuple[_Cand, tuple[ReasonCode, ...]]],
    chosen: Mapping[str, Mapping[str, int]],
    winner: tuple[tuple[Any, ...], _Cand] | None,
    demand: Mapping[str, int],
    ranker: _Ranker,
    rule: Rule,
    channel: str,
    safety: bool,
    top: int,
) -> tuple[list[CandidateReport], Counter[str]]:
    """Reports for the chosen, the best ``top`` ranked and the first ``top`` filtered locations.

    The others are only counted, by the code of their first reason.
    """
    kept: list[CandidateReport] = []
    omitted: Counter[str] = Counter()
    chosen_names = ", ".join(chosen)
    for rank, (key, c) in enumerate(eligible, start=1):
        is_chosen = c.loc.location_id in chosen
        avail = c.available(safety=safety)
        covers = _covers(avail, demand)
        reasons: tuple[Reason, ...] = ()
        if not is_chosen:
            if not covers and (winner is not None or not chosen):
                code = ReasonCode.PARTIAL
            elif winner is not None:
                code = ReasonCode.RANKED_LOWER
            else:
                code = ReasonCode.NOT_NEEDED
            if rank > top:
                omitted[code.value] += 1
                continue
            if code is ReasonCode.PARTIAL:
                text = "cannot ship the whole order: " + _short_texts(c, demand, safety=safety)
            elif winner is not None:
                text = ranker.why_below(c, key, winner[1], winner[0])
            else:
                text = f"not needed: {chosen_names} cover the order"
            reasons = (Reason(code, text),)
        kept.append(_report(c, rank, is_chosen, covers, _units(avail, demand), reasons))

    # Filtered: the rule's own filters first, nearest first (the ones a person asks
    # about), then those out by hard limits (excluded, other channel), by id.
    def order(item: tuple[_Cand, tuple[ReasonCode, ...]]) -> tuple[bool, float, str]:
        c = item[0]
        if c.hard:
            return (True, 0.0, c.loc.location_id)
        dist = c.distance
        return (False, math.inf if dist is None else dist, c.loc.location_id)

    shown = heapq.nsmallest(top, filtered, key=order) if len(filtered) > top else filtered
    if len(shown) < len(filtered):
        omitted.update(codes[0].value for _, codes in filtered)
        omitted.subtract(codes[0].value for _, codes in shown)
    for c, codes in sorted(shown, key=order):
        avail = c.available(safety=safety)
        texts = _filter_texts(c, codes, rule, demand, channel)
        kept.append(_report(c, None, False, _covers(avail, demand), _units(avail, demand), texts))
    return kept, omitted


def _report(
    c: _Cand, rank: int | None, chosen: bool, covers: bool, units: int, reasons: tuple[Reason, ...]
) -> CandidateReport:
    return CandidateReport(
        location_id=c.loc.location_id,
        kind=c.loc.kind,
        rank=rank,
        chosen=chosen,
        distance_km=c.distance,
        load=c.loc.current_load,
        capacity=c.loc.daily_capacity,
        covers_order=covers,
        units_available=units,
        reasons=reasons,
    )


# --------------------------------------------------------------------------- entry points


def _resolve_ship_to(
    ship_to: ShipTo, postal: PostalCodeTable | None
) -> tuple[GeoPoint | None, str]:
    if ship_to.lat is not None and ship_to.lon is not None:
        return GeoPoint(ship_to.lat, ship_to.lon), "coordinates given with the order"
    where = f"{ship_to.country} {ship_to.postal_code!r}"
    if postal is None:
        return None, f"no coordinates for {where} and no postal table"
    try:
        match = postal.lookup(ship_to.country, ship_to.postal_code)
    except PostalCodeError as err:
        return None, f"postal code unreadable: {err}"
    if match is None:
        return None, f"postal code {where} is not in the postal table"
    return match.point, match.describe()


def _review_reasons(order: OrderToRoute, rules: RoutingRules) -> list[str]:
    reasons = []
    if rules.manual_review_over:
        limit = rules.manual_review_over.get(order.value.currency)
        if limit is None:
            reasons.append(f"no manual-review threshold is set for {order.value.currency} orders")
        elif order.value.amount_minor > limit.amount_minor:
            reasons.append(
                f"value {order.value.format()} {order.value.currency} is over "
                f"{limit.format()} {limit.currency}"
            )
    hold = rules.hold_on_risk_flags
    flagged = sorted(order.risk_flags if ANY_RISK_FLAG in hold else order.risk_flags & hold)
    if flagged:
        reasons.append("risk flag: " + ", ".join(flagged))
    return reasons


def _candidates(
    order: OrderToRoute,
    demand: Mapping[str, int],
    candidates: Iterable[LocationState],
    point: GeoPoint | None,
    exclude: frozenset[str],
) -> list[_Cand]:
    out: list[_Cand] = []
    seen: set[str] = set()
    channel = order.channel
    for loc in candidates:
        if loc.location_id in seen:
            raise RoutingError(f"location {loc.location_id!r} is listed twice")
        seen.add(loc.location_id)
        hard: tuple[ReasonCode, ...] = ()
        if loc.location_id in exclude:
            hard += (ReasonCode.EXCLUDED,)
        if loc.channels is not None and channel not in loc.channels:
            hard += (ReasonCode.CHANNEL,)
        out.append(_Cand(loc, point, hard, demand))
    return out


def _describe(assignments: Sequence[Assignment], kinds: Mapping[str, LocationKind]) -> str:
    parts = []
    for a in assignments:
        dist = "" if a.distance_km is None else f", {a.distance_km:.1f} km"
        parts.append(f"{a.location_id} ({kinds[a.location_id].value}{dist})")
    return ", ".join(parts)


def route(
    order: OrderToRoute,
    candidates: Iterable[LocationState],
    rules: RoutingRules,
    *,
    exclude: frozenset[str] = frozenset(),
    postal: PostalCodeTable | None = None,
    skip_review: bool = False,
) -> RoutingDecision:
    """Decide which location(s) ship ``order``, and say why.

    ``exclude`` holds locations that already rejected the order or let it time out
    (re-routing). ``postal`` places a ship-to that came without coordinates.
    ``skip_review`` routes an order a person has approved after a manual-review hold.
    """
    point, source = _resolve_ship_to(order.ship_to, postal)
    demand = order.demand
    cands = _candidates(order, demand, candidates, point, frozenset(exclude))
    kinds = {c.loc.location_id: c.loc.kind for c in cands}

    reports: list[RuleReport] = []
    outcome = Outcome.UNROUTABLE
    assignments: tuple[Assignment, ...] = ()
    used_rule: str | None = None
    for i, rule in enumerate(rules.rules):
        run = _evaluate_rule(
            rule,
            cands,
            demand,
            channel=order.channel,
            allow_split=order.allow_split,
            ship_to_known=point is not None,
            explain_top=rules.explain_top,
        )
        if run.assignments:
            reports.append(run.report)
            outcome = Outcome.ROUTED if len(run.assignments) == 1 else Outcome.SPLIT
            assignments = run.assignments
            used_rule = rule.name
            break
        if rule.on_no_fill is NoFillAction.UNROUTABLE:
            then = "the rule parks the order as unroutable"
        elif i + 1 < len(rules.rules):
            then = "on to the next rule"
        else:
            then = "no rule left"
        reports.append(replace(run.report, note=f"{run.report.note}; {then}"))
        if rule.on_no_fill is NoFillAction.UNROUTABLE:
            break

    if outcome is Outcome.ROUTED:
        summary = f'routed to {_describe(assignments, kinds)} by rule "{used_rule}"'
    elif outcome is Outcome.SPLIT:
        summary = (
            f"split over {len(assignments)} locations: {_describe(assignments, kinds)}"
            f' by rule "{used_rule}"'
        )
    else:
        summary = f"unroutable: {reports[-1].note}" if reports else "unroutable"

    review = [] if skip_review else _review_reasons(order, rules)
    if review:
        return RoutingDecision(
            order_id=order.order_id,
            outcome=Outcome.MANUAL_REVIEW,
            assignments=(),
            rule=used_rule,
            summary=f"held for manual review ({'; '.join(review)}); rules would say: {summary}",
            ship_to=point,
            ship_to_source=source,
            rules=tuple(reports),
            review_reasons=tuple(review),
            proposed=assignments,
            proposed_outcome=outcome,
        )
    return RoutingDecision(
        order_id=order.order_id,
        outcome=outcome,
        assignments=assignments,
        rule=used_rule,
        summary=summary,
        ship_to=point,
        ship_to_source=source,
        rules=tuple(reports),
    )


# --------------------------------------------------------------------------- candidates index


def _ships_for(loc: LocationState, channel: str) -> bool:
    return loc.channels is None or channel in loc.channels


class StockIndex:
    """SKU -> locations with sellable stock: the candidate selection, done in memory.

    The hub's database answers the same question with an index on
    ``stock_levels(sku)``; simulations and the benchmark use this class so that
    routing sees the same candidates it sees in production.
    """

    __slots__ = ("_by_sku", "_locations")

    def __init__(self, locations: Iterable[LocationState]) -> None:
        self._locations: dict[str, LocationState] = {}
        by_sku: dict[str, list[str]] = {}
        for loc in locations:
            if loc.location_id in self._locations:
                raise RoutingError(f"location {loc.location_id!r} is listed twice")
            self._locations[loc.location_id] = loc
            for sku, qty in loc.stock.items():
                if qty > 0:
                    by_sku.setdefault(sku, []).append(loc.location_id)
        self._by_sku = by_sku

    def __len__(self) -> int:
        return len(self._locations)

    @property
    def locations(self) -> Mapping[str, LocationState]:
        """Every indexed location by id."""
        return self._locations

    def location_ids_for(self, skus: Iterable[str], *, channel: str | None = None) -> list[str]:
        """Ids of the locations holding any of the SKUs (and shipping for ``channel``), sorted."""
        ids: set[str] = set()
        for sku in skus:
            ids.update(self._by_sku.get(sku, ()))
        if channel is not None:
            ids = {i for i in ids if _ships_for(self._locations[i], channel)}
        return sorted(ids)

    def candidates_for(
        self, skus: Iterable[str], *, channel: str | None = None
    ) -> list[LocationState]:
        """The locations holding any of the SKUs (the ``route`` candidates contract).

        With ``channel``, only the locations allowed to ship for it, as the database
        query does by joining the location's channels; ``route`` checks it again.
        """
        return [self._locations[i] for i in self.location_ids_for(skus, channel=channel)]


# --------------------------------------------------------------------------- simulation


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    """Totals of a simulation run, for comparing rule sets."""

    orders: int
    by_outcome: Mapping[str, int]
    by_rule: Mapping[str, int]
    shipments: int
    mean_distance_km: float | None
    max_distance_km: float | None
    shipments_by_location: Mapping[str, int]
    unroutable_order_ids: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "orders": self.orders,
            "by_outcome": dict(self.by_outcome),
            "by_rule": dict(self.by_rule),
            "shipments": self.shipments,
            "mean_distance_km": _round_km(self.mean_distance_km),
            "max_distance_km": _round_km(self.max_distance_km),
            "shipments_by_location": dict(self.shipments_by_location),
            "unroutable_order_ids": list(self.unroutable_order_ids),
        }


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Every decision of a simulation run, and their summary."""

    decisions: tuple[RoutingDecision, ...]
    summary: SimulationSummary


class _Depleted(Mapping[str, int]):
    """A location's stock minus what earlier simulated orders took (read-only view)."""

    __slots__ = ("_base", "_taken")

    def __init__(self, base: Mapping[str, int], taken: Mapping[str, int]) -> None:
        self._base = base
        self._taken = taken

    def __getitem__(self, sku: str) -> int:
        return self._base[sku] - self._taken.get(sku, 0)

    def __iter__(self) -> Iterator[str]:
        return iter(self._base)

    def __len__(self) -> int:
        return len(self._base)


def simulate(
    orders: Iterable[OrderToRoute],
    candidates: Iterable[LocationState],
    rules: RoutingRules,
    *,
    postal: PostalCodeTable | None = None,
    consume: bool = True,
) -> SimulationResult:
    """Run the rules over orders without acting: no reservation, no message, inputs untouched.

    Orders are routed in the given order. With ``consume`` each routed order takes
    its units and one unit of load from its locations in the simulation's own copy,
    so later orders see earlier ones (as they would have in production); orders
    held for review take nothing. Candidates per order come from a :class:`StockIndex`.
    """
    index = StockIndex(candidates)
    taken: dict[str, dict[str, int]] = {}
    extra_load: Counter[str] = Counter()
    decisions: list[RoutingDecision] = []
    for order in orders:
        cands = index.candidates_for(order.demand, channel=order.channel)
        if consume and (taken or extra_load):
            cands = [
                replace(
                    loc,
                    stock=_Depleted(loc.stock, taken[loc.location_id]),
                    current_load=loc.current_load + extra_load[loc.location_id],
                )
                if loc.location_id in taken
                else loc
                for loc in cands
            ]
        decision = route(order, cands, rules, postal=postal)
        decisions.append(decision)
        if consume:
            for a in decision.assignments:
                used = taken.setdefault(a.location_id, {})
                for sku, qty in a.lines:
                    used[sku] = used.get(sku, 0) + qty
                extra_load[a.location_id] += 1
    return SimulationResult(tuple(decisions), summarise(decisions))


def summarise(decisions: Iterable[RoutingDecision]) -> SimulationSummary:
    """Count outcomes, rules used, shipments and distances over decisions."""
    decisions = list(decisions)
    by_outcome = Counter(d.outcome.value for d in decisions)
    by_rule = Counter(d.rule for d in decisions if d.rule is not None and d.assignments)
    per_location: Counter[str] = Counter()
    distances: list[float] = []
    for d in decisions:
        for a in d.assignments:
            per_location[a.location_id] += 1
            if a.distance_km is not None:
                distances.append(a.distance_km)
    return SimulationSummary(
        orders=len(decisions),
        by_outcome=dict(sorted(by_outcome.items())),
        by_rule=dict(sorted(by_rule.items())),
        shipments=sum(per_location.values()),
        mean_distance_km=sum(distances) / len(distances) if distances else None,
        max_distance_km=max(distances) if distances else None,
        shipments_by_location=dict(sorted(per_location.items())),
        unroutable_order_ids=tuple(
            d.order_id for d in decisions if d.outcome is Outcome.UNROUTABLE
        ),
    )


# --------------------------------------------------------------------------- rules from config


_RULES_KEYS: Final = frozenset({"rules", "manual_review_over", "hold_on_risk_flags", "explain_top"})
_RULE_KEYS: Final = frozenset({"name", "filters", "sorts", "on_no_fill", "max_shipments"})
_FILTER_OPTIONS: Final[dict[FilterKind, frozenset[str]]] = {
    FilterKind.STOCK: frozenset({"safety_stock"}),
    FilterKind.ONLINE: frozenset(),
    FilterKind.CAPACITY: frozenset(),
    FilterKind.DISTANCE: frozenset({"max_km"}),
    FilterKind.KIND: frozenset({"kinds"}),
}
_SORT_OPTIONS: Final[dict[SortKind, frozenset[str]]] = {
    kind: frozenset({"prefer"}) if kind is SortKind.KIND else frozenset() for kind in SortKind
}


def _choice(path: str, value: object, enum_type: type[enum.StrEnum]) -> Any:
    if not isinstance(value, str):
        raise RulesError(path, f"expected a string, got {type(value).__name__}")
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum_type)
        raise RulesError(path, f"unknown value {value!r} (one of: {allowed})") from None


def _table(path: str, value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise RulesError(path, f"expected a table, got {type(value).__name__}")
    return value


def _list(path: str, value: object) -> list[object]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise RulesError(path, f"expected a list, got {type(value).__name__}")
    return list(value)


def _no_unknown(path: str, table: Mapping[str, object], allowed: Iterable[str]) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise RulesError(
            path or "routing",
            f"unknown setting {', '.join(map(repr, unknown))} "
            f"(allowed: {', '.join(sorted(allowed))})",
        )


def _kinds(path: str, value: object) -> tuple[LocationKind, ...]:
    items = _list(path, value)
    kinds = tuple(_choice(f"{path}[{i}]", v, LocationKind) for i, v in enumerate(items))
    if len(set(kinds)) != len(kinds):
        raise RulesError(path, "a location kind is listed twice")
    return kinds


def _parse_filter(path: str, raw: object) -> Filter:
    table: Mapping[str, object] = {"type": raw} if isinstance(raw, str) else _table(path, raw)
    kind: FilterKind = _choice(f"{path}.type", table.get("type"), FilterKind)
    _no_unknown(path, table, {"type"} | _FILTER_OPTIONS[kind])
    if kind is FilterKind.DISTANCE:
        max_km = table.get("max_km")
        if (
            isinstance(max_km, bool)
            or not isinstance(max_km, int | float)
            or not math.isfinite(max_km)
            or max_km <= 0
        ):
            raise RulesError(
                f"{path}.max_km", "the distance filter needs max_km, a positive number"
            )
        return Filter(kind, max_km=float(max_km))
    if kind is FilterKind.STOCK:
        safety = table.get("safety_stock", True)
        if not isinstance(safety, bool):
            raise RulesError(f"{path}.safety_stock", "expected true or false")
        return Filter(kind, safety_stock=safety)
    if kind is FilterKind.KIND:
        kinds = _kinds(f"{path}.kinds", table.get("kinds", []))
        if not kinds:
            raise RulesError(f"{path}.kinds", "the kind filter needs at least one location kind")
        return Filter(kind, kinds=frozenset(kinds))
    return Filter(kind)


def _parse_sort(path: str, raw: object) -> Sort:
    table: Mapping[str, object] = {"type": raw} if isinstance(raw, str) else _table(path, raw)
    kind: SortKind = _choice(f"{path}.type", table.get("type"), SortKind)
    _no_unknown(path, table, {"type"} | _SORT_OPTIONS[kind])
    if kind is SortKind.KIND:
        prefer = _kinds(f"{path}.prefer", table.get("prefer", []))
        if not prefer:
            raise RulesError(f"{path}.prefer", "the kind sort needs prefer = [kinds, best first]")
        return Sort(kind, prefer=prefer)
    return Sort(kind)


def _parse_rule(path: str, raw: object) -> Rule:
    table = _table(path, raw)
    _no_unknown(path, table, _RULE_KEYS)
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RulesError(f"{path}.name", "a rule needs a name")
    filters = tuple(
        _parse_filter(f"{path}.filters[{i}]", f)
        for i, f in enumerate(_list(f"{path}.filters", table.get("filters", [])))
    )
    kinds = [f.kind for f in filters]
    for kind in set(kinds):
        if kinds.count(kind) > 1:
            raise RulesError(f"{path}.filters", f"the {kind.value} filter is listed twice")
    sorts = tuple(
        _parse_sort(f"{path}.sorts[{i}]", s)
        for i, s in enumerate(_list(f"{path}.sorts", table.get("sorts", [])))
    )
    sort_kinds = [s.kind for s in sorts]
    if len(set(sort_kinds)) != len(sort_kinds):
        raise RulesError(f"{path}.sorts", "a sort is listed twice")
    on_no_fill = _choice(
        f"{path}.on_no_fill", table.get("on_no_fill", NoFillAction.NEXT_RULE.value), NoFillAction
    )
    max_shipments = table.get("max_shipments")
    if max_shipments is not None:
        if isinstance(max_shipments, bool) or not isinstance(max_shipments, int):
            raise RulesError(f"{path}.max_shipments", "expected a whole number")
        if max_shipments < 2:
            raise RulesError(f"{path}.max_shipments", "a split has at least 2 shipments")
        if on_no_fill is not NoFillAction.SPLIT:
            raise RulesError(f"{path}.max_shipments", 'only applies with on_no_fill = "split"')
    return Rule(name.strip(), filters, sorts, on_no_fill, max_shipments)


def _parse_thresholds(path: str, raw: object) -> dict[str, Money]:
    out: dict[str, Money] = {}
    for currency, amount in _table(path, raw).items():
        where = f"{path}.{currency}"
        try:
            check_currency(currency)
            if isinstance(amount, bool) or not isinstance(amount, str | int):
                raise RulesError(where, 'write the amount as a decimal string, e.g. "1000.00"')
            money = Money.parse(str(amount), currency)
        except MoneyError as err:
            raise RulesError(where, str(err)) from None
        if money.amount_minor < 0:
            raise RulesError(where, "must not be negative")
        out[currency] = money
    return out


def _parse_flags(path: str, raw: object) -> frozenset[str]:
    if raw is True:
        return frozenset({ANY_RISK_FLAG})
    if raw is False:
        return frozenset()
    flags = _list(path, raw)
    for i, flag in enumerate(flags):
        if not isinstance(flag, str) or not flag:
            raise RulesError(f"{path}[{i}]", "a risk flag is a non-empty string")
    return frozenset(str(f) for f in flags)


def rules_from_mapping(data: Mapping[str, object]) -> RoutingRules:
    """Build and validate routing rules from a TOML-shaped mapping (the ``[routing]`` table).

    Raises RulesError naming the setting, e.g. ``rules[1].filters[0].max_km: ...``.
    """
    table = _table("routing", data)
    _no_unknown("", table, _RULES_KEYS)
    if "rules" not in table:
        raise RulesError("rules", "at least one rule is needed")
    rules = tuple(
        _parse_rule(f"rules[{i}]", r) for i, r in enumerate(_list("rules", table["rules"]))
    )
    thresholds = _parse_thresholds("manual_review_over", table.get("manual_review_over", {}))
    flags = _parse_flags("hold_on_risk_flags", table.get("hold_on_risk_flags", [ANY_RISK_FLAG]))
    top = table.get("explain_top", 20)
    if isinstance(top, bool) or not isinstance(top, int):
        raise RulesError("explain_top", "expected a whole number")
    return RoutingRules(rules, thresholds, flags, top)


def rules_to_mapping(rules: RoutingRules) -> dict[str, Any]:
    """The inverse of :func:`rules_from_mapping` (to store the rules a decision used)."""

    def filt(f: Filter) -> dict[str, Any]:
        out: dict[str, Any] = {"type": f.kind.value}
        if f.kind is FilterKind.DISTANCE:
            out["max_km"] = f.max_km
        elif f.kind is FilterKind.STOCK and not f.safety_stock:
            out["safety_stock"] = False
        elif f.kind is FilterKind.KIND:
            out["kinds"] = sorted(k.value for k in f.kinds)
        return out

    def sort(s: Sort) -> str | dict[str, Any]:
        if s.kind is SortKind.KIND:
            return {"type": s.kind.value, "prefer": [k.value for k in s.prefer]}
        return s.kind.value

    def rule(r: Rule) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": r.name,
            "filters": [filt(f) for f in r.filters],
            "sorts": [sort(s) for s in r.sorts],
            "on_no_fill": r.on_no_fill.value,
        }
        if r.max_shipments is not None:
            out["max_shipments"] = r.max_shipments
        return out

    return {
        "rules": [rule(r) for r in rules.rules],
        "manual_review_over": {c: m.format() for c, m in rules.manual_review_over.items()},
        "hold_on_risk_flags": sorted(rules.hold_on_risk_flags),
        "explain_top": rules.explain_top,
    }


DEFAULT_RULES_MAPPING: Final[Mapping[str, object]] = {
    "manual_review_over": {"USD": "1000.00", "GBP": "800.00", "EUR": "900.00", "JPY": "150000"},
    "hold_on_risk_flags": [ANY_RISK_FLAG],
    "explain_top": 20,
    "rules": [
        {
            "name": "nearby, one parcel",
            "filters": [
                {"type": "online"},
                {"type": "capacity"},
                {"type": "stock"},
                {"type": "distance", "max_km": 300},
            ],
            "sorts": ["single_shipment", "distance", "load"],
            "on_no_fill": "next_rule",
        },
        {
            "name": "anywhere, split if needed",
            "filters": [{"type": "online"}, {"type": "capacity"}, {"type": "stock"}],
            "sorts": ["single_shipment", "distance", "load"],
            "on_no_fill": "split",
            "max_shipments": 3,
        },
    ],
}
"""The rules a retailer starts with (docs/routing.md shows them as TOML)."""

DEFAULT_RULES: Final = rules_from_mapping(DEFAULT_RULES_MAPPING)
