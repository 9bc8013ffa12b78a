"""The fuzz generators themselves: good messages decode, broken ones fail as announced.

Without this the fuzz tests could pass on generators that never produce what they claim.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import topics
from protocol.codec import DecodedEvent, RejectedEvent, decode_event_batch
from tests.fuzz import generators as gen

STORE = "fz-gen"


@st.composite
def envelope_and_break(draw: Any) -> tuple[dict[str, Any], gen.Broken]:
    envelope = draw(gen.envelopes(STORE, draw(st.integers(1, 10**6))))
    return envelope, draw(gen.broken_envelope(envelope, "fz-other"))


@settings(max_examples=gen.examples(150), deadline=None, derandomize=True, database=None)
@given(case=envelope_and_break())
def test_good_envelopes_decode_and_broken_ones_fail_with_their_reason(
    case: tuple[dict[str, Any], gen.Broken],
) -> None:
    envelope, broken = case
    good, bad = decode_event_batch(topics.up_events(STORE), gen.dumps([envelope, broken.value]))
    assert isinstance(good, DecodedEvent)
    assert isinstance(bad, RejectedEvent)
    assert bad.reason == broken.reason, str(bad.error)


@settings(max_examples=gen.examples(100), deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_broken_payloads_fail_as_a_whole_with_their_reason(data: st.DataObject) -> None:
    payload = gen.dumps([data.draw(gen.envelopes(STORE, 1))])
    broken = data.draw(gen.broken_payload(payload))
    (result,) = decode_event_batch(topics.up_events(STORE), broken.value)
    assert isinstance(result, RejectedEvent)
    assert (result.reason, result.index) == (broken.reason, None)


def test_a_payload_of_exactly_the_limit_is_accepted() -> None:
    payload = gen.at_limit(gen.dumps([{**_sample(), "seq": 1}]))
    assert len(payload) == 256 * 1024
    (result,) = decode_event_batch(topics.up_events(STORE), payload)
    assert isinstance(result, DecodedEvent)


def _sample() -> dict[str, Any]:
    return {
        "v": 1,
        "id": gen.new_id(),
        "store": STORE,
        "type": "stock.counted",
        "at": gen.AT,
        "body": {"sku": "SKU-A", "counted": 1},
    }
