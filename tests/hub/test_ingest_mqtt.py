"""The ingest worker through a real Mosquitto: acks, duplicates, gaps and resends, two workers
on one shared subscription, birth replay, and the MQTT 3.1.1 fallback on the embedded broker."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hub.config import HubSettings
from hub.db import orders
from hub.db.catalog import import_csv
from hub.db.engine import make_engine, make_sessionmaker
from hub.db.models import AppliedEvent, DeadLetter, StockLevel, StoreSync
from hub.ingest.worker import IngestWorker
from protocol import topics
from protocol.codec import encode, encode_batch
from protocol.messages import OrderMessage
from tests.fixtures.brokers import BrokerInfo
from tests.fixtures.mqtt import MqttClient, mqtt_client
from tests.fixtures.util import wait_until
from tests.hub import events as ev
from tests.hub.conftest import NOW

WorkerFactory = Callable[..., IngestWorker]


@pytest.fixture
def start_worker(sessions: sessionmaker[Session], hub_db_url: str) -> Iterator[WorkerFactory]:
    """Start ingest workers against a broker; every one is stopped at the end."""
    started: list[IngestWorker] = []
    engines = []

    def _start(broker: BrokerInfo, **overrides: Any) -> IngestWorker:
        settings = HubSettings(
            database_url=hub_db_url,
            mqtt_host=broker.host,
            mqtt_port=broker.port,
            mqtt_username="hub",
            mqtt_password=broker.users["hub"],
            worker_id=f"w-{uuid.uuid4().hex[:8]}",
            resend_after_s=0.3,
            scheduler_interval_s=0.1,
            **overrides,
        )
        engine = make_engine(hub_db_url, writer=True)
        engines.append(engine)
        worker = IngestWorker(settings, make_sessionmaker(engine))
        worker.start()
        started.append(worker)
        return worker

    yield _start
    for worker in started:
        worker.stop()
    for engine in engines:
        engine.dispose()


def contiguous(sessions: sessionmaker[Session], store: str) -> int:
    with sessions() as s:
        row = s.get(StoreSync, store)
        return row.contiguous_seq if row else 0


def on_hand(sessions: sessionmaker[Session], store: str, sku: str) -> int | None:
    with sessions() as s:
        row = s.get(StockLevel, (store, sku))
        return None if row is None else row.on_hand


def wait_ack(store: MqttClient, store_id: str, seq: int) -> None:
    def acked() -> bool:
        return any(
            m.json()["seq"] >= seq for m in store.messages.matching(topics.down_ack(store_id))
        )

    wait_until(acked, timeout=10, message=f"ack of seq {seq} for {store_id}")


def test_events_are_applied_exactly_once_and_acked(
    mosquitto: BrokerInfo, sessions: sessionmaker[Session], start_worker: WorkerFactory
) -> None:
    worker = start_worker(mosquitto)
    assert worker.mqtt.protocol == 5
    assert worker.mqtt.shared
    e = [ev.counted("s-001", 1, "TEA", 10)] + [
        ev.sale("s-001", i, [("TEA", 1)]) for i in range(2, 6)
    ]
    with mqtt_client(mosquitto, "s-001", client_id=f"s-001-{uuid.uuid4().hex[:6]}") as store:
        store.subscribe(topics.store_down_filter("s-001"))
        store.publish(topics.up_events("s-001"), encode_batch([e[3], e[4]]))  # reordered
        store.publish(topics.up_events("s-001"), b"{not json")  # dead letter, blocks nothing
        store.publish(topics.up_events("s-001"), encode_batch(e[:3]))
        store.publish(topics.up_events("s-001"), encode_batch(e[1:3]))  # duplicate delivery
        wait_ack(store, "s-001", 5)
    assert on_hand(sessions, "s-001", "TEA") == 6
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AppliedEvent)) == 5
        assert s.scalar(select(DeadLetter.reason)) == "invalid_json"
    assert worker.metrics.duplicates.value() == 2
    assert worker.metrics.dead_letters.value(reason="invalid_json") == 1
    text = worker.registry.render()
    assert 'acorn_hub_ingest_events_applied_total{store="s-001"} 5' in text


def test_a_gap_that_stays_open_asks_the_store_to_resend(
    mosquitto: BrokerInfo, sessions: sessionmaker[Session], start_worker: WorkerFactory
) -> None:
    start_worker(mosquitto)
    e = [ev.received("s-002", i, "MUG", 1) for i in range(1, 5)]
    with mqtt_client(mosquitto, "s-002", client_id=f"s-002-{uuid.uuid4().hex[:6]}") as store:
        store.subscribe(topics.store_down_filter("s-002"))
        store.publish(topics.up_events("s-002"), encode_batch([e[0], e[1], e[3]]))
        wait_ack(store, "s-002", 2)
        commands = store.messages.wait_for(1, topic=topics.down_cmd("s-002"), timeout=10)
        command = commands[0].json()
        assert (command["kind"], command["args"]) == ("resend_from", {"seq": 3})
        store.publish(topics.up_events("s-002"), encode_batch(e[2:]))  # the resend
        wait_ack(store, "s-002", 4)
    assert on_hand(sessions, "s-002", "MUG") == 4
    with sessions() as s:
        row = s.get(StoreSync, "s-002")
        assert row is not None
        assert (row.gap_since, row.last_resend_at) == (None, None)


def test_two_workers_on_one_shared_subscription_apply_a_stream_exactly_once(
    mosquitto: BrokerInfo, sessions: sessionmaker[Session], start_worker: WorkerFactory
) -> None:
    a = start_worker(mosquitto, ingest_batch_max_messages=5)
    b = start_worker(mosquitto, ingest_batch_max_messages=5)
    n = 120
    stream = [ev.sale("s-003", i, [("PEN", 1), ("INK", 2)]) for i in range(1, n + 1)]
    batches = [stream[i : i + 3] for i in range(0, n, 3)]
    with mqtt_client(mosquitto, "s-003", client_id=f"s-003-{uuid.uuid4().hex[:6]}") as store:
        for batch in batches:
            store.publish(topics.up_events("s-003"), encode_batch(batch))
            store.publish(topics.up_events("s-003"), encode_batch(batch[::-1]))  # again, reversed
    wait_until(
        lambda: a.metrics.messages.value() + b.metrics.messages.value() == 2 * len(batches),
        timeout=30,
        message="every message processed",
    )
    assert contiguous(sessions, "s-003") == n
    assert on_hand(sessions, "s-003", "PEN") == -n
    assert on_hand(sessions, "s-003", "INK") == -2 * n
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AppliedEvent)) == n
    applied = a.metrics.applied.value(store="s-003") + b.metrics.applied.value(store="s-003")
    assert applied == n
    assert a.metrics.messages.value() > 0
    assert b.metrics.messages.value() > 0, "the shared subscription gave both workers a share"
    assert a.metrics.duplicates.value() + b.metrics.duplicates.value() == n


def test_birth_replays_unacknowledged_orders_and_sends_the_catalog(
    mosquitto: BrokerInfo, sessions: sessionmaker[Session], start_worker: WorkerFactory
) -> None:
    import io

    with sessions.begin() as s:
        import_csv(
            s,
            io.StringIO("sku,name,price\nTEA,Green tea,3.50\nMUG,Mug,7.00\n"),
            now=NOW,
            default_currency="EUR",
        )
        order = OrderMessage.model_validate(
            {
                "id": str(uuid.uuid4()),
                "store": "s-001",
                "kind": "routed",
                "order_id": "o-77",
                "channel": "amazon",
                "lines": [{"sku": "TEA", "name": "Green tea", "qty": 1}],
                "at": NOW,
            }
        )
        orders.route_order(s, order, now=NOW)
    start_worker(mosquitto)
    with mqtt_client(mosquitto, "s-001", client_id=f"s-001-{uuid.uuid4().hex[:6]}") as store:
        store.subscribe(topics.store_down_filter("s-001"))
        store.publish(topics.up_status("s-001"), encode(ev.birth("s-001", 1)))
        got = store.messages.wait_for(1, topic=topics.down_orders("s-001"))
        assert json.loads(got[0].payload)["id"] == str(order.id)
        catalog = store.messages.wait_for(1, topic=topics.down_catalog("s-001"))[0].json()
        assert catalog["kind"] == "snapshot"
        assert sorted(p["sku"] for p in catalog["products"]) == ["MUG", "TEA"]
        # The store answers the order; the next birth does not replay it again.
        store.publish(
            topics.up_events("s-001"),
            encode_batch([ev.event("s-001", 1, "order.accepted", {"order_id": "o-77"})]),
        )
        wait_ack(store, "s-001", 1)
        store.messages.clear()
        held = catalog["version"]
        store.publish(topics.up_status("s-001"), encode(ev.birth("s-001", 2, catalog_version=held)))
        wait_ack(store, "s-001", 1)  # a birth is answered with the current ack
        assert store.messages.matching(topics.down_orders("s-001")) == []
        assert store.messages.matching(topics.down_catalog("s-001")) == []


def test_falls_back_to_mqtt_3_1_1_on_the_embedded_broker(
    amqtt_broker: BrokerInfo, sessions: sessionmaker[Session], start_worker: WorkerFactory
) -> None:
    worker = start_worker(amqtt_broker)
    assert worker.mqtt.protocol == 4
    assert not worker.mqtt.shared, "no shared subscriptions without MQTT 5: one worker"
    with mqtt_client(
        amqtt_broker, "s-002", protocol=4, client_id=f"s-002-{uuid.uuid4().hex[:6]}"
    ) as store:
        store.subscribe(topics.store_down_filter("s-002"))
        store.publish(topics.up_events("s-002"), encode_batch([ev.received("s-002", 1, "A", 3)]))
        wait_ack(store, "s-002", 1)
    assert on_hand(sessions, "s-002", "A") == 3
