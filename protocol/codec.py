"""JSON encoding and decoding of every v1 payload, with typed errors and no I/O.

Every decoder runs the same checks in the same order: the size limit first
(before anything is parsed), then UTF-8 and JSON, then the protocol version,
then the model, then the store named by the topic against the store in the
body. Failures raise (or, for event batches, return) a
:class:`protocol.errors.ProtocolError` subclass whose ``reason`` is a stable
code and whose message says what was wrong; a pydantic ValidationError never
escapes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from protocol import PROTOCOL_VERSION
from protocol.envelope import Envelope, validate_body
from protocol.errors import (
    DecodeError,
    PayloadTooLarge,
    ProtocolError,
    StoreMismatch,
    TopicError,
    UnknownMessageType,
    UnsupportedVersion,
    ValidationFailed,
)
from protocol.fields import describe_validation_error, json_type_name
from protocol.messages import (
    EVENT_BODIES,
    AckMessage,
    CatalogMessage,
    CommandMessage,
    DownMessage,
    HubStatus,
    OrderMessage,
    StatusMessage,
)
from protocol.topics import ParsedTopic, parse_topic

MAX_PAYLOAD_BYTES: Final = 256 * 1024
"""Largest MQTT payload either side sends or accepts (256 KiB)."""

MAX_JSON_DEPTH: Final = 64
"""Deepest nesting of arrays and objects accepted (a batch of sales needs about 6).

Without a limit a payload could decode but not encode again (pydantic stops
serialising at about 250 levels), and the hub could not store what it received.
"""

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
"""Integers on the wire fit in signed 64 bits: what both sides' databases store."""

# Cheap pre-scan of a payload: only one that could hold an integer beyond 64 bits (19 or
# more digits), a number that overflows a float (a 3-digit exponent), a lone UTF-16
# surrogate escape (\ud800-\udfff) or a NUL (\u0000) has its values walked.
_SUSPECT_VALUES: Final = re.compile(rb"[0-9]{19}|[eE][+-]?[0-9]{3}|\\u(?:[dD][89a-fA-F]|0000)")

_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    """An event that passed every check: its envelope and its validated body model."""

    envelope: Envelope
    body: BaseModel


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """An event (or a whole payload, index None) that failed; raw is what arrived."""

    raw: Any
    error: ProtocolError
    index: int | None

    @property
    def reason(self) -> str:
        """The error's machine code (e.g. "invalid_message")."""
        return self.error.reason

    @property
    def seq(self) -> int | None:
        """The item's seq when it is readable as a positive 64-bit integer, else None."""
        if isinstance(self.raw, dict):
            seq = self.raw.get("seq")
            if isinstance(seq, int) and not isinstance(seq, bool) and 1 <= seq <= INT64_MAX:
                return seq
        return None

    @property
    def envelope_id(self) -> str | None:
        """The item's envelope id as sent (unchecked), when it is a string."""
        if isinstance(self.raw, dict):
            value = self.raw.get("id")
            if isinstance(value, str):
                return value
        return None


# --------------------------------------------------------------------------- encode


def _check_size(size: int, what: str = "payload") -> None:
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(size, MAX_PAYLOAD_BYTES, what=what)


def _check_payload_size(payload: bytes) -> None:
    if not isinstance(payload, bytes | bytearray):
        raise DecodeError(f"payload must be bytes, got {type(payload).__name__}")
    _check_size(len(payload))


def encode(model: BaseModel | Sequence[BaseModel]) -> bytes:
    """Encode a model (or a list of models, as a JSON array) to compact UTF-8 JSON.

    Raises PayloadTooLarge when the result is over MAX_PAYLOAD_BYTES, and
    ValidationFailed when a value cannot be written as JSON.
    """
    try:
        if isinstance(model, BaseModel):
            data = model.model_dump_json().encode("utf-8")
        else:
            items = (item.model_dump_json().encode("utf-8") for item in model)
            data = b"[" + b",".join(items) + b"]"
    except PydanticSerializationError as err:
        raise ValidationFailed("message", [f"cannot be written as JSON: {err}"]) from None
    _check_size(len(data), "encoded message")
    return data


def encode_batch(envelopes: Sequence[Envelope]) -> bytes:
    """Encode envelopes as the JSON-array payload of ``up/events``."""
    return encode(list(envelopes))


# --------------------------------------------------------------------------- decode helpers


def _refuse_constant(name: str) -> Any:
    raise DecodeError(f"payload is not JSON: {name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DecodeError(f"payload has the key {key!r} twice in one object")
            seen.add(key)
    return result


def _load_json(payload: bytes) -> Any:
    """Size check, then UTF-8, then JSON (no NaN/Infinity, no duplicate keys)."""
    _check_payload_size(payload)
    if not payload:
        raise DecodeError("payload is empty (a cleared retained message carries no data)")
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as err:
        raise DecodeError(f"payload is not UTF-8 (bad byte at offset {err.start})") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except DecodeError:
        raise
    except json.JSONDecodeError as err:
        raise DecodeError(
            f"payload is not JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    except RecursionError:
        raise DecodeError("payload is not acceptable JSON: nested too deeply") from None
    except ValueError as err:  # e.g. an integer with more digits than Python accepts
        raise DecodeError(f"payload is not acceptable JSON: {err}") from None
    if isinstance(data, dict | list):
        _check_depth(data)
    return data


def _check_depth(data: Any) -> None:
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        for child in children:
            if isinstance(child, dict | list):
                if depth >= MAX_JSON_DEPTH:
                    raise DecodeError(f"payload nests deeper than {MAX_JSON_DEPTH} levels")
                stack.append((child, depth + 1))


def _load_object(payload: bytes, what: str) -> dict[str, Any]:
    data = _load_json(payload)
    if not isinstance(data, dict):
        raise DecodeError(f"{what} must be a JSON object, got {json_type_name(data)}")
    return data


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def value_problems(data: Any) -> list[str]:
    """Name the values no side can store: integers beyond 64 bits, infinite numbers, text
    with a lone UTF-16 surrogate (escaped as ``\\ud800`` in JSON, but not Unicode) or a
    NUL character (``\\u0000``).

    They are JSON, but a database refuses them (SQLite and PostgreSQL integers are 64-bit,
    UTF-8 has no surrogates, PostgreSQL text has no NUL), so they are refused here, as
    ``invalid_message`` naming the field, rather than later by the database.
    """
    problems: list[str] = []
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                if _unstorable_text(key):
                    key = ascii(key)  # the problem's text must be storable itself
                    problems.append(f"{_path(where, key)}: key is not storable text")
                stack.append((_path(where, key), child))
        elif isinstance(value, list):
            stack.extend((_path(where, i), child) for i, child in enumerate(value))
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                problems.append(f"{where or 'value'}: integer out of range (more than 64 bits)")
        elif isinstance(value, float):
            if not math.isfinite(value):
                problems.append(f"{where or 'value'}: number out of range")
        elif isinstance(value, str) and _unstorable_text(value):
            problems.append(
                f"{where or 'value'}: text is not storable (a lone surrogate or a NUL character)"
            )
    return sorted(problems)


def _unstorable_text(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_values(obj: Any, what: str) -> None:
    problems = value_problems(obj)
    if problems:
        raise ValidationFailed(what, problems)


def _needs_value_check(payload: bytes) -> bool:
    return _SUSPECT_VALUES.search(payload) is not None


def check_version(obj: dict[str, Any], what: str) -> int:
    """Return the ``v`` of a decoded message; UnsupportedVersion if newer than ours."""
    if "v" not in obj:
        raise ValidationFailed(what, ["v: Field required"])
    version = obj["v"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationFailed(
            what, [f"v: Input should be a valid integer (got {json_type_name(version)})"]
        )
    if version > PROTOCOL_VERSION:
        raise UnsupportedVersion(version, PROTOCOL_VERSION)
    return version


def _validate(model: type[_M], obj: dict[str, Any], what: str) -> _M:
    try:
        return model.model_validate(obj)
    except ValidationError as err:
        raise ValidationFailed(what, describe_validation_error(err)) from None


def _expect_topic(topic: str, direction: str, channels: Sequence[str]) -> ParsedTopic:
    parsed = parse_topic(topic)
    if parsed.direction != direction or parsed.channel not in channels:
        expected = " or ".join(f"{direction}/{channel}" for channel in channels)
        raise TopicError(f"topic {topic!r} is not a {expected} topic")
    return parsed


def _check_store(parsed: ParsedTopic, body_store: str) -> None:
    if body_store != parsed.store:
        raise StoreMismatch(parsed.store, body_store)


# --------------------------------------------------------------------------- decode


def decode_envelope(
    item: Any, *, store: str | None = None, check_values: bool = True
) -> DecodedEvent:
    """Check one already-parsed envelope object (and, if given, that it is from store).

    ``check_values=False`` skips the walk for values no side can store (see
    :func:`value_problems`) when the caller already knows there are none.
    """
    if not isinstance(item, dict):
        raise ValidationFailed(
            "envelope", [f"expected an envelope object, got {json_type_name(item)}"]
        )
    check_version(item, "envelope")
    if check_values:
        _check_values(item, "envelope")
    envelope = _validate(Envelope, item, "envelope")
    if store is not None and envelope.store != store:
        raise StoreMismatch(store, envelope.store)
    if envelope.type not in EVENT_BODIES:
        raise UnknownMessageType(envelope.type)
    return DecodedEvent(envelope, validate_body(envelope.type, envelope.body))


def decode_event_batch(topic: str, payload: bytes) -> list[DecodedEvent | RejectedEvent]:
    """Decode an ``up/events`` payload into one result per envelope, in payload order.

    The payload is a JSON array of envelopes (one bare envelope object is accepted
    too). A bad item becomes a RejectedEvent with its index and never stops the
    others; a payload-level failure (too large, topic invalid, not JSON, wrong
    top-level shape) is a single RejectedEvent with index None. An empty array
    gives an empty list.
    """
    try:
        _check_payload_size(payload)
        parsed = _expect_topic(topic, "up", ("events",))
        data = _load_json(payload)
        if isinstance(data, dict):
            items: list[Any] = [data]
        elif isinstance(data, list):
            items = data
        else:
            raise DecodeError(
                "events payload must be a JSON array of envelopes (or one envelope object),"
                f" got {json_type_name(data)}"
            )
    except ProtocolError as err:
        return [RejectedEvent(payload, err, None)]
    results: list[DecodedEvent | RejectedEvent] = []
    check_values = _needs_value_check(payload)
    for index, item in enumerate(items):
        try:
            results.append(decode_envelope(item, store=parsed.store, check_values=check_values))
        except ProtocolError as err:
            results.append(RejectedEvent(item, err, index))
    return results


def decode_status(topic: str, payload: bytes) -> StatusMessage:
    """Decode a store's birth or Last Will from its ``up/status`` topic."""
    _check_payload_size(payload)
    parsed = _expect_topic(topic, "up", ("status",))
    obj = _load_object(payload, "status message")
    check_version(obj, "status message")
    if _needs_value_check(payload):
        _check_values(obj, "status message")
    message = _validate(StatusMessage, obj, "status message")
    _check_store(parsed, message.store)
    return message


def decode_down(topic: str, payload: bytes) -> DownMessage:
    """Decode a hub-to-store message; the topic's channel picks the model."""
    _check_payload_size(payload)
    parsed = _expect_topic(topic, "down", ("ack", "orders", "catalog", "cmd"))
    what = f"{parsed.channel} message"
    obj = _load_object(payload, what)
    check_version(obj, what)
    if _needs_value_check(payload):
        _check_values(obj, what)
    message: DownMessage
    if parsed.channel == "ack":
        message = _validate(AckMessage, obj, what)
    elif parsed.channel == "orders":
        message = _validate(OrderMessage, obj, what)
    elif parsed.channel == "catalog":
        message = _validate(CatalogMessage, obj, what)
    else:
        message = _validate(CommandMessage, obj, what)
    _check_store(parsed, message.store)
    return message


def decode_hub_status(payload: bytes) -> HubStatus:
    """Decode the hub's birth or Last Will from ``acorn/v1/hub/status``."""
    _check_payload_size(payload)
    obj = _load_object(payload, "hub status")
    check_version(obj, "hub status")
    if _needs_value_check(payload):
        _check_values(obj, "hub status")
    return _validate(HubStatus, obj, "hub status")
