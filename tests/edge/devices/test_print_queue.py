"""The persistent print queue with a real SQLite file and a loopback network printer."""

from __future__ import annotations

import threading
from pathlib import Path

import peewee
import pytest

from edge_agent.devices.escpos_decode import codepage_tables, decode, listing
from edge_agent.devices.print_queue import (
    DRAWER_KIND,
    DeviceAlarm,
    JobState,
    PrintQueue,
    QueueStatus,
    RetryPolicy,
)
from edge_agent.devices.printers import NetworkPrinter
from edge_agent.devices.profiles import PROFILES, layout_profile
from edge_agent.devices.queue_models import PrintJob, open_database
from edge_agent.devices.render import EscposRenderer, drawer_pulse_realtime
from edge_agent.devices.status import PaperState
from edge_agent.domain.receipt import Text, layout_drawer_kick, layout_receipt
from tests.edge.devices.fake_printer import FakeNetworkPrinter
from tests.fixtures.util import free_port, wait_until

PROFILE = PROFILES["epson-tm-t88v"]
RENDERER = EscposRenderer(PROFILE, font_paths=())
FAST = RetryPolicy(initial_s=0.05, factor=2, max_s=0.2)


def make_queue(host: str, port: int, **kwargs: object) -> PrintQueue:
    printer = NetworkPrinter(host, port, timeout_s=2, status_timeout_s=1)
    options: dict = {"retry": FAST, "status_poll_s": 0.05, "offline_alarm_s": 60.0}
    options.update(kwargs)
    return PrintQueue(printer, RENDERER.render_bytes, **options)


@pytest.fixture
def queue(queue_db: peewee.SqliteDatabase, fake_printer: FakeNetworkPrinter):
    q = make_queue(fake_printer.host, fake_printer.port)
    q.start()
    yield q
    q.stop()


def receipt_commands():
    from tests.edge.devices.samples import german_sale

    return layout_receipt(german_sale(), layout_profile(PROFILE))


def received(printer: FakeNetworkPrinter, count: int) -> list[bytes]:
    """Wait until the fake printer has closed ``count`` job connections and return them."""
    return wait_until(
        lambda: printer.jobs() if len(printer.jobs()) >= count else None,
        message=f"{count} job(s) received",
    )


def state_of(q: PrintQueue, job_id: str) -> JobState | None:
    info = q.job(job_id)
    return info.state if info else None


def test_retry_policy_backs_off_exponentially_up_to_a_cap() -> None:
    policy = RetryPolicy(initial_s=1, factor=2, max_s=30)
    assert [policy.delay_s(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 4, 8, 16, 30, 30]


def test_enqueue_is_idempotent_by_job_id(
    queue: PrintQueue, fake_printer: FakeNetworkPrinter
) -> None:
    first, created = queue.enqueue("receipt:R-1", "receipt", commands=receipt_commands())
    assert created
    assert first.state is JobState.PENDING
    again, created_again = queue.enqueue("receipt:R-1", "receipt", commands=receipt_commands())
    assert not created_again
    assert again.job_id == first.job_id
    wait_until(lambda: state_of(queue, "receipt:R-1") is JobState.PRINTED, message="printed")
    # A retry after a timeout, once the job has printed: still nothing new.
    _, created_late = queue.enqueue("receipt:R-1", "receipt", commands=receipt_commands())
    assert not created_late
    queue.wake()
    wait_until(lambda: fake_printer.query_count() >= 6, message="worker looked again")
    assert received(fake_printer, 1) == [RENDERER.render_bytes(receipt_commands())]
    assert PrintJob.select().count() == 1


def test_concurrent_enqueues_of_one_job_create_one_row(queue: PrintQueue) -> None:
    results: list[bool] = []

    def enqueue() -> None:
        _, created = queue.enqueue("receipt:R-race", "receipt", raw=b"\x1b@race\n")
        results.append(created)

    threads = [threading.Thread(target=enqueue) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sorted(results) == [False] * 7 + [True]


def test_pending_jobs_survive_an_agent_restart(tmp_path: Path) -> None:
    port = free_port()  # the printer is switched off: nothing listens
    db = open_database(tmp_path / "edge.db")
    q = make_queue("127.0.0.1", port)
    q.start()
    for n in (1, 2, 3):
        q.enqueue(f"job-{n}", "receipt", commands=[Text(f"job {n}")])
    wait_until(lambda: (q.job("job-1") or None) and q.job("job-1").attempts >= 2, message="retries")
    q.stop()
    db.close()

    # The agent restarts; the printer is back.
    printer = FakeNetworkPrinter(port=port)
    try:
        db = open_database(tmp_path / "edge.db")
        assert [j.state for j in reversed(make_queue("127.0.0.1", port).jobs())] == [
            JobState.PENDING
        ] * 3
        q2 = make_queue("127.0.0.1", port)
        q2.start()
        wait_until(lambda: len(printer.jobs()) == 3, message="three jobs printed")
        q2.stop()
        printed = [RENDERER.render_bytes([Text(f"job {n}")]) for n in (1, 2, 3)]
        assert printer.jobs() == printed  # in order
        assert {j.state for j in q2.jobs()} == {JobState.PRINTED}
        db.close()
    finally:
        printer.close()


def test_paper_end_keeps_the_job_queued_while_the_sale_completes_then_prints(
    queue_db: peewee.SqliteDatabase, fake_printer: FakeNetworkPrinter
) -> None:
    fake_printer.set_state(paper=PaperState.OUT)
    q = make_queue(fake_printer.host, fake_printer.port)
    q.start()
    try:
        # The sale completes: queueing the receipt returns at once, the job waits.
        info, created = q.enqueue("receipt:R-2", "receipt", commands=receipt_commands())
        assert created
        assert info.state is JobState.PENDING
        wait_until(lambda: q.job("receipt:R-2").attempts >= 3, message="several attempts")
        job = q.job("receipt:R-2")
        assert job.state is JobState.PENDING
        assert "paper_out" in job.last_error
        assert fake_printer.jobs() == []
        status = q.status()
        assert (status.printer.state, status.pending) == ("paper_out", 1)

        fake_printer.set_state(paper=PaperState.OK)  # paper is back
        wait_until(lambda: state_of(q, "receipt:R-2") is JobState.PRINTED, message="printed")
        assert received(fake_printer, 1) == [RENDERER.render_bytes(receipt_commands())]
        assert q.status().printer.state == "ready"
    finally:
        q.stop()


def test_drawer_opens_with_a_realtime_pulse_while_paper_is_out(
    queue_db: peewee.SqliteDatabase, fake_printer: FakeNetworkPrinter
) -> None:
    fake_printer.set_state(paper=PaperState.OUT)
    q = make_queue(fake_printer.host, fake_printer.port)
    q.start()
    try:
        q.enqueue("receipt:R-3", "receipt", commands=receipt_commands())
        q.enqueue("receipt:R-3:drawer", DRAWER_KIND, commands=layout_drawer_kick(2))
        wait_until(lambda: state_of(q, "receipt:R-3:drawer") is JobState.PRINTED, message="drawer")
        assert received(fake_printer, 1) == [drawer_pulse_realtime(2)]
        assert state_of(q, "receipt:R-3") is JobState.PENDING
    finally:
        q.stop()


def test_drawer_jumps_the_queue_with_esc_p_when_the_printer_is_ready(
    queue: PrintQueue, fake_printer: FakeNetworkPrinter
) -> None:
    queue.enqueue("drawer-1", DRAWER_KIND, commands=layout_drawer_kick(5))
    wait_until(lambda: state_of(queue, "drawer-1") is JobState.PRINTED, message="drawer")
    assert received(fake_printer, 1) == [RENDERER.render_bytes(layout_drawer_kick(5))]
    assert b"\x1bp\x01" in fake_printer.jobs()[0]


def test_offline_alarm_fires_once_and_clears_when_the_printer_returns(tmp_path: Path) -> None:
    port = free_port()
    db = open_database(tmp_path / "edge.db")
    alarms: list[DeviceAlarm] = []
    statuses: list[QueueStatus] = []
    q = make_queue("127.0.0.1", port, offline_alarm_s=0.3)
    q.add_alarm_observer(alarms.append)
    q.add_status_observer(statuses.append)
    q.start()
    printer = None
    try:
        wait_until(lambda: alarms, message="offline alarm")
        body = alarms[0].to_event_body()
        assert set(body) == {"device", "kind", "state", "detail", "since"}
        assert (body["device"], body["kind"], body["state"]) == ("printer", "network", "offline")
        assert body["since"].endswith("Z")
        assert q.status().alarm
        printer = FakeNetworkPrinter(port=port)
        wait_until(lambda: len(alarms) == 2, message="recovery event")
        assert alarms[1].state == "ready"
        assert not q.status().alarm
        wait_until(lambda: statuses[-1].printer.state == "ready", message="status observer")
        assert "offline" in [s.printer.state for s in statuses]
    finally:
        q.stop()
        db.close()
        if printer is not None:
            printer.close()


def test_a_bad_job_is_set_aside_and_the_next_one_prints(
    queue_db: peewee.SqliteDatabase, fake_printer: FakeNetworkPrinter
) -> None:
    q = make_queue(fake_printer.host, fake_printer.port)
    q.enqueue("bad", "receipt", commands=[Text("placeholder")])
    PrintJob.update(payload=b'[{"op": "laser"}]').where(PrintJob.job_id == "bad").execute()
    q.enqueue("good", "receipt", commands=[Text("good")])
    q.start()
    try:
        wait_until(lambda: state_of(q, "good") is JobState.PRINTED, message="good job printed")
        bad = q.job("bad")
        assert bad.state is JobState.FAILED
        assert "unknown print command" in bad.last_error
        assert q.status().failed == 1
    finally:
        q.stop()


def test_reprint_of_a_printed_receipt_prints_a_marked_copy_once_per_request(
    queue: PrintQueue, fake_printer: FakeNetworkPrinter
) -> None:
    queue.enqueue("receipt:R-4", "receipt", commands=receipt_commands(), language="de")
    wait_until(lambda: state_of(queue, "receipt:R-4") is JobState.PRINTED, message="printed")
    copy = queue.reprint("receipt:R-4", request_id="click-1")
    again = queue.reprint("receipt:R-4", request_id="click-1")
    assert copy.job_id == again.job_id == "receipt:R-4~copy~click-1"
    wait_until(lambda: state_of(queue, copy.job_id) is JobState.PRINTED, message="copy printed")
    jobs = received(fake_printer, 2)
    assert len(jobs) == 2
    original, reprinted = (listing(decode(j, codepages=codepage_tables("TM-T88V"))) for j in jobs)
    assert reprinted == ["[C B] *** KOPIE ***", "FEED 1", *original]


def test_reprint_of_a_waiting_job_retries_it_now(
    queue_db: peewee.SqliteDatabase, fake_printer: FakeNetworkPrinter
) -> None:
    q = make_queue(fake_printer.host, fake_printer.port, retry=RetryPolicy(initial_s=60, max_s=60))
    fake_printer.set_state(cover_open=True)
    q.start()
    try:
        q.enqueue("receipt:R-5", "receipt", commands=[Text("five")])
        wait_until(lambda: q.job("receipt:R-5").attempts >= 1, message="first attempt")
        fake_printer.set_state(cover_open=False)
        q.reprint("receipt:R-5")
        wait_until(
            lambda: state_of(q, "receipt:R-5") is JobState.PRINTED, timeout=5, message="printed"
        )
        assert len(received(fake_printer, 1)) == 1
    finally:
        q.stop()


def test_jobs_interrupted_mid_send_are_recovered_on_start(
    queue_db: peewee.SqliteDatabase, fake_printer: FakeNetworkPrinter
) -> None:
    q = make_queue(fake_printer.host, fake_printer.port)
    q.enqueue("job-crash", "receipt", commands=[Text("crash")])
    PrintJob.update(state=JobState.PRINTING.value).where(PrintJob.job_id == "job-crash").execute()
    q.start()
    try:
        wait_until(lambda: state_of(q, "job-crash") is JobState.PRINTED, message="recovered")
    finally:
        q.stop()


def test_enqueue_refuses_ambiguous_jobs(queue_db: peewee.SqliteDatabase) -> None:
    from edge_agent.devices.errors import PrintJobError

    q = make_queue("127.0.0.1", 9)
    with pytest.raises(PrintJobError):
        q.enqueue("x", "receipt")
    with pytest.raises(PrintJobError):
        q.enqueue("x", "receipt", commands=[Text("a")], raw=b"a")
    with pytest.raises(PrintJobError):
        q.enqueue("", "receipt", raw=b"a")
