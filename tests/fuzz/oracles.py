"""What the fuzz tests expect: documented dead-letter reasons, stock after good events, and
the protocol decoder's verdict on a payload nobody can predict (blind mutations)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from protocol.codec import RejectedEvent, decode_event_batch, decode_status
from protocol.errors import ProtocolError
from protocol.topics import parse_topic

#: docs/hub.md, "Dead letters and replay".
HUB_REASONS = frozenset(
    {
        "invalid_json",
        "invalid_message",
        "unknown_type",
        "unsupported_version",
        "store_mismatch",
        "too_large",
        "invalid_topic",
        "unknown_store",
        "store_inactive",
        "seq_conflict",
        "duplicate_event_id",
        "apply_failed",
    }
)
#: Reasons that mean the hub itself failed (caught, but a bug to report).
HUB_FAILURES = frozenset({"apply_failed"})

#: docs/edge.md, "Dead letters".
EDGE_REASONS = frozenset(
    {
        "invalid_json",
        "invalid_message",
        "unknown_type",
        "unsupported_version",
        "store_mismatch",
        "currency_mismatch",
        "too_large",
        "invalid_topic",
        "handler_error",
    }
)
EDGE_FAILURES = frozenset({"handler_error"})


def expected_on_hand(envelopes: Iterable[dict[str, Any]]) -> dict[str, int]:
    """On-hand per SKU after a store's events, by the ledger's rule: the count with the
    highest seq, plus every delta with a higher seq (no reservations in the fuzz world)."""
    counts: dict[str, tuple[int, int]] = {}
    deltas: list[tuple[str, int, int]] = []
    for env in envelopes:
        body, seq, kind = env["body"], env["seq"], env["type"]
        if kind == "sale.completed":
            deltas += [(line["sku"], seq, -line["qty"]) for line in body["lines"]]
        elif kind == "return.completed":
            deltas += [(line["sku"], seq, line["qty"]) for line in body["lines"] if line["restock"]]
        elif kind == "stock.received":
            deltas.append((body["sku"], seq, body["qty"]))
        elif kind == "stock.adjusted":
            deltas.append((body["sku"], seq, body["delta"]))
        elif kind == "order.handed_over":
            deltas += [(line["sku"], seq, -line["qty"]) for line in body["lines"]]
        elif kind == "stock.counted" and seq > counts.get(body["sku"], (0, 0))[0]:
            counts[body["sku"]] = (seq, body["counted"])
    on_hand = {sku: qty for sku, (_, qty) in counts.items()}
    for sku, seq, delta in deltas:
        if seq > counts.get(sku, (0, 0))[0]:
            on_hand[sku] = on_hand.get(sku, 0) + delta
    return on_hand


def hub_verdict(topic: str, payload: bytes) -> tuple[int, Counter[str]]:
    """The protocol's verdict on one message as the hub decodes it: how many results it
    gives (items of a batch, or 1) and the reasons of those it rejects."""
    try:
        parsed = parse_topic(topic)
    except ProtocolError as err:
        return 1, Counter([err.reason])
    if parsed.direction != "up":
        return 1, Counter(["invalid_topic"])
    if parsed.channel == "status":
        try:
            decode_status(topic, payload)
        except ProtocolError as err:
            return 1, Counter([err.reason])
        return 1, Counter()
    results = decode_event_batch(topic, payload)
    rejected = Counter(r.reason for r in results if isinstance(r, RejectedEvent))
    return len(results), rejected
