"""Outbox sync through a real broker (Mosquitto with MQTT 5, the embedded broker with 3.1.1)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from edge_agent.store.facade import EdgeStore
from edge_agent.store.models import DeadLetter, InboundMessage
from edge_agent.sync.service import SyncService, SyncTuning
from protocol import topics
from tests.edge.store.helpers import MILK_EAN, STORE_ID, cart_of, cash
from tests.edge.sync.conftest import Hub, wait_online
from tests.edge.sync.proxy import TcpProxy
from tests.fixtures.brokers import BrokerInfo
from tests.fixtures.util import wait_until

SyncFactory = Callable[..., SyncService]
HubFactory = Callable[[BrokerInfo], Hub]


def _ring(store: EdgeStore, n: int) -> list[str]:
    receipts = []
    for _ in range(n):
        cart = cart_of(store, ("MILK-1L", 1), ("SOAP", 2))
        sale = store.sales.complete(cart, cashier_id="c1", tenders=[cash(store, 1000)])
        receipts.append(sale.completed.receipt_no)
    return receipts


def _catalog(version: int, price: int, **extra: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "id": str(uuid.uuid4()),
        "store": STORE_ID,
        "version": version,
        "kind": "delta",
        "currency": "GBP",
        "products": [
            {
                "sku": "MILK-1L",
                "name": "Milk 1L",
                "price_minor": price,
                "tax_class": "zero",
                "barcodes": [MILK_EAN],
            }
        ],
        "at": datetime.now(UTC).isoformat(),
        **extra,
    }


def test_sales_reach_the_hub_with_gap_free_seq_and_leave_the_outbox_when_acked(
    any_broker: BrokerInfo,
    edge_store: EdgeStore,
    sync_factory: SyncFactory,
    hub_factory: HubFactory,
) -> None:
    hub = hub_factory(any_broker)
    service = sync_factory(any_broker)
    wait_online(service)
    assert service.status().protocol == ("5" if any_broker.mqtt5 else "3.1.1")
    receipts = _ring(edge_store, 5)
    hub.wait_seqs(5)
    assert sorted(hub.by_seq) == [1, 2, 3, 4, 5]
    assert hub.conflicts == []
    assert [hub.envelopes[s]["body"]["receipt_no"] for s in range(1, 6)] == receipts
    assert {hub.envelopes[s]["type"] for s in range(1, 6)} == {"sale.completed"}
    assert all(hub.envelopes[s]["store"] == STORE_ID for s in range(1, 6))
    assert hub.rejected == []  # the protocol's decoder (the hub's) accepts every event
    wait_until(lambda: edge_store.outbox.stats().depth == 0, 10, message="outbox drained")
    assert edge_store.outbox.stats().acked_seq == 5


def test_unacked_events_stay_until_the_hub_acks_them(
    any_broker: BrokerInfo,
    edge_store: EdgeStore,
    sync_factory: SyncFactory,
    hub_factory: HubFactory,
) -> None:
    hub = hub_factory(any_broker)
    hub.auto_ack = False
    service = sync_factory(any_broker)
    wait_online(service)
    _ring(edge_store, 4)
    hub.wait_seqs(4)
    assert edge_store.outbox.stats().depth == 4  # PUBACK is not the hub's ack
    hub.ack(2)
    wait_until(lambda: edge_store.outbox.stats().depth == 2, 10, message="acked rows removed")
    assert edge_store.outbox.first_seq() == 3
    hub.ack(4)
    wait_until(lambda: edge_store.outbox.stats().depth == 0, 10, message="outbox drained")


def test_resend_from_seq_is_honoured(
    any_broker: BrokerInfo,
    edge_store: EdgeStore,
    sync_factory: SyncFactory,
    hub_factory: HubFactory,
) -> None:
    hub = hub_factory(any_broker)
    hub.auto_ack = False
    # A long ack timeout, so only the command (not an ack stall) can cause the resend.
    service = sync_factory(any_broker, tuning=SyncTuning(ack_timeout_s=600))
    wait_online(service)
    _ring(edge_store, 3)
    hub.wait_seqs(3)
    hub.ack(1)
    wait_until(lambda: edge_store.outbox.stats().acked_seq == 1, 10, message="ack 1")
    arrived = len(hub.order)
    hub.command("resend_from", seq=2)
    wait_until(lambda: hub.order[arrived:] == [2, 3], 10, message="2 and 3 sent again")
    assert hub.conflicts == []  # the same seq always carries the same envelope id


def _hub_status(hub: Hub, *, online: bool) -> None:
    """Publish a hub birth or Last Will (not retained: nothing to clean up afterwards)."""
    body = {"v": 1, "online": online, "bdSeq": 7, "at": datetime.now(UTC).isoformat()}
    hub.client.publish(topics.HUB_STATUS, json.dumps(body).encode())


def test_a_hub_birth_sends_unacked_events_again_at_once(
    any_broker: BrokerInfo,
    edge_store: EdgeStore,
    sync_factory: SyncFactory,
    hub_factory: HubFactory,
) -> None:
    """GIVEN events the hub never acked (it lost them, say in a broker restart) WHEN the hub
    publishes its birth THEN they go again at once, not after the ack timeout."""
    hub = hub_factory(any_broker)
    hub.auto_ack = False
    service = sync_factory(any_broker, tuning=SyncTuning(ack_timeout_s=600))
    wait_online(service)
    _ring(edge_store, 2)
    hub.wait_seqs(2)
    arrived = len(hub.order)
    _hub_status(hub, online=True)
    wait_until(lambda: hub.order[arrived:] == [1, 2], 10, message="1 and 2 sent again")
    assert service.status().hub_online is True
    assert hub.conflicts == []


def test_resends_wait_while_the_hub_is_offline(
    any_broker: BrokerInfo,
    edge_store: EdgeStore,
    sync_factory: SyncFactory,
    hub_factory: HubFactory,
) -> None:
    """GIVEN the hub's Last Will WHEN acks stall THEN the till does not pile copies of its
    outbox into the broker's queue for the hub; the hub's next birth sends them once."""
    hub = hub_factory(any_broker)
    hub.auto_ack = False
    service = sync_factory(any_broker, tuning=SyncTuning(ack_timeout_s=0.3))
    wait_online(service)
    _hub_status(hub, online=False)
    wait_until(lambda: service.status().hub_online is False, 10, message="hub seen offline")
    _ring(edge_store, 2)
    hub.wait_seqs(2)
    time.sleep(2.0)  # several ack timeouts: an online hub would have had copies by now
    assert sorted(hub.order) == [1, 2], "no resend while the hub is offline"
    hub.auto_ack = True
    _hub_status(hub, online=True)
    wait_until(lambda: edge_store.outbox.stats().depth == 0, 10, message="acked after the birth")
    assert sorted(hub.order[2:4]) == [1, 2], "the birth sent both again"
    assert service.status().hub_online is True


def test_events_written_offline_are_delivered_in_order_after_reconnect(
    any_private_broker: BrokerInfo,
    edge_store: EdgeStore,
    sync_factory: SyncFactory,
    hub_factory: HubFactory,
) -> None:
    """GIVEN the broker is down WHEN 20 sales are rung THEN they wait in the outbox, and once
    the broker is back they reach the hub in seq order, and leave the outbox once acked."""
    service = sync_factory(any_private_broker)
    wait_online(service)
    any_private_broker.stop()
    wait_until(lambda: service.status().state == "offline", 10, message="sync offline")
    receipts = _ring(edge_store, 20)
    stats = edge_store.outbox.stats()
    assert stats.depth == 20
    assert stats.oldest_unsynced_age_s is not None
    assert service.status().outbox_depth == 20
    any_private_broker.start()
    hub = hub_factory(any_private_broker)
    hub.wait_seqs(20, timeout=30)
    first_seen = list(dict.fromkeys(hub.order))
    assert first_seen == list(range(1, 21))
    assert [hub.envelopes[s]["body"]["receipt_no"] for s in range(1, 21)] == receipts
    wait_until(lambda: edge_store.outbox.stats().depth == 0, 15, message="outbox drained")


def test_sync_survives_a_broker_restart(
    any_private_broker: BrokerInfo,
    edge_store: EdgeStore,
    sync_factory: SyncFactory,
    hub_factory: HubFactory,
) -> None:
    service = sync_factory(any_private_broker)
    wait_online(service)
    first_bd = service.status().bd_seq
    any_private_broker.restart()
    hub = hub_factory(any_private_broker)
    wait_online(service)
    _ring(edge_store, 3)
    hub.wait_seqs(3)
    status = service.status()
    assert status.bd_seq is not None
    assert first_bd is not None
    assert status.bd_seq > first_bd
    wait_until(lambda: edge_store.outbox.stats().depth == 0, 10, message="outbox drained")


def test_catalog_applies_once_and_bad_messages_become_dead_letters(
    any_broker: BrokerInfo,
    edge_store: EdgeStore,
    sync_factory: SyncFactory,
    hub_factory: HubFactory,
) -> None:
    hub = hub_factory(any_broker)
    service = sync_factory(any_broker)
    wait_online(service)
    good = _catalog(4, 139)
    hub.send("catalog", good)
    hub.send("catalog", good)  # redelivery: same id
    hub.send("catalog", b"{not json")
    hub.send("catalog", {**_catalog(5, 1), "store": "s-002"})  # body disagrees with topic
    hub.send("catalog", {**_catalog(6, 1), "v": 2})  # a future protocol version
    hub.send("catalog", {**_catalog(7, 1), "currency": "USD"})  # not this store's currency
    hub.send("orders", {"v": 1, "what": "is this"})
    marker = hub.command("ping")
    wait_until(
        lambda: (
            InboundMessage.get_or_none(InboundMessage.id == marker)
            and DeadLetter.select().count() == 5
        ),
        10,
        message="ping applied and five dead letters",
    )
    assert edge_store.catalog.get("MILK-1L").price_minor == 139
    assert edge_store.catalog.version() == 4
    kinds = sorted(m.kind for m in InboundMessage.select())
    assert kinds == ["catalog", "cmd.ping"]
    reasons = sorted(d.reason for d in DeadLetter.select())
    assert reasons == sorted(
        [
            "invalid_json",
            "store_mismatch",
            "unsupported_version",
            "currency_mismatch",
            "invalid_message",
        ]
    )
    assert service.status().state == "online"
    assert service.status().dead_letters == 5


def test_routed_order_reserves_stock_once(
    any_broker: BrokerInfo,
    edge_store: EdgeStore,
    sync_factory: SyncFactory,
    hub_factory: HubFactory,
) -> None:
    hub = hub_factory(any_broker)
    service = sync_factory(any_broker)
    wait_online(service)
    order = {
        "v": 1,
        "id": str(uuid.uuid4()),
        "store": STORE_ID,
        "kind": "routed",
        "order_id": "AMZ-1",
        "channel": "amazon",
        "lines": [{"sku": "SOAP", "name": "Soap", "qty": 2}],
        "at": datetime.now(UTC).isoformat(),
    }
    hub.send("orders", order)
    hub.send("orders", order)
    cancel = {**order, "id": str(uuid.uuid4()), "kind": "cancelled"}
    wait_until(lambda: edge_store.stock.level("SOAP").reserved == 2, 10, message="reserved")
    hub.send("orders", cancel)
    wait_until(lambda: edge_store.stock.level("SOAP").reserved == 0, 10, message="released")
    assert InboundMessage.select().count() == 2


def test_birth_will_and_stale_death(
    any_broker: BrokerInfo,
    edge_store: EdgeStore,
    sync_factory: SyncFactory,
    hub_factory: HubFactory,
    tcp_proxy: Callable[[BrokerInfo], TcpProxy],
) -> None:
    """The birth is retained and carries bdSeq and the outbox figures; a dropped connection
    fires the Will with the same bdSeq; the agent comes back with a higher bdSeq; a stale
    death over its status makes it publish its birth again."""
    hub = hub_factory(any_broker)
    hub.auto_ack = False
    proxy = tcp_proxy(any_broker)
    service = sync_factory(any_broker, host=proxy.host, port=proxy.port)
    wait_online(service)
    _ring(edge_store, 2)
    hub.wait_seqs(2)
    bd = service.status().bd_seq
    wait_until(
        lambda: any(s["online"] and s.get("outbox_depth") == 2 for s in hub.statuses()),
        10,
        message="birth refreshed with depth 2",
    )
    birth = [s for s in hub.statuses() if s["online"]][-1]
    assert birth["bdSeq"] == bd
    assert birth["last_seq"] == 2
    assert birth["oldest_unsynced_age_s"] >= 0
    assert birth["agent_version"] == "test"
    assert birth["catalog_version"] == 0

    proxy.cut()  # the TCP connection dies without DISCONNECT, like a cable pull
    wait_until(
        lambda: any(not s["online"] and s["bdSeq"] == bd for s in hub.statuses()),
        10,
        message="Will with the same bdSeq",
    )
    wait_until(
        lambda: any(s["online"] and s["bdSeq"] > bd for s in hub.statuses()),
        15,
        message="new birth",
    )
    new_bd = service.status().bd_seq
    assert new_bd is not None
    assert bd is not None
    assert new_bd > bd
    count = len(hub.statuses())
    stale = {
        "v": 1,
        "store": STORE_ID,
        "online": False,
        "bdSeq": bd,
        "at": datetime.now(UTC).isoformat(),
    }
    hub.client.publish(f"acorn/v1/store/{STORE_ID}/up/status", json.dumps(stale), retain=True)
    wait_until(
        lambda: any(s["online"] and s["bdSeq"] == new_bd for s in hub.statuses()[count + 1 :]),
        10,
        message="birth again after the stale death",
    )


def test_refused_credentials_stop_reconnecting_until_retry(
    any_broker: BrokerInfo,
    sync_factory: SyncFactory,
    hub_factory: HubFactory,
) -> None:
    service = sync_factory(
        any_broker, password="wrong-password", backoff_initial_s=0.01, backoff_max_s=0.02
    )
    wait_until(lambda: service.status().state == "auth_failed", 10, message="auth failed")
    assert "refused this store's credentials" in service.status().message
    attempts = service.connect_attempts
    # A negative check needs a window: with a 10 ms backoff a client that kept retrying
    # would make dozens of attempts in it.
    time.sleep(0.5)
    assert service.connect_attempts == attempts
    service.retry()  # the Retry button: exactly one more attempt, refused again
    wait_until(lambda: service.connect_attempts == attempts + 1, 10, message="one retry")
    wait_until(lambda: service.status().state == "auth_failed", 10, message="auth failed again")
    time.sleep(0.3)
    assert service.connect_attempts == attempts + 1


def test_commands_sent_while_the_agent_is_away_arrive_on_reconnect(
    any_broker: BrokerInfo,
    edge_store: EdgeStore,
    sync_factory: SyncFactory,
    hub_factory: HubFactory,
) -> None:
    """The persistent session (clean start off, session expiry) keeps the hub's messages."""
    client_id = f"acorn-edge-{STORE_ID}-{uuid.uuid4().hex[:8]}"
    first = sync_factory(any_broker, client_id=client_id)
    wait_online(first)
    first.stop()
    hub = hub_factory(any_broker)
    hub.send("catalog", _catalog(9, 149))
    second = sync_factory(any_broker, client_id=client_id)
    wait_online(second)
    wait_until(
        lambda: edge_store.catalog.get("MILK-1L").price_minor == 149,
        10,
        message="catalog sent while away applied",
    )


def test_acl_refusal_is_reported_on_mqtt5(
    mosquitto: BrokerInfo,
    edge_store: EdgeStore,
    sync_factory: SyncFactory,
) -> None:
    """GIVEN the agent logs in with another store's credentials (a provisioning mistake)
    THEN MQTT 5 PUBACK reason codes show the refusal, and the events stay in the outbox."""
    service = sync_factory(mosquitto, username="s-002", password=mosquitto.users["s-002"])
    wait_online(service)
    _ring(edge_store, 1)
    wait_until(lambda: "refused" in service.status().message, 10, message="refusal reported")
    assert "Not authorized" in service.status().message
    assert edge_store.outbox.stats().depth == 1
