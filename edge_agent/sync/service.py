"""The sync service: one thread that owns the MQTT connection and pumps the outbox.

One thread does everything network-related, in a plain loop:

1. connect (a fresh paho client per connection, MQTT 5 with ``clean_start``
   off and a session expiry; 3.1.1 with ``clean_session`` off when the broker
   does not speak 5), with a Last Will that says offline under a new bdSeq;
2. on CONNACK: subscribe to ``down/#`` and our own ``up/status``, publish the
   retained birth, and restart publishing from the first unacked event;
3. loop: network I/O, publish outbox batches (JSON arrays, QoS 1) while fewer
   than ``MAX_INFLIGHT_BATCHES`` wait for PUBACK, apply inbound messages,
   refresh the birth now and then, resend when the hub's ack stalls;
4. on a lost connection: wait an exponential backoff with jitter and go to 1,
   except after a credentials refusal, which stops reconnecting until
   ``retry()`` (the UI's button) or a restart.

Outbox rows are deleted only when the hub acks them (``down/ack``), never on
PUBACK: the broker having a message is not the hub having applied it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.store.errors import StoreUnavailable
from edge_agent.store.facade import EdgeStore
from edge_agent.store.outbox import DEFAULT_BATCH_EVENTS, join_batch
from edge_agent.sync.backoff import Backoff
from edge_agent.sync.inbound import HandlerHooks, InboundHandler, Outcome
from protocol import topics
from protocol.codec import encode
from protocol.messages import HubStatus, StatusMessage

_LOGGER = logging.getLogger(__name__)

MAX_INFLIGHT_BATCHES = 10
LOOP_TIMEOUT_S = 0.05
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_KEEPALIVE_S = 30
DEFAULT_SESSION_EXPIRY_S = 7 * 24 * 3600
DEFAULT_ACK_TIMEOUT_S = 60.0
MAX_ACK_TIMEOUT_S = 900.0
DEFAULT_STATUS_INTERVAL_S = 30.0
STABLE_CONNECTION_S = 10.0
# CONNACK reasons that mean "these credentials will not work": retrying only hammers the broker.
CREDENTIAL_REFUSALS = frozenset({134, 135, 138, 140})  # bad user/password, not authorised, banned
UNSUPPORTED_PROTOCOL = 132


class MqttVersion(StrEnum):
    """Which MQTT version to speak; AUTO tries 5 and falls back to 3.1.1."""

    AUTO = "auto"
    V5 = "5"
    V311 = "3.1.1"


class LinkState(StrEnum):
    """The connection as the screen shows it."""

    STOPPED = "stopped"
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"
    AUTH_FAILED = "auth_failed"


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """Where and how the agent connects."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    mqtt_version: MqttVersion = MqttVersion.AUTO
    keepalive_s: int = DEFAULT_KEEPALIVE_S
    session_expiry_s: int = DEFAULT_SESSION_EXPIRY_S
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    tls_ca_file: str | None = None
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class SyncTuning:
    """How the pump batches and how patiently it waits for the hub."""

    batch_events: int = DEFAULT_BATCH_EVENTS
    ack_timeout_s: float = DEFAULT_ACK_TIMEOUT_S
    status_interval_s: float = DEFAULT_STATUS_INTERVAL_S


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """A snapshot of the link and the outbox for the screen, the API and the birth."""

    state: LinkState
    protocol: str | None
    bd_seq: int | None
    message: str
    outbox_depth: int
    oldest_unsynced_age_s: float | None
    last_seq: int
    acked_seq: int
    dead_letters: int
    connected_since: datetime | None
    last_ack_at: datetime | None
    hub_online: bool | None = None  # the hub's last birth or Last Will; None before either

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "state": str(self.state),
            "online": self.state is LinkState.ONLINE,
            "protocol": self.protocol,
            "bd_seq": self.bd_seq,
            "message": self.message,
            "outbox_depth": self.outbox_depth,
            "oldest_unsynced_age_s": self.oldest_unsynced_age_s,
            "last_seq": self.last_seq,
            "acked_seq": self.acked_seq,
            "dead_letters": self.dead_letters,
            "connected_since": self.connected_since.isoformat() if self.connected_since else None,
            "last_ack_at": self.last_ack_at.isoformat() if self.last_ack_at else None,
            "hub_online": self.hub_online,
        }


DeviceStates = Callable[[], dict[str, dict[str, Any]]]


@dataclass(slots=True)
class _Connection:
    """State of one connection attempt (a fresh paho client each time)."""

    client: mqtt.Client
    protocol: MqttVersion
    bd_seq: int
    connack: ReasonCode | None = None
    closed: bool = False
    session_present: bool = False
    inflight: dict[int, int] = field(default_factory=dict)  # mid -> last seq of the batch
    cursor: int = 0  # highest seq published on this connection
    last_status_at: float = 0.0
    last_status_key: tuple[int, int] | None = None
    republish_birth: bool = False
    reconnect_requested: bool = False


class SyncService:
    """Keeps the store's outbox flowing to the hub and applies what the hub sends back."""

    def __init__(
        self,
        store: EdgeStore,
        broker: BrokerSettings,
        *,
        currency: str,
        agent_version: str,
        tuning: SyncTuning | None = None,
        device_states: DeviceStates | None = None,
    ) -> None:
        self._store = store
        self._broker = broker
        self._tuning = tuning or SyncTuning()
        self._agent_version = agent_version
        self._device_states = device_states
        self._handler = InboundHandler(
            store,
            currency,
            HandlerHooks(
                on_ack=self._on_hub_ack,
                on_resend_from=self._on_resend_from,
                on_ping=self._on_ping,
                on_status=self._on_own_status,
                on_hub_status=self._on_hub_status,
            ),
        )
        self._backoff = Backoff(broker.backoff_initial_s, broker.backoff_max_s)
        self._stop = threading.Event()
        self._retry_now = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: _Connection | None = None
        self._protocol = (
            MqttVersion.V311 if broker.mqtt_version is MqttVersion.V311 else MqttVersion.V5
        )
        self._state = LinkState.STOPPED
        self._message = "not started"
        self._connected_since: datetime | None = None
        self._last_ack_at: datetime | None = None
        self._ack_progress_at = time.monotonic()
        self._ack_timeout_s = self._tuning.ack_timeout_s
        self._acked_seen = store.outbox.acked_seq()
        self._hub_online: bool | None = None
        self._hub_status_at: datetime | None = None
        self._auth_failed = False
        self.connect_attempts = 0

    # -- public -------------------------------------------------------------------------

    @property
    def store_id(self) -> str:
        """The store this service syncs."""
        return self._store.store_id

    def start(self) -> None:
        """Start the sync thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"acorn-sync-{self.store_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Publish an orderly offline status, disconnect and join the thread."""
        self._stop.set()
        self._retry_now.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self._state = LinkState.STOPPED
        self._message = "stopped"

    def retry(self) -> None:
        """Try to connect again now (after credentials were fixed, or to skip a backoff)."""
        self._auth_failed = False
        self._backoff.reset()
        self._retry_now.set()

    def status(self) -> SyncStatus:
        """Return the link state and outbox figures (reads the store in the caller's thread)."""
        stats = self._store.outbox.stats()
        conn = self._conn
        return SyncStatus(
            state=self._state,
            protocol=str(conn.protocol)
            if conn is not None and self._state is LinkState.ONLINE
            else None,
            bd_seq=conn.bd_seq if conn is not None else None,
            message=self._message,
            outbox_depth=stats.depth,
            oldest_unsynced_age_s=stats.oldest_unsynced_age_s,
            last_seq=stats.last_seq,
            acked_seq=stats.acked_seq,
            dead_letters=self._store.inbound.dead_letter_count(),
            connected_since=self._connected_since,
            last_ack_at=self._last_ack_at,
            hub_online=self._hub_online,
        )

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self._auth_failed:
                    if self._retry_now.wait(1.0):
                        self._retry_now.clear()
                    continue
                try:
                    conn = self._connect()
                    if conn is not None:
                        self._serve(conn)
                except Exception:  # noqa: BLE001 - the link must outlive a bug; events stay queued
                    _LOGGER.exception("sync error; reconnecting (the outbox keeps every event)")
                    self._set_offline("sync hit an internal error; retrying (see the log)")
                if not self._stop.is_set() and not self._auth_failed:
                    self._sleep_backoff()
        finally:
            self._store.close()

    def _sleep_backoff(self) -> None:
        if self._retry_now.is_set():
            self._retry_now.clear()
            return
        delay = self._backoff.next_delay()
        _LOGGER.info("reconnecting to %s:%d in %.1f s", self._broker.host, self._broker.port, delay)
        if self._retry_now.wait(delay):
            self._retry_now.clear()

    def _new_client(self, protocol: MqttVersion) -> mqtt.Client:
        client_id = self._broker.client_id or f"acorn-edge-{self.store_id}"
        if protocol is MqttVersion.V5:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=mqtt.MQTTv5,
                manual_ack=True,
            )
        else:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=client_id,
                clean_session=False,
                protocol=mqtt.MQTTv311,
                manual_ack=True,
            )
        if self._broker.username:
            client.username_pw_set(self._broker.username, self._broker.password)
        if self._broker.tls_ca_file:
            client.tls_set(ca_certs=self._broker.tls_ca_file)
        client.enable_logger(logging.getLogger("edge_agent.sync.paho"))
        return client

    def _connect(self) -> _Connection | None:
        """Open one connection; return it once CONNACK accepted it, else None."""
        protocol = self._protocol
        self.connect_attempts += 1
        try:
            bd_seq = self._store.next_bd_seq()
        except StoreUnavailable as err:
            self._set_offline(f"cannot take a bdSeq: {err}")
            return None
        client = self._new_client(protocol)
        conn = _Connection(client=client, protocol=protocol, bd_seq=bd_seq)
        death = StatusMessage(
            v=1, store=self.store_id, online=False, bdSeq=bd_seq, at=datetime.now(UTC)
        )
        client.will_set(topics.up_status(self.store_id), encode(death), qos=1, retain=True)
        client.on_connect = lambda c, u, flags, rc, props: self._on_connect(conn, flags, rc)
        client.on_disconnect = lambda c, u, flags, rc, props: self._on_disconnect(conn, rc)
        client.on_publish = lambda c, u, mid, rc, props: self._on_publish(conn, mid, rc)
        client.on_message = lambda c, u, msg: self._on_message(conn, msg)
        self._state = LinkState.CONNECTING
        self._message = f"connecting to {self._broker.host}:{self._broker.port} (MQTT {protocol})"
        try:
            if protocol is MqttVersion.V5:
                make_properties: Callable[[int], Any] = Properties
                props = make_properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = self._broker.session_expiry_s
                client.connect(
                    self._broker.host,
                    self._broker.port,
                    keepalive=self._broker.keepalive_s,
                    clean_start=False,
                    properties=props,
                )
            else:
                client.connect(
                    self._broker.host, self._broker.port, keepalive=self._broker.keepalive_s
                )
        except (OSError, ValueError) as err:
            self._set_offline(f"broker {self._broker.host}:{self._broker.port} unreachable: {err}")
            return None
        deadline = time.monotonic() + self._broker.connect_timeout_s
        while conn.connack is None and not conn.closed and time.monotonic() < deadline:
            if self._stop.is_set():
                client.disconnect()
                return None
            client.loop(timeout=0.1)
        if conn.connack is not None and not conn.connack.is_failure:
            return conn
        if not conn.closed:
            client.disconnect()
            self._close_socket(client)
        self._connect_failed(conn)
        return None

    def _connect_failed(self, conn: _Connection) -> None:
        reason = conn.connack
        if reason is not None and reason.value in CREDENTIAL_REFUSALS:
            self._auth_failed = True
            self._state = LinkState.AUTH_FAILED
            self._message = (
                f"the broker refused this store's credentials ({reason}); not retrying. Check "
                "broker.username and the password, then press Retry or restart the agent"
            )
            _LOGGER.error(
                "broker %s:%d refused the credentials of user %r (%s); reconnecting stopped",
                self._broker.host,
                self._broker.port,
                self._broker.username,
                reason,
            )
            return
        protocol_refused = reason is not None and reason.value == UNSUPPORTED_PROTOCOL
        # A broker that speaks only 3.1.1 either answers "unsupported protocol version" or
        # drops the socket without a CONNACK (amqtt does the latter when a username is sent).
        if (
            self._broker.mqtt_version is MqttVersion.AUTO
            and conn.protocol is MqttVersion.V5
            and (protocol_refused or reason is None)
        ):
            _LOGGER.warning(
                "broker %s:%d did not accept MQTT 5; falling back to MQTT 3.1.1 "
                "(no PUBACK reason codes: ACL refusals are invisible here)",
                self._broker.host,
                self._broker.port,
            )
            self._protocol = MqttVersion.V311
            self._backoff.reset()
            self._retry_now.set()
            self._set_offline("broker speaks MQTT 3.1.1 only; retrying with 3.1.1")
            return
        self._set_offline(
            f"broker {self._broker.host}:{self._broker.port} refused the connection ({reason})"
            if reason is not None
            else f"no answer from broker {self._broker.host}:{self._broker.port}"
        )
        return

    @staticmethod
    def _close_socket(client: mqtt.Client) -> None:
        """Let paho flush the DISCONNECT and close the socket (bounded)."""
        for _ in range(20):
            if client.socket() is None:
                break
            if client.loop(timeout=0.01) != mqtt.MQTT_ERR_SUCCESS:
                break

    def _set_offline(self, message: str) -> None:
        if self._state is not LinkState.AUTH_FAILED:
            self._state = LinkState.OFFLINE
        self._message = message
        self._connected_since = None
        _LOGGER.warning("sync offline: %s", message)

    def _serve(self, conn: _Connection) -> None:
        """Run one accepted connection until it drops or the service stops."""
        client = conn.client
        self._conn = conn
        connected_at = time.monotonic()
        self._state = LinkState.ONLINE
        self._connected_since = datetime.now(UTC)
        self._message = f"online (MQTT {conn.protocol}, bdSeq {conn.bd_seq})"
        _LOGGER.info(
            "connected to %s:%d as %s (MQTT %s, bdSeq %d, session present %s)",
            self._broker.host,
            self._broker.port,
            self.store_id,
            conn.protocol,
            conn.bd_seq,
            conn.session_present,
        )
        client.subscribe(topics.store_down_filter(self.store_id), qos=1)
        client.subscribe(topics.up_status(self.store_id), qos=1)
        client.subscribe(topics.HUB_STATUS, qos=1)
        self._publish_birth(conn)
        # Everything not yet acked goes again on a new connection (at least once).
        conn.cursor = self._store.outbox.acked_seq()
        self._ack_progress_at = time.monotonic()
        self._ack_timeout_s = self._tuning.ack_timeout_s
        while not conn.closed:
            if self._stop.is_set():
                self._goodbye(conn)
                break
            if conn.reconnect_requested:
                client.disconnect()
                self._close_socket(client)
                break
            rc = client.loop(timeout=LOOP_TIMEOUT_S)
            if rc != mqtt.MQTT_ERR_SUCCESS or conn.closed:
                break
            if self._backoff.attempts and time.monotonic() - connected_at > STABLE_CONNECTION_S:
                # Only a connection that held resets the backoff: a broker that accepts and
                # drops at once must not be reconnected to in a tight loop.
                self._backoff.reset()
            try:
                self._pump(conn)
                self._check_ack_stall(conn)
                self._refresh_birth(conn)
            except StoreUnavailable as err:
                _LOGGER.error("outbox unreadable, pausing the pump: %s", err)
                self._stop.wait(1.0)
        conn.closed = True
        if not self._stop.is_set():
            self._set_offline(f"connection to {self._broker.host}:{self._broker.port} lost")

    def _goodbye(self, conn: _Connection) -> None:
        """Say offline under this bdSeq, then disconnect (a clean DISCONNECT fires no Will)."""
        client = conn.client
        death = StatusMessage(
            v=1, store=self.store_id, online=False, bdSeq=conn.bd_seq, at=datetime.now(UTC)
        )
        info = client.publish(topics.up_status(self.store_id), encode(death), qos=1, retain=True)
        deadline = time.monotonic() + 2.0
        while not info.is_published() and time.monotonic() < deadline and not conn.closed:
            client.loop(timeout=0.05)
        client.disconnect()
        self._close_socket(client)

    # -- publishing -----------------------------------------------------------------------

    def _birth(self, conn: _Connection) -> StatusMessage:
        stats = self._store.outbox.stats()
        devices: dict[str, dict[str, Any]] = {}
        if self._device_states is not None:
            try:
                devices = self._device_states()
            except Exception:  # noqa: BLE001 - a device fault must not stop the birth
                _LOGGER.exception("device states unavailable for the birth message")
        return StatusMessage(
            v=1,
            store=self.store_id,
            online=True,
            bdSeq=conn.bd_seq,
            agent_version=self._agent_version,
            outbox_depth=stats.depth,
            oldest_unsynced_age_s=stats.oldest_unsynced_age_s,
            last_seq=stats.last_seq,
            devices=devices,
            at=datetime.now(UTC),
            # An extra field (v1 keeps unknown fields): the hub sends the catalog delta since it.
            catalog_version=self._store.catalog.version(),
        )

    def _publish_birth(self, conn: _Connection) -> None:
        birth = self._birth(conn)
        conn.client.publish(topics.up_status(self.store_id), encode(birth), qos=1, retain=True)
        conn.last_status_at = time.monotonic()
        conn.last_status_key = (birth.outbox_depth or 0, birth.last_seq or 0)
        conn.republish_birth = False
        _LOGGER.debug("birth bdSeq=%d depth=%s", conn.bd_seq, birth.outbox_depth)

    def _refresh_birth(self, conn: _Connection) -> None:
        if conn.republish_birth:
            self._publish_birth(conn)
            return
        if time.monotonic() - conn.last_status_at < self._tuning.status_interval_s:
            return
        stats = self._store.outbox.stats()
        if (stats.depth, stats.last_seq) != conn.last_status_key:
            self._publish_birth(conn)
        else:
            conn.last_status_at = time.monotonic()

    def _pump(self, conn: _Connection) -> None:
        """Publish outbox batches after the cursor while the in-flight window has room."""
        while len(conn.inflight) < MAX_INFLIGHT_BATCHES:
            events = self._store.outbox.pending(conn.cursor, limit=self._tuning.batch_events)
            if not events:
                return
            info = conn.client.publish(topics.up_events(self.store_id), join_batch(events), qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                _LOGGER.warning("publish of seq %d.. failed (%s)", events[0].seq, info.rc)
                return
            conn.inflight[info.mid] = events[-1].seq
            conn.cursor = events[-1].seq
            _LOGGER.debug("published seq %d..%d", events[0].seq, events[-1].seq)

    def _check_ack_stall(self, conn: _Connection) -> None:
        """Resend from the first unacked event when the hub has not acked for a while."""
        if conn.cursor <= self._acked_seen or self._hub_online is False:
            # nothing in flight, or the hub is down: its birth will trigger the resend instead
            # of piling copies in its broker queue
            self._ack_progress_at = time.monotonic()
            return
        if time.monotonic() - self._ack_progress_at < self._ack_timeout_s:
            return
        _LOGGER.warning(
            "no ack from the hub for %.0f s (acked %d, published %d); resending",
            self._ack_timeout_s,
            self._acked_seen,
            conn.cursor,
        )
        conn.cursor = self._acked_seen
        self._ack_progress_at = time.monotonic()
        self._ack_timeout_s = min(MAX_ACK_TIMEOUT_S, self._ack_timeout_s * 2)

    # -- callbacks (run in the sync thread, inside client.loop) ---------------------------

    def _on_connect(self, conn: _Connection, flags: mqtt.ConnectFlags, rc: ReasonCode) -> None:
        conn.connack = rc
        conn.session_present = bool(flags.session_present)

    def _on_disconnect(self, conn: _Connection, rc: ReasonCode) -> None:
        conn.closed = True
        if conn.connack is not None and not conn.connack.is_failure:
            if self._stop.is_set() or conn.reconnect_requested:
                _LOGGER.info("disconnected from the broker (%s)", rc)
            else:
                _LOGGER.warning("disconnected from the broker (%s)", rc)

    def _on_publish(self, conn: _Connection, mid: int, rc: ReasonCode) -> None:
        last = conn.inflight.pop(mid, None)
        if last is not None and rc.is_failure:
            # MQTT 5 only: the broker refused the batch (ACL). The rows stay in the outbox.
            self._message = f"the broker refused events up to seq {last} ({rc}); check the ACL"
            _LOGGER.error("broker refused the batch ending at seq %d: %s", last, rc)

    def _on_message(self, conn: _Connection, message: mqtt.MQTTMessage) -> None:
        outcome = self._handler.handle(message.topic, bytes(message.payload))
        _LOGGER.debug("inbound %s -> %s", message.topic, outcome)
        if outcome is Outcome.RETRY:
            # Not PUBACKed: reconnecting makes the broker deliver it again (MQTT 5 4.4).
            conn.reconnect_requested = True
            return
        if message.qos > 0:
            conn.client.ack(message.mid, message.qos)

    def _on_hub_ack(self, seq: int) -> None:
        self._store.outbox.acknowledge(seq)
        acked = self._store.outbox.acked_seq()
        if acked > self._acked_seen:
            self._acked_seen = acked
            self._ack_progress_at = time.monotonic()
            self._ack_timeout_s = self._tuning.ack_timeout_s
        self._last_ack_at = datetime.now(UTC)
        conn = self._conn
        if conn is not None and conn.cursor < acked:
            conn.cursor = acked

    def _on_resend_from(self, seq: int) -> None:
        conn = self._conn
        first = self._store.outbox.first_seq()
        if first is not None and seq < first:
            _LOGGER.warning(
                "hub asked to resend from seq %d but events before %d were acked and removed",
                seq,
                first,
            )
        _LOGGER.info("hub asked to resend from seq %d", seq)
        if conn is not None:
            conn.cursor = min(conn.cursor, seq - 1)

    def _on_hub_status(self, status: HubStatus) -> None:
        """The hub's birth or Last Will: hold resends while it is down, resend when it is back.

        A birth newer than the last one seen means the hub (re)subscribed: events published
        while it was away may have found no subscriber (a broker restart loses the shared
        subscription), so everything not acked goes again now instead of after an ack stall.
        """
        if self._hub_status_at is not None and status.at <= self._hub_status_at:
            return  # the retained copy of what we already know, or an older message
        self._hub_status_at = status.at
        was_online = self._hub_online
        self._hub_online = status.online
        if not status.online:
            _LOGGER.warning("the hub is offline (its Last Will); holding resends until it is back")
            return
        if was_online is False:
            _LOGGER.info("the hub is back online (bdSeq %d)", status.bdSeq)
        self._ack_progress_at = time.monotonic()
        self._ack_timeout_s = self._tuning.ack_timeout_s
        conn = self._conn
        if conn is not None and conn.cursor > self._acked_seen:
            _LOGGER.info(
                "hub birth: sending again from seq %d (published up to %d)",
                self._acked_seen + 1,
                conn.cursor,
            )
            conn.cursor = self._acked_seen

    def _on_ping(self) -> None:
        if self._conn is not None:
            self._conn.republish_birth = True

    def _on_own_status(self, status: StatusMessage) -> None:
        conn = self._conn
        if conn is None or conn.closed or status.online:
            if conn is not None and status.online and status.bdSeq > conn.bd_seq:
                _LOGGER.error(
                    "another agent is online as store %s (bdSeq %d > ours %d)",
                    self.store_id,
                    status.bdSeq,
                    conn.bd_seq,
                )
            return
        # A death over our status while we are connected: a stale Will (older bdSeq) that
        # the broker published after we reconnected, or a false one. Either way the hub
        # must see us online again.
        what = "an older Will" if status.bdSeq < conn.bd_seq else "a Will for this connection"
        _LOGGER.info(
            "%s (bdSeq %d, ours %d) says we are offline while we are connected; birth again",
            what,
            status.bdSeq,
            conn.bd_seq,
        )
        conn.republish_birth = True
