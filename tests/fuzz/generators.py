"""Hypothesis strategies for the fuzz suite: valid v1 messages, then ways to break them.

Valid messages are built as plain JSON dicts (what travels on the wire) and checked
against the protocol models once, in ``tests/fuzz/test_generators.py``. Mutations
come in two families:

- *structured* ones, whose dead-letter reason is known in advance (truncation,
  invalid UTF-8, not JSON, wrong shapes, broken or missing envelope fields, a newer
  version, oversized, the wrong store in topic or body, an unknown type, negative or
  out-of-range numbers, lone UTF-16 surrogates and NUL characters);
- *blind* ones (byte flips, insertions, deletions, a random JSON value in place of a
  random field), whose verdict the tests take from the protocol decoder itself.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from hypothesis import Phase
from hypothesis import strategies as st

from protocol.codec import MAX_PAYLOAD_BYTES
from protocol.gtin import gs1_check_digit

Json: TypeAlias = Any
DrawFn: TypeAlias = Callable[..., Any]

#: Scales every fuzz test's number of examples (1 = the default budget of `make test`).
FUZZ_SCALE = float(os.environ.get("ACORN_FUZZ_EXAMPLES", "1") or "1")


# No shrinking: the tests keep one database across examples (a fresh store each), so a
# shrunk replay would run against a different history. A failure prints its example.
FUZZ_PHASES = (Phase.explicit, Phase.reuse, Phase.generate)


def examples(default: int) -> int:
    """The number of hypothesis examples for a test, scaled by ``ACORN_FUZZ_EXAMPLES``."""
    return max(1, round(default * FUZZ_SCALE))


AT = "2026-11-27T09:30:00.000Z"
SKUS = ("SKU-A", "SKU-B", "SKU-C", "SKU-D")
INT64_MAX = 2**63 - 1

# Text that a till or an operator could type: Unicode scalar values (no lone surrogates),
# from a fixed alphabet of the awkward ones (cheaper to draw than any code point).
_ALPHABET = list("aZ09 -_.,;:/\\\"'{}[]\x01\x1f\x7féßø€中文😀\u200b\ufeff\U0010ffff")
text = st.text(alphabet=_ALPHABET, max_size=12)
ids = st.text(alphabet=_ALPHABET, min_size=1, max_size=12)
small_qty = st.integers(min_value=1, max_value=9)


def gtin14(n: int) -> str:
    """A valid GTIN-14 built from a small number (one per test product)."""
    body = f"{n:013d}"
    return body + str(gs1_check_digit(body))


_ids = itertools.count(1)


def new_id(draw: DrawFn | None = None) -> str:
    """A fresh UUID, never the same twice in a run (hypothesis would repeat drawn ones).

    Ids come from a counter, so a run is reproducible; ``draw`` is accepted for the body
    builders' uniform signature.
    """
    del draw
    return str(uuid.UUID(int=next(_ids) << 64 | 0xF022, version=4))


# --------------------------------------------------------------------------- event bodies


def _sale(draw: DrawFn) -> dict[str, Any]:
    lines = []
    for n in range(1, draw(st.integers(1, 3)) + 1):
        qty = draw(small_qty)
        lines.append(
            {
                "line_no": n,
                "sku": draw(st.sampled_from(SKUS)),
                "name": draw(text),
                "qty": qty,
                "unit_price_minor": 100,
                "discount_minor": 0,
                "tax_class": "standard",
                "tax_rate_bp": 2000,
                "tax_minor": 17 * qty,
                "total_minor": 100 * qty,
            }
        )
    total = sum(line["total_minor"] for line in lines)
    return {
        "sale_id": new_id(draw),
        "receipt_no": draw(ids),
        "cashier_id": draw(ids),
        "business_day": "2026-11-27",
        "currency": "EUR",
        "prices_include_tax": True,
        "lines": lines,
        "subtotal_minor": total,
        "tax_minor": sum(line["tax_minor"] for line in lines),
        "total_minor": total,
        "tenders": [{"kind": "cash", "amount_minor": total, "reference": None}],
        "completed_at": AT,
    }


def _return(draw: DrawFn) -> dict[str, Any]:
    lines = [
        {
            "sku": draw(st.sampled_from(SKUS)),
            "qty": draw(small_qty),
            "refund_minor": 100,
            "restock": draw(st.booleans()),
        }
        for _ in range(draw(st.integers(1, 2)))
    ]
    return {
        "return_id": new_id(draw),
        "receipt_no": draw(ids),
        "cashier_id": "c-1",
        "business_day": "2026-11-27",
        "currency": "EUR",
        "lines": lines,
        "refund_total_minor": 100 * len(lines),
        "tenders": [{"kind": "cash", "amount_minor": 100 * len(lines)}],
    }


def _order_lines(draw: DrawFn) -> list[dict[str, Any]]:
    return [
        {"sku": draw(st.sampled_from(SKUS)), "qty": draw(small_qty)}
        for _ in range(draw(st.integers(1, 2)))
    ]


_BODIES: dict[str, Callable[[DrawFn], dict[str, Any]]] = {
    "sale.completed": _sale,
    "return.completed": _return,
    "stock.received": lambda d: {"sku": d(st.sampled_from(SKUS)), "qty": d(small_qty)},
    "stock.adjusted": lambda d: {
        "sku": d(st.sampled_from(SKUS)),
        "delta": d(st.integers(-9, 9).filter(bool)),
        "reason": d(text),
    },
    "stock.counted": lambda d: {"sku": d(st.sampled_from(SKUS)), "counted": d(st.integers(0, 50))},
    "stock.below_zero": lambda d: {"sku": d(st.sampled_from(SKUS)), "on_hand": -d(small_qty)},
    "sale.voided": lambda d: {
        "sale_id": new_id(d),
        "cashier_id": "c-1",
        "reason": d(text),
        "currency": "EUR",
        "total_minor": d(st.integers(0, 10**6)),
        "lines_count": d(small_qty),
    },
    "order.accepted": lambda d: {"order_id": d(ids)},
    "order.rejected": lambda d: {
        "order_id": d(ids),
        "reason": d(st.sampled_from(["out_of_stock", "damaged", "no_capacity", "other"])),
    },
    "order.picked": lambda d: {"order_id": d(ids), "lines": _order_lines(d)},
    "order.packed": lambda d: {"order_id": d(ids), "parcels": d(small_qty)},
    "order.handed_over": lambda d: {
        "order_id": d(ids),
        "carrier": d(text),
        "tracking_number": d(text),
        "lines": _order_lines(d),
    },
    "shift.closed": lambda d: {
        "shift_id": d(ids),
        "cashier_id": "c-1",
        "business_day": "2026-11-27",
        "opened_at": AT,
        "closed_at": AT,
        "currency": "EUR",
        "sales_count": 1,
        "gross_minor": 100,
        "discounts_minor": 0,
        "tax_minor": 17,
        "returns_minor": 0,
        "voids_count": 0,
        "tenders": {"cash": 100},
        "expected_cash_minor": 100,
        "counted_cash_minor": 100,
        "over_short_minor": 0,
    },
    "device.status": lambda d: {
        "device": d(st.sampled_from(["printer-1", "scanner-1"])),
        "kind": d(st.sampled_from(["printer", "scanner", "drawer"])),
        "state": d(st.sampled_from(["ok", "paper_out", "offline"])),
        "since": AT,
    },
}
EVENT_TYPES = tuple(sorted(_BODIES))


@st.composite
def envelopes(draw: DrawFn, store: str, seq: int) -> dict[str, Any]:
    """A valid event envelope of any type for ``store`` at ``seq``, as a JSON dict."""
    event_type = draw(st.sampled_from(EVENT_TYPES))
    envelope = {
        "v": 1,
        "id": new_id(draw),
        "store": store,
        "seq": seq,
        "type": event_type,
        "at": AT,
        "body": _BODIES[event_type](draw),
    }
    if draw(st.integers(0, 9)) == 0:  # a newer till's field: kept and ignored
        envelope["till_extra"] = draw(text)
    return envelope


def status(store: str, bd_seq: int, *, online: bool, last_seq: int | None = None) -> dict[str, Any]:
    """A birth (online) or Last Will (offline) of a store."""
    message: dict[str, Any] = {"v": 1, "store": store, "online": online, "bdSeq": bd_seq, "at": AT}
    if online:
        message.update(agent_version="1.0.0", outbox_depth=0, last_seq=last_seq, devices={})
    return message


def dumps(value: Json) -> bytes:
    """Compact UTF-8 JSON, as ``protocol.codec.encode`` writes it (lone surrogates escaped)."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")


# --------------------------------------------------------------------------- structured mutations


@dataclass(frozen=True, slots=True)
class Broken:
    """A broken item or message and the reason it must be dead-lettered with."""

    value: Json
    reason: str


def _without(obj: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != key}


def _with(obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**obj, **changes}


# (field, replacement) pairs that make any valid envelope fail its model.
_BAD_ENVELOPE_FIELDS: tuple[tuple[str, Json], ...] = (
    ("seq", 0),
    ("seq", -1),
    ("seq", "7"),
    ("seq", 1.5),
    ("seq", True),
    ("seq", None),
    ("id", "not-a-uuid"),
    ("id", 12),
    ("at", "yesterday"),
    ("at", "2026-11-27T09:30:00"),  # no zone
    ("at", 1764235800),
    ("body", []),
    ("body", "{}"),
    ("type", ""),
    ("type", 5),
    ("type", "x" * 65),
    ("store", "S 1"),
    ("store", ""),
    ("v", 0),
    ("v", -1),
    ("v", "1"),
    ("v", 1.0),
    ("v", True),
    ("v", None),
)

# (body field, replacement): every event type that has the field refuses these values.
_BAD_BODY_FIELDS: tuple[tuple[str, Json], ...] = (
    ("qty", 0),
    ("qty", -3),
    ("qty", "2"),
    ("counted", -1),
    ("delta", 0),
    ("on_hand", 0),
    ("sku", ""),
    ("sku", None),
    ("currency", "XXX"),
    ("currency", "eur"),
    ("lines", "many"),
    ("sale_id", "nope"),
    ("order_id", ""),
    ("business_day", "27/11/2026"),
    ("reason", 5),
    ("kind", "teleporter"),
    ("since", "soon"),
)


@st.composite
def broken_envelope(draw: DrawFn, envelope: dict[str, Any], other_store: str) -> Broken:
    """A copy of a valid envelope broken in one way whose reason is known."""
    kind = draw(
        st.sampled_from(
            [
                "field",
                "missing",
                "version",
                "unknown_type",
                "body",
                "mismatch",
                "huge",
                "unstorable_text",
            ]
        )
    )
    if kind == "field":
        name, value = draw(st.sampled_from(_BAD_ENVELOPE_FIELDS))
        return Broken(_with(envelope, **{name: value}), "invalid_message")
    if kind == "missing":
        name = draw(st.sampled_from(["v", "id", "store", "seq", "type", "at", "body"]))
        return Broken(_without(envelope, name), "invalid_message")
    if kind == "version":
        version = draw(st.sampled_from([2, 3, 99, 2**70]))
        return Broken(_with(envelope, v=version), "unsupported_version")
    if kind == "unknown_type":
        name = draw(
            st.sampled_from(["sale.exploded", "stock.teleported", "x", "order." + "z" * 50])
        )
        return Broken(_with(envelope, type=name), "unknown_type")
    if kind == "mismatch":
        return Broken(_with(envelope, store=other_store), "store_mismatch")
    body = envelope["body"]
    if kind == "huge":
        # Larger than the 64-bit integers both sides store.
        value = draw(st.sampled_from([2**63, -(2**63) - 1, 10**30]))
        numeric = [k for k, v in body.items() if isinstance(v, int) and not isinstance(v, bool)]
        if numeric and draw(st.booleans()):
            return Broken(
                _with(envelope, body=_with(body, **{draw(st.sampled_from(numeric)): value})),
                "invalid_message",
            )
        return Broken(_with(envelope, seq=value), "invalid_message")
    if kind == "unstorable_text":  # a lone surrogate or a NUL: JSON, but no database takes it
        where = draw(st.sampled_from(["body", "extra", "type"]))
        lone = draw(st.sampled_from(["\ud800", "\udfff", "a\udbffb", "\x00", "a\x00b"]))
        if where == "extra":
            return Broken(_with(envelope, note=lone), "invalid_message")
        if where == "type":
            return Broken(_with(envelope, type=lone), "invalid_message")
        strings = [k for k, v in body.items() if isinstance(v, str)]
        key = draw(st.sampled_from(strings)) if strings else "added"
        return Broken(_with(envelope, body=_with(body, **{key: lone})), "invalid_message")
    candidates = [(k, v) for k, v in _BAD_BODY_FIELDS if k in body]
    if not candidates:
        return Broken(_with(envelope, body=[]), "invalid_message")
    name, value = draw(st.sampled_from(candidates))
    return Broken(_with(envelope, body=_with(body, **{name: value})), "invalid_message")


_NOT_JSON: tuple[bytes, ...] = (
    b"",
    b"{not json",
    b"NaN",
    b"[NaN]",
    b'[{"v": Infinity}]',
    b"[1,2,]",
    b"{'v': 1}",
    b'{"v":1,"v":1}',
    b'[{"a":1,"a":2}]',
    b"[" * 70 + b"]" * 70,
    b"\x00\x01\x02",
    b"1" * 5000,  # more digits than Python's int() accepts
    b"\xef\xbb\xbf[]",  # a UTF-8 byte order mark is not JSON
)
_INVALID_UTF8: tuple[bytes, ...] = (b"\x80", b"\xc0\xaf", b"\xff", b"\xed\xa0\x80", b"\xf5\x80")
_WRONG_TOP_LEVEL: tuple[bytes, ...] = (b"1", b'"events"', b"true", b"null", b"-0.5")


@st.composite
def broken_payload(draw: DrawFn, payload: bytes) -> Broken:
    """A valid payload broken as a whole: always ``invalid_json`` or ``too_large``."""
    kind = draw(st.sampled_from(["truncate", "utf8", "not_json", "top_level", "oversize"]))
    if kind == "truncate":
        return Broken(payload[: draw(st.integers(0, len(payload) - 1))], "invalid_json")
    if kind == "utf8":
        at = draw(st.integers(0, len(payload)))
        return Broken(
            payload[:at] + draw(st.sampled_from(_INVALID_UTF8)) + payload[at:], "invalid_json"
        )
    if kind == "not_json":
        garbage = draw(st.sampled_from(_NOT_JSON))
        if garbage == b"" or draw(st.booleans()):
            return Broken(garbage, "invalid_json")
        return Broken(b"x" + draw(st.binary(max_size=40)), "invalid_json")
    if kind == "top_level":
        return Broken(draw(st.sampled_from(_WRONG_TOP_LEVEL)), "invalid_json")
    # Over the 256 KiB limit by a little or a lot; refused before it is parsed.
    over = draw(st.sampled_from([1, 2, 4096]))
    return Broken(payload + b" " * (MAX_PAYLOAD_BYTES - len(payload) + over), "too_large")


def at_limit(payload: bytes) -> bytes:
    """The same payload padded with JSON whitespace to exactly the 256 KiB limit (accepted)."""
    return payload + b" " * (MAX_PAYLOAD_BYTES - len(payload))


# --------------------------------------------------------------------------- blind mutations

# Values put in place of a field by blind mutations: every JSON type, edge cases first.
# A fixed list keeps drawing cheap (a recursive strategy costs more than the message).
JSON_ODDITIES: tuple[Json, ...] = (
    None,
    True,
    False,
    0,
    1,
    -1,
    2**31,
    INT64_MAX,
    -(2**63),
    0.5,
    -0.0,
    1e308,
    "",
    "0",
    "1",
    "x",
    "\x00",
    "😀",
    "2026-11-27",
    "2026-11-27T10:00:00Z",
    "00000000-0000-4000-8000-000000000000",
    "04006381333931",
    [],
    [None],
    [1, "a"],
    {},
    {"v": 1},
    {"": None},
    [[[]]],
    {"a": {"b": [1.5]}},
)


def _paths(value: Json, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(value: Json, path: tuple[Any, ...], new: Json) -> Json:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


def mutate_blindly(rng: random.Random, value: Json) -> bytes:
    """Mutate a valid message without knowing what it will do: bytes or one JSON node.

    Driven by a ``random.Random`` seeded from a hypothesis draw: byte-level mutations by
    the thousand would cost more in hypothesis draws than the messages cost to apply.
    """
    payload = dumps(value)
    kind = rng.choice(["flip", "insert", "delete", "node", "drop", "random_json"])
    if kind == "flip":
        data = bytearray(payload)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data)
    if kind == "insert":
        at = rng.randint(0, len(payload))
        return payload[:at] + rng.randbytes(rng.randint(1, 4)) + payload[at:]
    if kind == "delete":
        at = rng.randrange(len(payload))
        return payload[:at] + payload[at + rng.randint(1, 8) :]
    if kind == "random_json":
        return dumps(rng.choice(JSON_ODDITIES))
    path = rng.choice(_paths(value))
    if kind == "drop" and path:
        container_path, key = path[:-1], path[-1]
        container = value
        for part in container_path:
            container = container[part]
        if isinstance(container, dict):
            reduced: Json = {k: v for k, v in container.items() if k != key}
        else:
            reduced = [v for i, v in enumerate(container) if i != key]
        return dumps(_replace(value, container_path, reduced))
    return dumps(_replace(value, path, rng.choice(JSON_ODDITIES)))
