"""MQTT topic names of protocol v1: builders, filters and a strict parser.

Builders take a store id and refuse anything that is not a plain store id, so a
wildcard can never sneak into a topic someone publishes to. ``parse_topic`` is
the other direction: it accepts only concrete v1 store topics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from protocol.errors import TopicError

TOPIC_ROOT: Final = "acorn/v1"
STORE_ID_PATTERN: Final = r"[a-z0-9][a-z0-9-]{0,31}"
STORE_ID_MAX_LENGTH: Final = 32

HUB_STATUS: Final = f"{TOPIC_ROOT}/hub/status"
ALL_STORES_UP: Final = f"{TOPIC_ROOT}/store/+/up/#"

Direction: TypeAlias = Literal["up", "down"]

UP_CHANNELS: Final = frozenset({"events", "status"})
DOWN_CHANNELS: Final = frozenset({"ack", "orders", "catalog", "cmd"})
CHANNELS: Final[dict[str, frozenset[str]]] = {"up": UP_CHANNELS, "down": DOWN_CHANNELS}

_STORE_ID_RE: Final = re.compile(STORE_ID_PATTERN)
_MQTT_SPECIAL: Final = ("+", "#", "/", "\x00")


def validate_store_id(store: str) -> str:
    """Return store unchanged if it is a valid store id; raise TopicError saying why if not."""
    if not isinstance(store, str):
        raise TopicError(f"store id must be a string, got {type(store).__name__}")
    if not store:
        raise TopicError("store id is empty")
    for special in _MQTT_SPECIAL:
        if special in store:
            raise TopicError(
                f"store id {store!r} contains {special!r}; wildcards and separators are not allowed"
            )
    if len(store) > STORE_ID_MAX_LENGTH:
        raise TopicError(
            f"store id {store[:40]!r}... is {len(store)} characters; at most "
            f"{STORE_ID_MAX_LENGTH} allowed"
        )
    if _STORE_ID_RE.fullmatch(store) is None:
        raise TopicError(
            f"store id {store!r} must be lowercase letters, digits and '-', "
            "starting with a letter or digit"
        )
    return store


def _store_topic(store: str, direction: Direction, channel: str) -> str:
    return f"{TOPIC_ROOT}/store/{validate_store_id(store)}/{direction}/{channel}"


def up_events(store: str) -> str:
    """Topic the store publishes its event batches to."""
    return _store_topic(store, "up", "events")


def up_status(store: str) -> str:
    """Topic of the store's retained birth and Last Will."""
    return _store_topic(store, "up", "status")


def down_ack(store: str) -> str:
    """Topic the hub acknowledges the store's events on."""
    return _store_topic(store, "down", "ack")


def down_orders(store: str) -> str:
    """Topic the hub sends routed orders and cancellations on."""
    return _store_topic(store, "down", "orders")


def down_catalog(store: str) -> str:
    """Topic the hub sends catalog snapshots and deltas on."""
    return _store_topic(store, "down", "catalog")


def down_cmd(store: str) -> str:
    """Topic the hub sends commands (resend, count, config, ping) on."""
    return _store_topic(store, "down", "cmd")


def store_down_filter(store: str) -> str:
    """Subscription filter for everything the hub sends to one store."""
    return f"{TOPIC_ROOT}/store/{validate_store_id(store)}/down/#"


def shared_subscription(group: str, topic_filter: str) -> str:
    """MQTT 5 shared subscription ``$share/{group}/{filter}`` (hub workers split the load)."""
    if not isinstance(group, str) or not group:
        raise TopicError("shared subscription group is empty")
    for special in _MQTT_SPECIAL:
        if special in group:
            raise TopicError(f"shared subscription group {group!r} contains {special!r}")
    if not isinstance(topic_filter, str) or not topic_filter:
        raise TopicError("shared subscription topic filter is empty")
    if topic_filter.startswith("$share/"):
        raise TopicError(f"topic filter {topic_filter!r} is already a shared subscription")
    return f"$share/{group}/{topic_filter}"


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    """A concrete v1 store topic taken apart."""

    store: str
    direction: Direction
    channel: str

    @property
    def topic(self) -> str:
        """The topic string this was parsed from."""
        return _store_topic(self.store, self.direction, self.channel)


def parse_topic(topic: str) -> ParsedTopic:
    """Split a concrete v1 store topic into store, direction and channel; TopicError otherwise."""
    if not isinstance(topic, str):
        raise TopicError(f"topic must be a string, got {type(topic).__name__}")
    if "+" in topic or "#" in topic:
        raise TopicError(f"topic {topic!r} contains a wildcard; expected a concrete topic")
    parts = topic.split("/")
    if len(parts) < 2 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT:
        raise TopicError(f"topic {topic!r} is not under {TOPIC_ROOT}/")
    if len(parts) != 6 or parts[2] != "store":
        raise TopicError(
            f"topic {topic!r} is not a store topic "
            f"({TOPIC_ROOT}/store/{{store}}/up|down/{{channel}})"
        )
    _, _, _, store, direction, channel = parts
    validate_store_id(store)
    if direction == "up":
        if channel not in UP_CHANNELS:
            raise TopicError(f"topic {topic!r} has unknown up channel {channel!r}")
        return ParsedTopic(store, "up", channel)
    if direction == "down":
        if channel not in DOWN_CHANNELS:
            raise TopicError(f"topic {topic!r} has unknown down channel {channel!r}")
        return ParsedTopic(store, "down", channel)
    raise TopicError(f"topic {topic!r} has direction {direction!r}; expected 'up' or 'down'")
