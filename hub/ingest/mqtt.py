"""The hub's MQTT connection: MQTT 5 with a persistent session and a shared subscription,
falling back to MQTT 3.1.1 (one worker, plain subscription) when the broker cannot do 5.

Messages are acknowledged to the broker (PUBACK) only after the batch that contains
them has committed (paho ``manual_ack``), so a worker killed mid-batch gets them again
from its persistent session when it comes back with the same ``worker_id``. Without a
configured ``worker_id`` there is no such session (see ``session_is_resumable``).
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hub.config import HubSettings
from protocol.topics import ALL_STORES_UP, shared_subscription

_LOGGER = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 10.0
RECONNECT_MIN_DELAY_S = 1
RECONNECT_MAX_DELAY_S = 30


class MqttError(Exception):
    """The broker could not be reached or refused the hub."""


class MqttAuthError(MqttError):
    """The broker refused the hub's credentials: retrying will not help."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """A received message and what is needed to PUBACK it later."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    epoch: int
    received_at: float


def session_is_resumable(settings: HubSettings) -> bool:
    """Whether a restarted worker would find this worker's MQTT session again.

    Only with a stable client id: ``mqtt_client_id`` or ``worker_id`` configured. The
    default ``worker_id`` holds the process id, new on every start; a session kept for it
    after a crash would stay in the shared subscription's group, and the broker would go
    on handing it a share of the stores' events (Mosquitto 2.0: every other message) for
    ``mqtt_session_expiry_s``, queued for a client that never comes back.
    """
    return settings.mqtt_client_id is not None or "worker_id" in settings.model_fields_set


class HubMqtt:
    """One hub worker's connection to the broker."""

    def __init__(self, settings: HubSettings, *, will: tuple[str, bytes] | None = None) -> None:
        self._settings = settings
        self.keeps_session = session_is_resumable(settings)
        if not self.keeps_session:
            _LOGGER.warning(
                "worker_id is not configured: the hub's MQTT session ends with its connection, "
                "so after a crash the stores resend what it had not acknowledged; set "
                "worker_id (ACORN_HUB_WORKER_ID), stable across restarts, to keep the session"
            )
        self._will = will
        self.inbox: queue.Queue[Delivery] = queue.Queue()
        self._client: paho.Client | None = None
        self._epoch = 0
        self._connected = threading.Event()
        self._failed: str | None = None
        self._refused = False
        self._stopping = False
        self.protocol: int = 0
        self.shared = False
        self._lock = threading.Lock()
        self.on_connected: list[Any] = []

    @property
    def connected(self) -> bool:
        """True while connected to the broker."""
        return self._connected.is_set()

    @property
    def epoch(self) -> int:
        """Increases on every (re)connection; older deliveries must not be PUBACKed."""
        return self._epoch

    def start(self) -> None:
        """Connect (MQTT 5 first when ``auto``), subscribe and start the network thread."""
        choice = self._settings.mqtt_protocol
        versions = {"5": [5], "3.1.1": [4], "auto": [5, 4]}[choice]
        last_error: MqttError | None = None
        for version in versions:
            try:
                self._connect(version)
                return
            except MqttAuthError:
                raise
            except MqttError as err:
                last_error = err
                if version == 5 and len(versions) > 1:
                    _LOGGER.warning("MQTT 5 not available (%s); falling back to MQTT 3.1.1", err)
        assert last_error is not None
        raise last_error

    def _connect(self, version: int) -> None:
        s = self._settings
        v5 = version == 5
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id(),
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else not self.keeps_session,
            manual_ack=True,
        )
        if s.mqtt_username:
            password = s.mqtt_password.get_secret_value() if s.mqtt_password else None
            client.username_pw_set(s.mqtt_username, password)
        if s.mqtt_tls_ca_file is not None:
            client.tls_set(ca_certs=str(s.mqtt_tls_ca_file), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if self._will is not None:
            client.will_set(self._will[0], self._will[1], qos=1, retain=True)
        client.reconnect_delay_set(RECONNECT_MIN_DELAY_S, RECONNECT_MAX_DELAY_S)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_connect_fail = self._on_connect_fail
        self._failed = None
        self._refused = False
        self._connected.clear()
        self.protocol = version
        self.shared = v5 and s.mqtt_shared_subscription
        props = None
        if v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = s.mqtt_session_expiry_s if self.keeps_session else 0
            props.ReceiveMaximum = s.ingest_receive_maximum
        try:
            if v5:
                client.connect(
                    s.mqtt_host,
                    s.mqtt_port,
                    s.mqtt_keepalive_s,
                    clean_start=not self.keeps_session,
                    properties=props,
                )
            else:
                client.connect(s.mqtt_host, s.mqtt_port, s.mqtt_keepalive_s)
        except OSError as err:
            raise MqttError(
                f"cannot reach the broker at {s.mqtt_host}:{s.mqtt_port}: {err}"
            ) from err
        self._client = client
        client.loop_start()
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._connected.wait(0.05):
                return
            if self._failed is not None:
                break
        client.disconnect()
        client.loop_stop()
        self._client = None
        reason = self._failed or "no CONNACK in time"
        if self._refused:
            raise MqttAuthError(f"the broker refused the hub: {reason}")
        raise MqttError(reason)

    def _topic_filter(self) -> str:
        if self.shared:
            return shared_subscription(self._settings.mqtt_share_group, ALL_STORES_UP)
        return ALL_STORES_UP

    def _on_connect(
        self, client: paho.Client, _ud: Any, flags: Any, rc: ReasonCode, _props: Any
    ) -> None:
        if rc.is_failure:
            self._failed = str(rc)
            if rc.value in (0x86, 0x87, 0x04, 0x05, 0x8C):  # bad credentials / not authorized
                self._refused = True
                client.disconnect()
            return
        with self._lock:
            self._epoch += 1
        client.subscribe(self._topic_filter(), qos=1)
        self._connected.set()
        _LOGGER.info(
            "connected to %s:%s with MQTT %s (session present: %s), subscribed to %s",
            self._settings.mqtt_host,
            self._settings.mqtt_port,
            "5" if self.protocol == 5 else "3.1.1",
            getattr(flags, "session_present", None),
            self._topic_filter(),
        )
        for callback in list(self.on_connected):
            callback()

    def _on_connect_fail(self, _client: paho.Client, _ud: Any) -> None:
        self._failed = "connection failed"

    def _on_disconnect(
        self, _client: paho.Client, _ud: Any, _flags: Any, rc: ReasonCode, _props: Any
    ) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if not was:
            self._failed = self._failed or f"closed before CONNACK ({rc})"
        elif self._stopping:
            _LOGGER.info("disconnected from the broker")
        else:
            _LOGGER.warning("disconnected from the broker (%s); reconnecting", rc)

    def _on_message(self, _client: paho.Client, _ud: Any, message: paho.MQTTMessage) -> None:
        self.inbox.put(
            Delivery(
                topic=message.topic,
                payload=bytes(message.payload),
                mid=message.mid,
                qos=message.qos,
                epoch=self._epoch,
                received_at=time.monotonic(),
            )
        )

    def ack(self, deliveries: list[Delivery]) -> None:
        """PUBACK committed deliveries in the order received (only those of this connection)."""
        client = self._client
        if client is None:
            return
        epoch = self._epoch
        for d in deliveries:
            if d.qos > 0 and d.epoch == epoch:
                client.ack(d.mid, d.qos)

    def unsubscribe(self, timeout: float = 2.0) -> None:
        """Stop new deliveries (before a clean stop drains what it has)."""
        client = self._client
        if client is None or not self.connected:
            return
        done = threading.Event()
        client.on_unsubscribe = lambda *_args: done.set()
        client.unsubscribe(self._topic_filter())
        done.wait(timeout)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> bool:
        """Queue a publish; False when paho refused it (not connected and not queued)."""
        client = self._client
        if client is None:
            return False
        info = client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN) and (
            info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or qos > 0
        )

    def stop(self, *, final: tuple[str, bytes] | None = None, end_session: bool = True) -> None:
        """Publish ``final`` (the hub's own offline status), disconnect, stop the network thread.

        A clean stop ends the MQTT 5 session (expiry 0): everything in hand is committed
        and acknowledged, and a session left behind would keep taking its share of the
        shared subscription for a worker that is gone. A crash keeps the session, so the
        restarted worker gets its unacknowledged messages again.
        """
        client = self._client
        if client is None:
            return
        self._stopping = True
        if final is not None and self.connected:
            info = client.publish(final[0], final[1], qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2.0)
            except (RuntimeError, ValueError):
                pass
        if self.protocol == 5 and end_session:
            props = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 0
            client.disconnect(properties=props)
        else:
            client.disconnect()
        client.loop_stop()
        self._client = None
        self._connected.clear()
