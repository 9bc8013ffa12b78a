"""kill -9 of the ingest worker in the middle of a stream, then a restart: nothing lost, nothing
doubled. The worker runs as `acorn hub serve --no-api` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hub.db.models import AppliedEvent, SaleFact, StockLevel, StockMovement, StoreSync
from protocol import topics
from protocol.codec import encode, encode_batch
from tests.fixtures.brokers import BrokerInfo
from tests.fixtures.mqtt import mqtt_client
from tests.fixtures.util import (
    die_with_parent,
    kill_process,
    register_process,
    stop_process,
    unregister,
    wait_until,
)
from tests.hub import events as ev

EVENTS = 1500
PER_MESSAGE = 5


class WorkerProcess:
    """`acorn hub serve --no-api` as a child process with its log in a file."""

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
        register_process(self.proc, "hub ingest worker")
        wait_until(
            lambda: (
                "subscribed to" in self.log.read_text(errors="replace")[offset:]
                or self.proc.poll() is not None
            ),
            timeout=20,
            message="worker connected",
        )
        assert self.proc.poll() is None, self.log.read_text(errors="replace")[-3000:]

    def kill9(self) -> None:
        assert self.proc is not None
        kill_process(self.proc)
        unregister(self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            unregister(self.proc)


@pytest.fixture
def worker_process(
    mosquitto: BrokerInfo, hub_db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> Iterator[WorkerProcess]:
    env = {
        **os.environ,
        "ACORN_HUB_DATABASE_URL": hub_db_url,
        "ACORN_HUB_MQTT_HOST": mosquitto.host,
        "ACORN_HUB_MQTT_PORT": str(mosquitto.port),
        "ACORN_HUB_MQTT_USERNAME": "hub",
        "ACORN_HUB_MQTT_PASSWORD": mosquitto.users["hub"],
        "ACORN_HUB_WORKER_ID": f"kill9-{uuid.uuid4().hex[:8]}",
        "ACORN_HUB_RESEND_AFTER_S": "0.5",
        "ACORN_HUB_SCHEDULER_INTERVAL_S": "0.2",
        "ACORN_HUB_INGEST_BATCH_MAX_MESSAGES": "50",
        "ACORN_HUB_LOG_JSON": "false",
    }
    worker = WorkerProcess(env, tmp_path / "worker.log")
    yield worker
    worker.stop()


def test_kill_9_mid_stream_then_restart_loses_and_doubles_nothing(
    mosquitto: BrokerInfo, sessions: sessionmaker[Session], worker_process: WorkerProcess
) -> None:
    stream = [ev.sale("s-001", i, [("TEA", 1), ("MUG", 2)]) for i in range(1, EVENTS + 1)]
    messages = [stream[i : i + PER_MESSAGE] for i in range(0, EVENTS, PER_MESSAGE)]

    def applied() -> int:
        with sessions() as s:
            return int(s.scalar(select(func.count()).select_from(AppliedEvent)) or 0)

    worker_process.start()
    with mqtt_client(mosquitto, "s-001", client_id=f"s-001-{uuid.uuid4().hex[:6]}") as store:
        store.subscribe(topics.store_down_filter("s-001"))
        half = len(messages) // 2
        for batch in messages[:half]:
            store.publish(topics.up_events("s-001"), encode_batch(batch))
        wait_until(lambda: applied() >= 100, timeout=30, message="the worker is applying")
        worker_process.kill9()
        killed_at = applied()
        # The store keeps selling while the hub is down; the broker keeps the messages.
        for batch in messages[half:]:
            store.publish(topics.up_events("s-001"), encode_batch(batch))
        worker_process.start()
        # The store says where it is, as the edge does at birth; it answers resend requests.
        store.publish(topics.up_status("s-001"), encode(ev.birth("s-001", 2, last_seq=EVENTS)))

        def done() -> bool:
            for cmd in store.messages.matching(topics.down_cmd("s-001")):
                store.messages.clear()
                seq = cmd.json()["args"]["seq"]
                resend = stream[seq - 1 :]
                for i in range(0, len(resend), 50):
                    store.publish(topics.up_events("s-001"), encode_batch(resend[i : i + 50]))
                break
            with sessions() as s:
                row = s.get(StoreSync, "s-001")
                return row is not None and row.contiguous_seq == EVENTS

        wait_until(done, timeout=60, interval=0.2, message="every event applied after restart")
    assert 0 < killed_at < EVENTS, "the kill happened in the middle of the stream"
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AppliedEvent)) == EVENTS
        assert s.scalar(select(func.count()).select_from(StockMovement)) == 2 * EVENTS
        assert s.scalar(select(func.sum(SaleFact.qty))) == 3 * EVENTS
        tea = s.get(StockLevel, ("s-001", "TEA"))
        mug = s.get(StockLevel, ("s-001", "MUG"))
        assert tea is not None
        assert mug is not None
        assert (tea.on_hand, mug.on_hand) == (-EVENTS, -2 * EVENTS)
