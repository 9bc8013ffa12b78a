"""Every class of bad input gives a typed ProtocolError with a readable reason; none crash."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from protocol import topics
from protocol.codec import (
    MAX_JSON_DEPTH,
    MAX_PAYLOAD_BYTES,
    DecodedEvent,
    RejectedEvent,
    decode_down,
    decode_envelope,
    decode_event_batch,
    decode_hub_status,
    decode_status,
    encode,
    encode_batch,
)
from protocol.envelope import new_envelope
from protocol.errors import (
    ERROR_REASONS,
    DecodeError,
    PayloadTooLarge,
    ProtocolError,
    StoreMismatch,
    TopicError,
    UnknownMessageType,
    UnsupportedVersion,
    ValidationFailed,
)
from protocol.messages import StockCounted
from tests.protocol.samples import (
    DOWN_SAMPLES,
    HUB_STATUS,
    STATUS_BIRTH,
    STORE,
    envelope_dict,
)

EVENTS = topics.up_events(STORE)


def _one_rejection(payload: bytes, topic: str = EVENTS) -> RejectedEvent:
    results = decode_event_batch(topic, payload)
    assert len(results) == 1, results
    (result,) = results
    assert isinstance(result, RejectedEvent), result
    assert str(result.error)
    return result


def _batch(*items: Any) -> bytes:
    return json.dumps(list(items)).encode()


# --------------------------------------------------------------------------- invalid JSON


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"", "empty"),
        (b"\xff\xfe[]", "not UTF-8"),
        (b"[{", "not JSON"),
        (b"{'v': 1}", "not JSON"),
        (b"[1,]", "not JSON"),
        (b'[{"v": NaN}]', "NaN is not a JSON number"),
        (b'{"v": Infinity}', "Infinity is not a JSON number"),
        (b'{"v": 1, "v": 2}', "'v' twice"),
        (b'"hello"', "got string"),
        (b"42", "got number"),
        (b"null", "got null"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        (b"[" * 65 + b"]" * 65, "nests deeper than 64 levels"),
        (b'[{"body": ' + b'{"a": ' * 64 + b"1" + b"}" * 65 + b"]", "deeper than 64"),
        (b"[" + b"9" * 5000 + b"]", "not acceptable JSON"),
    ],
)
def test_invalid_json_is_one_payload_level_rejection(payload: bytes, why: str) -> None:
    rejected = _one_rejection(payload)
    assert isinstance(rejected.error, DecodeError)
    assert rejected.reason == "invalid_json"
    assert rejected.index is None
    assert rejected.raw == payload
    assert why in str(rejected.error)


@pytest.mark.parametrize("payload", [b"", b"\xc3\x28", b"[1", b"[]", b'"s"'])
def test_invalid_json_raises_from_the_single_message_decoders(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_status(topics.up_status(STORE), payload)
    with pytest.raises(DecodeError):
        decode_down(topics.down_ack(STORE), payload)
    with pytest.raises(DecodeError):
        decode_hub_status(payload)


def test_nesting_up_to_the_limit_decodes_and_encodes_again() -> None:
    deep: Any = 1
    for _ in range(MAX_JSON_DEPTH - 3):  # batch array, envelope, body, then these
        deep = [deep]
    item = envelope_dict("stock.counted")
    item["body"]["x_deep"] = deep
    (result,) = decode_event_batch(EVENTS, _batch(item))
    assert isinstance(result, DecodedEvent)
    assert json.loads(encode(result.envelope))["body"]["x_deep"] == deep


def test_encode_wraps_serialisation_failures() -> None:
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    envelope = new_envelope(STORE, 1, "stock.counted", {"sku": "A", "counted": 1})
    envelope.body["x_deep"] = deep
    with pytest.raises(ValidationFailed, match="cannot be written as JSON"):
        encode(envelope)


def test_payload_that_is_not_bytes_is_a_decode_error() -> None:
    rejected = _one_rejection("[]")  # type: ignore[arg-type]
    assert "must be bytes" in str(rejected.error)
    with pytest.raises(DecodeError, match="must be bytes"):
        decode_hub_status(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- wrong types


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"seq": "12"}, "seq: Input should be a valid integer (got string)"),
        ({"seq": 1.0}, "seq: Input should be a valid integer (got number)"),
        ({"seq": True}, "seq: Input should be a valid integer (got boolean)"),
        ({"seq": 0}, "seq: Input should be greater than or equal to 1"),
        ({"id": "not-a-uuid"}, "id: Input should be a valid UUID"),
        ({"id": 7}, "id: expected a UUID string, got number"),
        ({"at": "2026-11-27 10:00"}, "at: timestamp has no time zone"),
        ({"at": "yesterday"}, "at: 'yesterday' is not an ISO 8601 timestamp"),
        ({"at": 1764237600}, "at: expected an ISO 8601 timestamp string, got number"),
        ({"body": []}, "body: Input should be a valid dictionary (got array)"),
        ({"type": ""}, "type: String should have at least 1 character"),
        ({"v": "1"}, "v: Input should be a valid integer (got string)"),
        ({"v": 0}, "v: protocol version must be 1, got 0"),
    ],
)
def test_wrong_envelope_types_are_invalid_message(change: dict[str, Any], expected: str) -> None:
    rejected = _one_rejection(_batch({**envelope_dict("stock.counted"), **change}))
    assert isinstance(rejected.error, ValidationFailed)
    assert rejected.reason == "invalid_message"
    assert rejected.index == 0
    assert any(error.startswith(expected) for error in rejected.error.errors), rejected.error
    assert expected in str(rejected.error)


def test_missing_version_is_invalid_message() -> None:
    item = envelope_dict("stock.counted")
    del item["v"]
    rejected = _one_rejection(_batch(item))
    assert isinstance(rejected.error, ValidationFailed)
    assert rejected.error.errors == ["v: Field required"]


@pytest.mark.parametrize(
    ("event_type", "body_change", "expected"),
    [
        (
            "stock.counted",
            {"counted": -1},
            "body.counted: Input should be greater than or equal to 0",
        ),
        (
            "stock.counted",
            {"counted": "3"},
            "body.counted: Input should be a valid integer (got string)",
        ),
        ("stock.adjusted", {"delta": 0}, "body.delta: must not be 0"),
        ("stock.received", {"qty": 2.5}, "body.qty: Input should be a valid integer (got number)"),
        (
            "sale.voided",
            {"currency": "XXX"},
            "body.currency: unknown or unsupported currency code 'XXX'",
        ),
        (
            "sale.completed",
            {"lines": []},
            "body.lines: List should have at least 1 item after validation, not 0",
        ),
        (
            "sale.completed",
            {"prices_include_tax": 1},
            "body.prices_include_tax: Input should be a valid boolean (got number)",
        ),
        (
            "sale.completed",
            {"business_day": "2026-11-27T10:00:00Z"},
            "body.business_day: '2026-11-27T10:00:00Z' is not a date (YYYY-MM-DD)",
        ),
        (
            "order.rejected",
            {"reason": "bored"},
            "body.reason: Input should be 'out_of_stock', 'damaged', 'no_capacity' or 'other'",
        ),
        ("stock.below_zero", {"on_hand": 0}, "body.on_hand: Input should be less than 0"),
    ],
)
def test_wrong_body_types_are_invalid_message(
    event_type: str, body_change: dict[str, Any], expected: str
) -> None:
    item = envelope_dict(event_type)
    item["body"].update(body_change)
    rejected = _one_rejection(_batch(item))
    assert isinstance(rejected.error, ValidationFailed)
    assert expected in rejected.error.errors, rejected.error.errors
    assert f"invalid {event_type} event" in str(rejected.error)


def test_nested_field_errors_name_the_path() -> None:
    item = envelope_dict("sale.completed")
    item["body"]["lines"][0]["qty"] = 0
    item["body"]["tenders"][0]["kind"] = "cheque"
    del item["body"]["receipt_no"]
    rejected = _one_rejection(_batch(item))
    assert isinstance(rejected.error, ValidationFailed)
    assert rejected.error.errors == [
        "body.receipt_no: Field required",
        "body.lines[0].qty: Input should be greater than 0",
        "body.tenders[0].kind: Input should be 'cash', 'card' or 'other'",
    ]


def test_many_errors_are_all_kept_but_the_message_stays_short() -> None:
    rejected = _one_rejection(_batch({"v": 1, **{f"x{i}": i for i in range(3)}, "body": 1}))
    assert isinstance(rejected.error, ValidationFailed)
    assert len(rejected.error.errors) == 6
    big = ValidationFailed("thing", [f"f{i}: bad" for i in range(25)])
    assert len(big.errors) == 25
    assert str(big).endswith("f9: bad; and 15 more")


def test_item_that_is_not_an_object() -> None:
    rejected = _one_rejection(_batch("hello"))
    assert isinstance(rejected.error, ValidationFailed)
    assert rejected.error.errors == ["expected an envelope object, got string"]
    assert rejected.raw == "hello"


@pytest.mark.parametrize(
    ("channel", "change", "expected"),
    [
        ("ack", {"seq": -1}, "seq: Input should be greater than or equal to 0"),
        ("cmd", {"args": {}}, 'resend_from needs args {"seq": <integer >= 1>}'),
        (
            "cmd",
            {"kind": "reboot"},
            "kind: Input should be 'resend_from', 'stock_count', 'config' or 'ping'",
        ),
        ("orders", {"lines": []}, "a routed order needs at least one line"),
        ("catalog", {"version": 0}, "version: Input should be greater than or equal to 1"),
        (
            "catalog",
            {
                "products": [
                    {
                        "sku": "A",
                        "name": "A",
                        "price_minor": 1,
                        "tax_class": "s",
                        "barcodes": ["123"],
                    }
                ]
            },
            "products[0].barcodes[0]: barcode '123' has 3 digits, expected 8, 12, 13 or 14",
        ),
    ],
)
def test_wrong_down_messages_are_invalid_message(
    channel: str, change: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        decode_down(
            f"acorn/v1/store/{STORE}/down/{channel}",
            json.dumps({**DOWN_SAMPLES[channel], **change}).encode(),
        )
    assert any(error.startswith(expected) for error in info.value.errors), info.value.errors
    assert info.value.reason == "invalid_message"


def test_cancelled_order_may_have_no_lines() -> None:
    sample = {**DOWN_SAMPLES["orders"], "kind": "cancelled", "lines": []}
    message = decode_down(topics.down_orders(STORE), json.dumps(sample).encode())
    assert message.kind == "cancelled"  # type: ignore[union-attr]


def test_status_with_wrong_types() -> None:
    with pytest.raises(ValidationFailed) as info:
        decode_status(
            topics.up_status(STORE),
            json.dumps({**STATUS_BIRTH, "online": "yes", "bdSeq": None}).encode(),
        )
    assert info.value.errors == [
        "online: Input should be a valid boolean (got string)",
        "bdSeq: Input should be a valid integer (got null)",
    ]


# --------------------------------------------------------------------------- oversize


def _payload_of_exact_size(size: int) -> bytes:
    """A valid one-envelope batch padded (with an unknown body field) to exactly size bytes."""
    item = envelope_dict("stock.counted")
    item["body"]["x_pad"] = ""
    base = len(_batch(item))
    item["body"]["x_pad"] = "p" * (size - base)
    payload = _batch(item)
    assert len(payload) == size
    return payload


def test_exactly_256_kib_is_accepted() -> None:
    assert MAX_PAYLOAD_BYTES == 256 * 1024 == 262144
    payload = _payload_of_exact_size(MAX_PAYLOAD_BYTES)
    (result,) = decode_event_batch(EVENTS, payload)
    assert isinstance(result, DecodedEvent)


def test_one_byte_over_256_kib_is_too_large() -> None:
    payload = _payload_of_exact_size(MAX_PAYLOAD_BYTES + 1)
    rejected = _one_rejection(payload)
    assert isinstance(rejected.error, PayloadTooLarge)
    assert rejected.reason == "too_large"
    assert rejected.index is None
    assert str(rejected.error) == "payload is 262145 bytes, over the 262144-byte limit"


def test_size_is_checked_before_parsing() -> None:
    garbage = b"\xff" * (MAX_PAYLOAD_BYTES + 1)
    assert isinstance(_one_rejection(garbage).error, PayloadTooLarge)
    with pytest.raises(PayloadTooLarge):
        decode_status(topics.up_status(STORE), garbage)
    with pytest.raises(PayloadTooLarge):
        decode_down(topics.down_cmd(STORE), garbage)
    with pytest.raises(PayloadTooLarge):
        decode_hub_status(garbage)


def test_encode_refuses_over_the_limit_and_accepts_exactly_the_limit() -> None:
    envelope = new_envelope(STORE, 1, "stock.counted", {"sku": "A", "counted": 1, "x_pad": ""})
    base = len(encode_batch([envelope]))
    envelope.body["x_pad"] = "p" * (MAX_PAYLOAD_BYTES - base)
    assert len(encode_batch([envelope])) == MAX_PAYLOAD_BYTES
    envelope.body["x_pad"] += "p"
    with pytest.raises(PayloadTooLarge) as info:
        encode_batch([envelope])
    assert info.value.size == MAX_PAYLOAD_BYTES + 1
    assert info.value.limit == MAX_PAYLOAD_BYTES


# --------------------------------------------------------------------------- store mismatch


def test_topic_store_differs_from_body_store() -> None:
    rejected = _one_rejection(_batch(envelope_dict("stock.counted", store="s-999")))
    assert isinstance(rejected.error, StoreMismatch)
    assert rejected.reason == "store_mismatch"
    assert (rejected.error.topic_store, rejected.error.body_store) == (STORE, "s-999")
    assert str(rejected.error) == "message for store 's-999' arrived on the topic of store 's-012'"


def test_store_mismatch_on_status_and_down_messages() -> None:
    other = "s-999"
    with pytest.raises(StoreMismatch):
        decode_status(topics.up_status(other), json.dumps(STATUS_BIRTH).encode())
    for channel, sample in DOWN_SAMPLES.items():
        with pytest.raises(StoreMismatch):
            decode_down(f"acorn/v1/store/{other}/down/{channel}", json.dumps(sample).encode())
    with pytest.raises(StoreMismatch):
        decode_envelope(envelope_dict("stock.counted"), store=other)


# --------------------------------------------------------------------------- unknown type


def test_unknown_message_type() -> None:
    rejected = _one_rejection(_batch(envelope_dict("stock.counted", type="stock.teleported")))
    assert isinstance(rejected.error, UnknownMessageType)
    assert rejected.reason == "unknown_type"
    assert rejected.error.message_type == "stock.teleported"
    assert "'stock.teleported'" in str(rejected.error)


# --------------------------------------------------------------------------- future versions


def test_future_version_of_an_event() -> None:
    rejected = _one_rejection(_batch({**envelope_dict("stock.counted"), "v": 2, "body": "new"}))
    assert isinstance(rejected.error, UnsupportedVersion)
    assert rejected.reason == "unsupported_version"
    assert rejected.error.version == 2
    assert "version 2 is not supported" in str(rejected.error)


def test_future_version_is_checked_before_the_model() -> None:
    future = {"v": 3, "shape": "entirely different"}
    payload = json.dumps(future).encode()
    for decode in (
        lambda: decode_status(topics.up_status(STORE), payload),
        lambda: decode_down(topics.down_orders(STORE), payload),
        lambda: decode_hub_status(payload),
    ):
        with pytest.raises(UnsupportedVersion) as info:
            decode()
        assert info.value.version == 3
    with pytest.raises(UnsupportedVersion):
        decode_hub_status(json.dumps({**HUB_STATUS, "v": 2}).encode())


# --------------------------------------------------------------------------- topics


@pytest.mark.parametrize(
    "topic",
    [
        topics.up_status(STORE),
        topics.down_ack(STORE),
        "acorn/v1/store/+/up/events",
        "acorn/v1/hub/status",
        "acorn/v2/store/s-012/up/events",
    ],
)
def test_events_on_a_wrong_topic(topic: str) -> None:
    rejected = _one_rejection(_batch(envelope_dict("stock.counted")), topic=topic)
    assert isinstance(rejected.error, TopicError)
    assert rejected.reason == "invalid_topic"
    assert rejected.index is None


def test_single_message_decoders_check_their_topic() -> None:
    with pytest.raises(TopicError, match="not a up/status topic"):
        decode_status(topics.up_events(STORE), json.dumps(STATUS_BIRTH).encode())
    with pytest.raises(TopicError, match="down/ack or down/orders"):
        decode_down(topics.up_status(STORE), json.dumps(DOWN_SAMPLES["ack"]).encode())
    with pytest.raises(TopicError):
        decode_down("acorn/v1/store/s-012/down/#", json.dumps(DOWN_SAMPLES["ack"]).encode())


# --------------------------------------------------------------------------- batches


def test_a_bad_item_in_the_middle_does_not_block_the_others() -> None:
    items = [
        envelope_dict("stock.counted", seq=10),
        envelope_dict("stock.received", seq=11),
        {**envelope_dict("stock.counted", seq=12), "body": {"sku": "A", "counted": -5}},
        envelope_dict("stock.counted", seq=13, type="stock.unknown"),
        {**envelope_dict("stock.counted", seq=14), "v": 9},
        envelope_dict("stock.counted", seq=15, store="s-999"),
        "junk",
        envelope_dict("sale.completed", seq=16),
        envelope_dict("stock.adjusted", seq=17),
    ]
    results = decode_event_batch(EVENTS, _batch(*items))

    assert len(results) == len(items)
    good = [r for r in results if isinstance(r, DecodedEvent)]
    bad = [r for r in results if isinstance(r, RejectedEvent)]
    assert [r.envelope.seq for r in good] == [10, 11, 16, 17]
    assert [(r.index, r.reason, r.seq) for r in bad] == [
        (2, "invalid_message", 12),
        (3, "unknown_type", 13),
        (4, "unsupported_version", 14),
        (5, "store_mismatch", 15),
        (6, "invalid_message", None),
    ]
    assert bad[0].raw == items[2]
    assert bad[0].envelope_id == items[2]["id"]  # type: ignore[index]


def test_a_single_envelope_object_is_accepted_as_a_batch_of_one() -> None:
    (result,) = decode_event_batch(EVENTS, json.dumps(envelope_dict("stock.counted")).encode())
    assert isinstance(result, DecodedEvent)


def test_empty_batch_gives_nothing() -> None:
    assert decode_event_batch(EVENTS, b"[]") == []


def test_decode_envelope_accepts_an_encoded_outbox_row() -> None:
    envelope = new_envelope(STORE, 3, "stock.counted", StockCounted(sku="A", counted=2))
    decoded = decode_envelope(json.loads(encode(envelope)))
    assert decoded.envelope == envelope
    assert decoded.body == StockCounted(sku="A", counted=2)


# --------------------------------------------------------------------------- the error tree


def test_every_error_is_a_protocol_error_with_a_distinct_reason() -> None:
    assert set(ERROR_REASONS) == {
        "invalid_json",
        "too_large",
        "invalid_message",
        "unknown_type",
        "unsupported_version",
        "store_mismatch",
        "invalid_topic",
        "invalid_money",
        "invalid_gtin",
    }
    for reason, cls in ERROR_REASONS.items():
        assert issubclass(cls, ProtocolError)
        assert issubclass(cls, ValueError)
        assert cls.reason == reason


@pytest.mark.parametrize(
    "error",
    [
        DecodeError("payload is not JSON"),
        PayloadTooLarge(300_000, MAX_PAYLOAD_BYTES),
        ValidationFailed("envelope", ["seq: bad", "id: bad"]),
        UnknownMessageType("x.y"),
        UnsupportedVersion(2),
        StoreMismatch("s-1", "s-2"),
        TopicError("bad topic"),
        ProtocolError("custom", reason="invalid_message"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_survive_pickling(error: ProtocolError) -> None:
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert again.reason == error.reason
    assert vars(again) == vars(error)
