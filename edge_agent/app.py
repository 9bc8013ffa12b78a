"""Wiring of the store agent: database, devices, sync thread and the cashier UI server.

``EdgeAgent`` owns the process's parts and stops them in reverse order. The
UI is served by werkzeug's threaded server on ``ui.host`` (loopback by
default): the browser runs on the POS box itself.
"""

from __future__ import annotations

import importlib.metadata
import logging
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from edge_agent.config import EdgeSettings
from edge_agent.store.facade import EdgeStore, open_store
from edge_agent.sync.service import BrokerSettings, MqttVersion, SyncService, SyncTuning
from edge_agent.ui.app import create_app

if TYPE_CHECKING:
    from edge_agent.devices.manager import DeviceManager

_LOGGER = logging.getLogger(__name__)


def agent_version() -> str:
    """The installed Acorn version (sent in the birth message)."""
    try:
        return importlib.metadata.version("acorn")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def open_store_for(settings: EdgeSettings) -> EdgeStore:
    """Open (and migrate) the store database named by the settings."""
    return open_store(
        settings.database,
        settings.store_id,
        synchronous=settings.synchronous,
        busy_timeout_ms=settings.busy_timeout_ms,
        policy=settings.tax_policy(),
        tz=settings.zone,
        day_start=settings.day_start,
    )


def broker_settings_for(settings: EdgeSettings) -> BrokerSettings:
    """Turn the [broker] table into the sync service's connection settings."""
    broker = settings.broker
    return BrokerSettings(
        host=broker.host,
        port=broker.port,
        username=broker.username or settings.store_id,
        password=broker.resolve_password(),
        mqtt_version=MqttVersion(broker.mqtt_version),
        keepalive_s=broker.keepalive_s,
        session_expiry_s=broker.session_expiry_s,
        connect_timeout_s=broker.connect_timeout_s,
        backoff_initial_s=broker.backoff_initial_s,
        backoff_max_s=broker.backoff_max_s,
        tls_ca_file=str(broker.tls_ca_file) if broker.tls_ca_file else None,
    )


def build_devices(settings: EdgeSettings, store: EdgeStore) -> DeviceManager | None:
    """Create the device manager when a [devices] table is configured (its queue shares our DB)."""
    if settings.devices is None:
        return None
    # Imported only when configured: python-escpos is slow to import.
    from edge_agent.devices import queue_models
    from edge_agent.devices.manager import DeviceManager

    queue_models.bind(store.db)  # the print queue's table lives in the edge database
    return DeviceManager(settings.devices)


class EdgeAgent:
    """The running store agent: store, optional devices, sync and the UI server."""

    def __init__(self, settings: EdgeSettings) -> None:
        self.settings = settings
        self.store = open_store_for(settings)
        self.devices = build_devices(settings, self.store)
        self.sync: SyncService | None = None
        if settings.sync.enabled:
            self.sync = SyncService(
                self.store,
                broker_settings_for(settings),
                currency=settings.currency,
                agent_version=agent_version(),
                tuning=SyncTuning(
                    batch_events=settings.sync.batch_events,
                    ack_timeout_s=settings.sync.ack_timeout_s,
                    status_interval_s=settings.sync.status_interval_s,
                ),
                device_states=self._device_states if self.devices is not None else None,
            )
        self.app: Flask = create_app(
            settings, store=self.store, sync=self.sync, devices=self.devices
        )
        self._server: BaseWSGIServer | None = None
        self._stopped = threading.Event()

    def _device_states(self) -> dict[str, dict[str, Any]]:
        assert self.devices is not None
        states: dict[str, dict[str, Any]] = self.devices.birth_states()
        return states

    @property
    def ui_url(self) -> str:
        """Where the cashier UI listens (valid once started)."""
        assert self._server is not None
        return f"http://{self.settings.ui.host}:{self._server.server_port}"

    def start(self) -> None:
        """Start devices, sync and the UI server (the server runs in a background thread)."""
        if self.devices is not None:
            self.devices.start()
        if self.sync is not None:
            self.sync.start()
        self._server = make_server(
            self.settings.ui.host, self.settings.ui.port, self.app, threaded=True
        )
        threading.Thread(target=self._server.serve_forever, name="acorn-ui", daemon=True).start()
        _LOGGER.info(
            "store %s agent %s: cashier UI on %s",
            self.settings.store_id,
            agent_version(),
            self.ui_url,
        )

    def stop(self) -> None:
        """Stop the UI, then sync (it says offline), then devices; close the database."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self.sync is not None:
            self.sync.stop()
        if self.devices is not None:
            self.devices.stop()
        self.store.close()
        _LOGGER.info("store %s agent stopped", self.settings.store_id)

    def wait(self) -> None:
        """Block until ``stop`` is called (from a signal handler or another thread)."""
        self._stopped.wait()


def run(settings: EdgeSettings, *, on_started: Callable[[EdgeAgent], None] | None = None) -> None:
    """Run the agent until SIGTERM or SIGINT, then stop it cleanly."""
    agent = EdgeAgent(settings)

    def _stop(signum: int, frame: Any) -> None:
        _LOGGER.info("signal %d: stopping", signum)
        threading.Thread(target=agent.stop, name="acorn-stop").start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    agent.start()
    if on_started is not None:
        on_started(agent)
    agent.wait()
