"""Topic builders, store id validation and the topic parser."""

from __future__ import annotations

import pytest
from hypothesis import given

from protocol import topics
from protocol.errors import TopicError
from protocol.topics import ParsedTopic, parse_topic, validate_store_id
from tests.protocol.samples import store_ids

GOOD_STORE_IDS = ["s-012", "a", "0", "store-7", "x" * 32, "9-", "london-soho-01"]
BAD_STORE_IDS = [
    ("", "empty"),
    ("+", "'+'"),
    ("#", "'#'"),
    ("s/1", "'/'"),
    ("s+1", "'+'"),
    ("s-#", "'#'"),
    ("S-012", "lowercase"),
    ("-s", "starting with"),
    ("s_1", "lowercase letters"),
    ("s 1", "lowercase letters"),
    ("x" * 33, "at most 32"),
    ("s\n", "lowercase letters"),
    ("s\x001", "'\\x00'"),
    ("é", "lowercase letters"),
]


@pytest.mark.parametrize("store", GOOD_STORE_IDS)
def test_good_store_ids_are_returned_unchanged(store: str) -> None:
    assert validate_store_id(store) == store


@pytest.mark.parametrize(("store", "why"), BAD_STORE_IDS)
def test_bad_store_ids_are_refused_with_a_reason(store: str, why: str) -> None:
    with pytest.raises(TopicError) as info:
        validate_store_id(store)
    assert info.value.reason == "invalid_topic"
    assert why in str(info.value)


def test_non_string_store_id_is_refused() -> None:
    with pytest.raises(TopicError, match="must be a string"):
        validate_store_id(12)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        (topics.up_events, "acorn/v1/store/s-012/up/events"),
        (topics.up_status, "acorn/v1/store/s-012/up/status"),
        (topics.down_ack, "acorn/v1/store/s-012/down/ack"),
        (topics.down_orders, "acorn/v1/store/s-012/down/orders"),
        (topics.down_catalog, "acorn/v1/store/s-012/down/catalog"),
        (topics.down_cmd, "acorn/v1/store/s-012/down/cmd"),
        (topics.store_down_filter, "acorn/v1/store/s-012/down/#"),
    ],
)
def test_builders(builder: object, expected: str) -> None:
    assert callable(builder)
    assert builder("s-012") == expected


@pytest.mark.parametrize(
    "builder",
    [
        topics.up_events,
        topics.up_status,
        topics.down_ack,
        topics.down_orders,
        topics.down_catalog,
        topics.down_cmd,
        topics.store_down_filter,
    ],
)
@pytest.mark.parametrize("store", ["+", "#", "a/b", "", "A"])
def test_builders_refuse_wildcards_and_bad_ids(builder: object, store: str) -> None:
    assert callable(builder)
    with pytest.raises(TopicError):
        builder(store)


def test_constants() -> None:
    assert topics.TOPIC_ROOT == "acorn/v1"
    assert topics.HUB_STATUS == "acorn/v1/hub/status"
    assert topics.ALL_STORES_UP == "acorn/v1/store/+/up/#"
    assert topics.STORE_ID_PATTERN == r"[a-z0-9][a-z0-9-]{0,31}"


def test_shared_subscription() -> None:
    assert (
        topics.shared_subscription("ingest", topics.ALL_STORES_UP)
        == "$share/ingest/acorn/v1/store/+/up/#"
    )
    for group in ["", "a/b", "a+", "#"]:
        with pytest.raises(TopicError):
            topics.shared_subscription(group, topics.ALL_STORES_UP)
    with pytest.raises(TopicError):
        topics.shared_subscription("g", "")
    with pytest.raises(TopicError):
        topics.shared_subscription("g", "$share/h/acorn/v1/#")


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("acorn/v1/store/s-012/up/events", ParsedTopic("s-012", "up", "events")),
        ("acorn/v1/store/s-012/up/status", ParsedTopic("s-012", "up", "status")),
        ("acorn/v1/store/a/down/ack", ParsedTopic("a", "down", "ack")),
        ("acorn/v1/store/a/down/orders", ParsedTopic("a", "down", "orders")),
        ("acorn/v1/store/a/down/catalog", ParsedTopic("a", "down", "catalog")),
        ("acorn/v1/store/a/down/cmd", ParsedTopic("a", "down", "cmd")),
    ],
)
def test_parse_good_topics(topic: str, expected: ParsedTopic) -> None:
    parsed = parse_topic(topic)
    assert parsed == expected
    assert parsed.topic == topic


@pytest.mark.parametrize(
    ("topic", "why"),
    [
        ("acorn/v1/store/+/up/events", "wildcard"),
        ("acorn/v1/store/s-1/up/#", "wildcard"),
        ("acorn/v1/store/s-1/#", "wildcard"),
        ("acorn/v1/hub/status", "not a store topic"),
        ("acorn/v2/store/s-1/up/events", "not under acorn/v1/"),
        ("other/v1/store/s-1/up/events", "not under acorn/v1/"),
        ("acorn", "not under acorn/v1/"),
        ("", "not under acorn/v1/"),
        ("acorn/v1/store/s-1/up", "not a store topic"),
        ("acorn/v1/store/s-1/up/events/extra", "not a store topic"),
        ("acorn/v1/store/s-1/up/events/", "not a store topic"),
        ("/acorn/v1/store/s-1/up/events", "not under acorn/v1/"),
        ("acorn/v1/store/S-1/up/events", "lowercase"),
        ("acorn/v1/store//up/events", "empty"),
        ("acorn/v1/store/s-1/sideways/events", "direction"),
        ("acorn/v1/store/s-1/up/ack", "unknown up channel"),
        ("acorn/v1/store/s-1/down/events", "unknown down channel"),
        ("acorn/v1/shop/s-1/up/events", "not a store topic"),
    ],
)
def test_parse_refuses(topic: str, why: str) -> None:
    with pytest.raises(TopicError) as info:
        parse_topic(topic)
    assert why in str(info.value)
    assert info.value.reason == "invalid_topic"


@given(store=store_ids)
def test_every_builder_parses_back(store: str) -> None:
    built = {
        topics.up_events(store): ("up", "events"),
        topics.up_status(store): ("up", "status"),
        topics.down_ack(store): ("down", "ack"),
        topics.down_orders(store): ("down", "orders"),
        topics.down_catalog(store): ("down", "catalog"),
        topics.down_cmd(store): ("down", "cmd"),
    }
    for topic, (direction, channel) in built.items():
        assert parse_topic(topic) == ParsedTopic(store, direction, channel)  # type: ignore[arg-type]
