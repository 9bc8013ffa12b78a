"""Broker conformance: what Acorn relies on, measured on Mosquitto and the embedded broker.

Each test runs on every (broker, protocol) pair that should support it: Mosquitto over MQTT 5
and 3.1.1, the embedded amqtt broker over 3.1.1 only. Where amqtt lacks a feature, a test
asserts the gap, so docs/brokers.md stays true: if amqtt ever gains it, that test fails.

Negative checks ("never delivered") use a sentinel published after the forbidden message on
the same connection, never a sleep (see tests/fixtures/mqtt.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fixtures.brokers import BrokerInfo
from tests.fixtures.mqtt import MqttConnectError, Will, mqtt_client
from tests.fixtures.util import wait_until

NOT_AUTHORIZED = 0x87  # MQTT 5 reason code; paho maps 3.1.1 CONNACK 5 onto it too
UNSUPPORTED_PROTOCOL_VERSION = 0x84
SUBACK_FAILURE = 0x80


@dataclass(frozen=True)
class Target:
    """A broker and the protocol version to speak to it."""

    broker: BrokerInfo
    protocol: int

    def __str__(self) -> str:
        return f"{self.broker.name}-mqtt{'5' if self.protocol == 5 else '311'}"


ALL = [("mosquitto", 5), ("mosquitto", 4), ("amqtt", 4)]
MOSQUITTO = [("mosquitto", 5), ("mosquitto", 4)]
_IDS = {5: "mqtt5", 4: "mqtt311"}
_SESSION_FIXTURE = {"mosquitto": "mosquitto", "amqtt": "amqtt_broker"}
_PRIVATE_FIXTURE = {"mosquitto": "mosquitto_private", "amqtt": "amqtt_private"}


def _params(pairs: list[tuple[str, int]]) -> list[object]:
    return [pytest.param(p, id=f"{p[0]}-{_IDS[p[1]]}") for p in pairs]


def _target(request: pytest.FixtureRequest, fixtures: dict[str, str]) -> Target:
    name, protocol = request.param
    broker: BrokerInfo = request.getfixturevalue(fixtures[name])
    assert broker.is_running(), f"the shared {name} broker is not running"
    return Target(broker, protocol)


@pytest.fixture(params=_params(ALL))
def target(request: pytest.FixtureRequest) -> Target:
    """Every (session broker, protocol) pair."""
    return _target(request, _SESSION_FIXTURE)


@pytest.fixture(params=_params(MOSQUITTO))
def mosquitto_target(request: pytest.FixtureRequest) -> Target:
    """Mosquitto over MQTT 5 and 3.1.1."""
    return _target(request, _SESSION_FIXTURE)


@pytest.fixture
def uid() -> str:
    """A short unique topic level, so tests sharing a session broker never meet."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def retained_cleanup(target: Target) -> Iterator[list[str]]:
    """Topics listed here get their retained message cleared after the test."""
    topics: list[str] = []
    yield topics
    if topics:
        with mqtt_client(target.broker, "hub", protocol=target.protocol) as hub:
            for topic in topics:
                hub.publish(topic, b"", qos=1, retain=True)


# --------------------------------------------------------------------------------------
# Connecting
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["hub", "observer", "s-001", "s-002", "s-003"])
def test_connect_with_credentials(target: Target, user: str) -> None:
    with mqtt_client(target.broker, user, protocol=target.protocol) as client:
        assert client.connack is not None
        assert not client.connack.is_failure
        assert client.session_present is False
        assert client.connected


@pytest.mark.parametrize(
    ("user", "password"),
    [
        pytest.param("s-001", "wrong-password", id="wrong-password"),
        pytest.param("s-001", "s-002-password", id="other-users-password"),
        pytest.param("nobody", "whatever", id="unknown-user"),
        pytest.param(None, None, id="no-username"),
    ],
)
def test_bad_credentials_refused(target: Target, user: str | None, password: str | None) -> None:
    assert target.broker.checks_passwords, "both fixture brokers check passwords"
    with (
        pytest.raises(MqttConnectError) as refused,
        mqtt_client(target.broker, user, protocol=target.protocol, password=password),
    ):
        pass
    assert refused.value.reason_code is not None
    assert refused.value.reason_code.value == NOT_AUTHORIZED


def test_mqtt5_connect_refused_by_amqtt_then_311_works(amqtt_broker: BrokerInfo) -> None:
    """amqtt speaks MQTT 3.1.1 only; the embedded broker refuses MQTT 5 at once (0x84)."""
    assert amqtt_broker.mqtt5 is False
    with pytest.raises(MqttConnectError) as refused, mqtt_client(amqtt_broker, "hub", protocol=5):
        pass
    assert refused.value.reason_code is not None
    assert refused.value.reason_code.value == UNSUPPORTED_PROTOCOL_VERSION
    # what the hub and the edge do next: fall back to 3.1.1
    with mqtt_client(amqtt_broker, "hub", protocol=4) as client:
        assert client.connected


# --------------------------------------------------------------------------------------
# Delivery
# --------------------------------------------------------------------------------------


def test_qos1_queued_for_persistent_session_across_disconnect(target: Target, uid: str) -> None:
    broker, proto = target.broker, target.protocol
    cid = f"till-{uid}"
    topic = f"acorn/v1/store/s-001/down/orders/{uid}"
    with mqtt_client(broker, "s-001", protocol=proto, client_id=cid, clean_start=False) as edge:
        assert edge.subscribe(topic, qos=1)[0].value == 1
    with mqtt_client(broker, "hub", protocol=proto) as hub:
        for n in range(3):
            assert not hub.publish(topic, f"order-{n}".encode(), qos=1).is_failure
    with mqtt_client(broker, "s-001", protocol=proto, client_id=cid, clean_start=False) as edge:
        assert edge.session_present is True
        got = edge.messages.wait_for(3)
        assert [m.payload for m in got] == [b"order-0", b"order-1", b"order-2"]
        assert all(m.qos == 1 and m.topic == topic for m in got)
    # a clean start discards the session on both brokers
    with mqtt_client(broker, "s-001", protocol=proto, client_id=cid, clean_start=True) as edge:
        assert edge.session_present is False


def test_retained_status_seen_by_late_subscriber(
    target: Target, uid: str, retained_cleanup: list[str]
) -> None:
    topic = f"acorn/v1/store/s-001/up/status/{uid}"
    retained_cleanup.append(topic)
    with mqtt_client(target.broker, "s-001", protocol=target.protocol) as edge:
        edge.publish(topic, b'{"online": true, "bdSeq": 7}', qos=1, retain=True)
    with mqtt_client(target.broker, "hub", protocol=target.protocol) as hub:
        hub.subscribe(f"acorn/v1/store/+/up/status/{uid}")
        (msg,) = hub.messages.wait_for(1)
    assert msg.retain is True
    assert msg.json() == {"online": True, "bdSeq": 7}


def test_last_will_on_abrupt_disconnect(
    target: Target, uid: str, retained_cleanup: list[str]
) -> None:
    topic = f"acorn/v1/store/s-002/up/status/{uid}"
    retained_cleanup.append(topic)
    will = Will(topic, b'{"online": false, "bdSeq": 3}', qos=1, retain=True)
    with mqtt_client(target.broker, "hub", protocol=target.protocol) as hub:
        hub.subscribe(topic)
        with mqtt_client(target.broker, "s-002", protocol=target.protocol, will=will) as edge:
            edge.abort()  # TCP closed without DISCONNECT: a crash or a pulled cable
        live = hub.messages.wait_for(1)
    # QoS 1 is at least once: a loaded broker may deliver a copy; every copy is the Will
    assert [m.json() for m in live] == [{"online": False, "bdSeq": 3}] * len(live)
    # the Will was retained: whoever subscribes later still sees the store offline
    with mqtt_client(target.broker, "observer", protocol=target.protocol) as late:
        late.subscribe(topic)
        kept = late.messages.wait_for(1)
    assert all(m.retain for m in kept)
    assert [m.json() for m in kept] == [{"online": False, "bdSeq": 3}] * len(kept)


def test_no_will_on_clean_disconnect(target: Target, uid: str) -> None:
    topic = f"acorn/v1/store/s-002/up/status/{uid}"
    sentinel = f"acorn/v1/store/s-002/up/sentinel/{uid}"
    with mqtt_client(target.broker, "hub", protocol=target.protocol) as hub:
        hub.subscribe(f"acorn/v1/store/s-002/up/+/{uid}")
        with mqtt_client(
            target.broker, "s-002", protocol=target.protocol, will=Will(topic, b"offline")
        ):
            pass  # a clean DISCONNECT
        with mqtt_client(target.broker, "s-002", protocol=target.protocol) as edge:
            edge.publish(sentinel, b"after", qos=1)
        hub.messages.wait_for(1, topic=sentinel)
        assert hub.messages.matching(topic) == []


# --------------------------------------------------------------------------------------
# Shared subscriptions (hub ingest workers)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "protocols", [(5, 5), (4, 4), (5, 4)], ids=["mqtt5+mqtt5", "mqtt311+mqtt311", "mqtt5+mqtt311"]
)
def test_shared_subscription_splits_the_load_on_mosquitto(
    mosquitto: BrokerInfo, uid: str, protocols: tuple[int, int]
) -> None:
    assert mosquitto.shared_subscriptions
    topic = f"acorn/v1/store/s-001/up/events/{uid}"
    group = f"$share/ingest-{uid}/acorn/v1/store/+/up/events/{uid}"
    with (
        mqtt_client(mosquitto, "hub", protocol=protocols[0]) as worker_a,
        mqtt_client(mosquitto, "hub", protocol=protocols[1]) as worker_b,
    ):
        assert not worker_a.subscribe(group)[0].is_failure
        assert not worker_b.subscribe(group)[0].is_failure
        with mqtt_client(mosquitto, "s-001", protocol=5) as edge:
            for n in range(20):
                edge.publish(topic, str(n).encode(), qos=1)
        wait_until(
            lambda: len(worker_a.messages.messages) + len(worker_b.messages.messages) >= 20,
            message="20 messages across the two workers",
        )
        a, b = worker_a.messages.payloads(), worker_b.messages.payloads()
    assert sorted(a + b, key=int) == [str(n).encode() for n in range(20)]  # each exactly once
    assert a, f"worker b got everything: {len(a)} / {len(b)}"
    assert b, f"worker a got everything: {len(a)} / {len(b)}"


def test_amqtt_has_no_shared_subscriptions(amqtt_broker: BrokerInfo, uid: str) -> None:
    """amqtt has no $share support; the embedded broker's ACL refuses the filter outright."""
    assert amqtt_broker.shared_subscriptions is False
    topic = f"acorn/v1/store/s-001/up/events/{uid}"
    with mqtt_client(amqtt_broker, "hub", protocol=4) as worker:
        (granted,) = worker.subscribe(f"$share/ingest/acorn/v1/store/+/up/events/{uid}")
        assert granted.value == SUBACK_FAILURE
        worker.subscribe(topic)
        with mqtt_client(amqtt_broker, "s-001", protocol=4) as edge:
            edge.publish(topic, b"one", qos=1)
        (msg,) = worker.messages.wait_for(1)
        assert msg.payload == b"one"  # the plain subscription works: one ingest worker


# --------------------------------------------------------------------------------------
# ACL: store isolation
# --------------------------------------------------------------------------------------


def test_acl_store_cannot_publish_into_another_store(target: Target, uid: str) -> None:
    assert target.broker.enforces_acl
    foreign = f"acorn/v1/store/s-002/up/events/{uid}"
    own = f"acorn/v1/store/s-001/up/events/{uid}"
    with mqtt_client(target.broker, "hub", protocol=target.protocol) as hub:
        hub.subscribe(f"acorn/v1/store/+/up/events/{uid}")
        with mqtt_client(target.broker, "s-001", protocol=target.protocol) as edge:
            rc = edge.publish(foreign, b"forged", qos=1)
            edge.publish(own, b"sentinel", qos=1)
        hub.messages.wait_for(1, topic=own)
        assert hub.messages.matching(foreign) == []
    if target.protocol == 5:
        assert rc.value == NOT_AUTHORIZED  # MQTT 5: the edge can tell
    else:
        assert not rc.is_failure  # 3.1.1 has no reason codes: dropped silently


def test_acl_store_cannot_read_another_store(target: Target, uid: str) -> None:
    foreign = f"acorn/v1/store/s-002/down/orders/{uid}"
    own = f"acorn/v1/store/s-001/down/orders/{uid}"
    with mqtt_client(target.broker, "s-001", protocol=target.protocol) as edge:
        (suback,) = edge.subscribe(foreign)
        edge.subscribe(own)
        with mqtt_client(target.broker, "hub", protocol=target.protocol) as hub:
            hub.publish(foreign, b"not for s-001", qos=1)
            hub.publish(own, b"sentinel", qos=1)
        edge.messages.wait_for(1, topic=own)
        assert edge.messages.matching(foreign) == []
    if target.broker.name == "mosquitto":
        assert not suback.is_failure  # Mosquitto grants it and filters at delivery
    else:
        assert suback.value == SUBACK_FAILURE  # the embedded broker refuses it


def test_acl_store_reads_hub_status_but_cannot_write_it(target: Target, uid: str) -> None:
    topic = f"acorn/v1/hub/status/{uid}"
    with mqtt_client(target.broker, "s-003", protocol=target.protocol) as edge:
        assert not edge.subscribe(topic)[0].is_failure
        edge.publish(topic, b'{"online": false}', qos=1)  # forged hub death: dropped
        with mqtt_client(target.broker, "hub", protocol=target.protocol) as hub:
            hub.publish(topic, b'{"online": true}', qos=1)
        (msg,) = edge.messages.wait_for(1)
    assert msg.json() == {"online": True}


def test_acl_observer_reads_everything_writes_nothing(target: Target, uid: str) -> None:
    topic = f"acorn/v1/store/s-003/up/events/{uid}"
    with (
        mqtt_client(target.broker, "observer", protocol=target.protocol) as observer,
        mqtt_client(target.broker, "hub", protocol=target.protocol) as hub,
    ):
        observer.subscribe(f"acorn/v1/store/+/up/events/{uid}")
        hub.subscribe(topic)
        observer.publish(topic, b"forged by observer", qos=1)
        with mqtt_client(target.broker, "s-003", protocol=target.protocol) as edge:
            edge.publish(topic, b"real", qos=1)
        assert [m.payload for m in observer.messages.wait_for(1)] == [b"real"]
        assert [m.payload for m in hub.messages.wait_for(1)] == [b"real"]


def test_acl_will_on_another_stores_topic_is_never_published(target: Target, uid: str) -> None:
    foreign = f"acorn/v1/store/s-002/up/status/{uid}"
    own = f"acorn/v1/store/s-001/up/status/{uid}"
    with mqtt_client(target.broker, "hub", protocol=target.protocol) as hub:
        hub.subscribe(f"acorn/v1/store/+/up/status/{uid}")
        forged = Will(foreign, b"s-002 offline (forged)")
        with mqtt_client(target.broker, "s-001", protocol=target.protocol, will=forged) as edge:
            edge.abort()
        with mqtt_client(
            target.broker, "s-001", protocol=target.protocol, will=Will(own, b"sentinel")
        ) as edge:
            edge.abort()
        hub.messages.wait_for(1, topic=own)
        assert hub.messages.matching(foreign) == []


# --------------------------------------------------------------------------------------
# Restarts
# --------------------------------------------------------------------------------------


def _queue_three_then_restart(broker: BrokerInfo, protocol: int, uid: str) -> str:
    cid = f"till-{uid}"
    topic = f"acorn/v1/store/s-001/down/cmd/{uid}"
    with mqtt_client(broker, "s-001", protocol=protocol, client_id=cid, clean_start=False) as e:
        e.subscribe(topic)
    with mqtt_client(broker, "hub", protocol=protocol) as hub:
        for n in range(3):
            hub.publish(topic, f"cmd-{n}".encode(), qos=1)
    broker.restart()
    return cid


@pytest.mark.parametrize("protocol", [5, 4], ids=["mqtt5", "mqtt311"])
def test_queued_messages_survive_mosquitto_restart(
    mosquitto_private: BrokerInfo, uid: str, protocol: int
) -> None:
    assert mosquitto_private.persistence
    cid = _queue_three_then_restart(mosquitto_private, protocol, uid)
    with mqtt_client(
        mosquitto_private, "s-001", protocol=protocol, client_id=cid, clean_start=False
    ) as edge:
        assert edge.session_present is True
        got = edge.messages.wait_for(3)
    assert [m.payload for m in got] == [b"cmd-0", b"cmd-1", b"cmd-2"]


def test_amqtt_restart_loses_sessions(amqtt_private: BrokerInfo, uid: str) -> None:
    """amqtt keeps sessions in memory only: after a restart the edge starts afresh."""
    assert amqtt_private.persistence is False
    cid = _queue_three_then_restart(amqtt_private, 4, uid)
    with mqtt_client(amqtt_private, "s-001", protocol=4, client_id=cid, clean_start=False) as e:
        assert e.session_present is False
