"""Valid wire samples of every v1 message and Hypothesis strategies for the protocol tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from protocol.gtin import gs1_check_digit
from protocol.topics import STORE_ID_PATTERN

STORE = "s-012"
SALE_ID = "6f1c2a8e-4b1d-4f7a-9d3e-2c5b8a7e1f00"
ORDER_UUID = "0b9e6c3a-1d2f-4e5a-8b7c-9d0e1f2a3b4c"

# One valid body per event type, as it appears on the wire.
EVENT_SAMPLES: dict[str, dict[str, Any]] = {
    "sale.completed": {
        "sale_id": SALE_ID,
        "receipt_no": "012-0001-000123",
        "cashier_id": "c-07",
        "shift_id": "sh-2026-11-27-1",
        "business_day": "2026-11-27",
        "currency": "EUR",
        "prices_include_tax": True,
        "lines": [
            {
                "line_no": 1,
                "sku": "PEN-BLUE",
                "gtin": "4006381333931",
                "name": "Ballpoint pen, blue",
                "qty": 2,
                "unit_price_minor": 150,
                "discount_minor": 0,
                "tax_class": "standard",
                "tax_rate_bp": 2000,
                "tax_minor": 50,
                "total_minor": 300,
            }
        ],
        "subtotal_minor": 300,
        "tax_minor": 50,
        "total_minor": 300,
        "tenders": [{"kind": "cash", "amount_minor": 500, "change_minor": 200}],
        "completed_at": "2026-11-27T10:00:00.123Z",
    },
    "sale.voided": {
        "sale_id": SALE_ID,
        "cashier_id": "c-07",
        "reason": "customer left",
        "currency": "EUR",
        "total_minor": 1299,
        "lines_count": 3,
    },
    "return.completed": {
        "return_id": "7a2d4c6e-8f10-4b3a-a5c7-e9f1b3d5f7a9",
        "receipt_no": "012-0001-000124",
        "original_receipt_no": "012-0001-000123",
        "original_sale_id": SALE_ID,
        "cashier_id": "c-07",
        "manager_id": "m-01",
        "business_day": "2026-11-28",
        "currency": "EUR",
        "lines": [{"sku": "PEN-BLUE", "qty": 1, "refund_minor": 150, "restock": True}],
        "refund_total_minor": 150,
        "tenders": [{"kind": "cash", "amount_minor": 150}],
    },
    "stock.received": {"sku": "PEN-BLUE", "qty": 24, "reference": "DN-88123"},
    "stock.adjusted": {"sku": "PEN-BLUE", "delta": -2, "reason": "damaged"},
    "stock.counted": {"sku": "PEN-BLUE", "counted": 17},
    "stock.below_zero": {"sku": "PEN-BLUE", "on_hand": -1, "sale_id": SALE_ID},
    "order.accepted": {"order_id": "ord-000042"},
    "order.rejected": {
        "order_id": "ord-000042",
        "reason": "out_of_stock",
        "note": "last unit damaged",
        "skus_short": ["PEN-BLUE"],
    },
    "order.picked": {"order_id": "ord-000042", "lines": [{"sku": "PEN-BLUE", "qty": 1}]},
    "order.packed": {"order_id": "ord-000042", "parcels": 1},
    "order.handed_over": {
        "order_id": "ord-000042",
        "carrier": "DHL",
        "tracking_number": "JD014600003828",
        "lines": [{"sku": "PEN-BLUE", "qty": 1}],
    },
    "shift.closed": {
        "shift_id": "sh-2026-11-27-1",
        "cashier_id": "c-07",
        "business_day": "2026-11-27",
        "opened_at": "2026-11-27T07:58:00.000Z",
        "closed_at": "2026-11-27T16:02:10.500Z",
        "currency": "EUR",
        "sales_count": 41,
        "gross_minor": 52310,
        "discounts_minor": 1200,
        "tax_minor": 8718,
        "returns_minor": 150,
        "voids_count": 1,
        "tenders": {"cash": 20110, "card": 30850},
        "expected_cash_minor": 40110,
        "counted_cash_minor": 40100,
        "over_short_minor": -10,
    },
    "device.status": {
        "device": "printer-1",
        "kind": "printer",
        "state": "paper_out",
        "detail": "paper end sensor",
        "since": "2026-11-27T10:05:00.000Z",
    },
}


def envelope_dict(
    event_type: str, seq: int = 1, store: str = STORE, **extra: Any
) -> dict[str, Any]:
    """A valid envelope object (as decoded JSON) carrying the sample body of event_type."""
    return {
        "v": 1,
        "id": f"00000000-0000-4000-8000-{seq:012d}",
        "store": store,
        "seq": seq,
        "type": event_type,
        "at": "2026-11-27T10:00:00.123Z",
        "body": copy.deepcopy(EVENT_SAMPLES[event_type]),
        **extra,
    }


STATUS_BIRTH: dict[str, Any] = {
    "v": 1,
    "store": STORE,
    "online": True,
    "bdSeq": 7,
    "agent_version": "0.1.0",
    "outbox_depth": 3,
    "oldest_unsynced_age_s": 4.2,
    "last_seq": 1234,
    "devices": {"printer-1": {"kind": "printer", "state": "ok"}},
    "at": "2026-11-27T10:00:00.000Z",
}
STATUS_WILL: dict[str, Any] = {
    "v": 1,
    "store": STORE,
    "online": False,
    "bdSeq": 7,
    "at": "2026-11-27T09:59:59.000Z",
}
HUB_STATUS: dict[str, Any] = {"v": 1, "online": True, "bdSeq": 3, "at": "2026-11-27T06:00:00.000Z"}

DOWN_SAMPLES: dict[str, dict[str, Any]] = {
    "ack": {"v": 1, "store": STORE, "seq": 1234},
    "orders": {
        "v": 1,
        "id": ORDER_UUID,
        "store": STORE,
        "kind": "routed",
        "order_id": "ord-000042",
        "channel": "amazon-de",
        "marketplace_order_id": "302-1234567-7654321",
        "ship_by": "2026-11-28T16:00:00.000Z",
        "lines": [{"sku": "PEN-BLUE", "name": "Ballpoint pen, blue", "qty": 1, "location": "A3"}],
        "ship_to": {"name": "J. Doe", "postal_code": "10115", "country": "DE"},
        "at": "2026-11-27T10:01:00.000Z",
    },
    "catalog": {
        "v": 1,
        "id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
        "store": STORE,
        "version": 42,
        "kind": "delta",
        "currency": "EUR",
        "products": [
            {
                "sku": "PEN-BLUE",
                "name": "Ballpoint pen, blue",
                "price_minor": 150,
                "tax_class": "standard",
                "barcodes": ["04006381333931"],
                "cost_minor": 40,
            }
        ],
        "removed_skus": ["PEN-RED"],
        "at": "2026-11-27T09:00:00.000Z",
    },
    "cmd": {
        "v": 1,
        "id": "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f60",
        "store": STORE,
        "kind": "resend_from",
        "args": {"seq": 1200},
        "at": "2026-11-27T10:02:00.000Z",
    },
}

# --------------------------------------------------------------------------- strategies

store_ids = st.from_regex(STORE_ID_PATTERN, fullmatch=True)

_ZONES: list[tzinfo] = [
    UTC,
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=5, minutes=45)),
]
_ZONES += [ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")]
aware_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 2),  # noqa: DTZ001  (bounds of st.datetimes are naive)
    max_value=datetime(2099, 12, 30),  # noqa: DTZ001
    timezones=st.sampled_from(_ZONES),
)

wire_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
ids = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20
)
minor = st.integers(min_value=-(10**15), max_value=10**15)
non_negative_minor = st.integers(min_value=0, max_value=10**15)
positive = st.integers(min_value=1, max_value=10**6)
currencies = st.sampled_from(["EUR", "USD", "JPY", "BHD", "GBP"])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | wire_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(wire_text, children, max_size=3)
    ),
    max_leaves=8,
)


def unknown_fields(known: set[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Extra fields a future writer might add: names that are not fields of the model."""
    names = st.from_regex(r"x_[a-z0-9_]{1,12}", fullmatch=True).filter(lambda n: n not in known)
    return st.dictionaries(names, json_values, max_size=3)


@st.composite
def valid_gtins(draw: st.DrawFn) -> str:
    """Any EAN-8, UPC-A, EAN-13 or GTIN-14 with a correct check digit (never all zeros)."""
    length = draw(st.sampled_from([8, 12, 13, 14]))
    body = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    code = body + str(gs1_check_digit(body))
    if set(code) == {"0"}:
        code = body[:-1] + "1" + str(gs1_check_digit(body[:-1] + "1"))
    return code


sale_lines: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    line_no=positive,
    sku=ids,
    gtin=st.none() | valid_gtins(),
    name=wire_text,
    qty=positive,
    unit_price_minor=non_negative_minor,
    discount_minor=non_negative_minor,
    tax_class=wire_text,
    tax_rate_bp=st.integers(min_value=0, max_value=10_000),
    tax_minor=minor,
    total_minor=minor,
)
tenders: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    kind=st.sampled_from(["cash", "card", "other"]),
    amount_minor=minor,
    reference=st.none() | wire_text,
    change_minor=non_negative_minor,
)
sale_bodies: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    sale_id=st.uuids().map(str),
    receipt_no=ids,
    cashier_id=ids,
    shift_id=st.none() | ids,
    business_day=st.dates().map(lambda d: d.isoformat()),
    currency=currencies,
    prices_include_tax=st.booleans(),
    lines=st.lists(sale_lines, min_size=1, max_size=4),
    subtotal_minor=minor,
    tax_minor=minor,
    total_minor=minor,
    tenders=st.lists(tenders, min_size=1, max_size=3),
    completed_at=aware_datetimes.map(lambda d: d.isoformat()),
)
stock_bodies: st.SearchStrategy[tuple[str, dict[str, Any]]] = st.one_of(
    st.tuples(st.just("stock.received"), st.builds(dict, sku=ids, qty=positive)),
    st.tuples(
        st.just("stock.adjusted"),
        st.builds(dict, sku=ids, delta=minor.filter(bool), reason=wire_text),
    ),
    st.tuples(st.just("stock.counted"), st.builds(dict, sku=ids, counted=non_negative_minor)),
)
event_bodies = st.one_of(st.tuples(st.just("sale.completed"), sale_bodies), stock_bodies)
