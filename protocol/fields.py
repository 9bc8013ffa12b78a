"""Building blocks shared by every wire model: the base model and the field types.

Wire models are strict: a number sent as a string, a boolean sent as 0/1 or a
float where an integer belongs is refused, not coerced. Timestamps, dates and
UUIDs travel as strings and are parsed here; timestamps must carry a zone, are
normalised to UTC and kept to the millisecond, which is what goes on the wire.
Unknown fields are kept (``extra="allow"``) so an older reader passes on what a
newer writer added.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, TypeAlias
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
    ValidationError,
)

from protocol import PROTOCOL_VERSION
from protocol.gtin import normalize_gtin
from protocol.money import check_currency
from protocol.topics import validate_store_id

_JSON_TYPE_NAMES: Final[dict[type, str]] = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def json_type_name(value: object) -> str:
    """Name the JSON type of a decoded value (object, array, string, ...) for error messages."""
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


class WireModel(BaseModel):
    """Base of every protocol model: strict types, unknown fields kept."""

    model_config = ConfigDict(strict=True, extra="allow")


def _parse_datetime(value: object) -> object:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{value[:40]!r} is not an ISO 8601 timestamp (e.g. 2026-11-27T10:00:00.123Z)"
            ) from None
    if isinstance(value, datetime):
        return value
    raise ValueError(f"expected an ISO 8601 timestamp string, got {json_type_name(value)}")


def to_utc_millis(value: datetime) -> datetime:
    """Return an aware datetime in UTC truncated to milliseconds; refuse naive datetimes."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp has no time zone (send UTC with a trailing Z)")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is out of range") from None
    return utc.replace(microsecond=utc.microsecond - utc.microsecond % 1000)


def format_utc(value: datetime) -> str:
    """Format a datetime as the wire form, e.g. "2026-11-27T10:00:00.123Z"."""
    utc = to_utc_millis(value)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def _parse_date(value: object) -> object:
    if isinstance(value, datetime):
        # pydantic turns only ValueError into a field error, so no TypeError here.
        raise ValueError("expected a date (YYYY-MM-DD), got a timestamp")  # noqa: TRY004
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value[:40]!r} is not a date (YYYY-MM-DD)") from None
    raise ValueError(f"expected a date string (YYYY-MM-DD), got {json_type_name(value)}")


def _uuid_text_or_uuid(value: object) -> object:
    # Lax UUID parsing (done by pydantic-core) would also take 16 raw bytes.
    if isinstance(value, str | UUID):
        return value
    raise ValueError(f"expected a UUID string, got {json_type_name(value)}")


def _gtin(value: str) -> str:
    return normalize_gtin(value)


UtcDatetime: TypeAlias = Annotated[
    datetime,
    BeforeValidator(_parse_datetime),
    AfterValidator(to_utc_millis),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]
"""An aware timestamp, normalised to UTC milliseconds, written as ``...T10:00:00.123Z``."""

IsoDate: TypeAlias = Annotated[
    date,
    BeforeValidator(_parse_date),
    PlainSerializer(date.isoformat, return_type=str, when_used="json"),
]
"""A calendar date (business day), written as ``YYYY-MM-DD``."""

WireUUID: TypeAlias = Annotated[
    UUID,
    Strict(False),
    BeforeValidator(_uuid_text_or_uuid),
    PlainSerializer(str, return_type=str, when_used="json"),
]
"""A UUID written in its canonical lowercase form."""

StoreId: TypeAlias = Annotated[str, AfterValidator(validate_store_id)]
Currency: TypeAlias = Annotated[str, AfterValidator(check_currency)]
Gtin14: TypeAlias = Annotated[str, AfterValidator(_gtin)]
"""A barcode: EAN-8, UPC-A, EAN-13 or GTIN-14 accepted, stored and sent as GTIN-14."""

Id: TypeAlias = Annotated[str, StringConstraints(min_length=1, max_length=128)]
"""A non-empty identifier (SKU, receipt number, order id, cashier id, ...)."""

Sku: TypeAlias = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Version: TypeAlias = Annotated[int, Field(ge=1)]
PositiveInt: TypeAlias = Annotated[int, Field(gt=0)]
NonNegativeInt: TypeAlias = Annotated[int, Field(ge=0)]

JsonObject: TypeAlias = dict[str, Any]


def _check_version(value: int) -> int:
    if value != PROTOCOL_VERSION:
        raise ValueError(f"protocol version must be {PROTOCOL_VERSION}, got {value}")
    return value


ProtocolVersion: TypeAlias = Annotated[int, AfterValidator(_check_version)]
"""The ``v`` field: the protocol major version (only 1 exists)."""


def _format_loc(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def describe_validation_error(error: ValidationError, *, prefix: str = "") -> list[str]:
    """Turn a pydantic ValidationError into readable "field: problem" strings."""
    problems: list[str] = []
    for item in error.errors(include_url=False):
        loc = _format_loc((prefix, *item["loc"]) if prefix else tuple(item["loc"]))
        message = str(item["msg"])
        for noise in ("Value error, ", "Assertion failed, "):
            if message.startswith(noise):
                message = message[len(noise) :]
        if str(item["type"]).endswith("_type") and "input" in item:
            message += f" (got {json_type_name(item['input'])})"
        problems.append(f"{loc}: {message}" if loc else message)
    return problems
