"""A hub that crashes and restarts on its default configuration must not leave half of the
stores' events with a session nobody resumes.

The hub subscribes through the shared subscription ``$share/hub/...`` with an MQTT 5
session that outlives the connection (``mqtt_session_expiry_s``, an hour by default),
so that a restarted worker gets back what it had not acknowledged. That only works
when the restarted worker uses the same client id, ``hub-<worker_id>``; the default
``worker_id`` is the host name and the process id, new on every start. Mosquitto keeps
the crashed worker's session in the share group and hands it every other message
(measured on 2.0.11: 10 of 20), queued for a client that never comes back; the
stores' resends are split the same way again. So without a configured ``worker_id``
the hub's session must end with its connection.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.config import HubSettings
from hub.db import stores
from hub.db.engine import make_engine, make_sessionmaker
from hub.ingest.mqtt import HubMqtt
from protocol import topics
from protocol.codec import encode_batch
from tests.chaos.conftest import Collector, Row
from tests.chaos.world import read_only
from tests.fixtures.brokers import BrokerInfo
from tests.fixtures.mqtt import mqtt_client
from tests.fixtures.util import (
    die_with_parent,
    register_process,
    stop_process,
    unregister,
    wait_until,
)
from tests.hub import events as ev

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

STORE = "s-001"
EVENTS = 20


class Hub:
    """``acorn hub serve --no-api`` on its default worker id, its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                die_with_parent([sys.executable, "-m", "acorn.cli", "hub", "serve", "--no-api"]),
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        register_process(self.proc, "hub ingest worker (default worker id)")
        proc = self.proc
        wait_until(
            lambda: (
                "subscribed to" in self.log.read_text(errors="replace")[offset:]
                or proc.poll() is not None
            ),
            timeout=60,
            message="the hub connected and subscribed",
        )
        assert proc.poll() is None, self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            unregister(self.proc)


@pytest.fixture
def hub_db(tmp_path: Path, hub_sqlite_template: Path) -> Path:
    path = tmp_path / "hub.db"
    shutil.copyfile(hub_sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}", writer=True)
    try:
        with make_sessionmaker(engine).begin() as session:
            stores.create_store(
                session,
                store_id=STORE,
                name="Store",
                timezone="Europe/Berlin",
                currency="EUR",
                now=datetime.now(UTC),
            )
    finally:
        engine.dispose()
    return path


@pytest.fixture
def hub(mosquitto_private: BrokerInfo, hub_db: Path, tmp_path: Path) -> Iterator[Hub]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACORN_HUB_")}
    env.update(
        ACORN_HUB_DATABASE_URL=f"sqlite:///{hub_db}",
        ACORN_HUB_MQTT_HOST=mosquitto_private.host,
        ACORN_HUB_MQTT_PORT=str(mosquitto_private.port),
        ACORN_HUB_MQTT_USERNAME="hub",
        ACORN_HUB_MQTT_PASSWORD=mosquitto_private.users["hub"],
        ACORN_HUB_LOG_JSON="false",
    )
    worker = Hub(env, tmp_path / "hub.log")
    yield worker
    worker.stop()


def test_a_crashed_hub_on_the_default_worker_id_leaves_no_session_behind(
    mosquitto_private: BrokerInfo, hub: Hub, hub_db: Path, collector: Collector
) -> None:
    """GIVEN a hub worker on the default worker_id that went away without ending its
    session (as a crash leaves it), WHEN the hub starts again (a new pid, so a new client
    id), THEN every event a store publishes once reaches it; none waits in the old session."""
    row = Row("hub crash, default worker_id")
    collector.rows.append(row)
    started = time.monotonic()
    # The first worker runs in this process (the product's connection code, this pid) and
    # drops its connection without ending the session: what SIGKILL leaves at the broker.
    gone = HubMqtt(
        HubSettings(
            database_url=f"sqlite:///{hub_db}",
            mqtt_host=mosquitto_private.host,
            mqtt_port=mosquitto_private.port,
            mqtt_username="hub",
            mqtt_password=mosquitto_private.users["hub"],
        )
    )
    gone.start()
    gone.stop(end_session=False)
    hub.start()

    def contiguous() -> int:
        with read_only(hub_db) as conn:
            row = conn.execute(
                "SELECT contiguous_seq FROM store_sync WHERE store_id = ?", (STORE,)
            ).fetchone()
        return int(row[0]) if row else 0

    def applied() -> int:
        with read_only(hub_db) as conn:
            return int(
                conn.execute(
                    "SELECT COUNT(*) FROM applied_events WHERE store_id = ?", (STORE,)
                ).fetchone()[0]
            )

    with mqtt_client(mosquitto_private, STORE, protocol=5) as store:
        for seq in range(1, EVENTS + 1):
            envelope = ev.sale(STORE, seq, [("TEA", 1)])
            assert not store.publish(topics.up_events(STORE), encode_batch([envelope])).is_failure
        # each event is published once and no resend request is answered: an event that
        # went to the old session would never arrive
        try:
            wait_until(lambda: applied() == EVENTS, timeout=20, interval=0.1, message="events")
        except AssertionError as err:
            row.result = "FAILED"
            raise AssertionError(
                f"{applied()} of {EVENTS} events applied (contiguous seq {contiguous()}): "
                "the rest went to the session of a worker that is gone"
            ) from err
        finally:
            row.sent, row.applied = EVENTS, applied()
            row.lost = EVENTS - row.applied
            row.seconds = time.monotonic() - started
    assert contiguous() == EVENTS
    row.result = "OK"
    row.notes.append(
        "a worker on the default worker_id went away without ending its session; the hub "
        f"restarted on a new pid got all {EVENTS} events, each published once"
    )
