"""Domain records kept as JSON documents, so reprints, returns and Z reports rebuild them exactly.

A completed sale, return or void is stored twice: as columns for queries and as
a document that decodes back into the very same frozen dataclass the domain
returned (``decode(encode(x)) == x``). Only the classes registered below can be
decoded; anything else in a document is refused.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from edge_agent.domain.discount import (
    AmountDiscount,
    AppliedDiscount,
    DiscountKind,
    DiscountScope,
    PercentDiscount,
)
from edge_agent.domain.returns import CompletedReturn, Disposition, ReturnedLine
from edge_agent.domain.sale import CompletedSale, PricedLine, PriceOverride, VoidRecord
from edge_agent.domain.shift import Shift
from edge_agent.domain.tax import TaxRate, TaxSummaryRow
from edge_agent.domain.tender import AppliedTender, TenderKind
from protocol.money import Money

T = TypeVar("T")

_DATACLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        CompletedSale,
        PricedLine,
        PriceOverride,
        AppliedDiscount,
        PercentDiscount,
        AmountDiscount,
        TaxRate,
        TaxSummaryRow,
        AppliedTender,
        VoidRecord,
        CompletedReturn,
        ReturnedLine,
        Shift,
    )
}
_ENUMS: dict[str, type[Enum]] = {
    cls.__name__: cls for cls in (TenderKind, DiscountScope, DiscountKind, Disposition)
}


class DocumentError(ValueError):
    """A stored document does not decode into a known domain record."""


def _to_json(value: Any) -> Any:
    if isinstance(value, Money):
        return {"$money": [value.amount_minor, value.currency]}
    if isinstance(value, Enum):
        return {"$enum": [type(value).__name__, value.value]}
    if isinstance(value, UUID):
        return {"$uuid": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if _DATACLASSES.get(name) is not type(value):
            raise DocumentError(f"{name} is not a storable domain record")
        out: dict[str, Any] = {"$type": name}
        for field in dataclasses.fields(value):
            out[field.name] = _to_json(getattr(value, field.name))
        return out
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    raise DocumentError(f"cannot store a {type(value).__name__} in a document")


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_from_json(v) for v in value)
    if not isinstance(value, dict):
        return value
    if "$money" in value:
        amount, currency = value["$money"]
        return Money(amount, currency)
    if "$enum" in value:
        name, raw = value["$enum"]
        return _ENUMS[name](raw)
    if "$uuid" in value:
        return UUID(value["$uuid"])
    if "$datetime" in value:
        return datetime.fromisoformat(value["$datetime"])
    if "$date" in value:
        return date.fromisoformat(value["$date"])
    name = value.get("$type")
    cls = _DATACLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise DocumentError(f"unknown document type {name!r}")
    kwargs = {k: _from_json(v) for k, v in value.items() if k != "$type"}
    return cls(**kwargs)


def encode_document(record: Any) -> str:
    """Serialise a domain record (CompletedSale, CompletedReturn, VoidRecord, Shift) to JSON."""
    return json.dumps(_to_json(record), separators=(",", ":"), sort_keys=True)


def decode_document(text: str, expected: type[T]) -> T:
    """Rebuild a domain record from its JSON; DocumentError if it is not an ``expected``."""
    try:
        value = _from_json(json.loads(text))
    except (KeyError, TypeError, ValueError) as err:
        raise DocumentError(f"stored document is damaged: {err}") from err
    if not isinstance(value, expected):
        raise DocumentError(f"stored document is a {type(value).__name__}, not {expected.__name__}")
    return value
