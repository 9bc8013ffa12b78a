"""The devices blueprint on a real Flask server: SSE scans from a pty, wedge, status, reprint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest
import requests
import serial
from flask import Flask
from werkzeug.serving import make_server

from edge_agent.devices.config import DeviceConfig, PrinterConfig, ScannerConfig
from edge_agent.devices.manager import DeviceManager
from edge_agent.devices.print_queue import JobState
from edge_agent.devices.web import create_devices_blueprint
from tests.edge.devices.conftest import SocatPair
from tests.edge.devices.samples import german_sale
from tests.fixtures.util import wait_until


class SseClient:
    """Reads server-sent events from a streaming requests response in a thread."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.response = requests.get(url, stream=True, timeout=10, headers=headers or {})
        self.events: list[dict] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = ""
        try:
            for chunk in self.response.iter_content(chunk_size=None):
                buffer += chunk.decode("utf-8")
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    event: dict = {}
                    for line in block.splitlines():
                        field, _, value = line.partition(": ")
                        if field in ("id", "event", "data"):
                            event[field] = value
                    if "data" in event:
                        event["data"] = json.loads(event["data"])
                        with self._lock:
                            self.events.append(event)
        except (requests.RequestException, ValueError, AttributeError):
            return

    def of_type(self, kind: str) -> list[dict]:
        with self._lock:
            return [e for e in self.events if e.get("event") == kind]

    def close(self) -> None:
        self.response.close()
        self._thread.join(5)


@pytest.fixture
def manager(
    tmp_path: Path, queue_db: peewee.SqliteDatabase, socat_pair: SocatPair
) -> Iterator[DeviceManager]:
    config = DeviceConfig(
        printer=PrinterConfig(
            kind="filesink",
            directory=tmp_path / "printer",
            profile="epson-tm-t20ii",
            status_poll_s=0.05,
            retry_initial_s=0.05,
        ),
        scanner=ScannerConfig(
            kind="serial", url=str(socat_pair.host), debounce_ms=10_000, reconnect_interval_s=0.05
        ),
    )
    m = DeviceManager(config)
    m.start()
    yield m
    m.stop()


@pytest.fixture
def base_url(manager: DeviceManager) -> Iterator[str]:
    app = Flask("test-devices")
    app.register_blueprint(create_devices_blueprint(manager, keepalive_s=0.2))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/devices"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_serial_scan_reaches_the_open_page_over_sse(
    base_url: str, manager: DeviceManager, socat_pair: SocatPair
) -> None:
    wait_until(lambda: manager.scanner_status().connected, message="scanner connected")
    client = SseClient(f"{base_url}/scans/stream")
    try:
        first = wait_until(lambda: client.of_type("status"), message="initial status event")
        assert first[0]["data"]["scanner"]["connected"] is True
        with serial.serial_for_url(str(socat_pair.scanner), baudrate=9600, timeout=1) as gun:
            gun.write(b"4006381333931\r")
            gun.flush()
            scans = wait_until(lambda: client.of_type("scan"), message="scan event on the page")
        assert scans[0]["data"]["code"] == "04006381333931"
        assert scans[0]["data"]["source"] == "serial"
        assert int(scans[0]["id"]) >= 1
    finally:
        client.close()
    wait_until(lambda: manager.bus.subscriber_count == 0, message="stream unsubscribed")


def test_wedge_scans_share_the_handler_and_the_stream(base_url: str) -> None:
    client = SseClient(f"{base_url}/scans/stream")
    try:
        wait_until(lambda: client.of_type("status"), message="stream open")
        ok = requests.post(f"{base_url}/scans", json={"code": "96385074"}, timeout=5)
        assert ok.status_code == 200
        assert ok.json()["code"] == "00000096385074"
        dup = requests.post(f"{base_url}/scans", json={"code": "96385074"}, timeout=5)
        assert (dup.status_code, dup.json()["outcome"]) == (200, "duplicate")
        bad = requests.post(f"{base_url}/scans", json={"code": "96385075"}, timeout=5)
        assert bad.status_code == 422
        assert "wrong check digit" in bad.json()["message"]
        assert requests.post(f"{base_url}/scans", json={"x": 1}, timeout=5).status_code == 400
        scans = wait_until(
            lambda: len(client.of_type("scan")) >= 2 and client.of_type("scan"), message="scans"
        )
        assert [(s["data"]["outcome"], s["data"]["source"]) for s in scans] == [
            ("accepted", "wedge"),
            ("rejected", "wedge"),
        ]
    finally:
        client.close()


def test_reconnecting_page_gets_missed_scans_with_last_event_id(
    base_url: str, manager: DeviceManager
) -> None:
    first = manager.scan_handler.handle("96385074", source="wedge")
    assert first is not None
    manager.scan_handler.handle("4006381333931", source="wedge")
    client = SseClient(f"{base_url}/scans/stream", headers={"Last-Event-ID": "0"})
    try:
        scans = wait_until(
            lambda: len(client.of_type("scan")) >= 2 and client.of_type("scan"), message="replay"
        )
        assert [s["data"]["code"] for s in scans[:2]] == ["00000096385074", "04006381333931"]
    finally:
        client.close()


def test_status_endpoint_reports_printer_and_scanner(base_url: str, manager: DeviceManager) -> None:
    wait_until(lambda: manager.printer_status().checked_at, message="printer checked")
    wait_until(lambda: manager.scanner_status().connected, message="scanner connected")
    body = requests.get(f"{base_url}/status", timeout=5).json()
    printer, scanner = body["printer"], body["scanner"]
    assert (printer["kind"], printer["state"], printer["paper"], printer["cover_open"]) == (
        "filesink",
        "ready",
        "ok",
        False,
    )
    assert (printer["profile"], printer["columns"], printer["pending_jobs"]) == (
        "epson-tm-t20ii",
        48,
        0,
    )
    assert (scanner["kind"], scanner["connected"]) == ("serial", True)
    birth = manager.birth_states()
    assert birth["printer"]["state"] == "ready"
    assert birth["scanner"]["connected"] is True


def test_print_job_state_and_reprint(base_url: str, manager: DeviceManager, tmp_path: Path) -> None:
    manager.print_receipt(german_sale())
    job_id = "receipt:R-042-3-000123"
    wait_until(lambda: manager.queue.job(job_id).state is JobState.PRINTED, message="printed")
    drawer = manager.queue.job(f"{job_id}:drawer")
    assert drawer is not None
    assert drawer.state is JobState.PRINTED  # cash sale: the drawer opened
    state = requests.get(f"{base_url}/print/{job_id}", timeout=5)
    assert state.json()["state"] == "printed"

    resp = requests.post(
        f"{base_url}/print/{job_id}/reprint", headers={"Idempotency-Key": "k1"}, timeout=5
    )
    assert resp.status_code == 202
    copy_id = resp.json()["job_id"]
    again = requests.post(
        f"{base_url}/print/{job_id}/reprint", headers={"Idempotency-Key": "k1"}, timeout=5
    )
    assert again.json()["job_id"] == copy_id
    wait_until(lambda: manager.queue.job(copy_id).state is JobState.PRINTED, message="copy printed")
    copy_text = (tmp_path / "printer" / "receipt_R-042-3-000123_copy_k1.txt").read_text("utf-8")
    assert "*** KOPIE ***" in copy_text
    assert requests.post(f"{base_url}/print/nope/reprint", timeout=5).status_code == 404
    conflict = requests.post(f"{base_url}/print/{job_id}:drawer/reprint", timeout=5)
    assert conflict.status_code == 409
    assert "drawer" in conflict.json()["error"]


def test_printer_state_changes_are_pushed_to_the_page(
    base_url: str, manager: DeviceManager, tmp_path: Path
) -> None:
    wait_until(lambda: manager.printer_status().printer.state == "ready", message="ready")
    client = SseClient(f"{base_url}/scans/stream")
    try:
        wait_until(lambda: client.of_type("status"), message="stream open")
        (tmp_path / "printer" / "PAPER_OUT").touch()
        pushed = wait_until(lambda: client.of_type("printer"), message="printer event")
        assert pushed[-1]["data"]["state"] == "paper_out"
    finally:
        client.close()
