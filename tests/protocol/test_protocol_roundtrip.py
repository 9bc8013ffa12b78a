"""Encode -> decode gives back what was sent, unknown fields included."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import topics
from protocol.codec import (
    DecodedEvent,
    decode_down,
    decode_event_batch,
    decode_hub_status,
    decode_status,
    encode,
    encode_batch,
)
from protocol.envelope import Envelope, new_envelope
from protocol.errors import ValidationFailed
from protocol.messages import (
    EVENT_BODIES,
    EVENT_TYPES,
    AckMessage,
    CatalogMessage,
    CatalogProduct,
    CommandMessage,
    HubStatus,
    OrderMessage,
    SaleCompleted,
    StatusMessage,
    StockReceived,
)
from tests.protocol.samples import (
    DOWN_SAMPLES,
    EVENT_SAMPLES,
    HUB_STATUS,
    STATUS_BIRTH,
    STATUS_WILL,
    STORE,
    aware_datetimes,
    envelope_dict,
    event_bodies,
    json_values,
    store_ids,
    unknown_fields,
)

ENVELOPE_FIELDS = set(Envelope.model_fields)


def _only_decoded(results: list[Any]) -> list[DecodedEvent]:
    assert all(isinstance(r, DecodedEvent) for r in results), results
    return results


def test_every_event_type_has_a_sample_and_a_reverse_mapping() -> None:
    assert set(EVENT_SAMPLES) == set(EVENT_BODIES)
    for name, model in EVENT_BODIES.items():
        assert EVENT_TYPES[model] == name


@pytest.mark.parametrize("event_type", sorted(EVENT_SAMPLES))
def test_every_sample_event_decodes_to_its_model(event_type: str) -> None:
    payload = json.dumps([envelope_dict(event_type)]).encode()
    (result,) = _only_decoded(decode_event_batch(topics.up_events(STORE), payload))
    assert isinstance(result.body, EVENT_BODIES[event_type])
    assert result.envelope.type == event_type
    # and the body re-encodes to something that decodes to the same model
    again = new_envelope(STORE, 1, event_type, result.body, at=result.envelope.at)
    (second,) = _only_decoded(decode_event_batch(topics.up_events(STORE), encode_batch([again])))
    assert second.body == result.body


@settings(max_examples=60, deadline=None)
@given(
    store=store_ids,
    seq=st.integers(min_value=1, max_value=2**62),
    typed_body=event_bodies,
    at=aware_datetimes,
    envelope_extra=unknown_fields(ENVELOPE_FIELDS),
    body_extra=unknown_fields(set(SaleCompleted.model_fields) | {"sku", "qty", "delta"}),
)
def test_envelope_round_trip(
    store: str,
    seq: int,
    typed_body: tuple[str, dict[str, Any]],
    at: datetime,
    envelope_extra: dict[str, Any],
    body_extra: dict[str, Any],
) -> None:
    event_type, body = typed_body
    made = new_envelope(store, seq, event_type, {**body, **body_extra}, at=at)
    envelope = Envelope.model_validate({**made.model_dump(mode="json"), **envelope_extra})

    results = decode_event_batch(topics.up_events(store), encode_batch([envelope, envelope]))

    assert len(results) == 2
    for result in _only_decoded(results):
        assert result.envelope == envelope
        assert result.envelope.model_extra == envelope_extra
        assert result.envelope.at == at.astimezone(UTC).replace(
            microsecond=at.microsecond // 1000 * 1000
        )
        assert isinstance(result.body, EVENT_BODIES[event_type])
        for key, value in body_extra.items():
            assert result.envelope.body[key] == value
            assert getattr(result.body, key) == value
        assert encode(result.envelope) == encode(envelope)


@settings(max_examples=40, deadline=None)
@given(extra=unknown_fields(set(StatusMessage.model_fields)), store=store_ids)
def test_status_round_trip_keeps_unknown_fields(extra: dict[str, Any], store: str) -> None:
    status = StatusMessage.model_validate({**STATUS_BIRTH, "store": store, **extra})
    decoded = decode_status(topics.up_status(store), encode(status))
    assert decoded == status
    assert decoded.model_extra == extra


@settings(max_examples=40, deadline=None)
@given(extra=unknown_fields({"v", "id", "store", "seq", "kind", "args", "at"} | {"lines"}))
def test_down_messages_round_trip_keep_unknown_fields(extra: dict[str, Any]) -> None:
    for channel, sample in DOWN_SAMPLES.items():
        topic = f"acorn/v1/store/{STORE}/down/{channel}"
        first = decode_down(topic, json.dumps({**sample, **extra}).encode())
        second = decode_down(topic, encode(first))
        assert second == first
        assert second.model_extra == extra


def test_down_channels_pick_their_models() -> None:
    kinds = {
        "ack": AckMessage,
        "orders": OrderMessage,
        "catalog": CatalogMessage,
        "cmd": CommandMessage,
    }
    for channel, model in kinds.items():
        message = decode_down(
            f"acorn/v1/store/{STORE}/down/{channel}", json.dumps(DOWN_SAMPLES[channel]).encode()
        )
        assert type(message) is model


def test_status_birth_and_will_and_hub_status() -> None:
    birth = decode_status(topics.up_status(STORE), json.dumps(STATUS_BIRTH).encode())
    will = decode_status(topics.up_status(STORE), json.dumps(STATUS_WILL).encode())
    assert birth.online
    assert not will.online
    assert birth.bdSeq == will.bdSeq == 7
    assert will.devices == {}
    assert will.last_seq is None
    hub = decode_hub_status(json.dumps(HUB_STATUS).encode())
    assert hub == HubStatus(v=1, online=True, bdSeq=3, at=datetime(2026, 11, 27, 6, tzinfo=UTC))


def test_timestamps_go_out_as_utc_milliseconds_with_z() -> None:
    at = datetime(2026, 11, 27, 11, 0, 0, 123987, tzinfo=timezone(timedelta(hours=1)))
    envelope = new_envelope(STORE, 5, "stock.received", StockReceived(sku="A", qty=1), at=at)
    wire = json.loads(encode(envelope))
    assert wire["at"] == "2026-11-27T10:00:00.123Z"
    assert envelope.at == datetime(2026, 11, 27, 10, 0, 0, 123000, tzinfo=UTC)
    assert wire["v"] == 1
    assert UUID(wire["id"]).version == 4
    assert wire["body"] == {"sku": "A", "qty": 1, "reference": None}


@freeze_time("2026-11-27 10:00:00.5")
def test_new_envelope_defaults_to_now_utc() -> None:
    envelope = new_envelope(STORE, 1, "stock.counted", {"sku": "A", "counted": 0})
    assert envelope.at == datetime(2026, 11, 27, 10, 0, 0, 500000, tzinfo=UTC)


def test_new_envelope_validates_known_bodies() -> None:
    with pytest.raises(ValidationFailed) as info:
        new_envelope(STORE, 1, "stock.received", {"sku": "A", "qty": 0})
    assert info.value.errors == ["body.qty: Input should be greater than 0"]
    with pytest.raises(ValidationFailed, match="not a stock.adjusted body"):
        new_envelope(STORE, 1, "stock.adjusted", StockReceived(sku="A", qty=1))
    with pytest.raises(ValidationFailed, match="at: timestamp has no time zone"):
        new_envelope(STORE, 1, "stock.counted", {"sku": "A", "counted": 1}, at=datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValidationFailed, match="seq: Input should be greater than or equal to 1"):
        new_envelope(STORE, 0, "stock.counted", {"sku": "A", "counted": 1})
    with pytest.raises(ValidationFailed, match="store: store id 'S1'"):
        new_envelope("S1", 1, "stock.counted", {"sku": "A", "counted": 1})


def test_new_envelope_passes_unregistered_types_through_as_json() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    envelope = new_envelope(STORE, 1, "future.thing", {"when": at, "n": 1})
    assert envelope.body == {"when": "2026-01-01T00:00:00Z", "n": 1}


def test_catalog_barcodes_are_normalised_to_gtin14() -> None:
    product = CatalogProduct(
        sku="P", name="P", price_minor=1, tax_class="s", barcodes=["4006381333931", "96385074"]
    )
    assert product.barcodes == ["04006381333931", "00000096385074"]


@given(value=json_values)
def test_any_json_value_survives_as_an_unknown_body_field(value: Any) -> None:
    envelope = new_envelope(STORE, 1, "stock.counted", {"sku": "A", "counted": 1, "x_new": value})
    (result,) = _only_decoded(decode_event_batch(topics.up_events(STORE), encode(envelope)))
    assert result.envelope.body["x_new"] == value
    assert result.body.model_extra == {"x_new": value}


def test_python_dumps_keep_native_types_and_json_dumps_give_wire_strings() -> None:
    status = StatusMessage.model_validate(STATUS_BIRTH)
    assert status.model_dump()["at"] == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert status.model_dump(mode="json")["at"] == "2026-11-27T10:00:00.000Z"
    order = OrderMessage.model_validate(DOWN_SAMPLES["orders"])
    assert isinstance(order.model_dump()["id"], UUID)
    assert order.model_dump(mode="json")["id"] == DOWN_SAMPLES["orders"]["id"]
