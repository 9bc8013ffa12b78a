"""kill -9 of the real agent (``acorn edge run``) while sales are being rung through its API.

Each round starts the agent, rings sales over HTTP from a thread, and SIGKILLs the
agent at a random moment (often mid-request). A test client playing the hub acks
what it receives. At the end the agent runs once more until its outbox is empty.
Then: the database passes SQLite's integrity check, every sale the till confirmed
is stored, receipt numbers and seqs are gap-free, the hub holds every seq exactly
once per envelope id, and the stock figure matches the sales.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from edge_agent.store.counters import CounterName, read_value
from edge_agent.store.facade import open_store
from edge_agent.store.models import OutboxEvent, Sale, SaleLine
from tests.edge.store.helpers import MILK_EAN, STORE_ID
from tests.edge.sync.conftest import Hub
from tests.fixtures.brokers import BrokerInfo
from tests.fixtures.util import (
    free_port,
    kill_process,
    register_process,
    stop_process,
    unregister,
    wait_until,
)

ROUNDS = 3
PIN = "2468"
START_STOCK = 10_000

pytestmark = pytest.mark.slow


@pytest.fixture
def agent_config(tmp_path: Path, mosquitto: BrokerInfo) -> tuple[Path, dict[str, str]]:
    config = tmp_path / "edge.toml"
    config.write_text(
        f'store_id = "{STORE_ID}"\n'
        'tz = "Europe/London"\n'
        'currency = "GBP"\n'
        'database = "edge.db"\n'
        "[broker]\n"
        f'host = "{mosquitto.host}"\nport = {mosquitto.port}\nusername = "{STORE_ID}"\n'
        "backoff_initial_s = 0.05\nbackoff_max_s = 0.5\nkeepalive_s = 10\n"
        "[sync]\nack_timeout_s = 2.0\nstatus_interval_s = 1.0\n"
    )
    env = dict(os.environ, ACORN_EDGE_BROKER__PASSWORD=mosquitto.users[STORE_ID])
    env.pop("ACORN_EDGE_CONFIG", None)
    return config, env


@pytest.fixture
def agents() -> Iterator[Callable[[Path, dict[str, str]], tuple[subprocess.Popen[bytes], str]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(config: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "acorn.cli",
                "edge",
                "run",
                "--config",
                str(config),
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        register_process(proc, f"edge agent on port {port}")
        started.append(proc)
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            assert proc.poll() is None, "the agent exited while starting"
            try:
                return httpx.get(url + "/healthz", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 60, message="agent UI up")
        return proc, url

    yield start
    for proc in started:
        stop_process(proc)
        unregister(proc)


def _ring_until_killed(url: str, confirmed: list[str], stop: threading.Event) -> None:
    """Ring one-item cash sales until the agent dies; record every receipt it confirmed."""
    with httpx.Client(base_url=url, timeout=5.0) as client:
        try:
            assert client.post("/api/login", json={"cashier_id": "ann", "pin": PIN}).is_success
            if client.get("/api/shift").json()["shift"] is None:
                client.post("/api/shift/open", json={"opening_float_minor": 0})
            while not stop.is_set():
                client.post("/api/cart/scan", json={"code": MILK_EAN})
                done = client.post(
                    "/api/cart/complete",
                    json={"tenders": [{"kind": "cash", "amount_minor": 200}]},
                )
                if done.status_code == 201:
                    confirmed.append(done.json()["sale"]["receipt_no"])
        except httpx.HTTPError:
            return  # the agent was killed mid-request


def test_kill9_during_sales_loses_nothing_and_keeps_seq_gap_free(
    mosquitto: BrokerInfo,
    agent_config: tuple[Path, dict[str, str]],
    agents: Callable[[Path, dict[str, str]], tuple[subprocess.Popen[bytes], str]],
    hub_factory: Callable[[BrokerInfo], Hub],
    tmp_path: Path,
) -> None:
    config, env = agent_config
    seed = open_store(tmp_path / "edge.db", STORE_ID)
    seed.cashiers.add("ann", "Ann", PIN)
    seed.catalog.upsert("MILK-1L", "Milk 1L", 129, "zero", barcodes=[MILK_EAN])
    seed.stock.receive("MILK-1L", START_STOCK, reference="opening stock")  # seq 1
    seed.close()

    hub = hub_factory(mosquitto)
    rng = random.Random(0xAC04)
    confirmed: list[str] = []
    for _ in range(ROUNDS):
        proc, url = agents(config, env)
        stop = threading.Event()
        ringer = threading.Thread(target=_ring_until_killed, args=(url, confirmed, stop))
        ringer.start()
        count = len(confirmed)
        wait_until(lambda c=count: len(confirmed) >= c + 3, 60, message="a few sales rung")
        time.sleep(rng.uniform(0.0, 0.3))  # kill at a random moment, usually mid-request
        kill_process(proc)
        unregister(proc)
        stop.set()
        ringer.join(10)

    # One last clean run drains the outbox to the hub.
    proc, url = agents(config, env)
    wait_until(
        lambda: httpx.get(url + "/api/status").json()["queued_events"] == 0,
        60,
        message="outbox drained after the last restart",
    )
    stop_process(proc)
    unregister(proc)

    store = open_store(tmp_path / "edge.db", STORE_ID)
    assert store.db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
    receipts = [s.receipt_no for s in Sale.select().order_by(Sale.receipt_no)]
    assert set(confirmed) <= set(receipts), "a confirmed sale is missing"
    n_sales = len(receipts)
    assert n_sales >= ROUNDS * 3
    assert receipts == [f"{STORE_ID}-{i:06d}" for i in range(1, n_sales + 1)]  # gap-free
    assert SaleLine.select().count() == n_sales
    assert store.stock.level("MILK-1L").on_hand == START_STOCK - n_sales
    last_seq = read_value(store.db, CounterName.OUTBOX_SEQ)
    assert last_seq == 1 + n_sales
    assert OutboxEvent.select().count() == 0
    assert store.outbox.stats().acked_seq == last_seq
    # The hub got every seq, each always with the same envelope id (duplicates allowed).
    assert hub.contiguous() == last_seq
    assert sorted(hub.by_seq) == list(range(1, last_seq + 1))
    assert hub.conflicts == []
    assert hub.rejected == []
    sold_at_hub = {
        hub.envelopes[s]["body"]["receipt_no"]
        for s in hub.by_seq
        if hub.envelopes[s]["type"] == "sale.completed"
    }
    assert sold_at_hub == set(receipts)
    store.close()
