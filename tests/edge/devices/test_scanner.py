"""Scans: classification, debounce, the bus, and a serial scanner on a real pty pair."""

from __future__ import annotations

from pathlib import Path

import pytest
import serial

from edge_agent.devices.scanner import (
    BusEvent,
    ScanBus,
    ScanHandler,
    ScanKind,
    ScanOutcome,
    ScanRejected,
    SerialScannerReader,
    Suffix,
    classify_scan,
)
from tests.edge.devices.conftest import SocatPair
from tests.fixtures.util import wait_until


@pytest.mark.parametrize(
    ("raw", "kind", "code"),
    [
        ("4006381333931", ScanKind.GTIN, "04006381333931"),
        ("4006381333931\r\n", ScanKind.GTIN, "04006381333931"),
        (b"96385074", ScanKind.GTIN, "00000096385074"),
        ("036000291452", ScanKind.GTIN, "00036000291452"),
        ("10614141000415", ScanKind.GTIN, "10614141000415"),
        ("]E04006381333931", ScanKind.GTIN, "04006381333931"),
        ("(01)04006381333931", ScanKind.GTIN, "04006381333931"),
        ("0104006381333931", ScanKind.GTIN, "04006381333931"),
        ("0104006381333931\x1d10ABC123", ScanKind.GTIN, "04006381333931"),
        ("R-042-3-000123", ScanKind.REFERENCE, "R-042-3-000123"),
        ("302-1234567-7654321", ScanKind.REFERENCE, "302-1234567-7654321"),
    ],
)
def test_classify_accepts(raw: str | bytes, kind: ScanKind, code: str) -> None:
    assert classify_scan(raw) == (kind, code)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("4006381333932", "wrong check digit"),
        ("12345", "has 5 digits"),
        ("", "empty scan"),
        ("\r\n", "empty scan"),
        (b"\xff\xfe\x80", "unreadable bytes"),
        ("40063\x0081333931", "control characters"),
        ("9" * 200, "too long"),
        ("##??", "neither a product barcode"),
        ("€uro", "neither a product barcode"),
    ],
)
def test_classify_rejects_with_a_clear_message(raw: str | bytes, message: str) -> None:
    with pytest.raises(ScanRejected, match=message):
        classify_scan(raw)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_double_scans_inside_the_window_are_debounced() -> None:
    clock = Clock()
    bus = ScanBus()
    sub = bus.subscribe()
    handler = ScanHandler(bus, debounce_ms=300, clock=clock)
    first = handler.handle("4006381333931", source="serial")
    assert first is not None
    assert first.outcome is ScanOutcome.ACCEPTED
    clock.t += 0.1
    assert handler.handle("4006381333931", source="serial") is None  # double read
    assert handler.handle("04006381333931", source="wedge") is None  # same GTIN, other form
    clock.t += 0.05
    assert handler.handle("96385074", source="serial") is not None  # another product
    clock.t += 0.5
    assert handler.handle("4006381333931", source="serial") is not None  # a real second scan
    events = [sub.get(0.1) for _ in range(3)]
    assert [e.data["code"] for e in events if e] == [
        "04006381333931",
        "00000096385074",
        "04006381333931",
    ]
    assert sub.get(0.05) is None


def test_rejected_scans_reach_the_page_with_the_reason() -> None:
    bus = ScanBus()
    sub = bus.subscribe()
    handler = ScanHandler(bus)
    event = handler.handle("4006381333932", source="wedge")
    assert event is not None
    assert event.outcome is ScanOutcome.REJECTED
    published = sub.get(1)
    assert published is not None
    assert published.type == "scan"
    assert published.data["outcome"] == "rejected"
    assert "wrong check digit (expected 1)" in published.data["message"]
    assert published.data["at"].endswith("Z")


def test_bus_replays_missed_events_and_drops_the_oldest_for_slow_listeners() -> None:
    bus = ScanBus(history=5, mailbox_size=2)
    for n in range(4):
        bus.publish("scan", {"n": n})
    replay = bus.subscribe(after_seq=2)
    assert [replay.get(0.1).data["n"] for _ in range(2)] == [2, 3]
    slow = bus.subscribe()
    for n in range(4, 8):
        bus.publish("scan", {"n": n})
    got = [slow.get(0.1) for _ in range(3)]
    assert [e.data["n"] for e in got if isinstance(e, BusEvent)] == [6, 7]
    assert slow.dropped == 2
    bus.unsubscribe(slow)
    assert bus.subscriber_count == 1


def collect(bus: ScanBus):
    sub = bus.subscribe()
    seen: list[dict] = []

    def scans() -> list[dict]:
        while (event := sub.get(0)) is not None:
            if event.type == "scan":
                seen.append(event.data)
        return seen

    return scans


def open_gun(path: Path) -> serial.Serial:
    return serial.serial_for_url(str(path), baudrate=9600, timeout=1)


@pytest.mark.parametrize(
    ("suffix", "wire"),
    [
        (Suffix.CR, b"4006381333931\r"),
        (Suffix.CR, b"4006381333931\r\n"),
        (Suffix.LF, b"4006381333931\n"),
        (Suffix.CRLF, b"4006381333931\r\n"),
        (Suffix.TAB, b"4006381333931\t"),
    ],
)
def test_serial_scanner_on_a_pty(socat_pair: SocatPair, suffix: Suffix, wire: bytes) -> None:
    bus = ScanBus()
    scans = collect(bus)
    reader = SerialScannerReader(
        str(socat_pair.host),
        ScanHandler(bus, debounce_ms=0),
        suffix=suffix,
        reconnect_interval_s=0.05,
    )
    reader.start()
    try:
        wait_until(lambda: reader.status().connected, message="scanner connected")
        with open_gun(socat_pair.scanner) as gun:
            gun.write(wire + b"R-042-3-000123" + wire[13:])
            gun.flush()
            got = wait_until(lambda: len(scans()) >= 2 and scans(), message="two scans")
        assert [(s["kind"], s["code"], s["source"]) for s in got] == [
            ("gtin", "04006381333931", "serial"),
            ("reference", "R-042-3-000123", "serial"),
        ]
    finally:
        reader.stop()


def test_serial_scanner_survives_unplug_and_replug(socat_pair: SocatPair) -> None:
    bus = ScanBus()
    scans = collect(bus)
    changes: list[bool | None] = []
    reader = SerialScannerReader(
        str(socat_pair.host),
        ScanHandler(bus, debounce_ms=0),
        reconnect_interval_s=0.05,
        on_status=lambda st: changes.append(st.connected),
    )
    reader.start()
    try:
        wait_until(lambda: reader.status().connected, message="connected")
        socat_pair.unplug()
        wait_until(lambda: reader.status().connected is False, message="disconnected")
        assert "unplugged" in reader.status().detail or "cannot open" in reader.status().detail
        socat_pair.start()  # plugged in again, same device name
        wait_until(lambda: reader.status().connected, message="reconnected")
        with open_gun(socat_pair.scanner) as gun:
            gun.write(b"96385074\r")
            gun.flush()
            got = wait_until(scans, message="scan after replug")
        assert got[0]["code"] == "00000096385074"
        assert changes[:3] == [True, False, True]
    finally:
        reader.stop()
    assert reader.status().connected is False


def test_noise_and_a_missing_suffix_are_rejected_with_a_reason(socat_pair: SocatPair) -> None:
    bus = ScanBus()
    scans = collect(bus)
    reader = SerialScannerReader(
        str(socat_pair.host),
        ScanHandler(bus, debounce_ms=0),
        suffix=Suffix.CR,
        frame_timeout_s=0.2,
        reconnect_interval_s=0.05,
    )
    reader.start()
    try:
        wait_until(lambda: reader.status().connected, message="connected")
        with open_gun(socat_pair.scanner) as gun:
            gun.write(b"\xff\x00\xfe\r")  # line noise
            gun.write(b"4006381333931\n")  # scanner configured for LF, agent for CR
            gun.flush()
            got = wait_until(lambda: len(scans()) >= 2 and scans(), message="two rejections")
        assert [s["outcome"] for s in got] == ["rejected", "rejected"]
        assert "unreadable bytes" in got[0]["message"] or "control characters" in got[0]["message"]
        assert "without the CR suffix" in got[1]["message"]
    finally:
        reader.stop()


def test_a_missing_port_is_reported_and_retried(tmp_path: Path) -> None:
    reader = SerialScannerReader(
        str(tmp_path / "ttyACM9"), ScanHandler(), reconnect_interval_s=0.05
    )
    reader.start()
    try:
        wait_until(lambda: "cannot open" in reader.status().detail, message="open failure")
        assert reader.status().connected is False
    finally:
        reader.stop()
