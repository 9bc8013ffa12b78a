"""Fixtures of the sync tests: an edge store, its sync service, and a test client playing the hub.

The agent connects as user ``s-001`` with a client id of its own per test, so
persistent sessions on the shared brokers never leak between tests; the
retained status topic is cleared after each test.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge_agent.store.facade import EdgeStore
from edge_agent.sync.service import BrokerSettings, MqttVersion, SyncService, SyncTuning
from protocol import topics
from protocol.codec import RejectedEvent, decode_event_batch
from tests.edge.store.helpers import STORE_ID, make_store, seed_catalog
from tests.edge.sync.proxy import TcpProxy
from tests.fixtures.brokers import BrokerInfo
from tests.fixtures.mqtt import MqttClient, Received, mqtt_client
from tests.fixtures.util import wait_until

FAST_TUNING = SyncTuning(batch_events=50, ack_timeout_s=2.0, status_interval_s=0.5)


def broker_settings(broker: BrokerInfo, **overrides: Any) -> BrokerSettings:
    """Connection settings of store s-001 on a fixture broker (fast backoff for tests)."""
    values: dict[str, Any] = {
        "host": broker.host,
        "port": broker.port,
        "username": STORE_ID,
        "password": broker.users[STORE_ID],
        "mqtt_version": MqttVersion.AUTO,
        "keepalive_s": 10,
        "connect_timeout_s": 5.0,
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.5,
        "client_id": f"acorn-edge-{STORE_ID}-{uuid.uuid4().hex[:8]}",
    }
    values.update(overrides)
    return BrokerSettings(**values)


class Hub:
    """A test client playing the hub: records up/events, acks like the hub, sends commands."""

    def __init__(self, client: MqttClient, store_id: str = STORE_ID) -> None:
        self.client = client
        self.store_id = store_id
        self.auto_ack = True
        self._lock = threading.Lock()
        self.by_seq: dict[int, str] = {}  # seq -> envelope id (a resend must carry the same id)
        self.order: list[int] = []  # seqs in arrival order, duplicates included
        self.envelopes: dict[int, dict[str, Any]] = {}
        self.conflicts: list[int] = []
        self.rejected: list[str] = []  # what the hub's own decoder refused

    def contiguous(self) -> int:
        """The highest seq n such that 1..n all arrived."""
        with self._lock:
            n = 0
            while n + 1 in self.by_seq:
                n += 1
            return n

    def on_batch(self, message: Received) -> None:
        """Record a batch of envelopes and ack the highest contiguous seq."""
        items = json.loads(message.payload)
        refused = [
            f"{item.index}: {item.error}"
            for item in decode_event_batch(message.topic, message.payload)
            if isinstance(item, RejectedEvent)
        ]
        with self._lock:
            self.rejected.extend(refused)
            for env in items:
                seq = env["seq"]
                known = self.by_seq.setdefault(seq, env["id"])
                if known != env["id"]:
                    self.conflicts.append(seq)
                self.envelopes[seq] = env
                self.order.append(seq)
        if self.auto_ack:
            self.ack(self.contiguous())

    def ack(self, seq: int) -> None:
        """Publish an ack (from the network thread: QoS 1, no wait)."""
        payload = json.dumps({"v": 1, "store": self.store_id, "seq": seq})
        self.client.client.publish(topics.down_ack(self.store_id), payload, qos=1)

    def send(self, channel: str, body: dict[str, Any] | bytes) -> None:
        """Publish a down message and wait for its PUBACK."""
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        topic = f"{topics.TOPIC_ROOT}/store/{self.store_id}/down/{channel}"
        self.client.publish(topic, payload)

    def command(self, kind: str, **args: Any) -> str:
        """Send a command and return its id."""
        message_id = str(uuid.uuid4())
        self.send(
            "cmd",
            {
                "v": 1,
                "id": message_id,
                "store": self.store_id,
                "kind": kind,
                "args": args,
                "at": datetime.now(UTC).isoformat(),
            },
        )
        return message_id

    def statuses(self) -> list[dict[str, Any]]:
        """Every status message seen so far, in arrival order."""
        return [
            json.loads(m.payload)
            for m in self.client.messages.matching(topics.up_status(self.store_id))
            if m.payload
        ]

    def wait_seqs(self, last: int, timeout: float = 20.0) -> None:
        """Wait until every seq 1..last has arrived."""
        wait_until(lambda: self.contiguous() >= last, timeout, message=f"seqs 1..{last} at hub")


def _install(hub: Hub) -> None:
    recorder = hub.client.messages
    events_topic = topics.up_events(hub.store_id)

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        recorder(client, userdata, message)
        if message.topic == events_topic:
            hub.on_batch(Received(message.topic, bytes(message.payload), message.qos, False))

    hub.client.client.on_message = on_message


@pytest.fixture
def hub_factory() -> Iterator[Callable[[BrokerInfo], Hub]]:
    """Connect hub test clients (clean sessions) that subscribe to s-001's up topics."""
    with ExitStack() as stack:

        def connect(broker: BrokerInfo) -> Hub:
            client = stack.enter_context(
                mqtt_client(broker, "hub", protocol=5 if broker.mqtt5 else 4)
            )
            hub = Hub(client)
            _install(hub)
            client.subscribe(f"{topics.TOPIC_ROOT}/store/{STORE_ID}/up/#")
            return hub

        yield connect


@pytest.fixture
def edge_store(tmp_path: Path) -> Iterator[EdgeStore]:
    """A fresh edge database with the small test catalog and stock."""
    from edge_agent.store.models import Stock

    store = make_store(tmp_path / "edge.db")
    seed_catalog(store)
    Stock.update(on_hand=1000).execute()
    yield store
    store.close()


@pytest.fixture
def sync_factory(
    edge_store: EdgeStore,
) -> Iterator[Callable[..., SyncService]]:
    """Start sync services for the test's store; stop them all afterwards."""
    started: list[tuple[SyncService, BrokerInfo]] = []

    def start(broker: BrokerInfo, **overrides: Any) -> SyncService:
        tuning = overrides.pop("tuning", FAST_TUNING)
        service = SyncService(
            edge_store,
            broker_settings(broker, **overrides),
            currency=edge_store.currency,
            agent_version="test",
            tuning=tuning,
        )
        service.start()
        started.append((service, broker))
        return service

    yield start
    for service, _ in started:
        service.stop()
    for broker in {id(b): b for _, b in started}.values():
        if broker.is_running():
            _clear_retained(broker)


def _clear_retained(broker: BrokerInfo) -> None:
    try:
        with mqtt_client(broker, "hub", protocol=5 if broker.mqtt5 else 4) as hub:
            hub.publish(topics.up_status(STORE_ID), b"", retain=True)
    except Exception:  # a test that broke the broker already failed
        pass


def wait_online(service: SyncService, timeout: float = 15.0) -> None:
    """Wait until the service is connected."""
    wait_until(lambda: service.status().state == "online", timeout, message="sync online")


@pytest.fixture
def tcp_proxy() -> Iterator[Callable[[BrokerInfo], TcpProxy]]:
    """Start TCP proxies in front of brokers; close them afterwards."""
    proxies: list[TcpProxy] = []

    def start(broker: BrokerInfo) -> TcpProxy:
        proxy = TcpProxy(broker.host, broker.port)
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.close()


@pytest.fixture(params=["mosquitto", "amqtt"])
def any_private_broker(request: pytest.FixtureRequest) -> BrokerInfo:
    """A broker of this test's own of each kind in turn (free to be restarted)."""
    name = "mosquitto_private" if request.param == "mosquitto" else "amqtt_private"
    broker: BrokerInfo = request.getfixturevalue(name)
    return broker
