"""A few hundred fuzzed payloads through a real Mosquitto into a running ingest worker: it
survives on the wire, dead-letters the bad ones and applies every good event once."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hub.config import HubSettings
from hub.db.engine import make_engine, make_sessionmaker
from hub.db.models import AppliedEvent, DeadLetter
from hub.ingest.worker import IngestWorker
from protocol import topics
from tests.fixtures.brokers import BrokerInfo
from tests.fixtures.mqtt import mqtt_client
from tests.fixtures.util import wait_until
from tests.fuzz import generators as gen
from tests.fuzz.conftest import count_payloads
from tests.fuzz.generators import FUZZ_PHASES
from tests.fuzz.oracles import HUB_FAILURES, HUB_REASONS
from tests.fuzz.test_fuzz_hub import create

STORE = "fz-wire"


@pytest.fixture
def running(
    mosquitto: BrokerInfo, hub_sqlite_template: Path, tmp_path: Path
) -> Iterator[tuple[sessionmaker[Session], IngestWorker]]:
    """A migrated SQLite hub with one store, and an ingest worker connected to Mosquitto."""
    shutil.copyfile(hub_sqlite_template, tmp_path / "hub.db")
    url = f"sqlite:///{tmp_path}/hub.db"
    engine = make_engine(url, writer=True)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        create(session, STORE)
    settings_ = HubSettings(
        database_url=url,
        mqtt_host=mosquitto.host,
        mqtt_port=mosquitto.port,
        mqtt_username="hub",
        mqtt_password=mosquitto.users["hub"],
        worker_id=f"fz-{uuid.uuid4().hex[:8]}",
        mqtt_client_id=f"fz-{uuid.uuid4().hex[:8]}",
    )
    worker_engine = make_engine(url, writer=True)
    worker = IngestWorker(settings_, make_sessionmaker(worker_engine))
    worker.start()
    try:
        yield sessions, worker
    finally:
        worker.stop()
        worker_engine.dispose()
        engine.dispose()


@settings(
    max_examples=1,
    deadline=None,
    derandomize=True,
    database=None,
    phases=FUZZ_PHASES,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_the_running_worker_survives_fuzzed_traffic(
    mosquitto: BrokerInfo,
    running: tuple[sessionmaker[Session], IngestWorker],
    data: st.DataObject,
) -> None:
    sessions, worker = running
    draw = data.draw
    good = [draw(gen.envelopes(STORE, seq)) for seq in range(1, 61)]
    payloads: list[bytes] = [gen.dumps(good[i : i + 3]) for i in range(0, len(good), 3)]
    bad = 0
    for _ in range(gen.examples(280)):
        if draw(st.booleans()):
            broken = draw(gen.broken_payload(gen.dumps(draw(st.sampled_from(good)))))
            if broken.reason == "too_large":
                continue  # the broker's own limit is not under test here
            payload = broken.value
        else:
            broken_item = draw(gen.broken_envelope(draw(st.sampled_from(good)), "fz-other"))
            payload = gen.dumps([broken_item.value])
        payloads.append(payload)
        bad += 1
    order = draw(st.permutations(payloads))
    with mqtt_client(mosquitto, "hub", client_id=f"fz-pub-{uuid.uuid4().hex[:6]}") as client:
        for payload in order:
            client.publish(topics.up_events(STORE), payload)
    count_payloads("hub over Mosquitto", len(order))

    def settled() -> bool:
        with sessions() as session:
            applied = session.scalar(select(func.count()).select_from(AppliedEvent))
            letters = session.scalar(select(func.count()).select_from(DeadLetter))
        return (
            applied == len(good) and worker.metrics.messages.value() >= len(order) and bool(letters)
        )

    wait_until(settled, timeout=60, message="the worker took every payload")
    assert worker.healthy
    with sessions() as session:
        rows = session.execute(select(AppliedEvent.seq, AppliedEvent.event_id)).all()
        assert sorted((int(s), str(e)) for s, e in rows) == [(e["seq"], e["id"]) for e in good]
        reasons = set(session.scalars(select(DeadLetter.reason)))
    assert reasons <= HUB_REASONS
    assert not reasons & HUB_FAILURES
    dead = sum(worker.metrics.dead_letters.value(reason=r) for r in HUB_REASONS)
    assert dead == bad
